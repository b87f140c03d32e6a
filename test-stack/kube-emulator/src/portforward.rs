//! `pods/portforward` in the three shapes clients use:
//!
//! - WebSocket with the `SPDY/3.1+portforward.k8s.io` subprotocol (kubectl
//!   since 1.31): SPDY bytes carried in binary messages, a stream pair
//!   (error + data, tied by the `requestid` header) per TCP connection;
//! - a plain `Upgrade: SPDY/3.1` with `X-Stream-Protocol-Version:
//!   portforward.k8s.io` (older kubectl and kubectl's fallback);
//! - WebSocket channels (`v4.channel.k8s.io`, `portforward.k8s.io` or no
//!   subprotocol; kube-rs): the `ports` of the query, two channels each
//!   (2i data, 2i+1 error), each opened by the port as 2 little-endian
//!   bytes; one TCP connection per port per WebSocket.
//!
//! The kubelet dials `localhost:PORT` inside the pod's network namespace;
//! the emulator dials the pod's IP on its Docker network, so a server bound
//! to 127.0.0.1 only inside the pod is not reachable here.

use crate::exec::{read_message, websocket_accept, write_frame};
use crate::server::{status_error, Body};
use crate::spdy::{self, Frame};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinSet;

const SPDY_OVER_WS: &str = "SPDY/3.1+portforward.k8s.io";
const CHANNEL_PROTOCOLS: [&str; 2] = ["v4.channel.k8s.io", "portforward.k8s.io"];
const CHUNK: usize = 32 * 1024;

/// The pod a port-forward reaches, and how errors name it.
#[derive(Clone)]
pub struct PodTarget {
    pub ip: String,
    pub name: String,
    pub uid: String,
    /// Finds a process in the pod's network namespace, so that ports are
    /// dialled on the pod's localhost as a kubelet does (as root).
    pub runtime: Option<Arc<crate::runtime::Runtime>>,
}

impl PodTarget {
    async fn dial(&self, port: u16) -> Result<TcpStream, String> {
        let fail = |to: &str, e: String| {
            format!(
                "error forwarding port {port} to pod {}, uid {}: failed to connect to {to} inside the pod's network namespace: {e}",
                self.name, self.uid
            )
        };
        let Some(rt) = self.runtime.as_ref().filter(|rt| rt.dials_in_pods) else {
            // Not root: the pod's own address is the next best thing.
            let addr = format!("{}:{port}", self.ip);
            return match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(&addr))
                .await
            {
                Ok(Ok(tcp)) => {
                    let _ = tcp.set_nodelay(true);
                    Ok(tcp)
                }
                Ok(Err(e)) => Err(fail(&addr, e.to_string())),
                Err(_) => Err(fail(&addr, "timed out".into())),
            };
        };
        let Some(pid) = rt.netns_pid(&self.uid).await else {
            return Err(fail("localhost", "the pod has no running container".into()));
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        // A thread of its own: setns changes the calling thread's network
        // namespace, and the thread ends with the connection made.
        std::thread::spawn(move || {
            let _ = tx.send(connect_in_netns(pid, port));
        });
        let to = format!("localhost:{port}");
        let tcp = rx
            .await
            .map_err(|_| fail(&to, "the dialling thread died".into()))?
            .and_then(TcpStream::from_std)
            .map_err(|e| fail(&to, e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        Ok(tcp)
    }
}

/// Connects to 127.0.0.1:`port` in the network namespace of `pid`.
fn connect_in_netns(pid: u32, port: u16) -> std::io::Result<std::net::TcpStream> {
    use std::os::fd::AsRawFd;
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))?;
    // SAFETY: setns on a valid namespace descriptor; it moves only this
    // thread, which exists for this one connection.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let addr = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port));
    let tcp = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    tcp.set_nonblocking(true)?;
    Ok(tcp)
}

enum Mode {
    SpdyOverWs,
    Channels(&'static str),
    Spdy,
}

/// Answers the upgrade (or refuses it with a `Status`) and serves the
/// session on the upgraded connection.
pub fn upgrade(
    req: Request<Incoming>,
    held: crate::server::Held,
    pod: PodTarget,
    ports: Vec<u16>,
) -> Response<Body> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let ws_key = header("sec-websocket-key");
    let mode = if ws_key.is_some() {
        let offered = header("sec-websocket-protocol").unwrap_or_default();
        let offered: Vec<&str> = offered
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        let chosen = offered.iter().find_map(|o| {
            if *o == SPDY_OVER_WS {
                Some(Mode::SpdyOverWs)
            } else {
                CHANNEL_PROTOCOLS
                    .iter()
                    .find(|p| *p == o)
                    .map(|p| Mode::Channels(p))
            }
        });
        match chosen {
            Some(mode) => mode,
            None if offered.is_empty() => Mode::Channels(""),
            None => {
                return status_error(
                    400,
                    "BadRequest",
                    &format!(
                        "no port-forward subprotocol in {offered:?}: the server speaks {SPDY_OVER_WS}, {}",
                        CHANNEL_PROTOCOLS.join(", ")
                    ),
                    None,
                )
            }
        }
    } else if header("upgrade").is_some_and(|u| u.eq_ignore_ascii_case("SPDY/3.1")) {
        let versions = header("x-stream-protocol-version").unwrap_or_default();
        if !versions
            .split(',')
            .any(|v| v.trim() == "portforward.k8s.io")
        {
            return status_error(
                400,
                "BadRequest",
                &format!("unable to upgrade: X-Stream-Protocol-Version {versions:?} does not offer portforward.k8s.io"),
                None,
            );
        }
        Mode::Spdy
    } else {
        return status_error(
            400,
            "BadRequest",
            "Upgrade request required: pods/portforward needs Upgrade: websocket or SPDY/3.1",
            None,
        );
    };
    if matches!(mode, Mode::Channels(_)) && ports.is_empty() {
        return status_error(
            400,
            "BadRequest",
            "query parameter \"ports\" is required for port-forward over WebSocket channels",
            None,
        );
    }
    let mut response = Response::builder().status(StatusCode::SWITCHING_PROTOCOLS);
    response = match (&mode, &ws_key) {
        (Mode::Spdy, _) => response
            .header("Connection", "Upgrade")
            .header("Upgrade", "SPDY/3.1")
            .header("X-Stream-Protocol-Version", "portforward.k8s.io"),
        (mode, Some(key)) => {
            let r = response
                .header("Upgrade", "websocket")
                .header("Connection", "Upgrade")
                .header("Sec-WebSocket-Accept", websocket_accept(key));
            match mode {
                Mode::SpdyOverWs => r.header("Sec-WebSocket-Protocol", SPDY_OVER_WS),
                Mode::Channels(p) if !p.is_empty() => r.header("Sec-WebSocket-Protocol", *p),
                _ => r,
            }
        }
        (_, None) => unreachable!("WebSocket modes have a key"),
    };
    tokio::spawn(async move {
        let _held = held;
        let Ok(upgraded) = hyper::upgrade::on(req).await else {
            return;
        };
        let io = TokioIo::new(upgraded);
        let _ = match mode {
            Mode::Spdy => spdy_session(io, pod).await,
            Mode::SpdyOverWs => spdy_over_websocket(io, pod).await,
            Mode::Channels(_) => channel_session(io, pod, ports).await,
        };
    });
    response
        .body(BodyExt::boxed(Empty::new().map_err(|never| match never {})))
        .expect("a valid response")
}

/// Turns the WebSocket into the byte stream the SPDY session reads and
/// writes: each binary message's payload in, each write out as a message.
async fn spdy_over_websocket(
    io: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    pod: PodTarget,
) -> anyhow::Result<()> {
    let (mut ws_read, mut ws_write) = tokio::io::split(io);
    let (ours, theirs) = tokio::io::duplex(4 * CHUNK);
    let (mut from_spdy, mut to_spdy) = tokio::io::split(ours);
    let inbound = async move {
        while let Ok(Some((opcode, payload))) = read_message(&mut ws_read).await {
            if opcode == 0x8
                || (matches!(opcode, 0x1 | 0x2) && to_spdy.write_all(&payload).await.is_err())
            {
                break;
            }
        }
        let _ = to_spdy.shutdown().await;
    };
    let outbound = async move {
        let mut buf = vec![0u8; 2 * CHUNK];
        loop {
            match from_spdy.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if write_frame(&mut ws_write, 0x2, &buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = write_frame(&mut ws_write, 0x8, &[0x03, 0xe8]).await;
        let _ = ws_write.shutdown().await;
    };
    let session = spdy_session(theirs, pod);
    let (_, _, result) = tokio::join!(inbound, outbound, session);
    result
}

/// What the SPDY session's writer sends, in order.
enum Out {
    Reply(u32),
    Data(u32, bool, Bytes),
    Reset(u32, u32),
    Ping(u32),
}

/// Client → pod bytes of one data stream; `None` is the client's FIN.
type Inbound = mpsc::Sender<Option<Bytes>>;

#[derive(Default)]
struct Pair {
    error: Option<u32>,
    data: Option<(u32, u16, mpsc::Receiver<Option<Bytes>>)>,
}

async fn spdy_session(
    io: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    pod: PodTarget,
) -> anyhow::Result<()> {
    let (read, mut write) = tokio::io::split(io);
    let (out, mut out_rx) = mpsc::channel::<Out>(256);
    let writer = tokio::spawn(async move {
        let mut frames = spdy::Writer::default();
        while let Some(first) = out_rx.recv().await {
            // Gather what is queued into one write.
            let mut batch = Vec::new();
            let mut next = Some(first);
            while let Some(item) = next {
                batch.extend(match item {
                    Out::Reply(stream) => frames.syn_reply(stream),
                    Out::Data(stream, fin, bytes) => spdy::Writer::data(stream, fin, &bytes),
                    Out::Reset(stream, status) => spdy::Writer::rst_stream(stream, status),
                    Out::Ping(id) => spdy::Writer::ping(id),
                });
                next = if batch.len() < 4 * CHUNK {
                    out_rx.try_recv().ok()
                } else {
                    None
                };
            }
            if write.write_all(&batch).await.is_err() || write.flush().await.is_err() {
                return;
            }
        }
        let _ = write.shutdown().await;
    });
    let mut reader = spdy::Reader::new(read);
    let mut inbound: HashMap<u32, Inbound> = HashMap::new();
    let mut pairs: HashMap<String, Pair> = HashMap::new();
    let mut connections = JoinSet::new();
    let result = loop {
        let frame = match reader.next().await {
            Ok(Some(frame)) => frame,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        match frame {
            Frame::SynStream { stream, headers } => {
                let get = |name: &str| {
                    headers
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.clone())
                };
                let port = get("port").and_then(|p| p.parse::<u16>().ok());
                let (Some(kind), Some(port)) = (get("streamtype"), port) else {
                    let _ = out.send(Out::Reset(stream, spdy::PROTOCOL_ERROR)).await;
                    continue;
                };
                let _ = out.send(Out::Reply(stream)).await;
                let request = get("requestid").unwrap_or_default();
                let pair = pairs.entry(request.clone()).or_default();
                match kind.as_str() {
                    "error" => pair.error = Some(stream),
                    "data" => {
                        let (tx, rx) = mpsc::channel(64);
                        inbound.insert(stream, tx);
                        pair.data = Some((stream, port, rx));
                    }
                    _ => {
                        let _ = out.send(Out::Reset(stream, spdy::REFUSED_STREAM)).await;
                        continue;
                    }
                }
                if pair.error.is_some() && pair.data.is_some() {
                    let pair = pairs.remove(&request).expect("just seen");
                    let (data, port, rx) = pair.data.expect("checked");
                    let error = pair.error.expect("checked");
                    connections.spawn(spdy_connection(
                        pod.clone(),
                        port,
                        error,
                        data,
                        rx,
                        out.clone(),
                    ));
                }
            }
            Frame::Data { stream, fin, data } => {
                if let Some(tx) = inbound.get(&stream) {
                    if !data.is_empty() && tx.send(Some(Bytes::from(data))).await.is_err() {
                        inbound.remove(&stream);
                        continue;
                    }
                    if fin {
                        let _ = tx.send(None).await;
                        inbound.remove(&stream);
                    }
                }
            }
            Frame::RstStream { stream } => {
                // Dropping the sender without a FIN resets the connection.
                inbound.remove(&stream);
            }
            Frame::Ping { id } => {
                let _ = out.send(Out::Ping(id)).await;
            }
            Frame::GoAway => break Ok(()),
            Frame::SynReply { .. } | Frame::Ignored => {}
        }
    };
    drop(inbound);
    connections.abort_all();
    drop(out);
    let _ = writer.await;
    result
}

/// One forwarded TCP connection over a SPDY stream pair.
async fn spdy_connection(
    pod: PodTarget,
    port: u16,
    error: u32,
    data: u32,
    mut from_client: mpsc::Receiver<Option<Bytes>>,
    out: mpsc::Sender<Out>,
) {
    let tcp = match pod.dial(port).await {
        Ok(tcp) => tcp,
        Err(message) => {
            let _ = out.send(Out::Data(error, false, message.into())).await;
            let _ = out.send(Out::Data(error, true, Bytes::new())).await;
            let _ = out.send(Out::Data(data, true, Bytes::new())).await;
            return;
        }
    };
    let (mut tcp_read, mut tcp_write) = tcp.into_split();
    // Client → pod; `false` when the client reset the stream or went away.
    let to_pod = tokio::spawn(async move {
        loop {
            match from_client.recv().await {
                Some(Some(bytes)) => {
                    if tcp_write.write_all(&bytes).await.is_err() {
                        return false;
                    }
                }
                // The client's FIN: half-close toward the pod.
                Some(None) => {
                    let _ = tcp_write.shutdown().await;
                    return true;
                }
                None => return false,
            }
        }
    });
    let abort = to_pod.abort_handle();
    let from_pod = async {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match tcp_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let chunk = Bytes::copy_from_slice(&buf[..n]);
                    if out.send(Out::Data(data, false, chunk)).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = out.send(Out::Data(data, true, Bytes::new())).await;
    };
    tokio::select! {
        // The pod's side ending ends the pair.
        () = from_pod => {}
        // A reset from the client drops the connection at once.
        Ok(false) = to_pod => {
            let _ = out.send(Out::Data(data, true, Bytes::new())).await;
        }
    }
    abort.abort();
    let _ = out.send(Out::Data(error, true, Bytes::new())).await;
}

/// kube-rs's shape: channels over one WebSocket, one connection per port.
async fn channel_session(
    io: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    pod: PodTarget,
    ports: Vec<u16>,
) -> anyhow::Result<()> {
    let (mut ws_read, ws_write) = tokio::io::split(io);
    let ws_write = Arc::new(Mutex::new(ws_write));
    let send = {
        let ws_write = ws_write.clone();
        move |channel: u8, bytes: &[u8]| {
            let ws_write = ws_write.clone();
            let mut payload = Vec::with_capacity(bytes.len() + 1);
            payload.push(channel);
            payload.extend_from_slice(bytes);
            async move { write_frame(&mut *ws_write.lock().await, 0x2, &payload).await }
        }
    };
    for (i, port) in ports.iter().enumerate() {
        let channel = u8::try_from(2 * i + 1).map_err(|_| anyhow::anyhow!("too many ports"))?;
        send(channel - 1, &port.to_le_bytes()).await?;
        send(channel, &port.to_le_bytes()).await?;
    }
    let mut to_pods = Vec::new();
    let mut from_pods = JoinSet::new();
    for (i, port) in ports.iter().copied().enumerate() {
        let (tx, mut rx) = mpsc::channel::<Bytes>(64);
        to_pods.push(tx);
        let channel = (2 * i) as u8;
        let send = send.clone();
        let pod = pod.clone();
        from_pods.spawn(async move {
            let tcp = match pod.dial(port).await {
                Ok(tcp) => tcp,
                Err(message) => {
                    let _ = send(channel + 1, message.as_bytes()).await;
                    return;
                }
            };
            let (mut tcp_read, mut tcp_write) = tcp.into_split();
            tokio::spawn(async move {
                while let Some(bytes) = rx.recv().await {
                    if tcp_write.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                let _ = tcp_write.shutdown().await;
            });
            let mut buf = vec![0u8; CHUNK];
            loop {
                match tcp_read.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if send(channel, &buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
    let from_client = async {
        while let Ok(Some((opcode, payload))) = read_message(&mut ws_read).await {
            match opcode {
                0x8 => break,
                0x2 if payload.len() > 1 && payload[0] % 2 == 0 => {
                    let index = usize::from(payload[0] / 2);
                    if let Some(tx) = to_pods.get(index) {
                        let _ = tx.send(Bytes::copy_from_slice(&payload[1..])).await;
                    }
                }
                _ => {}
            }
        }
    };
    let all_pods_done = async { while from_pods.join_next().await.is_some() {} };
    tokio::select! {
        () = from_client => {}
        () = all_pods_done => {}
    }
    let mut w = ws_write.lock().await;
    let _ = write_frame(&mut *w, 0x8, &[0x03, 0xe8]).await;
    let _ = w.shutdown().await;
    Ok(())
}
