//! Talking to the cluster's API server from where the user is: `/readyz` and
//! `/version` over TLS, verified against the cluster CA with the same server
//! name the kubeconfig uses (so a missing certificate SAN shows up here as it
//! would in kubectl).

use crate::kubeconfig::ClusterCredentials;
use anyhow::{Context, Result};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, RootCertStore};
use tokio_rustls::TlsConnector;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiEndpoint {
    pub host: String,
    pub port: u16,
}

impl ApiEndpoint {
    pub fn server_url(&self) -> String {
        format!("https://{}:{}", self.host, self.port)
    }
}

pub struct ApiClient {
    endpoint: ApiEndpoint,
    connector: TlsConnector,
}

impl ApiClient {
    /// An anonymous client (`/readyz` and `/version` answer anyone).
    pub fn new(endpoint: ApiEndpoint, ca_pem: &[u8]) -> Result<Self> {
        Self::build(endpoint, ca_pem, None)
    }

    /// A client that authenticates with the credentials' client certificate.
    pub fn with_credentials(endpoint: ApiEndpoint, creds: &ClusterCredentials) -> Result<Self> {
        let (cert, key) = creds.client_pem()?;
        Self::build(endpoint, &creds.ca_pem()?, Some((&cert, &key)))
    }

    fn build(endpoint: ApiEndpoint, ca_pem: &[u8], client: Option<(&[u8], &[u8])>) -> Result<Self> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem) {
            roots.add(cert.context("the cluster CA is not valid PEM")?)?;
        }
        if roots.is_empty() {
            return Err(crate::error::Error::NoCaCertificate.into());
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        let config = match client {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let certs = CertificateDer::pem_slice_iter(cert)
                    .collect::<Result<Vec<_>, _>>()
                    .context("the client certificate is not valid PEM")?;
                let key = PrivateKeyDer::from_pem_slice(key)
                    .context("the client key is not valid PEM")?;
                builder.with_client_auth_cert(certs, key)?
            }
        };
        Ok(ApiClient {
            endpoint,
            connector: TlsConnector::from(Arc::new(config)),
        })
    }

    /// True once `/readyz` answers 200 "ok".
    pub async fn ready(&self, timeout: Duration) -> Result<bool> {
        let (status, body) = self.get("/readyz", timeout).await?;
        Ok(status == 200 && body.trim() == "ok")
    }

    /// The server's `gitVersion`.
    pub async fn version(&self, timeout: Duration) -> Result<String> {
        let (status, body) = self.get("/version", timeout).await?;
        if status != 200 {
            return Err(crate::error::Error::VersionStatus { status }.into());
        }
        let info: serde_json::Value =
            serde_json::from_str(&body).context("/version is not JSON")?;
        info.get("gitVersion")
            .and_then(|v| v.as_str())
            .map(String::from)
            .context("/version has no gitVersion")
    }

    /// Why the cluster's nodes are not all Ready yet (None: they are). With
    /// `renewed_since` (a member thawed then), a node counts only once its
    /// kubelet has renewed its lease since.
    pub async fn nodes_ready(
        &self,
        renewed_since: Option<SystemTime>,
        timeout: Duration,
    ) -> Result<Option<String>> {
        let nodes = self.get_json("/api/v1/nodes", timeout).await?;
        let items = nodes["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            return Ok(Some("no node has registered yet".into()));
        }
        for node in &items {
            let name = node["metadata"]["name"].as_str().unwrap_or_default();
            let ready = node["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            if !ready {
                return Ok(Some(format!("node {name} is not Ready")));
            }
            let Some(since) = renewed_since else { continue };
            let path =
                format!("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}");
            let lease = self.get_json(&path, timeout).await?;
            let renewed = lease["spec"]["renewTime"]
                .as_str()
                .and_then(|t| humantime::parse_rfc3339_weak(t).ok());
            if renewed.is_none_or(|r| r < since) {
                return Ok(Some(format!(
                    "node {name} has not renewed its lease since it was thawed"
                )));
            }
        }
        Ok(None)
    }

    async fn get_json(&self, path: &str, timeout: Duration) -> Result<serde_json::Value> {
        let (status, body) = self.get(path, timeout).await?;
        if status != 200 {
            anyhow::bail!("GET {path}: HTTP {status}: {}", body.trim());
        }
        serde_json::from_str(&body).with_context(|| format!("GET {path}: not JSON"))
    }

    pub async fn get(&self, path: &str, timeout: Duration) -> Result<(u16, String)> {
        tokio::time::timeout(timeout, self.get_inner(path))
            .await
            .with_context(|| format!("GET {path}: no answer within {timeout:?}"))?
    }

    async fn get_inner(&self, path: &str) -> Result<(u16, String)> {
        let ApiEndpoint { host, port } = &self.endpoint;
        let tcp = TcpStream::connect((host.as_str(), *port)).await?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from(host.clone()).context("invalid API server host")?;
        let mut tls = self.connector.connect(name, tcp).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: */*\r\nConnection: close\r\n\r\n");
        tls.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        // A peer that closes without close_notify still gave us the response.
        if let Err(e) = tls.read_to_end(&mut raw).await {
            if raw.is_empty() {
                return Err(e.into());
            }
        }
        parse_response(&raw)
    }
}

fn parse_response(raw: &[u8]) -> Result<(u16, String)> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("truncated HTTP response")?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("malformed HTTP status line")?;
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().replace(' ', "") == "transfer-encoding:chunked");
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_string()
    };
    Ok((status, body))
}

fn dechunk(mut body: &str) -> Result<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").context("malformed chunk")?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .context("malformed chunk size")?;
        if size == 0 {
            return Ok(out);
        }
        out.push_str(rest.get(..size).context("truncated chunk")?);
        body = rest.get(size + 2..).context("truncated chunk")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_responses() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(parse_response(plain).unwrap(), (200, "ok".into()));
        let chunked = b"HTTP/1.1 500 Internal\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), (500, "abcde".into()));
        assert!(parse_response(b"HTTP/1.1 200").is_err());
    }
}
