//! `kip connect NAME --remote`: (re)starts a remote cluster's port-forward
//! on the port its kubeconfig entry already names when that port is free,
//! checks the API through it, and rewrites the kubeconfig entry when the
//! port had to change.

use crate::cluster::access::{api_ready, credentials};
use crate::error::Error;
use crate::kubeconfig::{self, KubeconfigSource, KubeconfigTarget};
use crate::names;
use crate::output::Printer;
use crate::provider::{Node, Provider};
use anyhow::Result;

/// Which cluster `kip connect` reconnects, and the kubeconfig it updates.
#[derive(Debug, Clone)]
pub struct ConnectSettings {
    pub name: String,
    /// The kubeconfig to update, by kubectl's rules.
    pub kubeconfig: KubeconfigSource,
}

pub async fn run(
    settings: &ConnectSettings,
    provider: &impl Provider,
    printer: &Printer,
) -> Result<()> {
    if provider.info().remote.is_none() {
        return Err(Error::ConnectLocal {
            cluster: settings.name.clone(),
        }
        .into());
    }
    let node = provider.find_running(&settings.name).await?;
    let step = printer.step(
        "connected",
        &format!("Connecting to cluster {}", settings.name),
    );
    let endpoint = node.reconnect().await?.ok_or_else(|| Error::NoEndpoint {
        cluster: settings.name.clone(),
    })?;
    let creds = credentials(&node, &endpoint).await?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while !api_ready(&creds, &endpoint).await.unwrap_or(false) {
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::ConnectTimeout {
                cluster: settings.name.clone(),
                server: endpoint.server_url(),
            }
            .into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Same server URL as before unless the old port was taken.
    let target = KubeconfigTarget::resolve(&settings.kubeconfig)?;
    let context = names::context_name(&settings.name);
    kubeconfig::update(&target.path, |doc| {
        kubeconfig::upsert_entries(doc, &context, &creds, false)
    })?;
    step.done(&format!(
        "Connected: {} reaches cluster {} (context {context})",
        endpoint.server_url(),
        settings.name
    ));
    Ok(())
}
