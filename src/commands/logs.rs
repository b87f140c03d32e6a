//! `kip logs NAME`: the node's bootstrap log, its dockerd log, or the whole
//! logs bundle (`--export DIR`).

use crate::cluster::logs::export;
use crate::node::contract::DOCKERD_LOG;
use crate::provider::{Node, Provider};
use anyhow::Result;
use futures_util::StreamExt;
use std::path::PathBuf;

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
