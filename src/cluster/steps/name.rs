//! The cluster's name: what `up` does when a cluster of that name exists
//! (re-exports it, waits for the run still making it, or deletes it with
//! `--recreate`), and what `run` does (refuses it: it deletes only what it
//! made). A free name is then checked for objects kip did not make.

use super::{Context, Flow, Stage, Step};
use crate::cluster::condition::{making, start_again_would_do, Making};
use crate::cluster::existing::{reuse, Maker};
use crate::error::Error;
use crate::kubeconfig;
use crate::names;
use crate::provider::{Node, NodeInfo, Provider};
use anyhow::Result;
use futures_util::future::LocalBoxFuture;

/// `kip up NAME`: a cluster of that name is used, not made again.
pub struct ReuseExisting;

/// `kip up NAME --recreate`: a cluster of that name is deleted first.
pub struct Recreate;

/// `kip run`: a cluster of that name is another's, and refused.
pub struct RefuseExisting;

impl<P: Provider> Step<P> for ReuseExisting {
    /// A re-export runs to its end (it may start a remote cluster's
    /// port-forward); waiting for another run is the runner's, which a
    /// signal ends at once.
    fn stage(&self) -> Stage {
        Stage::Prepare
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let (request, printer) = (cx.request, cx.printer);
            let Some(existing) = cx.provider.lookup(&request.name).await? else {
                cx.provider.refuse_foreign(&request.name).await?;
                return Ok(Flow::Next);
            };
            // Another `kip up` of this name still making the cluster (its
            // node not started, or its bootstrap not done): wait for that
            // cluster as a run that lost the name would, instead of
            // calling it broken.
            let wait = request.cluster.wait;
            let (maker, said) = match making(&existing, wait).await {
                Making::UnderWay(how_far) => (
                    Maker::OtherUp,
                    format!("is being created by another `kip up` ({how_far})"),
                ),
                Making::Restarting(how_far) => (
                    Maker::Restart,
                    format!("is starting again: its node was restarted ({how_far})"),
                ),
                Making::Over => {
                    if start_again_would_do(&existing).await {
                        return Err(stopped(cx, existing.info()));
                    }
                    let outcome =
                        reuse(request, printer, &existing, cx.target(), cx.started).await?;
                    return Ok(Flow::Done(Box::new(outcome)));
                }
            };
            printer.info(&format!(
                "Cluster {} {said}; waiting for it (up to {})",
                request.name,
                humantime::format_duration(wait)
            ));
            Ok(Flow::WaitForOther(
                tokio::time::Instant::now() + wait,
                maker,
            ))
        })
    }
}

/// A stopped node: `docker start` (or the remote equivalent) brings it
/// back, named before `--recreate`, which throws the cluster away.
fn stopped<P: Provider>(cx: &Context<'_, P>, info: &NodeInfo) -> anyhow::Error {
    Error::NodeNotRunning {
        cluster: cx.request.name.clone(),
        status: info.status.clone(),
        remote: cx.provider.info().remote.is_some(),
    }
    .into()
}

impl<P: Provider> Step<P> for Recreate {
    /// A deletion is never cut short.
    fn stage(&self) -> Stage {
        Stage::Prepare
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let name = &cx.request.name;
            if cx.provider.lookup(name).await?.is_some() {
                let step = cx.printer.step(
                    "cluster-deleted",
                    &format!("Deleting the existing cluster {name} (--recreate)"),
                );
                cx.provider.delete(name).await?;
                let context = names::context_name(name);
                kubeconfig::update(&cx.target().path, |doc| {
                    kubeconfig::remove_entries(doc, &context)
                })?;
                step.done(&format!("Deleted the existing cluster {name}"));
            }
            cx.provider.refuse_foreign(name).await?;
            Ok(Flow::Next)
        })
    }
}

impl<P: Provider> Step<P> for RefuseExisting {
    fn stage(&self) -> Stage {
        Stage::Look
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let name = &cx.request.name;
            if cx.provider.lookup(name).await?.is_some() {
                return Err(appeared(name));
            }
            cx.provider.refuse_foreign(name).await?;
            Ok(Flow::Next)
        })
    }
}

/// Another kip made the cluster a run that must make its own was about to
/// make: it is not this run's, so nothing of it is touched.
pub fn appeared(name: &str) -> anyhow::Error {
    Error::NameAppeared {
        name: name.to_string(),
    }
    .into()
}
