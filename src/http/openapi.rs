//! The OpenAPI document (`GET /openapi.json`) and the interactive docs
//! (`GET /docs`: Swagger UI, its assets served from the binary, so the
//! page works on a network without internet access).
//!
//! The document's paths are collected from the routes the server
//! registers (see `routes` in the parent module), so it cannot list a
//! route that is not served nor miss one that is.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, ResponseError, get, web};
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{RefOr, Response};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;
use utoipa_actix_web::service_config::ServiceConfig;

use super::access::OPEN_PATHS;
use super::auth::ApiKeys;
use super::error::ErrorBody;

/// Name of the security scheme of the admin endpoints.
pub const ADMIN_KEY: &str = "api_key";

/// What the route annotations do not say: title, tags, shared schemas,
/// the security scheme.
#[derive(OpenApi)]
#[openapi(
    info(title = "Vigil"),
    tags(
        (name = "scoring", description = "Fraud decisions"),
        (name = "alerts", description = "REVIEW and BLOCK decisions"),
        (name = "labels", description = "Feedback on transactions"),
        (name = "models", description = "The model registry"),
        (name = "drift", description = "Data drift of the features and the model's output"),
        (name = "audit", description = "Who did what through the admin endpoints"),
        (name = "health", description = "Liveness, actor health, Prometheus metrics"),
        (name = "docs", description = "This document"),
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerKey)
)]
struct ApiDoc;

/// Admin endpoints take `Authorization: Bearer <VIGIL_API_KEY>`.
struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut Document) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                ADMIN_KEY,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("`VIGIL_API_KEY` or one of `api_keys`"))
                        .build(),
                ),
            );
    }
}

/// The document of the routes `routes` registers, true for a server with
/// `keys` (and, on every operation, the 413 of `body_limit`). Without any key the admin endpoints are open: their security
/// requirement and 401 response are dropped. With protected reads every
/// other endpoint but the open ones requires a key too, with the same 401.
pub fn document(routes: fn(&mut ServiceConfig), keys: &ApiKeys) -> Document {
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    if keys.is_empty() {
        for operation in operations(&mut doc) {
            if operation.security.take().is_some() {
                operation.responses.responses.remove("401");
            }
        }
        if let Some(components) = doc.components.as_mut() {
            components.security_schemes.remove(ADMIN_KEY);
        }
    } else if keys.protects_reads() {
        protect_reads(&mut doc);
    }
    document_body_limit(&mut doc);
    doc
}

/// Every endpoint refuses a body above `http.max_body_bytes` with 413
/// (`body_limit`), not only those that read one.
fn document_body_limit(doc: &mut Document) {
    let too_large = documented_response(doc, "413");
    for operation in operations(doc) {
        operation
            .responses
            .responses
            .entry("413".to_owned())
            .or_insert_with(|| too_large.clone());
    }
}

/// The response `status` of the first operation that documents it (the
/// admin endpoints document 401, those that read a body 413), to copy onto
/// the operations that answer it too.
fn documented_response(doc: &mut Document, status: &str) -> RefOr<Response> {
    operations(doc)
        .find_map(|operation| operation.responses.responses.get(status).cloned())
        .unwrap_or_else(|| panic!("no operation documents a {status} response"))
}

/// Every operation of the document.
fn operations(doc: &mut Document) -> impl Iterator<Item = &mut Operation> {
    doc.paths.paths.values_mut().flat_map(item_operations)
}

/// The operations of one path.
fn item_operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// Adds the admin endpoints' requirement and 401 to every operation but
/// those `read_access` leaves open.
fn protect_reads(doc: &mut Document) {
    let unauthorized = documented_response(doc, "401");
    for (path, item) in doc.paths.paths.iter_mut() {
        if OPEN_PATHS.contains(&path.as_str()) {
            continue;
        }
        for operation in item_operations(item) {
            operation.security.get_or_insert_with(|| {
                vec![SecurityRequirement::new(ADMIN_KEY, Vec::<String>::new())]
            });
            operation
                .responses
                .responses
                .entry("401".to_owned())
                .or_insert_with(|| unauthorized.clone());
        }
    }
}

/// The document, rendered once per app, and the docs' page.
pub struct Docs {
    json: String,
    /// Swagger UI, pointed at `/openapi.json`.
    ui: Arc<utoipa_swagger_ui::Config<'static>>,
    /// Swagger UI's page, with its relative assets based at `/docs/`.
    page: String,
}

/// Where the docs' page and assets are served.
pub const DOCS_ROOT: &str = "/docs/";

impl Docs {
    pub fn new(doc: &Document) -> Docs {
        let mut docs = Docs {
            json: serde_json::to_string(doc).expect("the OpenAPI document serializes"),
            ui: Arc::new(utoipa_swagger_ui::Config::from("/openapi.json")),
            page: String::new(),
        };
        // Served at `/docs` too, where its relative links would resolve
        // against `/`.
        let index = docs
            .file("")
            .map(|(_, bytes)| String::from_utf8_lossy(&bytes).into_owned())
            .expect("Swagger UI's page is embedded");
        docs.page = index.replacen("<head>", &format!("<head><base href=\"{DOCS_ROOT}\">"), 1);
        docs
    }

    /// A file of the docs (`index.html` for an empty path), from the binary.
    fn file(&self, path: &str) -> Option<(String, Vec<u8>)> {
        match utoipa_swagger_ui::serve(path, self.ui.clone()) {
            Ok(file) => file.map(|f| (f.content_type, f.bytes.into_owned())),
            Err(e) => {
                tracing::error!(error = %e, path, "cannot serve a docs file");
                None
            }
        }
    }
}

#[utoipa::path(
    operation_id = "openapi_document",
    tag = "docs",
    responses((status = 200, description = "This OpenAPI 3.1 document", body = Object))
)]
#[get("/openapi.json")]
pub async fn json(docs: web::Data<Docs>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(docs.json.clone())
}

#[utoipa::path(
    operation_id = "docs",
    tag = "docs",
    responses((
        status = 200,
        description = "Interactive docs (Swagger UI; its assets are served by Vigil under `/docs/`, no internet needed)",
        body = String,
        content_type = "text/html; charset=utf-8",
    ))
)]
#[get("/docs")]
pub async fn page(docs: web::Data<Docs>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(docs.page.clone())
}

/// The docs' page and assets (`/docs/`, `/docs/swagger-ui.css`, …): files,
/// not API operations, so not in the document.
pub async fn asset(docs: web::Data<Docs>, path: web::Path<String>) -> HttpResponse {
    match docs.file(&path) {
        Some((content_type, bytes)) => HttpResponse::Ok().content_type(content_type).body(bytes),
        None => super::ApiError::new(StatusCode::NOT_FOUND, "no such docs file")
            .with_detail(serde_json::json!({"path": format!("{DOCS_ROOT}{path}")}))
            .error_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything the page loads is served by Vigil: no script, style or
    /// font from another host.
    #[test]
    fn the_docs_load_nothing_from_another_host() {
        let keys = ApiKeys::new(Some("key".into()), Default::default(), false);
        let docs = Docs::new(&document(crate::http::routes, &keys));
        let (content_type, index) = docs.file("").expect("the page");
        assert!(content_type.starts_with("text/html"), "{content_type}");
        let index = String::from_utf8(index).unwrap();
        for attribute in ["src=\"", "href=\""] {
            for reference in index.split(attribute).skip(1) {
                let target = reference.split('"').next().unwrap();
                assert!(
                    !target.contains("://") && !target.starts_with("//"),
                    "{attribute}{target}"
                );
                let file = target.trim_start_matches("./");
                assert!(docs.file(file).is_some(), "{file} is not served");
            }
        }
        let (_, initializer) = docs.file("swagger-initializer.js").unwrap();
        let initializer = String::from_utf8(initializer).unwrap();
        assert!(initializer.contains("/openapi.json"), "{initializer}");
        assert!(!initializer.contains("http"), "{initializer}");
        assert!(docs.file("no-such-file.js").is_none());
        assert!(
            docs.page.contains("<base href=\"/docs/\">"),
            "{}",
            docs.page
        );
    }
}
