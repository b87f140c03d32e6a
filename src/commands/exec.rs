//! `kip exec NAME -- CMD…`: runs CMD in the node; its exit code is kip's.

use crate::backend::Backend;
use anyhow::Result;

/// What `kip exec` runs, and where.
#[derive(Debug, Clone)]
pub struct ExecSettings {
    pub name: String,
    pub command: Vec<String>,
    /// Pass stdin to the command.
    pub interactive: bool,
}

pub async fn run(settings: &ExecSettings, backend: &impl Backend) -> Result<i64> {
    backend
        .exec(&settings.name, &settings.command, settings.interactive)
        .await
}
