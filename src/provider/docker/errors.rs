//! The Docker engine's errors, recognized and worded for the user: a 404 is
//! "not found", runc's refusal of privileges is told apart from a taken
//! port or name.

use super::DockerProvider;
use crate::error::Error;
use bollard::errors::Error as DockerError;

impl DockerProvider {
    pub(super) fn unreachable(&self, err: impl std::fmt::Display) -> anyhow::Error {
        Error::DockerUnreachable {
            host: self.host.clone(),
            error: err.to_string(),
            hint: self.source.hint(),
        }
        .into()
    }
}

fn status_of(e: &DockerError) -> Option<(u16, &str)> {
    match e {
        DockerError::DockerResponseServerError {
            status_code,
            message,
        } => Some((*status_code, message.as_str())),
        _ => None,
    }
}

pub(super) fn is_not_found(e: &DockerError) -> bool {
    status_of(e).is_some_and(|(code, _)| code == 404)
}

/// An exec in a container that is not running (409 "is not running" or
/// "is paused").
pub(super) fn is_not_running(e: &DockerError) -> bool {
    status_of(e).is_some_and(|(code, msg)| {
        code == 409 && (msg.contains("is not running") || msg.contains("is paused"))
    })
}

pub(super) fn is_name_conflict(e: &DockerError) -> bool {
    status_of(e).is_some_and(|(code, msg)| code == 409 && msg.contains("is already in use"))
}

pub(super) fn is_removal_in_progress(e: &DockerError) -> bool {
    status_of(e).is_some_and(|(code, msg)| code == 409 && msg.contains("already in progress"))
}

/// A volume a container still mounts (one a `kip up` at work has just
/// created its node with).
pub(super) fn is_volume_in_use(e: &DockerError) -> bool {
    status_of(e).is_some_and(|(code, msg)| code == 409 && msg.contains("volume is in use"))
}

pub(super) fn is_not_modified(e: &DockerError) -> bool {
    status_of(e).is_some_and(|(code, _)| code == 304)
}

pub(super) fn is_privilege_refusal(e: &DockerError) -> bool {
    status_of(e).is_some_and(|(_, msg)| {
        msg.contains("unable to apply caps")
            || (msg.contains("privileged") && msg.contains("not permitted"))
    })
}

pub(super) fn is_port_in_use(e: &DockerError) -> bool {
    status_of(e).is_some_and(|(_, msg)| {
        msg.contains("port is already allocated") || msg.contains("address already in use")
    })
}

/// The useful part of a Docker error: runc's message, not the OCI preamble.
pub(super) fn short_docker_error(e: &DockerError) -> String {
    let text = status_of(e).map_or_else(|| e.to_string(), |(_, m)| m.to_string());
    match text.rfind("runc create failed: ") {
        Some(i) => text[i + "runc create failed: ".len()..]
            .trim_end_matches(": unknown")
            .to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_engine_refusals() {
        let refusal = DockerError::DockerResponseServerError {
            status_code: 500,
            message: "failed to create task for container: failed to create shim task: OCI runtime create \
                      failed: runc create failed: unable to start container process: unable to apply caps: \
                      operation not permitted: unknown"
                .into(),
        };
        assert!(is_privilege_refusal(&refusal));
        assert_eq!(
            short_docker_error(&refusal),
            "unable to start container process: unable to apply caps: operation not permitted"
        );
        let port = DockerError::DockerResponseServerError {
            status_code: 500,
            message: "driver failed programming external connectivity: Bind for 127.0.0.1:6443 failed: port is already allocated".into(),
        };
        assert!(is_port_in_use(&port) && !is_privilege_refusal(&port));
        assert!(is_not_found(&DockerError::DockerResponseServerError {
            status_code: 404,
            message: String::new()
        }));
    }
}
