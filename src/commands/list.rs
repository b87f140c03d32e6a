//! `kip list`: every kip cluster on this engine, as a table or JSON. A
//! running node whose kind node inside is stopped is told as `kip status`
//! tells it (in its status, and `kind-stopped` in the table's STATE).

use crate::cluster::condition::with_stopped_kind_nodes;
use crate::cluster::status::age;
use crate::error::Error;
use crate::output::OutputFormat;
use crate::provider::{NodeInfo, NodeState, Provider};
use anyhow::Result;
use serde::Serialize;

/// What `kip list -o json` prints.
#[derive(Debug, Serialize)]
struct ClusterList<'a> {
    items: Vec<ClusterSummary<'a>>,
}

impl crate::output::Document for ClusterList<'_> {
    const KIND: &'static str = "ClusterList";
    const SCHEMA: &'static str = "cluster-list.schema.json";
}

/// One row of `kip list -o json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSummary<'a> {
    pub name: &'a str,
    pub state: NodeState,
    pub status: &'a str,
    pub created_at: Option<&'a str>,
    pub endpoint: Option<String>,
    pub image: &'a str,
    pub node: &'a str,
    pub security: Option<&'a str>,
    pub kip_version: Option<&'a str>,
    pub expires_at: Option<&'a str>,
    pub ci: Option<&'a str>,
}

impl<'a> From<&'a NodeInfo> for ClusterSummary<'a> {
    fn from(n: &'a NodeInfo) -> Self {
        ClusterSummary {
            name: &n.cluster,
            state: n.state,
            status: &n.status,
            created_at: n.created_at.as_deref(),
            endpoint: n.endpoint.as_ref().map(|e| e.server_url()),
            image: &n.image,
            node: &n.node,
            security: n.security.as_deref(),
            kip_version: n.kip_version.as_deref(),
            expires_at: n.expires_at.as_deref(),
            ci: n.ci.as_deref(),
        }
    }
}

/// How `kip list` prints.
#[derive(Debug, Clone)]
pub struct ListSettings {
    pub output: OutputFormat,
}

pub async fn run(
    settings: &ListSettings,
    provider: &impl Provider,
    printer: &crate::output::Printer,
) -> Result<()> {
    let mut nodes = provider.list().await?;
    // A remote node is asked through the cluster's API (an exec each, with
    // rights a lister may not have): there `status` tells it.
    if provider.info().remote.is_none() {
        with_stopped_kind_nodes(provider, &mut nodes).await;
    }
    match settings.output {
        OutputFormat::Json => crate::output::json(&ClusterList {
            items: nodes.iter().map(ClusterSummary::from).collect(),
        })?,
        OutputFormat::Table => {
            let mut rows = vec![[
                "NAME".to_string(),
                "STATE".into(),
                "AGE".into(),
                "EXPIRES".into(),
                "ENDPOINT".into(),
                "CI".into(),
                "IMAGE".into(),
            ]];
            for n in &nodes {
                rows.push([
                    n.cluster.clone(),
                    state_cell(n)?,
                    age(n.created_at.as_deref()),
                    expires_in(n.expires_at.as_deref()),
                    n.endpoint
                        .as_ref()
                        .map_or_else(|| "-".into(), |e| e.server_url()),
                    n.ci.clone().unwrap_or_else(|| "-".into()),
                    n.image.clone(),
                ]);
            }
            crate::output::out(crate::output::table(&rows))?;
            for problem in nodes.iter().filter_map(|n| n.problem.as_ref()) {
                if matches!(problem, Error::KindNodesStopped { .. }) {
                    printer.notice(&problem.to_string());
                }
            }
            if nodes.iter().any(|n| n.state == NodeState::Orphaned) {
                printer.notice(
                    "orphaned: the node container was removed outside kip and its volume is left; \
                     `kip gc` (or `kip down NAME`) removes it and its kubeconfig entries",
                );
            }
        }
    }
    Ok(())
}

/// The table's STATE: the node's, or `kind-stopped` for a running node
/// whose kind node inside is stopped (its API server cannot answer).
fn state_cell(n: &NodeInfo) -> Result<String> {
    if matches!(n.problem, Some(Error::KindNodesStopped { .. })) {
        return Ok("kind-stopped".into());
    }
    Ok(serde_json::to_value(n.state)?
        .as_str()
        .unwrap_or("")
        .to_string())
}

/// "in 55m", "expired", or "-" without a TTL.
fn expires_in(expires_at: Option<&str>) -> String {
    let Some(at) = expires_at.and_then(|t| humantime::parse_rfc3339_weak(t).ok()) else {
        return "-".into();
    };
    match at.duration_since(std::time::SystemTime::now()) {
        Ok(left) => format!(
            "in {}",
            humantime::format_duration(
                std::time::Duration::from_secs(left.as_secs() / 60 * 60)
                    .max(std::time::Duration::from_secs(60))
            )
        ),
        Err(_) => "expired".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_list_matches_its_schema() {
        crate::output::assert_matches_schema(&super::ClusterList { items: Vec::new() });
    }
}
