//! Preparing the node's engine, by streaming: the kind node image comes
//! from the host's Docker engine, never from a registry inside the node. A
//! new node's Docker store is empty, and kind would pull its ~1 GB
//! digest-pinned image there on every `kip up` (slow, rate-limited,
//! impossible offline). kip makes sure the host's engine has the image
//! (pulling it there once, with the host's credentials and mirrors) before
//! the node is made, streams it into the node once the node's dockerd runs
//! (the node waits for it before kind starts), and skips that when the node
//! already has it. kind then finds it and pulls nothing.
//!
//! [`StreamImage::on_host`] is a step, before the node is made;
//! [`StreamImage::stream_to_node`] streams once the node's dockerd runs, as
//! `seed.rs`'s second step asks: the stream is how a seed is made, and what
//! a node that cannot use one gets.

use super::{Context, Flow, Stage, Step};
use crate::cluster::images::{docker_load, node_image_id};
use crate::error::Error;
use crate::node::image::name_in_node;
use crate::output::Printer;
use crate::provider::docker::DockerProvider;
use crate::provider::{Node, Provider};
use anyhow::Result;
use futures_util::future::LocalBoxFuture;
use std::cell::OnceCell;
use std::rc::Rc;

/// The kind node image streamed from the host's engine into the node's.
#[derive(Default)]
pub struct StreamImage {
    /// The image found on the host, when there is one to bring.
    found: Rc<OnceCell<HostImage>>,
}

/// [`StreamImage`]'s first step: the image on the host's engine.
pub struct OnHost {
    found: Rc<OnceCell<HostImage>>,
}

impl StreamImage {
    pub fn on_host(&self) -> OnHost {
        OnHost {
            found: self.found.clone(),
        }
    }

    /// The image `on_host` found on the host's engine: the engine, its
    /// name and ID (None: nothing to bring).
    pub fn found(&self) -> Option<(&DockerProvider, &str, &str)> {
        self.found
            .get()
            .map(|f| (&f.host, f.image.as_str(), f.id.as_str()))
    }

    /// The image into the node's Docker now: into the seed the node makes
    /// (`seeding`, worded so), or into the node alone.
    pub async fn stream_to_node<P: Provider>(
        &self,
        cx: &Context<'_, P>,
        seeding: bool,
    ) -> Result<()> {
        let Some(image) = self.found.get() else {
            return Ok(());
        };
        // The node waits for the image before kind starts.
        tokio::time::timeout_at(
            cx.deadline,
            image.stream_into(cx.node(), cx.printer, seeding),
        )
        .await
        .map_err(|_| Error::KindImageLate {
            image: image.image.clone(),
            wait: cx.request.cluster.wait,
        })?
    }
}

/// A kind node image on the host's engine, to stream into the node.
struct HostImage {
    host: DockerProvider,
    image: String,
    id: String,
}

impl<P: Provider> Step<P> for OnHost {
    /// A pull runs to its end.
    fn stage(&self) -> Stage {
        Stage::Prepare
    }

    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>> {
        Box::pin(async move {
            let image = cx.request.cluster.kind_image();
            match find_on_host(cx.host, &image, cx.facts().local, cx.printer).await? {
                Some(found) => {
                    let _ = self.found.set(found);
                }
                // Planned to stream, but there is no image to bring: the
                // node must not wait for one.
                None if cx.host.is_some() => cx.plan_node(false)?,
                None => {}
            }
            Ok(Flow::Next)
        })
    }
}

/// Before anything is created: the image on the host's engine, pulled there
/// if need be. Local mode needs it (absent and not pullable: exit 3, nothing
/// made). A remote node without a reachable host engine, or whose host can
/// neither find nor pull the image, lets kind pull it inside the Pod, as
/// kind alone would.
async fn find_on_host(
    host: Option<&DockerProvider>,
    image: &str,
    local: bool,
    printer: &Printer,
) -> Result<Option<HostImage>> {
    let Some(host) = host else {
        return Ok(None);
    };
    // A host engine that never answers is told apart within its limit,
    // never waited on (remote mode has not asked it anything before).
    let looked_up = match host.check_answers().await {
        Ok(()) => host.host_image_id(image).await,
        Err(e) => Err(e),
    };
    let id = match looked_up {
        Ok(Some(id)) => id,
        Ok(None) => {
            match host.pull_kind_image(image, printer).await {
                Ok(()) => {}
                Err(e) if local => return Err(e),
                // The remote cluster may reach a registry this machine cannot.
                Err(e) => {
                    printer.info(&format!("{e:#}\nthe node pulls {image} itself"));
                    return Ok(None);
                }
            }
            host.host_image_id(image)
                .await?
                .ok_or_else(|| Error::KindImageNotListed {
                    image: image.to_string(),
                })?
        }
        Err(e) if local => return Err(e),
        Err(e) => {
            printer.info(&format!(
                "no local Docker engine to bring the kind node image from ({e:#}); the node pulls {image} itself"
            ));
            return Ok(None);
        }
    };
    Ok(Some(HostImage {
        host: host.clone(),
        image: image.to_string(),
        id,
    }))
}

impl HostImage {
    /// Into the node's Docker (into the seed it makes, with `seeding`),
    /// unless it has this very image already (a restarted or reused node).
    async fn stream_into(&self, node: &impl Node, printer: &Printer, seeding: bool) -> Result<()> {
        let name = name_in_node(&self.image);
        if node_image_id(node, &name).await?.as_deref() == Some(self.id.as_str()) {
            printer.info(&format!("The node already has {}", self.image));
            return Ok(());
        }
        let image = &self.image;
        let (doing, done) = if seeding {
            (
                format!(
                    "Seeding the kind node image {image} (first use of this image on this engine)"
                ),
                format!(
                    "Seed of the kind node image {image} made: later nodes get it from the seed"
                ),
            )
        } else {
            (
                format!("Streaming the kind node image {image} into the node"),
                format!("Kind node image {image} streamed into the node"),
            )
        };
        let step = printer.step("kind-image-streamed", &doing);
        let loaded = docker_load(
            node,
            self.host.save_images(std::slice::from_ref(&self.image)),
        )
        .await
        .map_err(|e| Error::KindImageStream {
            image: self.image.clone(),
            error: format!("{e:#}"),
        })?;
        // `docker load` restores the tag the image was saved under; a
        // digest-pinned image (saved by digest) is named in the node by ID.
        if !loaded.contains(&name) {
            let tag = ["docker", "tag", self.id.as_str(), name.as_str()].map(String::from);
            let out = node.exec_capture(&tag, None).await?;
            if out.code != 0 {
                let said = format!("{}\n{}", out.stderr.trim(), out.stdout.trim());
                return Err(Error::KindImageTag {
                    name,
                    code: out.code,
                    said: said.trim().to_string(),
                }
                .into());
            }
        }
        step.done(&done);
        Ok(())
    }
}
