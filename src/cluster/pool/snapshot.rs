//! Pools whose members are restored from a snapshot (`kip pool create
//! --from SNAPSHOT`, local engine): the snapshot checked when the pool is
//! defined as `up --from` checks it, its identity recorded in the plan (a
//! snapshot removed and saved again under the name is another plan), no
//! member made from a snapshot that is gone or is another save than the
//! plan's, and a snapshot a pool uses kept from `kip snapshot rm`.

use crate::error::Error;
use crate::node::image::name_in_node;
use crate::node::IptablesMode;
use crate::pool::spec::{PlanSnapshot, PoolSpec};
use crate::provider::docker::DockerProvider;
use crate::provider::pool::Pools;
use crate::provider::Provider;
use crate::snapshot::check::{differences, Target};
use anyhow::Result;
use std::time::SystemTime;

/// `spec` with its members restored from snapshot `name`: refused as `up
/// --from` refuses it (unknown: exit 5; one this engine or the images
/// asked for cannot run: exit 3, each difference named); the plan records
/// which save of the name it is, and the images are the snapshot's.
pub async fn from_snapshot(
    engine: Option<&DockerProvider>,
    mut spec: PoolSpec,
    name: &str,
) -> Result<PoolSpec> {
    let engine = engine.ok_or(Error::PoolsLocalOnly)?;
    let meta = crate::snapshot::volume::find(engine, name).await?;
    let target = target(engine, &spec).await?;
    let found = differences(&meta, &target);
    if !found.is_empty() {
        return Err(Error::SnapshotRefused {
            name: name.to_string(),
            differences: found,
        }
        .into());
    }
    spec.plan.image = None;
    spec.plan.dind_image = None;
    spec.plan.snapshot = Some(PlanSnapshot::of(&meta));
    Ok(spec)
}

/// What the pool's members would run on, and the images asked for.
async fn target(engine: &DockerProvider, spec: &PoolSpec) -> Result<Target> {
    let plan = &spec.plan;
    let network = plan.network.as_deref().unwrap_or("bridge");
    let mtu = plan
        .mtu
        .or(engine.network_mtu(network).await?.flatten())
        .unwrap_or(1500);
    Ok(Target {
        kind_image: plan.image.as_deref().map(name_in_node),
        dind_image: plan.dind_image.clone(),
        mtu,
        cgroup_v2: engine.facts().await?.cgroup_v2,
        iptables: match plan.iptables {
            IptablesMode::Auto => None,
            IptablesMode::Legacy => Some("legacy".into()),
            IptablesMode::Nft => Some("nft".into()),
        },
        arch: engine.architecture().await?,
        now: SystemTime::now(),
        // Refused by name before (`kip pool create` exits 2).
        making_flags: Vec::new(),
    })
}

/// Why no member of pool `pool` can be restored now: its snapshot is gone,
/// or the name holds another save than the plan's (None: it can).
pub async fn snapshot_problem(
    engine: &DockerProvider,
    pool: &str,
    planned: &PlanSnapshot,
) -> Result<Option<String>> {
    let name = &planned.name;
    let found = match crate::snapshot::volume::find(engine, name).await {
        Ok(meta) => PlanSnapshot::of(&meta),
        Err(e) if Error::is(&e, |e| matches!(e, Error::SnapshotNotFound { .. })) => {
            return Ok(Some(format!(
                "its snapshot {name} is gone, so no member is made: `kip pool rm {pool}`, or \
                 `kip pool create {pool} --replace --from SNAPSHOT` for another"
            )))
        }
        Err(e) => return Err(e),
    };
    Ok((found.id != planned.id).then(|| {
        format!(
            "its snapshot {name} was saved again (at {}) after the pool was defined (from the save \
             at {}), so no member is made: `kip pool create {pool} --replace --from {name}` takes \
             the new one (members of the old are replaced)",
            found.created_at, planned.created_at
        )
    }))
}

/// The pools whose members are restored from snapshot `name`.
pub async fn pools_using<P: Pools>(provider: &P, name: &str) -> Result<Vec<String>> {
    Ok(provider
        .pools(None)
        .await?
        .into_iter()
        .filter(|p| {
            p.spec
                .plan
                .snapshot
                .as_ref()
                .is_some_and(|s| s.name == name)
        })
        .map(|p| p.spec.name)
        .collect())
}

/// Refuses (exit 3, naming the pools) to remove a snapshot a pool's
/// members are restored from: its refills would fail from then on.
pub async fn refuse_used<P: Pools>(provider: &P, names: &[String]) -> Result<()> {
    for name in names {
        let pools = pools_using(provider, name).await?;
        if !pools.is_empty() {
            return Err(Error::SnapshotUsedByPool {
                name: name.clone(),
                pools,
            }
            .into());
        }
    }
    Ok(())
}
