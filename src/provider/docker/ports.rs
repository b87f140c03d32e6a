//! Host ports a new node would publish, checked before anything is made:
//! one a container of the engine already publishes is named with that
//! container; one a process of this machine holds is found by binding it
//! (when the engine runs here).

use super::DockerProvider;
use crate::node::ports::{Holder, HostPort, PortError, Protocol};
use anyhow::Result;
use std::net::IpAddr;

impl DockerProvider {
    /// Host ports the engine's running containers publish now, each with
    /// the container that has it.
    pub(super) async fn published_ports(&self) -> Result<Vec<Published>> {
        let containers = self
            .docker
            .list_containers(None::<bollard::query_parameters::ListContainersOptions>)
            .await
            .map_err(|e| self.unreachable(e))?;
        let mut published = Vec::new();
        for c in containers {
            let container = c
                .names
                .and_then(|n| n.into_iter().next())
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string();
            for p in c.ports.unwrap_or_default() {
                let Some(port) = p.public_port else { continue };
                published.push(Published {
                    address: p.ip.unwrap_or_default(),
                    port,
                    protocol: p.typ.map_or_else(|| "tcp".into(), |t| t.to_string()),
                    container: container.clone(),
                });
            }
        }
        Ok(published)
    }

    /// The host ports published now, by number.
    pub async fn published_port_numbers(&self) -> Result<Vec<u16>> {
        Ok(self
            .published_ports()
            .await?
            .into_iter()
            .map(|p| p.port)
            .collect())
    }

    /// Exit 3, naming the port (and its holder when known), if one of
    /// `ports` is taken.
    pub async fn refuse_taken_ports(&self, ports: &[HostPort], local: bool) -> Result<()> {
        if ports.is_empty() {
            return Ok(());
        }
        let published = self.published_ports().await?;
        for port in ports {
            let holder = published.iter().find(|p| {
                p.port == port.host_port
                    && p.protocol == port.protocol.as_str()
                    && overlaps(&p.address, &port.listen_address)
            });
            if let Some(holder) = holder {
                return Err(taken(port, Holder::Container(holder.container.clone())));
            }
            if local {
                if let Some(holder) = bind_refused(port) {
                    return Err(taken(port, holder));
                }
            }
        }
        Ok(())
    }
}

/// One published port of one container.
#[derive(Debug, Clone)]
pub struct Published {
    pub address: String,
    pub port: u16,
    pub protocol: String,
    pub container: String,
}

fn taken(port: &HostPort, holder: Holder) -> anyhow::Error {
    PortError::Taken {
        port: port.clone(),
        holder,
    }
    .into()
}

/// Two listen addresses collide when they are the same or either is a
/// wildcard.
fn overlaps(a: &str, b: &str) -> bool {
    let wildcard = |x: &str| {
        x.is_empty()
            || x.parse::<IpAddr>()
                .map(|ip| ip.is_unspecified())
                .unwrap_or(false)
    };
    wildcard(a) || wildcard(b) || a == b
}

/// What on this machine refuses the port to a new listener, if anything
/// does: a process, or the address not being this machine's. A port below
/// 1024 that kip may not bind itself is the engine's to bind, so that is no
/// refusal.
fn bind_refused(port: &HostPort) -> Option<Holder> {
    let address: IpAddr = port.listen_address.parse().ok()?;
    let result = match port.protocol {
        Protocol::Tcp => std::net::TcpListener::bind((address, port.host_port)).map(drop),
        Protocol::Udp => std::net::UdpSocket::bind((address, port.host_port)).map(drop),
    };
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Some(Holder::Process),
        Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => Some(Holder::NotHere),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::ports::parse_port_flag;

    #[test]
    fn wildcards_overlap_everything() {
        assert!(overlaps("0.0.0.0", "127.0.0.1"));
        assert!(overlaps("127.0.0.1", "::"));
        assert!(overlaps("", "10.0.0.1"));
        assert!(overlaps("127.0.0.1", "127.0.0.1"));
        assert!(!overlaps("127.0.0.1", "127.0.0.2"));
    }

    #[test]
    fn a_port_a_process_holds_is_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let held = listener.local_addr().unwrap().port();
        let port = parse_port_flag(&format!("127.0.0.1:{held}:80")).unwrap();
        assert_eq!(bind_refused(&port), Some(Holder::Process));
        // Over UDP the same number is free.
        let udp = parse_port_flag(&format!("127.0.0.1:{held}:80/udp")).unwrap();
        assert_eq!(bind_refused(&udp), None);
        let message = taken(&port, Holder::Process).to_string();
        assert!(
            message.contains(&format!("host port 127.0.0.1:{held}/tcp is already in use")),
            "{message}"
        );
    }
}
