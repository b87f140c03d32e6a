//! `pods/exec` over WebSocket with the channel subprotocols kubectl and
//! kube-rs speak (`v5.channel.k8s.io`, `v4.channel.k8s.io`): one byte of
//! channel (0 stdin, 1 stdout, 2 stderr, 3 status, 4 resize, 255 close in
//! v5) in front of every binary message, the command's exit code carried in
//! a `Status` on channel 3. The command runs with `docker exec` in the pod's
//! container.

use crate::server::{status_error, Body};
use base64::{engine::general_purpose::STANDARD, Engine};
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::Docker;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

pub struct ExecRequest {
    pub docker: Docker,
    pub container_id: String,
    pub command: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// Answers the upgrade and runs the session on the upgraded connection.
pub fn upgrade(req: Request<Incoming>, exec: ExecRequest) -> Response<Body> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let Some(key) = header("sec-websocket-key") else {
        return status_error(
            400,
            "BadRequest",
            "the emulator serves exec over WebSocket only (Upgrade: websocket); SPDY is not emulated",
            None,
        );
    };
    let offered = header("sec-websocket-protocol").unwrap_or_default();
    let Some(protocol) = PROTOCOLS
        .iter()
        .find(|p| offered.split(',').any(|o| o.trim() == **p))
    else {
        return status_error(
            400,
            "BadRequest",
            &format!("no supported subprotocol in {offered:?}"),
            None,
        );
    };
    let accept = websocket_accept(&key);
    let v5 = *protocol == PROTOCOLS[0];
    tokio::spawn(async move {
        if let Ok(upgraded) = hyper::upgrade::on(req).await {
            let _ = session(TokioIo::new(upgraded), exec, v5).await;
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Accept", accept)
        .header("Sec-WebSocket-Protocol", *protocol)
        .body(BodyExt::boxed(Empty::new().map_err(|never| match never {})))
        .expect("a valid response")
}

/// The `Sec-WebSocket-Accept` answer to a client's key (RFC 6455 §4.2.2).
pub fn websocket_accept(key: &str) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    STANDARD.encode(sha.digest().bytes())
}

async fn session(
    io: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    exec: ExecRequest,
    v5: bool,
) -> anyhow::Result<()> {
    let (mut reader, writer) = tokio::io::split(io);
    let writer = std::sync::Arc::new(tokio::sync::Mutex::new(writer));
    let created = exec
        .docker
        .create_exec(
            &exec.container_id,
            CreateExecOptions {
                cmd: Some(exec.command.clone()),
                attach_stdin: Some(exec.stdin),
                attach_stdout: Some(exec.stdout),
                attach_stderr: Some(exec.stderr),
                ..Default::default()
            },
        )
        .await;
    let created = match created {
        Ok(c) => c,
        Err(e) => {
            let status = json!({"metadata": {}, "status": "Failure", "message": format!("cannot exec: {e}"), "reason": "InternalError"});
            send(&writer, 3, status.to_string().as_bytes()).await?;
            return close(&writer).await;
        }
    };
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = exec.docker.start_exec(&created.id, None).await?
    else {
        anyhow::bail!("exec did not attach");
    };
    // Client → stdin.
    #[allow(clippy::collapsible_match)]
    let stdin_task = tokio::spawn(async move {
        while let Ok(Some((opcode, payload))) = read_message(&mut reader).await {
            match opcode {
                0x8 => break,
                0x2 | 0x1 if !payload.is_empty() => match payload[0] {
                    0 => {
                        if input.write_all(&payload[1..]).await.is_err() {
                            break;
                        }
                    }
                    255 if v5 && payload.get(1) == Some(&0) => {
                        let _ = input.shutdown().await;
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        let _ = input.shutdown().await;
    });
    // stdout/stderr → client.
    while let Some(chunk) = output.next().await {
        let (channel, bytes) = match chunk? {
            bollard::container::LogOutput::StdErr { message } => (2, message),
            other => (1, other.into_bytes()),
        };
        send(&writer, channel, &bytes).await?;
    }
    let code = exit_code(&exec.docker, &created.id).await;
    let status = if code == 0 {
        json!({"metadata": {}, "status": "Success"})
    } else {
        json!({"metadata": {}, "status": "Failure",
            "message": format!("command terminated with non-zero exit code: error executing command {:?}, exit code {code}", exec.command),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}})
    };
    send(&writer, 3, status.to_string().as_bytes()).await?;
    close(&writer).await?;
    stdin_task.abort();
    Ok(())
}

type Writer<W> = std::sync::Arc<tokio::sync::Mutex<tokio::io::WriteHalf<W>>>;

async fn send<W: AsyncWrite>(writer: &Writer<W>, channel: u8, bytes: &[u8]) -> anyhow::Result<()> {
    let mut payload = Vec::with_capacity(bytes.len() + 1);
    payload.push(channel);
    payload.extend_from_slice(bytes);
    write_frame(&mut *writer.lock().await, 0x2, &payload).await
}

async fn close<W: AsyncWrite>(writer: &Writer<W>) -> anyhow::Result<()> {
    // 1000: normal closure.
    write_frame(&mut *writer.lock().await, 0x8, &[0x03, 0xe8]).await
}

/// One unmasked frame, as a server sends them.
pub async fn write_frame(
    w: &mut (impl AsyncWrite + Unpin),
    opcode: u8,
    payload: &[u8],
) -> anyhow::Result<()> {
    let mut head = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => head.push(n as u8),
        n if n <= 0xffff => {
            head.push(126);
            head.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            head.push(127);
            head.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    w.write_all(&head).await?;
    w.write_all(payload).await?;
    w.flush().await?;
    Ok(())
}

/// One whole message from the client (masked frames, continuations joined).
pub async fn read_message(
    r: &mut (impl AsyncRead + Unpin),
) -> anyhow::Result<Option<(u8, Vec<u8>)>> {
    let mut message = Vec::new();
    let mut first_opcode = None;
    loop {
        let mut head = [0u8; 2];
        if r.read_exact(&mut head).await.is_err() {
            return Ok(None);
        }
        let fin = head[0] & 0x80 != 0;
        let opcode = head[0] & 0x0f;
        let masked = head[1] & 0x80 != 0;
        let mut len = u64::from(head[1] & 0x7f);
        if len == 126 {
            let mut b = [0u8; 2];
            r.read_exact(&mut b).await?;
            len = u64::from(u16::from_be_bytes(b));
        } else if len == 127 {
            let mut b = [0u8; 8];
            r.read_exact(&mut b).await?;
            len = u64::from_be_bytes(b);
        }
        let mut mask = [0u8; 4];
        if masked {
            r.read_exact(&mut mask).await?;
        }
        let mut payload = vec![0u8; usize::try_from(len)?];
        r.read_exact(&mut payload).await?;
        if masked {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
        }
        if opcode >= 0x8 && first_opcode.is_none() {
            // A control frame on its own.
            return Ok(Some((opcode, payload)));
        }
        if opcode >= 0x8 {
            continue;
        }
        first_opcode.get_or_insert(opcode);
        message.extend_from_slice(&payload);
        if fin {
            return Ok(first_opcode.map(|op| (op, message)));
        }
    }
}

/// An exec's exit code, once the engine reports it finished (it may still
/// say running for a moment after the output ends); -1 if it never does.
pub async fn exit_code(docker: &Docker, exec_id: &str) -> i64 {
    for _ in 0..100 {
        if let Ok(inspect) = docker.inspect_exec(exec_id).await {
            if inspect.running != Some(true) {
                if let Some(code) = inspect.exit_code {
                    return code;
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    -1
}
