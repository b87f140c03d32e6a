//! The node Pod's state, read as a person reads `kubectl describe`: running,
//! still waiting (and on what), or unable to run, in the cluster's own
//! words (its status, or a Warning event about it).

use k8s_openapi::api::core::v1::{Event, Pod, PodStatus};

/// A Warning event that says the Pod cannot run ("FailedMount: …").
pub(super) fn failing_event(event: &Event) -> Option<String> {
    const FAILURES: [&str; 4] = [
        "Failed",
        "FailedMount",
        "FailedScheduling",
        "FailedCreatePodSandBox",
    ];
    let reason = event.reason.clone().unwrap_or_default();
    let warning = event.type_.as_deref() == Some("Warning");
    (warning && FAILURES.contains(&reason.as_str()))
        .then(|| format!("{reason}: {}", event.message.clone().unwrap_or_default()))
}

pub(super) enum PodState {
    Running,
    Waiting(String),
    Failed(String),
}

/// Reads a node Pod's status the way a person would in `kubectl describe`.
pub(super) fn pod_problem(pod: &Pod) -> PodState {
    let Some(status) = &pod.status else {
        return PodState::Waiting("Pending".into());
    };
    if let Some(why) = unschedulable(status).or_else(|| container_failure(status)) {
        return PodState::Failed(why);
    }
    match status.phase.as_deref() {
        Some("Running") => PodState::Running,
        Some(phase @ ("Failed" | "Succeeded")) => PodState::Failed(format!(
            "the Pod is {phase}{}",
            status
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        )),
        other => PodState::Waiting(other.unwrap_or("Pending").to_string()),
    }
}

/// The scheduler's word that no node can take the Pod.
fn unschedulable(status: &PodStatus) -> Option<String> {
    status.conditions.iter().flatten().find_map(|c| {
        (c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable"))
        .then(|| format!("Unschedulable: {}", c.message.clone().unwrap_or_default()))
    })
}

/// The first container that cannot start (a wait that will not end by
/// itself) or has ended.
fn container_failure(status: &PodStatus) -> Option<String> {
    const FAILED_WAITS: [&str; 7] = [
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "CrashLoopBackOff",
        "RunContainerError",
    ];
    for cs in status.container_statuses.iter().flatten() {
        let state = cs.state.as_ref();
        if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
            let reason = w.reason.clone().unwrap_or_default();
            if FAILED_WAITS.contains(&reason.as_str()) {
                let message = w.message.clone().unwrap_or_default();
                return Some(format!("{reason}: {message}"));
            }
        }
        if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
            return Some(format!(
                "the node container exited with code {} ({}){}",
                t.exit_code,
                t.reason.clone().unwrap_or_default(),
                t.message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({"metadata": {"name": "kip-x"}, "status": status}))
            .unwrap()
    }

    fn verdict(status: serde_json::Value) -> String {
        match pod_problem(&pod(status)) {
            PodState::Running => "running".into(),
            PodState::Waiting(w) => format!("waiting {w}"),
            PodState::Failed(f) => format!("failed {f}"),
        }
    }

    #[test]
    fn pod_states_read_like_kubectl_describe() {
        assert_eq!(verdict(serde_json::json!({"phase": "Running"})), "running");
        assert_eq!(
            verdict(serde_json::json!({"phase": "Pending"})),
            "waiting Pending"
        );
        assert_eq!(
            verdict(
                serde_json::json!({"phase": "Pending", "conditions": [{"type": "PodScheduled",
                "status": "False", "reason": "Unschedulable", "message": "0/3 nodes are available"}]})
            ),
            "failed Unschedulable: 0/3 nodes are available"
        );
        let waiting = |reason: &str| {
            verdict(
                serde_json::json!({"phase": "Pending", "containerStatuses": [{"name": "node",
                "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": reason, "message": "why"}}}]}),
            )
        };
        assert_eq!(waiting("ErrImagePull"), "failed ErrImagePull: why");
        assert_eq!(waiting("ImagePullBackOff"), "failed ImagePullBackOff: why");
        assert_eq!(waiting("CrashLoopBackOff"), "failed CrashLoopBackOff: why");
        // ContainerCreating is a wait, not a failure.
        assert_eq!(waiting("ContainerCreating"), "waiting Pending");
        assert_eq!(
            verdict(
                serde_json::json!({"phase": "Failed", "containerStatuses": [{"name": "node",
                "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]})
            ),
            "failed the node container exited with code 137 (OOMKilled)"
        );
    }
}
