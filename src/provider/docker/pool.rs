//! Warm pools on the Docker engine.
//!
//! # DESIGN
//!
//! A member is a node made by the ordinary recipe under its key
//! (`kip-pool.POOL.ID`); where it stands is its container's name, which a
//! listing shows at once: `kip-KEY` while it is made, `kip-KEY.ready` once
//! its cluster answers (paused first for a `--paused` pool), `kip-NAME`
//! once claimed as NAME (`claimed.rs`).
//!
//! A claim takes a member by creating its claim volume `kip-KEY.claim`,
//! whose labels are the claim record and a token of the claimer's. The
//! engine answers every create of one volume name with the one volume it
//! made (measured: 4 concurrent creates with 4 tokens, 30 trials, each
//! creator read back the same token every time), so of claimers racing
//! for one member exactly one reads back its own token. (A claim container
//! was as exclusive, but a container create costs a layer: 70-680 ms here
//! under load, against 10-40 ms for a volume.) A rename alone is
//! not enough: measured on this engine (Docker 20.10.24, 30 trials each,
//! `bench/claim_atomicity.py`), two concurrent renames of one container to
//! *different* names both returned 204 in 25 and 26 of 30 trials in two
//! runs (the daemon resolves the old name before it locks the container);
//! to one *fixed* name exactly one won in 30 of 30. The fixed name taken
//! here is a volume's rather than a container's because its create also
//! carries the claim's record and time, which a rename cannot. The claim's second step, the rename to `kip-NAME`, is made only by
//! the claim volume's maker. A member whose claim is older than
//! `member::TAKEN_LIMIT` while the member keeps its `.ready` name is a
//! claimer killed half-way: the next kip that looks deletes both
//! (`pool::tend`). Deleting an idle member takes it the same way first, so
//! a deletion never removes what a claim has just taken.

use super::claimed::{claim_volume, name_of, Claims, CLAIM_OF};
use super::errors::{is_name_conflict, is_not_found};
use super::spec::claimed_as;
use super::{DockerNode, DockerProvider};
use crate::error::Error;
use crate::names;
use crate::node::labels;
use crate::pool::member::{ClaimRecord, MemberInfo, MemberState, PLAN_LABEL, POOL_LABEL};
use crate::pool::spec::PoolSpec;
use crate::provider::pool::{Claimed, Pools, StoredPool, Take};
use crate::provider::Provider;
use anyhow::Result;
use bollard::models::{ContainerSummary, VolumeCreateRequest};
use bollard::query_parameters::{RenameContainerOptionsBuilder, StatsOptionsBuilder};
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::SystemTime;

/// The label of a claim volume that says whose create made it.
const TOKEN: &str = "dev.kip.claim-token";

/// A member's container once it is ready for claims.
fn ready_name(key: &str) -> String {
    format!("{}.ready", names::node_name(key))
}

fn parse_time(text: Option<&String>) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(text?).ok()
}

impl Pools for DockerProvider {
    async fn pools(&self, name: Option<&str>) -> Result<Vec<StoredPool>> {
        self.stored_pools(name).await
    }

    async fn store_pool(&self, spec: &PoolSpec, version: Option<&str>) -> Result<bool> {
        self.store_generation(spec, version).await
    }

    async fn remove_pool(&self, name: &str) -> Result<bool> {
        self.remove_generations(name).await
    }

    async fn members(&self, pool: Option<&str>, memory: bool) -> Result<Vec<MemberInfo>> {
        let with = match pool {
            Some(pool) => format!("{POOL_LABEL}={pool}"),
            None => POOL_LABEL.to_string(),
        };
        let containers = self.kips_containers(&[with], None).await?;
        let mut claims = self.claims(None).await?;
        if let Some(pool) = pool {
            claims.retain(|_, l| l.get(POOL_LABEL).map(String::as_str) == Some(pool));
        }
        let mut members = classify(&containers, &claims);
        if memory {
            for member in members.iter_mut().filter(|m| m.state == MemberState::Ready) {
                member.memory = self.memory_of(&ready_name(&member.key)).await;
            }
        }
        Ok(members)
    }

    async fn take(&self, member: &MemberInfo, record: &ClaimRecord) -> Result<Take> {
        Ok(if self.take_by_volume(member, record).await? {
            Take::Took
        } else {
            Take::Lost
        })
    }

    async fn finish_claim(
        &self,
        member: &MemberInfo,
        record: &ClaimRecord,
    ) -> Result<Claimed<DockerNode>> {
        let cluster = record
            .cluster
            .clone()
            .expect("a claim names the cluster it makes");
        let options = RenameContainerOptionsBuilder::new()
            .name(&names::node_name(&cluster))
            .build();
        let renamed = self
            .docker
            .rename_container(&ready_name(&member.key), options)
            .await;
        let outcome = match renamed {
            Ok(()) => None,
            Err(e) if is_name_conflict(&e) => Some(Claimed::NameTaken),
            Err(e) if is_not_found(&e) => Some(Claimed::Lost),
            Err(e) => {
                self.remove_claim(&member.key).await?;
                return Err(self.unreachable(e));
            }
        };
        if let Some(outcome) = outcome {
            // Released: the member is as it was, ready for another claim.
            self.remove_claim(&member.key).await?;
            return Ok(outcome);
        }
        if member.paused {
            let _ = self
                .docker
                .unpause_container(&names::node_name(&cluster))
                .await;
        }
        // The container is `kip-NAME` now, and a pool's: found as one
        // (not first among clusters made under NAME, which it is not).
        Ok(match self.pool_born(&cluster).await? {
            Some(node) => Claimed::Won(node),
            None => Claimed::Lost,
        })
    }

    async fn delete_taken(&self, member: &MemberInfo) -> Result<()> {
        self.delete(&member.key).await?;
        self.remove_claim(&member.key).await
    }

    async fn mark_ready(&self, key: &str, pause: bool) -> Result<()> {
        let name = names::node_name(key);
        if pause {
            self.docker
                .pause_container(&name)
                .await
                .map_err(|e| self.unreachable(e))?;
        }
        let options = RenameContainerOptionsBuilder::new()
            .name(&ready_name(key))
            .build();
        self.docker
            .rename_container(&name, options)
            .await
            .map_err(|e| self.unreachable(e))
    }

    fn members_ready_themselves(&self) -> bool {
        false
    }

    fn member_maker(&self, _spec: &PoolSpec) -> Self {
        self.clone()
    }

    async fn complete_plan(
        &self,
        _spec: &mut PoolSpec,
        _restored: bool,
        _host: Option<&DockerProvider>,
    ) -> Result<()> {
        Ok(())
    }
}

impl DockerProvider {
    /// Takes `member` for `record` by creating its claim volume: true
    /// when this create made it (its token read back), false when another
    /// kip's stands.
    async fn take_by_volume(&self, member: &MemberInfo, record: &ClaimRecord) -> Result<bool> {
        let token = super::spec::node_run_id();
        let mut claim_labels: HashMap<String, String> = record.to_labels().into_iter().collect();
        claim_labels.insert(labels::MANAGED_BY.into(), labels::MANAGER.into());
        claim_labels.insert(POOL_LABEL.into(), member.pool.clone());
        claim_labels.insert(CLAIM_OF.into(), member.key.clone());
        claim_labels.insert(TOKEN.into(), token.clone());
        let volume = VolumeCreateRequest {
            name: Some(claim_volume(&member.key)),
            labels: Some(claim_labels),
            ..Default::default()
        };
        let made = self
            .docker
            .create_volume(volume)
            .await
            .map_err(|e| Error::ClaimFailed {
                member: member.key.clone(),
                error: e.to_string(),
            })?;
        Ok(made.labels.get(TOKEN) == Some(&token))
    }

    /// The memory a container holds now, as `docker stats` counts it
    /// (usage without the inactive page cache).
    async fn memory_of(&self, container: &str) -> Option<u64> {
        let options = StatsOptionsBuilder::new()
            .stream(false)
            .one_shot(true)
            .build();
        let stats = self
            .docker
            .stats(container, Some(options))
            .next()
            .await?
            .ok()?;
        let memory = stats.memory_stats?;
        let usage = memory.usage?;
        let inactive = memory.stats.as_ref().and_then(|s| {
            s.get("total_inactive_file")
                .or_else(|| s.get("inactive_file"))
                .copied()
        });
        Some(usage.saturating_sub(inactive.unwrap_or(0)))
    }
}

/// The members among a pool's containers (claimed clusters are not
/// members), each where it stands by its name, its state and `claims`.
fn classify(containers: &[ContainerSummary], claims: &Claims) -> Vec<MemberInfo> {
    let labels_of = |c: &ContainerSummary| -> BTreeMap<String, String> {
        c.labels.clone().unwrap_or_default().into_iter().collect()
    };
    let taken = |key: &str| {
        claims.get(key).map(|l| MemberState::Taken {
            since: parse_time(l.get(crate::pool::member::CLAIMED_AT)),
        })
    };
    let mut made: HashSet<String> = HashSet::new();
    let mut members = Vec::new();
    for c in containers {
        let l = labels_of(c);
        let Some(key) = l.get(labels::CLUSTER).cloned() else {
            continue;
        };
        made.insert(key.clone());
        let name = name_of(c);
        if claimed_as(&l, &name).is_some() {
            continue;
        }
        let docker_state = c.state.map(|s| s.to_string()).unwrap_or_default();
        let state = taken(&key).unwrap_or_else(|| match docker_state.as_str() {
            "exited" | "dead" => MemberState::Broken(format!(
                "its node stopped ({})",
                c.status.clone().unwrap_or_default()
            )),
            _ if name == ready_name(&key) => MemberState::Ready,
            _ => MemberState::Making,
        });
        members.push(MemberInfo {
            pool: l.get(POOL_LABEL).cloned().unwrap_or_default(),
            state,
            created_at: parse_time(l.get(labels::CREATED_AT)),
            plan: l.get(PLAN_LABEL).cloned(),
            paused: docker_state == "paused",
            memory: None,
            key,
        });
    }
    // A claim whose member is gone (a deletion killed half-way).
    for (key, l) in claims {
        if !made.contains(key) {
            members.push(MemberInfo {
                key: key.clone(),
                pool: l.get(POOL_LABEL).cloned().unwrap_or_default(),
                state: taken(key).expect("a claim of this key"),
                created_at: None,
                plan: None,
                paused: false,
                memory: None,
            });
        }
    }
    members
}
