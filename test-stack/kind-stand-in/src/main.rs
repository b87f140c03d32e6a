//! TEST INFRASTRUCTURE ONLY. A strict stand-in for `kind`, baked into kip's
//! test node image because neither kind nor its node images can be downloaded
//! on the CI machine. It is never part of the `kip` binary.
//!
//! `kind create cluster` decodes the config as kind does (unknown fields are
//! errors), refuses a config that breaks any promise kip makes (see
//! `config::check_kip_promises`), generates a CA and an API server certificate
//! whose SANs come from the config's certSANs patch (as kubeadm's would), and
//! starts a real nested container on the node's inner dockerd that serves a
//! small slice of the Kubernetes API over TLS on the configured port. A node
//! image with the label `io.kip.test-stack.hold` makes it wait mid-creation
//! (see `hold_if_asked`), for tests of what happens meanwhile.

mod config;
mod pki;
mod serve;

use anyhow::{bail, Context, Result};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The stand-in's state of each cluster (its PKI, what was loaded): in the
/// node's Docker data root, where kind's own state is (its node container's
/// rootfs and `/var` volume), so that what carries a data root carries the
/// cluster (a restart, a snapshot: `kip up --from`) and a wiped root loses it.
const STATE_DIR: &str = "/var/lib/docker/kip-test-kind";
const ROOTFS_IMAGE: &str = "kip-test-kind-rootfs:latest";
pub const SERVER_VERSION: &str = "v1.33.1-kip-test-stand-in";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(err) = run(&args) {
        eprintln!("ERROR: {err:#}");
        std::process::exit(1);
    }
}

fn run(args: &[String]) -> Result<()> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["version"] | ["--version"] => {
            println!("kind v0.0.0-kip-test-stand-in");
            Ok(())
        }
        ["create", "cluster", rest @ ..] => create_cluster(&Flags::parse(rest)?.no_positionals()?),
        ["delete", "cluster", rest @ ..] => delete_cluster(&Flags::parse(rest)?.no_positionals()?),
        ["load", "docker-image", rest @ ..] => load_images(&Flags::parse(rest)?),
        ["export", "logs", rest @ ..] => export_logs(&Flags::parse(rest)?),
        ["get", "clusters"] => {
            for name in clusters()? {
                println!("{name}");
            }
            Ok(())
        }
        ["serve-control-plane", dir, port] => serve::run(Path::new(dir), port.parse()?),
        // Not a kind command: a TCP echo server the egress tests run in a
        // container on the outer network.
        ["kip-test-tcp-echo", port] => serve::echo(port.parse()?),
        // Not a kind command: per connection, reads a byte count on a line
        // and sends that many bytes (port-forward throughput benchmarks).
        ["kip-test-tcp-bytes", port] => serve::bytes(port.parse()?),
        _ => bail!(
            "the kip test stand-in for kind does not support: kind {}",
            words.join(" ")
        ),
    }
}

#[derive(Debug, Default)]
struct Flags {
    positionals: Vec<String>,
    name: Option<String>,
    config: Option<PathBuf>,
    kubeconfig: Option<PathBuf>,
    wait: Option<String>,
    image: Option<String>,
}

impl Flags {
    fn parse(args: &[&str]) -> Result<Self> {
        let mut flags = Flags::default();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let (key, inline) = match arg.split_once('=') {
                Some((k, v)) => (k, Some(v.to_string())),
                None => (*arg, None),
            };
            let mut value = || -> Result<String> {
                match &inline {
                    Some(v) => Ok(v.clone()),
                    None => it
                        .next()
                        .map(|s| s.to_string())
                        .with_context(|| format!("flag needs an argument: {key}")),
                }
            };
            match key {
                "--name" | "-n" => flags.name = Some(value()?),
                "--config" => flags.config = Some(value()?.into()),
                "--kubeconfig" => flags.kubeconfig = Some(value()?.into()),
                "--wait" => flags.wait = Some(value()?),
                "--image" => flags.image = Some(value()?),
                other if other.starts_with('-') => bail!("unknown flag: {other}"),
                other => flags.positionals.push(other.to_string()),
            }
        }
        Ok(flags)
    }

    fn no_positionals(self) -> Result<Self> {
        if let Some(extra) = self.positionals.first() {
            bail!("unexpected argument: {extra}");
        }
        Ok(self)
    }

    fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("kind")
    }
}

fn docker(args: &[&str]) -> Result<String> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("cannot run docker")?;
    if !out.status.success() {
        bail!(
            "docker {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn clusters() -> Result<Vec<String>> {
    let out = docker(&[
        "ps",
        "-a",
        "--filter",
        "label=io.x-k8s.kind.cluster",
        "--format",
        "{{.Label \"io.x-k8s.kind.cluster\"}}",
    ])?;
    Ok(out.lines().map(String::from).collect())
}

fn status(line: &str) {
    eprintln!(" ✓ {line}");
}

fn create_cluster(flags: &Flags) -> Result<()> {
    let name = flags.name();
    let config_path = flags
        .config
        .as_ref()
        .context("the kip test stand-in requires --config (kip always passes one)")?;
    let text = std::fs::read_to_string(config_path)
        .with_context(|| format!("cannot read config {}", config_path.display()))?;
    let cluster = config::parse(&text)?;
    let checked = config::check_kip_promises(&cluster, &node_addresses()?)?;
    eprintln!("Creating cluster {name:?} ...");
    docker(&["info", "--format", "{{.ServerVersion}}"])
        .context("failed to create cluster: docker is not answering")?;
    if clusters()?.iter().any(|c| c == name) {
        bail!("node(s) already exist for a cluster with the name {name:?}");
    }

    // As the real kind: a node image the engine already has is used as it
    // is; any other would be pulled, and no registry answers here.
    if let Some(image) = &flags.image {
        if docker(&["image", "inspect", "--format", "{{.Id}}", image]).is_err() {
            bail!(
                "failed to create cluster: failed to pull image {image:?}: the kip test stand-in \
                 for kind has no registry (kip should have streamed the image in)"
            );
        }
    }
    if let Some(image) = &flags.image {
        hold_if_asked(image)?;
    }
    ensure_rootfs_image()?;
    status("Ensuring node image (kip test stand-in) 🖼");
    ensure_kind_network()?;

    let dir = Path::new(STATE_DIR).join(name);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let container = format!("{name}-control-plane");
    let mut sans = checked.cert_sans.clone();
    sans.extend([
        "kubernetes".into(),
        "kubernetes.default".into(),
        container.clone(),
    ]);
    let pki = pki::generate(&sans)?;
    pki.write(&dir)?;
    status("Preparing nodes 📦");

    let publish = format!(
        "{}:{}:6443",
        checked.api_server_address, checked.api_server_port
    );
    let kind_mount = format!("{}:/kind:ro", dir.display());
    docker(&[
        "run",
        "-d",
        "--name",
        &container,
        "--hostname",
        &container,
        "--network",
        "kind",
        "--label",
        &format!("io.x-k8s.kind.cluster={name}"),
        "--label",
        "io.x-k8s.kind.role=control-plane",
        "-p",
        &publish,
        "-v",
        "/usr:/usr:ro",
        "-v",
        &kind_mount,
        ROOTFS_IMAGE,
        "/usr/local/bin/kind",
        "serve-control-plane",
        "/kind",
        "6443",
    ])?;
    status("Starting control-plane 🕹️");

    let deadline = Instant::now() + Duration::from_secs(30);
    let target = format!("127.0.0.1:{}", checked.api_server_port);
    while std::net::TcpStream::connect(&target).is_err() {
        if Instant::now() > deadline {
            let logs = docker(&["logs", "--tail", "20", &container]).unwrap_or_default();
            bail!("control-plane never answered on {target}: {logs}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    if let Some(path) = &flags.kubeconfig {
        let server = format!("https://127.0.0.1:{}", checked.api_server_port);
        std::fs::write(path, pki.kubeconfig(name, &server))
            .with_context(|| format!("cannot write kubeconfig {}", path.display()))?;
    }
    eprintln!(
        "Set kubectl context to \"kind-{name}\" (pod subnet {}, service subnet {})",
        checked.pod_subnet, checked.service_subnet
    );
    Ok(())
}

/// The label on a stand-in kind node image that makes `create cluster`
/// hold mid-creation, so a test can act while a `kip up` is surely under way.
const HOLD_LABEL: &str = "io.kip.test-stack.hold";

/// A node image labelled `io.kip.test-stack.hold=PATH` (a path in the node):
/// creation writes `PATH.waiting`, then waits until `PATH` exists.
fn hold_if_asked(image: &str) -> Result<()> {
    let format = format!("{{{{index .Config.Labels {HOLD_LABEL:?}}}}}");
    let path = docker(&["image", "inspect", "--format", &format, image])?;
    if path.is_empty() || path == "<no value>" {
        return Ok(());
    }
    let waiting = format!("{path}.waiting");
    std::fs::write(&waiting, "").with_context(|| format!("cannot write {waiting}"))?;
    eprintln!("Holding until {path} exists (kip test stand-in)");
    let deadline = Instant::now() + Duration::from_secs(600);
    while !Path::new(&path).exists() {
        if Instant::now() > deadline {
            bail!("held for 10 minutes: nothing created {path}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn delete_cluster(flags: &Flags) -> Result<()> {
    let name = flags.name();
    eprintln!("Deleting cluster {name:?} ...");
    let ids = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=io.x-k8s.kind.cluster={name}"),
    ])?;
    for id in ids.lines() {
        docker(&["rm", "-f", "-v", id])?;
    }
    let _ = std::fs::remove_dir_all(Path::new(STATE_DIR).join(name));
    Ok(())
}

/// Like `kind load docker-image`: the images must be in the node's Docker;
/// the stand-in records them as loaded into its one node.
fn load_images(flags: &Flags) -> Result<()> {
    let name = flags.name();
    if flags.positionals.is_empty() {
        bail!("an image name is required");
    }
    if !clusters()?.iter().any(|c| c == name) {
        bail!("no nodes found for cluster {name:?}");
    }
    let record = Path::new(STATE_DIR).join(name).join("loaded-images");
    let mut loaded = std::fs::read_to_string(&record).unwrap_or_default();
    for image in &flags.positionals {
        let id = docker(&["image", "inspect", "-f", "{{.Id}}", image])
            .with_context(|| format!("image: {image:?} not present locally"))?;
        eprintln!("Image: {image:?} with ID {id:?} loaded into node \"{name}-control-plane\"");
        loaded.push_str(&format!("{image} {id}\n"));
    }
    std::fs::write(&record, loaded)?;
    Ok(())
}

/// Like `kind export logs DIR`: the control plane's log and what was loaded.
fn export_logs(flags: &Flags) -> Result<()> {
    let name = flags.name();
    let [dir] = flags.positionals.as_slice() else {
        bail!("kind export logs takes one folder");
    };
    let node_dir = Path::new(dir).join(format!("{name}-control-plane"));
    std::fs::create_dir_all(&node_dir)?;
    let container = format!("{name}-control-plane");
    let out = Command::new("docker").args(["logs", &container]).output()?;
    let mut log = out.stdout;
    log.extend_from_slice(&out.stderr);
    std::fs::write(node_dir.join("serve.log"), log)?;
    let loaded = Path::new(STATE_DIR).join(name).join("loaded-images");
    std::fs::write(
        node_dir.join("images.log"),
        std::fs::read(loaded).unwrap_or_default(),
    )?;
    std::fs::write(
        Path::new(dir).join("kind-version.txt"),
        "kind v0.0.0-kip-test-stand-in\n",
    )?;
    eprintln!("Exported logs for cluster {name:?} to:\n{dir}");
    Ok(())
}

/// The nested control-plane runs the node's own binaries through a read-only
/// bind mount of /usr, so its image only needs the usrmerge symlinks and the
/// mount points: importing it takes milliseconds and needs no registry.
fn ensure_rootfs_image() -> Result<()> {
    if docker(&["image", "inspect", ROOTFS_IMAGE]).is_ok() {
        return Ok(());
    }
    let script = format!(
        "set -e; d=$(mktemp -d); cd \"$d\"; mkdir -p usr etc tmp proc sys dev run kind; \
         for l in bin lib lib64 sbin; do ln -s usr/$l $l; done; \
         tar -c . | docker import - {ROOTFS_IMAGE} >/dev/null; rm -rf \"$d\""
    );
    let ok = Command::new("sh").args(["-c", &script]).status()?.success();
    if !ok {
        bail!("cannot import {ROOTFS_IMAGE}");
    }
    Ok(())
}

/// Like kind: a `kind` network whose MTU copies the inner default bridge's.
fn ensure_kind_network() -> Result<()> {
    if docker(&["network", "inspect", "kind"]).is_ok() {
        return Ok(());
    }
    let mtu = docker(&[
        "network",
        "inspect",
        "bridge",
        "--format",
        "{{index .Options \"com.docker.network.driver.mtu\"}}",
    ])
    .unwrap_or_default();
    let mut args = vec!["network", "create", "kind"];
    let opt;
    if let Ok(mtu) = mtu.parse::<u32>() {
        opt = format!("com.docker.network.driver.mtu={mtu}");
        args.extend(["-o", &opt]);
    }
    docker(&args).map(|_| ())
}

fn node_addresses() -> Result<Vec<Ipv4Addr>> {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr", "show"])
        .output();
    let Ok(out) = out else { return Ok(Vec::new()) };
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3))
        .filter_map(|cidr| cidr.split('/').next()?.parse().ok())
        .filter(|a: &Ipv4Addr| !a.is_loopback())
        .collect())
}
