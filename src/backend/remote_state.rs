//! What kip remembers of a remote cluster on this machine: the context and
//! namespace it was made in (so that `kip down NAME` finds it after `up`
//! switched the current context), and its forwarder's pid and port. Clusters
//! themselves are found by labels on the cluster; this is only the local
//! half. `$KIP_STATE_DIR`, else `$XDG_STATE_HOME/kip`, else
//! `~/.local/state/kip`; one JSON file per cluster under `remote/`.

use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RemoteRecord {
    pub context: Option<String>,
    pub namespace: String,
    /// The kubeconfig file the target came from, when one was named.
    pub kubeconfig: Option<PathBuf>,
    /// Made through the in-cluster service account (kip ran in a Pod):
    /// later commands go there even once a kubeconfig exists.
    #[serde(default)]
    pub in_cluster: bool,
    pub forwarder: Option<ForwarderRecord>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ForwarderRecord {
    pub pid: u32,
    pub port: u16,
}

pub fn dir() -> PathBuf {
    let base = std::env::var_os("KIP_STATE_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::state_dir().map(|d| d.join("kip")))
        .or_else(|| dirs::home_dir().map(|h| h.join(".local/state/kip")))
        .unwrap_or_else(|| std::env::temp_dir().join("kip-state"));
    base.join("remote")
}

pub fn log_path(cluster: &str) -> PathBuf {
    dir().join(format!("{cluster}.forwarder.log"))
}

pub fn load(cluster: &str) -> Option<RemoteRecord> {
    load_in(&dir(), cluster)
}

pub fn save(cluster: &str, record: &RemoteRecord) -> Result<()> {
    save_in(&dir(), cluster, record)
}

pub fn remove(cluster: &str) {
    remove_in(&dir(), cluster);
}

fn load_in(dir: &std::path::Path, cluster: &str) -> Option<RemoteRecord> {
    let text = std::fs::read_to_string(dir.join(format!("{cluster}.json"))).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes the record atomically (a reader never sees half a file).
fn save_in(dir: &std::path::Path, cluster: &str, record: &RemoteRecord) -> Result<()> {
    crate::kubeconfig::write_text_atomic(
        &dir.join(format!("{cluster}.json")),
        &serde_json::to_vec_pretty(record)?,
    )
}

fn remove_in(dir: &std::path::Path, cluster: &str) {
    let _ = std::fs::remove_file(dir.join(format!("{cluster}.json")));
    let _ = std::fs::remove_file(dir.join(format!("{cluster}.forwarder.log")));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_the_state_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("remote");
        let record = RemoteRecord {
            context: Some("ci".into()),
            namespace: "builds".into(),
            kubeconfig: None,
            in_cluster: false,
            forwarder: Some(ForwarderRecord {
                pid: 42,
                port: 40000,
            }),
        };
        save_in(&dir, "demo", &record).unwrap();
        assert_eq!(load_in(&dir, "demo"), Some(record));
        remove_in(&dir, "demo");
        assert_eq!(load_in(&dir, "demo"), None);
    }
}
