//! What kip knows of a cluster (`kip status`, and the logs bundle's
//! `status.json`): its node as the provider sees it, the bootstrap's
//! markers, and whether the API server answers.

use super::access::credentials;
use crate::api::ApiClient;
use crate::node::ports::{self, HostPort};
use crate::node::progress::BootstrapSummary;
use crate::provider::{Node, NodeInfo, NodeState, Provider};
use crate::registry::labels;
use anyhow::Result;
use serde::Serialize;
use std::time::Duration;

/// What `kip status -o json` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub name: String,
    pub state: NodeState,
    pub status: String,
    pub phase: Option<String>,
    pub failure: Option<String>,
    pub ready: bool,
    pub created_at: Option<String>,
    pub age: String,
    pub endpoint: Option<String>,
    pub image: String,
    pub node: String,
    pub security: Option<String>,
    pub kip_version: Option<String>,
    pub kubernetes_version: Option<String>,
    /// What the node chose at boot: mtu, iptables, cgroup, cgroup-parent.
    pub node_facts: std::collections::BTreeMap<String, String>,
    /// When `kip gc` may delete it (from `--ttl`).
    pub expires_at: Option<String>,
    /// The CI job that made it, if kip saw one.
    pub ci: Option<String>,
    /// Ports of the user's machine published to kind nodes.
    pub ports: Vec<HostPort>,
    /// The kip registry it pulls `localhost:PORT/…` from, and its cache.
    pub registry: Option<String>,
    pub mirror: Option<String>,
}

impl crate::output::Document for Status {
    const KIND: &'static str = "ClusterStatus";
    const SCHEMA: &'static str = "cluster-status.schema.json";
}

/// Everything `kip status` knows of a cluster: its node, or what a node
/// removed behind kip's back left.
pub async fn collect(provider: &impl Provider, name: &str) -> Result<Status> {
    let Some(node) = provider.lookup(name).await? else {
        let orphan = provider
            .list()
            .await?
            .into_iter()
            .find(|n| n.cluster == name && n.state == NodeState::Orphaned);
        return match orphan {
            Some(info) => Ok(Status::new(&info, BootstrapSummary::default(), None)),
            None => Err(provider.not_found(name).await),
        };
    };
    let summary = BootstrapSummary::from_log(&node.log().await.unwrap_or_default());
    Ok(Status::new(
        node.info(),
        summary,
        kubernetes_version(&node).await,
    ))
}

/// The API server's version, when it answers (a running node only).
async fn kubernetes_version(node: &impl Node) -> Option<String> {
    let info = node.info();
    let endpoint = info.endpoint.as_ref()?;
    if info.state != NodeState::Running {
        return None;
    }
    let creds = credentials(node, endpoint).await.ok()?;
    let client = creds
        .ca_pem()
        .and_then(|ca| ApiClient::new(endpoint.clone(), &ca))
        .ok()?;
    client.version(Duration::from_secs(3)).await.ok()
}

impl Status {
    fn new(node: &NodeInfo, summary: BootstrapSummary, kubernetes_version: Option<String>) -> Self {
        Status {
            name: node.cluster.clone(),
            state: node.state,
            status: node.status.clone(),
            phase: summary.phase,
            failure: summary
                .failure
                .or_else(|| node.problem.as_ref().map(ToString::to_string)),
            ready: kubernetes_version.is_some(),
            age: age(node.created_at.as_deref()),
            created_at: node.created_at.clone(),
            endpoint: node.endpoint.as_ref().map(|e| e.server_url()),
            image: node.image.clone(),
            node: node.node.clone(),
            security: node.security.clone(),
            kip_version: node.kip_version.clone(),
            kubernetes_version,
            node_facts: summary.facts,
            expires_at: node.expires_at.clone(),
            ci: node.ci.clone(),
            ports: ports::from_label(&node.labels),
            registry: node.labels.get(labels::CLUSTER_REGISTRY).cloned(),
            mirror: node.labels.get(labels::CLUSTER_MIRROR).cloned(),
        }
    }
}

/// "3m", "2h", "5d": how long ago an RFC 3339 time was.
pub fn age(created_at: Option<&str>) -> String {
    let Some(then) = created_at.and_then(|t| humantime::parse_rfc3339(t).ok()) else {
        return "-".into();
    };
    let secs = std::time::SystemTime::now()
        .duration_since(then)
        .unwrap_or_default()
        .as_secs();
    match secs {
        0..=119 => format!("{secs}s"),
        120..=7199 => format!("{}m", secs / 60),
        7200..=172_799 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_matches_its_schema() {
        crate::output::assert_matches_schema(&Status {
            name: "a".into(),
            state: NodeState::Running,
            status: "Up".into(),
            phase: None,
            failure: None,
            ready: true,
            created_at: None,
            age: "-".into(),
            endpoint: None,
            image: "i".into(),
            node: "kip-a".into(),
            security: None,
            kip_version: None,
            kubernetes_version: None,
            node_facts: Default::default(),
            expires_at: None,
            ci: None,
            ports: vec![crate::node::ports::parse_port_flag("8080:80").unwrap()],
            registry: Some("dev".into()),
            mirror: None,
        });
    }

    #[test]
    fn ages_read_like_kubectl() {
        let ago = |secs: u64| {
            let t = std::time::SystemTime::now() - Duration::from_secs(secs);
            age(Some(&humantime::format_rfc3339_seconds(t).to_string()))
        };
        assert_eq!(ago(5), "5s");
        assert_eq!(ago(600), "10m");
        assert_eq!(ago(3 * 3600), "3h");
        assert_eq!(ago(3 * 86400), "3d");
        assert_eq!(age(None), "-");
        assert_eq!(age(Some("yesterday")), "-");
    }
}
