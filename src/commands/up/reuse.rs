//! `kip up` of a cluster that exists: a healthy one's kubeconfig is
//! exported again, a broken one explained; and the cluster another `kip up`
//! of the same name is creating at the same time, waited for.

use super::{write_kubeconfig, UpOutcome, UpSettings};
use crate::api::ApiEndpoint;
use crate::backend::{Backend, NodeInfo, NodeState};
use crate::commands::credentials;
use crate::error::Failure;
use crate::kubeconfig::{ClusterCredentials, KubeconfigTarget};
use crate::names;
use crate::output::Printer;
use anyhow::Result;
use std::time::{Duration, Instant};

/// `kip up` on an existing cluster: re-export a healthy one, explain a broken one.
pub(super) async fn reuse(
    settings: &UpSettings,
    backend: &impl Backend,
    printer: &Printer,
    existing: &NodeInfo,
    target: &KubeconfigTarget,
    started: Instant,
) -> Result<UpOutcome> {
    let endpoint = match existing.state {
        NodeState::Running => backend.reconnect(&settings.name).await?,
        _ => existing.endpoint.clone(),
    };
    let problem = match (&existing.state, &endpoint) {
        (NodeState::Running, Some(endpoint)) => {
            match ready_credentials(backend, &settings.name, endpoint).await {
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
            }
        }
        (NodeState::Running, None) => "running without a published API port".into(),
        _ => format!("not running ({})", existing.status),
    };
    Err(Failure::Node(format!(
        "cluster {} exists but is {problem}.\nRecreate it with `kip up {} --recreate`, or delete it with `kip down {}` \
         (its logs: `kip logs {}`)",
        settings.name, settings.name, settings.name, settings.name
    ))
    .into())
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

/// A node that has not started yet and was planned moments ago is another
/// `kip up` of this name at work (between creating its node and starting
/// it, or its Pod still pending), not a broken cluster.
pub(super) fn being_created(node: &NodeInfo) -> bool {
    const RECENT: Duration = Duration::from_secs(60);
    node.state == NodeState::Created
        && node
            .created_at
            .as_deref()
            .and_then(|t| humantime::parse_rfc3339(t).ok())
            .and_then(|t| std::time::SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age < RECENT)
}

/// A running cluster's credentials once its API server is ready; else
/// what is wrong, in words that follow "running, but".
pub(super) async fn ready_credentials(
    backend: &impl Backend,
    cluster: &str,
    endpoint: &ApiEndpoint,
) -> Result<ClusterCredentials, String> {
    let creds = credentials(backend, cluster, endpoint)
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
    backend: &impl Backend,
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
    let mut seen = false;
    let mut gone_since: Option<Instant> = None;
    let waiting = Instant::now();
    loop {
        match backend.find(&settings.name).await? {
            Some(node) => {
                seen = true;
                gone_since = None;
                // The other run's endpoint, as it published it (never a
                // second forwarder of this run's own).
                if let (NodeState::Running, Some(endpoint)) = (&node.state, &node.endpoint) {
                    if let Ok(creds) = ready_credentials(backend, &settings.name, endpoint).await {
                        step.done(&format!("API server ready at {}", endpoint.server_url()));
                        warn_ignored(settings, printer, &node);
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
            }
            None if seen && gone_since.get_or_insert_with(Instant::now).elapsed() > Duration::from_secs(3) => {
                return Err(Failure::Node(format!(
                    "the other `kip up {}` that was creating this cluster failed and removed it; run `kip up {}` again (or see that run's output)",
                    settings.name, settings.name
                ))
                .into())
            }
            None if !seen && waiting.elapsed() > Duration::from_secs(20) => {
                return Err(Failure::Node(format!(
                    "another `kip up {}` claimed this cluster's name, but no node appeared within 20 s; \
                     if no other run is going on, `kip down {}` clears what is left",
                    settings.name, settings.name
                ))
                .into())
            }
            None => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Failure::Timeout(format!(
                "cluster {} (being created by another `kip up`) was not ready within {}; see `kip status {}`",
                settings.name,
                humantime::format_duration(settings.cluster.wait),
                settings.name
            ))
            .into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
