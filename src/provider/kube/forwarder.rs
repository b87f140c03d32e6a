//! The supervised port-forward of a remote cluster (`--endpoint forwarded`):
//! a detached `kip forwarder` process that listens on 127.0.0.1 and opens
//! one port-forward WebSocket to the node Pod per accepted connection, so a
//! dropped stream costs one connection and the next one reconnects. `up`
//! and `connect` start it, `down` stops it; its pid and port live in kip's
//! state directory (`provider::remote_state`).

use crate::error::Error;
use crate::names;
use crate::node::kind_config::NODE_API_PORT;
use crate::provider::remote_state::{ForwarderRecord, RemoteRecord, RemoteState};
use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use std::time::Duration;
use tokio::net::TcpListener;

const READY_LINE: &str = "kip-forwarder: listening on 127.0.0.1:";

/// `kip forwarder NAME --port P [--pod POD]`: serves `cluster`'s node Pod
/// (`pod`, or `kip-NAME`), found through `pods`, on `port` until killed.
pub async fn serve(pods: Api<Pod>, (cluster, pod): (&str, Option<&str>), port: u16) -> Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    let port = listener.local_addr()?.port();
    eprintln!("{READY_LINE}{port}");
    let pod = pod.map_or_else(|| names::node_name(cluster), String::from);
    loop {
        let (mut tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("kip-forwarder: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let pods = pods.clone();
        let pod = pod.clone();
        tokio::spawn(async move {
            let mut forward = match pods.portforward(&pod, &[NODE_API_PORT]).await {
                Ok(forward) => forward,
                Err(e) => {
                    eprintln!("kip-forwarder: {peer}: cannot open a port-forward to {pod}: {e}");
                    return;
                }
            };
            let Some(mut stream) = forward.take_stream(NODE_API_PORT) else {
                return;
            };
            if let Err(e) = tokio::io::copy_bidirectional(&mut tcp, &mut stream).await {
                eprintln!("kip-forwarder: {peer}: {e}");
            }
            drop(stream);
            let _ = forward.join().await;
        });
    }
}

/// Starts `kip forwarder` detached (its own session, output to its log in
/// the state directory) for the target `target` records, and waits until it
/// listens.
pub async fn spawn(
    (cluster, pod): (&str, &str),
    port: u16,
    target: &RemoteRecord,
    state: &RemoteState,
) -> Result<ForwarderRecord> {
    use std::os::unix::process::CommandExt;
    let log_path = state.log_path(cluster);
    std::fs::create_dir_all(state.dir())?;
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot write {}", log_path.display()))?;
    let mut cmd = command(cluster, port, target)?;
    cmd.arg("--pod").arg(pod);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log);
    // SAFETY: setsid is async-signal-safe; it detaches the forwarder from
    // the terminal's process group so Ctrl-C on `kip up` does not end it.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let child = cmd.spawn().context("cannot start kip's forwarder")?;
    listening(child, &log_path).await
}

/// `kip forwarder CLUSTER --port PORT --remote …` for the target `target`
/// records.
fn command(cluster: &str, port: u16, target: &RemoteRecord) -> Result<std::process::Command> {
    let mut cmd = std::process::Command::new(
        std::env::current_exe().context("cannot find kip's own executable")?,
    );
    cmd.arg("forwarder")
        .arg(cluster)
        .arg("--port")
        .arg(port.to_string())
        .arg("--remote")
        .arg("--namespace")
        .arg(&target.namespace);
    if let Some(context) = &target.context {
        cmd.arg("--context").arg(context);
    }
    if let Some(path) = &target.kubeconfig {
        cmd.arg("--kubeconfig").arg(path);
    }
    Ok(cmd)
}

/// Waits (10 s at most) until the forwarder `child` says in its log that
/// it listens; its pid and port.
async fn listening(
    mut child: std::process::Child,
    log_path: &std::path::Path,
) -> Result<ForwarderRecord> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log_path).unwrap_or_default();
        if let Some(port) = text
            .lines()
            .find_map(|l| l.strip_prefix(READY_LINE))
            .and_then(|p| p.trim().parse().ok())
        {
            return Ok(ForwarderRecord {
                pid: child.id(),
                port,
            });
        }
        if let Some(status) = child.try_wait()? {
            return Err(Error::ForwarderExited {
                status: status.to_string(),
                log: text.trim().to_string(),
            }
            .into());
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            return Err(Error::ForwarderSilent {
                log: text.trim().to_string(),
            }
            .into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether `pid` is a running kip forwarder (not a recycled pid).
pub fn alive(pid: u32) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let is_forwarder = cmdline.split(|b| *b == 0).any(|arg| arg == b"forwarder");
    // A zombie (exited, not yet reaped) keeps its cmdline empty.
    is_forwarder
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(") ")
                    .and_then(|(_, rest)| rest.chars().next())
            })
            .is_some_and(|state| state != 'Z')
}

/// Stops a forwarder and waits (up to 2 s) for it to go.
pub fn stop(pid: u32) {
    if !alive(pid) {
        return;
    }
    let Ok(pid_t) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: sending a signal to a process we checked is our forwarder.
    unsafe {
        libc::kill(pid_t, libc::SIGTERM);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while alive(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}
