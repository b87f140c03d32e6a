//! `kip up` of a cluster that exists: a healthy one's kubeconfig is
//! exported again, a broken one explained; and the cluster another `kip up`
//! of the same name is still creating (started at the same time or
//! earlier), waited for. Where a cluster stands is `condition`'s to say.

use super::condition::{failed, ready_as_published, stopped_kind_nodes, usable};
use super::handover::{warn_ignored, write_kubeconfig, UpOutcome};
use super::Request;
use crate::error::Error;
use crate::kubeconfig::KubeconfigTarget;
use crate::names;
use crate::output::Printer;
use crate::provider::{Node, Provider};
use anyhow::Result;
use std::time::{Duration, Instant};

/// `kip up` on an existing cluster: re-export a healthy one, explain a
/// broken one.
pub async fn reuse(
    request: &Request,
    printer: &Printer,
    node: &impl Node,
    target: &KubeconfigTarget,
    started: Instant,
) -> Result<UpOutcome> {
    let (creds, endpoint) = match usable(node).await? {
        Ok(usable) => usable,
        Err(problem) => {
            // Killed kind nodes inside: started again, not recreated.
            let nodes = stopped_kind_nodes(node).await;
            if nodes.is_empty() {
                return Err(broken(request, &problem));
            }
            return Err(Error::KindNodesStopped {
                cluster: request.name.clone(),
                nodes,
            }
            .into());
        }
    };
    warn_ignored(request, printer, node.info());
    let written = write_kubeconfig(request, printer, target, &creds);
    printer.info(&if written {
        format!(
            "Cluster {} is already running; its kubeconfig was re-exported (context {})",
            request.name,
            names::context_name(&request.name)
        )
    } else {
        format!("Cluster {} is already running", request.name)
    });
    Ok(UpOutcome::new(
        request, &endpoint, target, true, written, started,
    ))
}

/// A cluster that exists but cannot be used, and what to do about it.
fn broken(request: &Request, problem: &str) -> anyhow::Error {
    Error::Broken {
        name: request.name.clone(),
        problem: problem.to_string(),
    }
    .into()
}

/// How long a verdict on the other run must hold before it is believed:
/// gone for a moment is the other run retrying with another security
/// profile; failed for a moment may be a node still being looked at.
const SETTLED: Duration = Duration::from_secs(3);

/// How long a claimed name may stay without a node before the claim is
/// called a leftover.
const NO_NODE: Duration = Duration::from_secs(20);

/// What a run waiting for another one has seen of it.
struct OtherRun {
    seen: bool,
    gone_since: Option<Instant>,
    failed_since: Option<Instant>,
    waiting: Instant,
}

impl OtherRun {
    /// Takes in what the other run's node looks like now; an error when it
    /// will not become a cluster: it failed and removed its node, it kept a
    /// broken one, or it never made one.
    async fn observe(&mut self, request: &Request, node: Option<&impl Node>) -> Result<()> {
        let Some(node) = node else {
            if self.seen && self.gone_since.get_or_insert_with(Instant::now).elapsed() > SETTLED {
                return Err(Error::OtherUpFailed {
                    name: request.name.clone(),
                }
                .into());
            }
            if !self.seen && self.waiting.elapsed() > NO_NODE {
                return Err(Error::OtherUpNoNode {
                    name: request.name.clone(),
                }
                .into());
            }
            return Ok(());
        };
        self.seen = true;
        self.gone_since = None;
        match failed(node).await {
            Some(problem)
                if self.failed_since.get_or_insert_with(Instant::now).elapsed() > SETTLED =>
            {
                Err(broken(request, &problem))
            }
            Some(_) => Ok(()),
            None => {
                self.failed_since = None;
                Ok(())
            }
        }
    }
}

/// Who is making the cluster a run waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Maker {
    /// Another `kip up` of the name.
    OtherUp,
    /// The node itself, started again (`docker start`, a reboot).
    Restart,
}

/// Another `kip up` of this name (or the node, started again) is making
/// the cluster: wait until it is ready and export its kubeconfig, as a
/// second `kip up` would afterwards. If that run fails and removes the
/// node, say so.
pub async fn wait_for_other_up(
    provider: &impl Provider,
    request: &Request,
    printer: &Printer,
    target: &KubeconfigTarget,
    started: Instant,
    waited: (tokio::time::Instant, Maker),
) -> Result<UpOutcome> {
    let (deadline, maker) = waited;
    let step = printer.step(
        "api-ready",
        match maker {
            Maker::OtherUp => "Waiting for the cluster the other `kip up` creates",
            Maker::Restart => "Waiting for the restarted node to make its cluster again",
        },
    );
    let mut other = OtherRun {
        seen: false,
        gone_since: None,
        failed_since: None,
        waiting: Instant::now(),
    };
    loop {
        let node = provider.lookup(&request.name).await?;
        if let Some(node) = &node {
            if let Some((creds, endpoint)) = ready_as_published(node).await {
                step.done(&format!("API server ready at {}", endpoint.server_url()));
                warn_ignored(request, printer, node.info());
                let written = write_kubeconfig(request, printer, target, &creds);
                printer.info(&format!(
                    "Cluster {} is ready ({}) in {:.1}s: API server {}",
                    request.name,
                    match maker {
                        Maker::OtherUp => "made by another `kip up` at the same time",
                        Maker::Restart => "again, after its node was restarted",
                    },
                    started.elapsed().as_secs_f64(),
                    endpoint.server_url()
                ));
                return Ok(UpOutcome::new(
                    request, &endpoint, target, true, written, started,
                ));
            }
        }
        other.observe(request, node.as_ref()).await?;
        if tokio::time::Instant::now() >= deadline {
            let (name, wait) = (request.name.clone(), request.cluster.wait);
            return Err(match maker {
                Maker::OtherUp => Error::OtherUpTimeout { name, wait },
                Maker::Restart => Error::RestartTimeout { name, wait },
            }
            .into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
