//! Pods as containers on the local Docker engine: a pod network with a
//! configurable MTU, images pulled or reported as the kubelet reports them,
//! status driven by what the containers really do, startup and readiness
//! probes, graceful deletion, logs and events.

use crate::store::Key;
use crate::time::now_rfc3339;
use anyhow::{anyhow, Context, Result};
use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, Ipam, IpamConfig,
    NetworkCreateRequest, NetworkingConfig,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder, WaitContainerOptions,
};
use bollard::Docker;
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const LABEL: &str = "dev.kip.test.kube-emulator";
const POD_UID: &str = "dev.kip.test.kube-emulator.pod-uid";
const CONTAINER: &str = "dev.kip.test.kube-emulator.container";

static INSTANCES: AtomicU32 = AtomicU32::new(0);

pub struct Runtime {
    pub docker: Docker,
    /// This emulator's label value and network name.
    pub id: String,
    subnet: u8,
    next_ip: Mutex<u8>,
    /// The emulated node's filesystem, where hostPath volumes point ("/":
    /// this machine's own).
    pub node_root: std::path::PathBuf,
    /// How long every image "pull" takes (a slow registry, for tests that
    /// need a pod to stay in ContainerCreating for a while).
    pub pull_delay: Mutex<Duration>,
    /// What the kubelet gives every pod to reach the API server: the
    /// `KUBERNETES_SERVICE_*` env and, unless automount is off, the service
    /// account's token, CA and namespace. Set once the API listens.
    pub in_cluster: Mutex<Option<InCluster>>,
    /// The cluster DNS server's address, when it could listen.
    pub cluster_dns: Mutex<Option<String>>,
    /// Port-forward dials inside pods' network namespaces, as a kubelet
    /// does; that takes root, and without it the pod's IP is dialled.
    pub dials_in_pods: bool,
}

/// The API server as pods see it.
#[derive(Clone)]
pub struct InCluster {
    /// The HTTPS listener on the pod network's gateway (no service proxy).
    pub address: std::net::SocketAddr,
    pub ca_pem: String,
    pub token: String,
}

/// Where the kubelet mounts the service account in every container.
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

impl Runtime {
    /// A hostPath's place on this machine.
    pub fn on_node(&self, path: &str) -> std::path::PathBuf {
        self.node_root.join(path.trim_start_matches('/'))
    }

    /// The kubelet's hostPath type checks, with its message shape.
    fn check_host_path(&self, volume: &str, host: &Value) -> Result<()> {
        let path = host["path"].as_str().unwrap_or("");
        let on_node = self.on_node(path);
        let fail = |what: &str| {
            Err(anyhow!(
                "MountVolume.SetUp failed for volume \"{volume}\" : hostPath type check failed: {path} is not a {what}"
            ))
        };
        match host["type"].as_str().unwrap_or("") {
            "Directory" if !on_node.is_dir() => fail("directory"),
            "File" if !on_node.is_file() => fail("file"),
            "DirectoryOrCreate" => {
                std::fs::create_dir_all(&on_node)?;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    pub async fn start(mtu: u32, node_root: std::path::PathBuf) -> Result<Runtime> {
        let docker =
            Docker::connect_with_defaults().context("no Docker engine for the emulator's pods")?;
        docker
            .ping()
            .await
            .context("the Docker engine does not answer")?;
        let n = INSTANCES.fetch_add(1, Ordering::SeqCst);
        let id = format!("kube-emulator-{}-{n}", std::process::id());
        // A /24 under 10.231/16 that no other network holds: start at one
        // derived from this process and move on while the engine says the
        // pool overlaps (emulators of other processes share the engine).
        let first = (std::process::id() + n * 37) % 200;
        let mut attempt = 0;
        let subnet = loop {
            let subnet = ((first + attempt) % 200 + 20) as u8;
            let created = docker
                .create_network(NetworkCreateRequest {
                    name: id.clone(),
                    driver: Some("bridge".into()),
                    options: Some(HashMap::from([(
                        "com.docker.network.driver.mtu".to_string(),
                        mtu.to_string(),
                    )])),
                    ipam: Some(Ipam {
                        config: Some(vec![IpamConfig {
                            subnet: Some(format!("10.231.{subnet}.0/24")),
                            gateway: Some(format!("10.231.{subnet}.1")),
                            ..Default::default()
                        }]),
                        ..Default::default()
                    }),
                    labels: Some(HashMap::from([(LABEL.to_string(), "network".to_string())])),
                    ..Default::default()
                })
                .await;
            match created {
                Ok(_) => break subnet,
                Err(e) if e.to_string().contains("overlaps") && attempt < 199 => attempt += 1,
                Err(e) => return Err(e).context("cannot create the pod network"),
            }
        };
        Ok(Runtime {
            docker,
            id,
            subnet,
            next_ip: Mutex::new(10),
            node_root,
            pull_delay: Mutex::new(Duration::ZERO),
            in_cluster: Mutex::new(None),
            cluster_dns: Mutex::new(None),
            // SAFETY: geteuid has no preconditions.
            dials_in_pods: unsafe { libc::geteuid() } == 0,
        })
    }

    /// The host's address on the pod network.
    pub fn gateway(&self) -> String {
        format!("10.231.{}.1", self.subnet)
    }

    fn allocate_ip(&self) -> String {
        let mut next = self.next_ip.lock().unwrap_or_else(|e| e.into_inner());
        *next = if *next >= 250 { 10 } else { *next + 1 };
        format!("10.231.{}.{}", self.subnet, *next)
    }

    /// The host pid of a running container of the pod: its network
    /// namespace is the pod's.
    pub async fn netns_pid(&self, uid: &str) -> Option<u32> {
        for c in self.containers_of(uid).await {
            let Some(id) = c.id else { continue };
            let Ok(info) = self.docker.inspect_container(&id, None).await else {
                continue;
            };
            let pid = info.state.and_then(|s| s.pid).unwrap_or(0);
            if pid > 0 {
                return u32::try_from(pid).ok();
            }
        }
        None
    }

    async fn containers_of(&self, uid: &str) -> Vec<bollard::models::ContainerSummary> {
        // Both labels: another emulator on the same engine may have pods too.
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{LABEL}={}", self.id), format!("{POD_UID}={uid}")],
        )]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        self.docker
            .list_containers(Some(options))
            .await
            .unwrap_or_default()
    }

    /// The engine's ID of a pod's container (the first unless named).
    pub async fn container_id(&self, pod: &Value, container: Option<&str>) -> Result<String> {
        let uid = pod["metadata"]["uid"].as_str().unwrap_or("");
        let wanted = container.map(String::from).or_else(|| {
            pod["spec"]["containers"][0]["name"]
                .as_str()
                .map(String::from)
        });
        self.containers_of(uid)
            .await
            .into_iter()
            .find(|c| c.labels.as_ref().and_then(|l| l.get(CONTAINER)) == wanted.as_ref())
            .and_then(|c| c.id)
            .ok_or_else(|| anyhow!("container {:?} is not running", wanted.unwrap_or_default()))
    }

    /// The log of a pod's container (the first unless `container` names one).
    pub async fn logs(
        &self,
        pod: &Value,
        container: Option<&str>,
        follow: bool,
        tail: Option<&str>,
    ) -> Result<futures_util::stream::BoxStream<'static, bytes::Bytes>> {
        let uid = pod["metadata"]["uid"].as_str().unwrap_or("");
        let wanted = container.map(String::from).or_else(|| {
            pod["spec"]["containers"][0]["name"]
                .as_str()
                .map(String::from)
        });
        let found = self
            .containers_of(uid)
            .await
            .into_iter()
            .find(|c| c.labels.as_ref().and_then(|l| l.get(CONTAINER)) == wanted.as_ref())
            .and_then(|c| c.id)
            .ok_or_else(|| anyhow!("container {:?} is not running", wanted.unwrap_or_default()))?;
        let mut options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .follow(follow);
        if let Some(tail) = tail {
            options = options.tail(tail);
        }
        Ok(self
            .docker
            .logs(&found, Some(options.build()))
            .filter_map(|c| async move { c.ok().map(|c| c.into_bytes()) })
            .boxed())
    }

    /// Removes a container and its anonymous volumes; a missing one is fine.
    async fn remove(&self, id: &str) {
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        let _ = self.docker.remove_container(id, Some(options)).await;
    }

    /// Removes every container and the network this runtime made.
    pub async fn clean_up(&self) {
        let filters = HashMap::from([("label".to_string(), vec![format!("{LABEL}={}", self.id)])]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        for c in self
            .docker
            .list_containers(Some(options))
            .await
            .unwrap_or_default()
        {
            if let Some(id) = c.id {
                self.remove(&id).await;
            }
        }
        // emptyDir volumes are named after this runtime.
        let filters = HashMap::from([("name".to_string(), vec![self.id.clone()])]);
        let options = bollard::query_parameters::ListVolumesOptionsBuilder::new()
            .filters(&filters)
            .build();
        if let Ok(list) = self.docker.list_volumes(Some(options)).await {
            for v in list.volumes.unwrap_or_default() {
                let _ = self
                    .docker
                    .remove_volume(
                        &v.name,
                        None::<bollard::query_parameters::RemoveVolumeOptions>,
                    )
                    .await;
            }
        }
        let _ = self.docker.remove_network(&self.id).await;
        let _ = std::fs::remove_dir_all(std::env::temp_dir().join(&self.id));
    }
}

/// What the pod's controller loop needs of the emulator.
pub trait PodStore: Send + Sync + 'static {
    fn get_pod(&self, key: &Key) -> Option<Value>;
    /// Applies `change` to the pod's status; false when the pod is gone.
    fn update_pod_status(&self, key: &Key, change: &dyn Fn(&mut Value)) -> bool;
    /// Sets the pod's `spec.nodeName`, as the scheduler's binding does.
    fn bind_pod(&self, key: &Key, node: &str) -> bool;
    fn delete_pod(&self, key: &Key);
    fn event(&self, pod: &Value, kind: &str, reason: &str, message: &str);
}

fn condition(status: &mut Value, kind: &str, value: bool) {
    let now = now_rfc3339();
    let list = status["conditions"].as_array().cloned().unwrap_or_default();
    let mut list: Vec<Value> = list.into_iter().filter(|c| c["type"] != kind).collect();
    list.push(json!({"type": kind, "status": if value { "True" } else { "False" }, "lastTransitionTime": now, "lastProbeTime": null}));
    status["conditions"] = json!(list);
}

fn container_status(status: &mut Value, name: &str, change: impl FnOnce(&mut Value)) {
    let mut list = status["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let i = match list.iter().position(|c| c["name"] == name) {
        Some(i) => i,
        None => {
            list.push(json!({"name": name, "ready": false, "restartCount": 0, "started": false, "state": {}}));
            list.len() - 1
        }
    };
    change(&mut list[i]);
    status["containerStatuses"] = json!(list);
}

/// The emulator's one node.
pub const NODE_NAME: &str = "emulator-node";

/// The labels of the emulator's one node.
pub const NODE_LABELS: [(&str, &str); 3] = [
    ("kubernetes.io/hostname", NODE_NAME),
    ("kubernetes.io/os", "linux"),
    ("kubernetes.io/arch", "amd64"),
];

/// Runs a pod until it ends or is deleted.
pub async fn run_pod(rt: Arc<Runtime>, store: Arc<dyn PodStore>, key: Key) {
    if let Err(e) = run_pod_inner(&rt, &store, &key).await {
        if let Some(pod) = store.get_pod(&key) {
            store.event(&pod, "Warning", "Failed", &format!("{e:#}"));
        }
    }
}

async fn run_pod_inner(rt: &Runtime, store: &Arc<dyn PodStore>, key: &Key) -> Result<()> {
    let Some(pod) = store.get_pod(key) else {
        return Ok(());
    };
    let spec = pod["spec"].clone();
    let uid = pod["metadata"]["uid"].as_str().unwrap_or("").to_string();
    // A pod bound to another node by its `nodeName` waits for a kubelet
    // there that never comes: Pending, with no event, as on a cluster
    // whose node is gone.
    if spec["nodeName"].as_str().is_some_and(|n| n != NODE_NAME) {
        return Ok(());
    }
    // The one node's labels: a nodeSelector it does not match leaves the
    // pod Pending and Unschedulable, as the scheduler does.
    let selector = spec["nodeSelector"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if selector.iter().any(|(k, v)| {
        NODE_LABELS
            .iter()
            .all(|(nk, nv)| nk != k || Some(*nv) != v.as_str())
    }) {
        let message = "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";
        store.event(&pod, "Warning", "FailedScheduling", message);
        store.update_pod_status(key, &|s| {
            s["conditions"] = json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": message, "lastTransitionTime": now_rfc3339(), "lastProbeTime": null}]);
        });
        return Ok(());
    }
    let ip = rt.allocate_ip();
    store.bind_pod(key, NODE_NAME);
    store.event(
        &pod,
        "Normal",
        "Scheduled",
        &format!(
            "Successfully assigned {}/{} to {NODE_NAME}",
            key.namespace, key.name
        ),
    );
    store.update_pod_status(key, &|s| {
        condition(s, "PodScheduled", true);
        s["hostIP"] = json!("127.0.0.1");
        s["startTime"] = json!(now_rfc3339());
    });

    let containers = spec["containers"].as_array().cloned().unwrap_or_default();
    let delay = *rt.pull_delay.lock().unwrap_or_else(|e| e.into_inner());
    if !delay.is_zero() {
        for c in &containers {
            let image = c["image"].as_str().unwrap_or("");
            store.event(
                &pod,
                "Normal",
                "Pulling",
                &format!("Pulling image \"{image}\""),
            );
        }
        tokio::time::sleep(delay).await;
    }
    // Images first: a missing image is ErrImagePull, then ImagePullBackOff.
    for c in &containers {
        let image = c["image"].as_str().unwrap_or("");
        loop {
            if gone(store, key) {
                return Ok(());
            }
            match ensure_image(rt, image).await {
                Ok(()) => break,
                Err(e) => {
                    let message = format!("Failed to pull image \"{image}\": {e}");
                    let name = c["name"].as_str().unwrap_or("").to_string();
                    store.event(&pod, "Warning", "Failed", &message);
                    store.update_pod_status(key, &|s| {
                        container_status(s, &name, |cs| {
                            cs["state"] =
                                json!({"waiting": {"reason": "ErrImagePull", "message": message}})
                        });
                    });
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    store.event(
                        &pod,
                        "Normal",
                        "BackOff",
                        &format!("Back-off pulling image \"{image}\""),
                    );
                    store.update_pod_status(key, &|s| {
                        container_status(s, &name, |cs| {
                            cs["state"] = json!({"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{image}\"")}})
                        });
                    });
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        }
    }

    // configMap and secret volumes, as files; a missing source keeps the pod
    // in ContainerCreating with FailedMount events, as the kubelet does.
    let files = loop {
        if gone(store, key) {
            return Ok(());
        }
        match materialize(rt, store, &pod) {
            Ok(files) => break files,
            Err(e) => {
                let message = format!("{e:#}");
                store.event(&pod, "Warning", "FailedMount", &message);
                store.update_pod_status(key, &|s| {
                    for c in &containers {
                        let name = c["name"].as_str().unwrap_or("");
                        container_status(s, name, |cs| {
                            cs["state"] = json!({"waiting": {"reason": "ContainerCreating"}})
                        });
                    }
                });
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    };

    let mut ids = Vec::new();
    for (i, c) in containers.iter().enumerate() {
        let name = c["name"].as_str().unwrap_or("").to_string();
        // A container the runtime cannot create or start waits with the
        // kubelet's reason (this emulator does not retry it).
        let waiting = |reason: &str, e: &anyhow::Error| {
            let message = format!("{e:#}");
            store.update_pod_status(key, &|s| {
                container_status(s, &name, |cs| {
                    cs["state"] = json!({"waiting": {"reason": reason, "message": message}});
                    cs["image"] = c["image"].clone();
                });
            });
        };
        let id =
            match create_container(rt, &pod, c, &ip, ids.first().map(String::as_str), i, &files)
                .await
            {
                Ok(id) => id,
                Err(e) => {
                    waiting("CreateContainerError", &e);
                    return Err(e);
                }
            };
        if let Err(e) = rt
            .docker
            .start_container(&id, None)
            .await
            .with_context(|| format!("cannot start container {name}"))
        {
            waiting("RunContainerError", &e);
            return Err(e);
        }
        store.event(
            &pod,
            "Normal",
            "Started",
            &format!("Started container {name}"),
        );
        ids.push(id);
    }
    let has_probe = containers
        .iter()
        .any(|c| c.get("readinessProbe").is_some() || c.get("startupProbe").is_some());
    store.update_pod_status(key, &|s| {
        s["phase"] = json!("Running");
        s["podIP"] = json!(ip);
        s["podIPs"] = json!([{"ip": ip}]);
        condition(s, "Initialized", true);
        for c in &containers {
            let name = c["name"].as_str().unwrap_or("");
            container_status(s, name, |cs| {
                cs["state"] = json!({"running": {"startedAt": now_rfc3339()}});
                cs["started"] = json!(c.get("startupProbe").is_none());
                cs["ready"] = json!(!has_probe);
                cs["image"] = c["image"].clone();
            });
        }
        condition(s, "ContainersReady", !has_probe);
        condition(s, "Ready", !has_probe);
    });
    let _ = uid;

    // Each container: its probes, then wait for it to end. Restarts are not
    // emulated (kip's node Pods are restartPolicy: Never): a container that
    // ends ends the pod, Succeeded or Failed.
    let mut watchers = Vec::new();
    for (c, id) in containers.iter().zip(ids) {
        let (docker, store, key, c) = (rt.docker.clone(), store.clone(), key.clone(), c.clone());
        watchers.push(tokio::spawn(async move {
            let name = c["name"].as_str().unwrap_or("").to_string();
            if c.get("readinessProbe").is_some() || c.get("startupProbe").is_some() {
                let probed = (store.clone(), key.clone(), name.clone(), c.clone());
                tokio::spawn(probes(probed.0, probed.1, probed.2, probed.3, docker.clone(), id.clone()));
            }
            let code = match docker.wait_container(&id, None::<WaitContainerOptions>).try_collect::<Vec<_>>().await {
                Ok(r) => r.first().map_or(0, |w| w.status_code),
                Err(bollard::errors::Error::DockerContainerWaitError { code, .. }) => code,
                Err(_) => return,
            };
            if gone(&store, &key) {
                return;
            }
            let reason = if code == 0 { "Completed" } else { "Error" };
            store.update_pod_status(&key, &|s| {
                container_status(s, &name, |cs| {
                    cs["state"] = json!({"terminated": {"exitCode": code, "reason": reason, "finishedAt": now_rfc3339()}});
                    cs["ready"] = json!(false);
                });
                condition(s, "Ready", false);
                condition(s, "ContainersReady", false);
                s["phase"] = json!(if code == 0 { "Succeeded" } else { "Failed" });
            });
        }));
    }
    for w in watchers {
        let _ = w.await;
    }
    Ok(())
}

fn gone(store: &Arc<dyn PodStore>, key: &Key) -> bool {
    store
        .get_pod(key)
        .is_none_or(|p| p["metadata"]["deletionTimestamp"].is_string())
}

/// Where a pod's configMap and secret volumes are written on the host.
fn volume_dir(rt: &Runtime, uid: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(&rt.id).join(uid)
}

/// Writes each configMap and secret volume of `pod` as files (honouring
/// `items` and `defaultMode`) and returns their folders by volume name.
fn materialize(
    rt: &Runtime,
    store: &Arc<dyn PodStore>,
    pod: &Value,
) -> Result<HashMap<String, std::path::PathBuf>> {
    use base64::Engine;
    use std::os::unix::fs::PermissionsExt;
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
    let uid = pod["metadata"]["uid"].as_str().unwrap_or("");
    let mut out = HashMap::new();
    for v in pod["spec"]["volumes"].as_array().into_iter().flatten() {
        let name = v["name"].as_str().unwrap_or("");
        if let Some(host) = v.get("hostPath") {
            rt.check_host_path(name, host)?;
            continue;
        }
        let (source, resource, kind, object_name, encoded) = if let Some(cm) = v.get("configMap") {
            (
                cm,
                "configmaps",
                "configmap",
                cm["name"].as_str().unwrap_or(""),
                false,
            )
        } else if let Some(secret) = v.get("secret") {
            (
                secret,
                "secrets",
                "secret",
                secret["secretName"].as_str().unwrap_or(""),
                true,
            )
        } else {
            continue;
        };
        let key = Key {
            resource: resource.into(),
            namespace: ns.into(),
            name: object_name.into(),
        };
        let Some(object) = store.get_pod(&key) else {
            if source["optional"] == true {
                continue;
            }
            return Err(anyhow!("MountVolume.SetUp failed for volume \"{name}\" : {kind} \"{object_name}\" not found"));
        };
        let dir = volume_dir(rt, uid).join(name);
        std::fs::create_dir_all(&dir)?;
        let mode = source["defaultMode"].as_u64().unwrap_or(0o644) as u32;
        let mut entries: Vec<(String, String, u32)> = Vec::new();
        let data = object["data"].as_object().cloned().unwrap_or_default();
        match source["items"].as_array() {
            Some(items) => {
                for item in items {
                    let k = item["key"].as_str().unwrap_or("");
                    let path = item["path"].as_str().unwrap_or(k);
                    entries.push((
                        k.into(),
                        path.into(),
                        item["mode"].as_u64().map_or(mode, |m| m as u32),
                    ));
                }
            }
            None => entries.extend(data.keys().map(|k| (k.clone(), k.clone(), mode))),
        }
        for (k, path, file_mode) in entries {
            let value = data.get(&k).and_then(Value::as_str).unwrap_or("");
            let bytes = if encoded {
                base64::engine::general_purpose::STANDARD
                    .decode(value)
                    .unwrap_or_default()
            } else {
                value.as_bytes().to_vec()
            };
            let file = dir.join(&path);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&file, bytes)?;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(file_mode))?;
        }
        out.insert(name.to_string(), dir);
    }
    let in_cluster = rt
        .in_cluster
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if let (Some(api), false) = (
        in_cluster,
        pod["spec"]["automountServiceAccountToken"] == false,
    ) {
        let dir = volume_dir(rt, uid).join("kube-api-access");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("token"), &api.token)?;
        std::fs::write(dir.join("ca.crt"), &api.ca_pem)?;
        std::fs::write(dir.join("namespace"), ns)?;
        out.insert(SERVICE_ACCOUNT_VOLUME.to_string(), dir);
    }
    Ok(out)
}

/// The service account folder's key in `materialize`'s answer (a name no
/// pod volume can have: it is not a DNS label).
const SERVICE_ACCOUNT_VOLUME: &str = "kube-api-access:";

/// A pod's /etc/resolv.conf as the kubelet writes it: ClusterFirst (the
/// default) names the cluster DNS with the namespace's search path; Default
/// is the node's own resolver (this machine's, less loopback servers, which
/// mean nothing inside a pod).
fn resolv_conf(rt: &Runtime, pod: &Value) -> String {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let cluster_first = matches!(
        pod["spec"]["dnsPolicy"].as_str().unwrap_or("ClusterFirst"),
        "ClusterFirst" | "ClusterFirstWithHostNet"
    );
    let cluster_dns = rt
        .cluster_dns
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    match cluster_dns {
        Some(ip) if cluster_first => {
            let d = crate::dns::DOMAIN;
            format!("nameserver {ip}\nsearch {ns}.svc.{d} svc.{d} {d}\noptions ndots:5\n")
        }
        _ => std::fs::read_to_string("/etc/resolv.conf")
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                !l.split_whitespace().nth(1).is_some_and(|server| {
                    l.starts_with("nameserver") && (server.starts_with("127.") || server == "::1")
                })
            })
            .map(|l| format!("{l}\n"))
            .collect(),
    }
}

/// The emulator never pulls (its tests run where no registry is reachable):
/// an image the local engine lacks fails as a kubelet's failed pull does.
async fn ensure_image(rt: &Runtime, image: &str) -> Result<()> {
    if rt.docker.inspect_image(image).await.is_ok() {
        return Ok(());
    }
    Err(anyhow!(
        "rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": \
         failed to resolve reference \"{image}\": not found (the kube-emulator does not pull; load images into the local engine)"
    ))
}

async fn create_container(
    rt: &Runtime,
    pod: &Value,
    c: &Value,
    ip: &str,
    first: Option<&str>,
    index: usize,
    files: &HashMap<String, std::path::PathBuf>,
) -> Result<String> {
    let meta = &pod["metadata"];
    let (ns, pod_name, uid) = (
        meta["namespace"].as_str().unwrap_or(""),
        meta["name"].as_str().unwrap_or(""),
        meta["uid"].as_str().unwrap_or(""),
    );
    let cname = c["name"].as_str().unwrap_or("c");
    let mut env = Vec::new();
    for e in c["env"].as_array().into_iter().flatten() {
        let name = e["name"].as_str().unwrap_or("");
        let value = match e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
            Some("status.podIP") => ip.to_string(),
            Some("metadata.name") => pod_name.to_string(),
            Some("metadata.namespace") => ns.to_string(),
            Some(other) => return Err(anyhow!("fieldRef {other} is not emulated")),
            None => e["value"].as_str().unwrap_or("").to_string(),
        };
        env.push(format!("{name}={value}"));
    }
    let mut binds = Vec::new();
    // What the kubelet adds to every container: the `kubernetes` Service's
    // env (pointing at the gateway listener: no service proxy here) and the
    // service account, unless the pod turned automount off.
    if let Some(api) = rt
        .in_cluster
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
    {
        let (host, port) = (api.address.ip(), api.address.port());
        for (k, v) in [
            ("KUBERNETES_SERVICE_HOST", host.to_string()),
            ("KUBERNETES_SERVICE_PORT", port.to_string()),
            ("KUBERNETES_SERVICE_PORT_HTTPS", port.to_string()),
            ("KUBERNETES_PORT", format!("tcp://{host}:{port}")),
        ] {
            if !env.iter().any(|e| e.starts_with(&format!("{k}="))) {
                env.push(format!("{k}={v}"));
            }
        }
    }
    if let Some(dir) = files.get(SERVICE_ACCOUNT_VOLUME) {
        binds.push(format!("{}:{SERVICE_ACCOUNT_DIR}:ro", dir.display()));
    }
    let mut tmpfs = HashMap::new();
    for m in c["volumeMounts"].as_array().into_iter().flatten() {
        let vol_name = m["name"].as_str().unwrap_or("");
        let path = m["mountPath"].as_str().unwrap_or("");
        let ro = if m["readOnly"] == true { ":ro" } else { "" };
        let volume = pod["spec"]["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| v["name"] == vol_name);
        match volume {
            Some(v) if v.get("hostPath").is_some() => binds.push(format!(
                "{}:{path}{ro}",
                rt.on_node(v["hostPath"]["path"].as_str().unwrap_or(""))
                    .display()
            )),
            Some(v) if v["emptyDir"]["medium"] == "Memory" => {
                tmpfs.insert(path.to_string(), String::new());
            }
            Some(v) if v.get("emptyDir").is_some() => {
                binds.push(format!("{}-{uid}-{vol_name}:{path}{ro}", rt.id))
            }
            Some(_) if files.contains_key(vol_name) => {
                binds.push(format!("{}:{path}:ro", files[vol_name].display()));
            }
            _ => {
                return Err(anyhow!(
                    "volume {vol_name:?} is not emulated (emptyDir, hostPath, configMap and secret are)"
                ))
            }
        }
    }
    let privileged = c["securityContext"]["privileged"] == true;
    // The pod's resolv.conf, never the engine's embedded DNS (which would
    // resolve other pods by their names, as no cluster does).
    let resolv = volume_dir(rt, uid).join("resolv.conf");
    std::fs::create_dir_all(volume_dir(rt, uid))?;
    std::fs::write(&resolv, resolv_conf(rt, pod))?;
    binds.push(format!("{}:/etc/resolv.conf", resolv.display()));
    let labels = HashMap::from([
        (LABEL.to_string(), rt.id.clone()),
        (POD_UID.to_string(), uid.to_string()),
        (CONTAINER.to_string(), cname.to_string()),
    ]);
    let host_config = |caps: bool| HostConfig {
        // A privileged container sees the cgroup tree read-write; the
        // fallback gives it the same.
        binds: Some(if privileged && caps {
            let mut b = binds.clone();
            b.push("/sys/fs/cgroup:/sys/fs/cgroup:rw".into());
            b
        } else {
            binds.clone()
        }),
        tmpfs: Some(tmpfs.clone()),
        privileged: Some(privileged && !caps),
        cap_add: (privileged && caps).then(|| vec!["ALL".to_string()]),
        cap_drop: (privileged && caps).then(|| vec!["SYS_RESOURCE".to_string()]),
        security_opt: (privileged && caps).then(|| {
            vec![
                "seccomp=unconfined".to_string(),
                "apparmor=unconfined".to_string(),
            ]
        }),
        // The CLI's `systempaths=unconfined`: nothing masked or read-only
        // under /proc and /sys, as in a privileged container.
        masked_paths: (privileged && caps).then(Vec::new),
        readonly_paths: (privileged && caps).then(Vec::new),
        device_cgroup_rules: (privileged && caps).then(|| vec!["a *:* rmw".to_string()]),
        network_mode: Some(match first {
            Some(first) => format!("container:{first}"),
            None => rt.id.clone(),
        }),
        ..Default::default()
    };
    let networking = first.is_none().then(|| NetworkingConfig {
        endpoints_config: Some(HashMap::from([(
            rt.id.clone(),
            EndpointSettings {
                ipam_config: Some(EndpointIpamConfig {
                    ipv4_address: Some(ip.to_string()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )])),
    });
    let body = |caps: bool| ContainerCreateBody {
        image: c["image"].as_str().map(String::from),
        entrypoint: c["command"].as_array().map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        }),
        cmd: c["args"].as_array().map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        }),
        env: Some(env.clone()),
        labels: Some(labels.clone()),
        hostname: first.is_none().then(|| pod_name.to_string()),
        host_config: Some(host_config(caps)),
        networking_config: networking.clone(),
        ..Default::default()
    };
    let name = format!(
        "{}-{pod_name}-{cname}-{index}-{}",
        rt.id,
        &uid[uid.len().saturating_sub(5)..]
    );
    for caps in [false, true] {
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        let id = rt
            .docker
            .create_container(Some(options), body(caps))
            .await
            .with_context(|| format!("cannot create container {cname}"))?
            .id;
        if !privileged || caps {
            return Ok(id);
        }
        // Probe that privileged mode works on this engine; else recreate
        // with the explicit capability profile, as kip does.
        match rt.docker.start_container(&id, None).await {
            Ok(()) => {
                rt.docker
                    .stop_container(&id, Some(StopContainerOptionsBuilder::new().t(0).build()))
                    .await
                    .ok();
                return Ok(id);
            }
            Err(e) if e.to_string().contains("unable to apply caps") => {
                rt.docker
                    .remove_container(
                        &id,
                        Some(RemoveContainerOptionsBuilder::new().force(true).build()),
                    )
                    .await
                    .ok();
            }
            Err(e) => return Err(anyhow!("cannot start container {cname}: {e}")),
        }
    }
    Err(anyhow!("cannot create container {cname}"))
}

/// Stops a pod's containers (SIGTERM, then SIGKILL after the grace period)
/// and removes them, then the pod.
pub async fn stop_pod(
    rt: Arc<Runtime>,
    store: Arc<dyn PodStore>,
    key: Key,
    uid: String,
    grace: i64,
) {
    for c in rt.containers_of(&uid).await {
        if let Some(id) = c.id {
            let t = i32::try_from(grace).unwrap_or(30);
            let _ = rt
                .docker
                .stop_container(&id, Some(StopContainerOptionsBuilder::new().t(t).build()))
                .await;
            rt.remove(&id).await;
        }
    }
    let _ = std::fs::remove_dir_all(volume_dir(&rt, &uid));
    store.delete_pod(&key);
}

/// The startup probe first (a container that never starts is killed, and
/// its pod ends with it), then the readiness probe.
async fn probes(
    store: Arc<dyn PodStore>,
    key: Key,
    container: String,
    spec: Value,
    docker: Docker,
    id: String,
) {
    if let Some(startup) = spec.get("startupProbe") {
        let secs = |field: &str, default: u64| startup[field].as_u64().unwrap_or(default);
        tokio::time::sleep(Duration::from_secs(secs("initialDelaySeconds", 0))).await;
        let (period, timeout) = (
            Duration::from_secs(secs("periodSeconds", 10)),
            Duration::from_secs(secs("timeoutSeconds", 1)),
        );
        let mut fails = 0;
        loop {
            if gone(&store, &key) {
                return;
            }
            let ip = store
                .get_pod(&key)
                .and_then(|p| p["status"]["podIP"].as_str().map(String::from))
                .unwrap_or_default();
            if tokio::time::timeout(timeout, check(startup, &ip, Some((&docker, &id))))
                .await
                .unwrap_or(false)
            {
                break;
            }
            fails += 1;
            if fails >= secs("failureThreshold", 3) {
                if let Some(pod) = store.get_pod(&key) {
                    store.event(
                        &pod,
                        "Warning",
                        "Unhealthy",
                        &format!("Startup probe failed; container {container} will be restarted"),
                    );
                }
                let _ = docker
                    .kill_container(&id, None::<bollard::query_parameters::KillContainerOptions>)
                    .await;
                return;
            }
            tokio::time::sleep(period).await;
        }
    }
    let readiness = spec.get("readinessProbe").cloned();
    store.update_pod_status(&key, &|s| {
        container_status(s, &container, |cs| {
            cs["started"] = json!(true);
            if readiness.is_none() {
                cs["ready"] = json!(true);
            }
        });
        let all = s["containerStatuses"]
            .as_array()
            .is_some_and(|l| l.iter().all(|c| c["ready"] == true));
        condition(s, "ContainersReady", all);
        condition(s, "Ready", all);
    });
    if let Some(readiness) = readiness {
        probe_loop(store, key, container, readiness).await;
    }
}

async fn probe_loop(store: Arc<dyn PodStore>, key: Key, container: String, probe: Value) {
    let secs = |field: &str, default: u64| probe[field].as_u64().unwrap_or(default);
    tokio::time::sleep(Duration::from_secs(secs("initialDelaySeconds", 0))).await;
    let (period, timeout) = (
        Duration::from_secs(secs("periodSeconds", 10)),
        Duration::from_secs(secs("timeoutSeconds", 1)),
    );
    let (needed_ok, needed_fail) = (secs("successThreshold", 1), secs("failureThreshold", 3));
    let (mut oks, mut fails, mut ready) = (0, 0, false);
    while !gone(&store, &key) {
        let ip = store
            .get_pod(&key)
            .and_then(|p| p["status"]["podIP"].as_str().map(String::from))
            .unwrap_or_default();
        let passed = tokio::time::timeout(timeout, check(&probe, &ip, None))
            .await
            .unwrap_or(false);
        if passed {
            (oks, fails) = (oks + 1, 0);
        } else {
            (oks, fails) = (0, fails + 1);
        }
        let now_ready = if passed && oks >= needed_ok {
            true
        } else if !passed && fails >= needed_fail {
            false
        } else {
            ready
        };
        if now_ready != ready {
            ready = now_ready;
            store.update_pod_status(&key, &|s| {
                container_status(s, &container, |cs| cs["ready"] = json!(ready));
                let all = s["containerStatuses"]
                    .as_array()
                    .is_some_and(|l| l.iter().all(|c| c["ready"] == true));
                condition(s, "ContainersReady", all);
                condition(s, "Ready", all);
            });
        }
        tokio::time::sleep(period).await;
    }
}

/// A tcpSocket or httpGet probe, or an exec probe where the container is
/// given (startup probes: a remote pool member's).
async fn check(probe: &Value, ip: &str, container: Option<(&Docker, &str)>) -> bool {
    if let (Some(command), Some((docker, id))) = (probe["exec"]["command"].as_array(), container) {
        let cmd: Vec<String> = command
            .iter()
            .filter_map(|c| c.as_str().map(String::from))
            .collect();
        return exec_succeeds(docker, id, cmd).await;
    }
    if let Some(port) = probe["tcpSocket"]["port"].as_u64() {
        return tokio::net::TcpStream::connect((ip, port as u16))
            .await
            .is_ok();
    }
    if let Some(port) = probe["httpGet"]["port"].as_u64() {
        let path = probe["httpGet"]["path"].as_str().unwrap_or("/");
        let https = probe["httpGet"]["scheme"] == "HTTPS";
        return crate::probe::http_get(ip, port as u16, path, https)
            .await
            .is_some_and(|code| (200..400).contains(&code));
    }
    false
}

/// Runs `cmd` in container `id` as the kubelet runs an exec probe: whether
/// it exited 0.
async fn exec_succeeds(docker: &Docker, id: &str, cmd: Vec<String>) -> bool {
    use bollard::exec::{CreateExecOptions, StartExecResults};
    let options = CreateExecOptions {
        cmd: Some(cmd),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let Ok(created) = docker.create_exec(id, options).await else {
        return false;
    };
    if let Ok(StartExecResults::Attached { mut output, .. }) =
        docker.start_exec(&created.id, None).await
    {
        while output.next().await.is_some() {}
    }
    docker
        .inspect_exec(&created.id)
        .await
        .is_ok_and(|i| i.exit_code == Some(0))
}
