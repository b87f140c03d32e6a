//! Preparing the node's engine from a seed (issue 18, `crate::seed`): the
//! kind node image unpacked once per engine, which a node's bootstrap
//! mounts read-only into its Docker store before dockerd starts. The
//! stream (`stream.rs`) is how a seed is made, and what a node that cannot
//! use one gets: so a seed's pair of steps wraps the stream's.
//!
//! [`SeedImage::on_host`]: the image on the host (as the stream finds it),
//! then the seed of it named in the plan (its key, and the seed store
//! mounted: the engine's volume locally, the outer node's `hostPath`
//! remotely), unless the cluster refuses that store: then the node streams
//! and says why. [`SeedImage::in_node`], once the
//! node's dockerd runs: nothing when the node got the image from the seed;
//! else the stream, into the seed the node makes or into the node alone.

use super::stream::StreamImage;
use super::{Context, Flow, Stage, Step};
use crate::provider::Provider;
use crate::seed::{NodeSeed, Seed};
use anyhow::Result;
use futures_util::future::LocalBoxFuture;
use std::rc::Rc;

/// The kind node image from the engine's seed, or streamed.
#[derive(Default)]
pub struct SeedImage {
    stream: Rc<StreamImage>,
}

/// [`SeedImage`]'s first step: the image on the host, and its seed planned.
pub struct OnHost {
    stream: Rc<StreamImage>,
}

/// [`SeedImage`]'s second step: the image in the node.
pub struct InNode {
    stream: Rc<StreamImage>,
}

impl SeedImage {
    pub fn on_host(&self) -> OnHost {
        OnHost {
            stream: self.stream.clone(),
        }
    }

    pub fn in_node(&self) -> InNode {
        InNode {
            stream: self.stream.clone(),
        }
    }
}

impl<P: Provider> Step<P> for OnHost {
    /// A pull runs to its end.
    fn stage(&self) -> Stage {
        Stage::Prepare
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            self.stream.on_host().run(cx).await?;
            let Some((host, image, id)) = self.stream.found().filter(|_| cx.request.cluster.seed)
            else {
                return Ok(Flow::Next);
            };
            let name = crate::node::image::name_in_node(image);
            let dind_image = cx.plan().node.image.clone();
            let seed = if cx.facts().local {
                Seed::for_node(host, (&name, id), &dind_image).await?
            } else {
                Some(Seed::for_remote_node((&name, id), &dind_image))
            };
            let Some(seed) = seed else {
                return Ok(Flow::Next);
            };
            let mut seeded = cx.plan().clone();
            seed.apply(&mut seeded);
            // A cluster that forbids the store (a hostPath) gets the node
            // without it, which streams and says why (`KIP_SEED_OFF`).
            let plan = match cx.provider.seed_store_refused(&seeded).await? {
                None => seeded,
                Some(refusal) => {
                    let mut plan = cx.plan().clone();
                    plan.node
                        .env
                        .insert("KIP_SEED_OFF".into(), seed_store_refused(&refusal));
                    plan
                }
            };
            cx.plan = Some(plan);
            Ok(Flow::Next)
        })
    }
}

impl<P: Provider> Step<P> for InNode {
    fn stage(&self) -> Stage {
        Stage::Finish
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let Some((_, image, _)) = self.stream.found() else {
                return Ok(Flow::Next);
            };
            let facts = cx.bootstrap.as_ref().map(|b| b.facts().clone());
            match NodeSeed::reported(&facts.unwrap_or_default()) {
                NodeSeed::Used(how) => cx
                    .printer
                    .step("kind-image-seeded", "Kind node image from seed")
                    .done(&format!("Kind node image {image} from seed {how}")),
                NodeSeed::Making => self.stream.stream_to_node(cx, true).await?,
                NodeSeed::Off(why) => {
                    cx.printer.info(&format!(
                        "No seed for this node ({why}): the kind node image is streamed in"
                    ));
                    self.stream.stream_to_node(cx, false).await?
                }
                NodeSeed::None => self.stream.stream_to_node(cx, false).await?,
            }
            Ok(Flow::Next)
        })
    }
}

/// The node's word on a seed store the cluster refuses (one line: it ends
/// in the node's `kip-info: seed=off (…)`).
fn seed_store_refused(refusal: &str) -> String {
    let first = refusal.lines().next().unwrap_or_default();
    let said: String = first.chars().take(300).collect();
    format!(
        "the cluster refuses the hostPath seed store {}: {said}",
        crate::node::contract::SEED_STORE
    )
}

/// A remote pool member's seed (`crate::provider::kube::pool`): nobody
/// streams it an image, so it uses the outer node's seed of the image the
/// pool recorded (by its ID, when the pool was defined) if that node has
/// one, and else its Docker pulls the image.
pub struct SeedOnly {
    pub kind_image_id: String,
}

impl<P: Provider> Step<P> for SeedOnly {
    fn stage(&self) -> Stage {
        Stage::Prepare
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            if !cx.request.cluster.seed {
                return Ok(Flow::Next);
            }
            let name = crate::node::image::name_in_node(&cx.request.cluster.kind_image());
            let mut seeded = cx.plan().clone();
            let dind_image = seeded.node.image.clone();
            Seed::for_remote_node((&name, &self.kind_image_id), &dind_image).apply(&mut seeded);
            seeded.node.env.insert("KIP_NODE_IMAGE".into(), name);
            seeded
                .node
                .env
                .insert("KIP_SEED_USE_ONLY".into(), "1".into());
            if cx.provider.seed_store_refused(&seeded).await?.is_none() {
                cx.plan = Some(seeded);
            }
            Ok(Flow::Next)
        })
    }
}
