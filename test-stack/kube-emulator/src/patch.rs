//! PATCH bodies: JSON merge patch (RFC 7386), strategic merge patch for the
//! lists kubectl and kip patch (merged by their merge keys), and JSON patch
//! (RFC 6902: add, remove, replace, test).

use serde_json::{Map, Value};

/// Lists that strategic merge patch merges by a key instead of replacing.
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "volumeMounts"
        | "imagePullSecrets" => Some("name"),
        "ports" => Some("containerPort"),
        "conditions" => Some("type"),
        "tolerations" => Some("key"),
        _ => None,
    }
}

pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().expect("made an object above");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

pub fn strategic_merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let t = target.as_object_mut().expect("made an object above");
    for (k, v) in p {
        // Directives that only order or retain: nothing to apply here.
        if k.starts_with("$setElementOrder/")
            || k == "$retainKeys"
            || k.starts_with("$deleteFromPrimitiveList/")
        {
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        match (merge_key(k), v) {
            (Some(key), Value::Array(items)) => {
                let current = t
                    .entry(k.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if !current.is_array() {
                    *current = Value::Array(Vec::new());
                }
                let list = current.as_array_mut().expect("made an array above");
                for item in items {
                    let id = &item[key];
                    let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
                    match list.iter().position(|e| &e[key] == id) {
                        Some(i) if delete => {
                            list.remove(i);
                        }
                        Some(i) => strategic_merge_patch(&mut list[i], item),
                        None if delete => {}
                        None => list.push(item.clone()),
                    }
                }
            }
            (_, Value::Object(_)) => {
                strategic_merge_patch(t.entry(k.clone()).or_insert(Value::Null), v)
            }
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
    }
}

/// RFC 6902. Errors say which operation failed.
pub fn json_patch(target: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or("a JSON patch is a list of operations")?;
    for op in ops {
        let path = op["path"].as_str().ok_or("an operation needs a path")?;
        match op["op"].as_str() {
            Some("add") | Some("replace") => {
                set(target, path, op["value"].clone(), op["op"] == "add")?
            }
            Some("remove") => remove(target, path)?,
            Some("test") => {
                if pointer(target, path) != Some(&op["value"]) {
                    return Err(format!("test failed at {path}"));
                }
            }
            other => return Err(format!("unsupported JSON patch operation {other:?}")),
        }
    }
    Ok(())
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn pointer<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    v.pointer(path)
}

fn split(path: &str) -> Result<(String, String), String> {
    let (parent, last) = path
        .rsplit_once('/')
        .ok_or_else(|| format!("bad path {path:?}"))?;
    Ok((parent.to_string(), unescape(last)))
}

fn set(target: &mut Value, path: &str, value: Value, add: bool) -> Result<(), String> {
    let (parent, last) = split(path)?;
    let container = target
        .pointer_mut(&parent)
        .ok_or_else(|| format!("no {parent:?} for {path:?}"))?;
    match container {
        Value::Object(m) => {
            if !add && !m.contains_key(&last) {
                return Err(format!("cannot replace missing {path:?}"));
            }
            m.insert(last, value);
        }
        Value::Array(a) => {
            if last == "-" && add {
                a.push(value);
            } else {
                let i: usize = last.parse().map_err(|_| format!("bad index in {path:?}"))?;
                if add && i <= a.len() {
                    a.insert(i, value);
                } else if !add && i < a.len() {
                    a[i] = value;
                } else {
                    return Err(format!("index out of range in {path:?}"));
                }
            }
        }
        _ => return Err(format!("{parent:?} is not a container")),
    }
    Ok(())
}

fn remove(target: &mut Value, path: &str) -> Result<(), String> {
    let (parent, last) = split(path)?;
    match target.pointer_mut(&parent) {
        Some(Value::Object(m)) => m
            .remove(&last)
            .map(|_| ())
            .ok_or_else(|| format!("nothing at {path:?}")),
        Some(Value::Array(a)) => {
            let i: usize = last.parse().map_err(|_| format!("bad index in {path:?}"))?;
            (i < a.len())
                .then(|| a.remove(i))
                .map(|_| ())
                .ok_or_else(|| format!("nothing at {path:?}"))
        }
        _ => Err(format!("nothing at {path:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_per_rfc7386() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut doc, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}}));
    }

    #[test]
    fn strategic_merge_patch_merges_containers_by_name() {
        let mut pod = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [
            {"name": "app", "image": "v1"}, {"name": "side", "image": "s1"}]}});
        strategic_merge_patch(
            &mut pod,
            &json!({
                "$setElementOrder/containers": [{"name": "app"}, {"name": "side"}],
                "metadata": {"labels": {"b": "2"}},
                "spec": {"containers": [{"name": "app", "image": "v2"}, {"name": "side", "$patch": "delete"}]}
            }),
        );
        assert_eq!(
            pod,
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [{"name": "app", "image": "v2"}]}})
        );
    }

    #[test]
    fn json_patch_ops() {
        let mut doc = json!({"metadata": {"labels": {"a": "1"}}, "list": [1, 2]});
        json_patch(
            &mut doc,
            &json!([
                {"op": "add", "path": "/metadata/labels/b~1c", "value": "2"},
                {"op": "replace", "path": "/list/0", "value": 9},
                {"op": "remove", "path": "/metadata/labels/a"},
                {"op": "add", "path": "/list/-", "value": 3},
                {"op": "test", "path": "/list/2", "value": 3}
            ]),
        )
        .unwrap();
        assert_eq!(
            doc,
            json!({"metadata": {"labels": {"b/c": "2"}}, "list": [9, 2, 3]})
        );
        assert!(json_patch(
            &mut doc,
            &json!([{"op": "replace", "path": "/nope", "value": 1}])
        )
        .is_err());
    }
}
