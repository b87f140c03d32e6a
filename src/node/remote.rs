//! The node plan rendered for a Kubernetes cluster: a ConfigMap (bootstrap
//! script and kind config), the privileged node Pod, and for `--endpoint
//! service` a ClusterIP Service. Pure data; `kip up --remote --dry-run`
//! prints it and the Kubernetes provider creates exactly this.

use super::kind_config::NODE_API_PORT;
use super::pod_options::{EndpointMode, PodOptions};
use super::{labels, NodePlan, DOCKER_ROOT};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub use super::contract::POD_IP_SAN;
/// Where the ConfigMap is mounted in the node.
pub const CONFIG_DIR: &str = super::contract::INPUT_DIR;
/// The annotation that records the endpoint mode on the Pod.
pub const ENDPOINT_ANNOTATION: &str = "dev.kip.endpoint";
/// The container that runs the node.
pub const CONTAINER: &str = "node";
/// The Pod's volume of the outer node's seed store.
pub const SEED_VOLUME: &str = "kip-seeds";

/// Label values must be at most 63 characters of `[A-Za-z0-9._-]`, starting
/// and ending with an alphanumeric; everything else becomes `_` (exact values
/// are kept in annotations).
pub fn label_value(value: &str) -> String {
    let mut v: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(63)
        .collect();
    while v.ends_with(|c: char| !c.is_ascii_alphanumeric()) {
        v.pop();
    }
    while v.starts_with(|c: char| !c.is_ascii_alphanumeric()) {
        v.remove(0);
    }
    v
}

/// Labels (for selectors: managed-by, cluster, owner, created-at, ttl, the
/// user's `--label`s) and annotations (every plan label with its exact value).
pub fn metadata(plan: &NodePlan) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut selectable = BTreeMap::new();
    for (key, value) in &plan.node.labels {
        let kip_own = key.starts_with("dev.kip.");
        let wanted = [
            labels::MANAGED_BY,
            labels::CLUSTER,
            labels::OWNER,
            labels::CREATED_AT,
            labels::TTL,
            labels::VERSION,
        ]
        .contains(&key.as_str());
        if wanted || (!kip_own && !key.starts_with("dev.kip.ci.")) {
            selectable.insert(key.clone(), label_value(value));
        }
    }
    (selectable, plan.node.labels.clone())
}

pub fn config_map(plan: &NodePlan, namespace: &str) -> Value {
    let (labels, annotations) = metadata(plan);
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": plan.node.name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "data": {
            "bootstrap.sh": plan.bootstrap_script,
            "kind.yaml": plan.kind_config.to_yaml(),
        },
    })
}

pub fn pod(plan: &NodePlan, namespace: &str, opts: &PodOptions, endpoint: EndpointMode) -> Value {
    let (labels, mut annotations) = metadata(plan);
    annotations.extend(opts.annotations.iter().cloned());
    annotations.insert(
        ENDPOINT_ANNOTATION.into(),
        serde_json::to_value(endpoint)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
    );
    let (mounts, volumes) = pod_volumes(plan);
    let mut spec = json!({
        "restartPolicy": "Never",
        "automountServiceAccountToken": false,
        "enableServiceLinks": false,
        "dnsPolicy": "Default",
        "terminationGracePeriodSeconds": 30,
        "containers": [node_container(plan, opts, mounts)],
        "volumes": volumes,
    });
    schedule(&mut spec, opts);
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": plan.node.name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": spec,
    })
}

/// The node container: the DinD image running the bootstrap, privileged,
/// Ready once the API server inside answers.
fn node_container(plan: &NodePlan, opts: &PodOptions, mounts: Vec<Value>) -> Value {
    // The API server's own health endpoint, which answers anonymous
    // requests: Ready means kubectl can talk to the cluster.
    let probe = |failures: u32| {
        json!({
            "httpGet": {"path": "/readyz", "port": NODE_API_PORT, "scheme": "HTTPS"},
            "periodSeconds": 1,
            "timeoutSeconds": 1,
            "failureThreshold": failures,
        })
    };
    json!({
        "name": CONTAINER,
        "image": plan.node.image,
        // tini (docker-init in docker:dind) as PID 1: signals reach the
        // bootstrap, whose TERM trap removes the nested containers.
        "command": ["sh", "-c", "exec \"$(command -v docker-init || command -v tini)\" -- sh \"$0\"",
                    format!("{CONFIG_DIR}/bootstrap.sh")],
        "env": member_env(plan, pod_env(plan)),
        "ports": [{"name": "api", "containerPort": NODE_API_PORT}],
        "securityContext": {"privileged": true},
        "resources": {
            "requests": {"cpu": opts.cpu, "memory": opts.memory},
            "limits": {"memory": opts.memory_limit},
        },
        "volumeMounts": mounts,
        // 15 minutes for kind to create the cluster, then Ready within
        // a second of /readyz answering.
        "startupProbe": startup_probe(plan, probe(900)),
        "readinessProbe": probe(3),
    })
}

/// A remote pool's member marks its cluster made only once every kind
/// node is Ready (its bootstrap waits for them): a claim then waits for
/// nothing.
fn member_env(plan: &NodePlan, mut env: Vec<Value>) -> Vec<Value> {
    if plan
        .node
        .labels
        .contains_key(crate::pool::member::POOL_LABEL)
    {
        env.push(json!({"name": "KIP_MARK_AFTER_NODES", "value": "1"}));
    }
    env
}

/// A remote pool's member is Ready only once its cluster is made whole
/// (the API server answers a moment before `kind create` ends and writes
/// the kubeconfig a claim reads): its startup probe waits for the
/// bootstrap's mark. Any other node: `http`, the API server's.
fn startup_probe(plan: &NodePlan, http: Value) -> Value {
    if !plan
        .node
        .labels
        .contains_key(crate::pool::member::POOL_LABEL)
    {
        return http;
    }
    json!({
        "exec": {"command": ["test", "-e", super::contract::CLUSTER_CREATED]},
        "periodSeconds": 1,
        "timeoutSeconds": 1,
        "failureThreshold": 900,
    })
}

/// The node container's environment: the plan's, with the kind config
/// read from the ConfigMap and the API server on the pod IP.
fn pod_env(plan: &NodePlan) -> Vec<Value> {
    let mut env: Vec<Value> = plan
        .node
        .env
        .iter()
        .filter(|(k, _)| k.as_str() != "KIP_KIND_CONFIG")
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    env.push(json!({"name": "KIP_KIND_CONFIG_FILE", "value": super::contract::KIND_CONFIG_INPUT}));
    env.push(json!({"name": "API_SERVER_ADDRESS", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}));
    env
}

/// The node container's mounts and the Pod's volumes: its Docker root,
/// the bootstrap's ConfigMap, the read-only host paths and the seed store.
fn pod_volumes(plan: &NodePlan) -> (Vec<Value>, Vec<Value>) {
    let mut mounts = vec![
        json!({"name": "docker", "mountPath": DOCKER_ROOT}),
        json!({"name": "bootstrap", "mountPath": CONFIG_DIR, "readOnly": true}),
    ];
    let mut volumes = vec![
        json!({"name": "docker", "emptyDir": {}}),
        json!({"name": "bootstrap", "configMap": {"name": plan.node.name, "defaultMode": 0o555}}),
    ];
    for (i, path) in plan.node.read_only_host_paths.iter().enumerate() {
        let name = format!("host-{i}");
        mounts.push(json!({"name": name, "mountPath": path, "readOnly": true}));
        volumes.push(json!({"name": name, "hostPath": {"path": path, "type": "Directory"}}));
    }
    // The outer node's seed store (`crate::seed`): the node Pods on one
    // outer node share it, the first there makes a seed.
    if let Some(store) = &plan.node.seed_store {
        mounts.push(json!({"name": SEED_VOLUME, "mountPath": store.mount_path}));
        volumes.push(json!({"name": SEED_VOLUME, "hostPath": {"path": store.mount_path, "type": "DirectoryOrCreate"}}));
    }
    (mounts, volumes)
}

/// Where and how the Pod is scheduled and pulled, from `--pod-*` options.
fn schedule(spec: &mut Value, opts: &PodOptions) {
    if !opts.node_selectors.is_empty() {
        let selectors: BTreeMap<_, _> = opts.node_selectors.iter().cloned().collect();
        spec["nodeSelector"] = json!(selectors);
    }
    if !opts.tolerations.is_empty() {
        spec["tolerations"] = json!(opts.tolerations);
    }
    if let Some(class) = &opts.priority_class {
        spec["priorityClassName"] = json!(class);
    }
    if !opts.image_pull_secrets.is_empty() {
        spec["imagePullSecrets"] = opts
            .image_pull_secrets
            .iter()
            .map(|name| json!({"name": name}))
            .collect();
    }
}

pub fn service(plan: &NodePlan, namespace: &str) -> Value {
    let (labels, annotations) = metadata(plan);
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": plan.node.name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": {
            "type": "ClusterIP",
            "selector": {labels::MANAGED_BY: labels::MANAGER, labels::CLUSTER: plan.cluster},
            "ports": [{"name": "api", "port": NODE_API_PORT, "targetPort": NODE_API_PORT}],
        },
    })
}

/// The objects as one YAML stream, as `kubectl apply -f -` takes them.
pub fn to_yaml(objects: &[Value]) -> String {
    objects
        .iter()
        .map(|o| serde_yaml::to_string(o).expect("JSON values always serialize"))
        .collect::<Vec<_>>()
        .join("---\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::pod_options::Toleration;

    fn plan() -> NodePlan {
        let mut options = crate::node::tests::options();
        options.remote_namespace = Some("ci".into());
        options
            .extra_labels
            .insert("dev.kip.ci.github.repository".into(), "owner/repo".into());
        options
            .extra_labels
            .insert("team".into(), "payments".into());
        NodePlan::new(&options).unwrap()
    }

    #[test]
    fn manifests_snapshot() {
        let opts = PodOptions {
            endpoint: None,
            node_selectors: vec![("pool".into(), "ci".into())],
            tolerations: vec![Toleration {
                key: "dedicated".into(),
                operator: "Equal".into(),
                value: Some("ci".into()),
                effect: "NoSchedule".into(),
            }],
            priority_class: Some("ci-low".into()),
            image_pull_secrets: vec!["regcred".into()],
            annotations: vec![("example.com/team".into(), "payments".into())],
            cpu: "1".into(),
            memory: "2Gi".into(),
            memory_limit: "8Gi".into(),
        };
        let plan = plan();
        let mut cm = config_map(&plan, "ci");
        // The script has a test of its own.
        cm["data"]["bootstrap.sh"] = "<bootstrap.sh>".into();
        let yaml = to_yaml(&[
            cm,
            pod(&plan, "ci", &opts, EndpointMode::Forwarded),
            service(&plan, "ci"),
        ]);
        let yaml = yaml.replace(env!("CARGO_PKG_VERSION"), "VERSION");
        crate::testing::assert_snapshot("remote_manifests.yaml", &yaml);
    }

    #[test]
    fn a_pool_members_startup_waits_for_its_cluster_to_be_made() {
        let opts = PodOptions::default();
        let node = pod(&plan(), "ci", &opts, EndpointMode::Forwarded);
        let probe = &node["spec"]["containers"][0]["startupProbe"];
        assert_eq!(probe["httpGet"]["path"], "/readyz", "{probe}");
        let mut member = plan();
        member
            .node
            .labels
            .insert(crate::pool::member::POOL_LABEL.into(), "ci".into());
        let node = pod(&member, "ci", &opts, EndpointMode::Forwarded);
        let container = &node["spec"]["containers"][0];
        assert_eq!(
            container["startupProbe"]["exec"]["command"],
            json!(["test", "-e", "/etc/kip/cluster-created"])
        );
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
        assert!(
            container["env"]
                .as_array()
                .unwrap()
                .contains(&json!({"name": "KIP_MARK_AFTER_NODES", "value": "1"})),
            "{container}"
        );
    }

    #[test]
    fn a_seeded_node_pod_mounts_the_outer_nodes_seed_store() {
        let opts = PodOptions::default();
        let unseeded = pod(&plan(), "ci", &opts, EndpointMode::Forwarded);
        let volumes = |pod: &Value| pod["spec"]["volumes"].as_array().unwrap().clone();
        assert!(volumes(&unseeded).iter().all(|v| v["name"] != SEED_VOLUME));
        let mut plan = plan();
        plan.node.seed_store = Some(crate::node::SeedStoreSpec {
            volume: "kip-seeds".into(),
            mount_path: crate::node::contract::SEED_STORE,
            labels: BTreeMap::new(),
        });
        let seeded = pod(&plan, "ci", &opts, EndpointMode::Forwarded);
        let volume = volumes(&seeded)
            .into_iter()
            .find(|v| v["name"] == SEED_VOLUME)
            .expect("a seed store volume");
        assert_eq!(
            volume["hostPath"],
            json!({"path": "/var/lib/kip/seeds", "type": "DirectoryOrCreate"})
        );
        let mounts = &seeded["spec"]["containers"][0]["volumeMounts"];
        assert!(
            mounts
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["name"] == SEED_VOLUME
                    && m["mountPath"] == "/var/lib/kip/seeds"
                    && m.get("readOnly").is_none()),
            "{mounts}"
        );
    }

    #[test]
    fn label_values_are_valid_and_exact_values_are_annotations() {
        assert_eq!(label_value("dev@laptop"), "dev_laptop");
        assert_eq!(label_value("2026-01-02T03:04:05Z"), "2026-01-02T03_04_05Z");
        assert_eq!(label_value("-x-"), "x");
        assert_eq!(label_value(&"a".repeat(80)).len(), 63);
        let (labels, annotations) = metadata(&plan());
        assert_eq!(labels[labels::OWNER], "dev_laptop");
        assert_eq!(annotations[labels::OWNER], "dev@laptop");
        assert_eq!(labels["team"], "payments");
        assert!(!labels.contains_key("dev.kip.ci.github.repository"));
        assert_eq!(annotations["dev.kip.ci.github.repository"], "owner/repo");
    }

    #[test]
    fn the_pod_ip_placeholder_is_a_san() {
        let plan = plan();
        let patch = plan.kind_config.kubeadm_config_patches.join("\n");
        assert!(patch.contains(&format!("- {POD_IP_SAN}\n")), "{patch}");
        assert!(patch.contains("- kip-demo.ci.svc\n"), "{patch}");
    }
}
