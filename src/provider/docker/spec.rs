//! The node as a container: the plan translated into Docker's container
//! spec, and a container read back as a node.

use crate::api::ApiEndpoint;
use crate::node::{labels, NodePlan, NodeSpec, BOOTSTRAP_SCRIPT};
use crate::provider::{EngineFacts, NodeInfo, NodeState};
use bollard::models::{
    ContainerCreateBody, HostConfig, HostConfigCgroupnsModeEnum, Mount, MountType,
    MountVolumeOptions, PortBinding,
};
use std::collections::{BTreeMap, HashMap};

const API_PORT_KEY: &str = "6443/tcp";

/// The privileges a node container runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityProfile {
    Privileged,
    /// For engines that refuse privileged mode (e.g. "unable to apply caps:
    /// operation not permitted" when the VM withholds CAP_SYS_RESOURCE).
    Capabilities,
}

impl SecurityProfile {
    pub(super) fn label(self) -> &'static str {
        match self {
            SecurityProfile::Privileged => "privileged",
            SecurityProfile::Capabilities => "caps",
        }
    }
}

/// The container the plan describes, with the privileges of `profile`.
pub fn container_body(
    plan: &NodePlan,
    facts: &EngineFacts,
    profile: SecurityProfile,
) -> ContainerCreateBody {
    let node = &plan.node;
    let mut node_labels: HashMap<String, String> = node.labels.clone().into_iter().collect();
    node_labels.insert(labels::SECURITY.into(), profile.label().into());

    let mut binds: Vec<String> = node
        .read_only_host_paths
        .iter()
        .map(|p| format!("{p}:{p}:ro"))
        .collect();
    let mut tmpfs = HashMap::from([("/run".to_string(), String::new())]);
    let port_bindings = port_bindings(node);
    let mut exposed_ports: Vec<String> = port_bindings.keys().cloned().collect();
    exposed_ports.sort();
    let mut host_config = HostConfig {
        init: Some(node.init),
        mounts: Some(mounts(node)),
        port_bindings: Some(port_bindings),
        ..Default::default()
    };
    host_config.network_mode = node.network.clone();
    if facts.cgroup_v2 {
        host_config.cgroupns_mode = Some(HostConfigCgroupnsModeEnum::PRIVATE);
    }
    match profile {
        SecurityProfile::Privileged => host_config.privileged = Some(true),
        SecurityProfile::Capabilities => {
            host_config.cap_add = Some(vec!["ALL".into()]);
            host_config.cap_drop = Some(vec!["SYS_RESOURCE".into()]);
            host_config.security_opt = Some(vec![
                "seccomp=unconfined".into(),
                "apparmor=unconfined".into(),
            ]);
            // The CLI's `--security-opt systempaths=unconfined`: nothing
            // under /proc or /sys masked or read-only.
            host_config.masked_paths = Some(Vec::new());
            host_config.readonly_paths = Some(Vec::new());
            host_config.device_cgroup_rules = Some(vec!["a *:* rmw".into()]);
            if !facts.cgroup_v2 {
                // cgroup v1: the host hierarchy, read-write, so the inner
                // dockerd can nest under the node's own cgroup.
                binds.push("/sys/fs/cgroup:/sys/fs/cgroup:rw".into());
            }
            tmpfs.insert("/tmp".into(), String::new());
        }
    }
    host_config.binds = Some(binds);
    host_config.tmpfs = Some(tmpfs);

    let mut env: Vec<String> = node.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    env.sort();
    ContainerCreateBody {
        image: Some(node.image.clone()),
        hostname: Some(node.name.clone()),
        entrypoint: Some(vec![
            "sh".into(),
            "-c".into(),
            BOOTSTRAP_SCRIPT.into(),
            "kip-bootstrap".into(),
        ]),
        env: Some(env),
        labels: Some(node_labels),
        exposed_ports: Some(exposed_ports),
        host_config: Some(host_config),
        ..Default::default()
    }
}

/// The API server's port, and each host port: it reaches the kind node's
/// mapping, which listens on the same port number in this node.
/// The node's volume, and the engine's seed store when it gets one.
fn mounts(node: &NodeSpec) -> Vec<Mount> {
    let mut mounts = vec![Mount {
        typ: Some(MountType::VOLUME),
        source: Some(node.volume.name.clone()),
        target: Some(node.volume.mount_path.into()),
        ..Default::default()
    }];
    if let Some(store) = &node.seed_store {
        // Created with kip's labels if no node made it yet (or `kip gc`
        // just removed it).
        mounts.push(Mount {
            typ: Some(MountType::VOLUME),
            source: Some(store.volume.clone()),
            target: Some(store.mount_path.into()),
            volume_options: Some(MountVolumeOptions {
                labels: Some(store.labels.clone().into_iter().collect()),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    mounts
}

fn port_bindings(node: &NodeSpec) -> HashMap<String, Option<Vec<PortBinding>>> {
    let mut bindings = HashMap::from([(
        API_PORT_KEY.to_string(),
        Some(vec![PortBinding {
            host_ip: Some(node.api.host_ip.into()),
            host_port: Some(
                node.api
                    .host_port
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
            ),
        }]),
    )]);
    for port in &node.ports {
        bindings.insert(
            format!("{}/{}", port.host_port, port.protocol.as_str()),
            Some(vec![PortBinding {
                host_ip: Some(port.listen_address.clone()),
                host_port: Some(port.host_port.to_string()),
            }]),
        );
    }
    bindings
}

pub(super) fn published_endpoint(ports: &bollard::models::PortMap) -> Option<ApiEndpoint> {
    let binding = ports.get(API_PORT_KEY)?.as_ref()?.first()?;
    let port = binding.host_port.as_deref()?.parse().ok()?;
    let host = match binding.host_ip.as_deref() {
        None | Some("") | Some("0.0.0.0") => "127.0.0.1".to_string(),
        Some(ip) => ip.to_string(),
    };
    Some(ApiEndpoint { host, port })
}

/// The node `provision` just started, as a listing would show it.
pub(super) fn started_info(
    plan: &NodePlan,
    profile: SecurityProfile,
    endpoint: ApiEndpoint,
) -> NodeInfo {
    let mut labels = plan.node.labels.clone();
    labels.insert(labels::SECURITY.into(), profile.label().into());
    NodeInfo {
        cluster: plan.cluster.clone(),
        node: plan.node.name.clone(),
        state: NodeState::Running,
        status: "Up".into(),
        exit_code: None,
        created_at: labels.get(labels::CREATED_AT).cloned(),
        image: plan.node.image.clone(),
        endpoint: Some(endpoint),
        security: Some(profile.label().into()),
        kip_version: labels.get(labels::VERSION).cloned(),
        expires_at: labels.get(labels::EXPIRES_AT).cloned(),
        ci: labels::ci_description(&labels),
        labels,
        problem: None,
    }
}

pub(super) fn node_info(c: bollard::models::ContainerSummary) -> NodeInfo {
    let labels: BTreeMap<String, String> = c.labels.unwrap_or_default().into_iter().collect();
    let state_text = c.state.map(|s| s.to_string()).unwrap_or_default();
    let state = match state_text.as_str() {
        "running" => NodeState::Running,
        "created" => NodeState::Created,
        "exited" | "dead" => NodeState::Stopped,
        _ => NodeState::Other,
    };
    let status = c.status.unwrap_or_default();
    let exit_code = status
        .strip_prefix("Exited (")
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.parse().ok());
    let endpoint = c.ports.unwrap_or_default().into_iter().find_map(|p| {
        (p.private_port == 6443).then_some(())?;
        Some(ApiEndpoint {
            host: match p.ip.as_deref() {
                None | Some("") | Some("0.0.0.0") => "127.0.0.1".into(),
                Some(ip) => ip.into(),
            },
            port: p.public_port?,
        })
    });
    NodeInfo {
        cluster: labels.get(labels::CLUSTER).cloned().unwrap_or_default(),
        node: c
            .names
            .and_then(|n| n.into_iter().next())
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default(),
        state,
        status,
        exit_code,
        created_at: labels.get(labels::CREATED_AT).cloned(),
        image: c.image.unwrap_or_default(),
        endpoint,
        security: labels.get(labels::SECURITY).cloned(),
        kip_version: labels.get(labels::VERSION).cloned(),
        expires_at: labels.get(labels::EXPIRES_AT).cloned(),
        ci: labels::ci_description(&labels),
        labels,
        problem: None,
    }
}

/// Sixteen hex digits that tell one node container from another.
pub(super) fn node_run_id() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_err()
    {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = ((nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)).to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::tests::options;

    fn body_json(profile: SecurityProfile, cgroup_v2: bool) -> String {
        let plan = NodePlan::new(&options()).unwrap();
        let facts = EngineFacts {
            cgroup_v2,
            ..Default::default()
        };
        let mut body = serde_json::to_value(container_body(&plan, &facts, profile)).unwrap();
        // The script and kind config have snapshots of their own.
        body["Entrypoint"][2] = "<bootstrap.sh>".into();
        for env in body["Env"].as_array_mut().unwrap() {
            if env.as_str().unwrap().starts_with("KIP_KIND_CONFIG=") {
                *env = "KIP_KIND_CONFIG=<kind config>".into();
            }
        }
        body["Labels"]["dev.kip.version"] = "VERSION".into();
        sort_json(&mut body);
        serde_json::to_string_pretty(&body).unwrap() + "\n"
    }

    fn sort_json(v: &mut serde_json::Value) {
        if let serde_json::Value::Object(map) = v {
            let mut entries: Vec<_> = std::mem::take(map).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, mut val) in entries {
                sort_json(&mut val);
                map.insert(k, val);
            }
        }
    }

    #[test]
    fn host_ports_are_published_at_their_own_number() {
        let plan = NodePlan::new(&crate::node::NodeOptions {
            ports: vec![
                crate::node::ports::parse_port_flag("127.0.0.1:8080:80").unwrap(),
                crate::node::ports::parse_port_flag("5353:53/udp").unwrap(),
            ],
            ..options()
        })
        .unwrap();
        let body = container_body(&plan, &EngineFacts::default(), SecurityProfile::Privileged);
        let bindings = body.host_config.unwrap().port_bindings.unwrap();
        let binding = |key: &str| {
            let b = bindings[key].as_ref().unwrap()[0].clone();
            (b.host_ip.unwrap(), b.host_port.unwrap())
        };
        assert_eq!(binding("8080/tcp"), ("127.0.0.1".into(), "8080".into()));
        assert_eq!(binding("5353/udp"), ("0.0.0.0".into(), "5353".into()));
        assert_eq!(binding("6443/tcp").0, "127.0.0.1");
        assert_eq!(
            body.exposed_ports.unwrap(),
            ["5353/udp", "6443/tcp", "8080/tcp"]
        );
    }

    #[test]
    fn a_seeded_node_mounts_the_store_that_its_mount_creates_with_kips_labels() {
        let mut plan = NodePlan::new(&options()).unwrap();
        plan.node.seed_store = Some(crate::node::SeedStoreSpec {
            volume: "kip-seeds".into(),
            mount_path: "/var/lib/kip/seeds",
            labels: [("dev.kip.managed-by".to_string(), "kip".to_string())].into(),
        });
        let body = container_body(
            &plan,
            &EngineFacts::default(),
            SecurityProfile::Capabilities,
        );
        let mounts = body.host_config.unwrap().mounts.unwrap();
        let store = mounts
            .iter()
            .find(|m| m.source.as_deref() == Some("kip-seeds"))
            .expect("the store is mounted");
        assert_eq!(store.target.as_deref(), Some("/var/lib/kip/seeds"));
        assert_ne!(
            store.read_only,
            Some(true),
            "the bootstrap takes its claims there"
        );
        let labels = store
            .volume_options
            .as_ref()
            .and_then(|o| o.labels.as_ref())
            .unwrap();
        assert_eq!(labels["dev.kip.managed-by"], "kip");
    }

    #[test]
    fn node_spec_snapshots() {
        crate::testing::assert_snapshot(
            "docker_node_caps_v1.json",
            &body_json(SecurityProfile::Capabilities, false),
        );
        crate::testing::assert_snapshot(
            "docker_node_privileged_v2.json",
            &body_json(SecurityProfile::Privileged, true),
        );
    }
}
