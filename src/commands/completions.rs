//! `kip completions SHELL` and the man page, both from the clap definition.

use crate::cli::Cli;
use anyhow::Result;
use clap::CommandFactory;

pub fn completions(shell: clap_complete::Shell) {
    clap_complete::generate(shell, &mut Cli::command(), "kip", &mut std::io::stdout());
}

pub fn man() -> Result<()> {
    clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
    Ok(())
}
