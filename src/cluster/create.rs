//! Making a cluster: a [`Recipe`] (an ordered list of steps, kind's create
//! actions) run by one runner that applies what each step's stage means,
//! the same for every step: a signal ends a wait at once, never cuts the
//! making of the node short, and undoes what this run made; a failure once
//! the node is made writes the logs bundle (`--logs-dir`) and removes the
//! node (unless `--keep-on-failure`). `up`, `run` and a restore from a
//! snapshot (local, remote) are recipes here; a claim from a pool (with the
//! steps that make the cluster fresh when no member is ready) and the
//! making of a pool's member are the pool's (`pool::recipes`).

use super::existing::{wait_for_other_up, Maker};
use super::handover::UpOutcome;
use super::signals::Signals;
use super::steps::{
    remote_restore_steps, restore_steps, ConnectRegistries, Context, CreateCluster, DindImage,
    ExportKubeconfig, Flow, HostPorts, Plan, Provision, Recreate, RefuseExisting, RefuseTaken,
    ReuseExisting, SeedImage, Stage, StartEngine, Step, WaitReady,
};
use super::undo::undo;
use super::Request;
use crate::error::Error;
use crate::kubeconfig::{self, KubeconfigTarget};
use crate::output::Printer;
use crate::provider::docker::DockerProvider;
use crate::provider::kube::KubeProvider;
use crate::provider::Provider;
use crate::settings::Environment;
use anyhow::Result;
use std::time::Instant;

/// A way to get a cluster: its steps, in order, the steps that make it
/// fresh when a claim finds no ready member, what to do when another kip
/// takes its name while this one makes the node, and whether it hands a
/// kubeconfig over (a pool's member does not).
pub struct Recipe<P: Provider> {
    pub(in crate::cluster) steps: Vec<Box<dyn Step<P>>>,
    pub(in crate::cluster) fresh: Vec<Box<dyn Step<P>>>,
    pub(in crate::cluster) when_taken: WhenTaken,
    pub(in crate::cluster) hands_over: bool,
}

/// What a run does when another kip made the node of its name first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::cluster) enum WhenTaken {
    /// Waits for that cluster, as a second `kip up` would (`up`).
    WaitForIt,
    /// Refuses it: it is not this run's (`run`, which deletes what it made).
    Refuse,
}

/// `kip up NAME`: a running cluster of that name re-exported, or one in the
/// making waited for, else made.
pub fn up<P: Provider>() -> Recipe<P> {
    make(Box::new(ReuseExisting), WhenTaken::WaitForIt)
}

/// `kip up NAME --recreate`: a cluster of that name deleted, then made.
pub fn recreate<P: Provider>() -> Recipe<P> {
    make(Box::new(Recreate), WhenTaken::WaitForIt)
}

/// `kip run`: a cluster of its own, made (it deletes what it made, so a
/// cluster of that name, even one that appears as it makes its own, is
/// another's and refused).
pub fn run<P: Provider>() -> Recipe<P> {
    make(Box::new(RefuseExisting), WhenTaken::Refuse)
}

/// `kip up NAME --from SNAPSHOT`: a new cluster from the snapshot (local
/// mode): the name refused if taken, the snapshot checked before anything
/// is made, the node's volume a copy of it; its bootstrap restarts the
/// kind node in it, as on a restart. No kind node image to bring.
pub fn restore(snapshot: &str) -> Recipe<DockerProvider> {
    let (check, provision) = restore_steps(snapshot);
    Recipe {
        steps: vec![
            Box::new(Plan),
            Box::new(RefuseTaken),
            Box::new(check),
            Box::new(DindImage),
            Box::new(provision),
            Box::new(StartEngine),
            Box::new(CreateCluster),
            Box::new(WaitReady),
            Box::new(ExportKubeconfig),
        ],
        fresh: Vec::new(),
        when_taken: WhenTaken::Refuse,
        hands_over: true,
    }
}

/// `kip up NEW --remote --from SNAPSHOT`: as [`restore`], the snapshot
/// being on the local engine (the place's host) and the node a Pod, whose
/// bootstrap waits for the snapshot kip streams into it.
pub fn restore_remote(snapshot: &str) -> Recipe<KubeProvider> {
    let (check, stream) = remote_restore_steps(snapshot);
    Recipe {
        steps: vec![
            Box::new(Plan),
            Box::new(RefuseTaken),
            Box::new(check),
            Box::new(DindImage),
            Box::new(Provision),
            Box::new(stream),
            Box::new(StartEngine),
            Box::new(CreateCluster),
            Box::new(WaitReady),
            Box::new(ExportKubeconfig),
        ],
        fresh: Vec::new(),
        when_taken: WhenTaken::Refuse,
        hands_over: true,
    }
}

/// `kip up NEW --from SNAPSHOT --dry-run`: the restore recipe's steps
/// before it makes anything (the plan, the name refused if taken, the
/// snapshot found and checked against this engine and these flags, which
/// only read), run as a restore runs them; the snapshot and the node plan
/// they arrive at. Nothing is made.
pub async fn restore_plan(
    snapshot: &str,
    request: &Request,
    place: Place<'_, DockerProvider>,
) -> Result<(crate::snapshot::Metadata, crate::node::NodePlan)> {
    let (check, _) = restore_steps(snapshot);
    let mut cx = context(request, place, None, Instant::now());
    let steps: [&dyn Step<DockerProvider>; 3] = [&Plan, &RefuseTaken, &check];
    for step in steps {
        step.run(&mut cx).await?;
    }
    let meta = check.found().expect("the check step found the snapshot");
    Ok((meta, cx.plan.take().expect("the plan step ran")))
}

/// Plan, the name, then the node made and its engine given the kind node
/// image (from the engine's seed, else streamed), the cluster created,
/// waited for and handed over.
fn make<P: Provider>(name: Box<dyn Step<P>>, when_taken: WhenTaken) -> Recipe<P> {
    let mut steps = vec![Box::new(Plan) as Box<dyn Step<P>>, name];
    steps.extend(making());
    steps.extend([
        Box::new(WaitReady) as Box<dyn Step<P>>,
        Box::new(ExportKubeconfig),
    ]);
    Recipe {
        steps,
        fresh: Vec::new(),
        when_taken,
        hands_over: true,
    }
}

/// The node made and its engine given the kind node image (from the
/// engine's seed, else streamed), then the cluster created in it.
pub(in crate::cluster) fn making<P: Provider>() -> Vec<Box<dyn Step<P>>> {
    let engine = SeedImage::default();
    vec![
        Box::new(ConnectRegistries),
        Box::new(HostPorts),
        Box::new(DindImage),
        Box::new(engine.on_host()),
        Box::new(Provision),
        Box::new(StartEngine),
        Box::new(engine.in_node()),
        Box::new(CreateCluster),
    ]
}

/// Where and with what a recipe runs.
pub struct Place<'a, P: Provider> {
    pub provider: &'a P,
    /// The host's engine the kind node image comes from: the provider
    /// itself in local mode; in remote mode, one if it answers.
    pub host: Option<&'a DockerProvider>,
    pub printer: &'a Printer,
    pub env: &'a Environment,
}

/// Gets the cluster `request` asks for by `recipe`.
pub async fn create<P: Provider>(
    recipe: Recipe<P>,
    request: &Request,
    place: Place<'_, P>,
) -> Result<UpOutcome> {
    let outcome = run_recipe(recipe, request, place).await?;
    Ok(outcome.expect("a recipe that hands the cluster over ends with it"))
}

/// Makes a pool's member by `recipe` (see [`member`]): nothing is handed over.
pub async fn make_member<P: Provider>(
    recipe: Recipe<P>,
    request: &Request,
    place: Place<'_, P>,
) -> Result<()> {
    run_recipe(recipe, request, place).await.map(|_| ())
}

/// Runs `recipe`'s steps for `request`; the cluster handed over, if the
/// recipe hands one over.
async fn run_recipe<P: Provider>(
    recipe: Recipe<P>,
    request: &Request,
    place: Place<'_, P>,
) -> Result<Option<UpOutcome>> {
    let started = Instant::now();
    // Listen before anything is created: from here on, Ctrl-C or SIGTERM
    // means "undo what this run made", never a half-made cluster.
    let mut signals = Signals::listen()?;
    let target = handover_target(&recipe, request)?;
    let mut cx = context(request, place, target, started);
    let Recipe {
        mut steps,
        mut fresh,
        when_taken,
        ..
    } = recipe;
    let mut made = false;
    let mut at = 0;
    while let Some(step) = steps.get(at) {
        let stage = step.stage();
        if stage == Stage::Make {
            cx.deadline = tokio::time::Instant::now() + request.cluster.wait;
        }
        let ran = run_step(step.as_ref(), &mut cx, &mut signals).await;
        made = made || stage == Stage::Make;
        let flow = match ran {
            Ok(flow) => flow,
            Err(err) => {
                return failed(&cx, err, made, when_taken, &mut signals)
                    .await
                    .map(Some)
            }
        };
        match flow {
            Flow::Next => at += 1,
            Flow::Done(outcome) => return Ok(Some(*outcome)),
            Flow::WaitForOther(deadline, maker) => {
                return waiting(&cx, (deadline, maker), &mut signals)
                    .await
                    .map(Some)
            }
            // No member to claim (the claim made nothing): the cluster is
            // made from the pool's plan.
            Flow::Fresh => {
                made = false;
                steps = std::mem::take(&mut fresh);
                at = 0;
            }
            // Others took what the step before waited for: wait again.
            Flow::WaitAgain => {
                made = false;
                at -= 1;
            }
        }
    }
    Ok(cx.outcome.take())
}

/// The kubeconfig a recipe that hands the cluster over writes it to,
/// refused before anything is created if kip cannot read or write it.
fn handover_target<P: Provider>(
    recipe: &Recipe<P>,
    request: &Request,
) -> Result<Option<KubeconfigTarget>> {
    if !recipe.hands_over {
        return Ok(None);
    }
    let target = KubeconfigTarget::resolve(&request.kubeconfig)?;
    kubeconfig::check_writable(&target.path)?;
    Ok(Some(target))
}

/// A step failed: when another kip made the node, its cluster waited for
/// or refused as the recipe says (nothing here is this run's to remove);
/// else the failure, with what this run `made` undone.
async fn failed<P: Provider>(
    cx: &Context<'_, P>,
    err: anyhow::Error,
    made: bool,
    when_taken: WhenTaken,
    signals: &mut Signals,
) -> Result<UpOutcome> {
    if Error::is(&err, |e| matches!(e, Error::NameTaken { .. })) {
        return match when_taken {
            WhenTaken::WaitForIt => waiting(cx, (cx.deadline, Maker::OtherUp), signals).await,
            WhenTaken::Refuse => Err(super::steps::appeared(&cx.request.name)),
        };
    }
    if made {
        return Err(undo(cx, err).await);
    }
    Err(err)
}

/// A run's context before its first step.
fn context<'a, P: Provider>(
    request: &'a Request,
    place: Place<'a, P>,
    target: Option<KubeconfigTarget>,
    started: Instant,
) -> Context<'a, P> {
    Context {
        provider: place.provider,
        host: place.host,
        printer: place.printer,
        env: place.env,
        request,
        target,
        started,
        deadline: tokio::time::Instant::now() + request.cluster.wait,
        facts: None,
        registries: Default::default(),
        plan: None,
        node: None,
        bootstrap: None,
        ready: None,
        claimed: None,
        outcome: None,
    }
}

/// Runs one step as its stage says.
async fn run_step<P: Provider>(
    step: &dyn Step<P>,
    cx: &mut Context<'_, P>,
    signals: &mut Signals,
) -> Result<Flow> {
    match step.stage() {
        Stage::Look | Stage::Finish => tokio::select! {
            flow = step.run(cx) => flow,
            () = signals.received() => Err(Error::Interrupted.into()),
        },
        Stage::Prepare | Stage::Report => step.run(cx).await,
        Stage::Make => {
            signals.check()?;
            let flow = step.run(cx).await?;
            signals.check()?;
            Ok(flow)
        }
    }
}

/// Waits (until `deadline`) for the cluster another `kip up` of this name
/// is making; a signal ends the wait at once.
async fn waiting<P: Provider>(
    cx: &Context<'_, P>,
    waited: (tokio::time::Instant, Maker),
    signals: &mut Signals,
) -> Result<UpOutcome> {
    tokio::select! {
        ready = wait_for_other_up(cx.provider, cx.request, cx.printer, cx.target(), cx.started, waited) => ready,
        () = signals.received() => Err(Error::Interrupted.into()),
    }
}
