//! What kip remembers of a remote cluster on this machine: the context and
//! namespace it was made in (so that `kip down NAME` finds it after `up`
//! switched the current context), and its forwarder's pid and port. Clusters
//! themselves are found by labels on the cluster; this is only the local
//! half: one JSON file per cluster under `remote/` in kip's state folder
//! (`Environment::state_dir`).

use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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

/// The folder of remote records: `remote/` in kip's state folder.
#[derive(Debug, Clone)]
pub struct RemoteState {
    dir: PathBuf,
}

impl RemoteState {
    /// `state_dir`: kip's state folder (`Environment::state_dir`).
    pub fn new(state_dir: &Path) -> Self {
        RemoteState {
            dir: state_dir.join("remote"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn log_path(&self, cluster: &str) -> PathBuf {
        self.dir.join(format!("{cluster}.forwarder.log"))
    }

    pub fn load(&self, cluster: &str) -> Option<RemoteRecord> {
        let text = std::fs::read_to_string(self.dir.join(format!("{cluster}.json"))).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes the record atomically (a reader never sees half a file).
    pub fn save(&self, cluster: &str, record: &RemoteRecord) -> Result<()> {
        crate::kubeconfig::write_text_atomic(
            &self.dir.join(format!("{cluster}.json")),
            &serde_json::to_vec_pretty(record)?,
        )
    }

    pub fn remove(&self, cluster: &str) {
        let _ = std::fs::remove_file(self.dir.join(format!("{cluster}.json")));
        let _ = std::fs::remove_file(self.log_path(cluster));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_the_state_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let state = RemoteState::new(tmp.path());
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
        state.save("demo", &record).unwrap();
        assert_eq!(state.load("demo"), Some(record));
        assert!(tmp.path().join("remote/demo.json").is_file());
        state.remove("demo");
        assert_eq!(state.load("demo"), None);
    }
}
