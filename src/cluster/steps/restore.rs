//! Restoring a snapshot (issue 19, `crate::snapshot`): [`CheckSnapshot`]
//! finds it and refuses one this engine or these flags cannot run (exit 3,
//! nothing made), then plans the node as the snapshot's: its DinD image,
//! no kind node image to bring (the data root has it), the seed its
//! layers come from, the inner kind cluster's name. [`ProvisionFromSnapshot`]
//! fills the node's volume with the snapshot's data root (the helper that
//! fills it makes it, and holds it until the node does) while the node
//! starts: its bootstrap waits for the copy's last mark before it uses the
//! volume (`KIP_RESTORE`), then restarts the kind node as on a restart.

use super::{Context, Flow, Provision, Stage, Step};
use crate::error::Error;
use crate::node::contract::SEED_STORE;
use crate::node::image::name_in_node;
use crate::node::{labels, IptablesMode, SeedStoreSpec};
use crate::provider::docker::DockerProvider;
use crate::provider::Provider;
use crate::snapshot::check::{differences, Target};
use crate::snapshot::{self, Metadata, LABEL};
use anyhow::Result;
use futures_util::future::LocalBoxFuture;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::SystemTime;

/// The snapshot a restore is of, found by the first step for the next.
type Found = Rc<RefCell<Option<Metadata>>>;

/// Finds and checks the snapshot, and plans the node from it.
pub struct CheckSnapshot {
    name: String,
    found: Found,
}

/// The node's volume from the snapshot, then the node started.
pub struct ProvisionFromSnapshot {
    found: Found,
}

/// `kip up NEW --from`: a cluster of that name is not this run's to touch.
pub struct RefuseTaken;

impl<P: Provider> Step<P> for RefuseTaken {
    fn stage(&self) -> Stage {
        Stage::Look
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let name = &cx.request.name;
            if cx.provider.lookup(name).await?.is_some() {
                return Err(Error::RestoreNameTaken { name: name.clone() }.into());
            }
            cx.provider.refuse_foreign(name).await?;
            Ok(Flow::Next)
        })
    }
}

impl CheckSnapshot {
    /// The snapshot, once this step found it fit (a dry run's summary).
    pub fn found(&self) -> Option<Metadata> {
        self.found.borrow().clone()
    }
}

/// The pair of steps of a restore of snapshot `name`.
pub fn restore_steps(name: &str) -> (CheckSnapshot, ProvisionFromSnapshot) {
    let found = Found::default();
    (
        CheckSnapshot {
            name: name.to_string(),
            found: found.clone(),
        },
        ProvisionFromSnapshot { found },
    )
}

impl Step<DockerProvider> for CheckSnapshot {
    /// Only reads (helper containers that run to their end).
    fn stage(&self) -> Stage {
        Stage::Prepare
    }

    fn run<'s, 'c>(
        &'s self,
        cx: &'s mut Context<'c, DockerProvider>,
    ) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let step = cx.printer.step(
                "snapshot-checked",
                &format!("Checking snapshot {}", self.name),
            );
            let meta = snapshot::volume::find(cx.provider, &self.name).await?;
            let target = target(cx).await?;
            let found = differences(&meta, &target);
            if !found.is_empty() {
                return Err(Error::SnapshotRefused {
                    name: self.name.clone(),
                    differences: found,
                }
                .into());
            }
            cx.plan_node(false)?;
            if let Some(seed) = &meta.seed {
                mount_seed(cx, &meta, seed).await?;
            }
            plan_from(cx, &meta);
            step.done(&format!(
                "Snapshot {} of {} ({}, Kubernetes {}) fits this engine",
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

/// What the restore runs on and was asked for.
async fn target(cx: &Context<'_, DockerProvider>) -> Result<Target> {
    let cluster = &cx.request.cluster;
    let network = cluster.network.as_deref().unwrap_or("bridge");
    let mtu = cluster
        .mtu
        .or(cx.provider.network_mtu(network).await?.flatten());
    Ok(Target {
        kind_image: cluster.image.as_deref().map(name_in_node),
        dind_image: cluster.dind_image.clone(),
        mtu: mtu.unwrap_or(1500),
        cgroup_v2: cx.facts().cgroup_v2,
        iptables: match cluster.iptables {
            IptablesMode::Auto => None,
            IptablesMode::Legacy => Some("legacy".into()),
            IptablesMode::Nft => Some("nft".into()),
        },
        arch: cx.provider.architecture().await?,
        now: SystemTime::now(),
        making_flags: making_flags(cluster),
    })
}

/// The flags given that only a new kind cluster can take. A mirror from
/// the config file is left out (it is for new clusters).
pub(super) fn making_flags(cluster: &crate::node::settings::ClusterSettings) -> Vec<&'static str> {
    let attach = &cluster.attach;
    let given = [
        (cluster.kind_config.is_some(), "--kind-config"),
        (!cluster.ports.is_empty(), "-p/--port"),
        (attach.registry.is_some(), "--registry"),
        (
            attach.mirror.is_some() && !attach.mirror_from_config,
            "--mirror",
        ),
        (!cluster.cert_sans.is_empty(), "--cert-san"),
    ];
    given
        .into_iter()
        .filter_map(|(is, flag)| is.then_some(flag))
        .collect()
}

/// The seed the snapshot's data root mounts: it must be on the engine; the
/// node gets its store and key, and its bootstrap remounts the layers.
async fn mount_seed(
    cx: &mut Context<'_, DockerProvider>,
    meta: &Metadata,
    seed: &str,
) -> Result<()> {
    let nodes = cx.provider.list().await?;
    let seeds = crate::seed::inventory(cx.provider, &nodes, Some(&meta.dind_image)).await?;
    let ready = seeds.is_some_and(|(_, seeds)| {
        seeds
            .iter()
            .any(|s| s.key == seed && s.state == crate::seed::store::SeedState::Ready)
    });
    if !ready {
        return Err(Error::SnapshotSeedGone {
            name: meta.name.clone(),
            seed: seed.to_string(),
        }
        .into());
    }
    let node = &mut cx.plan.as_mut().expect("the plan step runs first").node;
    node.env.insert("KIP_SEED".into(), seed.to_string());
    node.labels.insert(labels::SEED.into(), seed.to_string());
    node.seed_store = Some(SeedStoreSpec {
        volume: crate::seed::store::VOLUME.into(),
        mount_path: SEED_STORE,
        labels: crate::seed::store::volume_labels(&meta.dind_image),
    });
    Ok(())
}

/// The node as the snapshot's: its image, its kind image's name, the
/// iptables backend it used, the labels that say where it came from.
pub(super) fn plan_from<P: Provider>(cx: &mut Context<'_, P>, meta: &Metadata) {
    let auto = cx.request.cluster.iptables == IptablesMode::Auto;
    let node = &mut cx.plan.as_mut().expect("the plan step runs first").node;
    node.image = meta.dind_image.clone();
    node.env
        .insert("KIP_NODE_IMAGE".into(), meta.kind_image.clone());
    node.env.insert("KIP_RESTORE".into(), "1".into());
    if let Some(iptables) = meta.iptables.as_ref().filter(|_| auto) {
        node.env.insert("KIP_IPTABLES".into(), iptables.clone());
    }
    node.labels
        .insert(labels::KIND_CLUSTER.into(), meta.kind_cluster.clone());
    node.labels.insert(LABEL.into(), meta.name.clone());
}

impl Step<DockerProvider> for ProvisionFromSnapshot {
    fn stage(&self) -> Stage {
        Stage::Make
    }

    fn run<'s, 'c>(
        &'s self,
        cx: &'s mut Context<'c, DockerProvider>,
    ) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let meta = self
                .found
                .borrow()
                .clone()
                .expect("the snapshot is checked first");
            let plan = cx.plan();
            let volume = plan.node.volume.name.clone();
            let step = cx.printer.step(
                "snapshot-copied",
                &format!("Copying snapshot {} into volume {volume}", meta.name),
            );
            let labels_ = plan.node.labels.clone().into_iter().collect();
            let cluster = plan.cluster.clone();
            let prepared = snapshot::volume::prepare_copy_in(
                cx.provider,
                &meta,
                (&volume, &cluster),
                &labels_,
            );
            let Some(helper) = prepared.await? else {
                // Another kip's (or not kip's): not this run's to fill.
                return Err(Error::NameTaken { cluster }.into());
            };
            // The node starts while the helper copies: its bootstrap waits
            // for the copy's last mark (KIP_RESTORE, `await_restore_copy`),
            // so the node's start and its boot until then cost nothing.
            let provider = cx.provider;
            let copied = async {
                let started = std::time::Instant::now();
                let linked = snapshot::volume::run_copy_in(provider, &helper).await?;
                step.done(&format!(
                    "Copied snapshot {} ({}{}) in {:.1}s",
                    meta.name,
                    crate::output::size(meta.size_bytes),
                    if linked {
                        format!(", {}", snapshot::volume::LINKED)
                    } else {
                        String::new()
                    },
                    started.elapsed().as_secs_f64()
                ));
                anyhow::Ok(())
            };
            let (copied, started) = futures_util::future::join(copied, Provision.run(cx)).await;
            // The helper held the volume until the node did: no moment
            // it was there without a container a `down` or `gc` respects.
            let removed = cx.provider.remove_helper(&helper).await;
            copied?;
            let flow = started?;
            removed?;
            Ok(flow)
        })
    }
}
