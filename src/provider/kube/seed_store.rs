//! The seed stores on the shared cluster's outer nodes (`crate::seed`):
//! a `hostPath` directory on each outer node a seeded node Pod ran on,
//! read and changed from outside only by a throwaway helper Pod pinned to
//! that node. kip cannot see an outer node's files, nor (without rights
//! to list nodes) which nodes exist, so it remembers where its node Pods
//! used a store: the ConfigMap [`RECORD`] in the namespace, one key per
//! outer node, its value the Docker-in-Docker image that node has (the
//! helper runs in it).

use super::KubeProvider;
use crate::node::contract::SEED_STORE;
use crate::node::{labels, remote};
use crate::provider::docker::HelperOutput;
use anyhow::{anyhow, Result};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{DeleteParams, LogParams, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// The ConfigMap naming the outer nodes with a seed store. A dot: no
/// cluster's objects (`kip-NAME`, NAME a DNS label) can have this name.
pub const RECORD: &str = "kip.seed-stores";
/// The label of the helper Pods (not kip's managed-by label: they are no
/// cluster's node, and `kip list` must not show them).
const HELPER_LABEL: &str = "dev.kip.seed-helper";
/// How long a helper Pod may take to start and end.
const HELPER_LIMIT: Duration = Duration::from_secs(120);

impl KubeProvider {
    pub(super) fn config_maps(&self) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The outer nodes known to hold a seed store, each with the DinD
    /// image to read it with: those [`RECORD`] names, and those a node
    /// Pod with a seed runs on now (clusters made before the record).
    pub async fn seed_store_nodes(&self) -> Result<BTreeMap<String, String>> {
        let record = self
            .config_maps()
            .get_opt(RECORD)
            .await
            .map_err(|e| self.unreachable(e))?;
        let mut nodes: BTreeMap<String, String> = record
            .and_then(|c| c.data)
            .unwrap_or_default()
            .into_iter()
            .collect();
        for (node, image) in self
            .seeded_pods()
            .await?
            .into_iter()
            .map(|p| (p.node, p.image))
        {
            nodes.entry(node).or_insert(image);
        }
        Ok(nodes)
    }

    /// The node Pods that use a seed: their cluster, outer node, seed key
    /// and image.
    pub async fn seeded_pods(&self) -> Result<Vec<SeededPod>> {
        let pods = self.kips_pods(self.pods()).await?;
        Ok(pods.iter().filter_map(SeededPod::of).collect())
    }

    /// Remembers that the node Pod `pod` used the seed store of its outer
    /// node. A merge patch of one key: concurrent `up`s on other nodes do
    /// not overwrite each other.
    pub(super) async fn record_seed_store(&self, pod: &Pod) -> Result<()> {
        let Some(seeded) = SeededPod::of(pod) else {
            return Ok(());
        };
        let api = self.config_maps();
        let patch = json!({"data": {seeded.node.as_str(): seeded.image}});
        let params = PatchParams::default();
        match api.patch(RECORD, &params, &Patch::Merge(&patch)).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(self.unreachable(e)),
        }
        let made = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": RECORD, "labels": {labels::MANAGED_BY: labels::MANAGER}},
            "data": {seeded.node.as_str(): seeded.image},
        });
        let made: ConfigMap = serde_json::from_value(made)?;
        match api.create(&PostParams::default(), &made).await {
            Ok(_) => Ok(()),
            // Made meanwhile by another `up`: add this node to it.
            Err(kube::Error::Api(e)) if e.code == 409 => api
                .patch(RECORD, &params, &Patch::Merge(&patch))
                .await
                .map(|_| ())
                .map_err(|e| self.unreachable(e)),
            Err(e) => Err(self.unreachable(e)),
        }
    }

    /// Forgets the store of outer node `node` (it holds no seed now).
    pub async fn forget_seed_store(&self, node: &str) -> Result<()> {
        let patch = json!({"data": {node: null}});
        match self
            .config_maps()
            .patch(RECORD, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(self.unreachable(e)),
        }
    }

    /// Runs `script` with `args` in a throwaway Pod of `image` on outer
    /// node `node`, with that node's seed store mounted; deletes the Pod.
    /// Its log is its output (stdout and stderr together: the store
    /// script's lines are told apart by their shape).
    pub async fn run_seed_helper(
        &self,
        node: &str,
        image: &str,
        script: &str,
        args: &[String],
    ) -> Result<HelperOutput> {
        let name = format!("kip-seed-helper-{}-{}", std::process::id(), helper_number());
        let pod: Pod = serde_json::from_value(helper_pod(&name, node, image, script, args))?;
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .map_err(|e| {
                anyhow!(
                    "cannot create the seed store helper Pod on {node}: {}",
                    api_words(&e)
                )
            })?;
        let ended = self.helper_ended(&name, node).await;
        let out = match ended {
            Ok(code) => self.helper_log(&name).await.map(|log| HelperOutput {
                code,
                stderr: if code == 0 {
                    String::new()
                } else {
                    log.clone()
                },
                stdout: log,
            }),
            Err(e) => Err(e),
        };
        self.remove_helper(&name).await;
        out
    }

    /// Deletes the helper Pod (ended, or never started: no grace needed)
    /// and waits a little for it to be gone, so that a `kip` command
    /// leaves nothing behind when it returns.
    async fn remove_helper(&self, name: &str) {
        let params = DeleteParams::default().grace_period(0);
        if self.pods().delete(name, &params).await.is_err() {
            return;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline {
            match self.pods().get_opt(name).await {
                Ok(Some(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
                _ => return,
            }
        }
    }

    /// The helper's exit code once its container ended; an error when it
    /// cannot run there (image, node) within [`HELPER_LIMIT`].
    async fn helper_ended(&self, name: &str, node: &str) -> Result<i64> {
        let deadline = tokio::time::Instant::now() + HELPER_LIMIT;
        loop {
            let pod = self
                .pods()
                .get(name)
                .await
                .map_err(|e| self.unreachable(e))?;
            if let Some(code) = exit_code(&pod) {
                return Ok(code);
            }
            let last = match super::pod_state::pod_problem(&pod) {
                super::pod_state::PodState::Failed(why) => {
                    return Err(anyhow!(
                        "the seed store helper cannot run on outer node {node}: {why}"
                    ))
                }
                super::pod_state::PodState::Waiting(what) => what,
                super::pod_state::PodState::Running => "Running".into(),
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(anyhow!(
                    "the seed store helper did not end on outer node {node} within {}s (last: {last}); \
                     is the node gone? `kubectl get node {node}`",
                    HELPER_LIMIT.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn helper_log(&self, name: &str) -> Result<String> {
        self.pods()
            .logs(name, &LogParams::default())
            .await
            .map_err(|e| {
                anyhow!(
                    "cannot read the seed store helper's output: {}",
                    api_words(&e)
                )
            })
    }
}

/// A node Pod that uses a seed.
#[derive(Debug, Clone)]
pub struct SeededPod {
    pub cluster: String,
    /// The outer node it runs on.
    pub node: String,
    pub seed: String,
    pub image: String,
}

impl SeededPod {
    fn of(pod: &Pod) -> Option<SeededPod> {
        let spec = pod.spec.as_ref()?;
        let mounts_store = spec.volumes.iter().flatten().any(|v| {
            v.name == remote::SEED_VOLUME
                && v.host_path.as_ref().is_some_and(|h| h.path == SEED_STORE)
        });
        if !mounts_store {
            return None;
        }
        let annotations = pod.metadata.annotations.as_ref();
        let from = |map: Option<&BTreeMap<String, String>>, key: &str| {
            map.and_then(|m| m.get(key)).cloned()
        };
        Some(SeededPod {
            cluster: from(annotations, labels::CLUSTER)?,
            node: spec.node_name.clone()?,
            seed: from(pod.metadata.labels.as_ref(), labels::SEED)
                .or_else(|| from(annotations, labels::SEED))?,
            image: spec.containers.first()?.image.clone()?,
        })
    }
}

/// The helper Pod: pinned to `node` (no scheduler: it must be that node,
/// whatever its taints), no service account token, the store a
/// `hostPath` that must exist (a helper never makes a store).
fn helper_pod(
    name: &str,
    node: &str,
    image: &str,
    script: &str,
    args: &[String],
) -> serde_json::Value {
    let mut command = vec![
        "sh".to_string(),
        "-c".into(),
        script.into(),
        "kip-seed-store".into(),
    ];
    command.extend(args.iter().cloned());
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {HELPER_LABEL: "true"}},
        "spec": {
            "nodeName": node,
            "restartPolicy": "Never",
            "automountServiceAccountToken": false,
            "tolerations": [{"operator": "Exists"}],
            "containers": [{
                "name": "store",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": command,
                "env": [{"name": "KIP_SEED_STORE", "value": SEED_STORE}],
                "volumeMounts": [{"name": "seeds", "mountPath": SEED_STORE}],
            }],
            "volumes": [{"name": "seeds", "hostPath": {"path": SEED_STORE, "type": "Directory"}}],
        }
    })
}

/// The exit code of the Pod's container, once it ended.
fn exit_code(pod: &Pod) -> Option<i64> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    let terminated = statuses.first()?.state.as_ref()?.terminated.as_ref()?;
    Some(i64::from(terminated.exit_code))
}

fn api_words(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

/// Tells apart the helpers of one kip process.
fn helper_number() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_helper_pod_is_pinned_to_its_node_and_never_makes_a_store() {
        let pod = helper_pod("h", "worker-2", "docker:28-dind", "echo", &["list".into()]);
        assert_eq!(pod["spec"]["nodeName"], "worker-2");
        assert_eq!(pod["spec"]["restartPolicy"], "Never");
        assert_eq!(pod["spec"]["volumes"][0]["hostPath"]["type"], "Directory");
        assert_eq!(pod["spec"]["containers"][0]["command"][4], "list");
        assert!(pod["metadata"]["labels"].get(labels::MANAGED_BY).is_none());
        let _: Pod = serde_json::from_value(pod).expect("a valid Pod");
    }

    #[test]
    fn only_pods_that_mount_the_store_on_a_node_are_seeded() {
        let pod = |volumes: serde_json::Value, node: Option<&str>| -> Pod {
            serde_json::from_value(json!({
                "metadata": {"name": "kip-a", "labels": {labels::SEED: "0123456789abcdef0123"},
                             "annotations": {labels::CLUSTER: "a"}},
                "spec": {"nodeName": node, "containers": [{"name": "node", "image": "dind:1"}], "volumes": volumes}
            }))
            .unwrap()
        };
        let store = json!([{"name": remote::SEED_VOLUME, "hostPath": {"path": SEED_STORE}}]);
        let seeded = SeededPod::of(&pod(store.clone(), Some("w1"))).expect("seeded");
        assert_eq!(
            (
                seeded.cluster.as_str(),
                seeded.node.as_str(),
                seeded.image.as_str()
            ),
            ("a", "w1", "dind:1")
        );
        assert!(
            SeededPod::of(&pod(store, None)).is_none(),
            "not scheduled yet"
        );
        assert!(SeededPod::of(&pod(json!([]), Some("w1"))).is_none());
    }
}
