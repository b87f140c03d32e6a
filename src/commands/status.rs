//! `kip status NAME`: phase, age, endpoint, image and versions. Exit code:
//! 0 running and ready, 5 (not found) absent, 6 (node) present but not ready.

use super::{age, credentials};
use crate::api::ApiClient;
use crate::backend::{Backend, NodeState};
use crate::error::Failure;
use crate::node::progress::BootstrapSummary;
use crate::output::StatusFormat;
use anyhow::Result;
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    api_version: &'static str,
    kind: &'static str,
    pub name: String,
    state: NodeState,
    pub status: String,
    phase: Option<String>,
    failure: Option<String>,
    pub ready: bool,
    created_at: Option<String>,
    age: String,
    endpoint: Option<String>,
    image: String,
    node: String,
    security: Option<String>,
    kip_version: Option<String>,
    kubernetes_version: Option<String>,
    /// What the node chose at boot: mtu, iptables, cgroup, cgroup-parent.
    node_facts: std::collections::BTreeMap<String, String>,
    /// When `kip gc` may delete it (from `--ttl`).
    expires_at: Option<String>,
    /// The CI job that made it, if kip saw one.
    ci: Option<String>,
}

/// Which cluster `kip status` describes, and how.
#[derive(Debug, Clone)]
pub struct StatusSettings {
    pub name: String,
    pub output: StatusFormat,
}

pub async fn run(settings: &StatusSettings, backend: &impl Backend) -> Result<()> {
    let status = collect(backend, &settings.name).await?;
    match settings.output {
        StatusFormat::Json => crate::output::out(serde_json::to_string_pretty(&status)? + "\n")?,
        StatusFormat::Text => crate::output::out(text(&status))?,
    }
    if status.ready {
        Ok(())
    } else {
        Err(Failure::Node(format!(
            "cluster {} is not ready ({})",
            status.name, status.status
        ))
        .into())
    }
}

/// Everything `kip status` knows of a cluster.
pub async fn collect(backend: &impl Backend, name: &str) -> Result<Status> {
    let found = match backend.find(name).await? {
        Some(node) => Some(node),
        // What a node removed behind kip's back left.
        None => backend
            .list()
            .await?
            .into_iter()
            .find(|n| n.cluster == name && n.state == NodeState::Orphaned),
    };
    let Some(node) = found else {
        return Err(backend.not_found(name).await);
    };
    let summary =
        BootstrapSummary::from_log(&backend.bootstrap_log(name).await.unwrap_or_default());
    let mut kubernetes_version = None;
    if let (NodeState::Running, Some(endpoint)) = (node.state, &node.endpoint) {
        if let Ok(creds) = credentials(backend, name, endpoint).await {
            if let Ok(client) = creds
                .ca_pem()
                .and_then(|ca| ApiClient::new(endpoint.clone(), &ca))
            {
                kubernetes_version = client.version(Duration::from_secs(3)).await.ok();
            }
        }
    }
    let ready = kubernetes_version.is_some();
    let status = Status {
        api_version: "kip/v1",
        kind: "ClusterStatus",
        name: node.cluster.clone(),
        state: node.state,
        status: node.status.clone(),
        phase: summary.phase,
        failure: summary.failure.or_else(|| node.problem.clone()),
        ready,
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
    };
    Ok(status)
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
