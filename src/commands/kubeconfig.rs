//! `kip kubeconfig NAME`: the cluster's kubeconfig on stdout (data only), or
//! written to `--output FILE` with mode 0600.

use super::credentials;
use crate::backend::Backend;
use crate::cli::{KubeconfigArgs, KubeconfigFormat};
use crate::error::Failure;
use crate::names;
use anyhow::Result;

pub async fn run(args: &KubeconfigArgs, backend: &impl Backend) -> Result<()> {
    let node = backend.find(&args.name).await?.ok_or_else(|| {
        Failure::NotFound(format!(
            "no kip cluster named {:?} (see `kip list`)",
            args.name
        ))
    })?;
    let endpoint = node.endpoint.ok_or_else(|| {
        Failure::Node(node.problem.clone().unwrap_or_else(|| {
            format!(
                "cluster {} has no published API port ({})",
                args.name, node.status
            )
        }))
    })?;
    let creds = credentials(backend, &args.name, &endpoint).await?;
    let doc = creds.standalone(&names::context_name(&args.name));
    let text = match args.format {
        KubeconfigFormat::Yaml => crate::kubeconfig::to_yaml(&doc)?,
        KubeconfigFormat::Json => serde_json::to_string_pretty(&doc)? + "\n",
    };
    match &args.output {
        Some(path) => crate::kubeconfig::write_text_atomic(path, text.as_bytes())?,
        None => crate::output::out(text)?,
    }
    Ok(())
}
