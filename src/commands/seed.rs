//! `kip seed list` and `kip seed rm`: the engine's seeds (`crate::seed`),
//! shown with their size, last use and the clusters made from them, and
//! removed on request when no cluster uses them. `kip down` never removes
//! a seed; `kip gc --older-than` removes unused old ones.

use crate::error::Error;
use crate::output::size;
use crate::output::{OutputFormat, Printer};
use crate::provider::Provider;
use crate::seed::store::{Removal, SeedState, Store};
use crate::seed::{inventory, remote_inventory, SeedKey, SeedPlace, SeedSummary};
use anyhow::Result;

/// What `kip seed` does.
#[derive(Debug, Clone)]
pub enum SeedAction {
    List(OutputFormat),
    /// Keys (or unique prefixes), or every seed no cluster uses.
    Remove {
        keys: Vec<String>,
        all: bool,
    },
}

#[derive(Debug, Clone)]
pub struct SeedSettings {
    pub action: SeedAction,
    /// The image to run the store's helper in (--dind-image).
    pub dind_image: Option<String>,
}

pub async fn run(settings: &SeedSettings, place: SeedPlace<'_>, printer: &Printer) -> Result<()> {
    let stores = stores(place, settings.dind_image.as_deref(), printer).await?;
    let seeds: Vec<SeedSummary> = stores.iter().flat_map(|(_, s)| s.iter().cloned()).collect();
    match &settings.action {
        SeedAction::List(format) => list(&seeds, *format, printer),
        SeedAction::Remove { keys, all } => {
            if stores.is_empty() {
                return match keys.first() {
                    Some(key) => Err(unknown(key)),
                    None => {
                        printer.info("No seed on this engine");
                        Ok(())
                    }
                };
            }
            let chosen = if *all {
                seeds.iter().filter(|s| !s.in_use).collect()
            } else {
                choose(&seeds, keys)?
            };
            let mut busy = Vec::new();
            for (store, _) in &stores {
                let here: Vec<&SeedSummary> = chosen
                    .iter()
                    .copied()
                    .filter(|s| s.node.as_deref() == store.outer_node())
                    .collect();
                busy.extend(remove(store, &here, printer).await?);
                if store.remove_if_empty().await? {
                    printer.info(&format!(
                        "Removed the empty seed store (volume {})",
                        crate::seed::store::VOLUME
                    ));
                }
            }
            if busy.is_empty() {
                Ok(())
            } else {
                Err(Error::SeedsHeld { keys: busy }.into())
            }
        }
    }
}

/// The stores at `place` with their seeds: the local engine's (none or
/// one), or those of the outer nodes kip knows of (one it cannot read is
/// a warning naming the node).
async fn stores<'a>(
    place: SeedPlace<'a>,
    dind_image: Option<&str>,
    printer: &Printer,
) -> Result<Vec<(Store<'a>, Vec<SeedSummary>)>> {
    match place {
        SeedPlace::Engine(engine) => {
            let nodes = engine.list().await?;
            Ok(inventory(engine, &nodes, dind_image)
                .await?
                .into_iter()
                .collect())
        }
        SeedPlace::Remote(kube) => {
            let found = remote_inventory(kube, dind_image).await?;
            for (node, why) in &found.unread {
                printer.warn(&format!(
                    "the seed store on outer node {node} cannot be read: {why}"
                ));
            }
            Ok(found.stores)
        }
    }
}

/// What `kip seed list -o json` prints.
#[derive(Debug, serde::Serialize)]
struct SeedList<'a> {
    items: &'a [SeedSummary],
}

impl crate::output::Document for SeedList<'_> {
    const KIND: &'static str = "SeedList";
    const SCHEMA: &'static str = "seed-list.schema.json";
}

fn list(seeds: &[SeedSummary], format: OutputFormat, printer: &Printer) -> Result<()> {
    match format {
        OutputFormat::Json => crate::output::json(&SeedList { items: seeds })?,
        OutputFormat::Table if seeds.is_empty() => printer.info("No seed on this engine"),
        OutputFormat::Table => {
            let mut rows = vec![[
                "KEY",
                "IMAGE",
                "SIZE",
                "LAST USED",
                "STATE",
                "CLUSTERS",
                "NODE",
            ]
            .map(String::from)];
            for s in seeds {
                rows.push([
                    s.key.clone(),
                    s.image.clone().unwrap_or_else(|| "-".into()),
                    size(s.size_bytes),
                    crate::cluster::status::age(s.last_used_at.as_deref()),
                    state(s),
                    users(s),
                    s.node.clone().unwrap_or_default(),
                ]);
            }
            // The NODE column is remote mode's only.
            if seeds.iter().all(|s| s.node.is_none()) {
                rows.iter_mut().for_each(|r| r[6].clear());
            }
            crate::output::out(crate::output::table(&rows))?;
        }
    }
    Ok(())
}

/// The clusters and snapshots that use the seed.
fn users(seed: &SeedSummary) -> String {
    let snapshots = seed.snapshots.iter().map(|s| format!("snapshot:{s}"));
    let all: Vec<String> = seed.clusters.iter().cloned().chain(snapshots).collect();
    if all.is_empty() {
        "-".into()
    } else {
        all.join(",")
    }
}

fn state(seed: &SeedSummary) -> String {
    let word = serde_json::to_value(seed.state)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    if seed.state == SeedState::Ready && seed.in_use {
        format!("{word}, in use")
    } else {
        word
    }
}

/// The seeds `keys` name (a key or a unique prefix each); refused when
/// unknown, ambiguous or in use, before anything is removed.
fn choose<'a>(seeds: &'a [SeedSummary], keys: &[String]) -> Result<Vec<&'a SeedSummary>> {
    let mut chosen = Vec::new();
    for key in keys {
        let matches: Vec<&SeedSummary> = seeds
            .iter()
            .filter(|s| s.key.starts_with(key.as_str()))
            .collect();
        let seed = match matches.as_slice() {
            [] => return Err(unknown(key)),
            [one] => *one,
            _ => {
                return Err(Error::SeedKeyAmbiguous {
                    prefix: key.clone(),
                    count: matches.len(),
                }
                .into())
            }
        };
        if seed.in_use {
            return Err(in_use(seed));
        }
        chosen.push(seed);
    }
    Ok(chosen)
}

/// One seed after the other, each its own step (a helper each): the keys
/// a running node holds, left in place.
async fn remove(
    store: &Store<'_>,
    chosen: &[&SeedSummary],
    printer: &Printer,
) -> Result<Vec<String>> {
    let mut busy = Vec::new();
    for seed in chosen {
        let Some(key) = SeedKey::parse(&seed.key) else {
            continue;
        };
        let what = seed.image.as_deref().unwrap_or("leftover");
        let step = printer.step("seed-removed", &format!("Removing seed {key} ({what})"));
        let removal = store.remove(std::slice::from_ref(&key)).await?;
        if removal.iter().any(|(_, r)| *r == Removal::Busy) {
            step.failed(&format!(
                "Seed {key} is held by a running node: left in place"
            ));
            busy.push(key.to_string());
        } else {
            step.done(&format!(
                "Removed seed {key} ({what}, {})",
                size(seed.size_bytes)
            ));
        }
    }
    Ok(busy)
}

fn unknown(key: &str) -> anyhow::Error {
    Error::SeedNotFound {
        key: key.to_string(),
    }
    .into()
}

fn in_use(seed: &SeedSummary) -> anyhow::Error {
    Error::SeedInUse {
        key: seed.key.clone(),
        clusters: seed.clusters.clone(),
        snapshots: seed.snapshots.clone(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(key: &str, in_use: bool) -> SeedSummary {
        SeedSummary {
            key: key.into(),
            state: SeedState::Ready,
            image: None,
            image_id: None,
            dockerd: None,
            size_bytes: 0,
            made_at: None,
            last_used_at: None,
            in_use,
            clusters: if in_use { vec!["a".into()] } else { Vec::new() },
            node: None,
            snapshots: Vec::new(),
        }
    }

    #[test]
    fn the_list_matches_its_schema() {
        crate::output::assert_matches_schema(&SeedList {
            items: &[seed("0123456789abcdef0123", true)],
        });
    }

    #[test]
    fn keys_are_chosen_by_unique_prefix_and_never_in_use() {
        let seeds = [
            seed("0123456789abcdef0123", false),
            seed("0129999999abcdef0123", false),
            seed("fedc", true),
        ];
        let one = choose(&seeds, &["0123".into()]).unwrap();
        assert_eq!(one[0].key, "0123456789abcdef0123");
        let err = choose(&seeds, &["012".into()]).unwrap_err();
        assert!(
            matches!(
                err.downcast_ref::<Error>(),
                Some(Error::SeedKeyAmbiguous { .. })
            ),
            "{err}"
        );
        let err = choose(&seeds, &["9".into()]).unwrap_err();
        assert!(
            matches!(
                err.downcast_ref::<Error>(),
                Some(Error::SeedNotFound { .. })
            ),
            "{err}"
        );
        let err = choose(&seeds, &["fe".into()]).unwrap_err();
        assert!(format!("{err}").contains("in use by cluster(s) a"), "{err}");
    }
}
