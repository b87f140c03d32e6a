//! `kip list`: every kip cluster on this engine, as a table or JSON.

use super::{age, table};
use crate::backend::{Backend, NodeInfo, NodeState};
use crate::output::OutputFormat;
use anyhow::Result;
use serde::Serialize;

/// One row of `kip list -o json` (schema version 1, see README).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSummary<'a> {
    pub name: &'a str,
    pub state: crate::backend::NodeState,
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
    backend: &impl Backend,
    printer: &crate::output::Printer,
) -> Result<()> {
    let nodes = backend.list().await?;
    match settings.output {
        OutputFormat::Json => {
            let rows: Vec<ClusterSummary> = nodes.iter().map(ClusterSummary::from).collect();
            let doc =
                serde_json::json!({ "apiVersion": "kip/v1", "kind": "ClusterList", "items": rows });
            crate::output::out(serde_json::to_string_pretty(&doc)? + "\n")?;
        }
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
                    serde_json::to_value(n.state)?
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    age(n.created_at.as_deref()),
                    expires_in(n.expires_at.as_deref()),
                    n.endpoint
                        .as_ref()
                        .map_or_else(|| "-".into(), |e| e.server_url()),
                    n.ci.clone().unwrap_or_else(|| "-".into()),
                    n.image.clone(),
                ]);
            }
            crate::output::out(table(&rows))?;
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
