//! The node Pod: found, waited for (failing fast with the cluster's own
//! reason), read back as a node, its log followed and its API endpoint.

use super::KubeProvider;
use crate::api::ApiEndpoint;
use crate::error::{Absence, Error};
use crate::names;
use crate::node::kind_config::NODE_API_PORT;
use crate::node::pod_options::EndpointMode;
use crate::node::{labels, remote};
use crate::provider::{NodeInfo, NodeState};
use anyhow::Result;
use futures_util::stream::BoxStream;
use futures_util::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::LogParams;
use kube::runtime::watcher;
use kube::Api;
use std::collections::BTreeMap;
use std::time::Duration;

impl KubeProvider {
    /// The cluster's node Pod, if kip made it (a Pod of that name without
    /// kip's labels is someone else's).
    pub(super) async fn pod(&self, cluster: &str) -> Result<Option<Pod>> {
        let pod = self
            .pods()
            .get_opt(&names::node_name(cluster))
            .await
            .map_err(|e| self.unreachable(e))?;
        Ok(pod.filter(|p| super::ownership::is_kips(&p.metadata, cluster)))
    }

    pub(super) async fn present_pod(&self, cluster: &str) -> Result<Pod> {
        let pod = self.pod(cluster).await?.ok_or_else(|| Error::NotFound {
            cluster: cluster.to_string(),
            why: Absence::Never {
                place: Some(self.where_()),
            },
        })?;
        Ok(pod)
    }

    /// Waits for the node Pod to run, failing fast with the cluster's own
    /// reason when it cannot: image pulls, scheduling, mounts, crashes.
    pub(super) async fn wait_running(
        &self,
        name: &str,
        deadline: tokio::time::Instant,
    ) -> Result<Pod> {
        let pods = watcher(
            self.pods(),
            watcher::Config::default().fields(&format!("metadata.name={name}")),
        )
        .boxed();
        let events_api: Api<Event> = Api::namespaced(self.client.clone(), &self.namespace);
        let events = watcher(
            events_api,
            watcher::Config::default().fields(&format!("involvedObject.name={name}")),
        )
        .boxed();
        let mut pods = pods.fuse();
        let mut events = events.fuse();
        let mut last = "Pending".to_string();
        let mut transient: Option<String> = None;
        // A Warning event settles it, but the Pod's own status usually says
        // the same in the kubelet's words a moment later (ErrImagePull after
        // "Failed to pull image"): give that a short while to arrive.
        let mut event_failure: Option<(tokio::time::Instant, String)> = None;
        let far = deadline + Duration::from_secs(3600);
        loop {
            let settle = event_failure.as_ref().map_or(far, |(at, _)| *at);
            tokio::select! {
                () = tokio::time::sleep_until(settle) => {
                    let (_, why) = event_failure.take().expect("set with the deadline");
                    return Err(Error::PodCannotRun { pod: name.to_string(), why }.into());
                }
                () = tokio::time::sleep_until(deadline) => {
                    return Err(Error::PodNotStarted { pod: name.to_string(), last, transient }.into());
                }
                item = pods.next() => match item {
                    Some(Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod))) => {
                        match pod_problem(&pod) {
                            PodState::Running => return Ok(pod),
                            PodState::Failed(why) => {
                                return Err(Error::PodCannotRun { pod: name.to_string(), why }.into())
                            }
                            PodState::Waiting(what) => last = what,
                        }
                    }
                    Some(Ok(watcher::Event::Delete(_))) => {
                        return Err(Error::PodDeletedWhileStarting { pod: name.to_string() }.into());
                    }
                    Some(Ok(_)) => {}
                    // The watch resumes by itself (with backoff): an API
                    // server restart is not a failed `up`.
                    Some(Err(e)) => transient = Some(format!("watch interrupted: {e}")),
                    None => return Err(Error::WatchEnded.into()),
                },
                item = events.next() => {
                    if let Some(Ok(watcher::Event::Apply(event) | watcher::Event::InitApply(event))) = item {
                        if let (None, Some(why)) = (&event_failure, failing_event(&event)) {
                            event_failure = Some((tokio::time::Instant::now() + Duration::from_secs(2), why));
                        }
                    }
                }
            }
        }
    }

    pub(super) fn endpoint_of(&self, cluster: &str, pod: &Pod) -> Option<ApiEndpoint> {
        let mode = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(remote::ENDPOINT_ANNOTATION))
            .and_then(|m| serde_json::from_value(serde_json::json!(m)).ok())
            .unwrap_or(EndpointMode::Forwarded);
        match mode {
            EndpointMode::Forwarded => {
                let record = self.state.load(cluster)?;
                let fwd = record.forwarder?;
                super::forwarder::alive(fwd.pid).then(|| ApiEndpoint {
                    host: "127.0.0.1".into(),
                    port: fwd.port,
                })
            }
            EndpointMode::PodIp => {
                let ip = pod.status.as_ref()?.pod_ip.clone()?;
                Some(ApiEndpoint {
                    host: ip,
                    port: NODE_API_PORT,
                })
            }
            EndpointMode::Service => Some(ApiEndpoint {
                host: format!("{}.{}.svc", names::node_name(cluster), self.namespace),
                port: NODE_API_PORT,
            }),
        }
    }

    /// The node container's log from its first line, following it while
    /// the Pod runs.
    pub(super) async fn follow_log(
        &self,
        cluster: &str,
    ) -> Result<BoxStream<'static, Result<String>>> {
        // The log exists once the node runs; until then, fail fast on what
        // keeps it from running.
        let name = names::node_name(cluster);
        let pod = self
            .wait_running(&name, tokio::time::Instant::now() + self.wait)
            .await?;
        // Scheduled: where its seed store is, for `kip seed --remote` and
        // `kip gc --remote` (a lost record costs only the listing).
        let _ = self.record_seed_store(&pod).await;
        // A log stream ends when the API server restarts as well as when the
        // node stops: while the Pod still runs, open it again and skip the
        // lines already passed on (a container's log only grows).
        let pods = self.pods();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<String>>(256);
        tokio::spawn(async move {
            let params = LogParams {
                follow: true,
                container: Some(remote::CONTAINER.into()),
                ..Default::default()
            };
            let mut passed = 0usize;
            let mut failures = 0u32;
            loop {
                if let Ok(reader) = pods.log_stream(&name, &params).await {
                    failures = 0;
                    let mut lines = reader.lines();
                    let mut seen = 0usize;
                    while let Some(Ok(line)) = lines.next().await {
                        seen += 1;
                        if seen > passed {
                            passed = seen;
                            if tx.send(Ok(line)).await.is_err() {
                                return;
                            }
                        }
                    }
                } else {
                    failures += 1;
                }
                // Still running? Then the stream, not the node, ended.
                let running = match pods.get_opt(&name).await {
                    Ok(Some(pod)) => matches!(pod_problem(&pod), PodState::Running),
                    Ok(None) => false,
                    Err(_) => true,
                };
                if !running || failures > 600 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Ok(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
        .boxed())
    }

    pub(super) fn info(&self, pod: &Pod) -> NodeInfo {
        let annotations = pod.metadata.annotations.clone().unwrap_or_default();
        let get = |k: &str| annotations.get(k).cloned();
        let cluster = get(labels::CLUSTER).unwrap_or_default();
        let status = pod.status.clone().unwrap_or_default();
        let phase = status.phase.clone().unwrap_or_else(|| "Pending".into());
        let cs = status
            .container_statuses
            .as_ref()
            .and_then(|c| c.first().cloned());
        let terminated = cs
            .as_ref()
            .and_then(|c| c.state.as_ref())
            .and_then(|s| s.terminated.clone());
        let ready = cs.as_ref().is_some_and(|c| c.ready);
        let state = match phase.as_str() {
            "Running" => NodeState::Running,
            "Pending" => NodeState::Created,
            "Succeeded" | "Failed" => NodeState::Stopped,
            _ => NodeState::Other,
        };
        let mut words = phase.clone();
        if state == NodeState::Running {
            words.push_str(if ready { " (ready)" } else { " (not ready)" });
        }
        let mut info_labels: BTreeMap<String, String> = annotations
            .iter()
            .filter(|(k, _)| k.starts_with("dev.kip.") || !k.contains('/'))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        info_labels.insert(
            "dev.kip.namespace".into(),
            pod.metadata.namespace.clone().unwrap_or_default(),
        );
        let endpoint = self.endpoint_of(&cluster, pod);
        let problem =
            (state == NodeState::Running && endpoint.is_none()).then(|| Error::ForwarderStopped {
                cluster: cluster.clone(),
            });
        NodeInfo {
            endpoint,
            problem,
            // The kind cluster inside a remote node has the cluster's name.
            inner: cluster.clone(),
            cluster,
            node: pod.metadata.name.clone().unwrap_or_default(),
            state,
            status: words,
            exit_code: terminated.map(|t| i64::from(t.exit_code)),
            created_at: get(labels::CREATED_AT),
            image: pod
                .spec
                .as_ref()
                .and_then(|s| s.containers.first())
                .and_then(|c| c.image.clone())
                .unwrap_or_default(),
            security: Some("privileged pod".into()),
            kip_version: get(labels::VERSION),
            expires_at: get(labels::EXPIRES_AT),
            ci: labels::ci_description(&annotations.clone().into_iter().collect()),
            labels: info_labels,
        }
    }
}

/// A Warning event that says the Pod cannot run ("FailedMount: …").
fn failing_event(event: &Event) -> Option<String> {
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
    for c in status.conditions.iter().flatten() {
        if c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
        {
            return PodState::Failed(format!(
                "Unschedulable: {}",
                c.message.clone().unwrap_or_default()
            ));
        }
    }
    for cs in status.container_statuses.iter().flatten() {
        let state = cs.state.as_ref();
        if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
            let reason = w.reason.clone().unwrap_or_default();
            if [
                "ErrImagePull",
                "ImagePullBackOff",
                "InvalidImageName",
                "CreateContainerConfigError",
                "CreateContainerError",
                "CrashLoopBackOff",
                "RunContainerError",
            ]
            .contains(&reason.as_str())
            {
                return PodState::Failed(format!(
                    "{reason}: {}",
                    w.message.clone().unwrap_or_default()
                ));
            }
        }
        if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
            return PodState::Failed(format!(
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
