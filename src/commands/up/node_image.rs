//! The kind node image comes from the host's Docker engine, never from a
//! registry inside the node: a new node's Docker store is empty, and kind
//! would pull its ~1 GB digest-pinned image there on every `kip up` (slow,
//! rate-limited, impossible offline). kip makes sure the host's engine has
//! the image (pulling it there once, with the host's credentials and
//! mirrors), streams it into the node once the node's dockerd runs, and skips
//! that when the node already has it. kind then finds it and pulls nothing.
//! A local node gets it from a seed instead (`crate::seed`): the stream
//! then goes, once per engine, into the seed that later nodes mount.

use crate::commands::load::{docker_load, node_image_id};
use crate::error::Error;
use crate::node::NodePlan;
use crate::output::Printer;
use crate::provider::docker::DockerProvider;
use crate::provider::Node;
use crate::seed::{NodeSeed, Seed};
use anyhow::Result;
use std::collections::BTreeMap;

/// A kind node image on the host's engine, to stream into the node.
pub(super) struct HostImage<'a> {
    host: &'a DockerProvider,
    pub image: String,
    id: String,
}

/// The name kind is given inside the node. `docker load` keeps tags but not
/// registry digests, so a digest-pinned image (kind's default) is known
/// there by its tag alone; the digest was checked on the host, and kip tags
/// the very image it streamed with this name.
pub(crate) fn name_in_node(image: &str) -> String {
    match image.split_once('@') {
        Some((name, _))
            if name
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains(':')) =>
        {
            name.to_string()
        }
        Some((name, digest)) => {
            let hex = digest.trim_start_matches("sha256:");
            format!("{name}:{}", &hex[..hex.len().min(12)])
        }
        None => image.to_string(),
    }
}

/// Before anything is created: the image on the host's engine, pulled there
/// if need be. Local mode needs it (absent and not pullable: exit 3, nothing
/// made). A remote node without a reachable host engine, or whose host can
/// neither find nor pull the image, lets kind pull it inside the Pod, as
/// kind alone would.
pub(super) async fn prepare<'a>(
    host: Option<&'a DockerProvider>,
    image: &str,
    local: bool,
    printer: &Printer,
) -> Result<Option<HostImage<'a>>> {
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
        host,
        image: image.to_string(),
        id,
    }))
}

impl HostImage<'_> {
    /// The engine-side half of preparing the node's engine, before the node
    /// exists: a local node gets a seed of this image (the plan mounts the
    /// engine's seed store and names the seed), unless `enabled` is false.
    pub(super) async fn plan_seed(
        &self,
        plan: &mut NodePlan,
        local: bool,
        enabled: bool,
    ) -> Result<()> {
        if !(local && enabled) {
            return Ok(());
        }
        let name = name_in_node(&self.image);
        if let Some(seed) = Seed::for_node(self.host, (&name, &self.id), &plan.node.image).await? {
            seed.apply(plan);
        }
        Ok(())
    }

    /// The node-side half, once the node's Docker runs: nothing to do when
    /// its seed gave it the image; else the image streamed in (into the
    /// seed it makes, or into the node alone).
    pub(super) async fn bring_into(
        &self,
        node: &impl Node,
        facts: &BTreeMap<String, String>,
        printer: &Printer,
    ) -> Result<()> {
        match NodeSeed::reported(facts) {
            NodeSeed::Used(how) => {
                printer
                    .step("kind-image-seeded", "Kind node image from seed")
                    .done(&format!("Kind node image {} from seed {how}", self.image));
                Ok(())
            }
            NodeSeed::Making => self.stream_into(node, printer, true).await,
            NodeSeed::Off(why) => {
                printer.info(&format!(
                    "No seed for this node ({why}): the kind node image is streamed in"
                ));
                self.stream_into(node, printer, false).await
            }
            NodeSeed::None => self.stream_into(node, printer, false).await,
        }
    }

    /// Into the node's Docker (into the seed it makes, with `seeding`),
    /// unless it has this very image already (a restarted or reused node).
    async fn stream_into(&self, node: &impl Node, printer: &Printer, seeding: bool) -> Result<()> {
        let name = name_in_node(&self.image);
        if node_image_id(node, &name).await?.as_deref() == Some(self.id.as_str()) {
            printer.info(&format!("The node already has {}", self.image));
            return Ok(());
        }
        let (doing, done) = if seeding {
            (
                format!(
                    "Seeding the kind node image {} (first use of this image on this engine)",
                    self.image
                ),
                format!(
                    "Seed of the kind node image {} made: later nodes get it from the seed",
                    self.image
                ),
            )
        } else {
            (
                format!("Streaming the kind node image {} into the node", self.image),
                format!("Kind node image {} streamed into the node", self.image),
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

#[cfg(test)]
mod tests {
    use super::name_in_node;

    #[test]
    fn a_digest_pinned_image_is_known_in_the_node_by_its_tag() {
        assert_eq!(
            name_in_node("kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a"),
            "kindest/node:v1.36.1"
        );
        assert_eq!(
            name_in_node("localhost:5000/node@sha256:0123456789abcdef0123"),
            "localhost:5000/node:0123456789ab"
        );
        assert_eq!(
            name_in_node("kip-test-kind-node:latest"),
            "kip-test-kind-node:latest"
        );
        assert_eq!(
            name_in_node("registry:5000/node:v1"),
            "registry:5000/node:v1"
        );
    }
}
