//! Seeds (issue 18): every new node gets the kind node image in about a
//! second, from a seed made once per engine, instead of a `docker save |
//! docker load` of the whole image into its empty Docker store.
//!
//! DESIGN — measured, then chosen (numbers: this engine, Debian's dockerd
//! 20.10.24, overlay2 on ext4, the 1.48 GB real-kind test image; see
//! BENCHMARKS.md "Seeds"):
//! - Hard links cannot share the layers: `link(2)` fails with EXDEV between
//!   two volumes, and between two mounts of ONE volume too (measured), so a
//!   seed and a node's store would have to be one mount, which a node's own
//!   `/var/lib/docker` volume cannot be.
//! - Reflinks: `cp --reflink=always` fails with EOPNOTSUPP on ext4
//!   (measured), the Docker root of most laptops and CI runners.
//! - Read-only bind mounts (chosen): a node's bootstrap, before its dockerd
//!   starts, copies the seed's small metadata (`skel/`: the image and
//!   layer databases, overlay2's link/lower/committed files) into the
//!   node's own data root and bind-mounts each layer's contents read-only
//!   on `overlay2/<id>/diff`. Nothing is copied of the layers. The node's
//!   dockerd, asked to remove the image (`docker rmi`, `image prune`,
//!   `system prune -af`), unmounts first (moby's `EnsureRemoveAll` does a
//!   recursive unmount, 20.10 through 28) and removes its own copy: the
//!   seed, read-only anyway, and other nodes are untouched. Measured here
//!   (`bench/seed_up.py`, one run, medians of 3 interleaved rounds): the
//!   image phase of `kip up` (Docker start + image) 31.2 s streamed, 0.7 s
//!   from the seed (the node's own setup: 24 ms for 8 layers); to every
//!   node Ready 27.8 s against 25.9 s for `kind create cluster --wait`
//!   (1.07x, parity within the noise; 2.25x streamed). The first up of an
//!   image, which makes the seed, 64.0 s (the stream, once).
//! - Only Debian's dockerd 20.10 was measured: kip's default DinD image
//!   (docker:28-dind) cannot be pulled on the test machine. Docker 28 keeps
//!   overlay2 and the same removal (read in moby v28.5.2); Docker 29's
//!   containerd image store is another layout: the seeding dockerd is
//!   started with `--storage-driver=overlay2`, and a node whose dockerd
//!   cannot make a seed that way streams instead.
//!
//! Where seeds live: one store per engine, the same layout in both modes
//! (`store.sh` and the bootstrap's "Seeds" section describe it): locally
//! the `kip-seeds` volume, created with kip's labels by the first node that
//! mounts it; remotely a `hostPath` at the same path on each
//! outer node, shared by the node Pods there. A seed is keyed by what makes
//! it valid ([`SeedKey`]): the kind node image's ID and its name in the
//! node (the tag kind asks for), the storage driver, the DinD image's ID
//! (which fixes its dockerd, so its on-disk format; remotely its reference).
//!
//! Remote mode: the node Pod mounts the `hostPath` `/var/lib/kip/seeds`
//! (DirectoryOrCreate) of its outer node and gets `KIP_SEED` as a local
//! node does; the bootstrap is the same (its locks are `flock`s, which
//! hold across the Pods of one outer node), the first Pod there makes the
//! seed from the stream kip sends it anyway. kip knows the DinD image
//! there only by reference, not ID, so the key has the reference
//! ([`Seed::for_remote_node`]); the bootstrap checks the seed's recorded
//! dockerd and image name against its own before using it. Before the
//! node is made, a dry run of its Pod with and without the store tells a
//! cluster that forbids the `hostPath` (an admission policy allowing only
//! `/lib/modules`): the node is then made without it, streams, and says
//! why (`KIP_SEED_OFF`); `kip doctor --remote` asks the same. Measured
//! (`bench/remote_seed_up.py`, BENCHMARKS.md "Remote seeds").
//!
//! Concurrency and faults live where an atomic operation guards them, on
//! the engine, with no state on the user's machine: a seed is made in
//! `KEY.making` by the one node holding `KEY.lock` exclusively and appears
//! by one rename. The claim is a `flock`, not a `mkdir`: it must die with
//! its maker (a kill -9 of the node), which a directory cannot, and the
//! others wait on it rather than stream the same image beside it. A node
//! using a seed holds the lock shared for its whole life
//! (a kill -9 of the node releases it), so `kip gc` and `kip seed rm`,
//! which need it exclusively and also skip seeds whose label a stopped
//! node carries, never remove a seed under a node. "Last use" is the
//! newest boot of a node from the seed: its `KEY.used` stamp, touched by
//! the node's bootstrap, on the engine.

mod collect;
mod key;
mod node;
mod report;
pub mod store;

pub use collect::{collect, collect_remote, Collected};
pub use key::{SeedKey, STORAGE_DRIVER};
pub use node::{say, NodeSeed, Seed};
pub use report::doctor_check;
use store::{SeedState, Store, StoreEntry};

use crate::node::labels;
use crate::provider::docker::{DockerProvider, SnapshotVolume};
use crate::provider::kube::KubeProvider;
use crate::provider::{NodeInfo, NodeState};
use anyhow::Result;
use serde::Serialize;
use std::time::SystemTime;

/// A seed as `kip seed list` shows it (schema kip/v1 SeedList).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedSummary {
    pub key: String,
    pub state: SeedState,
    pub image: Option<String>,
    pub image_id: Option<String>,
    pub dockerd: Option<String>,
    pub size_bytes: u64,
    pub made_at: Option<String>,
    /// The last boot of a node from it (RFC 3339).
    pub last_used_at: Option<String>,
    /// A running node holds it, or a node of a cluster carries its label.
    pub in_use: bool,
    /// The clusters whose node (running or stopped) came from it.
    pub clusters: Vec<String>,
    /// The snapshots whose data roots mount its layers (`crate::snapshot`):
    /// users too, until removed or exported.
    pub snapshots: Vec<String>,
    /// Remote mode: the outer node whose store holds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// Which clusters' nodes came from which seed: (cluster, seed key).
type Users = [(String, String)];

/// The seed users among the engine's nodes (orphaned volumes are none).
fn users(nodes: &[NodeInfo]) -> Vec<(String, String)> {
    nodes
        .iter()
        .filter(|n| n.state != NodeState::Orphaned)
        .filter_map(|n| Some((n.cluster.clone(), n.labels.get(labels::SEED)?.clone())))
        .collect()
}

impl SeedSummary {
    fn new(
        entry: StoreEntry,
        users: &Users,
        node: Option<&str>,
        snapshots: &[SnapshotVolume],
    ) -> SeedSummary {
        let clusters: Vec<String> = users
            .iter()
            .filter(|(_, key)| key == entry.key.as_str())
            .map(|(cluster, _)| cluster.clone())
            .collect();
        let snapshots: Vec<String> = snapshots
            .iter()
            .filter(|v| v.labels.get(labels::SEED).map(String::as_str) == Some(entry.key.as_str()))
            .filter_map(|v| crate::snapshot::name_of(&v.labels).map(String::from))
            .collect();
        SeedSummary {
            node: node.map(String::from),
            key: entry.key.to_string(),
            state: entry.state,
            image: entry.image,
            image_id: entry.image_id,
            dockerd: entry.dockerd,
            size_bytes: entry.size_bytes,
            made_at: entry.made_at,
            last_used_at: entry
                .last_used
                .map(|t| humantime::format_rfc3339_seconds(t).to_string()),
            in_use: entry.held || !clusters.is_empty() || !snapshots.is_empty(),
            clusters,
            snapshots,
        }
    }

    /// When it was last used, or made if never.
    pub(super) fn last_used(&self) -> Option<SystemTime> {
        [&self.last_used_at, &self.made_at]
            .into_iter()
            .flatten()
            .filter_map(|t| humantime::parse_rfc3339_weak(t).ok())
            .max()
    }
}

/// The engine's seeds and the store they are in; None without a store.
pub async fn inventory<'a>(
    engine: &'a DockerProvider,
    nodes: &[NodeInfo],
    dind_image: Option<&str>,
) -> Result<Option<(Store<'a>, Vec<SeedSummary>)>> {
    let Some(store) = Store::open(engine, dind_image).await? else {
        return Ok(None);
    };
    let users = users(nodes);
    let snapshots = engine.volumes_labelled(crate::snapshot::LABEL).await?;
    let seeds = store
        .list()
        .await?
        .into_iter()
        .map(|e| SeedSummary::new(e, &users, None, &snapshots))
        .collect();
    Ok(Some((store, seeds)))
}

/// Where `kip seed` and `kip gc` find seeds: the local engine's store,
/// or (remote mode) those of the shared cluster's outer nodes.
#[derive(Clone, Copy)]
pub enum SeedPlace<'a> {
    Engine(&'a DockerProvider),
    Remote(&'a KubeProvider),
}

impl SeedPlace<'_> {
    /// `kip gc`'s part: None when there is no store.
    pub async fn collect(
        self,
        (older_than, dry_run): (Option<std::time::Duration>, bool),
        printer: &crate::output::Printer,
    ) -> Result<Option<Collected>> {
        let now = SystemTime::now();
        match self {
            SeedPlace::Engine(engine) => collect(engine, older_than, dry_run, now).await,
            SeedPlace::Remote(kube) => {
                collect_remote(kube, (older_than, dry_run), now, printer).await
            }
        }
    }
}

/// The seed stores of a shared cluster's outer nodes, as far as kip
/// knows them (`KubeProvider::seed_store_nodes`).
pub struct RemoteInventory<'a> {
    pub stores: Vec<(Store<'a>, Vec<SeedSummary>)>,
    /// The outer nodes whose store could not be read, and why.
    pub unread: Vec<(String, String)>,
}

/// Reads every known outer node's store, all at once (a helper Pod on
/// each); a node whose store cannot be read is named, not fatal.
pub async fn remote_inventory<'a>(
    kube: &'a KubeProvider,
    dind_image: Option<&str>,
) -> Result<RemoteInventory<'a>> {
    let nodes = kube.seed_store_nodes().await?;
    let pods = kube.seeded_pods().await?;
    let reads = nodes.iter().map(|(node, image)| async move {
        let store = Store::on_outer_node(kube, node, dind_image.unwrap_or(image));
        let listed = store.list().await;
        (store, listed)
    });
    let mut inventory = RemoteInventory {
        stores: Vec::new(),
        unread: Vec::new(),
    };
    for (store, listed) in futures_util::future::join_all(reads).await {
        let node = store.outer_node().unwrap_or_default().to_string();
        match listed {
            Ok(entries) => {
                let users: Vec<(String, String)> = pods
                    .iter()
                    .filter(|p| p.node == node)
                    .map(|p| (p.cluster.clone(), p.seed.clone()))
                    .collect();
                let seeds = entries
                    .into_iter()
                    .map(|e| SeedSummary::new(e, &users, Some(&node), &[]))
                    .collect();
                inventory.stores.push((store, seeds));
            }
            Err(e) => inventory.unread.push((node, format!("{e:#}"))),
        }
    }
    Ok(inventory)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_snapshot_that_records_the_seed_is_its_user() {
        let key = "0123456789abcdef0123";
        let entry = || StoreEntry {
            key: SeedKey::parse(key).unwrap(),
            state: SeedState::Ready,
            held: false,
            size_bytes: 1,
            made_at: None,
            last_used: None,
            image: None,
            image_id: None,
            dockerd: None,
        };
        let volume = |name: &str, seed: Option<&str>| SnapshotVolume {
            name: crate::snapshot::volume_name(name),
            labels: crate::snapshot::volume_labels(name, "src", seed),
            created_at: None,
        };
        let unused = SeedSummary::new(entry(), &[], None, &[volume("other", None)]);
        assert!(!unused.in_use && unused.snapshots.is_empty());
        let mut foreign = volume("foreign", Some(key));
        foreign.labels = HashMap::from([(labels::SEED.to_string(), key.to_string())]);
        let used = SeedSummary::new(entry(), &[], None, &[volume("base", Some(key)), foreign]);
        assert!(used.in_use);
        assert_eq!(used.snapshots, ["base"]);
    }
}
