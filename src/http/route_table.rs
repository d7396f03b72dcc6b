//! Which methods each documented path takes, so that a request with another
//! method gets 405 with an `Allow` header instead of the catch-all 404:
//! actix routes by method first and falls through to the default service.

use utoipa::openapi::OpenApi as Document;

/// The paths of the OpenAPI document and their methods.
pub struct RouteTable {
    routes: Vec<(Vec<String>, Vec<&'static str>)>,
}

impl RouteTable {
    /// The table of `doc`'s paths (`/models/{version}` style templates).
    pub fn of(doc: &Document) -> RouteTable {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ]
                .into_iter()
                .filter_map(|(name, present)| present.then_some(name))
                .collect();
                (segments(path), methods)
            })
            .collect();
        RouteTable { routes }
    }

    /// The methods `path` takes, when some route has that shape.
    pub fn allowed(&self, path: &str) -> Option<&[&'static str]> {
        let wanted = segments(path);
        self.routes
            .iter()
            .find(|(template, _)| matches(template, &wanted))
            .map(|(_, methods)| methods.as_slice())
    }
}

fn segments(path: &str) -> Vec<String> {
    path.trim_matches('/')
        .split('/')
        .map(str::to_owned)
        .collect()
}

/// A `{name}` segment matches any non-empty segment; others match themselves.
fn matches(template: &[String], path: &[String]) -> bool {
    template.len() == path.len()
        && template
            .iter()
            .zip(path)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_concrete_paths_only_segment_by_segment() {
        let t = segments("/models/{version}/promote");
        assert!(matches(&t, &segments("/models/7/promote")));
        assert!(!matches(&t, &segments("/models/7")));
        assert!(!matches(&t, &segments("/models//promote")));
        assert!(!matches(&segments("/health"), &segments("/health/actors")));
    }
}
