//! `kip kubeconfig NAME`: the cluster's kubeconfig on stdout (data only), or
//! written to `--output FILE` with mode 0600.

use super::credentials;
use crate::backend::Backend;
use crate::error::Failure;
use crate::names;
use crate::output::KubeconfigFormat;
use anyhow::Result;
use std::path::PathBuf;

/// Which cluster's kubeconfig `kip kubeconfig` prints, and where to.
#[derive(Debug, Clone)]
pub struct KubeconfigSettings {
    pub name: String,
    /// A file (mode 0600) instead of stdout.
    pub output: Option<PathBuf>,
    pub format: KubeconfigFormat,
}

pub async fn run(settings: &KubeconfigSettings, backend: &impl Backend) -> Result<()> {
    let Some(node) = backend.find(&settings.name).await? else {
        return Err(backend.not_found(&settings.name).await);
    };
    let endpoint = node.endpoint.ok_or_else(|| {
        Failure::Node(node.problem.clone().unwrap_or_else(|| {
            format!(
                "cluster {} has no published API port ({})",
                settings.name, node.status
            )
        }))
    })?;
    let creds = credentials(backend, &settings.name, &endpoint).await?;
    let doc = creds.standalone(&names::context_name(&settings.name));
    let text = match settings.format {
        KubeconfigFormat::Yaml => crate::kubeconfig::to_yaml(&doc)?,
        KubeconfigFormat::Json => serde_json::to_string_pretty(&doc)? + "\n",
    };
    match &settings.output {
        Some(path) => crate::kubeconfig::write_text_atomic(path, text.as_bytes())?,
        None => crate::output::out(text)?,
    }
    Ok(())
}
