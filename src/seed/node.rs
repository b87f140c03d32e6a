//! A new node's kind node image from a seed: what kip adds to the node
//! plan, and what it makes of the node's own report (`kip-info: seed=…`).

use super::store::{volume_labels, VOLUME};
use super::{SeedKey, STORAGE_DRIVER};
use crate::node::contract::SEED_STORE;
use crate::node::{labels, NodePlan, SeedStoreSpec};
use crate::output::Printer;
use crate::provider::docker::DockerProvider;
use anyhow::Result;
use std::collections::BTreeMap;

/// The seed a new node gets its kind node image from (or makes).
#[derive(Debug, Clone)]
pub struct Seed {
    key: SeedKey,
    kind_image_id: String,
    dind_image: String,
}

impl Seed {
    /// The seed for a node of `dind_image` on `engine` that runs the kind
    /// node image named `name_in_node` there, which the engine knows as
    /// `kind_image_id`; None when the engine has no ID for `dind_image`
    /// (then nothing would key the seed).
    pub async fn for_node(
        engine: &DockerProvider,
        (name_in_node, kind_image_id): (&str, &str),
        dind_image: &str,
    ) -> Result<Option<Seed>> {
        let Some(dind_image_id) = engine.host_image_id(dind_image).await? else {
            return Ok(None);
        };
        Ok(Some(Seed {
            key: SeedKey::new(
                (name_in_node, kind_image_id),
                STORAGE_DRIVER,
                &dind_image_id,
            ),
            kind_image_id: kind_image_id.to_string(),
            dind_image: dind_image.to_string(),
        }))
    }

    /// The seed for a remote node Pod of `dind_image` (a reference: kip
    /// cannot know which image ID each outer node pulls for it), kept in
    /// the `hostPath` seed store of the outer node the Pod runs on. A tag
    /// that moves to another dockerd is caught by the node itself: its
    /// bootstrap leaves a seed that another dockerd made (`seed_fits_node`).
    pub fn for_remote_node((name_in_node, kind_image_id): (&str, &str), dind_image: &str) -> Seed {
        Seed {
            key: SeedKey::new(
                (name_in_node, kind_image_id),
                STORAGE_DRIVER,
                &format!("ref:{dind_image}"),
            ),
            kind_image_id: kind_image_id.to_string(),
            dind_image: dind_image.to_string(),
        }
    }

    /// The node gets the seed's key (its bootstrap's KIP_SEED and a label
    /// that keeps `kip gc` off the seed while the node exists) and the store.
    pub fn apply(&self, plan: &mut NodePlan) {
        let node = &mut plan.node;
        node.env.insert("KIP_SEED".into(), self.key.to_string());
        // The maker publishes the seed only if the node got this very image.
        node.env
            .insert("KIP_SEED_IMAGE_ID".into(), self.kind_image_id.clone());
        node.labels
            .insert(labels::SEED.into(), self.key.to_string());
        node.seed_store = Some(SeedStoreSpec {
            volume: VOLUME.into(),
            mount_path: SEED_STORE,
            labels: volume_labels(&self.dind_image),
        });
    }
}

/// What a node said of its seed, by the time its Docker runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeSeed {
    /// No seed was planned for it.
    None,
    /// Its Docker has the image from the seed: nothing to stream. The
    /// node's own words on how long it took.
    Used(String),
    /// It makes the seed: kip streams the image into the seed's dockerd.
    Making,
    /// It cannot use a seed (why): kip streams the image into it.
    Off(String),
}

impl NodeSeed {
    /// From the node's facts (its `kip-info:` lines) so far.
    pub fn reported(facts: &BTreeMap<String, String>) -> NodeSeed {
        let Some(value) = facts.get("seed") else {
            return NodeSeed::None;
        };
        let (what, rest) = value.split_once(' ').unwrap_or((value, ""));
        match what {
            "used" | "remounted" | "made" => NodeSeed::Used(rest.to_string()),
            "making" => NodeSeed::Making,
            _ => NodeSeed::Off(rest.trim_matches(|c| c == '(' || c == ')').to_string()),
        }
    }
}

/// A seed report worth telling as it comes: the node waits for another
/// node's seed (so the user knows why Docker takes its time).
pub fn say(key: &str, value: &str, image: &str, printer: &Printer) {
    if key == "seed" && value.starts_with("waiting") {
        printer.info(&format!(
            "Waiting for the seed of {image} that another node is making (first use of this image on this engine)"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(value: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("seed".to_string(), value.to_string())])
    }

    #[test]
    fn the_nodes_word_decides_whether_kip_streams() {
        assert_eq!(NodeSeed::reported(&BTreeMap::new()), NodeSeed::None);
        assert_eq!(
            NodeSeed::reported(&facts("used 0123456789abcdef0123 (8 layers in 130ms)")),
            NodeSeed::Used("0123456789abcdef0123 (8 layers in 130ms)".into())
        );
        assert_eq!(
            NodeSeed::reported(&facts("making 0123456789abcdef0123")),
            NodeSeed::Making
        );
        assert_eq!(
            NodeSeed::reported(&facts("off (the node image has no flock)")),
            NodeSeed::Off("the node image has no flock".into())
        );
        // Still waiting when Docker runs cannot be; whatever it is, kip streams.
        assert!(matches!(
            NodeSeed::reported(&facts("waiting 0123456789abcdef0123")),
            NodeSeed::Off(_)
        ));
    }
}
