//! A Docker socket that accepts connections and never answers: every
//! command that talks to Docker gives up after one limit with one message
//! (exit 3), and a Ctrl-C during `up`'s wait ends it at once (exit 130).

use super::support::{exit_by, finish_by, kip, Lines};
use std::os::unix::net::{UnixListener, UnixStream};
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
    // All at once: each waits out the same limit. One that hangs is the bug
    // under test.
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
        let what = format!(
            "`kip {}` was still waiting on a silent engine",
            args.join(" ")
        );
        let left = deadline.saturating_duration_since(Instant::now());
        let run = finish_by(child, left, &what);
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
        Duration::from_secs(60),
        "`kip up` (interrupted) was still waiting on a silent engine",
    );
    run.code(130).stderr_has("interrupted");
    assert!(!run.stderr.contains(NO_ANSWER), "{run}");
}

/// An engine that answers the ping and lists one running kip node, then
/// never answers the request to stop it: a `kip down` stuck mid-way.
/// Each stop request is announced on `stopping`.
struct StuckEngine {
    dir: tempfile::TempDir,
    stopping: mpsc::Receiver<()>,
}

impl StuckEngine {
    fn start(cluster: &str) -> StuckEngine {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("docker.sock")).unwrap();
        let (tx, stopping) = mpsc::channel();
        let node = serde_json::json!([{
            "Id": "0123456789ab",
            "Names": [format!("/kip-{cluster}")],
            "Image": "kip-node",
            "State": "running",
            "Status": "Up 1 minute",
            "Labels": {"dev.kip.managed-by": "kip", "dev.kip.cluster": cluster},
        }])
        .to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (tx, node) = (tx.clone(), node.clone());
                std::thread::spawn(move || serve(stream, &node, &tx));
            }
        });
        StuckEngine { dir, stopping }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("docker.sock").display())
    }
}

/// One connection's requests, in order: the ping and the container list
/// are answered; a stop is announced and then held without an answer.
fn serve(stream: UnixStream, node: &str, stopping: &mpsc::Sender<()>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let answer = if request.contains("/_ping") {
            "OK".to_string()
        } else if request.contains("/containers/json") {
            node.to_string()
        } else {
            let _ = stopping.send(());
            // Held: never answered while the test runs.
            loop {
                std::thread::park();
            }
        };
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn down_keeps_deleting_after_one_ctrl_c_and_stops_at_the_second() {
    let engine = StuckEngine::start("i11c-stuck");
    let mut child = kip(&["down", "i11c-stuck"])
        .env("DOCKER_HOST", engine.host())
        .kubeconfig(&engine.dir.path().join("kubeconfig"))
        .command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = Lines::of(child.stderr.take().unwrap());
    let interrupt = || {
        std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
    };
    engine
        .stopping
        .recv_timeout(Duration::from_secs(30))
        .expect("kip down asks the engine to stop the node");
    interrupt();
    // The first Ctrl-C is taken, not obeyed: kip says it finishes first.
    if let Err(seen) = stderr.wait_for(Duration::from_secs(30), |l| {
        l.contains("finishing the deletion of cluster i11c-stuck")
    }) {
        let _ = child.kill();
        panic!("no word after the first Ctrl-C: {seen}");
    }
    // The second one stops it at once, saying what may be left.
    interrupt();
    let status = exit_by(
        &mut child,
        Duration::from_secs(30),
        "kip down ignored the second Ctrl-C",
    );
    let stderr = stderr.all();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted again: stopping now; cluster i11c-stuck may be half-deleted"),
        "{stderr}"
    );
}
