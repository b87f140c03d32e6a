//! The node bootstrap script, run by `sh` through its test seams
//! (KIP_SETUP_ONLY, KIP_CGROUP_ROOT, KIP_PROC_CGROUP, KIP_IPTABLES_SHIM_DIR)
//! against prepared trees: the setup decisions without starting dockerd.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const SCRIPT: &str = include_str!("../../src/node/bootstrap.sh");

#[test]
#[ignore = "needs shellcheck (CI installs it and runs ignored tests)"]
fn bootstrap_script_passes_shellcheck_as_posix_sh() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/node/bootstrap.sh");
    let out = Command::new("shellcheck")
        .args(["-s", "sh"])
        .arg(&path)
        .output()
        .expect("shellcheck runs (install it: apt-get install shellcheck)");
    assert!(
        out.status.success(),
        "shellcheck -s sh {}:\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout)
    );
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    /// A cgroup v1 layout (no cgroup.controllers at the root), a
    /// /proc/self/cgroup file, and stub iptables tools on PATH.
    fn new(proc_cgroup: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("cgroup")).unwrap();
        fs::write(dir.path().join("proc-cgroup"), proc_cgroup).unwrap();
        let bin = dir.path().join("bin");
        fs::create_dir_all(&bin).unwrap();
        for backend in ["legacy", "nft"] {
            for tool in [
                "iptables",
                "iptables-save",
                "iptables-restore",
                "ip6tables",
                "ip6tables-save",
                "ip6tables-restore",
            ] {
                let name = tool.replace("tables", &format!("tables-{backend}"));
                stub(&bin.join(name), "exit 0");
            }
        }
        Setup { dir }
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.dir.path().join(rel)
    }

    fn run(&self, env: &[(&str, &str)]) -> (i32, String) {
        let path = format!("{}:/usr/bin:/bin", self.path("bin").display());
        let out = Command::new("sh")
            .args(["-c", SCRIPT, "kip-bootstrap"])
            .env_clear()
            .env("PATH", path)
            .env("KIP_SETUP_ONLY", "1")
            .env("KIP_CGROUP_ROOT", self.path("cgroup"))
            .env("KIP_PROC_CGROUP", self.path("proc-cgroup"))
            .env("KIP_IPTABLES_SHIM_DIR", self.path("shim"))
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code().unwrap_or(-1), text)
    }
}

fn stub(path: &Path, body: &str) {
    fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

const V1_DOCKER: &str = "12:name=systemd:/docker/abc\n4:memory:/docker/abc\n0::/\n";

#[test]
fn cgroup_v1_nests_inner_containers_under_the_node_cgroup() {
    let s = Setup::new(V1_DOCKER);
    let (code, out) = s.run(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("kip-info: cgroup=v1\n"), "{out}");
    assert!(
        out.contains("kip-info: cgroup-parent=/docker/abc/docker\n"),
        "{out}"
    );
    assert!(out.contains("--cgroup-parent=/docker/abc/docker"), "{out}");
}

#[test]
fn cgroup_v1_without_systemd_line_uses_memory_controller() {
    let s = Setup::new("5:cpu,cpuacct:/x\n4:memory:/kubepods/pod1/c1\n");
    let (code, out) = s.run(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("cgroup-parent=/kubepods/pod1/c1/docker"),
        "{out}"
    );
}

#[test]
fn cgroup_v1_guard_does_not_abort_on_a_v2_only_proc_self_cgroup() {
    // The 2020 script's `grep systemd | cut` aborts a `set -e` script here.
    let s = Setup::new("0::/\n");
    let (code, out) = s.run(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("kip-info: cgroup=v1"), "{out}");
    assert!(!out.contains("cgroup-parent"), "{out}");
}

#[test]
fn cgroup_v2_moves_processes_to_init_and_enables_controllers() {
    let s = Setup::new("0::/\n");
    let root = s.path("cgroup");
    fs::write(root.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
    fs::write(root.join("cgroup.procs"), "1\n").unwrap();
    fs::write(root.join("cgroup.subtree_control"), "").unwrap();
    // Plain files keep only the last write, where cgroupfs takes each one.
    let (code, out) = s.run(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("kip-info: cgroup=v2"), "{out}");
    assert_eq!(
        fs::read_to_string(root.join("init/cgroup.procs")).unwrap(),
        "1\n"
    );
    // The last controller written is the last one listed.
    assert_eq!(
        fs::read_to_string(root.join("cgroup.subtree_control")).unwrap(),
        "+pids\n"
    );
    assert!(!out.contains("--cgroup-parent"), "{out}");
}

#[test]
fn mtu_override_and_detection() {
    let s = Setup::new(V1_DOCKER);
    let (code, out) = s.run(&[("KIP_MTU", "1400")]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("kip-info: mtu=1400") && out.contains("--mtu=1400"),
        "{out}"
    );
    // Detected from this machine's default-route interface.
    let (code, out) = s.run(&[]);
    assert_eq!(code, 0, "{out}");
    let mtu: u32 = out
        .lines()
        .find_map(|l| l.strip_prefix("kip-info: mtu="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no mtu in {out}"));
    assert!((576..=65535).contains(&mtu), "{mtu}");
}

#[test]
fn iptables_forced_modes_link_the_chosen_backend() {
    let s = Setup::new(V1_DOCKER);
    for mode in ["legacy", "nft"] {
        let (code, out) = s.run(&[("KIP_IPTABLES", mode)]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains(&format!("kip-info: iptables={mode}")), "{out}");
        let target = fs::read_link(s.path("shim/iptables")).unwrap();
        assert!(
            target.ends_with(format!("iptables-{mode}")),
            "{}",
            target.display()
        );
    }
}

#[test]
fn iptables_auto_prefers_legacy_when_legacy_tables_hold_rules() {
    let s = Setup::new(V1_DOCKER);
    stub(
        &s.path("bin/iptables-legacy-save"),
        "echo '-A POSTROUTING -j MASQUERADE'",
    );
    let (_, out) = s.run(&[]);
    assert!(out.contains("kip-info: iptables=legacy"), "{out}");
}

#[test]
fn iptables_auto_uses_nft_when_it_works_and_legacy_is_empty() {
    let s = Setup::new(V1_DOCKER);
    let (_, out) = s.run(&[]);
    assert!(out.contains("kip-info: iptables=nft"), "{out}");
    stub(&s.path("bin/iptables-nft"), "exit 1");
    let (_, out) = s.run(&[]);
    assert!(out.contains("kip-info: iptables=legacy"), "{out}");
}

#[test]
fn a_missing_iptables_backend_is_a_clear_failure() {
    let s = Setup::new(V1_DOCKER);
    fs::remove_file(s.path("bin/iptables-nft")).unwrap();
    let (code, out) = s.run(&[("KIP_IPTABLES", "nft")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("kip-fail: iptables: iptables-nft is not installed"),
        "{out}"
    );
}
