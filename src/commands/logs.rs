//! `kip logs NAME`: the node's bootstrap log, its dockerd log, or the whole
//! logs bundle (`--export DIR`).

use crate::backend::Backend;
use anyhow::{Context, Result};
use futures_util::StreamExt;
use std::path::{Path, PathBuf};

use crate::node::contract::{DOCKERD_LOG, KIND_EXPORT_DIR, KIND_LOG};

/// Which log `kip logs` prints, or where it exports the bundle.
#[derive(Debug, Clone)]
pub struct LogsSettings {
    pub name: String,
    pub follow: bool,
    /// The node's dockerd log instead of the bootstrap log.
    pub dockerd: bool,
    /// Write the logs bundle into this folder instead.
    pub export: Option<PathBuf>,
}

pub async fn run(settings: &LogsSettings, backend: &impl Backend) -> Result<i64> {
    if let Some(dir) = &settings.export {
        export(backend, &settings.name, dir).await?;
        eprintln!(
            "Logs bundle of {} written to {}",
            settings.name,
            dir.display()
        );
        return Ok(0);
    }
    if settings.dockerd {
        let command: Vec<String> = if settings.follow {
            vec![
                "tail".into(),
                "-n".into(),
                "+1".into(),
                "-f".into(),
                DOCKERD_LOG.into(),
            ]
        } else {
            vec!["cat".into(), DOCKERD_LOG.into()]
        };
        return backend.exec(&settings.name, &command, false).await;
    }
    if settings.follow {
        let mut lines = backend.follow_bootstrap(&settings.name).await?;
        while let Some(line) = lines.next().await {
            crate::output::out(line? + "\n")?;
        }
    } else {
        crate::output::out(backend.bootstrap_log(&settings.name).await?)?;
    }
    Ok(0)
}

/// The logs bundle: bootstrap, dockerd and kind logs, kind's own export, the
/// node's description and events, and `kip status -o json`, one file each.
/// A part that cannot be had is named in `errors.txt`; the rest is written.
pub async fn export(backend: &impl Backend, name: &str, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut errors = Vec::new();
    let mut write = |file: &str, part: Result<String>| match part {
        Ok(text) => {
            if let Err(e) = std::fs::write(dir.join(file), text) {
                errors.push(format!("{file}: {e}"));
            }
        }
        Err(e) => errors.push(format!("{file}: {e:#}")),
    };
    write("bootstrap.log", backend.bootstrap_log(name).await);
    write("dockerd.log", backend.read_file(name, DOCKERD_LOG).await);
    write("kind.log", backend.read_file(name, KIND_LOG).await);
    write(
        "node.json",
        backend.inspect_node(name).await.map(|v| pretty(&v)),
    );
    write(
        "events.json",
        backend.node_events(name).await.map(|v| pretty(&v)),
    );
    let status = super::status::collect(backend, name).await;
    write(
        "status.json",
        status.map(|s| pretty(&serde_json::to_value(s).unwrap_or_default())),
    );

    let kind_export = async {
        let command: Vec<String> = ["kind", "export", "logs", KIND_EXPORT_DIR, "--name", name]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let out = backend.exec_capture(name, &command, None).await?;
        anyhow::ensure!(
            out.code == 0,
            "kind export logs failed: {}",
            out.stderr.trim()
        );
        backend.download(name, KIND_EXPORT_DIR, dir).await
    };
    if let Err(e) = kind_export.await {
        errors.push(format!("kind/: {e:#}"));
    }
    if !errors.is_empty() {
        std::fs::write(dir.join("errors.txt"), errors.join("\n") + "\n")?;
    }
    Ok(())
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}
