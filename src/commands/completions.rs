//! Shell completions and the man page, from the clap definition. The
//! completion scripts are clap_complete's dynamic ones: the shell calls
//! `COMPLETE=<shell> kip -- <words>` back, so cluster names complete from
//! the clusters that exist right now.

use crate::backend::docker::DockerBackend;
use crate::backend::Backend;
use crate::cli::Cli;
use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::env::Shells;
use clap_complete::CompletionCandidate;
use std::time::Duration;

/// The environment variable the completion scripts set.
pub const COMPLETE_VAR: &str = "COMPLETE";

/// Answers a completion request from a shell and exits, when there is one.
pub fn complete_if_asked() {
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(COMPLETE_VAR)
        .complete();
}

/// `kip completions SHELL`: the script that registers kip's completions.
pub fn completions(shell: &str) -> Result<()> {
    let shells = Shells::builtins();
    let completer = shells
        .completer(shell)
        .with_context(|| format!("no completions for {shell}"))?;
    let mut script = Vec::new();
    completer.write_registration(COMPLETE_VAR, "kip", "kip", "kip", &mut script)?;
    if shell == "zsh" {
        // Installed as `_kip` in $fpath, zsh runs this file as the function
        // `_kip`: complete at once instead of only registering for next time.
        script.extend_from_slice(
            b"[[ \"${funcstack[1]}\" == _kip ]] && _clap_dynamic_completer_kip \"$@\"\n",
        );
    }
    crate::output::out(script)?;
    Ok(())
}

pub fn man() -> Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    crate::output::out(page)?;
    Ok(())
}

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
