//! Host ports: what a user publishes from their machine to a kind node,
//! kind's `extraPortMappings` and `up -p HOST:CONTAINER`. Inside kip the
//! kind node is nested, so one mapping is two hops:
//!
//! ```text
//!   user's machine  listenAddress:hostPort   (published by the engine on kip's node)
//!   kip's node      0.0.0.0:hostPort         (published by the node's own Docker, kind's mapping)
//!   kind node       containerPort
//! ```
//!
//! kind's `listenAddress` is honoured on the user's machine; inside kip's
//! node the inner mapping listens on every interface, or the engine's
//! forwarded traffic (which arrives on the node's own address) would find
//! nothing. The port number is the same on both hops, so each host port and
//! protocol is mapped once, and 6443 (the API server's, inside the node) is
//! not free for a mapping. What can go wrong is in `error.rs`, the tests
//! (every refusal names its field) in `tests.rs`.

mod error;

pub use error::{Holder, PortError, REMOTE_REFUSAL};

use super::kind_config::{KindConfig, NODE_API_PORT};
use serde::Serialize;
use serde_yaml::{Mapping, Value};
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }

    /// kind's spelling (`protocol: TCP`).
    fn kind_name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }
}

/// One port of the user's machine published to a port of a kind node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostPort {
    /// The address on the user's machine (kind's `listenAddress`).
    pub listen_address: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
    /// Which kind node gets it: "control-plane", "worker", "worker2", …
    /// (kind's container names without the cluster's).
    pub node: String,
}

impl HostPort {
    /// `0.0.0.0:8080->80/tcp (control-plane)`, as `kip status` shows it and
    /// as kip's node label keeps it.
    pub fn describe(&self) -> String {
        let address = if self.listen_address.contains(':') {
            format!("[{}]", self.listen_address)
        } else {
            self.listen_address.clone()
        };
        format!(
            "{address}:{}->{}/{} ({})",
            self.host_port,
            self.container_port,
            self.protocol.as_str(),
            self.node
        )
    }

    /// The inverse of [`HostPort::describe`], for a node's label.
    pub fn parse_description(text: &str) -> Option<HostPort> {
        let (mapping, node) = text.trim().split_once(" (")?;
        let node = node.strip_suffix(')')?;
        let (address_port, rest) = mapping.split_once("->")?;
        let (container_port, protocol) = rest.split_once('/')?;
        let (address, host_port) = address_port.rsplit_once(':')?;
        Some(HostPort {
            listen_address: address.trim_start_matches('[').trim_end_matches(']').into(),
            host_port: host_port.parse().ok()?,
            container_port: container_port.parse().ok()?,
            protocol: match protocol {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                _ => return None,
            },
            node: node.into(),
        })
    }
}

/// `-p [ADDRESS:]HOST:CONTAINER[/tcp|/udp]` (as `docker run -p` and k3d's
/// `-p`): a port of the user's machine to a port of the first control-plane
/// node. ADDRESS defaults to kind's 0.0.0.0; an IPv6 one is bracketed.
pub fn parse_port_flag(text: &str) -> Result<HostPort, String> {
    let usage = "expected [ADDRESS:]HOST_PORT:CONTAINER_PORT[/tcp|/udp], e.g. 8080:80 or 127.0.0.1:5353:53/udp";
    let (ports, protocol) = match text.rsplit_once('/') {
        Some((ports, "tcp")) => (ports, Protocol::Tcp),
        Some((ports, "udp")) => (ports, Protocol::Udp),
        Some((_, other)) => {
            return Err(format!(
                "{text:?}: protocol {other:?} is not one kip publishes (tcp or udp)"
            ))
        }
        None => (text, Protocol::Tcp),
    };
    let (address, rest) = if let Some(bracketed) = ports.strip_prefix('[') {
        let (address, rest) = bracketed
            .split_once("]:")
            .ok_or_else(|| format!("{text:?}: {usage}"))?;
        (Some(address), rest)
    } else {
        match ports.matches(':').count() {
            1 => (None, ports),
            2 => {
                let (address, rest) = ports.split_once(':').expect("two colons");
                (Some(address), rest)
            }
            _ => return Err(format!("{text:?}: {usage}")),
        }
    };
    let (host, container) = rest
        .split_once(':')
        .ok_or_else(|| format!("{text:?}: {usage}"))?;
    let port = |p: &str, what: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{text:?}: the {what} port {p:?} is not a port (1-65535)"))
    };
    let listen_address = match address {
        Some(a) => a
            .parse::<IpAddr>()
            .map_err(|_| format!("{text:?}: {a:?} is not an IP address to listen on"))?
            .to_string(),
        None => "0.0.0.0".into(),
    };
    Ok(HostPort {
        listen_address,
        host_port: port(host, "host")?,
        container_port: port(container, "container")?,
        protocol,
        node: "control-plane".into(),
    })
}

/// Puts the `-p` ports into the kind config (the first control-plane node's
/// `extraPortMappings`, a one-node list made if the config has none), then
/// takes every mapping back out as kip publishes it, the inner listen
/// address rewritten to the node's every interface. Errors name the field.
pub fn publish(config: &mut KindConfig, flags: &[HostPort]) -> Result<Vec<HostPort>, String> {
    if !flags.is_empty() {
        add_flags(config, flags)?;
    }
    let Some(nodes) = config.extra.get_mut("nodes") else {
        return Ok(Vec::new());
    };
    let nodes = nodes
        .as_sequence_mut()
        .ok_or("nodes must be a list of kind nodes")?;
    let names = node_names(nodes);
    let mut published: Vec<HostPort> = Vec::new();
    for (n, node) in nodes.iter_mut().enumerate() {
        let Some(mappings) = node.get_mut("extraPortMappings") else {
            continue;
        };
        let mappings = mappings
            .as_sequence_mut()
            .ok_or_else(|| format!("nodes[{n}].extraPortMappings must be a list"))?;
        for (i, mapping) in mappings.iter_mut().enumerate() {
            let field = format!("nodes[{n}].extraPortMappings[{i}]");
            let port = read_mapping(mapping, &field, &names[n])?;
            if let Some(taken) = published
                .iter()
                .find(|p| p.host_port == port.host_port && p.protocol == port.protocol)
            {
                return Err(format!(
                    "{field}: host port {}/{} is mapped twice (also {}); kip maps each host port once",
                    port.host_port,
                    port.protocol.as_str(),
                    taken.describe()
                ));
            }
            if let Some(m) = mapping.as_mapping_mut() {
                m.insert("listenAddress".into(), "0.0.0.0".into());
            }
            published.push(port);
        }
    }
    Ok(published)
}

/// The node's label listing its host ports, for `kip status`.
pub fn labels(ports: &[HostPort]) -> Option<(String, String)> {
    (!ports.is_empty()).then(|| {
        let described: Vec<String> = ports.iter().map(HostPort::describe).collect();
        (
            crate::registry::labels::CLUSTER_PORTS.to_string(),
            described.join(", "),
        )
    })
}

/// The host ports a node's label lists.
pub fn from_label(labels: &std::collections::BTreeMap<String, String>) -> Vec<HostPort> {
    labels
        .get(crate::registry::labels::CLUSTER_PORTS)
        .map(|l| {
            l.split(", ")
                .filter_map(HostPort::parse_description)
                .collect()
        })
        .unwrap_or_default()
}

/// How many kind nodes the config asks for (kind's default: one).
pub fn kind_node_count(config: &KindConfig) -> usize {
    config
        .extra
        .get("nodes")
        .and_then(Value::as_sequence)
        .map_or(1, |nodes| nodes.len().max(1))
}

fn add_flags(config: &mut KindConfig, flags: &[HostPort]) -> Result<(), String> {
    let nodes = config
        .extra
        .entry("nodes".into())
        .or_insert_with(|| Value::Sequence(vec![control_plane()]));
    let nodes = nodes
        .as_sequence_mut()
        .ok_or("nodes must be a list of kind nodes")?;
    if nodes.is_empty() {
        nodes.push(control_plane());
    }
    let first = nodes
        .iter_mut()
        .find(|n| role(n) == "control-plane")
        .ok_or("-p publishes to the control-plane node, and the kind config has none")?
        .as_mapping_mut()
        .ok_or("nodes[0] must be a mapping")?;
    let mappings = first
        .entry("extraPortMappings".into())
        .or_insert_with(|| Value::Sequence(Vec::new()))
        .as_sequence_mut()
        .ok_or("the control-plane node's extraPortMappings must be a list")?;
    for flag in flags {
        let mut m = Mapping::new();
        m.insert("containerPort".into(), flag.container_port.into());
        m.insert("hostPort".into(), flag.host_port.into());
        m.insert("listenAddress".into(), flag.listen_address.clone().into());
        m.insert("protocol".into(), flag.protocol.kind_name().into());
        mappings.push(Value::Mapping(m));
    }
    Ok(())
}

fn control_plane() -> Value {
    let mut node = Mapping::new();
    node.insert("role".into(), "control-plane".into());
    Value::Mapping(node)
}

fn role(node: &Value) -> &str {
    node.get("role")
        .and_then(Value::as_str)
        .unwrap_or("control-plane")
}

/// kind's node names, without the cluster's: control-plane,
/// control-plane2, …, worker, worker2, … in the config's order.
fn node_names(nodes: &[Value]) -> Vec<String> {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    nodes
        .iter()
        .map(|node| {
            let role = role(node).to_string();
            let count = seen.entry(role.clone()).or_default();
            *count += 1;
            if *count == 1 {
                role
            } else {
                format!("{role}{count}")
            }
        })
        .collect()
}

fn read_mapping(mapping: &Value, field: &str, node: &str) -> Result<HostPort, String> {
    let number = |key: &str| -> Result<Option<u16>, String> {
        match mapping.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| format!("{field}.{key} must be a port number (0-65535)")),
        }
    };
    let container_port = number("containerPort")?
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("{field}.containerPort is required (the kind node's port)"))?;
    let host_port = number("hostPort")?.filter(|p| *p > 0).ok_or_else(|| {
        format!(
            "{field}.hostPort is required: kip publishes it on your machine and through its node, \
             and needs to know it (give one, e.g. hostPort: {container_port})"
        )
    })?;
    if host_port == NODE_API_PORT {
        return Err(format!(
            "{field}.hostPort {NODE_API_PORT} is the API server's port inside kip's node; \
             pick another host port"
        ));
    }
    let protocol = match mapping.get("protocol").and_then(Value::as_str) {
        None | Some("TCP") | Some("tcp") => Protocol::Tcp,
        Some("UDP") | Some("udp") => Protocol::Udp,
        Some(other) => {
            return Err(format!(
                "{field}.protocol is {other}: kip publishes TCP and UDP ports"
            ))
        }
    };
    let listen_address = match mapping.get("listenAddress") {
        None | Some(Value::Null) => "0.0.0.0".to_string(),
        Some(v) => v
            .as_str()
            .and_then(|a| a.parse::<IpAddr>().ok())
            .ok_or_else(|| format!("{field}.listenAddress must be an IP address"))?
            .to_string(),
    };
    Ok(HostPort {
        listen_address,
        host_port,
        container_port,
        protocol,
        node: node.to_string(),
    })
}

#[cfg(test)]
mod tests;
