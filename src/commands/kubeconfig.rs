//! `kip kubeconfig NAME`: the cluster's kubeconfig on stdout (data only), or
//! written to `--output FILE` with mode 0600.

use crate::cluster::access::credentials;
use crate::error::Error;
use crate::names;
use crate::output::KubeconfigFormat;
use crate::provider::{Node, Provider};
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

pub async fn run(settings: &KubeconfigSettings, provider: &impl Provider) -> Result<()> {
    let node = provider.find(&settings.name).await?;
    let info = node.info();
    let endpoint = info.endpoint.clone().ok_or_else(|| {
        info.problem
            .clone()
            .unwrap_or_else(|| Error::NoPublishedPort {
                cluster: settings.name.clone(),
                status: info.status.clone(),
            })
    })?;
    let creds = credentials(&node, &endpoint).await?;
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
