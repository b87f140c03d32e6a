//! `kip down`: removes the node, its volume and its kubeconfig entries.
//! Idempotent: an absent cluster is reported, not an error.

use crate::backend::Backend;
use crate::kubeconfig::{self, KubeconfigTarget};
use crate::names;
use crate::output::Printer;
use anyhow::{bail, Result};
use std::path::PathBuf;

/// What `kip down` deletes, and the kubeconfig it updates.
#[derive(Debug, Clone)]
pub struct DownSettings {
    pub names: Vec<String>,
    /// Every kip cluster of the backend instead of `names`.
    pub all: bool,
    /// None: kubectl's rules ($KUBECONFIG, then ~/.kube/config).
    pub kubeconfig: Option<PathBuf>,
}

pub async fn run(settings: &DownSettings, backend: &impl Backend, printer: &Printer) -> Result<()> {
    let target = KubeconfigTarget::resolve(settings.kubeconfig.as_deref())?;
    let names: Vec<String> = if settings.all {
        backend
            .list()
            .await?
            .into_iter()
            .map(|n| n.cluster)
            .collect()
    } else {
        let mut names = settings.names.clone();
        names.dedup();
        names
    };
    if names.is_empty() {
        printer.info("No kip clusters to delete");
        return Ok(());
    }
    let mut failures = Vec::new();
    for name in &names {
        if let Err(e) = delete_one(name, backend, printer, &target).await {
            failures.push(format!("{name}: {e:#}"));
        }
    }
    if !failures.is_empty() {
        bail!("could not delete every cluster:\n{}", failures.join("\n"));
    }
    Ok(())
}

/// Deletes one cluster: node, volume and kubeconfig entries.
pub async fn delete_one(
    name: &str,
    backend: &impl Backend,
    printer: &Printer,
    target: &KubeconfigTarget,
) -> Result<()> {
    let step = printer.step("cluster-deleted", &format!("Deleting cluster {name}"));
    let deleted = backend.delete(name).await?;
    let context = names::context_name(name);
    let mut entries_removed = false;
    let home = backend.home_context();
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
