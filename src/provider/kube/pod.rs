//! The node Pod: found, waited for (failing fast with the cluster's own
//! reason), read back as a node, its log followed and its API endpoint.

use super::pod_state::{failing_event, pod_problem, PodState};
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
use k8s_openapi::api::core::v1::{Event, Pod, PodStatus};
use kube::api::LogParams;
use kube::runtime::watcher;
use kube::Api;
use std::collections::BTreeMap;
use std::time::Duration;

impl KubeProvider {
    /// The cluster's node Pod, if kip made it (a Pod of that name without
    /// kip's labels is someone else's): `kip-NAME`, or the pool member
    /// claimed as NAME.
    pub(super) async fn pod(&self, cluster: &str) -> Result<Option<Pod>> {
        let pod = self
            .pods()
            .get_opt(&names::node_name(cluster))
            .await
            .map_err(|e| self.unreachable(e))?;
        match pod {
            Some(pod) => Ok(Some(pod).filter(|p| super::ownership::is_kips(&p.metadata, cluster))),
            None => self.claimed_member_pod(cluster).await,
        }
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
        let (pods, events) = self.watch_pod(name);
        let (mut pods, mut events) = (pods.fuse(), events.fuse());
        let mut waited = Waited {
            pod: name.to_string(),
            last: "Pending".to_string(),
            transient: None,
            event_failure: None,
        };
        let far = deadline + Duration::from_secs(3600);
        loop {
            let settle = waited.event_failure.as_ref().map_or(far, |(at, _)| *at);
            tokio::select! {
                () = tokio::time::sleep_until(settle) => return Err(waited.settled()),
                () = tokio::time::sleep_until(deadline) => return Err(waited.not_started()),
                item = pods.next() => {
                    if let Some(end) = waited.pod_changed(item) {
                        return end;
                    }
                }
                item = events.next() => waited.event(item),
            }
        }
    }

    /// Watches of the Pod `name` and of the events about it.
    fn watch_pod(&self, name: &str) -> (Watch<Pod>, Watch<Event>) {
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
        (pods, events)
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
                host: format!("{}.{}.svc", pod_name(pod), self.namespace),
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
        let name = match self.pod(cluster).await? {
            Some(pod) => pod_name(&pod),
            None => names::node_name(cluster),
        };
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
        // A pool's member claimed as a cluster keeps its key as the name
        // of the kind cluster inside.
        let inner = get(labels::CLUSTER).unwrap_or_default();
        let cluster = get(crate::pool::member::CLAIMED_AS)
            .filter(|_| annotations.contains_key(crate::pool::member::POOL_LABEL))
            .unwrap_or_else(|| inner.clone());
        let (state, status, exit_code) = node_state(&pod.status.clone().unwrap_or_default());
        let endpoint = self.endpoint_of(&cluster, pod);
        let problem =
            (state == NodeState::Running && endpoint.is_none()).then(|| Error::ForwarderStopped {
                cluster: cluster.clone(),
            });
        NodeInfo {
            endpoint,
            problem,
            inner,
            cluster,
            node: pod.metadata.name.clone().unwrap_or_default(),
            state,
            status,
            exit_code,
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
            labels: info_labels(&annotations, pod.metadata.namespace.clone()),
        }
    }
}

/// A watch of one kind of object, as `wait_running` reads it.
type Watch<K> = BoxStream<'static, Result<watcher::Event<K>, watcher::Error>>;

/// What a wait for the node Pod `pod` has seen so far.
struct Waited {
    pod: String,
    /// The Pod's last phase.
    last: String,
    /// The last interruption of its watch.
    transient: Option<String>,
    /// A Warning event settles it, but the Pod's own status usually says
    /// the same in the kubelet's words a moment later (ErrImagePull after
    /// "Failed to pull image"): that gets until this instant to arrive.
    event_failure: Option<(tokio::time::Instant, String)>,
}

impl Waited {
    /// A change the Pod's watch saw: the wait's end, if it ends it.
    fn pod_changed(
        &mut self,
        item: Option<Result<watcher::Event<Pod>, watcher::Error>>,
    ) -> Option<Result<Pod>> {
        let pod = self.pod.clone();
        match item {
            Some(Ok(watcher::Event::Apply(found) | watcher::Event::InitApply(found))) => {
                match pod_problem(&found) {
                    PodState::Running => return Some(Ok(found)),
                    PodState::Failed(why) => {
                        return Some(Err(Error::PodCannotRun { pod, why }.into()))
                    }
                    PodState::Waiting(what) => self.last = what,
                }
            }
            Some(Ok(watcher::Event::Delete(_))) => {
                return Some(Err(Error::PodDeletedWhileStarting { pod }.into()))
            }
            Some(Ok(_)) => {}
            // The watch resumes by itself (with backoff): an API server
            // restart is not a failed `up`.
            Some(Err(e)) => self.transient = Some(format!("watch interrupted: {e}")),
            None => return Some(Err(Error::WatchEnded.into())),
        }
        None
    }

    /// An event about the Pod: the first that says it cannot run settles
    /// the wait two seconds later.
    fn event(&mut self, item: Option<Result<watcher::Event<Event>, watcher::Error>>) {
        if let Some(Ok(watcher::Event::Apply(event) | watcher::Event::InitApply(event))) = item {
            if let (None, Some(why)) = (&self.event_failure, failing_event(&event)) {
                let at = tokio::time::Instant::now() + Duration::from_secs(2);
                self.event_failure = Some((at, why));
            }
        }
    }

    /// The event's failure, once the Pod's status has not said it better.
    fn settled(self) -> anyhow::Error {
        let (_, why) = self.event_failure.expect("set with the deadline");
        Error::PodCannotRun { pod: self.pod, why }.into()
    }

    /// The deadline passed before the Pod ran: where it was last.
    fn not_started(self) -> anyhow::Error {
        Error::PodNotStarted {
            pod: self.pod,
            last: self.last,
            transient: self.transient,
        }
        .into()
    }
}

/// A node Pod's state for a listing (`Running (ready)`, ...), and the exit
/// code of a node container that ended.
fn node_state(status: &PodStatus) -> (NodeState, String, Option<i64>) {
    let phase = status.phase.clone().unwrap_or_else(|| "Pending".into());
    let container = status.container_statuses.as_ref().and_then(|c| c.first());
    let exit_code = container
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.terminated.as_ref())
        .map(|t| i64::from(t.exit_code));
    let ready = container.is_some_and(|c| c.ready);
    let state = match phase.as_str() {
        "Running" => NodeState::Running,
        "Pending" => NodeState::Created,
        "Succeeded" | "Failed" => NodeState::Stopped,
        _ => NodeState::Other,
    };
    let mut words = phase;
    if state == NodeState::Running {
        words.push_str(if ready { " (ready)" } else { " (not ready)" });
    }
    (state, words, exit_code)
}

/// The node's labels, as a listing shows them: kip's annotations and the
/// unprefixed ones, and the Pod's namespace.
fn info_labels(
    annotations: &BTreeMap<String, String>,
    namespace: Option<String>,
) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = annotations
        .iter()
        .filter(|(k, _)| k.starts_with("dev.kip.") || !k.contains('/'))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.insert("dev.kip.namespace".into(), namespace.unwrap_or_default());
    labels
}

/// The Pod's name.
pub(super) fn pod_name(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}
