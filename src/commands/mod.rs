//! One module per command; each takes resolved options and a backend.

pub mod connect;
pub mod doctor;
pub mod down;
pub mod exec;
pub mod gc;
pub mod kubeconfig;
pub mod list;
pub mod load;
pub mod logs;
pub mod run;
pub mod seed;
pub mod signals;
pub mod status;
pub mod up;

use crate::api::{ApiClient, ApiEndpoint};
use crate::kubeconfig::ClusterCredentials;
use crate::provider::Node;
use anyhow::{Context, Result};
use std::time::Duration;

/// The cluster's credentials, pointed at the endpoint the user reaches.
pub async fn credentials(node: &impl Node, endpoint: &ApiEndpoint) -> Result<ClusterCredentials> {
    let text = node
        .read_file(crate::node::contract::KUBECONFIG)
        .await
        .context("the cluster has no kubeconfig yet (is it still being created? see `kip logs`)")?;
    ClusterCredentials::from_kind_kubeconfig(&text, &endpoint.server_url())
}

/// Whether the API server answers `/readyz` through `endpoint` right now.
pub async fn api_ready(creds: &ClusterCredentials, endpoint: &ApiEndpoint) -> Result<bool> {
    let client = ApiClient::new(endpoint.clone(), &creds.ca_pem()?)?;
    client.ready(Duration::from_secs(3)).await
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

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// "1.5 GiB", "3.8 MiB".
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Rows as aligned columns (`kip list`, `kip seed list`).
pub fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i + 1 == N {
                    cell.clone()
                } else {
                    format!("{cell:<w$}")
                }
            })
            .collect();
        out.push_str(cells.join("   ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_docker() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(3_950_000), "3.8 MiB");
        assert_eq!(size(1_589_000_000), "1.5 GiB");
    }

    #[test]
    fn table_aligns_columns() {
        let rows = [
            ["NAME".to_string(), "AGE".into()],
            ["a-long-name".into(), "3m".into()],
        ];
        assert_eq!(table(&rows), "NAME          AGE\na-long-name   3m\n");
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
