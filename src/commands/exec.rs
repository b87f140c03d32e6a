//! `kip exec NAME -- CMD…`: runs CMD in the node; its exit code is kip's.

use crate::provider::{Node, Provider};
use anyhow::Result;

/// What `kip exec` runs, and where.
#[derive(Debug, Clone)]
pub struct ExecSettings {
    pub name: String,
    pub command: Vec<String>,
    /// Pass stdin to the command.
    pub interactive: bool,
}

pub async fn run(settings: &ExecSettings, provider: &impl Provider) -> Result<i64> {
    let node = provider.find_running(&settings.name).await?;
    node.exec(&settings.command, settings.interactive).await
}
