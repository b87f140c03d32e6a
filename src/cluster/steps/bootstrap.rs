//! Watching the node come up: the bootstrap script's markers followed as
//! they are written, each phase reported the moment it ends inside the
//! node. [`StartEngine`] follows until the node's Docker runs,
//! [`CreateCluster`] until kind has made the cluster (or made it again, in
//! a restarted node); a `kip-fail` marker or a node that stops ends either
//! at once, with the node's own words.

use super::{Context, Flow, Stage, Step};
use crate::error::Error;
use crate::node::progress::{self, Marker};
use crate::provider::{Node, Provider};
use anyhow::Result;
use futures_util::future::LocalBoxFuture;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

const LOG_TAIL_LINES: usize = 30;

/// The node's bootstrap log as far as it has been followed.
pub struct Followed {
    log: BoxStream<'static, Result<String>>,
    /// The last lines that were not markers, for a failure's report.
    tail: VecDeque<String>,
    /// What the node chose at boot (`kip-info:` lines).
    facts: BTreeMap<String, String>,
    /// The phase under way, as the bootstrap names it.
    phase: &'static str,
}

/// Follows the bootstrap until the node's Docker runs.
pub struct StartEngine;

/// Follows the bootstrap until kind has made the cluster.
pub struct CreateCluster;

impl<P: Provider> Step<P> for StartEngine {
    fn stage(&self) -> Stage {
        Stage::Finish
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            // A remote node's log exists once its Pod runs: this waits for
            // that, failing fast on what keeps it from running.
            let log = cx.node().follow_log().await?;
            let step = cx
                .printer
                .step("dockerd-ready", "Starting Docker inside the node");
            let mut followed = Followed {
                log,
                tail: VecDeque::new(),
                facts: BTreeMap::new(),
                phase: "dockerd",
            };
            followed.until(progress::PHASE_DOCKERD_READY, cx).await?;
            let fact = |k: &str| {
                followed
                    .facts
                    .get(k)
                    .map_or("?", String::as_str)
                    .to_string()
            };
            step.done(&format!(
                "Docker running inside the node (MTU {}, iptables {}, cgroup {})",
                fact("mtu"),
                fact("iptables"),
                fact("cgroup")
            ));
            followed.phase = "cluster";
            cx.bootstrap = Some(followed);
            Ok(Flow::Next)
        })
    }
}

impl<P: Provider> Step<P> for CreateCluster {
    fn stage(&self) -> Stage {
        Stage::Finish
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let mut followed = cx
                .bootstrap
                .take()
                .expect("the engine is started before the cluster is made");
            let step = cx
                .printer
                .step("cluster-created", "Creating the cluster with kind");
            followed.until(progress::PHASE_CLUSTER_CREATED, cx).await?;
            step.done("Cluster created");
            cx.bootstrap = Some(followed);
            Ok(Flow::Next)
        })
    }
}

impl Followed {
    /// What the node chose at boot so far (its `kip-info:` lines).
    pub fn facts(&self) -> &BTreeMap<String, String> {
        &self.facts
    }

    /// Follows the markers until phase `done`, failing fast on a
    /// `kip-fail` marker or a node that stops, and at the deadline.
    async fn until<P: Provider>(&mut self, done: &str, cx: &Context<'_, P>) -> Result<()> {
        loop {
            let line = match tokio::time::timeout_at(cx.deadline, self.log.next()).await {
                Err(_) => {
                    return Err(Error::ClusterNotReady {
                        wait: cx.request.cluster.wait,
                        phase: self.phase.to_string(),
                        tail: format_tail(&self.tail),
                    }
                    .into())
                }
                Ok(None) => return Err(self.stopped(cx).await),
                Ok(Some(line)) => line?,
            };
            match progress::parse(&line) {
                Marker::Phase(p) if p == done => return Ok(()),
                Marker::Phase(_) => {}
                Marker::Info { key, value } => {
                    let image = cx.request.cluster.kind_image();
                    crate::seed::say(&key, &value, &image, cx.printer);
                    self.facts.insert(key, value);
                }
                Marker::Fail { phase, reason } => return Err(self.failed(phase, reason).await),
                Marker::Line(line) => {
                    if self.tail.len() == LOG_TAIL_LINES {
                        self.tail.pop_front();
                    }
                    self.tail.push_back(line);
                }
            }
        }
    }

    /// The log ended: the node stopped (with its exit code, if it has one).
    async fn stopped<P: Provider>(&self, cx: &Context<'_, P>) -> anyhow::Error {
        let exit = cx
            .provider
            .lookup(&cx.request.name)
            .await
            .ok()
            .flatten()
            .and_then(|n| n.info().exit_code);
        Error::NodeStopped {
            exit,
            phase: self.phase.to_string(),
            tail: format_tail(&self.tail),
        }
        .into()
    }

    /// A `kip-fail` marker: the script prints the relevant log tail, then
    /// exits; that tail (given two seconds) is the failure's detail.
    async fn failed(&mut self, phase: String, reason: String) -> anyhow::Error {
        let mut detail = Vec::new();
        let grace = tokio::time::Instant::now() + Duration::from_secs(2);
        while let Ok(Some(Ok(line))) = tokio::time::timeout_at(grace, self.log.next()).await {
            detail.push(line);
        }
        let detail = detail.join("\n");
        let hint = known_cause(&format!("{reason}\n{detail}"));
        Error::BootstrapFailed {
            phase,
            reason,
            hint,
            detail,
        }
        .into()
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

pub(super) fn format_tail(tail: &VecDeque<String>) -> String {
    if tail.is_empty() {
        // kip removes a failed node unless told to keep it.
        return "(the node printed nothing else; `--keep-on-failure` keeps the node for `kip logs`, \
                `--logs-dir DIR` saves its logs bundle)"
            .into();
    }
    let lines: Vec<&str> = tail.iter().map(String::as_str).collect();
    format!("--- last lines of the node's log ---\n{}", lines.join("\n"))
}

pub(super) fn tail_of(log: &str) -> String {
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
