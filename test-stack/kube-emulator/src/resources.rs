//! The resources the emulator serves, and the discovery documents that
//! describe them to kubectl and kube-rs.

use serde_json::{json, Value};

pub struct Resource {
    pub name: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub subresources: &'static [&'static str],
}

const ALL_VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

pub const CORE: &[Resource] = &[
    Resource {
        name: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        short_names: &["ns"],
        subresources: &["status"],
    },
    Resource {
        name: "nodes",
        singular: "node",
        kind: "Node",
        namespaced: false,
        short_names: &["no"],
        subresources: &["status"],
    },
    Resource {
        name: "pods",
        singular: "pod",
        kind: "Pod",
        namespaced: true,
        short_names: &["po"],
        subresources: &["status", "log", "exec", "portforward"],
    },
    Resource {
        name: "configmaps",
        singular: "configmap",
        kind: "ConfigMap",
        namespaced: true,
        short_names: &["cm"],
        subresources: &[],
    },
    Resource {
        name: "secrets",
        singular: "secret",
        kind: "Secret",
        namespaced: true,
        short_names: &[],
        subresources: &[],
    },
    Resource {
        name: "services",
        singular: "service",
        kind: "Service",
        namespaced: true,
        short_names: &["svc"],
        subresources: &["status"],
    },
    Resource {
        name: "serviceaccounts",
        singular: "serviceaccount",
        kind: "ServiceAccount",
        namespaced: true,
        short_names: &["sa"],
        subresources: &[],
    },
    Resource {
        name: "events",
        singular: "event",
        kind: "Event",
        namespaced: true,
        short_names: &["ev"],
        subresources: &[],
    },
];

pub fn find(name: &str) -> Option<&'static Resource> {
    CORE.iter().find(|r| r.name == name)
}

pub fn version() -> Value {
    json!({
        "major": "1", "minor": "36", "gitVersion": "v1.36.0-kip-emulator",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"
    })
}

pub fn api_versions(server: &str) -> Value {
    json!({
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}]
    })
}

pub fn core_resource_list() -> Value {
    let mut resources = Vec::new();
    for r in CORE {
        resources.push(json!({
            "name": r.name, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
            "verbs": ALL_VERBS, "shortNames": r.short_names,
        }));
        for sub in r.subresources {
            let (kind, verbs): (&str, &[&str]) = match *sub {
                "status" => (r.kind, &["get", "patch", "update"]),
                "log" => ("Pod", &["get"]),
                "exec" => ("PodExecOptions", &["create", "get"]),
                "portforward" => ("PodPortForwardOptions", &["create", "get"]),
                _ => continue,
            };
            resources.push(json!({
                "name": format!("{}/{sub}", r.name), "singularName": "", "namespaced": r.namespaced,
                "kind": kind, "verbs": verbs,
            }));
        }
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": resources})
}

pub fn group_list() -> Value {
    json!({
        "kind": "APIGroupList", "apiVersion": "v1",
        "groups": [{
            "name": "authorization.k8s.io",
            "versions": [{"groupVersion": "authorization.k8s.io/v1", "version": "v1"}],
            "preferredVersion": {"groupVersion": "authorization.k8s.io/v1", "version": "v1"}
        }]
    })
}

pub fn authorization_resource_list() -> Value {
    json!({
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "authorization.k8s.io/v1",
        "resources": [{
            "name": "selfsubjectaccessreviews", "singularName": "selfsubjectaccessreview",
            "namespaced": false, "kind": "SelfSubjectAccessReview", "verbs": ["create"]
        }]
    })
}

/// A `meta.k8s.io/v1` Table, which kubectl asks for when it prints `get`.
pub fn table(resource: &Resource, items: &[Value], resource_version: u64) -> Value {
    let mut columns =
        vec![json!({"name": "Name", "type": "string", "format": "name", "description": "Name"})];
    let pods = resource.name == "pods";
    if pods {
        for (name, kind) in [
            ("Ready", "string"),
            ("Status", "string"),
            ("Restarts", "integer"),
        ] {
            columns.push(json!({"name": name, "type": kind, "format": "", "description": name}));
        }
    }
    columns.push(json!({"name": "Age", "type": "string", "format": "", "description": "Age"}));
    let rows: Vec<Value> = items
        .iter()
        .map(|item| {
            let mut cells = vec![item["metadata"]["name"].clone()];
            if pods {
                let statuses = item["status"]["containerStatuses"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let total = item["spec"]["containers"].as_array().map_or(0, Vec::len);
                let ready = statuses.iter().filter(|s| s["ready"] == true).count();
                let restarts: i64 = statuses
                    .iter()
                    .filter_map(|s| s["restartCount"].as_i64())
                    .sum();
                cells.push(json!(format!("{ready}/{total}")));
                cells.push(item["status"]["phase"].clone());
                cells.push(json!(restarts));
            }
            cells.push(json!(age(item["metadata"]["creationTimestamp"].as_str())));
            json!({
                "cells": cells,
                "object": {
                    "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                    "metadata": item["metadata"].clone()
                }
            })
        })
        .collect();
    json!({
        "kind": "Table", "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version.to_string()},
        "columnDefinitions": columns, "rows": rows
    })
}

fn age(created: Option<&str>) -> String {
    let Some(created) = created.and_then(crate::time::parse_rfc3339) else {
        return "<unknown>".into();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let secs = now.saturating_sub(created);
    match secs {
        0..=119 => format!("{secs}s"),
        120..=7199 => format!("{}m", secs / 60),
        _ => format!("{}h", secs / 3600),
    }
}

/// The fields of `object` that its kind does not have, as the API server
/// names them (`bogus`, `metadata.bogus`), at the top level and in metadata.
pub fn unknown_fields(kind: &str, object: &Value) -> Vec<String> {
    const METADATA: [&str; 15] = [
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    ];
    let own: &[&str] = match kind {
        "Pod" | "Service" | "Namespace" | "Node" => &["spec", "status"],
        "ConfigMap" => &["data", "binaryData", "immutable"],
        "Secret" => &["data", "stringData", "type", "immutable"],
        "ServiceAccount" => &[
            "secrets",
            "imagePullSecrets",
            "automountServiceAccountToken",
        ],
        "Event" => &[
            "action",
            "count",
            "eventTime",
            "firstTimestamp",
            "involvedObject",
            "lastTimestamp",
            "message",
            "reason",
            "related",
            "reportingComponent",
            "reportingInstance",
            "series",
            "source",
            "type",
        ],
        _ => return Vec::new(),
    };
    let mut unknown = Vec::new();
    for field in object.as_object().into_iter().flat_map(|o| o.keys()) {
        if !["apiVersion", "kind", "metadata"].contains(&field.as_str())
            && !own.contains(&field.as_str())
        {
            unknown.push(field.clone());
        }
    }
    for field in object["metadata"]
        .as_object()
        .into_iter()
        .flat_map(|o| o.keys())
    {
        if !METADATA.contains(&field.as_str()) {
            unknown.push(format!("metadata.{field}"));
        }
    }
    unknown
}

/// `/openapi/v2` as the protobuf kubectl asks for (gnostic's OpenAPIv2
/// `Document`): `swagger: "2.0"` (field 1) and an `info` (field 2) with a
/// title and a version, and no definitions. kubectl then finds no schema for
/// a `List`'s items and leaves their fields to the server, which checks them
/// on the dry run or the create (the real server publishes every schema; the
/// emulator's field checks are its own, on each request).
pub fn openapi_v2_protobuf() -> Vec<u8> {
    fn field(number: u8, bytes: &[u8]) -> Vec<u8> {
        // Wire type 2 (length-delimited); every length here is < 128.
        let mut out = vec![
            number << 3 | 2,
            u8::try_from(bytes.len()).expect("short field"),
        ];
        out.extend_from_slice(bytes);
        out
    }
    let info = [field(1, b"Kubernetes"), field(2, b"v1.36.0-kip-emulator")].concat();
    [field(1, b"2.0"), field(2, &info)].concat()
}

/// `/openapi/v3`: where each group-version's document is.
pub fn openapi_v3_root() -> Value {
    json!({"paths": {
        "api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=kip-emulator-1"},
        "apis/authorization.k8s.io/v1": {"serverRelativeURL": "/openapi/v3/apis/authorization.k8s.io/v1?hash=kip-emulator-1"}
    }})
}

/// A minimal OpenAPI v3 document for the core group: one path per
/// resource, with the operations' group-version-kind and the query
/// parameters the emulator honours. kubectl reads it to learn that the
/// server validates fields itself (`fieldValidation`).
pub fn openapi_v3_core() -> Value {
    let params = json!([
        {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
        {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}
    ]);
    let mut paths = serde_json::Map::new();
    for r in CORE {
        let gvk = json!({"group": "", "version": "v1", "kind": r.kind});
        let op = |verb: &str| {
            json!({
                "operationId": format!("{verb}{}", r.kind),
                "parameters": params,
                "x-kubernetes-action": verb,
                "x-kubernetes-group-version-kind": gvk,
                "responses": {"200": {"description": "OK"}}
            })
        };
        let (collection, item) = if r.namespaced {
            (
                format!("/api/v1/namespaces/{{namespace}}/{}", r.name),
                format!("/api/v1/namespaces/{{namespace}}/{}/{{name}}", r.name),
            )
        } else {
            (
                format!("/api/v1/{}", r.name),
                format!("/api/v1/{}/{{name}}", r.name),
            )
        };
        paths.insert(collection, json!({"get": op("list"), "post": op("post")}));
        paths.insert(item, json!({"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}));
    }
    json!({"openapi": "3.0.0", "info": {"title": "Kubernetes (kip emulator)", "version": "v1.36.0"}, "paths": paths})
}
