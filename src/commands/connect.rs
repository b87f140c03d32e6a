//! `kip connect NAME --remote`: (re)starts a remote cluster's port-forward
//! on the port its kubeconfig entry already names when that port is free,
//! checks the API through it, and rewrites the kubeconfig entry when the
//! port had to change.

use super::credentials;
use crate::backend::{Backend, NodeState};
use crate::cli::ConnectArgs;
use crate::error::Failure;
use crate::kubeconfig::{self, KubeconfigTarget};
use crate::names;
use crate::output::Printer;
use anyhow::Result;

pub async fn run(args: &ConnectArgs, backend: &impl Backend, printer: &Printer) -> Result<()> {
    let Some(node) = backend.find(&args.name).await? else {
        let why = backend
            .vanished(&args.name)
            .unwrap_or_else(|| format!("no remote kip cluster named {:?}", args.name));
        return Err(Failure::NotFound(why).into());
    };
    if node.state != NodeState::Running {
        return Err(Failure::Node(format!(
            "cluster {} is not running ({}): see `kip status {} --remote`",
            args.name, node.status, args.name
        ))
        .into());
    }
    let step = printer.step("connected", &format!("Connecting to cluster {}", args.name));
    let endpoint = backend.reconnect(&args.name).await?.ok_or_else(|| {
        Failure::Node(format!(
            "cluster {} has no endpoint to connect to",
            args.name
        ))
    })?;
    let creds = credentials(backend, &args.name, &endpoint).await?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while !super::api_ready(&creds, &endpoint).await.unwrap_or(false) {
        if tokio::time::Instant::now() >= deadline {
            return Err(Failure::Timeout(format!(
                "the API server of {} does not answer through {}",
                args.name,
                endpoint.server_url()
            ))
            .into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Same server URL as before unless the old port was taken.
    let target = KubeconfigTarget::resolve(args.kubeconfig.kubeconfig.as_deref())?;
    let context = names::context_name(&args.name);
    kubeconfig::update(&target.path, |doc| {
        kubeconfig::upsert_entries(doc, &context, &creds, false)
    })?;
    step.done(&format!(
        "Connected: {} reaches cluster {} (context {context})",
        endpoint.server_url(),
        args.name
    ));
    Ok(())
}
