//! Shell completion scripts and the man page, generated from the clap
//! definition. The completion scripts are clap_complete's dynamic ones: the
//! shell calls `COMPLETE=<shell> kip -- <words>` back, so cluster names
//! complete from the clusters that exist right now
//! (`commands::completions::cluster_names`).

use super::Cli;
use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::env::Shells;

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
