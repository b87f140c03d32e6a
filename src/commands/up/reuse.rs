//! `kip up` of a cluster that exists: a healthy one's kubeconfig is
//! exported again, a broken one explained; and the cluster another `kip up`
//! of the same name is still creating (started at the same time or
//! earlier), waited for.

use super::{write_kubeconfig, UpOutcome, UpSettings};
use crate::api::ApiEndpoint;
use crate::commands::credentials;
use crate::error::Error;
use crate::kubeconfig::{ClusterCredentials, KubeconfigTarget};
use crate::names;
use crate::node::progress::{BootstrapSummary, PHASE_CLUSTER_CREATED, PHASE_DOCKERD_READY};
use crate::output::Printer;
use crate::provider::{Node, NodeInfo, NodeState, Provider};
use anyhow::Result;
use std::time::{Duration, Instant};

/// `kip up` on an existing cluster: re-export a healthy one, explain a broken one.
pub(super) async fn reuse(
    settings: &UpSettings,
    printer: &Printer,
    node: &impl Node,
    target: &KubeconfigTarget,
    started: Instant,
) -> Result<UpOutcome> {
    let existing = node.info();
    let endpoint = match existing.state {
        NodeState::Running => node.reconnect().await?,
        _ => existing.endpoint.clone(),
    };
    let problem = match (&existing.state, &endpoint) {
        (NodeState::Running, Some(endpoint)) => match ready_credentials(node, endpoint).await {
            Ok(creds) => {
                warn_ignored(settings, printer, existing);
                let written = write_kubeconfig(settings, printer, target, &creds);
                printer.info(&if written {
                        format!(
                            "Cluster {} is already running; its kubeconfig was re-exported (context {})",
                            settings.name,
                            names::context_name(&settings.name)
                        )
                    } else {
                        format!("Cluster {} is already running", settings.name)
                    });
                return Ok(UpOutcome::new(
                    settings, endpoint, target, true, written, started,
                ));
            }
            Err(problem) => problem,
        },
        (NodeState::Running, None) => "running without a published API port".into(),
        _ => format!("not running ({})", existing.status),
    };
    Err(broken(&settings.name, &problem))
}

/// A cluster that exists but cannot be used, and what to do about it.
fn broken(name: &str, problem: &str) -> anyhow::Error {
    Error::Broken {
        name: name.to_string(),
        problem: problem.to_string(),
    }
    .into()
}

/// Why a node another run was making will not become a cluster, if it
/// will not: it stopped, or its bootstrap failed.
async fn failed(node: &impl Node) -> Option<String> {
    let info = node.info();
    match info.state {
        NodeState::Running => {
            let log = node.log().await.ok()?;
            BootstrapSummary::from_log(&log)
                .failure
                .map(|why| format!("running, but its bootstrap failed ({why})"))
        }
        NodeState::Stopped | NodeState::Other => Some(format!("not running ({})", info.status)),
        NodeState::Created => None,
        NodeState::Orphaned => Some("gone (its node was removed; its volume is left)".into()),
    }
}

/// Where the making of an existing cluster stands, as its node tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Making {
    /// Still under way: the node not started yet (planned within `--wait`,
    /// its Pod pending), or its bootstrap still creating the cluster.
    UnderWay(String),
    /// Made (or given up on): ready, or broken in a way `reuse` explains.
    Over,
}

/// Whether another `kip up` (or a restart) is still making `node`: a
/// cluster in the making is waited for, never called broken.
pub(super) async fn making(node: &impl Node, wait: Duration) -> Making {
    let info = node.info();
    match info.state {
        NodeState::Created if age(info).is_some_and(|age| age < wait.max(RECENT)) => {
            Making::UnderWay(format!("its node is not running yet ({})", info.status))
        }
        NodeState::Running => match node.log().await {
            Ok(log) => bootstrap_making(&BootstrapSummary::from_log(&log)),
            Err(_) => Making::Over,
        },
        _ => Making::Over,
    }
}

/// The other run waits for its node to start up to its own `--wait`; this
/// run's, but at least this long, stands in for it. A node planned longer
/// ago that has not started is a leftover.
const RECENT: Duration = Duration::from_secs(60);

fn age(node: &NodeInfo) -> Option<Duration> {
    node.created_at
        .as_deref()
        .and_then(|t| humantime::parse_rfc3339(t).ok())
        .and_then(|t| std::time::SystemTime::now().duration_since(t).ok())
}

/// A running node's bootstrap: under way until the cluster is created or
/// the bootstrap fails.
fn bootstrap_making(summary: &BootstrapSummary) -> Making {
    if summary.failure.is_some() || summary.phase.as_deref() == Some(PHASE_CLUSTER_CREATED) {
        return Making::Over;
    }
    Making::UnderWay(match summary.phase.as_deref() {
        Some(PHASE_DOCKERD_READY) => "kind is creating the cluster in its node".into(),
        _ => "Docker is starting in its node".into(),
    })
}

/// The flags that would have shaped a new cluster do nothing to one that
/// exists (a container's labels, its TTL among them, are fixed when it is
/// made): say so, and what the cluster's TTL still is, rather than let a CI
/// job believe `--ttl` protects it.
fn warn_ignored(settings: &UpSettings, printer: &Printer, existing: &NodeInfo) {
    let given = &settings.cluster.given;
    if given.is_empty() {
        return;
    }
    let name = &settings.name;
    let ttl = if given.iter().any(|g| g.starts_with("--ttl ")) {
        match &existing.expires_at {
            Some(at) => format!("; its TTL is unchanged: `kip gc` deletes it after {at}"),
            None => format!(
                "; it has no TTL, so `kip gc` will not delete it: `kip down {name}` when done"
            ),
        }
    } else {
        String::new()
    };
    printer.warn(&format!(
        "cluster {name} already exists, so these flags were ignored (they only shape a new cluster): {}{ttl}.\n\
         `kip up {name} --recreate` makes it anew with them",
        given.join(", ")
    ));
}

/// A running cluster's credentials once its API server is ready; else
/// what is wrong, in words that follow "running, but".
pub(super) async fn ready_credentials(
    node: &impl Node,
    endpoint: &ApiEndpoint,
) -> Result<ClusterCredentials, String> {
    let creds = credentials(node, endpoint)
        .await
        .map_err(|e| format!("running, but {e:#}"))?;
    match crate::commands::api_ready(&creds, endpoint).await {
        Ok(true) => Ok(creds),
        Ok(false) => Err("running, but its API server is not ready".into()),
        Err(e) => Err(format!(
            "running, but its API server does not answer ({e:#})"
        )),
    }
}

/// Another `kip up` of this name is creating the cluster: wait until it is
/// ready and export its kubeconfig, as a second `kip up` would afterwards.
/// If that run fails and removes the node, say so.
pub(super) async fn wait_for_other_up(
    settings: &UpSettings,
    backend: &impl Provider,
    printer: &Printer,
    target: &KubeconfigTarget,
    started: Instant,
    deadline: tokio::time::Instant,
) -> Result<UpOutcome> {
    let step = printer.step(
        "api-ready",
        "Waiting for the cluster the other `kip up` creates",
    );
    // Seen, then gone for a while: that run failed and cleaned up (gone for
    // a moment is the other run retrying with another security profile).
    // Failed and still there a while later: that run kept it (or is gone).
    let mut seen = false;
    let mut gone_since: Option<Instant> = None;
    let mut failed_since: Option<Instant> = None;
    let waiting = Instant::now();
    loop {
        match backend.lookup(&settings.name).await? {
            Some(node) => {
                seen = true;
                gone_since = None;
                let info = node.info();
                // The other run's endpoint, as it published it (never a
                // second forwarder of this run's own).
                if let (NodeState::Running, Some(endpoint)) = (&info.state, &info.endpoint) {
                    if let Ok(creds) = ready_credentials(&node, endpoint).await {
                        step.done(&format!("API server ready at {}", endpoint.server_url()));
                        warn_ignored(settings, printer, info);
                        let written = write_kubeconfig(settings, printer, target, &creds);
                        printer.info(&format!(
                            "Cluster {} is ready (made by another `kip up` at the same time) in {:.1}s: API server {}",
                            settings.name,
                            started.elapsed().as_secs_f64(),
                            endpoint.server_url()
                        ));
                        return Ok(UpOutcome::new(
                            settings, endpoint, target, true, written, started,
                        ));
                    }
                }
                match failed(&node).await {
                    Some(problem)
                        if failed_since.get_or_insert_with(Instant::now).elapsed()
                            > Duration::from_secs(3) =>
                    {
                        return Err(broken(&settings.name, &problem));
                    }
                    Some(_) => {}
                    None => failed_since = None,
                }
            }
            None if seen
                && gone_since.get_or_insert_with(Instant::now).elapsed()
                    > Duration::from_secs(3) =>
            {
                return Err(Error::OtherUpFailed {
                    name: settings.name.clone(),
                }
                .into())
            }
            None if !seen && waiting.elapsed() > Duration::from_secs(20) => {
                return Err(Error::OtherUpNoNode {
                    name: settings.name.clone(),
                }
                .into())
            }
            None => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::OtherUpTimeout {
                name: settings.name.clone(),
                wait: settings.cluster.wait,
            }
            .into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bootstrap_is_under_way_until_the_cluster_is_created_or_it_fails() {
        let making = |log: &str| bootstrap_making(&BootstrapSummary::from_log(log));
        assert_eq!(
            making("kip-info: mtu=1500\n"),
            Making::UnderWay("Docker is starting in its node".into())
        );
        assert_eq!(
            making("kip-phase: dockerd-ready\n ✓ Preparing nodes\n"),
            Making::UnderWay("kind is creating the cluster in its node".into())
        );
        assert_eq!(
            making("kip-phase: dockerd-ready\nkip-phase: cluster-created\n"),
            Making::Over
        );
        assert_eq!(
            making("kip-phase: dockerd-ready\nkip-fail: cluster: kind create cluster failed\n"),
            Making::Over
        );
        // A restarted node makes its cluster again.
        assert_eq!(
            making("kip-phase: cluster-created\nkip-phase: dockerd-ready\n"),
            Making::UnderWay("kind is creating the cluster in its node".into())
        );
    }
}
