//! `kip run [up options] -- CMD…`: a cluster for one command. CMD runs with
//! KUBECONFIG pointing at a private kubeconfig (the user's is never
//! touched), and the cluster it made is always deleted afterwards — on
//! success, on failure, on SIGINT/SIGTERM (forwarded to CMD's process group
//! first) and on `--timeout` — unless `--keep`. A cluster it did not make
//! (`--reuse`) is left as it was. kip exits with CMD's exit code. The
//! cluster is made fresh, claimed from a pool (`--pool`) or restored from a
//! snapshot (`--from`, the cluster layer's restore recipe).

mod child;

use crate::cluster::signals::{Caught, Signals};
use crate::cluster::{self, create, delete, logs, Place, PoolRole, Request};
use crate::error::Error;
use crate::kubeconfig::{KubeconfigSource, KubeconfigTarget};
use crate::node::settings::ClusterSettings;
use crate::output::Printer;
use crate::provider::docker::DockerProvider;
use crate::provider::pool::Pools;
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
    /// `--pool POOL` (and `--pool-wait`): claim a ready member of the pool.
    pub pool: Option<(String, bool)>,
    /// `--from SNAPSHOT`: the cluster restored from a snapshot (local engine).
    pub from: Option<String>,
}

pub async fn run<P: Pools>(
    settings: &RunSettings,
    env: &Environment,
    provider: &P,
    host: Option<&DockerProvider>,
    printer: &Printer,
) -> Result<u8> {
    child::check_command(&settings.command[0], env.path.as_deref())?;
    let private = PrivateDir::create()?;
    let kubeconfig = private.0.join("kubeconfig");
    let name = cluster_name(settings, provider).await?;
    let request = Request {
        name: name.clone(),
        cluster: settings.cluster.clone(),
        kubeconfig: KubeconfigSource {
            flag: Some(kubeconfig.clone()),
            env: env.kubeconfig.clone(),
            home: env.home.clone(),
        },
        switch_context: true,
        pool: PoolRole::None,
    };
    let place = Place {
        provider,
        host,
        printer,
        env,
    };
    get_cluster(settings, request, place).await?;
    let outcome = run_command(settings, &kubeconfig, printer).await;
    let failed = !matches!(outcome, Ok(CommandEnd::Exited(0)));
    finish(settings, &name, failed, kubeconfig, provider, printer).await?;
    match outcome? {
        CommandEnd::Exited(code) => Ok(code),
        CommandEnd::TimedOut(limit) => Err(Error::CommandTimedOut {
            program: settings.command[0].clone(),
            limit,
        }
        .into()),
    }
}

/// A cluster of its own (claimed from `--pool`, restored from a snapshot
/// with `--from`, or made), or (`--reuse`) the one named, exported into the
/// private kubeconfig as `up` would.
async fn get_cluster<P: Pools>(
    settings: &RunSettings,
    request: Request,
    place: Place<'_, P>,
) -> Result<()> {
    match (&settings.reuse, &settings.pool) {
        (Some(_), _) => cluster::create(create::up(), &request, place).await?,
        (None, Some((pool, wait))) => {
            let request =
                cluster::pool::claim_request(place.provider, request, pool, *wait).await?;
            cluster::pool::claim_member(&request, true, place).await?
        }
        (None, None) => match (&settings.from, place.host) {
            (None, _) => cluster::create(create::run(), &request, place).await?,
            // Local mode: the engine the snapshot is on is the provider.
            (Some(snapshot), Some(engine)) => {
                let place = Place {
                    provider: engine,
                    host: place.host,
                    printer: place.printer,
                    env: place.env,
                };
                cluster::create(create::restore(snapshot), &request, place).await?
            }
            (Some(_), None) => return Err(Error::SnapshotRemote.into()),
        },
    };
    Ok(())
}

/// After CMD: the logs bundle if it `failed` (and `--logs-dir` asks for
/// it), then the cluster deleted, unless it is kept (`--keep`) or not
/// `run`'s (`--reuse`).
async fn finish(
    settings: &RunSettings,
    name: &str,
    failed: bool,
    kubeconfig: PathBuf,
    provider: &impl Provider,
    printer: &Printer,
) -> Result<()> {
    if failed {
        if let Some(dir) = &settings.cluster.logs_dir {
            logs::write_bundle(provider, name, dir, printer).await;
        }
    }
    if settings.keep || settings.reuse.is_some() {
        printer.info(&format!(
            "Kept cluster {name} (`kip down {name}` deletes it)"
        ));
        return Ok(());
    }
    let target = KubeconfigTarget { path: kubeconfig };
    delete::delete_one(name, delete::Scope::Cluster, provider, printer, &target).await
}

/// The cluster CMD runs against: `--reuse`'s, which must exist; `--name`'s,
/// which must not (`run` deletes only what it made); else a new name.
async fn cluster_name(settings: &RunSettings, provider: &impl Provider) -> Result<String> {
    Ok(match (&settings.reuse, &settings.name) {
        (Some(name), _) => {
            provider.find(name).await?;
            name.clone()
        }
        (None, Some(name)) => {
            if provider.lookup(name).await?.is_some() {
                return Err(Error::RunNameTaken { name: name.clone() }.into());
            }
            name.clone()
        }
        (None, None) => generated_name(),
    })
}

enum CommandEnd {
    /// CMD's exit code, or 128 + the signal that ended it.
    Exited(u8),
    TimedOut(Duration),
}

/// Runs CMD to its end, passing on the signals kip catches and stopping it
/// at `--timeout`.
async fn run_command(
    settings: &RunSettings,
    kubeconfig: &std::path::Path,
    printer: &Printer,
) -> Result<CommandEnd> {
    let mut signals = Signals::listen()?;
    let (mut child, group, mut terminal) = spawn(&settings.command, kubeconfig)?;
    let mut stop = Stopping {
        group,
        program: &settings.command[0],
        printer,
        signalled: false,
        killed: false,
        timed_out: false,
    };
    let status = stop
        .supervise(&mut child, &mut terminal, &mut signals, settings.timeout)
        .await?;
    let status = match status {
        Some(status) => status,
        None => child.wait().await.context("cannot wait for the command")?,
    };
    if stop.timed_out {
        return Ok(CommandEnd::TimedOut(settings.timeout.unwrap_or_default()));
    }
    Ok(CommandEnd::Exited(exit_code(status)))
}

/// Starts CMD with KUBECONFIG set, in a process group of its own (given
/// the terminal when kip has it).
fn spawn(
    command: &[String],
    kubeconfig: &std::path::Path,
) -> Result<(tokio::process::Child, child::Group, child::Terminal)> {
    let program = &command[0];
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(&command[1..]).env("KUBECONFIG", kubeconfig);
    let terminal = child::own_group(&mut cmd);
    let child = cmd.spawn().map_err(|e| child::spawn_error(program, &e))?;
    let Some(group) = child::Group::of(child.id()) else {
        return Err(Error::NoProcessId {
            program: program.clone(),
        }
        .into());
    };
    Ok((child, group, terminal))
}

/// What kip has done to CMD's process group so far: signalled it (passed
/// on a signal, or `--timeout`'s SIGTERM), then killed what was left.
struct Stopping<'a> {
    group: child::Group,
    program: &'a str,
    printer: &'a Printer,
    signalled: bool,
    killed: bool,
    timed_out: bool,
}

impl Stopping<'_> {
    /// Waits for CMD, and then for the rest of its group once kip has
    /// signalled it, signalling it as signals and the timer say: CMD's exit
    /// status, if it was seen.
    async fn supervise(
        &mut self,
        child: &mut tokio::process::Child,
        terminal: &mut child::Terminal,
        signals: &mut Signals,
        timeout: Option<Duration>,
    ) -> Result<Option<std::process::ExitStatus>> {
        // Without --timeout the timer is off until kip signals CMD.
        let timer =
            tokio::time::sleep_until(tokio::time::Instant::now() + timeout.unwrap_or(KILL_GRACE));
        tokio::pin!(timer);
        let mut status = None;
        loop {
            tokio::select! {
                exited = child.wait(), if status.is_none() => {
                    status = Some(exited.context("cannot wait for the command")?);
                    terminal.take_back();
                    if !self.signalled || self.killed {
                        break;
                    }
                }
                caught = signals.next() => {
                    if let Some(until) = self.on_signal(caught) {
                        timer.as_mut().reset(until);
                    }
                    if self.killed && status.is_some() {
                        break;
                    }
                }
                () = &mut timer, if (timeout.is_some() || self.signalled) && !self.killed => {
                    if let Some(until) = self.on_timer() {
                        timer.as_mut().reset(until);
                    }
                    if self.killed && status.is_some() {
                        break;
                    }
                }
                // CMD has ended after kip signalled it: the rest of its group
                // gets until the timer to follow.
                () = tokio::time::sleep(GROUP_POLL), if status.is_some() => {
                    if !self.group.alive() {
                        break;
                    }
                }
            }
        }
        Ok(status)
    }

    /// A signal kip caught: passed on to the group the first time (the
    /// timer then runs until SIGKILL), SIGKILL the second.
    fn on_signal(&mut self, caught: Caught) -> Option<tokio::time::Instant> {
        let program = self.program;
        if self.signalled {
            self.printer.warn(&format!(
                "{} caught again: killing {program} and its process group",
                caught.name()
            ));
            self.group.signal(libc::SIGKILL);
            self.killed = true;
            return None;
        }
        self.printer.warn(&format!(
            "passing {} on to {program}; again (or {} later) kills it",
            caught.name(),
            humantime::format_duration(KILL_GRACE)
        ));
        self.group.signal(caught.number());
        self.signalled = true;
        Some(tokio::time::Instant::now() + KILL_GRACE)
    }

    /// The timer: `--timeout` passed (SIGTERM, and the timer runs until
    /// SIGKILL), or the grace after a signal (SIGKILL).
    fn on_timer(&mut self) -> Option<tokio::time::Instant> {
        if self.signalled {
            // Still running KILL_GRACE after the signal.
            self.group.signal(libc::SIGKILL);
            self.killed = true;
            return None;
        }
        self.timed_out = true;
        self.signalled = true;
        self.printer.warn(&format!(
            "{} is past --timeout: sending SIGTERM to it and its process group",
            self.program
        ));
        self.group.signal(libc::SIGTERM);
        Some(tokio::time::Instant::now() + KILL_GRACE)
    }
}

/// CMD's exit code, or 128 + the signal that ended it.
fn exit_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(sig)) => u8::try_from(128 + sig).unwrap_or(1),
        (None, None) => 1,
    }
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
