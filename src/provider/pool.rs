//! What a provider does for warm pools (`crate::pool`): it keeps each
//! pool's definition where an atomic operation guards it, lists the
//! members, takes one for a claim so that no two claimers ever get it, and
//! marks a member ready. Each provider's DESIGN is in its `pool.rs`.

use super::docker::DockerProvider;
use super::Provider;
use crate::pool::member::{ClaimRecord, Deletion, MemberInfo};
use crate::pool::spec::PoolSpec;
use anyhow::Result;

/// A pool's definition as it is stored, with the version a change of it
/// must name (a generation on Docker, a resourceVersion on Kubernetes).
#[derive(Debug, Clone)]
pub struct StoredPool {
    pub spec: PoolSpec,
    pub version: String,
}

/// How a claim's take of one member ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// This claim holds it now, and only this one.
    Took,
    /// Another kip took it first (or deleted it): try another member.
    Lost,
}

/// How a claim of one member ended.
pub enum Claimed<N> {
    /// This claim took it: the node of the cluster it now is.
    Won(N),
    /// Another kip took it first (or deleted it): try another member.
    Lost,
    /// The cluster's name was taken meanwhile; the member was left as it was.
    NameTaken,
}

#[allow(async_fn_in_trait)]
pub trait Pools: Provider + Sized {
    /// The definition of pool `name`, or of every pool.
    async fn pools(&self, name: Option<&str>) -> Result<Vec<StoredPool>>;
    /// Stores `spec`: a new pool (`version` None) or a change of the
    /// definition at `version`. False when another kip stored one first
    /// (read it again, then decide again).
    async fn store_pool(&self, spec: &PoolSpec, version: Option<&str>) -> Result<bool>;
    /// Removes the definition; whether there was one.
    async fn remove_pool(&self, name: &str) -> Result<bool>;
    /// The members of pool `pool` (or of every pool); `memory`: ask what
    /// each holds (slower).
    async fn members(&self, pool: Option<&str>, memory: bool) -> Result<Vec<MemberInfo>>;
    /// Takes `member` for `record`'s cluster, exclusively: of claimers that
    /// race for one member, exactly one gets [`Take::Took`]. The record is
    /// written by the very operation that takes it.
    async fn take(&self, member: &MemberInfo, record: &ClaimRecord) -> Result<Take>;
    /// Makes the member this claim took the cluster `record` names: its
    /// name, thawed if frozen; the cluster's node.
    async fn finish_claim(
        &self,
        member: &MemberInfo,
        record: &ClaimRecord,
    ) -> Result<Claimed<Self::Node>>;
    /// Deletes a member no claim holds (or one a claim has held past
    /// `member::TAKEN_LIMIT`); false when a claim took it first. An idle
    /// member is taken first, as a claim takes it, so that a deletion
    /// never removes what a claim has just taken.
    async fn delete_member(&self, member: &MemberInfo) -> Result<bool> {
        match member.deletion(std::time::SystemTime::now()) {
            Deletion::Leave => return Ok(false),
            Deletion::Abandoned => {}
            Deletion::TakeFirst => {
                if self.take(member, &ClaimRecord::deletion()).await? == Take::Lost {
                    return Ok(false);
                }
            }
        }
        self.delete_taken(member).await?;
        Ok(true)
    }
    /// Deletes a member [`Pools::delete_member`] found it may delete.
    async fn delete_taken(&self, member: &MemberInfo) -> Result<()>;
    /// Marks the member just made ready for claims (frozen first when the
    /// pool is `--paused`).
    async fn mark_ready(&self, key: &str, pause: bool) -> Result<()>;
    /// Whether a member becomes ready by itself once its objects exist (a
    /// remote member: its Pod's readiness probe), so nothing has to watch
    /// it being made.
    fn members_ready_themselves(&self) -> bool;
    /// The provider that makes the members of `spec` (remote: its Pod
    /// options, and no port-forward of the maker's).
    fn member_maker(&self, spec: &PoolSpec) -> Self;
    /// A new pool's plan completed with what this provider's members need
    /// (remote: the Pod options, the kind node image's ID on `host`), or
    /// refused for what they cannot honour (`restored`: `--from`).
    async fn complete_plan(
        &self,
        spec: &mut PoolSpec,
        restored: bool,
        host: Option<&DockerProvider>,
    ) -> Result<()>;
}
