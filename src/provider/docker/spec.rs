//! The node as a container: the plan translated into Docker's container
//! spec, and a container read back as a node.

use crate::api::ApiEndpoint;
use crate::node::contract::{INPUT_DIR, KIND_CONFIG_INPUT};
use crate::node::{labels, NodePlan, NodeSpec, BOOTSTRAP_SCRIPT};
use crate::pool::member::POOL_LABEL;
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
    let port_bindings = port_bindings(node);
    let mut exposed_ports: Vec<String> = port_bindings.keys().cloned().collect();
    exposed_ports.sort();
    let mut host_config = HostConfig {
        init: Some(node.init),
        mounts: Some(mounts(node)),
        port_bindings: Some(port_bindings),
        network_mode: node.network.clone(),
        binds: Some(binds(node)),
        tmpfs: Some(HashMap::from([("/run".to_string(), String::new())])),
        ..Default::default()
    };
    if facts.cgroup_v2 {
        host_config.cgroupns_mode = Some(HostConfigCgroupnsModeEnum::PRIVATE);
    }
    grant(&mut host_config, profile, facts);
    ContainerCreateBody {
        image: Some(node.image.clone()),
        hostname: Some(node.name.clone()),
        entrypoint: Some(vec![
            "sh".into(),
            "-c".into(),
            BOOTSTRAP_SCRIPT.into(),
            "kip-bootstrap".into(),
        ]),
        env: Some(env(node)),
        labels: Some(node_labels),
        exposed_ports: Some(exposed_ports),
        host_config: Some(host_config),
        ..Default::default()
    }
}

/// The host paths the node sees: those it reads, and kind's `extraMounts`
/// of this node (the host's path, the same in the node).
fn binds(node: &NodeSpec) -> Vec<String> {
    let mut binds: Vec<String> = node
        .read_only_host_paths
        .iter()
        .map(|p| format!("{p}:{p}:ro"))
        .collect();
    binds.extend(node.host_mounts.iter().map(|m| {
        let mode = if m.read_only { ":ro" } else { "" };
        format!("{0}:{0}{mode}", m.path)
    }));
    binds
}

/// The privileges of `profile`, given to the container.
fn grant(host_config: &mut HostConfig, profile: SecurityProfile, facts: &EngineFacts) {
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
                host_config
                    .binds
                    .get_or_insert_with(Vec::new)
                    .push("/sys/fs/cgroup:/sys/fs/cgroup:rw".into());
            }
            host_config
                .tmpfs
                .get_or_insert_with(HashMap::new)
                .insert("/tmp".into(), String::new());
        }
    }
}

/// The node's environment, sorted. The kind config goes in a file
/// (`input_archive`): one environment variable holds at most 128 KiB, and
/// the node's init could not start.
fn env(node: &NodeSpec) -> Vec<String> {
    let mut env: Vec<String> = node
        .env
        .iter()
        .filter(|(k, _)| k.as_str() != "KIP_KIND_CONFIG")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    env.push(format!("KIP_KIND_CONFIG_FILE={KIND_CONFIG_INPUT}"));
    env.sort();
    env
}

/// The bootstrap's input files, as an archive to unpack at `/` in the node
/// container before it starts: the kind config, at [`KIND_CONFIG_INPUT`].
pub(super) fn input_archive(plan: &NodePlan) -> std::io::Result<Vec<u8>> {
    let config = plan.kind_config.to_yaml();
    let mut builder = tar::Builder::new(Vec::new());
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_size(0);
    dir.set_cksum();
    let input_dir = INPUT_DIR.trim_start_matches('/');
    builder.append_data(&mut dir, format!("{input_dir}/"), std::io::empty())?;
    let mut file = tar::Header::new_gnu();
    file.set_mode(0o644);
    file.set_size(config.len() as u64);
    file.set_cksum();
    let path = KIND_CONFIG_INPUT.trim_start_matches('/');
    builder.append_data(&mut file, path, config.as_bytes())?;
    builder.into_inner()
}

/// The node's volume, and the engine's seed store when it gets one.
fn mounts(node: &NodeSpec) -> Vec<Mount> {
    // The node's volume is made with the container, in one request, with
    // kip's labels: there is no moment when it is there without its node
    // (a `down` then would take it, and the engine make it again without
    // the labels), and while the node is there it cannot be removed.
    let mut mounts = vec![Mount {
        typ: Some(MountType::VOLUME),
        source: Some(node.volume.name.clone()),
        target: Some(node.volume.mount_path.into()),
        volume_options: Some(MountVolumeOptions {
            labels: Some(node.labels.clone().into_iter().collect()),
            ..Default::default()
        }),
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

/// The API server's port, and each host port: it reaches the kind node's
/// mapping, which listens on the same port number in this node.
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
        inner: plan.cluster.clone(),
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
    let node = c
        .names
        .and_then(|n| n.into_iter().next())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default();
    let inner = labels.get(labels::CLUSTER).cloned().unwrap_or_default();
    NodeInfo {
        cluster: claimed_as(&labels, &node).unwrap_or_else(|| inner.clone()),
        inner,
        node,
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

/// The cluster a container born in a pool became: a member claimed as NAME
/// is renamed `kip-NAME` (its labels, fixed when it was made, still name
/// the member).
pub(super) fn claimed_as(labels: &BTreeMap<String, String>, container: &str) -> Option<String> {
    labels.get(POOL_LABEL)?;
    container
        .strip_prefix("kip-")
        .filter(|name| crate::names::parse_cluster_name(name).is_ok())
        .map(String::from)
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
mod tests;
