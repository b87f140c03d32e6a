//! Asking a registry over plain HTTP from the host: whether it serves the
//! registry API, and whether a cache's upstream answers it.

use anyhow::{anyhow, bail, Context, Result};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long one question may take.
const TIMEOUT: Duration = Duration::from_secs(20);

/// `GET path` on `127.0.0.1:port`: the status code and the body.
pub async fn get(port: u16, path: &str) -> Result<(u16, String)> {
    tokio::time::timeout(TIMEOUT, get_inner(port, path))
        .await
        .map_err(|_| anyhow!("no answer within {}s", TIMEOUT.as_secs()))?
}

async fn get_inner(port: u16, path: &str) -> Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot connect to 127.0.0.1:{port}"))?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("not an HTTP answer: {:?}", truncate(&text)))?;
    Ok((status, body.to_string()))
}

/// The registry API answers at `/v2/`.
pub async fn serves(port: u16) -> Result<()> {
    let (status, body) = get(port, "/v2/").await?;
    if status != 200 {
        bail!("/v2/ answered {status}: {}", truncate(&body));
    }
    Ok(())
}

/// Whether a cache's upstream answers, asked through the cache itself (it
/// reaches the upstream from where it runs): a manifest by a digest no
/// image has is not in the cache, so the cache asks the upstream. The
/// Distribution registry answers 500 both when the upstream said "unknown"
/// and when it could not be reached; only the second carries Go's
/// transport error, `Get "URL": dial tcp …`, which is what this looks for.
pub async fn upstream_answers(port: u16) -> Result<()> {
    let digest = format!("sha256:{}", "0".repeat(64));
    let path = format!("/v2/library/kip-upstream-probe/manifests/{digest}");
    let (status, body) = get(port, &path).await?;
    if let Some(why) = unreachable_upstream(status, &body) {
        bail!("{why}");
    }
    Ok(())
}

/// The transport error in a cache's answer, if the upstream was not reached.
fn unreachable_upstream(status: u16, body: &str) -> Option<String> {
    let detail = error_detail(body)?;
    let transport = ["Get \"", "Head \""]
        .iter()
        .any(|op| detail.starts_with(op));
    (status >= 500 && transport).then_some(detail)
}

/// The `detail` of a registry's first error, as text.
fn error_detail(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    match &value["errors"].get(0)?["detail"] {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn truncate(text: &str) -> String {
    text.chars()
        .take(300)
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_transport_error_means_the_upstream_did_not_answer() {
        // What the Distribution registry v3.1.1 answered, measured.
        let refused = r#"{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":"Get \"http://172.17.0.1:15098/v2/\": dial tcp 172.17.0.1:15098: connect: connection refused"}]}"#;
        let unknown = r#"{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":"manifest unknown: manifest unknown"}]}"#;
        assert_eq!(
            unreachable_upstream(500, refused).as_deref(),
            Some("Get \"http://172.17.0.1:15098/v2/\": dial tcp 172.17.0.1:15098: connect: connection refused")
        );
        assert_eq!(unreachable_upstream(500, unknown), None);
        assert_eq!(unreachable_upstream(404, "not json"), None);
    }

    #[tokio::test]
    async fn reads_the_status_of_a_plain_http_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf).await.unwrap();
            conn.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\nno")
                .await
                .unwrap();
        });
        assert_eq!(get(port, "/v2/").await.unwrap(), (503, "no".to_string()));
        server.await.unwrap();
    }
}
