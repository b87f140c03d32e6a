//! Clusters born in a pool, on the Docker engine. A member is made under
//! its key (`kip-pool.POOL.ID`, labels `dev.kip.cluster=pool.POOL.ID` and
//! `dev.kip.pool=POOL`); a claim as NAME renames it `kip-NAME`, and Docker
//! labels cannot change (moby#21721), so such a cluster is found by its
//! container's name plus the pool label, and its volume through the
//! container's mount. The claim's facts (owner, claimed-at, TTL, the
//! claimer's labels) are the labels of the claim volume `kip-KEY.claim`
//! whose creation took the member (`pool.rs`); `list`, `status` and `gc`
//! read them there.

use super::errors::{is_not_found, is_volume_in_use};
use super::ownership::{is_kips, VolumeRemoval};
use super::spec::{claimed_as, node_info};
use super::{DockerNode, DockerProvider};
use crate::error::Error;
use crate::node::{labels, DOCKER_ROOT};
use crate::pool::member::{ClaimRecord, POOL_LABEL};
use crate::provider::{Deleted, NodeInfo};
use anyhow::Result;
use bollard::models::ContainerSummary;
use bollard::query_parameters::{ListContainersOptionsBuilder, RemoveVolumeOptions};
use std::collections::{BTreeMap, HashMap};

/// The label of a claim volume: the key of the member it took.
pub(super) const CLAIM_OF: &str = "dev.kip.claim-of";

/// The claim volume of member `key`: its name is the claim, so exactly one
/// can exist.
pub(super) fn claim_volume(key: &str) -> String {
    format!("kip-{key}.claim")
}

/// Claim records by the key of the member each took.
pub(super) type Claims = HashMap<String, BTreeMap<String, String>>;

fn labels_of(c: &ContainerSummary) -> BTreeMap<String, String> {
    c.labels.clone().unwrap_or_default().into_iter().collect()
}

pub(super) fn name_of(c: &ContainerSummary) -> String {
    c.names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default()
}

/// The clusters among kip's containers: ordinary ones, and members claimed
/// as a cluster (with their claim's facts); never an unclaimed member.
pub(super) fn clusters(containers: Vec<ContainerSummary>, claims: &Claims) -> Vec<NodeInfo> {
    containers
        .into_iter()
        .filter_map(|c| {
            let labels = labels_of(&c);
            let pool_born = labels.contains_key(POOL_LABEL);
            if pool_born && claimed_as(&labels, &name_of(&c)).is_none() {
                return None;
            }
            let mut info = node_info(c);
            if pool_born {
                let claim = claims.get(&info.inner);
                apply_claim(&mut info, claim);
            }
            Some(info)
        })
        .collect()
}

/// A claimed cluster's facts from its claim: it is as old as the claim
/// (not as the member), and expires when the claim says.
fn apply_claim(info: &mut NodeInfo, claim: Option<&BTreeMap<String, String>>) {
    let Some(record) = claim.and_then(ClaimRecord::from_labels) else {
        return;
    };
    info.created_at = Some(record.claimed_at.clone());
    info.expires_at = record.expires_at.clone();
    for (key, value) in record.to_labels() {
        info.labels.insert(key, value);
    }
    info.ci = labels::ci_description(&info.labels);
}

impl DockerProvider {
    /// The claim records on the engine (or `key`'s), by member key.
    pub(super) async fn claims(&self, key: Option<&str>) -> Result<Claims> {
        let mut label = vec![
            format!("{}={}", labels::MANAGED_BY, labels::MANAGER),
            key.map_or_else(|| CLAIM_OF.to_string(), |k| format!("{CLAIM_OF}={k}")),
        ];
        label.dedup();
        let volumes = self.labelled_volumes(label).await?;
        Ok(volumes
            .into_iter()
            .filter_map(|v| {
                let labels: BTreeMap<String, String> = v.labels.into_iter().collect();
                Some((labels.get(CLAIM_OF)?.clone(), labels))
            })
            .collect())
    }

    /// Removes member `key`'s claim volume, if it is there.
    pub(super) async fn remove_claim(&self, key: &str) -> Result<()> {
        let volume = claim_volume(key);
        match self
            .docker
            .remove_volume(&volume, Some(RemoveVolumeOptions { force: false }))
            .await
        {
            Err(e) if !is_not_found(&e) => Err(Error::CannotRemoveVolume {
                volume,
                error: e.to_string(),
            }
            .into()),
            _ => Ok(()),
        }
    }

    /// kip's containers that carry every label of `with` (`key=value`, or
    /// just `key`), and whose name matches `name` (a regular expression).
    pub(super) async fn kips_containers(
        &self,
        with: &[String],
        name: Option<String>,
    ) -> Result<Vec<ContainerSummary>> {
        let mut label = vec![format!("{}={}", labels::MANAGED_BY, labels::MANAGER)];
        label.extend(with.iter().cloned());
        let mut filters = HashMap::from([("label".to_string(), label)]);
        if let Some(name) = name {
            filters.insert("name".into(), vec![name]);
        }
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        self.docker
            .list_containers(Some(options))
            .await
            .map_err(|e| self.unreachable(e))
    }

    /// The member claimed as cluster `name`, if there is one.
    async fn claimed_container(&self, name: &str) -> Result<Option<ContainerSummary>> {
        let found = self
            .kips_containers(&[POOL_LABEL.into()], Some(format!("^/kip-{name}$")))
            .await?;
        Ok(found
            .into_iter()
            .find(|c| claimed_as(&labels_of(c), &name_of(c)).as_deref() == Some(name)))
    }

    /// The node of cluster `name` when a pool's member became it.
    pub(super) async fn pool_born(&self, name: &str) -> Result<Option<DockerNode>> {
        let Some(container) = self.claimed_container(name).await? else {
            return Ok(None);
        };
        let Some(id) = container.id.clone() else {
            return Ok(None);
        };
        let mut info = node_info(container);
        let claims = self.claims(Some(&info.inner)).await?;
        let claim = claims.get(&info.inner);
        apply_claim(&mut info, claim);
        Ok(Some(DockerNode {
            engine: self.clone(),
            id,
            info,
        }))
    }

    /// Deletes cluster `name` born in a pool: its node, its claim container
    /// and the volume its node mounts (if kip's, for the member's key).
    pub(super) async fn delete_pool_born(&self, name: &str) -> Result<Deleted> {
        let mut deleted = Deleted::default();
        let Some(container) = self.claimed_container(name).await? else {
            return Ok(deleted);
        };
        let key = labels_of(&container)
            .get(labels::CLUSTER)
            .cloned()
            .unwrap_or_default();
        let id = container.id.clone().unwrap_or_default();
        let volume = self.mounted_volume(&id).await?;
        if container.state.map(|s| s.to_string()).as_deref() == Some("running") {
            self.stop(name, &id).await?;
        }
        self.remove_container_by_name(&id).await?;
        deleted.node = true;
        self.remove_claim(&key).await?;
        if let Some(volume) = volume {
            match self.remove_volume_of(&volume, &key).await? {
                VolumeRemoval::Removed => deleted.volume = true,
                VolumeRemoval::Absent => {}
                VolumeRemoval::Foreign => deleted.left.push(format!("volume {volume}")),
                VolumeRemoval::InUse => {
                    return Err(Error::CannotRemoveVolume {
                        volume,
                        error: "another container still mounts it".into(),
                    }
                    .into())
                }
            }
        }
        Ok(deleted)
    }

    /// The volume a node container mounts at the Docker root.
    async fn mounted_volume(&self, id: &str) -> Result<Option<String>> {
        let inspect = match self.docker.inspect_container(id, None).await {
            Ok(inspect) => inspect,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(self.unreachable(e)),
        };
        Ok(inspect
            .mounts
            .unwrap_or_default()
            .into_iter()
            .find(|m| m.destination.as_deref() == Some(DOCKER_ROOT))
            .and_then(|m| m.name))
    }

    /// Removes `volume` if it is kip's volume of `cluster`.
    pub(super) async fn remove_volume_of(
        &self,
        volume: &str,
        cluster: &str,
    ) -> Result<VolumeRemoval> {
        match self.docker.inspect_volume(volume).await {
            Ok(v) if !is_kips(&v.labels, cluster) => return Ok(VolumeRemoval::Foreign),
            Ok(_) => {}
            Err(e) if is_not_found(&e) => return Ok(VolumeRemoval::Absent),
            Err(e) => return Err(self.unreachable(e)),
        }
        // Not `force`: the engine then answers 204 for a volume that is not there.
        match self
            .docker
            .remove_volume(volume, Some(RemoveVolumeOptions { force: false }))
            .await
        {
            Ok(()) => Ok(VolumeRemoval::Removed),
            Err(e) if is_not_found(&e) => Ok(VolumeRemoval::Absent),
            Err(e) if is_volume_in_use(&e) => Ok(VolumeRemoval::InUse),
            Err(e) => Err(Error::CannotRemoveVolume {
                volume: volume.to_string(),
                error: e.to_string(),
            }
            .into()),
        }
    }
}
