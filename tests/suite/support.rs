//! A small fluent builder that runs the real `kip` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn kip_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kip"))
}

pub struct Kip {
    command: Command,
}

pub fn kip(args: &[&str]) -> Kip {
    let mut command = Command::new(kip_bin());
    command.args(args).stdin(Stdio::null());
    // Never touch the developer's own kubeconfig or Docker context by accident.
    command
        .env_remove("KUBECONFIG")
        .env("HOME", "/nonexistent-kip-test-home");
    command
        .env_remove("KIP_IMAGE")
        .env_remove("KIP_DIND_IMAGE")
        .env_remove("KIP_SECURITY")
        .env("NO_COLOR", "1");
    Kip { command }
}

impl Kip {
    pub fn env_remove(mut self, key: &str) -> Self {
        self.command.env_remove(key);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    pub fn kubeconfig(self, path: &Path) -> Self {
        self.env("KUBECONFIG", path)
    }

    pub fn run(mut self) -> Run {
        let output = self.command.output().expect("kip runs");
        Run::from(output)
    }

    pub fn command(self) -> Command {
        self.command
    }

    /// Starts kip with its output captured, for `wait_with_output`.
    pub fn spawn(mut self) -> std::process::Child {
        self.command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kip starts")
    }
}

#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success\n{self}");
        self
    }

    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "expected exit code {code}\n{self}");
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, text: &str) -> &Self {
        assert!(self.stderr.contains(text), "stderr lacks {text:?}\n{self}");
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, text: &str) -> &Self {
        assert!(self.stdout.contains(text), "stdout lacks {text:?}\n{self}");
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Waits for each of `children` (from `Kip::spawn`).
pub fn wait_all(children: Vec<std::process::Child>) -> Vec<Run> {
    children
        .into_iter()
        .map(|c| Run::from(c.wait_with_output().unwrap()))
        .collect()
}

/// Concurrent `kip up -o json` of one name: all succeeded, and all but one
/// report the cluster as reused (made by the one).
#[track_caller]
pub fn assert_one_made_it(runs: &[Run]) {
    for run in runs {
        assert_eq!(run.code, 0, "{run}");
    }
    let reused = runs
        .iter()
        .filter(|r| serde_json::from_str::<serde_json::Value>(&r.stdout).unwrap()["reused"] == true)
        .count();
    assert_eq!(reused, runs.len() - 1, "one run made the cluster");
}

/// Waits for `child` to exit until `deadline`, polling; past it, kills the
/// child and panics with `what` (what the test was waiting for).
#[track_caller]
pub fn exit_by(
    child: &mut std::process::Child,
    deadline: std::time::Instant,
    what: &str,
) -> std::process::ExitStatus {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
