//! Ctrl-C and SIGTERM, caught from the moment of `listen`: `up` undoes what
//! it made, `run` passes them on to CMD, `down` and `gc` finish the deletion
//! under way.

use crate::error::Error;
use anyhow::{Context, Result};

/// A signal kip caught.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caught {
    Interrupt,
    Terminate,
}

impl Caught {
    /// The signal's number, to pass it on to a child.
    pub fn number(self) -> i32 {
        match self {
            Caught::Interrupt => libc::SIGINT,
            Caught::Terminate => libc::SIGTERM,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Caught::Interrupt => "SIGINT",
            Caught::Terminate => "SIGTERM",
        }
    }
}

pub struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn listen() -> Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?,
            terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
        })
    }

    /// An error if a signal has arrived since the last look.
    pub fn check(&mut self) -> Result<()> {
        use futures_util::FutureExt;
        match self.received().now_or_never() {
            Some(()) => Err(Error::Interrupted.into()),
            None => Ok(()),
        }
    }

    /// The next signal.
    pub async fn next(&mut self) -> Caught {
        tokio::select! {
            _ = self.interrupt.recv() => Caught::Interrupt,
            _ = self.terminate.recv() => Caught::Terminate,
        }
    }

    pub async fn received(&mut self) {
        self.next().await;
    }
}
