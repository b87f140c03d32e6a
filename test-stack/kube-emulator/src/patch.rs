//! PATCH bodies: JSON merge patch (RFC 7386, what kip sends) and strategic
//! merge patch for the lists kubectl patches (merged by their merge keys).
//! JSON patch (RFC 6902) is answered 415: no test sends one.

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
}
