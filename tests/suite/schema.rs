//! A small JSON Schema checker for the documented output schemas in
//! docs/schema: type (with unions), const, enum, required, properties,
//! additionalProperties: false and items. Enough for kip's schemas, and
//! strict: an unknown schema keyword is a test failure, not a pass.

use serde_json::Value;
use std::path::Path;

pub fn load(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/schema")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Panics with every violation when `value` does not match `schema`.
#[track_caller]
pub fn assert_valid(schema_name: &str, value: &Value) {
    let schema = load(schema_name);
    let mut errors = Vec::new();
    check(&schema, value, "$", &mut errors);
    assert!(
        errors.is_empty(),
        "{schema_name}:\n{}\nin {value:#}",
        errors.join("\n")
    );
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "null" => value.is_null(),
        other => panic!("unknown type {other} in a schema"),
    }
}

fn check(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = schema.as_object().expect("a schema is an object");
    for (keyword, rule) in schema {
        match keyword.as_str() {
            "$schema" | "title" | "description" => {}
            "type" => {
                let names: Vec<&str> = match rule {
                    Value::String(s) => vec![s.as_str()],
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    _ => panic!("bad type rule at {at}"),
                };
                if !names.iter().any(|n| type_matches(n, value)) {
                    errors.push(format!("{at}: {value} is not of type {names:?}"));
                }
            }
            "const" => {
                if value != rule {
                    errors.push(format!("{at}: {value} is not {rule}"));
                }
            }
            "enum" => {
                if !rule.as_array().unwrap().contains(value) {
                    errors.push(format!("{at}: {value} is not one of {rule}"));
                }
            }
            "required" => {
                for key in rule.as_array().unwrap().iter().filter_map(Value::as_str) {
                    if value.get(key).is_none() {
                        errors.push(format!("{at}: missing {key}"));
                    }
                }
            }
            "properties" => {
                if let Some(object) = value.as_object() {
                    for (key, sub) in rule.as_object().unwrap() {
                        if let Some(v) = object.get(key) {
                            check(sub, v, &format!("{at}.{key}"), errors);
                        }
                    }
                }
            }
            "additionalProperties" => {
                assert_eq!(
                    rule,
                    &Value::Bool(false),
                    "only additionalProperties: false is supported"
                );
                let known = schema.get("properties").and_then(Value::as_object);
                if let (Some(object), Some(known)) = (value.as_object(), known) {
                    for key in object.keys().filter(|k| !known.contains_key(*k)) {
                        errors.push(format!("{at}: undocumented field {key}"));
                    }
                }
            }
            "items" => {
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    check(rule, item, &format!("{at}[{i}]"), errors);
                }
            }
            other => panic!("schema keyword {other} is not supported by this checker"),
        }
    }
}

#[test]
fn the_checker_rejects_what_it_should() {
    let schema = serde_json::json!({
        "type": "object", "required": ["a"], "additionalProperties": false,
        "properties": {"a": {"enum": [1, 2]}, "b": {"type": ["string", "null"]}, "c": {"type": "array", "items": {"type": "integer"}}}
    });
    let mut errors = Vec::new();
    check(
        &schema,
        &serde_json::json!({"a": 1, "b": null, "c": [1, 2]}),
        "$",
        &mut errors,
    );
    assert!(errors.is_empty(), "{errors:?}");
    check(
        &schema,
        &serde_json::json!({"b": 3, "c": [1.5], "d": 0}),
        "$",
        &mut errors,
    );
    assert_eq!(errors.len(), 4, "{errors:?}");
}
