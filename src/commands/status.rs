//! `kip status NAME`: phase, age, endpoint, image and versions. Exit code:
//! 0 running and ready, 5 (not found) absent, 6 (node) present but not ready.

use super::{age, credentials};
use crate::api::ApiClient;
use crate::error::Error;
use crate::node::progress::BootstrapSummary;
use crate::output::StatusFormat;
use crate::provider::{Node, NodeInfo, NodeState, Provider};
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
}

impl crate::output::Document for Status {
    const KIND: &'static str = "ClusterStatus";
    const SCHEMA: &'static str = "cluster-status.schema.json";
}

/// Which cluster `kip status` describes, and how.
#[derive(Debug, Clone)]
pub struct StatusSettings {
    pub name: String,
    pub output: StatusFormat,
}

pub async fn run(settings: &StatusSettings, provider: &impl Provider) -> Result<()> {
    let status = collect(provider, &settings.name).await?;
    match settings.output {
        StatusFormat::Json => crate::output::json(&status)?,
        StatusFormat::Text => crate::output::out(text(&status))?,
    }
    if status.ready {
        Ok(())
    } else {
        Err(Error::NotReady {
            cluster: status.name,
            status: status.status,
        }
        .into())
    }
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
        }
    }
}

fn text(s: &Status) -> String {
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let facts: Vec<String> = s
        .node_facts
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut out = format!(
        "Name:        {}\nState:       {} ({})\nReady:       {}\nPhase:       {}\nAge:         {}\n\
         Endpoint:    {}\nImage:       {}\nNode:        {}\nSecurity:    {}\nKubernetes:  {}\nkip:         {}\n\
         Node facts:  {}\n",
        s.name,
        serde_json::to_value(s.state).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
        s.status,
        if s.ready { "yes" } else { "no" },
        or_dash(&s.phase),
        s.age,
        or_dash(&s.endpoint),
        s.image,
        s.node,
        or_dash(&s.security),
        or_dash(&s.kubernetes_version),
        or_dash(&s.kip_version),
        if facts.is_empty() { "-".into() } else { facts.join(" ") },
    );
    if let Some(expires) = &s.expires_at {
        out.push_str(&format!("Expires:     {expires}\n"));
    }
    if let Some(ci) = &s.ci {
        out.push_str(&format!("CI job:      {ci}\n"));
    }
    if let Some(failure) = &s.failure {
        out.push_str(&format!("Failure:     {failure}\n"));
    }
    out
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
        });
    }
}
