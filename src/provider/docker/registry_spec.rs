//! A registry as a container: what `kip registry create` makes translated
//! into Docker's container spec and kip's labels, and a container read back
//! as a registry (as `spec.rs` does for nodes).

use super::registry::MANAGER;
use crate::node::labels;
use crate::registry::{self, labels as reg_labels, Registry};
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, HostConfig, Mount, MountType, PortBinding,
    RestartPolicy, RestartPolicyNameEnum,
};
use std::collections::HashMap;

/// What `kip registry create` makes.
#[derive(Debug, Clone)]
pub struct RegistrySpec {
    pub name: String,
    pub port: u16,
    pub image: String,
    /// Proxy mode: the upstream URL, the registry name it serves, and the
    /// credentials for it.
    pub proxy: Option<String>,
    pub mirror_of: Option<String>,
    pub credentials: Option<(String, String)>,
    pub created_at: String,
    pub owner: String,
}

/// A registry container as `kip registry list` shows it.
pub(super) fn registry_of(c: &ContainerInspectResponse) -> Registry {
    let config = c.config.clone().unwrap_or_default();
    let l = config.labels.unwrap_or_default();
    let port = l
        .get(reg_labels::PORT)
        .and_then(|p| p.parse().ok())
        .unwrap_or_default();
    let port_key = format!("{}/tcp", registry::CONTAINER_PORT);
    let addresses = c
        .host_config
        .as_ref()
        .and_then(|h| h.port_bindings.as_ref())
        .and_then(|b| b.get(&port_key).cloned().flatten())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|b| b.host_ip)
        .collect();
    Registry {
        name: l.get(reg_labels::REGISTRY).cloned().unwrap_or_default(),
        container: c
            .name
            .clone()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        state: c
            .state
            .as_ref()
            .and_then(|s| s.status)
            .map(|s| s.to_string())
            .unwrap_or_default(),
        host: format!("localhost:{port}"),
        port,
        addresses,
        image: config.image.unwrap_or_default(),
        proxy: l.get(reg_labels::PROXY).cloned(),
        mirror_of: l.get(reg_labels::MIRROR_OF).cloned(),
        created_at: l.get(labels::CREATED_AT).cloned(),
    }
}

/// kip's labels on the registry's volume and container: what they are, who
/// made them, and the upstream a pull-through cache mirrors.
pub(super) fn registry_labels(spec: &RegistrySpec) -> HashMap<String, String> {
    let mut object_labels = HashMap::from([
        (labels::MANAGED_BY.to_string(), MANAGER.to_string()),
        (reg_labels::REGISTRY.to_string(), spec.name.clone()),
        (reg_labels::PORT.to_string(), spec.port.to_string()),
        (labels::CREATED_AT.to_string(), spec.created_at.clone()),
        (labels::OWNER.to_string(), spec.owner.clone()),
        (
            labels::VERSION.to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ]);
    if let (Some(proxy), Some(mirror_of)) = (&spec.proxy, &spec.mirror_of) {
        object_labels.insert(reg_labels::PROXY.into(), proxy.clone());
        object_labels.insert(reg_labels::MIRROR_OF.into(), mirror_of.clone());
    }
    object_labels
}

/// The registry container: the image's own command (so any registry image
/// works), configured through the registry's environment overrides.
pub(super) fn registry_body(
    spec: &RegistrySpec,
    gateway: &str,
    object_labels: HashMap<String, String>,
) -> ContainerCreateBody {
    let mut env = Vec::new();
    if let Some(proxy) = &spec.proxy {
        env.push(format!("REGISTRY_PROXY_REMOTEURL={proxy}"));
        if let Some((user, password)) = &spec.credentials {
            env.push(format!("REGISTRY_PROXY_USERNAME={user}"));
            env.push(format!("REGISTRY_PROXY_PASSWORD={password}"));
        }
    }
    let port_key = format!("{}/tcp", registry::CONTAINER_PORT);
    let binding = |ip: &str| PortBinding {
        host_ip: Some(ip.into()),
        host_port: Some(spec.port.to_string()),
    };
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        env: Some(env),
        labels: Some(object_labels),
        exposed_ports: Some(vec![port_key.clone()]),
        host_config: Some(HostConfig {
            port_bindings: Some(HashMap::from([(
                port_key,
                Some(vec![binding("127.0.0.1"), binding(gateway)]),
            )])),
            mounts: Some(vec![Mount {
                typ: Some(MountType::VOLUME),
                source: Some(registry::volume_name(&spec.name)),
                target: Some(registry::DATA_PATH.into()),
                ..Default::default()
            }]),
            // It outlives clusters, and a reboot of the engine.
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}
