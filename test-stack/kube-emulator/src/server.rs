//! The REST API: discovery, CRUD with dry runs, selectors, watches,
//! subresources, SelfSubjectAccessReview, and RBAC in front of them.

// Handlers return the error response itself as their `Err`.
#![allow(clippy::result_large_err)]

use crate::patch;
use crate::policy::{self, Attributes, Rule};
use crate::resources::{self, Resource};
use crate::selectors::Selector;
use crate::store::{Change, Key, Store, StoreError};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub type Body = BoxBody<Bytes, Infallible>;

pub struct State {
    pub store: Mutex<Store>,
    /// Runs pods as containers, when the emulator was started with pods.
    pub runtime: Mutex<Option<Arc<crate::runtime::Runtime>>>,
    pub rbac: Mutex<Option<Vec<Rule>>>,
    /// `host:port` clients reach the HTTPS server at.
    pub server_address: Mutex<String>,
    /// The token the emulator mints for pods' service accounts; a request
    /// with any other bearer token is 401, as with a real API server.
    service_account_token: Mutex<Option<String>>,
    next_cluster_ip: Mutex<u32>,
    /// Watches and port-forward sessions served right now: a test waits
    /// for a client to hold one rather than sleeping.
    pub open_watches: Arc<AtomicUsize>,
    pub open_port_forwards: Arc<AtomicUsize>,
    /// Requests a test holds (`Emulator::hold`): it puts another command
    /// exactly between two of a run's requests, with no sleep.
    pub holds: Mutex<Vec<Hold>>,
    pub hold_changed: std::sync::Condvar,
}

/// One request to hold: the first of `verb` on `resource` ("pods") that
/// is not a dry run.
pub struct Hold {
    pub verb: String,
    pub resource: String,
    /// Whether a request is held now; it goes once `release` is sent true.
    pub holding: bool,
    pub release: tokio::sync::watch::Sender<bool>,
    taken: bool,
}

impl Hold {
    pub fn new(verb: &str, resource: &str) -> Hold {
        Hold {
            verb: verb.into(),
            resource: resource.into(),
            holding: false,
            release: tokio::sync::watch::channel(false).0,
            taken: false,
        }
    }
}

/// One served watch or session, counted while it lives.
pub struct Held(Arc<AtomicUsize>);

impl Held {
    pub fn new(count: &Arc<AtomicUsize>) -> Held {
        count.fetch_add(1, Ordering::SeqCst);
        Held(count.clone())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl State {
    pub fn new() -> Arc<State> {
        let state = Arc::new(State {
            store: Mutex::new(Store::default()),
            runtime: Mutex::new(None),
            rbac: Mutex::new(None),
            server_address: Mutex::new(String::new()),
            service_account_token: Mutex::new(None),
            next_cluster_ip: Mutex::new(1),
            open_watches: Arc::default(),
            open_port_forwards: Arc::default(),
            holds: Mutex::new(Vec::new()),
            hold_changed: std::sync::Condvar::new(),
        });
        state.seed();
        state
    }

    pub fn set_service_account_token(&self, token: &str) {
        *self
            .service_account_token
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(token.to_string());
    }

    /// A bearer token the emulator did not mint (client certificates and
    /// anonymous requests are let through, as before).
    fn bad_token(&self, req: &Request<Incoming>) -> bool {
        let Some(bearer) = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        let known = self
            .service_account_token
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        known.as_deref() != Some(bearer.trim())
    }

    /// Waits while a test holds this request (the first of its kind).
    async fn wait_if_held(&self, verb: &str, resource: &str) {
        let mut released = {
            let mut holds = self.holds.lock().unwrap_or_else(|e| e.into_inner());
            let Some(hold) = holds
                .iter_mut()
                .find(|h| !h.taken && h.verb == verb && h.resource == resource)
            else {
                return;
            };
            hold.taken = true;
            hold.holding = true;
            self.hold_changed.notify_all();
            hold.release.subscribe()
        };
        let _ = released.wait_for(|go| *go).await;
    }

    fn runtime(&self) -> Option<Arc<crate::runtime::Runtime>> {
        self.runtime
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gives the node a pod range, as a cluster's node controller does.
    pub fn set_node_pod_cidr(&self, cidr: &str) {
        let mut store = self.store();
        let node_key = key("nodes", "", "emulator-node");
        if let Some(mut node) = store.get(&node_key).cloned() {
            node["spec"]["podCIDR"] = json!(cidr);
            node["spec"]["podCIDRs"] = json!([cidr]);
            let _ = store.update(node_key, node, None);
        }
    }

    /// What a fresh cluster has: its namespaces, their default service
    /// accounts, one Ready node, and the `kubernetes` Service.
    fn seed(&self) {
        let mut store = self.store();
        let _ = store.create(
            key("services", "default", "kubernetes"),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"}},
                "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"],
                    "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}}),
        );
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let _ = store.create(
                key("namespaces", "", ns),
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns,
                    "labels": {"kubernetes.io/metadata.name": ns}}, "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"}}),
            );
            let _ = store.create(
                key("serviceaccounts", ns, "default"),
                json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}}),
            );
        }
        let now = crate::time::now_rfc3339();
        let _ = store.create(
            key("nodes", "", "emulator-node"),
            json!({"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": "emulator-node", "labels": crate::runtime::NODE_LABELS.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>()},
                "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                    "message": "kubelet is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now}],
                    "nodeInfo": {"kubeletVersion": "v1.36.0-kip-emulator", "containerRuntimeVersion": "docker://emulated"}}}),
        );
    }
}

fn key(resource: &str, namespace: &str, name: &str) -> Key {
    Key {
        resource: resource.into(),
        namespace: namespace.into(),
        name: name.into(),
    }
}

pub fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", content_type)
        .body(Full::new(body.into()).boxed())
        .expect("a valid response")
}

fn ok_json(value: &Value) -> Response<Body> {
    full(StatusCode::OK, "application/json", value.to_string())
}

fn created_json(value: &Value) -> Response<Body> {
    full(StatusCode::CREATED, "application/json", value.to_string())
}

/// A `Status` failure, as the API server sends it.
pub fn status_error(
    code: u16,
    reason: &str,
    message: &str,
    details: Option<(&str, &str)>,
) -> Response<Body> {
    let mut body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code
    });
    if let Some((kind, name)) = details {
        body["details"] = json!({"name": name, "kind": kind});
    }
    full(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        "application/json",
        body.to_string(),
    )
}

fn not_found(resource: &str, name: &str) -> Response<Body> {
    status_error(
        404,
        "NotFound",
        &format!("{resource} \"{name}\" not found"),
        Some((resource, name)),
    )
}

/// `fieldValidation=Strict` (kubectl's default): fields the kind does not
/// have are a 400 in the server's words, at the top level and in
/// `metadata` (the emulator knows no deeper schema).
fn strict_fields(
    q: &HashMap<String, String>,
    kind: &str,
    object: &Value,
) -> Option<Response<Body>> {
    if q.get("fieldValidation").map(String::as_str) != Some("Strict") {
        return None;
    }
    let unknown = resources::unknown_fields(kind, object);
    (!unknown.is_empty()).then(|| {
        let fields: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
        bad_request(&format!(
            "{kind} in version \"v1\" cannot be handled as a {kind}: strict decoding error: {}",
            fields.join(", ")
        ))
    })
}

fn bad_request(message: &str) -> Response<Body> {
    status_error(400, "BadRequest", message, None)
}

/// Percent-decoded query parameters.
fn query(req: &Request<Incoming>) -> HashMap<String, String> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&text[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a request is about, once its path is understood.
struct Target<'a> {
    resource: &'static Resource,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<&'a str>,
}

fn parse_core_path(segments: &[&str]) -> Option<Result<Target<'static>, String>> {
    let owned = |s: &str| Some(s.to_string());
    let target = |r: &str, ns: Option<String>, name: Option<String>, sub: Option<&str>| {
        let resource = resources::find(r)?;
        let sub: Option<&'static str> = match sub {
            None => None,
            Some(s) => Some(*resource.subresources.iter().find(|x| **x == s)?),
        };
        Some(Target {
            resource,
            namespace: ns,
            name,
            subresource: sub,
        })
    };
    let parsed = match segments {
        [r] => target(r, None, None, None),
        ["namespaces", ns, r] if resources::find(r).is_some_and(|x| x.namespaced) => {
            target(r, owned(ns), None, None)
        }
        ["namespaces", ns, r, name] if resources::find(r).is_some_and(|x| x.namespaced) => {
            target(r, owned(ns), owned(name), None)
        }
        ["namespaces", ns, r, name, sub] => target(r, owned(ns), owned(name), Some(sub)),
        [r, name] => target(r, None, owned(name), None),
        [r, name, sub] => target(r, None, owned(name), Some(sub)),
        _ => None,
    };
    Some(parsed.ok_or_else(|| {
        format!(
            "the server could not find the requested resource ({})",
            segments.join("/")
        )
    }))
}

pub async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().trim_end_matches('/').to_string();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let server = state
        .server_address
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default();
    if state.bad_token(&req) {
        return Ok(status_error(401, "Unauthorized", "Unauthorized", None));
    }
    let response = match (req.method(), segments.as_slice()) {
        (&Method::GET, ["healthz"] | ["readyz"] | ["livez"]) => {
            full(StatusCode::OK, "text/plain", "ok")
        }
        (&Method::GET, ["version"]) => ok_json(&resources::version()),
        (&Method::GET, ["api"]) => ok_json(&resources::api_versions(&server)),
        (&Method::GET, ["api", "v1"]) => ok_json(&resources::core_resource_list()),
        (&Method::GET, ["apis"]) => ok_json(&resources::group_list()),
        // kubectl validates what the server cannot (a `v1` `List` of
        // objects) against the v2 document, as protobuf; a real server
        // always has one.
        (&Method::GET, ["openapi", "v2"]) => full(
            StatusCode::OK,
            "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            resources::openapi_v2_protobuf(),
        ),
        (&Method::GET, ["openapi", "v3"]) => ok_json(&resources::openapi_v3_root()),
        (&Method::GET, ["openapi", "v3", "api", "v1"]) => ok_json(&resources::openapi_v3_core()),
        (&Method::GET, ["apis", "authorization.k8s.io"]) => {
            ok_json(&resources::group_list()["groups"][0])
        }
        (&Method::GET, ["apis", "authorization.k8s.io", "v1"]) => {
            ok_json(&resources::authorization_resource_list())
        }
        (&Method::POST, ["apis", "authorization.k8s.io", "v1", "selfsubjectaccessreviews"]) => {
            access_review(&state, req).await
        }
        (_, ["api", "v1", rest @ ..]) => match parse_core_path(rest) {
            Some(Ok(target)) => resource_request(&state, req, target).await,
            Some(Err(message)) => status_error(404, "NotFound", &message, None),
            None => status_error(404, "NotFound", &message_or(&path), None),
        },
        _ => status_error(
            404,
            "NotFound",
            &format!("the server could not find the requested resource ({path})"),
            None,
        ),
    };
    Ok(response)
}

fn message_or(path: &str) -> String {
    format!("the server could not find the requested resource ({path})")
}

async fn read_json(req: Request<Incoming>) -> Result<(Value, String), Response<Body>> {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let bytes = req
        .into_body()
        .collect()
        .await
        .map_err(|e| bad_request(&format!("cannot read the body: {e}")))?
        .to_bytes();
    // kip (kube-rs) sends JSON; kubectl's typed commands (`create
    // namespace`, `auth can-i` …) send protobuf, which this emulator does
    // not read: tests give kubectl manifests instead (`create -f`).
    let value: Value = if !content_type.contains("json") && !content_type.contains("yaml") {
        return Err(status_error(
            415,
            "UnsupportedMediaType",
            &format!("the body of the request was in an unknown format - the kube-emulator accepts application/json and application/yaml (not {content_type})"),
            None,
        ));
    } else if content_type.contains("yaml") {
        serde_yaml::from_slice(&bytes)
            .map_err(|e| bad_request(&format!("the body is not YAML: {e}")))?
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            bad_request(&format!(
                "the body ({content_type}, {} bytes) is not JSON: {e}",
                bytes.len()
            ))
        })?
    };
    Ok((value, content_type))
}

async fn access_review(state: &State, req: Request<Incoming>) -> Response<Body> {
    let (mut review, _) = match read_json(req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let attrs = &review["spec"]["resourceAttributes"];
    let resource = match attrs["subresource"].as_str().filter(|s| !s.is_empty()) {
        Some(sub) => format!("{}/{sub}", attrs["resource"].as_str().unwrap_or("")),
        None => attrs["resource"].as_str().unwrap_or("").to_string(),
    };
    let a = Attributes {
        verb: attrs["verb"].as_str().unwrap_or(""),
        group: attrs["group"].as_str().unwrap_or(""),
        resource,
        namespace: attrs["namespace"].as_str().filter(|s| !s.is_empty()),
        name: attrs["name"].as_str().filter(|s| !s.is_empty()),
    };
    let rules = state.rbac.lock().map(|r| r.clone()).unwrap_or_default();
    let allowed = policy::allowed(rules.as_deref(), &a);
    review["status"] = if allowed {
        json!({"allowed": true, "reason": "allowed by the emulator's rules"})
    } else {
        json!({"allowed": false})
    };
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["kind"] = json!("SelfSubjectAccessReview");
    created_json(&review)
}

async fn resource_request(
    state: &Arc<State>,
    req: Request<Incoming>,
    target: Target<'_>,
) -> Response<Body> {
    let q = query(&req);
    let method = req.method().clone();
    let watch = q.get("watch").is_some_and(|v| v == "true" || v == "1");
    let verb = match (&method, &target.name, watch) {
        (&Method::GET, None, true) => "watch",
        (&Method::GET, None, false) => "list",
        (&Method::GET, Some(_), _) => "get",
        (&Method::POST, _, _) => "create",
        (&Method::PUT, _, _) => "update",
        (&Method::PATCH, _, _) => "patch",
        (&Method::DELETE, None, _) => "deletecollection",
        (&Method::DELETE, Some(_), _) => "delete",
        _ => {
            return status_error(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
                None,
            )
        }
    };
    // Streaming subresources are authorized as `create`, whatever the method.
    let verb = match target.subresource {
        Some("exec" | "portforward") => "create",
        _ => verb,
    };
    if !target.resource.namespaced && target.namespace.is_some() {
        return status_error(
            404,
            "NotFound",
            "cluster-scoped resource in a namespace",
            None,
        );
    }
    let attrs = Attributes {
        verb,
        group: "",
        resource: match target.subresource {
            Some(sub) => format!("{}/{sub}", target.resource.name),
            None => target.resource.name.to_string(),
        },
        namespace: target.namespace.as_deref(),
        name: target.name.as_deref(),
    };
    let rules = state.rbac.lock().map(|r| r.clone()).unwrap_or_default();
    if !policy::allowed(rules.as_deref(), &attrs) {
        return status_error(
            403,
            "Forbidden",
            &policy::forbidden_message(&attrs),
            target.name.as_deref().map(|n| (target.resource.name, n)),
        );
    }
    if !q.contains_key("dryRun") {
        state.wait_if_held(verb, &attrs.resource).await;
    }
    let table = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"));
    if verb == "get" && target.subresource == Some("log") {
        return pod_log(state, &target, &q).await;
    }
    if target.subresource == Some("exec") {
        return pod_exec(state, req, &target, &q).await;
    }
    if target.subresource == Some("portforward") {
        return pod_portforward(state, req, &target);
    }
    match verb {
        "list" => list(state, &target, &q, table),
        "watch" => watch_response(state, &target, &q, table),
        "get" => get(state, &target, table),
        "create" => create(state, req, &target, &q).await,
        "update" => update(state, req, &target, &q).await,
        "patch" => patch_request(state, req, &target, &q).await,
        "delete" => delete(state, &target, &q),
        // `deletecollection`: neither kip nor kubectl sends it.
        _ => status_error(
            405,
            "MethodNotAllowed",
            "the kube-emulator does not delete collections",
            None,
        ),
    }
}

fn selectors(q: &HashMap<String, String>) -> Result<(Selector, Selector), Response<Body>> {
    let labels = Selector::parse(q.get("labelSelector").map_or("", String::as_str))
        .map_err(|e| bad_request(&e))?;
    let fields = Selector::parse(q.get("fieldSelector").map_or("", String::as_str))
        .map_err(|e| bad_request(&e))?;
    Ok((labels, fields))
}

fn list(
    state: &State,
    target: &Target,
    q: &HashMap<String, String>,
    table: bool,
) -> Response<Body> {
    let (labels, fields) = match selectors(q) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let store = state.store();
    let items: Vec<Value> = store
        .list(target.resource.name, target.namespace.as_deref())
        .into_iter()
        .filter(|o| labels.matches_labels(o) && fields.matches_fields(o))
        .collect();
    let rv = store.resource_version();
    if table {
        return ok_json(&resources::table(target.resource, &items, rv));
    }
    ok_json(&json!({
        "kind": format!("{}List", target.resource.kind), "apiVersion": "v1",
        "metadata": {"resourceVersion": rv.to_string()}, "items": items
    }))
}

fn get(state: &State, target: &Target, table: bool) -> Response<Body> {
    let name = target.name.as_deref().unwrap_or("");
    let k = key(
        target.resource.name,
        target.namespace.as_deref().unwrap_or(""),
        name,
    );
    let store = state.store();
    match (store.get(&k), target.subresource) {
        (None, _) => not_found(target.resource.name, name),
        (Some(object), None) if table => ok_json(&resources::table(
            target.resource,
            std::slice::from_ref(object),
            store.resource_version(),
        )),
        (Some(object), None | Some("status")) => ok_json(object),
        (Some(object), Some("log")) => {
            let log = object["metadata"]["annotations"]["emulator.kip.dev/log"]
                .as_str()
                .unwrap_or("");
            full(StatusCode::OK, "text/plain", log.to_string())
        }
        (Some(_), Some(sub)) => status_error(
            400,
            "BadRequest",
            &format!(
                "the emulator does not serve {}/{sub} yet",
                target.resource.name
            ),
            None,
        ),
    }
}

fn generate_suffix(store: &mut Store) -> String {
    // Five characters from the uid counter, in the API server's alphabet.
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let uid = store.new_uid();
    let mut n: u64 = u64::from_str_radix(&uid[uid.len() - 12..], 16)
        .unwrap_or(0)
        .wrapping_mul(2_654_435_761);
    (0..5)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
            n /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

async fn create(
    state: &Arc<State>,
    req: Request<Incoming>,
    target: &Target<'_>,
    q: &HashMap<String, String>,
) -> Response<Body> {
    if target.name.is_some() {
        return status_error(
            405,
            "MethodNotAllowed",
            "POST to a named object is not supported",
            None,
        );
    }
    let (mut object, _) = match read_json(req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let r = target.resource;
    if let Some(response) = strict_fields(q, r.kind, &object) {
        return response;
    }
    if object["kind"].as_str().is_some_and(|k| k != r.kind) {
        return bad_request(&format!(
            "the kind {} does not match the resource {}",
            object["kind"], r.name
        ));
    }
    object["kind"] = json!(r.kind);
    object["apiVersion"] = json!("v1");
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    let ns = match (
        r.namespaced,
        &target.namespace,
        object["metadata"]["namespace"].as_str(),
    ) {
        (false, _, _) => String::new(),
        (true, Some(path_ns), Some(body_ns)) if path_ns != body_ns => return bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ),
        (true, Some(path_ns), _) => path_ns.clone(),
        (true, None, _) => return bad_request("a namespaced object needs a namespace in the path"),
    };
    let mut store = state.store();
    if r.namespaced {
        object["metadata"]["namespace"] = json!(ns);
        let namespace = store.get(&key("namespaces", "", &ns)).cloned();
        match namespace {
            None => {
                return status_error(404, "NotFound", &format!("namespaces \"{ns}\" not found"), Some(("namespaces", &ns)))
            }
            Some(n) if n["status"]["phase"] == "Terminating" => {
                return status_error(
                    403,
                    "Forbidden",
                    &format!("{} is forbidden: unable to create new content in namespace {ns} because it is being terminated", r.name),
                    None,
                )
            }
            Some(_) => {}
        }
    }
    let name = match (object["metadata"]["name"].as_str(), object["metadata"]["generateName"].as_str()) {
        (Some(name), _) if !name.is_empty() => name.to_string(),
        (_, Some(prefix)) => format!("{prefix}{}", generate_suffix(&mut store)),
        _ => return status_error(422, "Invalid", &format!("{} \"\" is invalid: metadata.name: Required value: name or generateName is required", r.kind), None),
    };
    object["metadata"]["name"] = json!(name);
    if let Err(response) = admit(r, &name, &mut object, state) {
        return response;
    }
    let k = key(r.name, &ns, &name);
    if q.get("dryRun").is_some_and(|v| v == "All") {
        if store.get(&k).is_some() {
            return status_error(
                409,
                "AlreadyExists",
                &format!("{} \"{name}\" already exists", r.name),
                Some((r.name, &name)),
            );
        }
        object["metadata"]["uid"] = json!(store.new_uid());
        object["metadata"]["creationTimestamp"] = json!(crate::time::now_rfc3339());
        return created_json(&object);
    }
    match store.create(k.clone(), object) {
        Ok(created) => {
            if let (true, Some(rt)) = (r.name == "pods", state.runtime()) {
                let handle: Arc<dyn crate::runtime::PodStore> =
                    Arc::new(PodStoreHandle(state.clone()));
                tokio::spawn(crate::runtime::run_pod(rt, handle, k));
            }
            if r.name == "namespaces" {
                let _ = store.create(
                    key("serviceaccounts", &name, "default"),
                    json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name}}),
                );
            }
            created_json(&created)
        }
        Err(_) => status_error(
            409,
            "AlreadyExists",
            &format!("{} \"{name}\" already exists", r.name),
            Some((r.name, &name)),
        ),
    }
}

/// Defaults for a new object: cluster IPs for services, phases for
/// namespaces and pods.
fn admit(
    r: &Resource,
    name: &str,
    object: &mut Value,
    state: &State,
) -> Result<(), Response<Body>> {
    match r.name {
        "namespaces" => {
            object["status"] = json!({"phase": "Active"});
            object["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
        }
        "pods" => {
            let spec = &mut object["spec"];
            if spec["containers"].as_array().is_none_or(|c| c.is_empty()) {
                return Err(status_error(
                    422,
                    "Invalid",
                    &format!("Pod \"{name}\" is invalid: spec.containers: Required value"),
                    Some(("pods", name)),
                ));
            }
            for (field, default) in [
                ("restartPolicy", json!("Always")),
                ("terminationGracePeriodSeconds", json!(30)),
                ("dnsPolicy", json!("ClusterFirst")),
                ("serviceAccountName", json!("default")),
                ("schedulerName", json!("default-scheduler")),
            ] {
                if spec.get(field).is_none_or(Value::is_null) {
                    spec[field] = default;
                }
            }
            object["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
        }
        "services" => {
            let spec = &mut object["spec"];
            if spec["clusterIP"].as_str().is_none_or(str::is_empty) {
                let mut next = state
                    .next_cluster_ip
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                *next += 1;
                let ip = format!("10.96.{}.{}", *next / 250, *next % 250 + 1);
                spec["clusterIP"] = json!(ip);
                spec["clusterIPs"] = json!([ip]);
            }
            if spec["type"].is_null() {
                spec["type"] = json!("ClusterIP");
            }
        }
        _ => {}
    }
    Ok(())
}

async fn update(
    state: &Arc<State>,
    req: Request<Incoming>,
    target: &Target<'_>,
    q: &HashMap<String, String>,
) -> Response<Body> {
    let (object, _) = match read_json(req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let name = target.name.clone().unwrap_or_default();
    let ns = target.namespace.clone().unwrap_or_default();
    if object["metadata"]["name"]
        .as_str()
        .is_some_and(|n| n != name)
    {
        return bad_request("the name of the object does not match the name on the URL");
    }
    let mut store = state.store();
    let k = key(target.resource.name, &ns, &name);
    let Some(current) = store.get(&k).cloned() else {
        return not_found(target.resource.name, &name);
    };
    // The status subresource changes only status; the main resource, all
    // but status (as the API server does for resources with status).
    let mut next = current.clone();
    if target.subresource == Some("status") {
        next["status"] = object["status"].clone();
    } else {
        let status = current["status"].clone();
        next = object.clone();
        next["kind"] = current["kind"].clone();
        next["apiVersion"] = json!("v1");
        next["metadata"]["namespace"] = current["metadata"]["namespace"].clone();
        if !status.is_null() {
            next["status"] = status;
        }
    }
    let expected = object["metadata"]["resourceVersion"]
        .as_str()
        .map(String::from);
    store_update(&mut store, target, k, next, expected.as_deref(), q)
}

fn store_update(
    store: &mut Store,
    target: &Target,
    k: Key,
    next: Value,
    expected_rv: Option<&str>,
    q: &HashMap<String, String>,
) -> Response<Body> {
    let name = k.name.clone();
    if q.get("dryRun").is_some_and(|v| v == "All") {
        return ok_json(&next);
    }
    match store.update(k, next, expected_rv) {
        Ok(updated) => ok_json(&updated),
        Err(StoreError::Conflict) => status_error(
            409,
            "Conflict",
            &format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                target.resource.name
            ),
            Some((target.resource.name, &name)),
        ),
        Err(_) => not_found(target.resource.name, &name),
    }
}

async fn patch_request(
    state: &Arc<State>,
    req: Request<Incoming>,
    target: &Target<'_>,
    q: &HashMap<String, String>,
) -> Response<Body> {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return bad_request(&format!("cannot read the body: {e}")),
    };
    let Ok(body) = serde_json::from_slice::<Value>(&bytes) else {
        return bad_request("the patch is not JSON");
    };
    let name = target.name.clone().unwrap_or_default();
    let ns = target.namespace.clone().unwrap_or_default();
    let mut store = state.store();
    let k = key(target.resource.name, &ns, &name);
    let Some(current) = store.get(&k).cloned() else {
        return not_found(target.resource.name, &name);
    };
    let mut next = current.clone();
    if content_type.starts_with("application/merge-patch+json") {
        patch::merge_patch(&mut next, &body);
    } else if content_type.starts_with("application/strategic-merge-patch+json") {
        patch::strategic_merge_patch(&mut next, &body);
    } else {
        return status_error(
            415,
            "UnsupportedMediaType",
            &format!("the patch type {content_type:?} is not supported"),
            None,
        );
    }
    if target.subresource == Some("status") {
        let status = next["status"].clone();
        next = current.clone();
        next["status"] = status;
    } else {
        next["status"] = current["status"].clone();
    }
    let expected = body["metadata"]["resourceVersion"]
        .as_str()
        .map(String::from);
    store_update(&mut store, target, k, next, expected.as_deref(), q)
}

fn delete(state: &Arc<State>, target: &Target, q: &HashMap<String, String>) -> Response<Body> {
    let name = target.name.clone().unwrap_or_default();
    let ns = target.namespace.clone().unwrap_or_default();
    let mut store = state.store();
    let k = key(target.resource.name, &ns, &name);
    let Some(current) = store.get(&k).cloned() else {
        return not_found(target.resource.name, &name);
    };
    if q.get("dryRun").is_some_and(|v| v == "All") {
        return ok_json(&current);
    }
    if let (true, Some(rt)) = (target.resource.name == "pods", state.runtime()) {
        if current["metadata"]["deletionTimestamp"].is_string() {
            return ok_json(&current);
        }
        let grace = q
            .get("gracePeriodSeconds")
            .and_then(|g| g.parse().ok())
            .or_else(|| current["spec"]["terminationGracePeriodSeconds"].as_i64())
            .unwrap_or(30);
        let mut terminating = current.clone();
        terminating["metadata"]["deletionTimestamp"] = json!(crate::time::now_rfc3339());
        terminating["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
        let updated = store.update(k.clone(), terminating, None);
        let uid = current["metadata"]["uid"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let handle: Arc<dyn crate::runtime::PodStore> = Arc::new(PodStoreHandle(state.clone()));
        tokio::spawn(crate::runtime::stop_pod(rt, handle, k, uid, grace));
        return match updated {
            Ok(object) => ok_json(&object),
            Err(_) => not_found("pods", &name),
        };
    }
    if target.resource.name == "namespaces" {
        let contained: Vec<Key> = resources::CORE
            .iter()
            .filter(|r| r.namespaced)
            .flat_map(|r| {
                store
                    .list(r.name, Some(&name))
                    .into_iter()
                    .map(|o| key(r.name, &name, o["metadata"]["name"].as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
            })
            .collect();
        for k in &contained {
            let _ = store.delete(k);
        }
    }
    match store.delete(&k) {
        Ok(deleted) => {
            collect_garbage(&mut store, &ns, &deleted);
            ok_json(&deleted)
        }
        Err(_) => not_found(target.resource.name, &name),
    }
}

/// The garbage collector, at once: objects in `namespace` whose
/// ownerReferences name the deleted `owner` (by uid) go with it.
fn collect_garbage(store: &mut Store, namespace: &str, owner: &Value) {
    let Some(uid) = owner["metadata"]["uid"].as_str() else {
        return;
    };
    // Dependent pods would need their containers stopped: not emulated.
    let dependents: Vec<Key> = resources::CORE
        .iter()
        .filter(|r| r.namespaced && r.name != "pods")
        .flat_map(|r| {
            store
                .list(r.name, Some(namespace))
                .into_iter()
                .filter(|o| {
                    o["metadata"]["ownerReferences"]
                        .as_array()
                        .is_some_and(|refs| refs.iter().any(|x| x["uid"] == uid))
                })
                .map(|o| {
                    key(
                        r.name,
                        namespace,
                        o["metadata"]["name"].as_str().unwrap_or(""),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    for k in dependents {
        let _ = store.delete(&k);
    }
}

/// A watch: the changes after `resourceVersion` (or every existing object
/// as ADDED first, when it is empty or "0"), then live changes, one JSON
/// object per line, until `timeoutSeconds` or the client leaves.
fn watch_response(
    state: &Arc<State>,
    target: &Target,
    q: &HashMap<String, String>,
    table: bool,
) -> Response<Body> {
    let (labels, fields) = match selectors(q) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let resource = target.resource;
    let namespace = target.namespace.clone();
    let matches = move |c: &Change| {
        c.key.resource == resource.name
            && namespace.as_ref().is_none_or(|ns| &c.key.namespace == ns)
            && labels.matches_labels(&c.object)
            && fields.matches_fields(&c.object)
    };
    let since = q.get("resourceVersion").cloned().unwrap_or_default();
    // Streaming lists (client-go's WatchList): every object as ADDED, then a
    // bookmark that marks the end of the initial events.
    let send_initial = q.get("sendInitialEvents").is_some_and(|v| v == "true");
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse().ok())
        .map_or(Duration::from_secs(1800), Duration::from_secs);

    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(256);
    let (initial, mut live, mut last_rv, expired) = {
        let store = state.store();
        let live = store.subscribe();
        match since.as_str() {
            _ if send_initial || since.is_empty() || since == "0" => {
                let initial: Vec<Change> = store
                    .list(resource.name, target.namespace.as_deref())
                    .into_iter()
                    .map(|o| Change {
                        rv: store.resource_version(),
                        kind: "ADDED",
                        key: key(
                            resource.name,
                            o["metadata"]["namespace"].as_str().unwrap_or(""),
                            o["metadata"]["name"].as_str().unwrap_or(""),
                        ),
                        object: o,
                    })
                    .collect();
                (initial, live, store.resource_version(), false)
            }
            rv => match rv.parse::<u64>() {
                Ok(rv) if rv >= store.oldest_resumable() => (
                    store.changes_since(rv),
                    live,
                    store.resource_version(),
                    false,
                ),
                _ => (Vec::new(), live, 0, true),
            },
        }
    };
    let held = Held::new(&state.open_watches);
    let mut first_table = true;
    let mut encode = move |c: &Change| -> Bytes {
        let object = if table {
            let mut t = resources::table(resource, std::slice::from_ref(&c.object), c.rv);
            if !first_table {
                t["columnDefinitions"] = json!([]);
            }
            first_table = false;
            t
        } else {
            c.object.clone()
        };
        Bytes::from(json!({"type": c.kind, "object": object}).to_string() + "\n")
    };
    tokio::spawn(async move {
        let _held = held;
        if expired {
            let gone = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {},
                "status": "Failure", "message": format!("too old resource version: {since}"), "reason": "Expired", "code": 410}});
            let _ = tx.send(Bytes::from(gone.to_string() + "\n")).await;
            return;
        }
        for c in initial.iter().filter(|c| matches(c)) {
            if tx.send(encode(c)).await.is_err() {
                return;
            }
        }
        if send_initial {
            let bookmark = json!({"type": "BOOKMARK", "object": {
                "kind": resource.kind, "apiVersion": "v1",
                "metadata": {"resourceVersion": last_rv.to_string(),
                    "annotations": {"k8s.io/initial-events-end": "true"}}}});
            if tx
                .send(Bytes::from(bookmark.to_string() + "\n"))
                .await
                .is_err()
            {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => return,
                () = tx.closed() => return,
                change = live.recv() => match change {
                    Ok(c) if c.rv > last_rv => {
                        last_rv = c.rv;
                        if matches(&c) && tx.send(encode(&c)).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    // Too slow a reader: end the watch; the client resumes.
                    Err(_) => return,
                },
            }
        }
    });
    let stream = tokio_stream(rx).map(|b| Ok::<_, Infallible>(Frame::data(b)));
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .expect("a valid response")
}

fn tokio_stream(
    mut rx: tokio::sync::mpsc::Receiver<Bytes>,
) -> impl futures_util::Stream<Item = Bytes> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Service names as the cluster DNS answers them: a running pod the
/// selector picks, else the ClusterIP.
impl crate::dns::Resolver for PodStoreHandle {
    fn service_address(&self, namespace: &str, service: &str) -> Option<std::net::Ipv4Addr> {
        let store = self.0.store();
        let svc = store.get(&key("services", namespace, service))?.clone();
        let selector = svc["spec"]["selector"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let pod_ip = (!selector.is_empty())
            .then(|| {
                store
                    .list("pods", Some(namespace))
                    .into_iter()
                    .find_map(|pod| {
                        let labels = &pod["metadata"]["labels"];
                        let picked = selector.iter().all(|(k, v)| &labels[k] == v);
                        let running = pod["status"]["phase"] == "Running"
                            && pod["metadata"]["deletionTimestamp"].is_null();
                        (picked && running)
                            .then(|| pod["status"]["podIP"].as_str()?.parse().ok())
                            .flatten()
                    })
            })
            .flatten();
        pod_ip.or_else(|| svc["spec"]["clusterIP"].as_str()?.parse().ok())
    }
}

/// The store as the pod runtime sees it.
pub struct PodStoreHandle(pub Arc<State>);

impl crate::runtime::PodStore for PodStoreHandle {
    fn get_pod(&self, key: &Key) -> Option<Value> {
        self.0.store().get(key).cloned()
    }

    fn update_pod_status(&self, key: &Key, change: &dyn Fn(&mut Value)) -> bool {
        let mut store = self.0.store();
        let Some(mut pod) = store.get(key).cloned() else {
            return false;
        };
        change(&mut pod["status"]);
        store.update(key.clone(), pod, None).is_ok()
    }

    fn bind_pod(&self, key: &Key, node: &str) -> bool {
        let mut store = self.0.store();
        let Some(mut pod) = store.get(key).cloned() else {
            return false;
        };
        pod["spec"]["nodeName"] = json!(node);
        store.update(key.clone(), pod, None).is_ok()
    }

    fn delete_pod(&self, key: &Key) {
        let mut store = self.0.store();
        if let Ok(pod) = store.delete(key) {
            collect_garbage(&mut store, &key.namespace, &pod);
        }
    }

    fn event(&self, pod: &Value, kind: &str, reason: &str, message: &str) {
        let meta = &pod["metadata"];
        let ns = meta["namespace"].as_str().unwrap_or("default").to_string();
        let mut store = self.0.store();
        let name = format!(
            "{}.{}",
            meta["name"].as_str().unwrap_or(""),
            generate_suffix(&mut store)
        );
        let now = crate::time::now_rfc3339();
        let _ = store.create(
            key("events", &ns, &name),
            json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": ns},
                "involvedObject": {"kind": "Pod", "apiVersion": "v1", "name": meta["name"], "namespace": ns, "uid": meta["uid"]},
                "reason": reason, "message": message, "type": kind, "count": 1,
                "firstTimestamp": now, "lastTimestamp": now, "source": {"component": "kubelet", "host": "emulator-node"}}),
        );
    }
}

/// The pod a streaming subresource is about, and the runtime that runs it.
fn running_pod(
    state: &Arc<State>,
    target: &Target<'_>,
) -> Result<(Value, Arc<crate::runtime::Runtime>), Response<Body>> {
    let name = target.name.clone().unwrap_or_default();
    let ns = target.namespace.clone().unwrap_or_default();
    let Some(pod) = state.store().get(&key("pods", &ns, &name)).cloned() else {
        return Err(not_found("pods", &name));
    };
    let Some(rt) = state.runtime() else {
        return Err(bad_request(
            "this emulator runs no pods (start it with pods)",
        ));
    };
    Ok((pod, rt))
}

async fn pod_log(
    state: &Arc<State>,
    target: &Target<'_>,
    q: &HashMap<String, String>,
) -> Response<Body> {
    let (pod, rt) = match running_pod(state, target) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let follow = q.get("follow").is_some_and(|v| v == "true");
    let stream = rt
        .logs(
            &pod,
            q.get("container").map(String::as_str),
            follow,
            q.get("tailLines").map(String::as_str),
        )
        .await;
    match stream {
        Ok(mut stream) => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
            tokio::spawn(async move {
                while let Some(chunk) = stream.next().await {
                    if tx.send(chunk).await.is_err() {
                        return;
                    }
                }
            });
            let body = tokio_stream(rx).map(|b| Ok::<_, Infallible>(Frame::data(b)));
            Response::builder()
                .status(StatusCode::OK)
                .header("Content-Type", "text/plain")
                .body(BodyExt::boxed(StreamBody::new(body)))
                .expect("a valid response")
        }
        Err(e) => bad_request(&format!("container is not ready: {e}")),
    }
}

fn pod_portforward(
    state: &Arc<State>,
    req: Request<Incoming>,
    target: &Target<'_>,
) -> Response<Body> {
    let (pod, _) = match running_pod(state, target) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let name = target.name.clone().unwrap_or_default();
    let phase = pod["status"]["phase"].as_str().unwrap_or("Pending");
    let ip = pod["status"]["podIP"].as_str().unwrap_or_default();
    if phase != "Running" || ip.is_empty() {
        return bad_request(&format!(
            "unable to upgrade connection: pod {name} is not running (phase {phase}); port-forward needs a running pod"
        ));
    }
    let mut ports = Vec::new();
    for (key, value) in req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.split_once('='))
    {
        if key != "ports" {
            continue;
        }
        for port in decode(value).split(',') {
            match port.trim().parse::<u16>() {
                Ok(p) if p > 0 => ports.push(p),
                _ => return bad_request(&format!("invalid port in \"ports\": {port:?}")),
            }
        }
    }
    crate::portforward::upgrade(
        req,
        Held::new(&state.open_port_forwards),
        crate::portforward::PodTarget {
            ip: ip.to_string(),
            runtime: state.runtime(),
            name,
            uid: pod["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        },
        ports,
    )
}

async fn pod_exec(
    state: &Arc<State>,
    req: Request<Incoming>,
    target: &Target<'_>,
    q: &HashMap<String, String>,
) -> Response<Body> {
    let (pod, rt) = match running_pod(state, target) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let command: Vec<String> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.split_once('='))
        .filter(|(k, _)| *k == "command")
        .map(|(_, v)| decode(v))
        .collect();
    if command.is_empty() {
        return bad_request("you must specify at least 1 command");
    }
    let container_id = match rt
        .container_id(&pod, q.get("container").map(String::as_str))
        .await
    {
        Ok(id) => id,
        Err(e) => return bad_request(&format!("unable to upgrade connection: {e}")),
    };
    let flag = |k: &str| q.get(k).is_some_and(|v| v == "true" || v == "1");
    crate::exec::upgrade(
        req,
        crate::exec::ExecRequest {
            docker: rt.docker.clone(),
            container_id,
            command,
            stdin: flag("stdin"),
            stdout: flag("stdout"),
            stderr: flag("stderr"),
        },
    )
}
