//! Checks responses against Vigil's OpenAPI document: the status is
//! documented for the operation, the content type is one it lists, and a
//! JSON body validates against its schema (the subset of JSON Schema the
//! document uses: `$ref`, `type`, `enum`, `properties`, `required`,
//! `additionalProperties`, `items`, `oneOf`/`anyOf`/`allOf`, bounds,
//! lengths and the `uuid` / `date-time` formats).

use serde_json::Value;

/// Every route the app serves, as the document names it. A route added to
/// the app (which only takes documented handlers) must be added here.
pub const ROUTES: [(&str, &str); 20] = [
    ("GET", "/health"),
    ("GET", "/health/actors"),
    ("GET", "/metrics"),
    ("POST", "/score"),
    ("GET", "/models"),
    ("POST", "/models/retrain"),
    ("GET", "/models/{version}"),
    ("GET", "/models/{version}/artifacts/{name}"),
    ("POST", "/models/{version}/promote"),
    ("GET", "/alerts"),
    ("POST", "/labels"),
    ("GET", "/drift/status"),
    ("POST", "/drift/run"),
    ("GET", "/drift/run"),
    ("GET", "/drift/report"),
    ("GET", "/drift/stats"),
    ("GET", "/drift/history"),
    ("GET", "/audit"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
];

/// The operation `method` (`get`, `post`…) on the document path `path`.
pub fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let op = &doc["paths"][path][method.to_lowercase()];
    assert!(op.is_object(), "{method} {path} is not in the document");
    op
}

/// Panics unless a response of `status`, `content_type` and `body` is one
/// the operation documents.
pub fn assert_conforms(
    doc: &Value,
    method: &str,
    path: &str,
    status: u16,
    content_type: &str,
    body: &[u8],
) {
    let what = format!("{method} {path} → {status} {content_type}");
    let response = &operation(doc, method, path)["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{what}: status not documented; body {}",
        String::from_utf8_lossy(body)
    );
    let content = &response["content"];
    let Some(media) = content.get(content_type) else {
        panic!("{what}: content type not documented (documented: {content})");
    };
    if content_type.starts_with("application/json") {
        let value: Value = serde_json::from_slice(body)
            .unwrap_or_else(|e| panic!("{what}: body is not JSON: {e}"));
        if let Err(e) = validate(doc, &media["schema"], &value, "$") {
            panic!("{what}: {e}\nbody: {value}");
        }
    }
}

/// The schema `name` of the document's components.
pub fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    let schema = &doc["components"]["schemas"][name];
    assert!(schema.is_object(), "no schema {name}");
    schema
}

/// Validates `value` against `schema`; the error names the JSON path.
pub fn validate(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let Some(schema) = schema.as_object() else {
        return match schema {
            Value::Bool(false) => Err(format!("{at}: no value allowed")),
            _ => Ok(()),
        };
    };
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unsupported $ref {reference}"));
        validate(doc, self::schema(doc, name), value, at)?;
    }
    if let Some(one_of) = schema.get("oneOf").and_then(Value::as_array) {
        let results: Vec<_> = one_of.iter().map(|s| validate(doc, s, value, at)).collect();
        let matched = results.iter().filter(|r| r.is_ok()).count();
        if matched != 1 {
            return Err(format!(
                "{at}: matches {matched} of oneOf, expected 1 ({results:?})"
            ));
        }
    }
    if let Some(any_of) = schema.get("anyOf").and_then(Value::as_array) {
        let results: Vec<_> = any_of.iter().map(|s| validate(doc, s, value, at)).collect();
        if !results.iter().any(|r| r.is_ok()) {
            return Err(format!("{at}: matches none of anyOf ({results:?})"));
        }
    }
    for s in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        validate(doc, s, value, at)?;
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            other => panic!("unsupported type {other}"),
        };
        if !types.iter().any(|t| has_type(value, t)) {
            return Err(format!("{at}: {value} is not of type {types:?}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {options:?}"));
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            return Err(format!("{at}: {n} < minimum {min}"));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            return Err(format!("{at}: {n} > maximum {max}"));
        }
    }
    if let Some(s) = value.as_str() {
        let chars = s.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && chars < min
        {
            return Err(format!("{at}: shorter than {min}"));
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && chars > max
        {
            return Err(format!("{at}: longer than {max}"));
        }
        match schema.get("format").and_then(Value::as_str) {
            Some("uuid") if s.parse::<uuid::Uuid>().is_err() => {
                return Err(format!("{at}: {s} is not a uuid"));
            }
            Some("date-time") if chrono::DateTime::parse_from_rfc3339(s).is_err() => {
                return Err(format!("{at}: {s} is not an RFC 3339 date-time"));
            }
            _ => {}
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(name) {
                return Err(format!("{at}: required property `{name}` is missing"));
            }
        }
        for (name, item) in object {
            let at = format!("{at}.{name}");
            match properties.and_then(|p| p.get(name)) {
                Some(s) => validate(doc, s, item, &at)?,
                None => match schema.get("additionalProperties") {
                    Some(extra) => validate(doc, extra, item, &at)?,
                    // Undeclared properties are allowed by default, but a
                    // schema that lists properties should list them all.
                    None if properties.is_some() => {
                        return Err(format!("{at}: not in the schema"));
                    }
                    None => {}
                },
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            validate(doc, items, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

fn has_type(value: &Value, t: &str) -> bool {
    match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("unsupported type {other}"),
    }
}
