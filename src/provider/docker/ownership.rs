//! What on the engine is kip's: a container or volume carrying kip's labels
//! for the cluster, never one that merely has the cluster's name. An object
//! of that name without them is someone else's: `up` refuses it before
//! making anything, `down` and `gc` leave it. A node volume of kip's whose
//! node container is gone (removed behind kip's back) is an orphan: `list`
//! shows it, `gc` and `down` remove it, unless a `kip up` of the name has
//! taken it since they looked.

use super::errors::is_not_found;
use super::DockerProvider;
use crate::error::Error;
use crate::names;
use crate::node::labels;
use crate::pool::member::POOL_LABEL;
use crate::provider::{Deleted, NodeInfo, NodeState, OrphanDeletion, Provider};
use anyhow::Result;
use std::collections::{BTreeMap, HashMap, HashSet};

/// How long a pool member's volume may be without its node (its filler
/// makes the node a moment after the volume) before it is an orphan.
const MEMBER_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// What `list` and `status` say of an orphaned volume.
pub(super) const ORPHANED_STATUS: &str = "node container gone, volume left";

pub(super) fn is_kips(object_labels: &HashMap<String, String>, cluster: &str) -> bool {
    object_labels.get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGER)
        && object_labels.get(labels::CLUSTER).map(String::as_str) == Some(cluster)
}

/// Whether the node container `kip-CLUSTER` is kip's: made for the cluster,
/// or a pool's member claimed as it (renamed, its labels the member's).
fn is_kips_node(object_labels: &HashMap<String, String>, cluster: &str) -> bool {
    is_kips(object_labels, cluster)
        || (object_labels.get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGER)
            && object_labels.contains_key(POOL_LABEL))
}

pub(super) fn foreign(kind: &'static str, name: &str, cluster: &str) -> anyhow::Error {
    Error::Foreign {
        kind,
        name: name.to_string(),
        cluster: cluster.to_string(),
    }
    .into()
}

/// What became of the cluster's volume in `delete`.
pub(super) enum VolumeRemoval {
    Removed,
    Absent,
    /// There, but not kip's: left alone.
    Foreign,
    /// Mounted by a node that appeared since `delete` looked (a `kip up`
    /// at work): that node goes first.
    InUse,
}

impl DockerProvider {
    /// Refuses a node container or volume of the cluster's names that kip
    /// did not make, before anything is created.
    pub(super) async fn refuse_foreign_objects(&self, cluster: &str) -> Result<()> {
        let node = names::node_name(cluster);
        match self.docker.inspect_container(&node, None).await {
            Ok(c) => {
                let labels = c.config.and_then(|c| c.labels).unwrap_or_default();
                if !is_kips_node(&labels, cluster) {
                    return Err(foreign("container", &node, cluster));
                }
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(self.unreachable(e)),
        }
        self.check_volume(cluster).await
    }

    /// An error if the cluster's volume is there and not kip's.
    pub(super) async fn check_volume(&self, cluster: &str) -> Result<()> {
        let volume = names::volume_name(cluster);
        match self.docker.inspect_volume(&volume).await {
            Ok(v) if !is_kips(&v.labels, cluster) => Err(foreign("volume", &volume, cluster)),
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(self.unreachable(e)),
        }
    }

    /// Whether the node container of this name is someone else's.
    pub(super) async fn foreign_container(&self, cluster: &str) -> bool {
        self.docker
            .inspect_container(&names::node_name(cluster), None)
            .await
            .is_ok_and(|c| {
                !is_kips_node(
                    &c.config.and_then(|c| c.labels).unwrap_or_default(),
                    cluster,
                )
            })
    }

    /// Removes the cluster's volume if it is kip's.
    pub(super) async fn remove_kips_volume(&self, cluster: &str) -> Result<VolumeRemoval> {
        self.remove_volume_of(&names::volume_name(cluster), cluster)
            .await
    }

    /// The volume a removed node left, unless a node of the cluster is
    /// there now or the engine says the volume is in use (it refuses to
    /// remove a volume any container mounts, so a `kip up` that mounts it
    /// after the look is still seen): then it is a cluster being made.
    pub(super) async fn remove_orphan(&self, cluster: &str) -> Result<OrphanDeletion> {
        if self.lookup(cluster).await?.is_some() {
            return Ok(OrphanDeletion::Taken);
        }
        let mut deleted = Deleted::default();
        match self.remove_kips_volume(cluster).await? {
            VolumeRemoval::Removed => deleted.volume = true,
            VolumeRemoval::Absent => {}
            VolumeRemoval::Foreign => deleted
                .left
                .push(format!("volume {}", names::volume_name(cluster))),
            VolumeRemoval::InUse => return Ok(OrphanDeletion::Taken),
        }
        Ok(OrphanDeletion::Deleted(deleted))
    }

    /// kip's node volumes whose cluster has no node container: none of the
    /// clusters (by the name their node was made under) in `made_under`.
    pub(super) async fn orphaned_volumes(
        &self,
        made_under: &HashSet<String>,
    ) -> Result<Vec<NodeInfo>> {
        let volumes = self
            .labelled_volumes(vec![format!("{}={}", labels::MANAGED_BY, labels::MANAGER)])
            .await?;
        Ok(volumes
            .into_iter()
            .filter_map(|v| {
                let cluster = v.labels.get(labels::CLUSTER)?.clone();
                // A pool's member is made by a filler in the background: its
                // volume alone for a moment is no orphan yet.
                let young_member = v.labels.contains_key(POOL_LABEL)
                    && crate::cluster::plan::age_of(v.created_at.as_deref())
                        .is_none_or(|age| age < MEMBER_GRACE);
                // Only a node volume by its own name: kip makes no other.
                (v.name == names::volume_name(&cluster)
                    && !made_under.contains(&cluster)
                    && !young_member)
                    .then(|| orphan_info(cluster, v.labels.into_iter().collect(), v.created_at))
            })
            .collect())
    }
}

fn orphan_info(
    cluster: String,
    labels: BTreeMap<String, String>,
    volume_created_at: Option<String>,
) -> NodeInfo {
    NodeInfo {
        inner: cluster.clone(),
        node: names::node_name(&cluster),
        state: NodeState::Orphaned,
        status: ORPHANED_STATUS.into(),
        exit_code: None,
        created_at: labels
            .get(labels::CREATED_AT)
            .cloned()
            .or(volume_created_at),
        image: String::new(),
        endpoint: None,
        security: labels.get(labels::SECURITY).cloned(),
        kip_version: labels.get(labels::VERSION).cloned(),
        expires_at: labels.get(labels::EXPIRES_AT).cloned(),
        ci: labels::ci_description(&labels),
        problem: Some(Error::NodeContainerRemoved {
            cluster: cluster.clone(),
        }),
        labels,
        cluster,
    }
}
