//! `kip gc`: deletes every expired kip cluster (`--ttl`), and with
//! `--older-than` those without a TTL that are older. Clusters that kip did
//! not make are never touched: only kip's labels are looked at. A Ctrl-C or
//! SIGTERM lets the deletion under way finish, skips the rest and exits 130.
//! Seeds (`crate::seed`) no cluster uses go with `--older-than` too, and
//! what an interrupted seed maker left goes always. Snapshots go only when
//! asked (`--snapshots --older-than`, `crate::snapshot::collect`).

use crate::cluster::delete::{delete_to_the_end, say_interrupted};
use crate::cluster::due::{due, scope_now};
use crate::cluster::signals::Signals;
use crate::error::Error;
use crate::kubeconfig::{KubeconfigSource, KubeconfigTarget};
use crate::output::Printer;
use crate::output::StatusFormat;
use crate::provider::docker::DockerProvider;
use crate::provider::pool::Pools;
use crate::provider::{NodeInfo, Provider};
use crate::seed::SeedPlace;
use crate::settings::Environment;
use anyhow::Result;
use serde::Serialize;
use std::time::{Duration, SystemTime};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Collected {
    name: String,
    reason: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Failed {
    name: String,
    error: String,
}

/// What `kip gc -o json` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GcResult<'a> {
    dry_run: bool,
    deleted: &'a [Collected],
    failed: &'a [Failed],
    kept: usize,
    /// The local engine's seeds, when it has a seed store.
    #[serde(skip_serializing_if = "Option::is_none")]
    seeds: Option<&'a crate::seed::Collected>,
    /// The local engine's snapshots, with `--snapshots`.
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshots: Option<&'a crate::snapshot::collect::Collected>,
}

impl crate::output::Document for GcResult<'_> {
    const KIND: &'static str = "GcResult";
    const SCHEMA: &'static str = "gc-result.schema.json";
}

/// What `kip gc` collects, and how it reports.
#[derive(Debug, Clone)]
pub struct GcSettings {
    pub dry_run: bool,
    pub older_than: Option<Duration>,
    /// `--snapshots`: snapshots older than `older_than` too.
    pub snapshots: bool,
    /// Labels a cluster must all carry to be collected.
    pub selector: Vec<(String, String)>,
    pub output: StatusFormat,
    /// The kubeconfig whose entries go too, by kubectl's rules.
    pub kubeconfig: KubeconfigSource,
}

/// `engine`: the local engine, whose pools are tended (None in remote
/// mode); `seeds`: where seeds are collected too.
pub async fn run(
    settings: &GcSettings,
    env: &Environment,
    provider: &impl Pools,
    (engine, seeds): (Option<&DockerProvider>, Option<SeedPlace<'_>>),
    printer: &Printer,
) -> Result<()> {
    if settings.snapshots && engine.is_none() {
        return Err(Error::SnapshotRemote.into());
    }
    let target = KubeconfigTarget::resolve(&settings.kubeconfig)?;
    let nodes = selected(provider, &settings.selector).await?;
    let candidates = due_clusters(&nodes, settings.older_than);
    let collection = if settings.dry_run {
        Collection {
            deleted: candidates,
            ..Collection::default()
        }
    } else {
        collect(candidates, settings.older_than, provider, printer, &target).await?
    };
    // A selector names clusters; seeds carry no user labels.
    let seeds = match seeds {
        Some(place) if settings.selector.is_empty() && !collection.interrupted => {
            collect_seeds(place, settings, printer).await
        }
        _ => None,
    };
    let engine_now = engine.filter(|_| !collection.interrupted);
    let snapshots = collect_snapshots(engine_now, settings, printer).await?;
    let extra = (seeds.as_ref(), snapshots.as_ref());
    report(settings, nodes.len(), &collection, extra, printer)?;
    // The pools there too (on the engine, or on the shared cluster):
    // members taken by a claimer killed half-way, members too old or of an
    // older plan go, and every pool is refilled.
    let tend = !settings.dry_run && !collection.interrupted && settings.selector.is_empty();
    if tend {
        crate::cluster::pool::tend_all(provider, env, printer).await?;
    }
    outcome(collection, printer)
}

/// The clusters whose labels include every one of `selector`.
async fn selected(
    provider: &impl Provider,
    selector: &[(String, String)],
) -> Result<Vec<NodeInfo>> {
    let nodes = provider.list().await?;
    Ok(nodes
        .into_iter()
        .filter(|n| selector.iter().all(|(k, v)| n.labels.get(k) == Some(v)))
        .collect())
}

/// gc's exit: what failed (exit by its kind), or an interruption (130,
/// naming what was left).
fn outcome(collection: Collection, printer: &Printer) -> Result<()> {
    let Collection {
        failed,
        interrupted,
        left,
        ..
    } = collection;
    if interrupted {
        let left: Vec<&str> = left.iter().map(String::as_str).collect();
        say_interrupted(printer, &left, "kip gc");
    }
    if !failed.is_empty() {
        return Err(Error::GcIncomplete {
            failures: failed.into_iter().map(|f| (f.name, f.error)).collect(),
        }
        .into());
    }
    if interrupted {
        return Err(Error::Interrupted.into());
    }
    Ok(())
}

/// The clusters among `nodes` that are due now, with why.
fn due_clusters(nodes: &[NodeInfo], older_than: Option<Duration>) -> Vec<Collected> {
    let now = SystemTime::now();
    nodes
        .iter()
        .filter_map(|n| {
            due(n, now, older_than).map(|reason| Collected {
                name: n.cluster.clone(),
                reason,
            })
        })
        .collect()
}

/// What a collection did: deleted, failed, and (after a signal) left.
#[derive(Default)]
struct Collection {
    deleted: Vec<Collected>,
    failed: Vec<Failed>,
    interrupted: bool,
    left: Vec<String>,
}

/// Deletes the due clusters one by one. From the start a Ctrl-C or
/// SIGTERM lets the deletion under way finish and skips the rest, as in
/// `kip down`. A cluster made anew since the listing (a `kip down` and
/// `kip up` of the name, or an orphan's name taken by an up) is not the
/// one judged due: it is left.
async fn collect(
    candidates: Vec<Collected>,
    older_than: Option<Duration>,
    provider: &impl Provider,
    printer: &Printer,
    target: &KubeconfigTarget,
) -> Result<Collection> {
    let mut signals = Signals::listen()?;
    let mut done = Collection::default();
    for c in candidates {
        done.interrupted = done.interrupted || signals.check().is_err();
        if done.interrupted {
            done.left.push(c.name);
            continue;
        }
        let scope = match scope_now(&c.name, &c.reason, older_than, provider).await {
            Ok(Some(scope)) => scope,
            Ok(None) => continue,
            Err(e) => {
                done.failed.push(Failed {
                    name: c.name,
                    error: format!("{e:#}"),
                });
                continue;
            }
        };
        let deletion = delete_to_the_end(
            &c.name,
            scope,
            provider,
            printer,
            target,
            &mut signals,
            &mut done.interrupted,
        );
        match deletion.await? {
            Ok(()) => done.deleted.push(c),
            // Not garbage any more: said by its step line, and kept.
            Err(e) if matches!(e.downcast_ref(), Some(Error::OrphanTaken { .. })) => {}
            Err(e) => done.failed.push(Failed {
                name: c.name,
                error: format!("{e:#}"),
            }),
        }
    }
    Ok(done)
}

/// With `--snapshots`, the snapshots older than `--older-than` (a
/// selector of clusters does not hold back what is asked for by name).
async fn collect_snapshots(
    engine: Option<&DockerProvider>,
    settings: &GcSettings,
    printer: &Printer,
) -> Result<Option<crate::snapshot::collect::Collected>> {
    let (Some(engine), Some(older_than)) =
        (engine, settings.older_than.filter(|_| settings.snapshots))
    else {
        return Ok(None);
    };
    let collected =
        crate::snapshot::collect::collect(engine, older_than, settings.dry_run, printer);
    Ok(Some(collected.await?))
}

/// What was (or, with `--dry-run`, would be) deleted, as text or JSON.
fn report(
    settings: &GcSettings,
    listed: usize,
    collection: &Collection,
    (seeds, snapshots): (
        Option<&crate::seed::Collected>,
        Option<&crate::snapshot::collect::Collected>,
    ),
    printer: &Printer,
) -> Result<()> {
    let Collection {
        deleted, failed, ..
    } = collection;
    match settings.output {
        StatusFormat::Json => crate::output::json(&GcResult {
            dry_run: settings.dry_run,
            kept: listed - deleted.len() - failed.len(),
            deleted,
            failed,
            seeds,
            snapshots,
        })?,
        StatusFormat::Text => {
            let verb = if settings.dry_run {
                "would delete"
            } else {
                "deleted"
            };
            for c in deleted {
                crate::output::out(format!("{verb} {} ({})\n", c.name, c.reason))?;
            }
            if deleted.is_empty() && failed.is_empty() {
                printer.info("No kip cluster is due for garbage collection");
            }
            if let Some(seeds) = seeds {
                seeds.print(settings.dry_run)?;
            }
            if let Some(snapshots) = snapshots {
                snapshots.print(settings.dry_run)?;
            }
        }
    }
    Ok(())
}

/// The seeds collected, or None without a seed store. The
/// clusters are collected already: a store kip cannot read is a warning.
async fn collect_seeds(
    place: SeedPlace<'_>,
    settings: &GcSettings,
    printer: &Printer,
) -> Option<crate::seed::Collected> {
    let how = (settings.older_than, settings.dry_run);
    match place.collect(how, printer).await {
        Ok(seeds) => seeds,
        Err(e) => {
            printer.warn(&format!("seeds not collected: {e:#}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_result_matches_its_schema() {
        crate::output::assert_matches_schema(&GcResult {
            dry_run: true,
            deleted: &[Collected {
                name: "a".into(),
                reason: "expired".into(),
            }],
            failed: &[],
            kept: 0,
            seeds: Some(&crate::seed::Collected {
                deleted: Vec::new(),
                cleaned: vec!["0123456789abcdef0123.making".into()],
                kept: 1,
            }),
            snapshots: Some(&crate::snapshot::collect::Collected {
                deleted: vec![crate::snapshot::collect::Due {
                    name: "base".into(),
                    reason: "older than 1day".into(),
                }],
                kept: 0,
            }),
        });
    }
}
