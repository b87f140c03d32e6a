//! `kip connect NAME --remote`: (re)starts a remote cluster's port-forward
//! on the port its kubeconfig entry already names when that port is free,
//! checks the API through it, and rewrites the kubeconfig entry when the
//! port had to change.

use super::credentials;
use crate::backend::{Backend, NodeState};
use crate::error::Failure;
use crate::kubeconfig::{self, KubeconfigTarget};
use crate::names;
use crate::output::Printer;
use anyhow::Result;
use std::path::PathBuf;

/// Which cluster `kip connect` reconnects, and the kubeconfig it updates.
#[derive(Debug, Clone)]
pub struct ConnectSettings {
    pub name: String,
    /// None: kubectl's rules ($KUBECONFIG, then ~/.kube/config).
    pub kubeconfig: Option<PathBuf>,
}

pub async fn run(
    settings: &ConnectSettings,
    backend: &impl Backend,
    printer: &Printer,
) -> Result<()> {
    if let Some(why) = backend.connect_refused(&settings.name) {
        return Err(Failure::Usage(why).into());
    }
    let Some(node) = backend.find(&settings.name).await? else {
        let why = backend
            .vanished(&settings.name)
            .unwrap_or_else(|| format!("no remote kip cluster named {:?}", settings.name));
        return Err(Failure::NotFound(why).into());
    };
    if node.state != NodeState::Running {
        return Err(Failure::Node(format!(
            "cluster {} is not running ({}): see `kip status {} --remote`",
            settings.name, node.status, settings.name
        ))
        .into());
    }
    let step = printer.step(
        "connected",
        &format!("Connecting to cluster {}", settings.name),
    );
    let endpoint = backend.reconnect(&settings.name).await?.ok_or_else(|| {
        Failure::Node(format!(
            "cluster {} has no endpoint to connect to",
            settings.name
        ))
    })?;
    let creds = credentials(backend, &settings.name, &endpoint).await?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while !super::api_ready(&creds, &endpoint).await.unwrap_or(false) {
        if tokio::time::Instant::now() >= deadline {
            return Err(Failure::Timeout(format!(
                "the API server of {} does not answer through {}",
                settings.name,
                endpoint.server_url()
            ))
            .into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Same server URL as before unless the old port was taken.
    let target = KubeconfigTarget::resolve(settings.kubeconfig.as_deref())?;
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
