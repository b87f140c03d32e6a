//! Watching the node come up: the bootstrap script's markers followed as
//! they are written (a phase reported the moment it ends inside the node),
//! then the API server's `/readyz` until it answers.

use crate::api::{ApiClient, ApiEndpoint};
use crate::commands::credentials;
use crate::error::Error;
use crate::kubeconfig::ClusterCredentials;
use crate::node::progress::{self, Marker};
use crate::output::Printer;
use crate::provider::{Node, Provider};
use anyhow::Result;
use futures_util::StreamExt;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::node_image::HostImage;
use super::UpSettings;

const LOG_TAIL_LINES: usize = 30;
const READY_POLL: Duration = Duration::from_millis(50);

pub(super) async fn wait_until_ready<P: Provider>(
    settings: &UpSettings,
    backend: &P,
    printer: &Printer,
    node: &P::Node,
    kind_image: Option<&HostImage<'_>>,
    deadline: tokio::time::Instant,
) -> Result<(ClusterCredentials, ApiEndpoint)> {
    follow_bootstrap(settings, backend, node, printer, kind_image, deadline).await?;

    let step = printer.step("api-ready", "Waiting for the API server");
    let endpoint = match &node.info().endpoint {
        Some(endpoint) => endpoint.clone(),
        None => node.endpoint().await?.ok_or(Error::NodeWithoutEndpoint)?,
    };
    let creds = credentials(node, &endpoint).await?;
    let client = ApiClient::new(endpoint.clone(), &creds.ca_pem()?)?;
    loop {
        let last = match client.ready(Duration::from_secs(2)).await {
            Ok(true) => break,
            Ok(false) => "/readyz did not answer ok".to_string(),
            Err(e) => format!("{e:#}"),
        };
        if tokio::time::Instant::now() >= deadline {
            let tail = node.log().await.unwrap_or_default();
            return Err(Error::ApiNotReady {
                server: endpoint.server_url(),
                wait: settings.cluster.wait,
                last,
                tail: tail_of(&tail),
            }
            .into());
        }
        tokio::time::sleep(READY_POLL).await;
    }
    step.done(&format!("API server ready at {}", endpoint.server_url()));
    Ok((creds, endpoint))
}

/// Follows the node's markers until the cluster exists, failing fast on a
/// `kip-fail` marker or a node that stops.
pub(super) async fn follow_bootstrap<P: Provider>(
    settings: &UpSettings,
    backend: &P,
    node: &P::Node,
    printer: &Printer,
    kind_image: Option<&HostImage<'_>>,
    deadline: tokio::time::Instant,
) -> Result<()> {
    let mut log = node.follow_log().await?;
    let mut tail: VecDeque<String> = VecDeque::new();
    let mut facts: BTreeMap<String, String> = BTreeMap::new();
    let mut phase = "dockerd";
    let mut step = Some(printer.step("dockerd-ready", "Starting Docker inside the node"));
    loop {
        let line = match tokio::time::timeout_at(deadline, log.next()).await {
            Err(_) => {
                return Err(Error::ClusterNotReady {
                    wait: settings.cluster.wait,
                    phase: phase.to_string(),
                    tail: format_tail(&tail),
                }
                .into())
            }
            Ok(None) => {
                let exit = backend
                    .lookup(&settings.name)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|n| n.info().exit_code);
                return Err(Error::NodeStopped {
                    exit,
                    phase: phase.to_string(),
                    tail: format_tail(&tail),
                }
                .into());
            }
            Ok(Some(line)) => line?,
        };
        match progress::parse(&line) {
            Marker::Phase(p) if p == progress::PHASE_DOCKERD_READY => {
                let fact = |k: &str| facts.get(k).map_or("?", String::as_str).to_string();
                if let Some(step) = step.take() {
                    step.done(&format!(
                        "Docker running inside the node (MTU {}, iptables {}, cgroup {})",
                        fact("mtu"),
                        fact("iptables"),
                        fact("cgroup")
                    ));
                }
                // The node waits for the image before kind starts.
                if let Some(image) = kind_image {
                    tokio::time::timeout_at(deadline, image.bring_into(node, &facts, printer))
                        .await
                        .map_err(|_| Error::KindImageLate {
                            image: image.image.clone(),
                            wait: settings.cluster.wait,
                        })??;
                }
                phase = "cluster";
                step = Some(printer.step("cluster-created", "Creating the cluster with kind"));
            }
            Marker::Phase(p) if p == progress::PHASE_CLUSTER_CREATED => {
                if let Some(step) = step.take() {
                    step.done("Cluster created");
                }
                return Ok(());
            }
            Marker::Phase(_) => {}
            Marker::Info { key, value } => {
                if let Some(image) = kind_image {
                    crate::seed::say(&key, &value, &image.image, printer);
                }
                facts.insert(key, value);
            }
            Marker::Fail { phase, reason } => {
                // The script prints the relevant log tail, then exits.
                let mut detail = Vec::new();
                let grace = tokio::time::Instant::now() + Duration::from_secs(2);
                while let Ok(Some(Ok(line))) = tokio::time::timeout_at(grace, log.next()).await {
                    detail.push(line);
                }
                let detail = detail.join("\n");
                let hint = known_cause(&format!("{reason}\n{detail}"));
                return Err(Error::BootstrapFailed {
                    phase,
                    reason,
                    hint,
                    detail,
                }
                .into());
            }
            Marker::Line(line) => {
                if tail.len() == LOG_TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        }
    }
}

/// What the node could not do, for the failures kip knows how to prevent
/// (each prevented by the node's bootstrap unless turned off for debugging).
fn known_cause(text: &str) -> Option<&'static str> {
    const CAUSES: [(&str, &str); 5] = [
        (
            "unable to apply caps",
            "the engine withholds capabilities (e.g. CAP_SYS_RESOURCE) and kind's privileged containers asked \
             for them; kip's node keeps them within what it has (runc-clamp) unless KIP_RUNTIME_CLAMP=false",
        ),
        (
            "open /dev/kmsg",
            "the node has no /dev/kmsg, which the kubelet needs; kip creates it unless KIP_KMSG_CREATE=false \
             (an engine that forbids mknod needs --security privileged)",
        ),
        (
            "failed to update /proc/self/oom_score_adj",
            "the node cannot lower oom_score_adj (no CAP_SYS_RESOURCE), so runc fails every control-plane \
             container; kip sets containerd's restrict_oom_score_adj unless KIP_RESTRICT_OOM=false",
        ),
        (
            "restrict_oom_score_adj is off",
            "the node cannot lower oom_score_adj (no CAP_SYS_RESOURCE), so runc fails every control-plane \
             container; kip sets containerd's restrict_oom_score_adj unless KIP_RESTRICT_OOM=false",
        ),
        (
            "not run on a host using cgroup v1",
            "the kubelet (Kubernetes >= 1.35) refuses a cgroup v1 host; kip sets failCgroupV1: false unless \
             KIP_FAIL_CGROUP_V1=true (better: move the host to cgroup v2)",
        ),
    ];
    CAUSES
        .iter()
        .find(|(needle, _)| text.contains(needle))
        .map(|(_, hint)| *hint)
}

fn format_tail(tail: &VecDeque<String>) -> String {
    if tail.is_empty() {
        // kip removes a failed node unless told to keep it.
        return "(the node printed nothing else; `--keep-on-failure` keeps the node for `kip logs`, \
                `--logs-dir DIR` saves its logs bundle)"
            .into();
    }
    let lines: Vec<&str> = tail.iter().map(String::as_str).collect();
    format!("--- last lines of the node's log ---\n{}", lines.join("\n"))
}

fn tail_of(log: &str) -> String {
    let lines: VecDeque<String> = log
        .lines()
        .rev()
        .take(LOG_TAIL_LINES)
        .map(String::from)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format_tail(&lines)
}

#[cfg(test)]
mod tests {
    use super::{format_tail, known_cause};

    #[test]
    fn an_empty_tail_points_at_logs_that_will_still_be_there() {
        // The failed node is removed unless kept: `kip logs` alone would
        // find nothing by the time the user reads this.
        let hint = format_tail(&std::collections::VecDeque::new());
        assert!(hint.contains("--keep-on-failure"), "{hint}");
        assert!(hint.contains("--logs-dir"), "{hint}");
        assert!(!hint.contains("see `kip logs`"), "{hint}");
    }

    #[test]
    fn each_known_failure_is_named() {
        for (line, word) in [
            ("runc create failed: unable to start container process: unable to apply caps: operation not permitted", "KIP_RUNTIME_CLAMP"),
            ("failed to create kubelet: open /dev/kmsg: no such file or directory", "KIP_KMSG_CREATE"),
            ("nsexec[997]: failed to update /proc/self/oom_score_adj: Permission denied", "KIP_RESTRICT_OOM"),
            ("kubelet is configured to not run on a host using cgroup v1", "KIP_FAIL_CGROUP_V1"),
            ("runc create failed: can't get final child's PID from pipe: EOF (this node cannot lower oom_score_adj and containerd's restrict_oom_score_adj is off)", "KIP_RESTRICT_OOM"),
        ] {
            let hint = known_cause(line).unwrap_or_else(|| panic!("no cause for {line}"));
            assert!(hint.contains(word), "{hint}");
        }
        assert_eq!(known_cause("node(s) already exist for a cluster"), None);
    }
}
