//! The node bootstrap script, run by `sh` through its test seams
//! (KIP_SETUP_ONLY, KIP_CGROUP_ROOT, KIP_PROC_CGROUP, KIP_IPTABLES_SHIM_DIR,
//! KIP_PROC_STATUS, KIP_CAP_LAST_CAP, KIP_KMSG, KIP_RUNTIME_DIR,
//! KIP_CONF_DIR) against prepared trees: the setup decisions without
//! starting dockerd.

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
        // Every capability (0-40) in the bounding set, unless a test says.
        fs::write(
            dir.path().join("status"),
            "Name:\tsh\nCapBnd:\t000001ffffffffff\n",
        )
        .unwrap();
        fs::write(dir.path().join("cap_last_cap"), "40\n").unwrap();
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
        self.run_in(
            Command::new("sh").args(["-c", SCRIPT, "kip-bootstrap"]),
            env,
        )
    }

    /// The bootstrap at oom_score_adj 900 with a floor of 500, as in a Pod
    /// of a node without CAP_SYS_RESOURCE: it may lower its value a little,
    /// never to -999. (500 is set with the capability, if this process has
    /// it, which makes it the floor; the capability is then dropped and the
    /// value raised.)
    fn run_with_oom_floor_500(&self, env: &[(&str, &str)]) -> (i32, String) {
        let floor = r#"echo 500 >/proc/self/oom_score_adj && exec setpriv \
            --bounding-set=-sys_resource --inh-caps=-sys_resource -- \
            sh -c 'echo 900 >/proc/self/oom_score_adj && exec sh -c "$0" kip-bootstrap' "$0""#;
        self.run_in(Command::new("sh").args(["-c", floor, SCRIPT]), env)
    }

    fn run_in(&self, command: &mut Command, env: &[(&str, &str)]) -> (i32, String) {
        let path = format!("{}:/usr/bin:/bin", self.path("bin").display());
        let out = command
            .env_clear()
            .env("PATH", path)
            .env("KIP_SETUP_ONLY", "1")
            .env("KIP_CGROUP_ROOT", self.path("cgroup"))
            .env("KIP_PROC_CGROUP", self.path("proc-cgroup"))
            .env("KIP_IPTABLES_SHIM_DIR", self.path("shim"))
            .env("KIP_PROC_STATUS", self.path("status"))
            .env("KIP_CAP_LAST_CAP", self.path("cap_last_cap"))
            .env("KIP_KMSG", self.path("kmsg"))
            .env("KIP_RUNTIME_DIR", self.path("runtime"))
            .env("KIP_CONF_DIR", self.path("conf"))
            .env("KIP_CLUSTER", "demo")
            .env("KIP_KIND_CONFIG", KIND_CONFIG)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code().unwrap_or(-1), text)
    }
}

/// What kip renders (kubeadmConfigPatches as a block list).
const KIND_CONFIG: &str = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nkubeadmConfigPatches:\n- |\n  kind: KubeletConfiguration\n  cgroupRoot: /kubelet\n";

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

fn kind_config(s: &Setup) -> serde_yaml::Value {
    serde_yaml::from_str(&fs::read_to_string(s.path("conf/kind.yaml")).unwrap()).unwrap()
}

fn patches(doc: &serde_yaml::Value, key: &str) -> Vec<String> {
    doc[key]
        .as_sequence()
        .map(|l| l.iter().map(|p| p.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn a_node_with_every_capability_keeps_plain_runc() {
    let s = Setup::new(V1_DOCKER);
    let (code, out) = s.run(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("kip-info: runtime=runc\n"), "{out}");
    assert!(!out.contains("--default-runtime"), "{out}");
    assert!(!s.path("runtime/runc-clamp").exists());
}

#[test]
fn a_node_without_sys_resource_gets_a_clamping_default_runtime() {
    let s = Setup::new(V1_DOCKER);
    // CI's bounding set: bit 24 (CAP_SYS_RESOURCE) missing.
    fs::write(s.path("status"), "CapBnd:\t000001fffeffffff\n").unwrap();
    stub(&s.path("bin/runc"), "exit 0");
    let (code, out) = s.run(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("kip-info: runtime=runc-clamp (without CAP_SYS_RESOURCE)"),
        "{out}"
    );
    let wrapper = s.path("runtime/runc-clamp");
    assert!(
        out.contains(&format!(
            "--add-runtime=kip-runc-clamp={} --default-runtime=kip-runc-clamp",
            wrapper.display()
        )),
        "{out}"
    );

    // The wrapper removes the capability from a create's spec and an exec's
    // process file, and runs runc with the same arguments.
    let runc_log = s.path("runc-args");
    stub(
        &s.path("bin/runc"),
        &format!("echo \"$@\" >{}", runc_log.display()),
    );
    let (_, out) = s.run(&[]);
    assert!(out.contains("runtime=runc-clamp"), "{out}");
    let bundle = s.path("bundle");
    fs::create_dir_all(&bundle).unwrap();
    let spec = r#"{"process":{"capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_RESOURCE","CAP_SYS_TIME"],"effective":["CAP_SYS_RESOURCE"]}}}"#;
    fs::write(bundle.join("config.json"), spec).unwrap();
    let status = Command::new(&wrapper)
        .args(["--root", "/run/x", "create", "--bundle"])
        .arg(&bundle)
        .arg("ctr1")
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        fs::read_to_string(bundle.join("config.json")).unwrap(),
        r#"{"process":{"capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_TIME"],"effective":[]}}}"#
    );
    assert!(fs::read_to_string(&runc_log)
        .unwrap()
        .contains("create --bundle"));
    let process = s.path("process.json");
    fs::write(
        &process,
        r#"{"capabilities":{"permitted":["CAP_SYS_RESOURCE","CAP_KILL"]}}"#,
    )
    .unwrap();
    let status = Command::new(&wrapper)
        .args(["exec", "--process"])
        .arg(&process)
        .arg("ctr1")
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        fs::read_to_string(&process).unwrap(),
        r#"{"capabilities":{"permitted":["CAP_KILL"]}}"#
    );

    // Turned off (to show the failure it prevents), runc is left alone.
    let (_, out) = s.run(&[("KIP_RUNTIME_CLAMP", "false")]);
    assert!(out.contains("runtime=runc (unclamped"), "{out}");
    assert!(!out.contains("--default-runtime"), "{out}");
}

#[test]
fn dev_kmsg_is_created_when_missing() {
    let s = Setup::new(V1_DOCKER);
    let (code, out) = s.run(&[]);
    assert_eq!(code, 0, "{out}");
    // As root mknod makes the character device; otherwise the script warns
    // and goes on (the kubelet then cannot start: said in one line).
    if out.contains("kip-info: kmsg=created") {
        use std::os::unix::fs::FileTypeExt;
        assert!(fs::metadata(s.path("kmsg"))
            .unwrap()
            .file_type()
            .is_char_device());
        let (_, again) = s.run(&[]);
        assert!(again.contains("kip-info: kmsg=present"), "{again}");
    } else {
        assert!(out.contains("kip-warn: cannot create"), "{out}");
    }
    let (_, off) = s.run(&[("KIP_KMSG_CREATE", "false")]);
    assert!(off.contains("kip-info: kmsg=not-created"), "{off}");
}

#[test]
fn cgroup_v1_adds_the_fail_cgroup_v1_patch_and_v2_does_not() {
    let s = Setup::new(V1_DOCKER);
    let (code, out) = s.run(&[("KIP_RESTRICT_OOM", "false")]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("kip-info: kubelet=failCgroupV1-false"),
        "{out}"
    );
    assert!(out.contains("kip-warn: this host uses cgroup v1"), "{out}");
    let doc = kind_config(&s);
    let kubeadm = patches(&doc, "kubeadmConfigPatches");
    assert_eq!(
        kubeadm,
        [
            "kind: KubeletConfiguration\nfailCgroupV1: false\n",
            "kind: KubeletConfiguration\ncgroupRoot: /kubelet\n"
        ]
    );
    assert!(doc.get("containerdConfigPatches").is_none(), "{doc:?}");
    // The rest of kip's config is as kip wrote it.
    assert_eq!(doc["kind"], "Cluster");

    let (_, off) = s.run(&[
        ("KIP_RESTRICT_OOM", "false"),
        ("KIP_FAIL_CGROUP_V1", "true"),
    ]);
    assert!(!off.contains("failCgroupV1-false"), "{off}");
    assert_eq!(patches(&kind_config(&s), "kubeadmConfigPatches").len(), 1);

    let v2 = Setup::new("0::/\n");
    let root = v2.path("cgroup");
    fs::write(root.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
    fs::write(root.join("cgroup.procs"), "").unwrap();
    fs::write(root.join("cgroup.subtree_control"), "").unwrap();
    let (code, out) = v2.run(&[("KIP_RESTRICT_OOM", "false")]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("failCgroupV1"), "{out}");
    assert_eq!(patches(&kind_config(&v2), "kubeadmConfigPatches").len(), 1);
}

#[test]
fn restrict_oom_score_adj_joins_the_containerd_patches() {
    let s = Setup::new(V1_DOCKER);
    let (code, out) = s.run(&[("KIP_RESTRICT_OOM", "true")]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("kip-info: containerd=restrict_oom_score_adj"),
        "{out}"
    );
    let restrict = "[plugins.\"io.containerd.grpc.v1.cri\"]\n  restrict_oom_score_adj = true\n";
    assert_eq!(
        patches(&kind_config(&s), "containerdConfigPatches"),
        [restrict]
    );

    // A user's own containerd patches stay, after kip's.
    let user =
        format!("{KIND_CONFIG}containerdConfigPatches:\n- |-\n  [plugins.\"x\"]\n    y = 1\n");
    let (_, out) = s.run(&[("KIP_RESTRICT_OOM", "true"), ("KIP_KIND_CONFIG", &user)]);
    assert!(out.contains("restrict_oom_score_adj"), "{out}");
    assert_eq!(
        patches(&kind_config(&s), "containerdConfigPatches"),
        [restrict, "[plugins.\"x\"]\n  y = 1"]
    );

    // auto: decided by whether the node can set the kubelet's -999.
    let (_, out) = s.run(&[("KIP_RESTRICT_OOM", "auto")]);
    let can_lower = Command::new("sh")
        .args(["-c", "echo -999 >/proc/self/oom_score_adj"])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success();
    assert_eq!(out.contains("restrict_oom_score_adj"), !can_lower, "{out}");

    // A node that may lower its value a little but not to -999 (a privileged
    // Pod at 916 on a node without CAP_SYS_RESOURCE) still needs it: runc
    // fails every sandbox there with "can't get final child's PID from pipe".
    let (code, out) = s.run_with_oom_floor_500(&[("KIP_RESTRICT_OOM", "auto")]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("kip-info: containerd=restrict_oom_score_adj"),
        "{out}"
    );
}

#[test]
fn the_pod_ip_replaces_the_placeholder_san() {
    let s = Setup::new(V1_DOCKER);
    let config = "kind: Cluster\nkubeadmConfigPatches:\n- |\n  kind: ClusterConfiguration\n  apiServer:\n    certSANs:\n    - kip-pod-ip.invalid\n";
    let (code, out) = s.run(&[
        ("KIP_KIND_CONFIG", config),
        ("API_SERVER_ADDRESS", "10.1.2.3"),
        ("KIP_RESTRICT_OOM", "false"),
        ("KIP_FAIL_CGROUP_V1", "true"),
    ]);
    assert_eq!(code, 0, "{out}");
    let patch = &patches(&kind_config(&s), "kubeadmConfigPatches")[0];
    assert!(patch.contains("- 10.1.2.3\n"), "{patch}");
    assert!(!patch.contains("kip-pod-ip.invalid"), "{patch}");
}
