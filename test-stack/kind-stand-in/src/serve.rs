//! The stand-in control plane: HTTP/1.1 over TLS on the API port. Health and
//! version endpoints answer anyone (as a real API server's public-info-viewer
//! role allows); everything else needs a client certificate signed by the
//! cluster CA, so a kubeconfig that lost its user credentials fails here as it
//! would against a real cluster.

use anyhow::{Context, Result};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::rustls::{self, server::WebPkiClientVerifier, RootCertStore};
use tokio_rustls::TlsAcceptor;

pub fn run(dir: &Path, port: u16) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(dir, port))
}

async fn serve(dir: &Path, port: u16) -> Result<()> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ca: Vec<CertificateDer> =
        CertificateDer::pem_file_iter(dir.join("ca.crt"))?.collect::<Result<_, _>>()?;
    let mut roots = RootCertStore::empty();
    for cert in &ca {
        roots.add(cert.clone())?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()?;
    let chain: Vec<CertificateDer> =
        CertificateDer::pem_file_iter(dir.join("apiserver.crt"))?.collect::<Result<_, _>>()?;
    let key = PrivateKeyDer::from_pem_file(dir.join("apiserver.key"))?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(("0.0.0.0", port))
        .await
        .context("cannot listen")?;
    eprintln!("kip test stand-in control plane serving on :{port}");
    loop {
        let (tcp, _) = listener.accept().await?;
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            if let Ok(tls) = acceptor.accept(tcp).await {
                let _ = handle(tls).await;
            }
        });
    }
}

/// Accepts TCP connections on `port` forever, one task per connection.
fn serve_tcp<F, Fut>(port: u16, what: &str, handler: F) -> Result<()>
where
    F: Fn(tokio::net::TcpStream, std::net::SocketAddr) -> Fut,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let listener = TcpListener::bind(("0.0.0.0", port))
            .await
            .context("cannot listen")?;
        eprintln!("kip test {what} on :{port}");
        loop {
            let (tcp, peer) = listener.accept().await?;
            tokio::task::spawn_local(handler(tcp, peer));
        }
    })
}

/// Echoes every line back with the address it came from, so a test can see
/// whether the client's traffic was masqueraded.
pub fn echo(port: u16) -> Result<()> {
    serve_tcp(port, "echo server", |tcp, peer| async move {
        let (read, mut write) = tcp.into_split();
        let mut lines = BufReader::new(read).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let answer = format!("echo: {line} from {}\n", peer.ip());
            if write.write_all(answer.as_bytes()).await.is_err() {
                break;
            }
        }
    })
}

/// Per connection: a byte count on a line in, that many bytes out.
pub fn bytes(port: u16) -> Result<()> {
    serve_tcp(port, "byte source", |tcp, _| async move {
        let (read, mut write) = tcp.into_split();
        let mut line = String::new();
        if BufReader::new(read).read_line(&mut line).await.is_err() {
            return;
        }
        let Ok(mut left) = line.trim().parse::<u64>() else {
            let _ = write.write_all(b"want a byte count\n").await;
            return;
        };
        let block: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            if write.write_all(&block[..n]).await.is_err() {
                return;
            }
            left -= n as u64;
        }
        let _ = write.shutdown().await;
    })
}

async fn handle(tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>) -> Result<()> {
    let authenticated = tls
        .get_ref()
        .1
        .peer_certificates()
        .is_some_and(|c| !c.is_empty());
    let mut stream = BufReader::new(tls);
    loop {
        let mut request_line = String::new();
        if stream.read_line(&mut request_line).await? == 0 {
            return Ok(());
        }
        let mut close = false;
        loop {
            let mut header = String::new();
            if stream.read_line(&mut header).await? == 0 {
                return Ok(());
            }
            if header == "\r\n" || header == "\n" {
                break;
            }
            if header.to_ascii_lowercase().starts_with("connection: close") {
                close = true;
            }
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("/");
        let path = path.split('?').next().unwrap_or(path);
        let (status, body) = route(path, authenticated);
        let content_type = if body.starts_with('{') {
            "application/json"
        } else {
            "text/plain"
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.get_mut().write_all(response.as_bytes()).await?;
        stream.get_mut().flush().await?;
        if close {
            return Ok(());
        }
    }
}

fn route(path: &str, authenticated: bool) -> (&'static str, String) {
    match path {
        "/readyz" | "/healthz" | "/livez" => ("200 OK", "ok".into()),
        "/version" => ("200 OK", serde_json::json!({
            "major": "1", "minor": "33", "gitVersion": crate::SERVER_VERSION,
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24", "compiler": "gc",
            "platform": "linux/amd64"
        }).to_string()),
        _ if !authenticated => ("401 Unauthorized", serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Unauthorized", "reason": "Unauthorized", "code": 401
        }).to_string()),
        "/api" => ("200 OK", serde_json::json!({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]
        }).to_string()),
        "/apis" => ("200 OK", serde_json::json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []}).to_string()),
        "/api/v1" => ("200 OK", serde_json::json!({
            "kind": "APIResourceList", "groupVersion": "v1",
            "resources": [{"name": "nodes", "singularName": "node", "namespaced": false, "kind": "Node",
                           "verbs": ["get", "list"], "shortNames": ["no"]}]
        }).to_string()),
        "/api/v1/nodes" => ("200 OK", serde_json::json!({
            "kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
            "items": [{
                "metadata": {"name": "kind-control-plane", "uid": "00000000-0000-0000-0000-000000000001",
                             "creationTimestamp": "2026-01-01T00:00:00Z",
                             "labels": {"node-role.kubernetes.io/control-plane": ""}},
                "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                           "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                                           "lastTransitionTime": "2026-01-01T00:00:00Z"}],
                           "nodeInfo": {"kubeletVersion": crate::SERVER_VERSION}}
            }]
        }).to_string()),
        // The kubelet's lease, renewed as the API server answers: a node
        // thawed from a pause renews it at once, as a kubelet does.
        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/kind-control-plane" => (
            "200 OK",
            serde_json::json!({
                "kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
                "metadata": {"name": "kind-control-plane", "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": "kind-control-plane", "leaseDurationSeconds": 40,
                         "renewTime": now_rfc3339_micros()}
            })
            .to_string(),
        ),
        _ => ("404 Not Found", serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("the server could not find the requested resource ({path})"),
            "reason": "NotFound", "code": 404
        }).to_string()),
    }
}

/// Now, as the API server writes a MicroTime (`2026-01-01T00:00:00.000000Z`).
fn now_rfc3339_micros() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_micros()
    )
}
