//! Keeping a pool whole: the rules of `pool::tend` applied (members that
//! go are deleted, missing ones made by the member recipe), by whoever
//! looks. Locally a member must be watched while it is made (it is marked
//! ready once its API server answers), so a claim leaves that to a
//! detached `kip pool fill` (as `up --remote` leaves its port-forward to a
//! detached `kip forwarder`); one filler per pool works at a time (an
//! exclusive lock in kip's state folder, released by the kernel when a
//! filler dies). Remote members become ready by themselves, so a refill
//! there only creates their objects and returns.

use crate::cluster::create::Place;
use crate::cluster::{PoolRole, Request};
use crate::error::Error;
use crate::kubeconfig::KubeconfigSource;
use crate::output::Printer;
use crate::pool::member::{new_key, MemberInfo};
use crate::pool::spec::PoolSpec;
use crate::pool::tend::tend;
use crate::provider::docker::DockerProvider;
use crate::provider::pool::Pools;
use crate::settings::Environment;
use anyhow::{Context, Result};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::SystemTime;

/// At most this many members are made at once (each is a whole cluster).
const MAKE_AT_ONCE: u32 = 4;

/// After a claim: the pool back to its size without the claimer waiting.
pub async fn refill<P: Pools>(
    provider: &P,
    pool: &str,
    env: &Environment,
    printer: &Printer,
) -> Result<()> {
    if provider.members_ready_themselves() {
        return tend_once(provider, pool, env, None, printer)
            .await
            .map(|_| ());
    }
    spawn_filler(pool, env)
}

/// `kip pool fill POOL`: tends the pool until it is whole, making members
/// (at most [`MAKE_AT_ONCE`] at a time) and watching them until ready.
/// Waits for a filler already at work, then looks again (unless another
/// waits already).
pub async fn fill<P: Pools>(
    provider: &P,
    pool: &str,
    env: &Environment,
    host: Option<&DockerProvider>,
    printer: &Printer,
) -> Result<()> {
    let Some(_lock) = FillLock::take(pool, env)? else {
        // Another filler waits already: it looks after the one at work.
        return Ok(());
    };
    loop {
        let made = tend_once(provider, pool, env, host, printer).await?;
        if made == 0 {
            return Ok(());
        }
    }
}

/// One round: deletes what goes, makes what is missing (objects only where
/// members ready themselves); how many members were made (a round that
/// made none ends a filler: it would only fail again; the next kip that
/// looks tries again).
pub async fn tend_once<P: Pools>(
    provider: &P,
    pool: &str,
    env: &Environment,
    host: Option<&DockerProvider>,
    printer: &Printer,
) -> Result<u32> {
    let spec = provider.pools(Some(pool)).await?.pop().map(|p| p.spec);
    let members = provider.members(Some(pool), false).await?;
    let tending = tend(spec.as_ref(), &members, SystemTime::now());
    super::credentials::prune(env, pool, &members);
    for (key, why) in &tending.delete {
        if let Some(member) = members.iter().find(|m| &m.key == key) {
            delete_member(provider, member, why, printer).await?;
            super::credentials::forget(env, key);
        }
    }
    let Some(spec) = spec else { return Ok(0) };
    let count = tending.make.min(MAKE_AT_ONCE);
    if count == 0 || cannot_restore(&spec, host, printer).await? {
        return Ok(0);
    }
    let maker = provider.member_maker(&spec);
    let makings = (0..count).map(|_| make_one(&maker, &spec, env, host, printer));
    let mut made = 0;
    for result in futures_util::future::join_all(makings).await {
        match result {
            Ok(()) => made += 1,
            Err(e) => printer.warn(&format!("a member of pool {pool} was not made: {e:#}")),
        }
    }
    Ok(made)
}

/// Whether the pool's members are restored from a snapshot that is gone
/// (or is another save than the plan's): said, and none is made (a filler
/// that made none ends; `kip pool list` shows why).
async fn cannot_restore(
    spec: &PoolSpec,
    host: Option<&DockerProvider>,
    printer: &Printer,
) -> Result<bool> {
    let Some(planned) = &spec.plan.snapshot else {
        return Ok(false);
    };
    let engine = host.ok_or(Error::PoolsLocalOnly)?;
    let problem = super::snapshot_problem(engine, &spec.name, planned).await?;
    if let Some(problem) = &problem {
        printer.warn(&format!("pool {}: {problem}", spec.name));
    }
    Ok(problem.is_some())
}

async fn delete_member<P: Pools>(
    provider: &P,
    member: &MemberInfo,
    why: &str,
    printer: &Printer,
) -> Result<()> {
    if provider.delete_member(member).await? {
        printer.info(&format!(
            "Deleted {} of pool {}: {why}",
            member.key, member.pool
        ));
    }
    Ok(())
}

/// Makes one member of `spec` (where members ready themselves: its objects).
async fn make_one<P: Pools>(
    provider: &P,
    spec: &PoolSpec,
    env: &Environment,
    host: Option<&DockerProvider>,
    printer: &Printer,
) -> Result<()> {
    let objects_only = provider.members_ready_themselves();
    let request = Request {
        name: new_key(&spec.name),
        cluster: spec.plan.member_settings(),
        kubeconfig: KubeconfigSource::default(),
        switch_context: false,
        pool: PoolRole::Member {
            pool: spec.name.clone(),
            plan: spec.plan.hash(),
            paused: spec.paused,
        },
    };
    let place = Place {
        provider,
        // Remote members pull the kind node image inside: nobody stays to
        // stream it.
        host: host.filter(|_| !objects_only),
        printer,
        env,
    };
    super::make_pool_member(&request, spec, objects_only, place).await
}

/// Starts `kip pool fill POOL` detached (its own process group, output to its
/// log in kip's state folder). A filler already at work may have looked
/// before this claim: the new one waits for it, then looks again.
pub fn spawn_filler(pool: &str, env: &Environment) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let dir = pools_dir(env);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{pool}.fill.log")))
        .map_err(|e| Error::FillerNotStarted {
            error: e.to_string(),
        })?;
    let exe = std::env::current_exe().map_err(|e| Error::FillerNotStarted {
        error: e.to_string(),
    })?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["pool", "fill", pool])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .env("KIP_PROGRESS", "human");
    // A process group of its own: Ctrl-C on the claimer's terminal (sent to
    // the foreground group) does not end it. Unlike a `setsid` in a
    // pre-exec hook, this lets the standard library spawn it with
    // posix_spawn (vfork: no copy of the claimer's memory map), which the
    // claimer, whose last step this is, waits for.
    cmd.process_group(0);
    cmd.spawn().map_err(|e| Error::FillerNotStarted {
        error: e.to_string(),
    })?;
    Ok(())
}

pub(super) fn pools_dir(env: &Environment) -> PathBuf {
    env.state_dir.join("pools")
}

/// The engine, in a file name (the Docker host, or "default").
pub(super) fn engine_tag(env: &Environment) -> String {
    env.docker
        .host
        .as_deref()
        .unwrap_or("default")
        .replace('/', "_")
}

/// The lock one filler of a pool holds while it works (per engine: the
/// Docker host is in its name). The kernel releases it when the filler
/// ends, however it ends. At most one more filler waits for it (the
/// `.next` lock): it looks at the pool after the one at work, which is
/// all that any later filler would do, so a later one ends at once.
struct FillLock {
    _held: std::fs::File,
}

impl FillLock {
    /// The lock, once the filler at work (if any) is done; None when
    /// another filler already waits for it.
    fn take(pool: &str, env: &Environment) -> Result<Option<FillLock>> {
        let dir = pools_dir(env);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(format!("{pool}@{}.lock", engine_tag(env)));
        let next = lock_file(&path.with_extension("lock.next"))?;
        if !flock(&next, libc::LOCK_EX | libc::LOCK_NB)? {
            return Ok(None);
        }
        let work = lock_file(&path)?;
        flock(&work, libc::LOCK_EX)?;
        // `next` is released here: the next filler may wait now.
        Ok(Some(FillLock { _held: work }))
    }
}

fn lock_file(path: &std::path::Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))
}

/// `flock(2)`; false when `LOCK_NB` was asked and another holds it.
fn flock(file: &std::fs::File, how: libc::c_int) -> Result<bool> {
    // SAFETY: flock on a file descriptor `file` owns.
    if unsafe { libc::flock(file.as_raw_fd(), how) } == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    if err.kind() == std::io::ErrorKind::WouldBlock {
        return Ok(false);
    }
    Err(err).context("cannot lock a pool's filler lock")
}
