//! The pool's recipes: a claim (`up --pool`, `run --pool`) and the making
//! of a member, each from the create recipe's steps, or, for a pool whose
//! members are restored from a snapshot (`pool create --from`), from the
//! restore recipe's.

use crate::cluster::create::{create, make_member, making, Place, Recipe, WhenTaken};
use crate::cluster::steps::{
    restore_steps, AwaitMember, Claim, CreateCluster, DindImage, ExportKubeconfig, MarkReady, Plan,
    Provision, Refill, RefuseExisting, ReuseExisting, SeedOnly, StartEngine, Step, WaitNodes,
    WaitReady,
};
use crate::cluster::{PoolRole, Request, UpOutcome};
use crate::error::Error;
use crate::pool::spec::PoolSpec;
use crate::provider::docker::DockerProvider;
use crate::provider::pool::Pools;
use anyhow::Result;

/// Claims a member of the pool `request` names (`refuse`: the name of a
/// cluster that exists is refused, as `run` does) by [`claim`]'s recipe;
/// a pool restored from a snapshot claims on the local engine, the place
/// its snapshot is.
pub async fn claim_member<P: Pools>(
    request: &Request,
    refuse: bool,
    place: Place<'_, P>,
) -> Result<UpOutcome> {
    let PoolRole::Claim { spec, .. } = &request.pool else {
        unreachable!("a claim request names its pool");
    };
    let Some(snapshot) = &spec.plan.snapshot else {
        return create(claim(refuse, making()), request, place).await;
    };
    create(
        claim(refuse, restoring(&snapshot.name)),
        request,
        on_engine(place)?,
    )
    .await
}

/// `kip up NAME --pool POOL` (`run`: `refuse` the name): a ready member
/// of the pool claimed as NAME, waited for (its API server, then its
/// nodes: a member that was frozen needs a moment) and handed over, the
/// pool refilled behind it; with no member ready, NAME made fresh from the
/// pool's plan by the `made` steps.
fn claim<P: Pools>(refuse: bool, made: Vec<Box<dyn Step<P>>>) -> Recipe<P> {
    let (name, when_taken): (Box<dyn Step<P>>, _) = if refuse {
        (Box::new(RefuseExisting), WhenTaken::Refuse)
    } else {
        (Box::new(ReuseExisting), WhenTaken::WaitForIt)
    };
    let mut fresh = vec![Box::new(Plan) as Box<dyn Step<P>>];
    fresh.extend(made);
    fresh.extend([
        Box::new(WaitReady) as Box<dyn Step<P>>,
        Box::new(ExportKubeconfig),
        Box::new(Refill),
    ]);
    Recipe {
        steps: vec![
            name,
            Box::new(AwaitMember),
            Box::new(Claim),
            Box::new(WaitReady),
            Box::new(WaitNodes),
            Box::new(ExportKubeconfig),
            Box::new(Refill),
        ],
        fresh,
        when_taken,
        hands_over: true,
    }
}

/// Makes a member of `spec`'s pool by [`member`]'s recipe; a member
/// restored from a snapshot is made on the local engine (`host`), the
/// place its snapshot is. Where members ready themselves only their
/// objects are made, with the outer node's seed of the image the pool
/// recorded.
pub async fn make_pool_member<P: Pools>(
    request: &Request,
    spec: &PoolSpec,
    objects_only: bool,
    place: Place<'_, P>,
) -> Result<()> {
    let Some(snapshot) = spec.plan.snapshot.as_ref().map(|s| s.name.as_str()) else {
        let made = if objects_only {
            let mut made = vec![Box::new(DindImage) as Box<dyn Step<P>>];
            if let Some(id) = &spec.plan.kind_image_id {
                made.push(Box::new(SeedOnly {
                    kind_image_id: id.clone(),
                }));
            }
            made.push(Box::new(Provision));
            made
        } else {
            making()
        };
        return make_member(member(objects_only, made), request, place).await;
    };
    make_member(
        member(false, restoring(snapshot)),
        request,
        on_engine(place)?,
    )
    .await
}

/// A pool's member, made under its key by the `made` steps and marked
/// ready once its API server answers and its nodes are Ready (frozen first
/// for a `--paused` pool). Where members become ready by themselves
/// (remote), only its objects are made.
fn member<P: Pools>(objects_only: bool, made: Vec<Box<dyn Step<P>>>) -> Recipe<P> {
    let mut steps = vec![Box::new(Plan) as Box<dyn Step<P>>, Box::new(RefuseExisting)];
    steps.extend(made);
    if !objects_only {
        // Offered once every node is Ready, not only the API server: a
        // claim then waits for nothing (measured on real kind: a member
        // offered at /readyz cost its first claimer 6.6 s of NotReady).
        steps.extend([
            Box::new(WaitReady) as Box<dyn Step<P>>,
            Box::new(WaitNodes),
            Box::new(MarkReady),
        ]);
    }
    Recipe {
        steps,
        fresh: Vec::new(),
        when_taken: WhenTaken::Refuse,
        hands_over: false,
    }
}

/// The restore recipe's making steps: the snapshot checked, the node made
/// with its volume a copy of it, its cluster started again.
fn restoring(snapshot: &str) -> Vec<Box<dyn Step<DockerProvider>>> {
    let (check, provision) = restore_steps(snapshot);
    vec![
        Box::new(check),
        Box::new(DindImage),
        Box::new(provision),
        Box::new(StartEngine),
        Box::new(CreateCluster),
    ]
}

/// Where a pool restored from a snapshot works: the local engine (`host`),
/// the place its snapshot is.
fn on_engine<'a, P: Pools>(place: Place<'a, P>) -> Result<Place<'a, DockerProvider>> {
    let engine = place.host.ok_or(Error::PoolsLocalOnly)?;
    Ok(Place {
        provider: engine,
        host: Some(engine),
        printer: place.printer,
        env: place.env,
    })
}
