//! What breaks clusters on this machine and engine, checked before `kip up`
//! makes anything and reported by `kip doctor`: each check says ok, warn or
//! fail, and what fixes it. `kip up` prints what is not ok (`report_local`);
//! `kip doctor` prints them all. Each check is a small pure function, tested
//! beside it (hence a little over 400 lines with the tests).

use crate::output::Printer;
use crate::provider::EngineFacts;
use crate::settings::Environment;
use serde::Serialize;
use std::path::{Path, PathBuf};

pub const MIN_INOTIFY_WATCHES: u64 = 524_288;
pub const MIN_INOTIFY_INSTANCES: u64 = 512;
const DISK_FAIL_BYTES: u64 = 5 << 30;
const DISK_WARN_BYTES: u64 = 20 << 30;
/// The MTU a network without an explicit one gets.
const DEFAULT_MTU: u32 = 1500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Level,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(name: &'static str, message: impl Into<String>) -> Self {
        Check {
            name,
            status: Level::Ok,
            message: message.into(),
            fix: None,
        }
    }

    pub fn warn(name: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            name,
            status: Level::Warn,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn fail(name: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            name,
            status: Level::Fail,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Where the local checks read the host (tests point these at prepared
/// trees; see `Environment::proc_dir`).
pub struct Host {
    proc_dir: PathBuf,
    root: PathBuf,
}

impl Host {
    pub fn new(env: &Environment) -> Self {
        Host {
            proc_dir: env.proc_dir.clone(),
            root: env.host_root.clone(),
        }
    }

    fn read_number(&self, rel: &str) -> Option<u64> {
        std::fs::read_to_string(self.proc_dir.join(rel))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    pub fn has_lib_modules(&self) -> bool {
        self.path("/lib/modules").is_dir()
    }

    fn path(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }
}

pub fn inotify_check(watches: Option<u64>, instances: Option<u64>) -> Check {
    const NAME: &str = "inotify";
    let (Some(watches), Some(instances)) = (watches, instances) else {
        return Check::warn(
            NAME,
            "cannot read fs.inotify limits",
            "check `sysctl fs.inotify`",
        );
    };
    if watches >= MIN_INOTIFY_WATCHES && instances >= MIN_INOTIFY_INSTANCES {
        return Check::ok(
            NAME,
            format!("max_user_watches {watches}, max_user_instances {instances}"),
        );
    }
    // A warning, in `up` and `doctor` alike: one small cluster often runs
    // with less, and kind itself only documents the limits.
    Check::warn(
        NAME,
        format!(
            "max_user_watches {watches} / max_user_instances {instances} are below {MIN_INOTIFY_WATCHES} / \
             {MIN_INOTIFY_INSTANCES}: pods fail with \"too many open files\""
        ),
        format!(
            "sudo sysctl fs.inotify.max_user_watches={MIN_INOTIFY_WATCHES} fs.inotify.max_user_instances={MIN_INOTIFY_INSTANCES}"
        ),
    )
}

pub fn modules_check(present: bool) -> Check {
    if present {
        Check::ok(
            "lib-modules",
            "/lib/modules is present and mounted read-only into nodes",
        )
    } else {
        Check::warn(
            "lib-modules",
            "/lib/modules is missing: kube-proxy and CNI plugins cannot load kernel modules",
            "install the kernel modules package for the running kernel",
        )
    }
}

pub fn disk_check(root_dir: &str, free: Option<u64>) -> Check {
    const NAME: &str = "disk";
    let Some(free) = free else {
        return Check::warn(
            NAME,
            format!("cannot measure free space under {root_dir}"),
            "check `df -h` on the engine's host",
        );
    };
    let gib = free as f64 / f64::from(1u32 << 30);
    let message = format!("{gib:.1} GiB free under {root_dir}");
    if free < DISK_FAIL_BYTES {
        Check::fail(
            NAME,
            message,
            "free space: `docker system prune`, or move Docker's data root",
        )
    } else if free < DISK_WARN_BYTES {
        Check::warn(
            NAME,
            message,
            "node images and clusters need several GiB each: `docker system prune`",
        )
    } else {
        Check::ok(NAME, message)
    }
}

pub fn cgroup_check(v2: bool, root_controllers: Option<&str>) -> Check {
    const NAME: &str = "cgroup";
    if !v2 {
        // Kubernetes is dropping v1: the kubelet refuses it from 1.35 unless
        // failCgroupV1 is false (kip's node sets it; kind only warns).
        return Check::warn(
            NAME,
            "cgroup v1: inner containers nest under the node's cgroup; Kubernetes is dropping v1 \
             (kubelet >= 1.35 refuses it unless told otherwise: kip's node tells it, failCgroupV1: false)",
            "move the host to cgroup v2 (systemd.unified_cgroup_hierarchy=1) before Kubernetes removes v1",
        );
    }
    let Some(controllers) = root_controllers else {
        return Check::ok(
            NAME,
            "cgroup v2 (delegation not checked: the engine is not local)",
        );
    };
    let missing: Vec<&str> = ["cpu", "memory", "pids"]
        .into_iter()
        .filter(|c| !controllers.split_whitespace().any(|have| have == *c))
        .collect();
    if missing.is_empty() {
        Check::ok(
            NAME,
            "cgroup v2 with cpu, memory and pids available for delegation",
        )
    } else {
        Check::fail(
            NAME,
            format!(
                "cgroup v2 without the {} controller(s): nested kubelets fail (\"Structure needs cleaning\")",
                missing.join(", ")
            ),
            "delegate the controllers to Docker (systemd: Delegate=yes for docker.service)",
        )
    }
}

pub fn privileged_check(outcome: Result<Option<String>, String>) -> Check {
    const NAME: &str = "privileged";
    match outcome {
        Ok(None) => Check::ok(NAME, "privileged containers are allowed"),
        Ok(Some(reason)) => Check::warn(
            NAME,
            format!("the engine refuses privileged containers ({reason})"),
            "nothing to do: kip up falls back to an explicit capability profile (--security caps), and \
             the node's Docker then keeps kind's privileged containers within the capabilities the node has",
        ),
        Err(why) => Check::warn(
            NAME,
            format!("not checked: {why}"),
            "run `kip up` once, then `kip doctor` again",
        ),
    }
}

pub fn kind_network_check(kind_mtu: Option<Option<u32>>, bridge_mtu: Option<u32>) -> Check {
    const NAME: &str = "kind-network";
    let Some(kind_mtu) = kind_mtu else {
        return Check::ok(NAME, "no stale `kind` network on this engine");
    };
    let kind_mtu = kind_mtu.unwrap_or(DEFAULT_MTU);
    let bridge_mtu = bridge_mtu.unwrap_or(DEFAULT_MTU);
    if kind_mtu > bridge_mtu {
        Check::fail(
            NAME,
            format!("the `kind` network's MTU {kind_mtu} exceeds the default bridge's {bridge_mtu}: pulls hang"),
            "docker network rm kind (kind recreates it with the right MTU)",
        )
    } else {
        Check::ok(
            NAME,
            format!("the `kind` network's MTU {kind_mtu} fits the default bridge's {bridge_mtu}"),
        )
    }
}

/// The checks that need no engine round trip beyond `facts`.
pub fn local_checks(facts: &EngineFacts, host: &Host) -> Vec<Check> {
    let mut checks = Vec::new();
    if facts.local {
        checks.push(inotify_check(
            host.read_number("sys/fs/inotify/max_user_watches"),
            host.read_number("sys/fs/inotify/max_user_instances"),
        ));
        checks.push(modules_check(host.has_lib_modules()));
        let root = facts
            .root_dir
            .clone()
            .unwrap_or_else(|| "/var/lib/docker".into());
        checks.push(disk_check(&root, free_bytes(&host.path(&root))));
        let controllers =
            std::fs::read_to_string(host.path("/sys/fs/cgroup/cgroup.controllers")).ok();
        checks.push(cgroup_check(facts.cgroup_v2, controllers.as_deref()));
    } else {
        checks.push(cgroup_check(facts.cgroup_v2, None));
    }
    checks
}

/// The environment variable that names warnings `kip up` no longer prints
/// (`KIP_ACCEPT_WARNINGS=inotify,lib-modules`): known and accepted
/// (`Environment::accept_warnings`).
pub const ACCEPT_WARNINGS_VAR: &str = "KIP_ACCEPT_WARNINGS";

/// The checks `kip up` prints: what is not ok, except warnings the user
/// accepted (named in `accepted`, separated by commas or spaces). A failure
/// is always printed.
fn worth_saying(checks: Vec<Check>, accepted: &str) -> Vec<Check> {
    let accepted: Vec<&str> = accepted
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|n| !n.is_empty())
        .collect();
    checks
        .into_iter()
        .filter(|c| match c.status {
            Level::Ok => false,
            Level::Warn => !accepted.contains(&c.name),
            Level::Fail => true,
        })
        .collect()
}

/// What `kip up` says of the local checks: only what is not ok (and not
/// accepted with KIP_ACCEPT_WARNINGS).
pub fn report_local(facts: &EngineFacts, env: &Environment, printer: &Printer) {
    for check in worth_saying(local_checks(facts, &Host::new(env)), &env.accept_warnings) {
        let fix = check
            .fix
            .as_deref()
            .map_or_else(String::new, |f| format!(" (fix: {f})"));
        let silence = if check.status == Level::Warn {
            format!(" ({ACCEPT_WARNINGS_VAR}={} silences this)", check.name)
        } else {
            String::new()
        };
        printer.warn(&format!("{}: {}{fix}{silence}", check.name, check.message));
    }
}

/// Free bytes for unprivileged users on the file system of `path`.
fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a zeroed statvfs to fill.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    // The field types differ across targets (u32 on some 32-bit ones).
    #[allow(clippy::useless_conversion)]
    Some(u64::from(stat.f_bavail) * u64::from(stat.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inotify_limits() {
        assert_eq!(inotify_check(Some(524_288), Some(512)).status, Level::Ok);
        let low = inotify_check(Some(8192), Some(128));
        assert_eq!(low.status, Level::Warn);
        assert!(low.fix.unwrap().contains("max_user_watches=524288"));
        assert_eq!(inotify_check(None, Some(512)).status, Level::Warn);
    }

    #[test]
    fn up_leaves_out_accepted_warnings_but_never_failures() {
        let checks = || {
            vec![
                inotify_check(Some(8192), Some(128)),
                modules_check(false),
                disk_check("/d", Some(1 << 30)),
                modules_check(true),
            ]
        };
        let names = |shown: Vec<Check>| shown.iter().map(|c| c.name).collect::<Vec<_>>();
        assert_eq!(
            names(worth_saying(checks(), "")),
            ["inotify", "lib-modules", "disk"]
        );
        assert_eq!(
            names(worth_saying(checks(), "inotify")),
            ["lib-modules", "disk"]
        );
        assert_eq!(
            names(worth_saying(checks(), "inotify, lib-modules,disk")),
            ["disk"]
        );
    }

    #[test]
    fn disk_thresholds() {
        assert_eq!(disk_check("/d", Some(50 << 30)).status, Level::Ok);
        assert_eq!(disk_check("/d", Some(10 << 30)).status, Level::Warn);
        assert_eq!(disk_check("/d", Some(1 << 30)).status, Level::Fail);
        assert_eq!(disk_check("/d", None).status, Level::Warn);
    }

    #[test]
    fn cgroup_delegation() {
        let v1 = cgroup_check(false, None);
        assert_eq!(v1.status, Level::Warn);
        assert!(v1.message.contains("dropping v1"), "{}", v1.message);
        assert_eq!(
            cgroup_check(true, Some("cpuset cpu io memory pids")).status,
            Level::Ok
        );
        let missing = cgroup_check(true, Some("cpuset io"));
        assert_eq!(missing.status, Level::Fail);
        assert!(
            missing.message.contains("cpu, memory, pids"),
            "{}",
            missing.message
        );
    }

    #[test]
    fn privileged_outcomes() {
        assert_eq!(privileged_check(Ok(None)).status, Level::Ok);
        assert_eq!(
            privileged_check(Ok(Some("unable to apply caps".into()))).status,
            Level::Warn
        );
        assert_eq!(privileged_check(Err("no image".into())).status, Level::Warn);
    }

    #[test]
    fn stale_kind_network() {
        assert_eq!(kind_network_check(None, None).status, Level::Ok);
        assert_eq!(kind_network_check(Some(None), Some(1500)).status, Level::Ok);
        assert_eq!(
            kind_network_check(Some(Some(1500)), Some(1440)).status,
            Level::Fail
        );
        assert_eq!(
            kind_network_check(Some(Some(1400)), Some(1440)).status,
            Level::Ok
        );
    }

    #[test]
    fn modules() {
        assert_eq!(modules_check(true).status, Level::Ok);
        assert_eq!(modules_check(false).status, Level::Warn);
    }
}
