//! `kip snapshot save CLUSTER SNAPSHOT`: the facts a restore checks, read
//! from the running node; then its volume copied into a new snapshot
//! volume while the node is frozen (or stopped with `--stop`), and the
//! metadata written last. A failure or a signal removes the snapshot
//! volume and leaves the source running.

use super::volume::{self, HELPER_IMAGE_LABEL};
use super::{cert, volume_labels, volume_name, Metadata};
use crate::cluster::signals::Signals;
use crate::error::Error;
use crate::names;
use crate::node::contract::KUBECONFIG;
use crate::node::labels;
use crate::node::progress::BootstrapSummary;
use crate::output::{size, Printer};
use crate::provider::docker::{DockerNode, DockerProvider};
use crate::provider::{Node, Provider};
use anyhow::Result;
use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

/// What to save.
#[derive(Debug, Clone)]
pub struct SaveSettings {
    pub cluster: String,
    pub name: String,
    /// Stop the node cleanly for the copy instead of freezing it.
    pub stop: bool,
}

/// Read in the node: the inner kind cluster, the kind node image kip made
/// it from (its name in the node, and its ID there), the Kubernetes
/// version, the architecture, as `key=value` lines.
const PROBE: &str = r#"name=$(cat /var/lib/docker/.kip-kind-cluster 2>/dev/null || echo "$1")
id=$(docker ps -aq --filter "label=io.x-k8s.kind.cluster=$name" | head -n 1)
[ -n "$id" ] || { echo "no kind node of cluster $name" >&2; exit 1; }
echo "kind_cluster=$name"
image=${KIP_NODE_IMAGE:-$(docker inspect -f '{{.Config.Image}}' "$id")}
echo "kind_image=$image"
echo "kind_image_id=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || docker inspect -f '{{.Image}}' "$id")"
echo "kubernetes=$(docker exec "$id" cat /kind/version 2>/dev/null || true)"
echo "arch=$(uname -m)"
"#;

pub async fn save(
    engine: &DockerProvider,
    settings: &SaveSettings,
    printer: &Printer,
) -> Result<Metadata> {
    let volume = volume_name(&settings.name);
    if engine.volume_labels(&volume).await?.is_some() {
        return Err(taken(&settings.name));
    }
    let node = engine.find_running(&settings.cluster).await?;
    let (meta, kubeconfig) = facts(&node, settings).await?;
    let mut signals = Signals::listen()?;
    let mut labels_ = volume_labels(&settings.name, &settings.cluster, meta.seed.as_deref());
    labels_.insert(HELPER_IMAGE_LABEL.into(), meta.dind_image.clone());
    if !engine.create_new_volume(&volume, &labels_).await? {
        return Err(taken(&settings.name));
    }
    let made = make(engine, &node, meta, &kubeconfig, &mut signals, printer).await;
    if made.is_err() {
        discard_unfinished(engine, &volume, printer).await;
    }
    made
}

/// A failed save's volume removed, or named for the user to remove.
/// `remove_volume` waits out a helper that holds it for a moment.
pub(super) async fn discard_unfinished(engine: &DockerProvider, volume: &str, printer: &Printer) {
    match engine.remove_volume(volume).await {
        Ok(_) => printer.info(&format!("Removed what this run created: volume {volume}")),
        Err(e) => printer.warn(&format!(
            "the unfinished snapshot's volume {volume} is left ({e:#}); `docker volume rm {volume}` removes it"
        )),
    }
}

/// The copy, then what completes the snapshot.
async fn make(
    engine: &DockerProvider,
    node: &DockerNode,
    mut meta: Metadata,
    kubeconfig: &str,
    signals: &mut Signals,
    printer: &Printer,
) -> Result<Metadata> {
    let (cluster, image) = (meta.source.clone(), meta.dind_image.clone());
    let (container, volume) = (node.info().node.clone(), volume_name(&meta.name));
    let how = if meta.stopped { "stopped" } else { "frozen" };
    let step = printer.step(
        "snapshot-copied",
        &format!("Copying cluster {cluster}'s node ({how} meanwhile)"),
    );
    let helper =
        volume::prepare_copy_out(engine, &image, &names::volume_name(&cluster), &volume).await?;
    let started = Instant::now();
    let frozen = if meta.stopped {
        engine.stop_node(&cluster, &container).await
    } else {
        engine.pause(&container).await
    };
    if let Err(e) = frozen {
        let _ = engine.remove_helper(&helper).await;
        return Err(e);
    }
    let copied = volume::run_copy_out(engine, &helper).await;
    let thawed = if meta.stopped {
        engine.start_container(&container).await
    } else {
        engine.unpause(&container).await
    };
    meta.frozen_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let linked = copied?;
    thawed?;
    step.done(&format!(
        "Copied{}; cluster {cluster} was {how} for {:.1}s",
        if linked {
            format!(" ({})", volume::LINKED)
        } else {
            String::new()
        },
        started.elapsed().as_secs_f64()
    ));
    complete(
        engine,
        meta,
        kubeconfig,
        signals,
        printer,
        &format!("cluster {cluster}"),
    )
    .await
}

/// What completes a snapshot once its data root is in its volume (a
/// local copy or a remote stream): the kind cluster's kubeconfig kept and
/// the size taken, then the metadata written; `source` names the cluster
/// in the line that says so.
pub(super) async fn complete(
    engine: &DockerProvider,
    mut meta: Metadata,
    kubeconfig: &str,
    signals: &mut Signals,
    printer: &Printer,
    source: &str,
) -> Result<Metadata> {
    let (image, volume) = (meta.dind_image.clone(), volume_name(&meta.name));
    let how = if meta.stopped { "stopped" } else { "frozen" };
    signals.check()?;
    meta.size_bytes =
        volume::finish(engine, &image, &volume, (&meta.kind_cluster, kubeconfig)).await?;
    signals.check()?;
    volume::write_metadata(engine, &image, &meta).await?;
    printer.info(&format!(
        "Saved snapshot {} of {source}: {}, {how} {:.1}s (`kip up NEW --from {}`)",
        meta.name,
        size(meta.size_bytes),
        meta.frozen_ms as f64 / 1000.0,
        meta.name
    ));
    Ok(meta)
}

/// The facts a restore checks, and kind's kubeconfig of the cluster (of a
/// local node, or of a remote one: `super::remote_save`).
pub(super) async fn facts(node: &impl Node, settings: &SaveSettings) -> Result<(Metadata, String)> {
    let info = node.info();
    let boot = BootstrapSummary::from_log(&node.log().await?).facts;
    let probe = probe(node, &settings.cluster).await?;
    let kubeconfig = node.read_file(KUBECONFIG).await?;
    let get =
        |map: &BTreeMap<String, String>, key: &str| map.get(key).filter(|v| !v.is_empty()).cloned();
    let expires = client_certificate(&kubeconfig)
        .as_deref()
        .and_then(cert::not_after)
        .map(|t| humantime::format_rfc3339_seconds(t).to_string());
    let meta = Metadata {
        name: settings.name.clone(),
        source: settings.cluster.clone(),
        created_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        kip_version: env!("CARGO_PKG_VERSION").to_string(),
        dind_image: info.image.clone(),
        kind_image: get(&probe, "kind_image").unwrap_or_default(),
        kind_image_id: get(&probe, "kind_image_id").unwrap_or_default(),
        kubernetes_version: get(&probe, "kubernetes"),
        kind_cluster: get(&probe, "kind_cluster").unwrap_or_else(|| settings.cluster.clone()),
        mtu: get(&boot, "mtu").and_then(|m| m.parse().ok()),
        cgroup: get(&boot, "cgroup"),
        iptables: get(&boot, "iptables"),
        arch: get(&probe, "arch").unwrap_or_default(),
        certificates_expire_at: expires,
        seed: info.labels.get(labels::SEED).cloned(),
        size_bytes: 0,
        frozen_ms: 0,
        stopped: settings.stop,
    };
    Ok((meta, kubeconfig))
}

async fn probe(node: &impl Node, cluster: &str) -> Result<BTreeMap<String, String>> {
    let command: Vec<String> = ["sh", "-c", PROBE, "kip-probe", cluster]
        .map(String::from)
        .to_vec();
    let out = node.exec_capture(&command, None).await?;
    if out.code != 0 {
        return Err(Error::SnapshotHelperFailed {
            what: "read the cluster's facts in its node".into(),
            error: out.stderr.trim().to_string(),
        }
        .into());
    }
    Ok(out
        .stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect())
}

/// The PEM of the kubeconfig's (first) client certificate.
fn client_certificate(kubeconfig: &str) -> Option<String> {
    use base64::Engine;
    let doc: serde_yaml::Value = serde_yaml::from_str(kubeconfig).ok()?;
    let data = doc
        .get("users")?
        .get(0)?
        .get("user")?
        .get("client-certificate-data")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.as_str()?)
        .ok()?;
    String::from_utf8(bytes).ok()
}

fn taken(name: &str) -> anyhow::Error {
    Error::SnapshotExists {
        name: name.to_string(),
    }
    .into()
}
