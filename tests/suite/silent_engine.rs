//! A Docker socket that accepts connections and never answers: every
//! command that talks to Docker gives up after one limit with one message
//! (exit 3), and a Ctrl-C during `up`'s wait ends it at once (exit 130).

use super::support::{kip, Run};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::Child;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The message of the one limit (`up` and `doctor` had it first).
const NO_ANSWER: &str = "no answer within 10s";

/// A unix socket that accepts every connection, holds it open and never
/// writes a byte. Each accepted connection is announced on `accepted`.
pub struct SilentEngine {
    dir: tempfile::TempDir,
    pub accepted: mpsc::Receiver<()>,
}

impl SilentEngine {
    pub fn start() -> SilentEngine {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("docker.sock")).unwrap();
        let (tx, accepted) = mpsc::channel();
        std::thread::spawn(move || {
            let mut held: Vec<UnixStream> = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
                let _ = tx.send(());
            }
        });
        SilentEngine { dir, accepted }
    }

    /// Its address, for DOCKER_HOST.
    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("docker.sock").display())
    }

    fn kubeconfig(&self) -> std::path::PathBuf {
        self.dir.path().join("kubeconfig")
    }
}

/// Waits for `child`, failing the test (and killing it) if it has not
/// ended by `deadline`: a command that hangs is the bug under test.
pub fn finish_by(mut child: Child, deadline: Instant, what: &str) -> Run {
    loop {
        if child.try_wait().unwrap().is_some() {
            return Run::from(child.wait_with_output().unwrap());
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let run = Run::from(child.wait_with_output().unwrap());
            panic!("`kip {what}` was still waiting on a silent engine\n{run}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn every_command_gives_up_on_a_silent_engine_with_one_message() {
    let engine = SilentEngine::start();
    let commands: [&[&str]; 11] = [
        &["list"],
        &["status", "i11c-silent"],
        &["down", "i11c-silent"],
        &["down"],
        &["gc"],
        &["kubeconfig", "i11c-silent"],
        &["logs", "i11c-silent"],
        &["exec", "i11c-silent", "--", "true"],
        &["load", "i11c-silent", "busybox"],
        &["up", "i11c-silent"],
        &["doctor"],
    ];
    // All at once: each waits out the same limit.
    let children: Vec<_> = commands
        .iter()
        .map(|args| {
            kip(args)
                .env("DOCKER_HOST", engine.host())
                .kubeconfig(&engine.kubeconfig())
                .spawn()
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    for (args, child) in commands.iter().zip(children) {
        let run = finish_by(child, deadline, &args.join(" "));
        assert_eq!(run.code, 3, "kip {}: {run}", args.join(" "));
        let place = format!("cannot reach Docker at {}: {NO_ANSWER}", engine.host());
        let said = if args[0] == "doctor" {
            &run.stdout
        } else {
            &run.stderr
        };
        assert!(said.contains(&place), "kip {}: {run}", args.join(" "));
    }
    assert!(
        !std::fs::exists(engine.kubeconfig()).unwrap(),
        "nothing was written"
    );
}

#[test]
fn ctrl_c_while_up_waits_for_a_silent_engine_ends_it_at_once() {
    let engine = SilentEngine::start();
    let child = kip(&["up", "i11c-silent-int"])
        .env("DOCKER_HOST", engine.host())
        .kubeconfig(&engine.kubeconfig())
        .spawn();
    // kip has connected: it listens for signals from before its first
    // request, so this Ctrl-C lands during the wait.
    engine
        .accepted
        .recv_timeout(Duration::from_secs(30))
        .expect("kip connects to the engine");
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    // Generous: well beyond the 10 s limit it no longer waits out.
    let run = finish_by(
        child,
        Instant::now() + Duration::from_secs(60),
        "up (interrupted)",
    );
    run.code(130).stderr_has("interrupted");
    assert!(!run.stderr.contains(NO_ANSWER), "{run}");
}
