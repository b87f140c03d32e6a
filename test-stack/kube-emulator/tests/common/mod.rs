//! The harness both conformance suites share: an emulator in this process,
//! a kubeconfig for it, and the real kubectl. Under KIP_E2E=1 (CI) a missing
//! kubectl, Docker engine or test image is a failure; otherwise the test says
//! why it skips.

// Each suite uses a part of the harness.
#![allow(dead_code)]

use kip_test_kube_emulator::Emulator;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Polls `probe` until it gives `Ok`, for at most `limit`; past it, fails
/// the test with `what` and the last error. The pause between tries grows
/// from 20 ms to 500 ms.
#[track_caller]
pub fn until<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(20);
    loop {
        match probe() {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("not within {limit:?}: {what}\n{last}")
            }
            Err(_) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(500));
            }
        }
    }
}

/// The image pods run: the test node image (`test-stack/node-image/build.sh`).
pub const IMAGE: &str = "kip-test-node:latest";

pub struct Harness {
    pub emulator: Option<Emulator>,
    kubectl: String,
    pub dir: tempfile::TempDir,
    /// Runs the emulator's servers for as long as the harness lives.
    _runtime: tokio::runtime::Runtime,
}

fn missing(pods: bool, kubectl: &str) -> Option<String> {
    if !Command::new(kubectl)
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some(format!("no kubectl at {kubectl:?} (set KIP_TEST_KUBECTL)"));
    }
    if pods {
        match Command::new("docker")
            .args(["image", "inspect", IMAGE])
            .output()
        {
            Err(e) => return Some(format!("no docker CLI: {e}")),
            Ok(o) if !o.status.success() => {
                return Some(format!("no {IMAGE} on the Docker engine"))
            }
            Ok(_) => {}
        }
    }
    None
}

/// False (after saying why) when `have` is false and the test cannot run
/// here; under KIP_E2E=1 (CI) that is a failure instead.
pub fn available(have: bool, why: &str) -> bool {
    if !have {
        assert!(
            std::env::var("KIP_E2E").as_deref() != Ok("1"),
            "KIP_E2E=1 but {why}"
        );
        eprintln!("skipping: {why}");
    }
    have
}

impl Harness {
    /// With `pods`, the emulator runs pods as containers (pod network MTU 1440).
    pub fn start(pods: bool) -> Option<Harness> {
        let kubectl = std::env::var("KIP_TEST_KUBECTL").unwrap_or_else(|_| "kubectl".into());
        if let Some(why) = missing(pods, &kubectl) {
            assert!(
                std::env::var("KIP_E2E").as_deref() != Ok("1"),
                "KIP_E2E=1 but {why}"
            );
            eprintln!("skipping: {why}");
            return None;
        }
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let emulator = runtime
            .block_on(async {
                if pods {
                    Emulator::start_with_pods(1440).await
                } else {
                    Emulator::start().await
                }
            })
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kubeconfig"), emulator.kubeconfig()).unwrap();
        Some(Harness {
            emulator: Some(emulator),
            kubectl,
            dir,
            _runtime: runtime,
        })
    }

    /// Runs `future` on the runtime that serves the emulator.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self._runtime.block_on(future)
    }

    pub fn emulator(&self) -> &Emulator {
        self.emulator.as_ref().expect("the emulator is running")
    }

    /// kubectl's absolute path (a pod mounts it with hostPath).
    pub fn kubectl_path(&self) -> std::path::PathBuf {
        if self.kubectl.contains('/') {
            return std::fs::canonicalize(&self.kubectl).unwrap();
        }
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|dir| dir.join(&self.kubectl))
            .find(|p| p.is_file())
            .expect("kubectl on PATH")
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.kubectl);
        c.arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[track_caller]
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "kubectl {args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `kubectl ARGS… -f -` with `yaml` on stdin.
    pub fn with_stdin(&self, args: &[&str], yaml: &str) -> Output {
        let mut all = args.to_vec();
        all.extend(["-f", "-"]);
        let mut child = self
            .cmd(&all)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(yaml.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    pub fn apply(&self, yaml: &str, extra: &[&str]) -> Output {
        self.with_stdin(&[&["apply"], extra].concat(), yaml)
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }
}
