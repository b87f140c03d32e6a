//! Cluster names for shell completion: the shell asks kip back while the
//! user types (see `cli::generate`).

use crate::backend::docker::DockerBackend;
use crate::backend::Backend;
use clap_complete::CompletionCandidate;
use std::time::Duration;

/// The names of the clusters on the engine, for completion; none when the
/// engine does not answer within a second.
pub fn cluster_names() -> Vec<CompletionCandidate> {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    runtime.block_on(async {
        let Ok(backend) = DockerBackend::connect() else {
            return Vec::new();
        };
        match tokio::time::timeout(Duration::from_secs(1), backend.list()).await {
            Ok(Ok(nodes)) => nodes
                .into_iter()
                .map(|n| CompletionCandidate::new(n.cluster).help(Some(n.status.into())))
                .collect(),
            _ => Vec::new(),
        }
    })
}
