//! `kip gc`'s part for seeds: with `--older-than`, the seeds no cluster
//! uses and no node booted from for that long; always, what dead makers
//! or removers left. The store helper removes nothing a running node holds.

use super::store::{Removal, SeedState, Store};
use super::{inventory, remote_inventory, SeedKey, SeedSummary};
use crate::output::Printer;
use crate::provider::docker::DockerProvider;
use crate::provider::kube::KubeProvider;
use crate::provider::Provider;
use anyhow::Result;
use serde::Serialize;
use std::time::{Duration, SystemTime};

/// What `gc` did (or, with `--dry-run`, would do) with the engine's seeds
/// (`kip gc -o json`'s `seeds`).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Collected {
    pub deleted: Vec<Due>,
    /// What dead seed makers or removers left.
    pub cleaned: Vec<String>,
    pub kept: usize,
}

/// A seed `gc` removes, and why.
#[derive(Debug, Serialize)]
pub struct Due {
    /// The seed's key.
    pub name: String,
    pub reason: String,
    /// Remote mode: the outer node whose store held it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl Collected {
    /// The text `kip gc` prints of it, one line each.
    pub fn print(&self, dry_run: bool) -> Result<()> {
        let verb = if dry_run { "would " } else { "" };
        for d in &self.deleted {
            let on = d
                .node
                .as_deref()
                .map(|n| format!(" on outer node {n}"))
                .unwrap_or_default();
            crate::output::out(format!("{verb}delete seed {}{on} ({})\n", d.name, d.reason))?;
        }
        for name in &self.cleaned {
            crate::output::out(format!("{verb}remove seed leftover {name}\n"))?;
        }
        Ok(())
    }
}

/// Collects the engine's seeds; None without a seed store.
pub async fn collect(
    engine: &DockerProvider,
    older_than: Option<Duration>,
    dry_run: bool,
    now: SystemTime,
) -> Result<Option<Collected>> {
    // Listed now, after the clusters' deletion: their labels no longer count.
    let nodes = engine.list().await?;
    let Some((store, seeds)) = inventory(engine, &nodes, None).await? else {
        return Ok(None);
    };
    let mut collected = collect_store(&store, &seeds, (older_than, dry_run), now).await?;
    // The store goes with its last seed, unless a node still mounts it.
    if !dry_run {
        store.remove_if_empty().await?;
    }
    collected.kept = kept(&seeds, &collected);
    Ok(Some(collected))
}

/// Remote mode: the seeds of every outer node kip knows a store on; None
/// when it knows none. A store that cannot be read is named in a warning
/// and left.
pub async fn collect_remote(
    kube: &KubeProvider,
    (older_than, dry_run): (Option<Duration>, bool),
    now: SystemTime,
    printer: &Printer,
) -> Result<Option<Collected>> {
    let inventory = remote_inventory(kube, None).await?;
    for (node, why) in &inventory.unread {
        printer.warn(&format!("seeds on outer node {node} not collected: {why}"));
    }
    if inventory.stores.is_empty() {
        return Ok(None);
    }
    let mut all = Collected::default();
    for (store, seeds) in &inventory.stores {
        let mut collected = collect_store(store, seeds, (older_than, dry_run), now).await?;
        if !dry_run {
            store.remove_if_empty().await?;
        }
        all.kept += kept(seeds, &collected);
        all.deleted.append(&mut collected.deleted);
        all.cleaned.append(&mut collected.cleaned);
    }
    Ok(Some(all))
}

/// One store's due seeds removed (or, dry, named) and its leftovers
/// cleaned; `kept` is left to the caller.
async fn collect_store(
    store: &Store<'_>,
    seeds: &[SeedSummary],
    (older_than, dry_run): (Option<Duration>, bool),
    now: SystemTime,
) -> Result<Collected> {
    let mut deleted: Vec<Due> = seeds
        .iter()
        .filter_map(|s| due(s, now, older_than?))
        .collect();
    if dry_run {
        let cleaned = seeds
            .iter()
            .filter(|s| s.state == SeedState::Abandoned)
            .map(|s| s.key.clone())
            .collect();
        return Ok(Collected {
            deleted,
            cleaned,
            kept: 0,
        });
    }
    let cleaned = store.clean().await?;
    let keys: Vec<SeedKey> = deleted
        .iter()
        .filter_map(|d| SeedKey::parse(&d.name))
        .collect();
    let removed = store.remove(&keys).await?;
    // A running node that took a seed since the listing keeps it.
    deleted.retain(|d| {
        removed
            .iter()
            .any(|(k, r)| k.as_str() == d.name && *r != Removal::Busy)
    });
    Ok(Collected {
        deleted,
        cleaned,
        kept: 0,
    })
}

/// The complete seeds of a store `collected` left.
fn kept(seeds: &[SeedSummary], collected: &Collected) -> usize {
    let ready = seeds.iter().filter(|s| s.state == SeedState::Ready).count();
    ready - collected.deleted.len()
}

/// Why `gc --older-than` removes a seed, or None: a complete seed no node
/// uses or carries, last used longer ago than `older_than`.
pub fn due(seed: &SeedSummary, now: SystemTime, older_than: Duration) -> Option<Due> {
    if seed.state != SeedState::Ready || seed.in_use {
        return None;
    }
    let idle = now.duration_since(seed.last_used()?).ok()?;
    (idle > older_than).then(|| Due {
        name: seed.key.clone(),
        node: seed.node.clone(),
        reason: format!(
            "{}, unused for {} (longer than {})",
            seed.image.as_deref().unwrap_or("?"),
            humantime::format_duration(Duration::from_secs(idle.as_secs() / 60 * 60)),
            humantime::format_duration(older_than)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(state: SeedState, in_use: bool, last_used: Option<&str>) -> SeedSummary {
        SeedSummary {
            key: "0123456789abcdef0123".into(),
            state,
            image: Some("kindest/node:v1".into()),
            image_id: None,
            dockerd: None,
            size_bytes: 0,
            made_at: Some("2026-01-01T00:00:00Z".into()),
            last_used_at: last_used.map(String::from),
            in_use,
            clusters: Vec::new(),
            node: None,
            snapshots: Vec::new(),
        }
    }

    #[test]
    fn gc_takes_only_idle_complete_seeds_past_their_time() {
        let now = humantime::parse_rfc3339("2026-01-10T00:00:00Z").unwrap();
        let day = Duration::from_secs(86_400);
        let old = Some("2026-01-05T00:00:00Z");
        assert_eq!(
            due(&seed(SeedState::Ready, false, old), now, day)
                .unwrap()
                .reason,
            "kindest/node:v1, unused for 5days (longer than 1day)"
        );
        assert!(due(&seed(SeedState::Ready, true, old), now, day).is_none());
        assert!(due(&seed(SeedState::Making, false, old), now, day).is_none());
        let recent = seed(SeedState::Ready, false, Some("2026-01-09T12:00:00Z"));
        assert!(due(&recent, now, day).is_none());
        // Never used since made: its age counts.
        assert!(due(&seed(SeedState::Ready, false, None), now, day).is_some());
    }
}
