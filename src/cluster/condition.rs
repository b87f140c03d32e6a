//! Where a cluster that exists stands, as its node tells it: still being
//! made (by another `kip up`, or a restart), ready to use, or broken and
//! why. The one place that decides it for `up`, a second `up` of one name
//! and a cluster found half-made; what races `up`, `down` and `gc` leave
//! (issue 22) is decided here too.

use super::access::{api_ready, credentials};
use crate::api::ApiEndpoint;
use crate::kubeconfig::ClusterCredentials;
use crate::node::progress::{
    stopped_by_signal, BootstrapSummary, FACT_AWAITING_IMAGE, FACT_NODE_IMAGE,
    PHASE_CLUSTER_CREATED, PHASE_DOCKERD_READY,
};
use crate::provider::{Node, NodeInfo, NodeState, Provider};
use anyhow::Result;
use std::time::Duration;

/// An existing cluster as `up` finds it: its credentials and endpoint when
/// it runs and its API server is ready (its port-forward started again if
/// it was gone), else what is wrong, in words that follow "is".
pub async fn usable(node: &impl Node) -> Result<Result<(ClusterCredentials, ApiEndpoint), String>> {
    let info = node.info();
    let endpoint = match info.state {
        NodeState::Running => node.reconnect().await?,
        _ => info.endpoint.clone(),
    };
    Ok(match (&info.state, endpoint) {
        (NodeState::Running, Some(endpoint)) => ready_credentials(node, &endpoint)
            .await
            .map(|creds| (creds, endpoint)),
        (NodeState::Running, None) => Err("running without a published API port".into()),
        _ => Err(not_running(node).await),
    })
}

/// A node that is not running, in words that follow "is": with why its
/// bootstrap's last run failed, if it failed.
async fn not_running(node: &impl Node) -> String {
    match last_failure(node).await {
        Some(why) => format!("not running: its bootstrap failed ({why})"),
        None => format!("not running ({})", node.info().status),
    }
}

/// Why the bootstrap's last run failed, if it did.
async fn last_failure(node: &impl Node) -> Option<String> {
    BootstrapSummary::from_log(&node.log().await.ok()?).failure
}

/// A node that stopped without a failure of its own (`docker stop`, a
/// reboot): starting it again brings the cluster back.
pub async fn start_again_would_do(node: &impl Node) -> bool {
    node.info().state == NodeState::Stopped && last_failure(node).await.is_none()
}

/// A node another run is making, ready as that run published it (never a
/// second forwarder of this run's own).
pub async fn ready_as_published(node: &impl Node) -> Option<(ClusterCredentials, ApiEndpoint)> {
    let info = node.info();
    match (&info.state, &info.endpoint) {
        (NodeState::Running, Some(endpoint)) => ready_credentials(node, endpoint)
            .await
            .ok()
            .map(|creds| (creds, endpoint.clone())),
        _ => None,
    }
}

/// Why a node another run was making will not become a cluster, if it
/// will not: it stopped, or its bootstrap failed.
pub async fn failed(node: &impl Node) -> Option<String> {
    let info = node.info();
    match info.state {
        NodeState::Running => {
            let log = node.log().await.ok()?;
            BootstrapSummary::from_log(&log)
                .failure
                .map(|why| format!("running, but its bootstrap failed ({why})"))
        }
        NodeState::Stopped | NodeState::Other => Some(not_running(node).await),
        NodeState::Created => None,
        NodeState::Orphaned => Some("gone (its node was removed; its volume is left)".into()),
    }
}

/// Where the making of an existing cluster stands, as its node tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Making {
    /// Still under way: the node not started yet (planned within `--wait`,
    /// its Pod pending), or its bootstrap still creating the cluster.
    UnderWay(String),
    /// Started again (`docker start`, a reboot) and making its cluster
    /// again: waited for as a cluster in the making is.
    Restarting(String),
    /// Made (or given up on): ready, or broken in a way `reuse` explains.
    Over,
}

/// Whether another `kip up` (or a restart) is still making `node`: a
/// cluster in the making is waited for, never called broken.
pub async fn making(node: &impl Node, wait: Duration) -> Making {
    let info = node.info();
    match info.state {
        NodeState::Created if age(info).is_some_and(|age| age < wait.max(RECENT)) => {
            Making::UnderWay(format!("its node is not running yet ({})", info.status))
        }
        NodeState::Running => match node.log().await {
            // Started again a moment ago: its bootstrap has not begun anew.
            Ok(log) if stopped_by_signal(&log) => {
                Making::Restarting("its node is starting again".into())
            }
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
    let waits_for_image = summary.facts.contains_key(FACT_AWAITING_IMAGE)
        && !summary.facts.contains_key(FACT_NODE_IMAGE);
    let how_far = match summary.phase.as_deref() {
        Some(PHASE_DOCKERD_READY) if waits_for_image => {
            "its node waits for the kind node image that run streams in".into()
        }
        Some(PHASE_DOCKERD_READY) => "kind is creating the cluster in its node".into(),
        _ => "Docker is starting in its node".into(),
    };
    if summary.restarted {
        Making::Restarting(how_far)
    } else {
        Making::UnderWay(how_far)
    }
}

/// The kind nodes inside a running node that are stopped (killed, or
/// stopped by hand): what keeps its API server from answering. One that
/// kind has made and not started yet is not stopped.
pub async fn stopped_kind_nodes(node: &impl Node) -> Vec<String> {
    let label = format!("label=io.x-k8s.kind.cluster={}", node.info().kind_cluster());
    let command = [
        "docker",
        "ps",
        "-a",
        "--filter",
        &label,
        "--format",
        "{{.Names}} {{.State}}",
    ]
    .map(String::from);
    let Ok(out) = node.exec_capture(&command, None).await else {
        return Vec::new();
    };
    if out.code != 0 {
        return Vec::new();
    }
    out.stdout
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, state)| !matches!(state.trim(), "running" | "created"))
        .map(|(name, _)| name.to_string())
        .collect()
}

/// How long `kip list` waits for one node to say which kind nodes in it
/// are stopped (a node whose dockerd hangs is listed as the engine sees it).
const KIND_LOOK_LIMIT: Duration = Duration::from_secs(3);

/// `nodes` (a listing) with what `kip status` would say of each running
/// node whose kind nodes inside are stopped: its status told, its problem
/// the fix. Every node is asked at once (one exec each), so a listing
/// costs one exec's time, not one per cluster.
pub async fn with_stopped_kind_nodes<P: Provider>(provider: &P, nodes: &mut [NodeInfo]) {
    let looks = nodes.iter().map(|n| async move {
        if n.state != NodeState::Running {
            return Vec::new();
        }
        let look = async {
            match provider.lookup(&n.cluster).await {
                Ok(Some(node)) => stopped_kind_nodes(&node).await,
                _ => Vec::new(),
            }
        };
        tokio::time::timeout(KIND_LOOK_LIMIT, look)
            .await
            .unwrap_or_default()
    });
    let stopped = futures_util::future::join_all(looks).await;
    for (n, stopped) in nodes.iter_mut().zip(stopped) {
        if stopped.is_empty() {
            continue;
        }
        n.status = format!(
            "{}; kind node {} stopped inside",
            n.status,
            stopped.join(", ")
        );
        n.problem = Some(crate::error::Error::KindNodesStopped {
            cluster: n.cluster.clone(),
            nodes: stopped,
        });
    }
}

/// How long a node stopped from outside has to go: the `kip down` (or
/// `kip gc`) that stopped it removes it next.
const REMOVED_AFTER_STOP: Duration = Duration::from_secs(20);

/// Whether `ours`, the node a run made, was deleted by another kip: gone,
/// or replaced by a node of the same name made later, or stopped by a
/// signal and gone soon after (a deletion's stop comes before its removal).
pub async fn deleted_by_another<P: Provider>(provider: &P, ours: &P::Node) -> bool {
    let deadline = tokio::time::Instant::now() + REMOVED_AFTER_STOP;
    loop {
        let Ok(now) = provider.lookup(&ours.info().cluster).await else {
            return false;
        };
        let Some(now) = now else { return true };
        if ours.id().is_some() && now.id() != ours.id() {
            return true;
        }
        let stopped = now.log().await.is_ok_and(|log| stopped_by_signal(&log));
        if !stopped || tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A running cluster's credentials once its API server is ready; else
/// what is wrong, in words that follow "running, but".
async fn ready_credentials(
    node: &impl Node,
    endpoint: &ApiEndpoint,
) -> Result<ClusterCredentials, String> {
    let creds = credentials(node, endpoint)
        .await
        .map_err(|e| format!("running, but {e:#}"))?;
    match api_ready(&creds, endpoint).await {
        Ok(true) => Ok(creds),
        Ok(false) => Err("running, but its API server is not ready".into()),
        Err(e) => Err(format!(
            "running, but its API server does not answer ({e:#})"
        )),
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
        // The image streamed in first: kind has not begun.
        let awaiting = "kip-phase: dockerd-ready\nkip-info: awaiting-image=k:1\n";
        assert_eq!(
            making(awaiting),
            Making::UnderWay("its node waits for the kind node image that run streams in".into())
        );
        assert_eq!(
            making(&format!("{awaiting}kip-info: node-image=k:1\n")),
            Making::UnderWay("kind is creating the cluster in its node".into())
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
        assert_eq!(
            making("kip-phase: booting\nkip-phase: cluster-created\nkip-info: stopped=signal\nkip-phase: booting\n"),
            Making::Restarting("Docker is starting in its node".into())
        );
        assert_eq!(
            making("kip-phase: booting\nkip-phase: cluster-created\nkip-phase: booting\nkip-phase: dockerd-ready\nkip-phase: cluster-created\n"),
            Making::Over
        );
        // A failure of an earlier run is over once the node starts again.
        assert_eq!(
            making("kip-phase: booting\nkip-fail: cluster: kind failed\nkip-phase: booting\n"),
            Making::Restarting("Docker is starting in its node".into())
        );
    }
}
