//! A gate in front of the Docker engine, for the races of issue 22: a kip
//! given `DOCKER_HOST=gate.host()` talks to the real engine through it, and
//! the requests a test names are held there until the test lets them go.
//! So a test puts another command exactly between two of a run's requests
//! (a `kip down` between `up`'s container create and its start), instead of
//! a sleep that happens to hit the moment.
//!
//! Each connection is copied both ways as bytes; a chunk from the client
//! that begins with a request line matching a rule (method and words of the
//! path) waits at the gate. Each rule holds one request, once.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// The engine behind the gate (as kip finds it without `DOCKER_HOST`).
const ENGINE: &str = "/var/run/docker.sock";

/// A request to hold: its method and words its path must contain.
struct Rule {
    method: String,
    words: Vec<String>,
    state: Held,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Waiting,
    Holding,
    Released,
}

#[derive(Default)]
struct Shared {
    rules: Mutex<Vec<Rule>>,
    changed: Condvar,
}

pub struct Gate {
    dir: tempfile::TempDir,
    shared: Arc<Shared>,
}

/// Which rule a [`Gate::hold`] made.
#[derive(Debug, Clone, Copy)]
pub struct RuleId(usize);

impl Gate {
    pub fn open() -> Gate {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("docker.sock")).unwrap();
        let shared = Arc::new(Shared::default());
        let accepting = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let shared = accepting.clone();
                std::thread::spawn(move || connect(client, &shared));
            }
        });
        Gate { dir, shared }
    }

    /// What `DOCKER_HOST` is for a kip that goes through the gate.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    /// Holds the next `method` request whose path contains every word.
    pub fn hold(&self, method: &str, words: &[&str]) -> RuleId {
        let mut rules = self.shared.rules.lock().unwrap();
        rules.push(Rule {
            method: method.to_string(),
            words: words.iter().map(|w| w.to_string()).collect(),
            state: Held::Waiting,
        });
        RuleId(rules.len() - 1)
    }

    /// Waits (up to `limit`) until the rule holds a request; false if it
    /// did not come.
    pub fn holding(&self, rule: RuleId, limit: Duration) -> bool {
        let rules = self.shared.rules.lock().unwrap();
        let (rules, _) = self
            .shared
            .changed
            .wait_timeout_while(rules, limit, |r| r[rule.0].state == Held::Waiting)
            .unwrap();
        rules[rule.0].state == Held::Holding
    }

    /// Lets the rule's request (held or still to come) through.
    pub fn release(&self, rule: RuleId) {
        self.shared.rules.lock().unwrap()[rule.0].state = Held::Released;
        self.shared.changed.notify_all();
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        let mut rules = self.shared.rules.lock().unwrap();
        for rule in rules.iter_mut() {
            rule.state = Held::Released;
        }
        self.shared.changed.notify_all();
    }
}

/// Copies one client connection to the engine and back.
fn connect(client: UnixStream, shared: &Shared) {
    let Ok(engine) = UnixStream::connect(ENGINE) else {
        return;
    };
    let (mut from_engine, mut to_client) =
        (engine.try_clone().unwrap(), client.try_clone().unwrap());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_engine, &mut to_client);
        let _ = to_client.shutdown(std::net::Shutdown::Write);
    });
    let (mut from_client, mut to_engine) = (client, engine);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from_client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        wait_if_held(&buf[..n], shared);
        if to_engine.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to_engine.shutdown(std::net::Shutdown::Write);
}

/// Waits while the request that `chunk` begins is held.
fn wait_if_held(chunk: &[u8], shared: &Shared) {
    let line = chunk.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let Some((method, path)) = line.split_once(' ') else {
        return;
    };
    let mut rules = shared.rules.lock().unwrap();
    let Some(i) = rules.iter().position(|r| {
        r.state == Held::Waiting && r.method == method && r.words.iter().all(|w| path.contains(w))
    }) else {
        return;
    };
    rules[i].state = Held::Holding;
    shared.changed.notify_all();
    let _released = shared
        .changed
        .wait_while(rules, |r| r[i].state == Held::Holding)
        .unwrap();
}
