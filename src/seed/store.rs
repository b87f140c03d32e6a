//! The seed store as kip sees it from the host: one volume per engine,
//! read and changed by `store.sh` in a throwaway helper container. The
//! helper takes the same locks as the nodes, so what it removes no node
//! holds; kip adds what only the engine knows: which clusters' nodes (also
//! stopped ones, which hold no lock) carry a seed's label.

use super::SeedKey;
use crate::error::Error;
use crate::node::contract::SEED_STORE;
use crate::node::image::default_image;
use crate::node::labels;
use crate::provider::docker::DockerProvider;
use crate::provider::kube::KubeProvider;
use anyhow::Result;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// The volume that holds the engine's seeds.
pub const VOLUME: &str = "kip-seeds";
/// The store's label naming a Docker-in-Docker image to run the helper in
/// (the image of the node that made the store).
const HELPER_IMAGE_LABEL: &str = "dev.kip.seed-helper-image";
const SCRIPT: &str = include_str!("store.sh");

/// The store volume's labels, for the node whose mount creates it.
pub fn volume_labels(dind_image: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (labels::MANAGED_BY.to_string(), labels::MANAGER.to_string()),
        (HELPER_IMAGE_LABEL.to_string(), dind_image.to_string()),
        (
            labels::VERSION.to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SeedState {
    /// Complete: nodes get the image from it.
    Ready,
    /// A node is making it.
    Making,
    /// kip is removing it.
    Removing,
    /// What a maker or remover that died left: never used, removed by the
    /// next maker of its key or by `kip gc`.
    Abandoned,
}

/// One seed (or leftover) in the store.
#[derive(Debug, Clone)]
pub struct StoreEntry {
    pub key: SeedKey,
    pub state: SeedState,
    /// A running node holds its lock: uses it (or makes or removes it).
    pub held: bool,
    pub size_bytes: u64,
    pub made_at: Option<String>,
    /// The last boot of a node from it (its stamp's mtime); for a
    /// leftover, when it was last written.
    pub last_used: Option<SystemTime>,
    pub image: Option<String>,
    pub image_id: Option<String>,
    pub dockerd: Option<String>,
}

/// What became of a key `remove` was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Removed,
    /// A node holds it now.
    Busy,
    Absent,
}

/// Where a store is: the local engine's volume, or the `hostPath` of one
/// outer node of a shared cluster.
enum Place<'a> {
    Engine(&'a DockerProvider),
    OuterNode(&'a KubeProvider, String),
}

/// A store, through a helper (container or Pod) of `image`.
pub struct Store<'a> {
    place: Place<'a>,
    image: String,
}

impl<'a> Store<'a> {
    /// The engine's store, or None if no node ever made one. The helper
    /// runs in the first of these images the engine has: `dind_image`
    /// (--dind-image), the one that made the store, kip's node image.
    pub async fn open(
        engine: &'a DockerProvider,
        dind_image: Option<&str>,
    ) -> Result<Option<Store<'a>>> {
        let Some(volume_labels) = engine.volume_labels(VOLUME).await? else {
            return Ok(None);
        };
        let mut candidates: Vec<String> = dind_image.map(String::from).into_iter().collect();
        candidates.extend(volume_labels.get(HELPER_IMAGE_LABEL).cloned());
        candidates.push(default_image());
        for image in &candidates {
            if engine.host_image_id(image).await?.is_some() {
                return Ok(Some(Store {
                    place: Place::Engine(engine),
                    image: image.clone(),
                }));
            }
        }
        Err(Error::SeedStoreUnreadable {
            volume: VOLUME.into(),
            images: candidates,
        }
        .into())
    }

    /// The store on outer node `node` of a shared cluster, read in a Pod
    /// of `image` (the DinD image of that node's node Pods).
    pub fn on_outer_node(kube: &'a KubeProvider, node: &str, image: &str) -> Store<'a> {
        Store {
            place: Place::OuterNode(kube, node.to_string()),
            image: image.to_string(),
        }
    }

    /// The outer node it is on (None: the local engine's).
    pub fn outer_node(&self) -> Option<&str> {
        match &self.place {
            Place::Engine(_) => None,
            Place::OuterNode(_, node) => Some(node),
        }
    }

    async fn run(&self, args: &[&str]) -> Result<String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let out = match &self.place {
            Place::Engine(engine) => {
                engine
                    .run_seed_helper(&self.image, (VOLUME, SEED_STORE), SCRIPT, &args)
                    .await?
            }
            Place::OuterNode(kube, node) => {
                kube.run_seed_helper(node, &self.image, SCRIPT, &args)
                    .await?
            }
        };
        if out.code != 0 {
            return Err(Error::SeedHelperFailed {
                what: args.join(" "),
                error: format!("exited {}: {}", out.code, out.stderr.trim()),
            }
            .into());
        }
        Ok(out.stdout)
    }

    pub async fn list(&self) -> Result<Vec<StoreEntry>> {
        Ok(parse_list(&self.run(&["list"]).await?))
    }

    /// Removes each seed no running node holds (and what is left of it).
    pub async fn remove(&self, keys: &[SeedKey]) -> Result<Vec<(SeedKey, Removal)>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec!["remove"];
        args.extend(keys.iter().map(SeedKey::as_str));
        let out = self.run(&args).await?;
        Ok(out
            .lines()
            .filter_map(|line| {
                let (what, key) = line.split_once('\t')?;
                let removal = match what {
                    "removed" => Removal::Removed,
                    "busy" => Removal::Busy,
                    _ => Removal::Absent,
                };
                Some((SeedKey::parse(key)?, removal))
            })
            .collect())
    }

    /// Removes what dead makers and removers left; their names.
    pub async fn clean(&self) -> Result<Vec<String>> {
        let out = self.run(&["clean"]).await?;
        Ok(out
            .lines()
            .filter_map(|l| l.strip_prefix("cleaned\t").map(String::from))
            .collect())
    }

    /// Removes the store volume if it holds nothing and no node mounts it;
    /// an outer node's empty store is forgotten (its directory stays: node
    /// Pods there may mount it any time).
    pub async fn remove_if_empty(&self) -> Result<bool> {
        if !self.list().await?.is_empty() {
            return Ok(false);
        }
        match &self.place {
            Place::Engine(engine) => engine.remove_seed_store(VOLUME).await,
            Place::OuterNode(kube, node) => {
                kube.forget_seed_store(node).await?;
                Ok(false)
            }
        }
    }
}

/// `store.sh list`: key, state, held, size_kb, made_at, last_used (epoch),
/// image, image_id, dockerd; tab-separated, one line each.
fn parse_list(text: &str) -> Vec<StoreEntry> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let text = |i: usize| f.get(i).filter(|s| !s.is_empty()).map(|s| s.to_string());
            let state = match *f.get(1)? {
                "ready" => SeedState::Ready,
                "making" => SeedState::Making,
                "removing" => SeedState::Removing,
                _ => SeedState::Abandoned,
            };
            let epoch: u64 = f.get(5)?.parse().unwrap_or(0);
            Some(StoreEntry {
                key: SeedKey::parse(f.first()?)?,
                state,
                held: *f.get(2)? == "yes",
                size_bytes: f.get(3)?.parse::<u64>().unwrap_or(0) * 1024,
                made_at: text(4),
                last_used: (epoch > 0).then(|| SystemTime::UNIX_EPOCH + Duration::from_secs(epoch)),
                image: text(6),
                image_id: text(7),
                dockerd: text(8),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helpers_list_is_read_field_by_field() {
        let text = "0123456789abcdef0123\tready\tyes\t1536000\t2026-12-05T10:00:00Z\t1764928800\t\
                    kindest/node:v1.36.1\tsha256:abc\tDocker version 20.10.24+dfsg1, build 297e128\n\
                    fedcba98765432100123\tabandoned\tno\t42\t\t1764928000\t\t\t\n\
                    not-a-key\tready\tno\t1\t\t0\t\t\t\n";
        let entries = parse_list(text);
        assert_eq!(entries.len(), 2, "a line without a key is no seed");
        let ready = &entries[0];
        assert_eq!(ready.state, SeedState::Ready);
        assert!(ready.held);
        assert_eq!(ready.size_bytes, 1_536_000 * 1024);
        assert_eq!(ready.image.as_deref(), Some("kindest/node:v1.36.1"));
        assert_eq!(
            ready.dockerd.as_deref(),
            Some("Docker version 20.10.24+dfsg1, build 297e128")
        );
        assert_eq!(
            ready.last_used,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_928_800))
        );
        let left = &entries[1];
        assert_eq!(left.state, SeedState::Abandoned);
        assert!(!left.held);
        assert_eq!(left.image, None);
        assert_eq!(left.made_at, None);
    }

    #[test]
    fn the_helper_script_parses_with_sh_n() {
        let status = std::process::Command::new("sh")
            .args(["-n", "-c", SCRIPT])
            .status()
            .expect("sh runs");
        assert!(status.success());
    }
}
