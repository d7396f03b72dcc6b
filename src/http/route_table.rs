//! Which methods each documented path takes, and which of them require an
//! API key. A request with another method gets 405 with an `Allow` header
//! instead of the catch-all 404 (actix routes by method first and falls
//! through to the default service); `access` refuses a request without a
//! key to an operation the document secures before its body is read.

use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::path::Operation;

/// A method of a path, and whether it requires a key.
type Method = (&'static str, bool);

/// The paths of the OpenAPI document and their methods.
pub struct RouteTable {
    routes: Vec<(Vec<String>, Vec<Method>)>,
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
                    ("GET", &item.get),
                    ("POST", &item.post),
                    ("PUT", &item.put),
                    ("DELETE", &item.delete),
                    ("PATCH", &item.patch),
                ]
                .into_iter()
                .filter_map(|(name, operation)| operation.as_ref().map(|op| (name, is_secured(op))))
                .collect();
                (segments(path), methods)
            })
            .collect();
        RouteTable { routes }
    }

    fn methods(&self, path: &str) -> Option<&[Method]> {
        let wanted = segments(path);
        self.routes
            .iter()
            .find(|(template, _)| matches(template, &wanted))
            .map(|(_, methods)| methods.as_slice())
    }

    /// The methods `path` takes, when some route has that shape.
    pub fn allowed(&self, path: &str) -> Option<Vec<&'static str>> {
        self.methods(path)
            .map(|methods| methods.iter().map(|(name, _)| *name).collect())
    }

    /// Whether `method` on `path` requires an API key.
    pub fn requires_key(&self, path: &str, method: &str) -> bool {
        self.methods(path)
            .and_then(|methods| methods.iter().find(|(name, _)| *name == method))
            .is_some_and(|(_, secured)| *secured)
    }
}

/// Whether the operation lists a security requirement.
fn is_secured(operation: &Operation) -> bool {
    operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty())
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
