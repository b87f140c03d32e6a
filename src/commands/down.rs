//! `kip down`: removes the node, its volume and its kubeconfig entries.
//! Idempotent: an absent cluster is reported, not an error. A Ctrl-C or
//! SIGTERM lets the deletion under way finish, skips the rest and exits 130.

use crate::cluster::delete::{delete_to_the_end, say_interrupted, Scope};
use crate::cluster::signals::Signals;
use crate::error::Error;
use crate::kubeconfig::{KubeconfigSource, KubeconfigTarget};
use crate::output::Printer;
use crate::provider::Provider;
use anyhow::Result;

/// What `kip down` deletes, and the kubeconfig it updates.
#[derive(Debug, Clone)]
pub struct DownSettings {
    pub names: Vec<String>,
    /// Every kip cluster of the provider instead of `names`.
    pub all: bool,
    /// The kubeconfig whose entries go too, by kubectl's rules.
    pub kubeconfig: KubeconfigSource,
}

pub async fn run(
    settings: &DownSettings,
    provider: &impl Provider,
    printer: &Printer,
) -> Result<()> {
    // Listen before deleting anything: a Ctrl-C or SIGTERM then lets the
    // cluster being deleted go completely (node, volume and kubeconfig
    // entries) instead of leaving entries that point at a removed node.
    let mut signals = Signals::listen()?;
    let target = KubeconfigTarget::resolve(&settings.kubeconfig)?;
    let names: Vec<String> = if settings.all {
        let listed = tokio::select! {
            listed = provider.list() => listed?,
            () = signals.received() => return Err(Error::Interrupted.into()),
        };
        listed.into_iter().map(|n| n.cluster).collect()
    } else {
        let mut names = settings.names.clone();
        names.dedup();
        names
    };
    if names.is_empty() {
        printer.info("No kip clusters to delete");
        return Ok(());
    }
    let mut failures = Vec::new();
    let mut interrupted = false;
    let mut left = Vec::new();
    for name in &names {
        if interrupted {
            left.push(name.as_str());
            continue;
        }
        let result = delete_to_the_end(
            name,
            Scope::Cluster,
            provider,
            printer,
            &target,
            &mut signals,
            &mut interrupted,
        )
        .await?;
        if let Err(e) = result {
            failures.push((name.clone(), e));
        }
    }
    if interrupted {
        say_interrupted(printer, &left, &format!("kip down {}", left.join(" ")));
    }
    if !failures.is_empty() {
        return Err(crate::error::not_all_deleted(failures).into());
    }
    if interrupted {
        return Err(Error::Interrupted.into());
    }
    Ok(())
}
