//! A cluster's logs bundle: everything kip can tell of a node, one file
//! each, for `kip logs --export` and for `up`/`run --logs-dir` when they
//! fail.

use crate::node::contract::{DOCKERD_LOG, KIND_EXPORT_DIR, KIND_LOG};
use crate::output::Printer;
use crate::provider::{Node, Provider};
use anyhow::{Context, Result};
use std::path::Path;

/// The logs bundle: bootstrap, dockerd and kind logs, kind's own export, the
/// node's description and events, and `kip status -o json`, one file each.
/// A part that cannot be had is named in `errors.txt`; the rest is written.
pub async fn export<P: Provider>(provider: &P, node: &P::Node, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = node.info().cluster.as_str();
    let mut errors = Vec::new();
    let mut write = |file: &str, part: Result<String>| match part {
        Ok(text) => {
            if let Err(e) = std::fs::write(dir.join(file), text) {
                errors.push(format!("{file}: {e}"));
            }
        }
        Err(e) => errors.push(format!("{file}: {e:#}")),
    };
    write("bootstrap.log", node.log().await);
    write("dockerd.log", node.read_file(DOCKERD_LOG).await);
    write("kind.log", node.read_file(KIND_LOG).await);
    write("node.json", node.inspect().await.map(|v| pretty(&v)));
    write("events.json", node.events().await.map(|v| pretty(&v)));
    let status = super::status::collect(provider, name).await;
    write(
        "status.json",
        status.and_then(|s| Ok(crate::output::json_text(&s)?)),
    );

    let kind_export = async {
        let inner = node.info().kind_cluster();
        let command: Vec<String> = ["kind", "export", "logs", KIND_EXPORT_DIR, "--name", inner]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let out = node.exec_capture(&command, None).await?;
        if out.code != 0 {
            return Err(crate::error::Error::KindExportFailed {
                error: out.stderr.trim().to_string(),
            }
            .into());
        }
        node.download(KIND_EXPORT_DIR, dir).await
    };
    if let Err(e) = kind_export.await {
        errors.push(format!("kind/: {e:#}"));
    }
    if !errors.is_empty() {
        std::fs::write(dir.join("errors.txt"), errors.join("\n") + "\n")?;
    }
    Ok(())
}

/// A failed run's logs bundle of cluster `name`, in `dir`: written, or said
/// why not.
pub async fn write_bundle(provider: &impl Provider, name: &str, dir: &Path, printer: &Printer) {
    let written = match provider.find(name).await {
        Ok(node) => export(provider, &node, dir).await,
        Err(e) => Err(e),
    };
    match written {
        Ok(()) => printer.info(&format!("Logs bundle written to {}", dir.display())),
        Err(e) => printer.warn(&format!("could not write the logs bundle: {e:#}")),
    }
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}
