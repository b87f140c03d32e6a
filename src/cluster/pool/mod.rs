//! Warm pools in the cluster layer: a claim's request (`up --pool`), the
//! take of a member (`claim.rs`), keeping pools whole (`fill.rs`), and the
//! definitions `kip pool` creates, resizes, lists and removes. The pool's
//! DESIGN is in `crate::pool`; each provider's in its `pool.rs`.

mod claim;
pub mod credentials;
mod fill;
mod recipes;
mod snapshot;

pub use claim::{ready_members, take_member, Taken};
pub use fill::{fill, refill, tend_once};
pub use recipes::{claim_member, make_pool_member};
pub use snapshot::{from_snapshot, pools_using, refuse_used, snapshot_problem};

use super::{PoolRole, Request};
use crate::error::Error;
use crate::node::{labels, NodePlan};
use crate::pool::member::{MemberInfo, MemberState, PLAN_LABEL, POOL_LABEL};
use crate::pool::spec::PoolSpec;
use crate::provider::pool::{Pools, StoredPool};
use anyhow::Result;
use serde::Serialize;

/// The flags of `up` a claim honours: they are about the claim, not the
/// node (every other shaping flag is refused, naming it).
const CLAIM_FLAGS: [&str; 2] = ["--ttl ", "--label "];

/// A member's plan: its pool's labels, and none of a claim's (no TTL, no
/// CI job: those are the claim's, recorded when it is claimed).
pub fn label_member(plan: &mut NodePlan, pool: &str, hash: &str) {
    let node_labels = &mut plan.node.labels;
    node_labels.retain(|k, _| {
        !k.starts_with("dev.kip.ci.") && k != labels::TTL && k != labels::EXPIRES_AT
    });
    node_labels.insert(POOL_LABEL.into(), pool.into());
    node_labels.insert(PLAN_LABEL.into(), hash.into());
}

/// The request `up --pool POOL` (or `run --pool`) makes of `base`: the
/// pool's plan with the claim's own flags (`--ttl`, `--label`, `--wait`);
/// a flag that would shape the node is refused, naming it.
pub async fn claim_request<P: Pools>(
    provider: &P,
    base: Request,
    pool: &str,
    wait_for_member: bool,
) -> Result<Request> {
    let spec = find(provider, pool).await?.spec;
    if let Some(flag) = base
        .cluster
        .given
        .iter()
        .find(|g| !CLAIM_FLAGS.iter().any(|ok| g.starts_with(ok)))
    {
        return Err(Error::PoolFlagRefused {
            flag: flag.split(' ').next().unwrap_or(flag).to_string(),
            pool: pool.to_string(),
        }
        .into());
    }
    Ok(Request {
        cluster: spec.plan.settings(&base.cluster),
        pool: PoolRole::Claim {
            spec: Box::new(spec),
            wait_for_member,
        },
        ..base
    })
}

/// Pool `name`'s stored definition, or "no such pool" (exit 5).
pub async fn find<P: Pools>(provider: &P, name: &str) -> Result<StoredPool> {
    provider.pools(Some(name)).await?.pop().ok_or_else(|| {
        Error::PoolNotFound {
            pool: name.to_string(),
            place: provider.info().remote,
        }
        .into()
    })
}

/// Stores a new pool (or, with `replace`, a new plan for one that exists).
/// A cluster of the name is refused: `up --pool X` and `down X` would read
/// alike.
pub async fn define<P: Pools>(provider: &P, spec: &PoolSpec, replace: bool) -> Result<()> {
    if provider.lookup(&spec.name).await?.is_some() {
        return Err(Error::PoolNameIsCluster {
            pool: spec.name.clone(),
        }
        .into());
    }
    for _ in 0..5 {
        let existing = provider.pools(Some(&spec.name)).await?.pop();
        let version = match &existing {
            Some(stored) if !replace => {
                return Err(Error::PoolExists {
                    pool: spec.name.clone(),
                    size: stored.spec.size,
                }
                .into())
            }
            Some(stored) => Some(stored.version.as_str()),
            None => None,
        };
        if provider.store_pool(spec, version).await? {
            return Ok(());
        }
    }
    Err(Error::PoolBusy {
        pool: spec.name.clone(),
    }
    .into())
}

/// Sets pool `name`'s size, atomically: a change names the definition it
/// changes, and one that lost to another kip's reads it again. The size
/// before.
pub async fn resize<P: Pools>(provider: &P, name: &str, size: u32) -> Result<u32> {
    for _ in 0..5 {
        let stored = find(provider, name).await?;
        let before = stored.spec.size;
        let spec = PoolSpec {
            size,
            ..stored.spec
        };
        if provider.store_pool(&spec, Some(&stored.version)).await? {
            return Ok(before);
        }
    }
    Err(Error::PoolBusy {
        pool: name.to_string(),
    }
    .into())
}

/// Every pool, and every pool whose members outlived its definition,
/// tended (`kip gc`): what a killed claimer left and what is too old goes,
/// and what is missing is made.
pub async fn tend_all<P: Pools>(
    provider: &P,
    env: &crate::settings::Environment,
    printer: &crate::output::Printer,
) -> Result<()> {
    let mut names: std::collections::BTreeSet<String> = provider
        .pools(None)
        .await?
        .into_iter()
        .map(|p| p.spec.name)
        .collect();
    names.extend(
        provider
            .members(None, false)
            .await?
            .into_iter()
            .map(|m| m.pool),
    );
    for name in names {
        refill(provider, &name, env, printer).await?;
    }
    Ok(())
}

/// A pool as `kip pool list` shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolSummary {
    pub name: String,
    pub size: u32,
    pub ready: usize,
    pub creating: usize,
    /// Clusters claimed from it that exist now.
    pub claimed: usize,
    /// Members taken by a claim (or a deletion) under way.
    pub taken: usize,
    pub paused: bool,
    pub max_age: Option<String>,
    /// What its ready members hold now, in bytes (where the engine tells).
    pub memory_bytes: Option<u64>,
    pub plan: crate::pool::spec::PoolPlan,
    pub plan_hash: String,
    /// Why no member is made now (its snapshot is gone, or saved again).
    pub problem: Option<String>,
}

/// Each pool (or `name`'s) with its members counted; where members are
/// restored from a snapshot, whether it is there (on `engine`).
pub async fn summaries<P: Pools>(
    provider: &P,
    name: Option<&str>,
    engine: Option<&crate::provider::docker::DockerProvider>,
) -> Result<Vec<PoolSummary>> {
    let pools = provider.pools(name).await?;
    if let (Some(name), true) = (name, pools.is_empty()) {
        find(provider, name).await?;
    }
    let members = provider.members(name, true).await?;
    let clusters = provider.list().await?;
    let mut out = Vec::new();
    for stored in pools {
        let problem = match (&stored.spec.plan.snapshot, engine) {
            (Some(planned), Some(engine)) => {
                snapshot_problem(engine, &stored.spec.name, planned).await?
            }
            _ => None,
        };
        out.push(PoolSummary {
            problem,
            ..summary(stored.spec, &members, &clusters)
        });
    }
    Ok(out)
}

fn summary(
    spec: PoolSpec,
    members: &[MemberInfo],
    clusters: &[crate::provider::NodeInfo],
) -> PoolSummary {
    let own: Vec<&MemberInfo> = members.iter().filter(|m| m.pool == spec.name).collect();
    let count = |f: &dyn Fn(&MemberState) -> bool| own.iter().filter(|m| f(&m.state)).count();
    let ready: Vec<&&MemberInfo> = own
        .iter()
        .filter(|m| m.state == MemberState::Ready)
        .collect();
    PoolSummary {
        ready: ready.len(),
        creating: count(&|s| *s == MemberState::Making),
        taken: count(&|s| matches!(s, MemberState::Taken { .. })),
        claimed: clusters
            .iter()
            .filter(|c| c.labels.get(POOL_LABEL) == Some(&spec.name))
            .count(),
        memory_bytes: ready
            .iter()
            .map(|m| m.memory)
            .sum::<Option<u64>>()
            .filter(|_| !ready.is_empty()),
        paused: spec.paused,
        max_age: spec
            .max_age
            .map(|d| humantime::format_duration(d).to_string()),
        plan_hash: spec.plan.hash(),
        name: spec.name,
        size: spec.size,
        plan: spec.plan,
        problem: None,
    }
}
