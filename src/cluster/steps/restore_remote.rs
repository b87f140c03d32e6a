//! Restoring a snapshot into a remote node (`kip up --remote --from`,
//! issue 19 item 6; `crate::snapshot::remote_restore`). Snapshots live on
//! the local engine, so [`CheckRemoteSnapshot`] finds the snapshot there
//! and refuses, before anything is made, what it can tell from here (the
//! kind node image, the DinD image, the iptables mode, the certificates,
//! the flags only a new cluster takes); the node Pod checks what only it
//! can see (its MTU, cgroup version and architecture) before any data is
//! streamed, and fails naming each difference (exit 3, the Pod removed).
//! [`StreamSnapshot`] then streams the snapshot into the Pod's data root,
//! which its bootstrap waits for before its dockerd starts.

use super::restore::{making_flags, plan_from};
use super::{Context, Flow, Stage, Step};
use crate::error::Error;
use crate::node::image::name_in_node;
use crate::node::progress::{self, Marker};
use crate::node::IptablesMode;
use crate::provider::kube::KubeProvider;
use crate::provider::Node;
use crate::snapshot::check::{differences, Target};
use crate::snapshot::{self, Metadata};
use anyhow::Result;
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::SystemTime;

/// The snapshot a restore is of, found by the first step for the next.
type Found = Rc<RefCell<Option<Metadata>>>;

/// Finds and checks the snapshot on the local engine, and plans the node
/// Pod from it: it waits for the stream instead of making a cluster.
pub struct CheckRemoteSnapshot {
    name: String,
    found: Found,
}

/// The snapshot streamed into the node Pod, once it waits for it.
pub struct StreamSnapshot {
    found: Found,
}

/// The pair of steps of a remote restore of snapshot `name`.
pub fn remote_restore_steps(name: &str) -> (CheckRemoteSnapshot, StreamSnapshot) {
    let found = Found::default();
    (
        CheckRemoteSnapshot {
            name: name.to_string(),
            found: found.clone(),
        },
        StreamSnapshot { found },
    )
}

/// The bootstrap's phase name for a refusal, and the words before the
/// differences it names (`await_restore` in bootstrap.sh).
const REFUSED_PHASE: &str = "restore";
const REFUSED_PREFIX: &str = "the snapshot cannot be restored in this node: ";

impl Step<KubeProvider> for CheckRemoteSnapshot {
    /// Only reads (helper containers that run to their end).
    fn stage(&self) -> Stage {
        Stage::Prepare
    }

    fn run<'s, 'c>(
        &'s self,
        cx: &'s mut Context<'c, KubeProvider>,
    ) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let step = cx.printer.step(
                "snapshot-checked",
                &format!("Checking snapshot {}", self.name),
            );
            let engine = cx.host.expect("a remote restore connects the local engine");
            let meta = snapshot::volume::find(engine, &self.name).await?;
            let found = differences(&meta, &target(cx, &meta));
            if !found.is_empty() {
                return Err(Error::SnapshotRefused {
                    name: self.name.clone(),
                    differences: found,
                }
                .into());
            }
            cx.plan_node(false)?;
            plan_from(cx, &meta);
            let node = &mut cx.plan.as_mut().expect("planned above").node;
            // Not a local restore's wait for a copy into its volume (which
            // a node run names): the Pod waits for the stream instead.
            node.env.remove("KIP_RESTORE");
            node.env.insert("KIP_AWAIT_RESTORE".into(), "1".into());
            node.env
                .insert("KIP_RESTORE_EXPECT".into(), node_checks(&meta));
            step.done(&format!(
                "Snapshot {} of {} ({}, Kubernetes {}) fits, as far as kip sees from here",
                meta.name,
                meta.source,
                meta.kind_image,
                meta.kubernetes_version.as_deref().unwrap_or("?")
            ));
            *self.found.borrow_mut() = Some(meta);
            Ok(Flow::Next)
        })
    }
}

/// What a remote restore checks before the node Pod exists. Its MTU,
/// cgroup version and architecture are the outer node's, known only in
/// the Pod: they are given as the snapshot's here (so they differ in
/// nothing) and checked by the Pod ([`node_checks`]).
fn target(cx: &Context<'_, KubeProvider>, meta: &Metadata) -> Target {
    let cluster = &cx.request.cluster;
    Target {
        kind_image: cluster.image.as_deref().map(name_in_node),
        dind_image: cluster.dind_image.clone(),
        mtu: u32::MAX,
        cgroup_v2: meta.cgroup.as_deref() == Some("v2"),
        iptables: match cluster.iptables {
            IptablesMode::Auto => None,
            IptablesMode::Legacy => Some("legacy".into()),
            IptablesMode::Nft => Some("nft".into()),
        },
        arch: meta.arch.clone(),
        now: SystemTime::now(),
        making_flags: making_flags(cluster),
    }
}

/// `KIP_RESTORE_EXPECT` for the node Pod: "MTU CGROUP ARCH" of the
/// snapshot, "-" where it recorded none.
fn node_checks(meta: &Metadata) -> String {
    let or_dash = |v: Option<String>| v.filter(|v| !v.is_empty()).unwrap_or_else(|| "-".into());
    format!(
        "{} {} {}",
        or_dash(meta.mtu.map(|m| m.to_string())),
        or_dash(meta.cgroup.clone()),
        or_dash(Some(meta.arch.clone()))
    )
}

impl Step<KubeProvider> for StreamSnapshot {
    /// Handles a Ctrl-C itself (the local helper is killed), then the
    /// runner removes the Pod.
    fn stage(&self) -> Stage {
        Stage::Make
    }

    fn run<'s, 'c>(
        &'s self,
        cx: &'s mut Context<'c, KubeProvider>,
    ) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let meta = self
                .found
                .borrow()
                .clone()
                .expect("the snapshot is checked first");
            let engine = cx.host.expect("a remote restore connects the local engine");
            let mut signals = crate::cluster::signals::Signals::listen()?;
            let step = cx.printer.step(
                "snapshot-awaited",
                "Waiting for the node Pod to wait for the snapshot",
            );
            tokio::select! {
                waited = awaiting(cx, &meta.name) => waited?,
                () = signals.received() => return Err(Error::Interrupted.into()),
            }
            step.done("The node Pod runs and waits for the snapshot");
            let step = cx.printer.step(
                "snapshot-streamed",
                &format!("Streaming snapshot {} into the node Pod", meta.name),
            );
            let started = std::time::Instant::now();
            let streamed = tokio::time::timeout_at(
                cx.deadline,
                snapshot::remote_restore::stream_into(engine, &meta, cx.node(), &mut signals),
            )
            .await
            .map_err(|_| Error::ClusterNotReady {
                wait: cx.request.cluster.wait,
                phase: "restore".into(),
                tail: String::new(),
            })?;
            streamed?;
            step.done(&format!(
                "Streamed snapshot {} ({}) into the node Pod in {:.1}s",
                meta.name,
                crate::output::size(meta.size_bytes),
                started.elapsed().as_secs_f64()
            ));
            Ok(Flow::Next)
        })
    }
}

/// Until the node Pod runs and its bootstrap waits for the snapshot; its
/// refusal (what it sees differ from the snapshot) is exit 3.
async fn awaiting(cx: &Context<'_, KubeProvider>, name: &str) -> Result<()> {
    let mut log = tokio::time::timeout_at(cx.deadline, cx.node().follow_log())
        .await
        .map_err(|_| not_awaiting(cx))??;
    loop {
        let line = match tokio::time::timeout_at(cx.deadline, log.next()).await {
            Err(_) => return Err(not_awaiting(cx)),
            Ok(None) => anyhow::bail!("the node Pod stopped before it waited for the snapshot"),
            Ok(Some(line)) => line?,
        };
        match progress::parse(&line) {
            Marker::Info { key, .. } if key == "awaiting-restore" => return Ok(()),
            Marker::Fail { phase, reason } => return Err(refusal(name, phase, reason)),
            _ => {}
        }
    }
}

fn not_awaiting(cx: &Context<'_, KubeProvider>) -> anyhow::Error {
    Error::ClusterNotReady {
        wait: cx.request.cluster.wait,
        phase: "restore".into(),
        tail: String::new(),
    }
    .into()
}

/// The node's failure before the stream: its refusal of the snapshot
/// (exit 3, each difference), or another failure of its bootstrap.
fn refusal(name: &str, phase: String, reason: String) -> anyhow::Error {
    match reason.strip_prefix(REFUSED_PREFIX) {
        Some(found) if phase == REFUSED_PHASE => Error::SnapshotRefused {
            name: name.to_string(),
            differences: found.split("; ").map(String::from).collect(),
        }
        .into(),
        _ => Error::BootstrapFailed {
            phase,
            reason,
            hint: None,
            detail: String::new(),
        }
        .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nodes_refusal_names_each_difference_and_exits_3() {
        let said = format!(
            "{REFUSED_PREFIX}MTU: the snapshot's networks use 1500, above this node's 1440 (packets would be lost); \
             architecture: the snapshot is aarch64, this node runs x86_64"
        );
        let err = refusal("base", "restore".into(), said);
        assert_eq!(
            crate::error::exit_code(&err),
            crate::error::exit::ENVIRONMENT
        );
        let text = format!("{err:#}");
        assert!(
            text.contains("\n  MTU: the snapshot's networks use 1500"),
            "{text}"
        );
        assert!(
            text.contains("\n  architecture: the snapshot is aarch64"),
            "{text}"
        );
        let other = refusal("base", "dockerd".into(), "dockerd exited".into());
        assert!(format!("{other:#}").contains("dockerd exited"));
    }

    #[test]
    fn the_bootstrap_says_what_this_reads() {
        let script = crate::node::BOOTSTRAP_SCRIPT;
        assert!(script.contains(&format!("fail {REFUSED_PHASE} \"{REFUSED_PREFIX}")));
        assert!(script.contains(&format!(
            "pgrep -f {}",
            crate::snapshot::remote_restore::RESTORE_PROCESS
        )));
        assert!(script.contains("echo \"kip-info: awaiting-restore=1\""));
    }

    #[test]
    fn the_node_checks_what_the_snapshot_recorded() {
        let meta = crate::snapshot::sample_metadata();
        assert_eq!(node_checks(&meta), "1500 v2 x86_64");
        let unknown = Metadata {
            mtu: None,
            cgroup: None,
            ..meta
        };
        assert_eq!(node_checks(&unknown), "- - x86_64");
    }
}
