//! `kip logs NAME`: the node's bootstrap log, its dockerd log, or the whole
//! logs bundle (`--export DIR`).

use crate::provider::{Node, Provider};
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

pub async fn run(
    settings: &LogsSettings,
    provider: &impl Provider,
    printer: &crate::output::Printer,
) -> Result<i64> {
    if let Some(dir) = &settings.export {
        let node = provider.find(&settings.name).await?;
        export(provider, &node, dir).await?;
        printer.info(&format!(
            "Logs bundle of {} written to {}",
            settings.name,
            dir.display()
        ));
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
        let node = provider.find_running(&settings.name).await?;
        return node.exec(&command, false).await;
    }
    let node = provider.find(&settings.name).await?;
    if settings.follow {
        let mut lines = node.follow_log().await?;
        while let Some(line) = lines.next().await {
            crate::output::out(line? + "\n")?;
        }
    } else {
        crate::output::out(node.log().await?)?;
    }
    Ok(0)
}

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
        let command: Vec<String> = ["kind", "export", "logs", KIND_EXPORT_DIR, "--name", name]
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

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}
