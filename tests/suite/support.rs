//! What every test module shares: a small fluent builder that runs the real
//! `kip` binary, its `Run` (with the one JSON-from-stdout helper), the one
//! poll-with-deadline helper (`eventually`, and `until` that panics), a
//! child's lines read as they come, and `Checks` for the long tests on one
//! expensive cluster.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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
    pub fn spawn(mut self) -> Child {
        self.command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
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

    /// Its stdout as JSON (a failure that shows the whole run when it is not).
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{self}"))
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

/// Polls `probe` until it gives `Ok`, for at most `limit`; then its last
/// error. The pause between tries starts at 20 ms and doubles up to 500 ms:
/// fast conditions are seen at once, slow ones (a kubectl call, a cluster
/// coming up) are not asked for in a tight loop.
pub fn eventually<T>(
    limit: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> Result<T, String> {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(20);
    loop {
        match probe() {
            Ok(value) => return Ok(value),
            Err(last) if Instant::now() >= deadline => return Err(last),
            Err(_) => {
                std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
                pause = (pause * 2).min(Duration::from_millis(500));
            }
        }
    }
}

/// `eventually`, failing the test with `what` and the last error when the
/// condition does not hold within `limit`.
#[track_caller]
pub fn until<T>(what: &str, limit: Duration, probe: impl FnMut() -> Result<T, String>) -> T {
    match eventually(limit, probe) {
        Ok(value) => value,
        Err(last) => panic!("not within {limit:?}: {what}\n{last}"),
    }
}

/// Waits for `child` to exit, at most `limit`; past it, kills it and fails
/// the test with `what` and what it printed on the pipes still attached.
#[track_caller]
pub fn exit_by(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let waited = eventually(limit, || {
        child
            .try_wait()
            .expect("the child can be waited for")
            .ok_or_else(String::new)
    });
    match waited {
        Ok(status) => status,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            let mut said = String::new();
            if let Some(mut out) = child.stdout.take() {
                let _ = out.read_to_string(&mut said);
            }
            if let Some(mut err) = child.stderr.take() {
                let _ = err.read_to_string(&mut said);
            }
            panic!("not within {limit:?}: {what}\n{said}");
        }
    }
}

/// `exit_by`, then everything the child (from `Kip::spawn`) printed.
#[track_caller]
pub fn finish_by(mut child: Child, limit: Duration, what: &str) -> Run {
    exit_by(&mut child, limit, what);
    Run::from(child.wait_with_output().expect("the child's output"))
}

/// The lines a child prints on one stream, read as they come by a thread
/// (so the pipe never fills while the test waits for a line).
pub struct Lines {
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    reader: std::thread::JoinHandle<()>,
}

impl Lines {
    pub fn of(stream: impl Read + Send + 'static) -> Lines {
        let (tx, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stream)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Lines {
            lines,
            seen: Vec::new(),
            reader,
        }
    }

    /// Waits up to `limit` for a line `wanted` accepts and returns it; on
    /// `Err`, every line seen so far (the stream ended, or time ran out).
    pub fn wait_for(
        &mut self,
        limit: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return Ok(line);
                    }
                }
                Err(_) => return Err(self.seen.join("\n")),
            }
        }
    }

    /// Every line, once the stream has ended (the child exited).
    pub fn all(mut self) -> String {
        let _ = self.reader.join();
        self.seen.extend(self.lines.try_iter());
        self.seen.join("\n")
    }
}

/// Waits for each of `children` (from `Kip::spawn`).
pub fn wait_all(children: Vec<Child>) -> Vec<Run> {
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
    let reused = runs.iter().filter(|r| r.json()["reused"] == true).count();
    assert_eq!(reused, runs.len() - 1, "one run made the cluster");
}

/// Every path below `root` (folders and files), depth first.
pub fn walk(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            found.push(path);
        }
    }
    found
}

/// Every check's outcome, for a long test on one expensive cluster: it runs
/// them all and fails at the end with every one that failed, not only the
/// first. Each check's line says how long it took.
pub struct Checks {
    failed: Vec<String>,
    last: Instant,
}

impl Default for Checks {
    fn default() -> Self {
        Checks {
            failed: Vec::new(),
            last: Instant::now(),
        }
    }
}

impl Checks {
    /// Records `result`, computed since the previous check (its time).
    pub fn check(&mut self, what: &str, result: Result<(), String>) {
        let took = self.last.elapsed().as_secs_f64();
        match result {
            Ok(()) => eprintln!("ok ({took:.1} s): {what}"),
            Err(why) => {
                eprintln!("FAILED ({took:.1} s): {what}: {why}");
                self.failed.push(format!("{what}: {why}"));
            }
        }
        self.last = Instant::now();
    }

    /// Runs `assertions` (which fail by panicking, as the shared ones do)
    /// as one check.
    pub fn run(&mut self, what: &str, assertions: impl FnOnce()) {
        self.last = Instant::now();
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(assertions)).map_err(|panic| {
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic (see above)".into())
            });
        self.check(what, result);
    }

    #[track_caller]
    pub fn finish(self) {
        assert!(
            self.failed.is_empty(),
            "{} check(s) failed:\n{}",
            self.failed.len(),
            self.failed.join("\n")
        );
    }
}
