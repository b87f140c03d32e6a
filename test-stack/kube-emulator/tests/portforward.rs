//! `pods/portforward` driven by the real kubectl, in both of its shapes:
//! SPDY tunnelled in a WebSocket (kubectl's default since 1.31) and the plain
//! SPDY upgrade (KUBECTL_PORT_FORWARD_WEBSOCKETS=false). Needs Docker,
//! kubectl and the test node image; under KIP_E2E=1 (CI) their absence is a
//! failure, otherwise each test says why it skips.

mod common;

use common::{Harness, IMAGE};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

fn echo_pod(p: &Harness, name: &str) {
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: {IMAGE}\n    command: [kind, kip-test-tcp-echo, \"8080\"]\n    readinessProbe:\n      tcpSocket: {{port: 8080}}\n      periodSeconds: 1\n"
    );
    let out = p.apply(&yaml, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    p.ok(&[
        "wait",
        "--for=condition=Ready",
        &format!("pod/{name}"),
        "--timeout=30s",
    ]);
}

/// A running `kubectl port-forward`, killed on drop.
struct Forward {
    child: Child,
    local: u16,
}

impl Drop for Forward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `kubectl port-forward pod/POD :REMOTE` and reads the local port
/// it chose off its first line.
fn forward(p: &Harness, pod: &str, remote: u16, websockets: bool) -> Forward {
    let mut child = p
        .cmd(&["port-forward", &format!("pod/{pod}"), &format!(":{remote}")])
        .env(
            "KUBECTL_PORT_FORWARD_WEBSOCKETS",
            if websockets { "true" } else { "false" },
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    // kubectl goes on writing ("Handling connection for …"); keep reading
    // so that a closed pipe does not end it.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    // "Forwarding from 127.0.0.1:41234 -> 8080"
    let local = line
        .split_whitespace()
        .nth(2)
        .and_then(|addr| addr.rsplit(':').next())
        .and_then(|port| port.parse().ok());
    let Some(local) = local else {
        let mut err = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        panic!("kubectl port-forward said {line:?}; stderr: {err}");
    };
    Forward { child, local }
}

/// Sends `lines` on one connection and checks each echo. The pod sees the
/// connection come from `peer`: 127.0.0.1 as root, because a kubelet dials
/// the port on the pod's own localhost (a server bound to 127.0.0.1 is
/// reachable, one bound only to the pod IP is not).
fn round_trip(local: u16, peer: &str, lines: &[String]) {
    let tcp = TcpStream::connect(("127.0.0.1", local)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut reader = BufReader::new(tcp.try_clone().unwrap());
    let mut writer = tcp;
    for line in lines {
        writer.write_all(format!("{line}\n").as_bytes()).unwrap();
        let mut answer = String::new();
        reader.read_line(&mut answer).unwrap();
        assert!(
            answer == format!("echo: {line} from {peer}\n"),
            "sent {} bytes, got {:?}…",
            line.len(),
            &answer[..answer.len().min(80)]
        );
    }
}

fn concurrent_round_trips(local: u16, peer: &str) {
    // Eight connections at once, each with a short line and a line of
    // 512 KiB (many SPDY data frames and WebSocket messages per direction).
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let peer = peer.to_string();
            std::thread::spawn(move || {
                let big: String = (0..512 * 1024)
                    .map(|j| char::from(b'a' + ((i + j) % 26) as u8))
                    .collect();
                round_trip(
                    local,
                    &peer,
                    &[format!("hello {i}"), big, format!("bye {i}")],
                );
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn kubectl_port_forward_over_websocket_and_spdy() {
    let Some(p) = Harness::start(true) else {
        return;
    };
    echo_pod(&p, "echo");
    let peer = p.emulator().port_forward_peer().unwrap();
    for websockets in [true, false] {
        let f = forward(&p, "echo", 8080, websockets);
        concurrent_round_trips(f.local, &peer);
        // A second wave on the same kubectl: streams are per connection.
        round_trip(f.local, &peer, &["again".into()]);
    }
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_closed_port_is_an_error_on_the_error_stream() {
    let Some(p) = Harness::start(true) else {
        return;
    };
    echo_pod(&p, "echo");
    let mut f = forward(&p, "echo", 9999, true);
    let mut tcp = TcpStream::connect(("127.0.0.1", f.local)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut got = Vec::new();
    // The pod refuses, so kubectl closes the local connection...
    let _ = tcp.read_to_end(&mut got);
    assert!(got.is_empty());
    // ...and, as kubectl does on an error from the pod, gives up.
    let status = f.child.wait().unwrap();
    assert!(!status.success());
    let mut err = String::new();
    f.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        err.contains("error forwarding port 9999 to pod echo")
            && err.contains("Connection refused")
            && err.contains("lost connection to pod"),
        "{err}"
    );
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn port_forward_needs_pods_portforward() {
    let Some(p) = Harness::start(true) else {
        return;
    };
    echo_pod(&p, "echo");
    p.emulator()
        .set_rbac(Some(vec![kip_test_kube_emulator::Rule {
            verbs: vec!["*".into()],
            resources: vec!["pods".into()],
            namespaces: vec![],
        }]));
    let out = p
        .cmd(&["port-forward", "pod/echo", ":8080"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("User \"kip-test\" cannot create resource \"pods/portforward\" in API group \"\" in the namespace \"default\""),
        "{stderr}"
    );
}
