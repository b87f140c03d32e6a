//! `kip run [up options] -- CMD…`: a cluster for one command. CMD runs with
//! KUBECONFIG pointing at a private kubeconfig (the user's is never
//! touched), and the cluster it made is always deleted afterwards — on
//! success, on failure, on SIGINT/SIGTERM (forwarded to CMD's process group
//! first) and on `--timeout` — unless `--keep`. A cluster it did not make
//! (`--reuse`) is left as it was. kip exits with CMD's exit code.

mod child;

use super::signals::Signals;
use super::up::{ClusterSettings, UpSettings};
use crate::error::Error;
use crate::kubeconfig::{KubeconfigSource, KubeconfigTarget};
use crate::output::Printer;
use crate::provider::Provider;
use crate::settings::Environment;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::time::Duration;

/// How long CMD gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(10);

/// How often kip looks whether CMD's process group has emptied once CMD
/// itself has ended after a signal.
const GROUP_POLL: Duration = Duration::from_millis(100);

/// What `kip run` makes and runs, resolved from its flags and kip's config
/// file.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// None: `run-` and a random suffix.
    pub name: Option<String>,
    /// An existing cluster to use instead (never deleted).
    pub reuse: Option<String>,
    /// Keep the cluster after CMD ends.
    pub keep: bool,
    pub timeout: Option<Duration>,
    pub cluster: ClusterSettings,
    /// CMD and its arguments.
    pub command: Vec<String>,
}

pub async fn run(
    settings: &RunSettings,
    env: &Environment,
    backend: &impl Provider,
    host: Option<&crate::provider::docker::DockerProvider>,
    printer: &Printer,
) -> Result<u8> {
    child::check_command(&settings.command[0], env.path.as_deref())?;
    let private = PrivateDir::create()?;
    let kubeconfig = private.0.join("kubeconfig");
    let name = match (&settings.reuse, &settings.name) {
        (Some(name), _) => {
            backend.find(name).await?;
            name.clone()
        }
        (None, Some(name)) => {
            if backend.lookup(name).await?.is_some() {
                return Err(Error::RunNameTaken { name: name.clone() }.into());
            }
            name.clone()
        }
        (None, None) => generated_name(),
    };
    let up = UpSettings {
        name: name.clone(),
        recreate: false,
        only_new: settings.reuse.is_none(),
        switch_context: true,
        kubeconfig: KubeconfigSource {
            flag: Some(kubeconfig.clone()),
            env: env.kubeconfig.clone(),
            home: env.home.clone(),
        },
        cluster: settings.cluster.clone(),
    };
    super::up::run(&up, env, backend, host, printer).await?;

    let outcome = run_command(settings, &kubeconfig, printer).await;
    let failed = !matches!(outcome, Ok(CommandEnd::Exited(0)));
    if failed {
        if let Some(dir) = &settings.cluster.logs_dir {
            super::up::write_logs_bundle(backend, &name, dir, printer).await;
        }
    }
    if settings.keep || settings.reuse.is_some() {
        printer.info(&format!(
            "Kept cluster {name} (`kip down {name}` deletes it)"
        ));
    } else {
        let target = KubeconfigTarget { path: kubeconfig };
        super::down::delete_one(&name, backend, printer, &target).await?;
    }
    match outcome? {
        CommandEnd::Exited(code) => Ok(code),
        CommandEnd::TimedOut(limit) => Err(Error::CommandTimedOut {
            program: settings.command[0].clone(),
            limit,
        }
        .into()),
    }
}

enum CommandEnd {
    /// CMD's exit code, or 128 + the signal that ended it.
    Exited(u8),
    TimedOut(Duration),
}

async fn run_command(
    settings: &RunSettings,
    kubeconfig: &std::path::Path,
    printer: &Printer,
) -> Result<CommandEnd> {
    let program = &settings.command[0];
    let mut signals = Signals::listen()?;
    let mut command = tokio::process::Command::new(program);
    command
        .args(&settings.command[1..])
        .env("KUBECONFIG", kubeconfig);
    let mut terminal = child::own_group(&mut command);
    let mut child = command
        .spawn()
        .map_err(|e| child::spawn_error(program, &e))?;
    let Some(group) = child::Group::of(child.id()) else {
        return Err(Error::NoProcessId {
            program: program.clone(),
        }
        .into());
    };
    // Without --timeout the timer is off until kip signals CMD.
    let timer = tokio::time::sleep_until(
        tokio::time::Instant::now() + settings.timeout.unwrap_or(KILL_GRACE),
    );
    tokio::pin!(timer);
    let mut timed_out = false;
    // Once kip has signalled the group: SIGKILL for what is left when the
    // timer fires.
    let mut stopping = false;
    let mut killed = false;
    let mut status = None;
    loop {
        tokio::select! {
            exited = child.wait(), if status.is_none() => {
                status = Some(exited.context("cannot wait for the command")?);
                terminal.take_back();
                if !stopping || killed {
                    break;
                }
            }
            caught = signals.next() => {
                if stopping {
                    printer.warn(&format!("{} caught again: killing {program} and its process group", caught.name()));
                    group.signal(libc::SIGKILL);
                    killed = true;
                    if status.is_some() {
                        break;
                    }
                } else {
                    printer.warn(&format!(
                        "passing {} on to {program}; again (or {} later) kills it",
                        caught.name(),
                        humantime::format_duration(KILL_GRACE)
                    ));
                    group.signal(caught.number());
                    stopping = true;
                    timer.as_mut().reset(tokio::time::Instant::now() + KILL_GRACE);
                }
            }
            () = &mut timer, if (settings.timeout.is_some() || stopping) && !killed => {
                if stopping {
                    // Still running KILL_GRACE after the signal.
                    group.signal(libc::SIGKILL);
                    killed = true;
                    if status.is_some() {
                        break;
                    }
                } else {
                    timed_out = true;
                    stopping = true;
                    printer.warn(&format!("{program} is past --timeout: sending SIGTERM to it and its process group"));
                    group.signal(libc::SIGTERM);
                    timer.as_mut().reset(tokio::time::Instant::now() + KILL_GRACE);
                }
            }
            // CMD has ended after kip signalled it: the rest of its group
            // gets until the timer to follow.
            () = tokio::time::sleep(GROUP_POLL), if status.is_some() => {
                if !group.alive() {
                    break;
                }
            }
        }
    }
    let status = match status {
        Some(status) => status,
        None => child.wait().await.context("cannot wait for the command")?,
    };
    if timed_out {
        return Ok(CommandEnd::TimedOut(settings.timeout.unwrap_or_default()));
    }
    use std::os::unix::process::ExitStatusExt;
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(sig)) => u8::try_from(128 + sig).unwrap_or(1),
        (None, None) => 1,
    };
    Ok(CommandEnd::Exited(code))
}

/// "run-" and eight hex digits: unique enough for concurrent jobs on one engine.
fn generated_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mixed = nanos ^ std::process::id().rotate_left(16);
    format!("run-{mixed:08x}")
}

/// A folder only this user can read, removed when `run` ends.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn create() -> Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let path = std::env::temp_dir().join(format!(
            "kip-run-{}-{}",
            std::process::id(),
            generated_name()
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(PrivateDir(path))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
