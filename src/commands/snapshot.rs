//! `kip snapshot save|list|rm|export|import` (`crate::snapshot`): a running
//! cluster saved whole, the engine's snapshots listed with what a restore
//! checks, removed on request (clusters restored from one keep their own
//! copy), carried to another engine as an archive; `save --remote` takes a
//! remote cluster's node into a snapshot on the local engine.

use crate::output::{size, OutputFormat, Printer};
use crate::provider::docker::DockerProvider;
use crate::provider::kube::KubeProvider;
use crate::snapshot::export::export;
use crate::snapshot::import::import;
use crate::snapshot::remote_save;
use crate::snapshot::save::{save, SaveSettings};
use crate::snapshot::transfer::Place;
use crate::snapshot::{self, Summary};
use anyhow::Result;

/// What `kip snapshot` does.
#[derive(Debug, Clone)]
pub enum SnapshotAction {
    Save(SaveSettings),
    List(OutputFormat),
    Remove(Vec<String>),
    /// The snapshot, and where its archive goes.
    Export(String, Place),
    /// Where the archive comes from, and the new snapshot's name.
    Import(Place, String),
}

pub async fn run(
    action: &SnapshotAction,
    engine: &DockerProvider,
    printer: &Printer,
) -> Result<()> {
    match action {
        SnapshotAction::Save(settings) => save(engine, settings, printer).await.map(|_| ()),
        SnapshotAction::List(format) => {
            list(&snapshot::volume::list(engine).await?, *format, printer)
        }
        SnapshotAction::Remove(names) => remove(engine, names, printer).await,
        SnapshotAction::Export(name, to) => export(engine, name, to, printer).await.map(|_| ()),
        SnapshotAction::Import(from, name) => import(engine, from, name, printer).await.map(|_| ()),
    }
}

/// `kip snapshot save --remote`: the one snapshot command with a remote
/// side (the others have no `--remote`); the snapshot is the local engine's.
pub async fn run_remote(
    action: &SnapshotAction,
    kube: &KubeProvider,
    engine: &DockerProvider,
    printer: &Printer,
) -> Result<()> {
    match action {
        SnapshotAction::Save(settings) => remote_save::save(kube, engine, settings, printer)
            .await
            .map(|_| ()),
        _ => unreachable!("only `kip snapshot save` takes --remote"),
    }
}

/// What `kip snapshot list -o json` prints.
#[derive(Debug, serde::Serialize)]
struct SnapshotList<'a> {
    items: &'a [Summary],
}

impl crate::output::Document for SnapshotList<'_> {
    const KIND: &'static str = "SnapshotList";
    const SCHEMA: &'static str = "snapshot-list.schema.json";
}

fn list(snapshots: &[Summary], format: OutputFormat, printer: &Printer) -> Result<()> {
    match format {
        OutputFormat::Json => crate::output::json(&SnapshotList { items: snapshots })?,
        OutputFormat::Table if snapshots.is_empty() => printer.info("No snapshot on this engine"),
        OutputFormat::Table => {
            let mut rows =
                vec![["NAME", "SOURCE", "KUBERNETES", "SIZE", "AGE", "STATE"].map(String::from)];
            for s in snapshots {
                let meta = s.metadata.as_ref();
                rows.push([
                    s.name.clone(),
                    s.source.clone().unwrap_or_else(|| "-".into()),
                    meta.and_then(|m| m.kubernetes_version.clone())
                        .unwrap_or_else(|| "-".into()),
                    meta.map_or_else(|| "-".into(), |m| size(m.size_bytes)),
                    crate::cluster::status::age(s.created_at.as_deref()),
                    if s.complete { "ready" } else { "incomplete" }.into(),
                ]);
            }
            crate::output::out(crate::output::table(&rows))?;
        }
    }
    Ok(())
}

/// Each named snapshot's volume, after all are known to be snapshots.
async fn remove(engine: &DockerProvider, names: &[String], printer: &Printer) -> Result<()> {
    let known = snapshot::volume::list(engine).await?;
    if let Some(unknown) = names.iter().find(|n| !known.iter().any(|s| &s.name == *n)) {
        return Err(snapshot::not_found(unknown));
    }
    crate::cluster::pool::refuse_used(engine, names).await?;
    for name in names {
        let volume = snapshot::volume_name(name);
        let step = printer.step("snapshot-removed", &format!("Removing snapshot {name}"));
        engine.remove_volume(&volume).await?;
        step.done(&format!("Removed snapshot {name} (volume {volume})"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_list_matches_its_schema() {
        let meta = crate::snapshot::Metadata {
            certificates_expire_at: None,
            ..crate::snapshot::sample_metadata()
        };
        let items = [crate::snapshot::Summary {
            name: "base".into(),
            volume: "kip-snap-base".into(),
            complete: true,
            source: Some("src".into()),
            created_at: Some(meta.created_at.clone()),
            metadata: Some(meta),
        }];
        crate::output::assert_matches_schema(&super::SnapshotList { items: &items });
    }
}
