//! Deleting a cluster: its node, its volume and its kubeconfig entries, as
//! `down`, `gc`, `run` and `up --recreate` do, and never cut short by a
//! signal (a deletion stopped half-way leaves entries that point at a
//! removed node).

use super::condition::{making, Making};
use super::signals::Signals;
use crate::error::Absence;
use crate::error::Error;
use crate::kubeconfig::{self, KubeconfigTarget};
use crate::names;
use crate::output::Printer;
use crate::provider::{Deleted, OrphanDeletion, Provider};
use anyhow::Result;
use std::time::Duration;

/// What a deletion may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The cluster, whatever state it is in (`down`, an expired cluster).
    Cluster,
    /// Only what a node removed outside kip left, as `gc` judged it: a
    /// node of the name made since then is another cluster's, left alone.
    Orphan,
}

/// Deletes cluster `name` (as [`delete_one`]) and never cuts it short: a
/// deletion stopped half-way is what a signal must not leave behind. The
/// first signal sets `interrupted` (the caller deletes no more); a second
/// one stops at once, the outer error. The inner result is the deletion's.
pub async fn delete_to_the_end(
    name: &str,
    scope: Scope,
    provider: &impl Provider,
    printer: &Printer,
    target: &KubeconfigTarget,
    signals: &mut Signals,
    interrupted: &mut bool,
) -> Result<Result<()>> {
    let deletion = delete_one(name, scope, provider, printer, target);
    tokio::pin!(deletion);
    let result = loop {
        tokio::select! {
            result = &mut deletion => break result,
            () = signals.received() => {
                if *interrupted {
                    // A second signal: the user would rather leave now
                    // (an engine that stopped answering mid-way).
                    printer.warn(&format!(
                        "interrupted again: stopping now; cluster {name} may be half-deleted \
                         (`kip down {name}` finishes it)"
                    ));
                    return Err(Error::Interrupted.into());
                }
                *interrupted = true;
                printer.notice(&format!(
                    "Interrupted: finishing the deletion of cluster {name} first, so none of it \
                     is left behind (Ctrl-C again to stop at once)"
                ));
            }
        }
    };
    *interrupted = *interrupted || signals.check().is_err();
    Ok(result)
}

/// The closing line of an interrupted deletion of several clusters: which
/// were `left`, and the command (`again`) that deletes them.
pub fn say_interrupted(printer: &Printer, left: &[&str], again: &str) {
    printer
        .step("interrupted", "Interrupted")
        .failed(&if left.is_empty() {
            "Interrupted after the deletion under way finished".to_string()
        } else {
            format!(
                "Interrupted: not deleted {} (run `{again}` again)",
                left.join(", ")
            )
        });
}

/// Deletes one cluster: node, volume and kubeconfig entries. A cluster
/// whose node is gone (an orphan, whatever `scope`) loses only what its
/// node left, and not even that once a `kip up` of the name has taken it:
/// its volume is then that new cluster's.
pub async fn delete_one(
    name: &str,
    scope: Scope,
    provider: &impl Provider,
    printer: &Printer,
    target: &KubeconfigTarget,
) -> Result<()> {
    let node = provider.lookup(name).await?;
    let orphan = match (&node, scope) {
        (_, Scope::Orphan) => true,
        (Some(_), Scope::Cluster) => false,
        (None, Scope::Cluster) => provider.absence(name).await == Absence::Orphaned,
    };
    if orphan {
        return delete_orphan(name, scope, provider, printer, target).await;
    }
    if let Some(node) = node {
        if let Making::UnderWay(how_far) | Making::Restarting(how_far) =
            making(&node, Duration::ZERO).await
        {
            printer.notice(&format!(
                "cluster {name} is being created by a `kip up` or a restart ({how_far}): \
                 deleting it stops that"
            ));
        }
    }
    let step = printer.step("cluster-deleted", &format!("Deleting cluster {name}"));
    let deleted = provider.delete(name).await?;
    finish(name, provider, printer, target, step, &deleted)
}

/// What a removed node left, unless a `kip up` of the name has taken it
/// since it was looked at: then nothing is deleted, its kubeconfig entries
/// neither (they are the new cluster's), and the error says so. `gc`,
/// which only collects, reports that as a cluster left (its step line
/// done), `down` as a failure.
async fn delete_orphan(
    name: &str,
    scope: Scope,
    provider: &impl Provider,
    printer: &Printer,
    target: &KubeconfigTarget,
) -> Result<()> {
    let step = printer.step(
        "cluster-deleted",
        &format!("Deleting what is left of cluster {name}"),
    );
    match provider.delete_orphan(name).await? {
        // Removed, but no node of the name since: no new cluster's entries.
        OrphanDeletion::Deleted(deleted) if provider.lookup(name).await?.is_none() => {
            return finish(name, provider, printer, target, step, &deleted);
        }
        OrphanDeletion::Deleted(_) | OrphanDeletion::Taken => {}
    }
    let left = format!("Left cluster {name}: a `kip up` made it anew");
    match scope {
        Scope::Orphan => step.done(&left),
        Scope::Cluster => step.failed(&left),
    }
    Err(Error::OrphanTaken {
        cluster: name.to_string(),
    }
    .into())
}

/// The kubeconfig entries of a cluster whose objects are `deleted`, and
/// the closing line.
fn finish(
    name: &str,
    provider: &impl Provider,
    printer: &Printer,
    target: &KubeconfigTarget,
    step: crate::output::Step<'_>,
    deleted: &Deleted,
) -> Result<()> {
    if deleted.stopped_an_up {
        printer.notice(&format!(
            "cluster {name} is being created by a `kip up` (its claim on the name is made, its \
             node not yet): deleting it stops that"
        ));
    }
    let context = names::context_name(name);
    let mut entries_removed = false;
    let home = provider.info().home_context;
    kubeconfig::update(&target.path, |doc| {
        entries_removed = kubeconfig::remove_entries(doc, &context)?;
        // A remote cluster's context was current: the cluster that ran it
        // becomes current again, as before `up` switched away from it.
        if let (true, Some(home), Some(root)) = (entries_removed, &home, doc.as_mapping_mut()) {
            if root.get("current-context").and_then(|c| c.as_str()) == Some("") {
                root.insert("current-context".into(), home.as_str().into());
            }
        }
        Ok(entries_removed)
    })?;
    let mut parts = Vec::new();
    if deleted.node {
        parts.push("node");
    }
    if deleted.volume {
        parts.push("volume");
    }
    parts.extend(deleted.other.iter().copied());
    if entries_removed {
        parts.push("kubeconfig entries");
    }
    if parts.is_empty() {
        step.done(&format!("Cluster {name} does not exist; nothing to delete"));
    } else {
        step.done(&format!("Deleted cluster {name} ({})", parts.join(", ")));
    }
    for object in &deleted.left {
        printer.notice(&format!(
            "left {object} alone: it has the cluster's name but not kip's labels, so kip did not make it"
        ));
    }
    Ok(())
}
