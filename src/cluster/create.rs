//! Making a cluster: a [`Recipe`] (an ordered list of steps, kind's create
//! actions) run by one runner that applies what each step's stage means,
//! the same for every step: a signal ends a wait at once, never cuts the
//! making of the node short, and undoes what this run made; a failure once
//! the node is made writes the logs bundle (`--logs-dir`) and removes the
//! node (unless `--keep-on-failure`). `up` and `run` are two recipes.

use super::existing::wait_for_other_up;
use super::handover::UpOutcome;
use super::signals::Signals;
use super::steps::{
    restore_steps, ConnectRegistries, Context, CreateCluster, DindImage, ExportKubeconfig, Flow,
    HostPorts, Plan, Provision, Recreate, RefuseExisting, RefuseTaken, ReuseExisting, SeedImage,
    Stage, StartEngine, Step, WaitReady,
};
use super::Request;
use crate::error::Error;
use crate::kubeconfig::{self, KubeconfigTarget};
use crate::output::Printer;
use crate::provider::docker::DockerProvider;
use crate::provider::Provider;
use crate::settings::Environment;
use anyhow::Result;
use std::time::Instant;

/// A way to get a cluster: its steps, in order, and what to do when another
/// kip takes its name while this one makes the node.
pub struct Recipe<P: Provider> {
    steps: Vec<Box<dyn Step<P>>>,
    when_taken: WhenTaken,
}

/// What a run does when another kip made the node of its name first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WhenTaken {
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
        when_taken: WhenTaken::Refuse,
    }
}

/// Plan, the name, then the node made and its engine given the kind node
/// image (from the engine's seed, else streamed), the cluster created,
/// waited for and handed over.
fn make<P: Provider>(name: Box<dyn Step<P>>, when_taken: WhenTaken) -> Recipe<P> {
    let engine = SeedImage::default();
    Recipe {
        steps: vec![
            Box::new(Plan),
            name,
            Box::new(ConnectRegistries),
            Box::new(HostPorts),
            Box::new(DindImage),
            Box::new(engine.on_host()),
            Box::new(Provision),
            Box::new(StartEngine),
            Box::new(engine.in_node()),
            Box::new(CreateCluster),
            Box::new(WaitReady),
            Box::new(ExportKubeconfig),
        ],
        when_taken,
    }
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
    let started = Instant::now();
    // Listen before anything is created: from here on, Ctrl-C or SIGTERM
    // means "undo what this run made", never a half-made cluster.
    let mut signals = Signals::listen()?;
    let target = KubeconfigTarget::resolve(&request.kubeconfig)?;
    // Refuse a kubeconfig kip cannot read or write before creating anything.
    kubeconfig::check_writable(&target.path)?;
    let mut cx = Context {
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
    };
    let mut made = false;
    for step in &recipe.steps {
        let stage = step.stage();
        if stage == Stage::Make {
            cx.deadline = tokio::time::Instant::now() + request.cluster.wait;
        }
        let flow = match run_step(step.as_ref(), &mut cx, &mut signals).await {
            Ok(flow) => flow,
            Err(err) if Error::is(&err, |e| matches!(e, Error::NameTaken { .. })) => {
                // Another kip made the node: nothing here is this run's to
                // remove.
                return match recipe.when_taken {
                    WhenTaken::WaitForIt => waiting(&cx, cx.deadline, &mut signals).await,
                    WhenTaken::Refuse => Err(super::steps::appeared(&request.name)),
                };
            }
            Err(err) if made || stage == Stage::Make => return Err(undo(&cx, err).await),
            Err(err) => return Err(err),
        };
        made = made || stage == Stage::Make;
        match flow {
            Flow::Next => {}
            Flow::Done(outcome) => return Ok(*outcome),
            Flow::WaitForOther(deadline) => return waiting(&cx, deadline, &mut signals).await,
        }
    }
    unreachable!("every recipe ends by handing the cluster over")
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
    deadline: tokio::time::Instant,
    signals: &mut Signals,
) -> Result<UpOutcome> {
    tokio::select! {
        ready = wait_for_other_up(cx.provider, cx.request, cx.printer, &cx.target, cx.started, deadline) => ready,
        () = signals.received() => Err(Error::Interrupted.into()),
    }
}

/// After a failure (or a signal) once the node is made: the logs bundle if
/// asked for, and what this run made removed unless it is to be kept.
async fn undo<P: Provider>(cx: &Context<'_, P>, err: anyhow::Error) -> anyhow::Error {
    let (request, printer) = (cx.request, cx.printer);
    if Error::is(&err, |e| *e == Error::Interrupted) {
        printer
            .step("interrupted", "Interrupted")
            .failed("Interrupted");
    }
    if let Some(dir) = &request.cluster.logs_dir {
        super::logs::write_bundle(cx.provider, &request.name, dir, printer).await;
    }
    let node = &cx.plan().node;
    let name = &request.name;
    if request.cluster.keep_on_failure {
        printer.info(&format!(
            "Kept node {} for debugging (--keep-on-failure): `kip logs {name}`, `kip exec {name} -- sh`, \
             then `kip down {name}`",
            node.name
        ));
        return err;
    }
    match cx.provider.delete(name).await {
        Ok(deleted) => {
            let mut removed = Vec::new();
            if deleted.node {
                removed.push(format!("node {}", node.name));
            }
            if deleted.volume {
                removed.push(format!("volume {}", node.volume.name));
            }
            for other in &deleted.other {
                removed.push(format!("{other} {}", node.name));
            }
            if !removed.is_empty() {
                printer.info(&format!(
                    "Removed what this run created: {}",
                    removed.join(" and ")
                ));
            }
        }
        Err(e) => printer.warn(&format!(
            "could not remove what this run created ({e:#}); remove it with `kip down {name}`"
        )),
    }
    err
}
