//! Snapshots (issue 19): a ready cluster saved whole (its node's Docker
//! store: the kind node, its etcd, its images, its local-path volumes) and
//! new clusters started from it, offline, where it left off.
//!
//! DESIGN
//! - A snapshot is a Docker volume `kip-snap-NAME` with kip's labels: the
//!   node's data root under `data/` and the metadata document
//!   `snapshot.json` ([`Metadata`]) beside it, written last: a volume
//!   without it is a save that did not finish (listed as incomplete,
//!   removed by `snapshot rm`). Volumes, not files on the user's machine:
//!   the engine may be remote, and a volume is copied by the engine's own
//!   file system (reflink where it has one) without a trip through kip.
//! - Save: the node is frozen (`docker pause`, the cgroup freezer) only
//!   while a helper container copies its volume, so the copy is
//!   crash-consistent, as a power cut (which a kind node survives: etcd
//!   and the kubelet recover as on a host reboot); `--stop` stops it
//!   cleanly first (its bootstrap stops the kind node) and starts it
//!   again. The helper sees the volume, not the node's mounts: the seed's
//!   layers, bind-mounted read-only in the node, are empty directories
//!   there and are not copied (item 5); the snapshot records the seed, and
//!   a restore mounts it again (its bootstrap's "remount").
//! - The copy: `cp -a` in the helper (GNU cp keeps overlay2's
//!   `trusted.overlay.*` xattrs and whiteout devices as root with
//!   CAP_SYS_ADMIN, keeps sockets, and since coreutils 9 reflinks by
//!   itself where the file system can), chosen over a `tar --xattrs | tar`
//!   pipe by measurement: the data root of a seeded real-kind node (1.48 GB,
//!   12.9k files; the kind node's `/var` volume holds containerd's images),
//!   the node paused, the two interleaved on this engine (overlay2 on ext4,
//!   one run, 2 rounds): `cp -a` 4.9 s and 8.9 s, the tar pipe 12.6 s and
//!   9.7 s (and tar drops the kubelet's sockets); ext4 has no reflinks.
//!   Hard links only for what is never written in place: the kind node's
//!   containerd content store (blobs named by their digest; containerd
//!   writes a new one beside and renames it in, and a removal unlinks),
//!   about half of a snapshot (626 MiB of 1.3 GiB: the test image's
//!   preloaded images, plus every image `kip load` brought in). Etcd's, Docker's and
//!   containerd's bolt files are written in place and are copied, as is
//!   the rest (`copy.sh`). `link(2)` fails between two mounts, even of one
//!   volume, so the helper also mounts the engine's volumes folder
//!   (`DockerProvider::volumes_folder`: a local volume's parent folder;
//!   not on Docker Desktop, which looks a bind mount's source up on the
//!   user's machine) and links there once it has checked, by device and
//!   inode, that it sees the two volumes it mounted; otherwise it copies
//!   everything. Save, restore and the source share those files: a clone
//!   that removes an image unlinks its own names only. Measured with
//!   `bench/snapshot_up.py` (BENCHMARKS.md "Snapshots").
//! - Restore (`kip up NEW --from SNAPSHOT`) is the cluster layer's
//!   `restore` recipe: the checks refuse a snapshot this engine cannot run
//!   (exit 3, before anything is made), the new node's volume is a copy of
//!   the snapshot's data root marked `.kip-restore` (the copy's last
//!   write), and the node's bootstrap keeps it and restarts the kind node
//!   in it, as on a restart. The node is started while the helper copies
//!   (`KIP_RESTORE=1`: its bootstrap waits for the mark before it touches
//!   the volume), so its start and boot until then cost nothing.
//!   The inner kind cluster keeps the name it was made under (recorded,
//!   and carried by the node's `dev.kip.kind-cluster` label, which
//!   `NodeInfo::kind_cluster` reads for `kip load` and `kip logs`).
//! - Identity is cloned: every restore of one snapshot shares its cluster
//!   CA, service-account keys and admin credentials (README "Snapshots").
//! - Export/import (`transfer`, `archive`): one gzip'd tar, kip's metadata
//!   entry first, then the helper's tar of the volume and of the seed's
//!   layers (an imported snapshot mounts no seed). A snapshot volume
//!   carries its seed's label: seeds count it as a user (`crate::seed`).
//! - Remote mode (item 6): `kip snapshot save --remote` streams a remote
//!   node out into a local snapshot (`remote_save`); snapshots live on the
//!   local engine, and `kip up --remote --from` streams one into a new
//!   node Pod (`remote_restore`, `cluster::steps::restore_remote`).
//!   A seam for `kip pool create --from SNAPSHOT`: [`find`] and the
//!   `restore` recipe are all a pool needs.
//!
//! Measured (this engine, overlay2 on ext4, a seeded real-kind node with a
//! small workload, 1.44 GiB, the release build): `up --from` to the
//! workload answering in 10.0 s (median) against 30.8 s for a fresh `up`
//! plus its install (0.32×) on a quiet machine, at most 14.2 s (0.47×)
//! beside a CI run; a save freezes the source 1.3–5.7 s, by the load. Most
//! of a restore is the kind control plane's own restart, then the copy:
//! BENCHMARKS.md "Snapshots".

pub mod archive;
pub mod cert;
pub mod check;
pub mod collect;
pub mod export;
pub mod import;
pub mod remote_restore;
pub mod remote_save;
pub mod report;
pub mod save;
pub mod transfer;
pub mod volume;

use crate::error::Error;
use crate::node::labels;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The label every snapshot volume carries: the snapshot's name.
pub const LABEL: &str = "dev.kip.snapshot";
/// The label of a snapshot's source cluster.
pub const SOURCE_LABEL: &str = "dev.kip.snapshot-source";

/// The volume of snapshot `name`.
pub fn volume_name(name: &str) -> String {
    format!("kip-snap-{name}")
}

/// A snapshot name: a cluster name's rules (it names a volume), and not
/// ending in `-docker`, which would be a node volume's name.
pub fn parse_name(name: &str) -> Result<String, String> {
    let name = crate::names::parse_cluster_name(name)?;
    if name.ends_with("-docker") {
        return Err(format!(
            "{name:?} ends in \"-docker\", which kip keeps for node volumes: pick another snapshot name"
        ));
    }
    Ok(name)
}

/// What a snapshot is: what a restore checks and what a user sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub name: String,
    /// The cluster it was saved from.
    pub source: String,
    /// RFC 3339.
    pub created_at: String,
    pub kip_version: String,
    /// The Docker-in-Docker image of the source's node (its dockerd wrote
    /// the data root).
    pub dind_image: String,
    /// The kind node image, by its name in the node, and its ID.
    pub kind_image: String,
    pub kind_image_id: String,
    pub kubernetes_version: Option<String>,
    /// The inner kind cluster's name (the source's, or its source's).
    pub kind_cluster: String,
    pub mtu: Option<u32>,
    /// "v1" or "v2".
    pub cgroup: Option<String>,
    /// "legacy" or "nft".
    pub iptables: Option<String>,
    /// The node's `uname -m`.
    pub arch: String,
    /// The admin client certificate's notAfter (RFC 3339): kubeadm's
    /// certificates expire together, a year after `kind create`.
    pub certificates_expire_at: Option<String>,
    /// The seed whose layers the data root mounts (not copied).
    pub seed: Option<String>,
    pub size_bytes: u64,
    /// How long the source was frozen (or stopped, with `stopped`).
    pub frozen_ms: u64,
    pub stopped: bool,
}

/// A snapshot volume as `kip snapshot list` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub name: String,
    pub volume: String,
    /// Its save finished (its metadata was written).
    pub complete: bool,
    pub source: Option<String>,
    pub created_at: Option<String>,
    pub metadata: Option<Metadata>,
}

/// kip's labels of snapshot `name` of `source`.
pub fn volume_labels(name: &str, source: &str, seed: Option<&str>) -> HashMap<String, String> {
    let mut all = HashMap::from([
        (labels::MANAGED_BY.to_string(), labels::MANAGER.to_string()),
        (LABEL.to_string(), name.to_string()),
        (SOURCE_LABEL.to_string(), source.to_string()),
        (
            labels::VERSION.to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ]);
    if let Some(seed) = seed {
        all.insert(labels::SEED.to_string(), seed.to_string());
    }
    all
}

/// Whether labels are those of a snapshot kip made, and of which.
pub fn name_of(labels_: &HashMap<String, String>) -> Option<&str> {
    (labels_.get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGER))
        .then(|| labels_.get(LABEL).map(String::as_str))
        .flatten()
}

/// "not found" (exit 5) for snapshot `name`.
pub fn not_found(name: &str) -> anyhow::Error {
    Error::SnapshotNotFound {
        name: name.to_string(),
    }
    .into()
}

/// A snapshot's metadata for tests.
#[cfg(test)]
pub fn sample_metadata() -> Metadata {
    Metadata {
        name: "base".into(),
        source: "src".into(),
        created_at: "2026-12-05T08:00:00Z".into(),
        kip_version: "0.1.0".into(),
        dind_image: "kip-node:1".into(),
        kind_image: "kindest/node:v1.35.4".into(),
        kind_image_id: "sha256:aa".into(),
        kubernetes_version: Some("v1.35.4".into()),
        kind_cluster: "src".into(),
        mtu: Some(1500),
        cgroup: Some("v2".into()),
        iptables: Some("nft".into()),
        arch: "x86_64".into(),
        certificates_expire_at: Some("2027-12-05T08:00:00Z".into()),
        seed: None,
        size_bytes: 1,
        frozen_ms: 1,
        stopped: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_name_never_names_a_node_volume() {
        assert_eq!(parse_name("base").unwrap(), "base");
        assert!(parse_name("x-docker").unwrap_err().contains("node volumes"));
        assert!(parse_name("Bad_Name").is_err());
        assert_eq!(volume_name("base"), "kip-snap-base");
    }

    #[test]
    fn only_kips_labelled_volumes_are_snapshots() {
        let ours = volume_labels("base", "src", Some("abc"));
        assert_eq!(name_of(&ours), Some("base"));
        let mut foreign = ours.clone();
        foreign.remove(labels::MANAGED_BY);
        assert_eq!(name_of(&foreign), None);
    }
}
