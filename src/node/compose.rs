//! The parts of a [`NodePlan`](super::NodePlan) made from its options: the
//! API server certificate's names, the bootstrap's environment and the
//! node's labels.

use super::kind_config::KindConfig;
use super::ports::{self, HostPort};
use super::{labels, remote, IptablesMode, NodeOptions};
use std::collections::BTreeMap;

/// The names the API server's certificate is valid for: the loopback, the
/// node's name, in remote mode its pod IP (a placeholder the bootstrap
/// replaces at boot) and Service names, then the user's `--cert-san`s.
pub(super) fn cert_sans(opts: &NodeOptions, node_name: &str) -> Vec<String> {
    let mut sans = vec![
        "127.0.0.1".to_string(),
        "localhost".into(),
        node_name.to_string(),
    ];
    if let Some(ns) = &opts.remote_namespace {
        // The Service names serve `--endpoint service`.
        sans.push(remote::POD_IP_SAN.into());
        sans.push(format!("{node_name}.{ns}.svc"));
        sans.push(format!("{node_name}.{ns}.svc.cluster.local"));
    }
    for san in &opts.cert_sans {
        if !sans.contains(san) {
            sans.push(san.clone());
        }
    }
    sans
}

/// The environment bootstrap.sh reads (its contract: `KIP_*`).
pub(super) fn bootstrap_env(
    opts: &NodeOptions,
    kind_config: &KindConfig,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("KIP_CLUSTER".into(), opts.cluster.clone());
    env.insert("KIP_KIND_CONFIG".into(), kind_config.to_yaml());
    let iptables = match opts.iptables {
        IptablesMode::Auto => "auto",
        IptablesMode::Legacy => "legacy",
        IptablesMode::Nft => "nft",
    };
    env.insert("KIP_IPTABLES".into(), iptables.into());
    if let Some(mtu) = opts.mtu {
        env.insert("KIP_MTU".into(), mtu.to_string());
    }
    let mut dockerd_args = opts.dockerd_args.clone();
    dockerd_args.extend(opts.registries.dockerd_args());
    if !dockerd_args.is_empty() {
        env.insert("KIP_DOCKERD_ARGS".into(), dockerd_args.join(" "));
    }
    env.extend(opts.registries.bootstrap_env());
    let kind_nodes = ports::kind_node_count(kind_config);
    if kind_nodes > 1 {
        env.insert("KIP_KIND_NODES".into(), kind_nodes.to_string());
    }
    if let Some(image) = &opts.kind_image {
        env.insert("KIP_NODE_IMAGE".into(), image.clone());
    }
    if opts.stream_kind_image {
        env.insert("KIP_AWAIT_IMAGE".into(), "1".into());
    }
    for (key, value) in &opts.node_env {
        env.insert(key.clone(), value.clone());
    }
    env
}

/// kip's labels (who made the node, when, for which cluster), then the
/// TTL/CI labels, the registries' and the host ports'.
pub(super) fn node_labels(opts: &NodeOptions, host_ports: &[HostPort]) -> BTreeMap<String, String> {
    let mut node_labels = BTreeMap::from([
        (labels::MANAGED_BY.to_string(), labels::MANAGER.to_string()),
        (labels::CLUSTER.to_string(), opts.cluster.clone()),
        (labels::CREATED_AT.to_string(), opts.created_at.clone()),
        (labels::OWNER.to_string(), opts.owner.clone()),
        (
            labels::VERSION.to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ]);
    node_labels.extend(opts.extra_labels.clone());
    node_labels.extend(opts.registries.labels.clone());
    node_labels.extend(ports::labels(host_ports));
    node_labels
}
