//! Kubernetes protobuf request bodies, decoded to JSON. kubectl's typed
//! clients (`create namespace`, `create configmap`, `auth can-i`, `delete`)
//! send `application/vnd.kubernetes.protobuf` and do not fall back to JSON,
//! so the emulator reads the types they send. Field numbers are those of
//! Kubernetes' generated.proto files.

use base64::{engine::general_purpose::STANDARD, Engine};
use serde_json::{json, Map, Value};

const MAGIC: &[u8] = b"k8s\0";

#[derive(Clone, Copy)]
enum Ty {
    Str,
    Bool,
    Int,
    Msg(&'static [Field]),
    StrMap,
    BytesMap,
    RepeatedStr,
    RepeatedMsg(&'static [Field]),
    /// `intstr.IntOrString`: type (0 int, 1 string), intVal, strVal.
    IntOrString,
}

type Field = (u64, &'static str, Ty);

const TYPE_META: &[Field] = &[(1, "apiVersion", Ty::Str), (2, "kind", Ty::Str)];
const OBJECT_META: &[Field] = &[
    (1, "name", Ty::Str),
    (2, "generateName", Ty::Str),
    (3, "namespace", Ty::Str),
    (5, "uid", Ty::Str),
    (6, "resourceVersion", Ty::Str),
    (11, "labels", Ty::StrMap),
    (12, "annotations", Ty::StrMap),
    (14, "finalizers", Ty::RepeatedStr),
];
const CONFIG_MAP: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (2, "data", Ty::StrMap),
    (3, "binaryData", Ty::BytesMap),
    (4, "immutable", Ty::Bool),
];
const SECRET: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (2, "data", Ty::BytesMap),
    (3, "type", Ty::Str),
    (4, "stringData", Ty::StrMap),
    (5, "immutable", Ty::Bool),
];
const NAMESPACE_SPEC: &[Field] = &[(1, "finalizers", Ty::RepeatedStr)];
const NAMESPACE: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (2, "spec", Ty::Msg(NAMESPACE_SPEC)),
];
const SERVICE_ACCOUNT: &[Field] = &[(1, "metadata", Ty::Msg(OBJECT_META))];
const RESOURCE_ATTRIBUTES: &[Field] = &[
    (1, "namespace", Ty::Str),
    (2, "verb", Ty::Str),
    (3, "group", Ty::Str),
    (4, "version", Ty::Str),
    (5, "resource", Ty::Str),
    (6, "subresource", Ty::Str),
    (7, "name", Ty::Str),
];
const NON_RESOURCE_ATTRIBUTES: &[Field] = &[(1, "path", Ty::Str), (2, "verb", Ty::Str)];
const SSAR_SPEC: &[Field] = &[
    (1, "resourceAttributes", Ty::Msg(RESOURCE_ATTRIBUTES)),
    (2, "nonResourceAttributes", Ty::Msg(NON_RESOURCE_ATTRIBUTES)),
];
const SSAR: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (2, "spec", Ty::Msg(SSAR_SPEC)),
];
const SERVICE_PORT: &[Field] = &[
    (1, "name", Ty::Str),
    (2, "protocol", Ty::Str),
    (3, "port", Ty::Int),
    (4, "targetPort", Ty::IntOrString),
    (5, "nodePort", Ty::Int),
    (6, "appProtocol", Ty::Str),
];
const SERVICE_SPEC: &[Field] = &[
    (1, "ports", Ty::RepeatedMsg(SERVICE_PORT)),
    (2, "selector", Ty::StrMap),
    (3, "clusterIP", Ty::Str),
    (4, "type", Ty::Str),
    (10, "externalName", Ty::Str),
];
const SERVICE: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (2, "spec", Ty::Msg(SERVICE_SPEC)),
];
const DELETE_OPTIONS: &[Field] = &[
    (1, "gracePeriodSeconds", Ty::Int),
    (3, "orphanDependents", Ty::Bool),
    (4, "propagationPolicy", Ty::Str),
    (5, "dryRun", Ty::RepeatedStr),
];

fn schema(kind: &str) -> Option<&'static [Field]> {
    Some(match kind {
        "ConfigMap" => CONFIG_MAP,
        "Secret" => SECRET,
        "Namespace" => NAMESPACE,
        "ServiceAccount" => SERVICE_ACCOUNT,
        "Service" => SERVICE,
        "SelfSubjectAccessReview" => SSAR,
        "DeleteOptions" => DELETE_OPTIONS,
        _ => return None,
    })
}

/// A protobuf-encoded object (magic, runtime.Unknown envelope, message) as
/// the JSON the API would have received.
pub fn decode(bytes: &[u8]) -> Result<Value, String> {
    let body = bytes
        .strip_prefix(MAGIC)
        .ok_or("the body lacks the k8s protobuf magic")?;
    let mut type_meta = Value::Null;
    let mut raw: &[u8] = &[];
    for field in fields(body)? {
        match field {
            (1, Wire::Len(b)) => type_meta = message(b, TYPE_META)?,
            (2, Wire::Len(b)) => raw = b,
            _ => {}
        }
    }
    let kind = type_meta["kind"].as_str().unwrap_or("").to_string();
    let fields =
        schema(&kind).ok_or_else(|| format!("the emulator does not read {kind:?} in protobuf"))?;
    let mut object = message(raw, fields)?;
    object["kind"] = json!(kind);
    object["apiVersion"] = type_meta["apiVersion"].clone();
    Ok(object)
}

enum Wire<'a> {
    Varint(u64),
    Len(&'a [u8]),
    Other,
}

fn varint(bytes: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint too long".into())
}

fn fields(bytes: &[u8]) -> Result<Vec<(u64, Wire<'_>)>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let tag = varint(bytes, &mut pos)?;
        let wire = match tag & 7 {
            0 => Wire::Varint(varint(bytes, &mut pos)?),
            2 => {
                let len =
                    usize::try_from(varint(bytes, &mut pos)?).map_err(|_| "length too large")?;
                let end = pos
                    .checked_add(len)
                    .filter(|e| *e <= bytes.len())
                    .ok_or("truncated field")?;
                let slice = &bytes[pos..end];
                pos = end;
                Wire::Len(slice)
            }
            1 => {
                pos += 8;
                Wire::Other
            }
            5 => {
                pos += 4;
                Wire::Other
            }
            other => return Err(format!("unsupported wire type {other}")),
        };
        out.push((tag >> 3, wire));
    }
    Ok(out)
}

fn message(bytes: &[u8], schema: &[Field]) -> Result<Value, String> {
    let mut object = Map::new();
    for (number, wire) in fields(bytes)? {
        let Some((_, name, ty)) = schema.iter().find(|(n, _, _)| *n == number) else {
            continue;
        };
        let name = (*name).to_string();
        match (ty, wire) {
            // Generated Kubernetes protobuf writes empty strings; JSON omits them.
            (Ty::Str, Wire::Len([])) => {}
            (Ty::Str, Wire::Len(b)) => {
                object.insert(name, json!(String::from_utf8_lossy(b)));
            }
            (Ty::Bool, Wire::Varint(v)) => {
                object.insert(name, json!(v != 0));
            }
            (Ty::Int, Wire::Varint(v)) => {
                object.insert(name, json!(v as i64));
            }
            (Ty::Msg(inner), Wire::Len(b)) => {
                object.insert(name, message(b, inner)?);
            }
            (Ty::RepeatedMsg(inner), Wire::Len(b)) => {
                let item = message(b, inner)?;
                let list = object.entry(name).or_insert_with(|| json!([]));
                list.as_array_mut().expect("a list").push(item);
            }
            (Ty::IntOrString, Wire::Len(b)) => {
                let (mut is_string, mut int, mut text) = (false, 0i64, String::new());
                for (n, w) in fields(b)? {
                    match (n, w) {
                        (1, Wire::Varint(v)) => is_string = v == 1,
                        (2, Wire::Varint(v)) => int = v as i64,
                        (3, Wire::Len(x)) => text = String::from_utf8_lossy(x).into_owned(),
                        _ => {}
                    }
                }
                object.insert(name, if is_string { json!(text) } else { json!(int) });
            }
            (Ty::RepeatedStr, Wire::Len(b)) => {
                let list = object.entry(name).or_insert_with(|| json!([]));
                list.as_array_mut()
                    .expect("a list")
                    .push(json!(String::from_utf8_lossy(b)));
            }
            (Ty::StrMap | Ty::BytesMap, Wire::Len(b)) => {
                let (mut key, mut value) = (String::new(), Value::Null);
                for (n, w) in fields(b)? {
                    if let Wire::Len(x) = w {
                        match (n, ty) {
                            (1, _) => key = String::from_utf8_lossy(x).into_owned(),
                            (2, Ty::BytesMap) => value = json!(STANDARD.encode(x)),
                            (2, _) => value = json!(String::from_utf8_lossy(x)),
                            _ => {}
                        }
                    }
                }
                if value.is_null() {
                    value = json!("");
                }
                object.entry(name).or_insert_with(|| json!({}))[key] = value;
            }
            _ => return Err(format!("field {name} has an unexpected wire type")),
        }
    }
    Ok(Value::Object(object))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len_field(number: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3 | 2) as u8, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn decodes_a_config_map_in_its_envelope() {
        let meta = [
            len_field(1, b"c1"),
            len_field(11, &[len_field(1, b"app"), len_field(2, b"web")].concat()),
        ]
        .concat();
        let cm = [
            len_field(1, &meta),
            len_field(2, &[len_field(1, b"a"), len_field(2, b"b")].concat()),
        ]
        .concat();
        let type_meta = [len_field(1, b"v1"), len_field(2, b"ConfigMap")].concat();
        let body = [MAGIC.to_vec(), len_field(1, &type_meta), len_field(2, &cm)].concat();
        let object = decode(&body).unwrap();
        assert_eq!(
            object,
            json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c1", "labels": {"app": "web"}}, "data": {"a": "b"}})
        );
        assert!(decode(b"not protobuf").is_err());
    }

    fn varint_field(number: u64, value: u8) -> Vec<u8> {
        vec![(number << 3) as u8, value]
    }

    #[test]
    fn decodes_a_service_with_ports_and_an_int_or_string() {
        let port = [
            len_field(1, b"80-80"),
            len_field(2, b"TCP"),
            varint_field(3, 80),
            len_field(4, &[varint_field(1, 1), len_field(3, b"http")].concat()),
        ]
        .concat();
        let port2 = [
            varint_field(3, 81),
            len_field(4, &[varint_field(1, 0), varint_field(2, 90)].concat()),
        ]
        .concat();
        let spec = [
            len_field(1, &port),
            len_field(1, &port2),
            len_field(2, &[len_field(1, b"app"), len_field(2, b"s1")].concat()),
            len_field(4, b"ClusterIP"),
        ]
        .concat();
        let svc = [len_field(1, &len_field(1, b"s1")), len_field(2, &spec)].concat();
        let type_meta = [len_field(1, b"v1"), len_field(2, b"Service")].concat();
        let body = [MAGIC.to_vec(), len_field(1, &type_meta), len_field(2, &svc)].concat();
        let object = decode(&body).unwrap();
        assert_eq!(
            object["spec"],
            json!({"ports": [
                {"name": "80-80", "protocol": "TCP", "port": 80, "targetPort": "http"},
                {"port": 81, "targetPort": 90}],
              "selector": {"app": "s1"}, "type": "ClusterIP"})
        );
    }
}
