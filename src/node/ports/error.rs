//! What can go wrong with host ports: one variant each, its words and the
//! exit code it means.

use super::HostPort;

/// Why a remote node gets no host ports (`up --help` says it too).
pub const REMOTE_REFUSAL: &str =
    "host ports (-p, and a kind config's extraPortMappings) are local only: \
     a remote node runs on a shared cluster, not on your machine; reach a remote cluster's \
     Services with `kubectl port-forward`";

/// What can go wrong with host ports; they reach the user as
/// `crate::error::Error::HostPorts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortError {
    /// `-p` ports kip cannot publish (`error` names the field).
    Invalid { error: String },
    /// `-p` in remote mode.
    Remote,
    /// A host port that is already taken, and by what.
    Taken { port: HostPort, holder: Holder },
}

/// What holds a host port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    Container(String),
    Process,
    /// The listen address is not one of this machine's.
    NotHere,
}

impl PortError {
    pub fn code(&self) -> u8 {
        match self {
            PortError::Invalid { .. } | PortError::Remote => crate::error::exit::USAGE,
            PortError::Taken { .. } => crate::error::exit::ENVIRONMENT,
        }
    }
}

impl std::fmt::Display for PortError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortError::Invalid { error } => write!(f, "-p: {error}"),
            PortError::Remote => write!(f, "-p: {REMOTE_REFUSAL}"),
            PortError::Taken { port, holder } => write!(
                f,
                "host port {}:{}/{} is already in use ({}): pick another host port for the kind \
                 node's port {}; nothing was made",
                port.listen_address,
                port.host_port,
                port.protocol.as_str(),
                match holder {
                    Holder::Container(name) => format!("container {name} publishes it"),
                    Holder::Process => "a process of this machine listens on it".into(),
                    Holder::NotHere =>
                        format!("{} is not an address of this machine", port.listen_address),
                },
                port.container_port
            ),
        }
    }
}

impl From<PortError> for anyhow::Error {
    fn from(error: PortError) -> Self {
        crate::error::Error::HostPorts(error).into()
    }
}
