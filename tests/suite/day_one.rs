//! What kind users reach for on day one (issue 21): host ports, a local
//! registry, a pull-through cache shared by clusters, several nodes.
//!
//! The bad inputs run on the stand-in (fast); the behaviour runs on the real
//! kind (`real_kind.rs`'s images) in ONE two-node cluster with host ports,
//! `--registry` and `--mirror` that serves the host-port, registry, cache,
//! multi-node and restart checks, plus one small second cluster for the
//! cache's "pulled once" check. Registries use the Distribution registry
//! the test stack builds (`KIP_TEST_REGISTRY_IMAGE`).

use super::e2e::{docker, required, E2e};
use super::real_kind::{apply, http_get, ok, pod, pod_running, RealKind};
use super::support::{eventually, Checks};
use super::support::{kip, Run};
use std::process::Command;
use std::time::{Duration, Instant};

/// The registry image of `test-stack/real-kind/build.sh`, or None (after
/// saying why) when it is missing and KIP_E2E is not set.
pub(super) fn registry_image() -> Option<String> {
    let image = std::env::var("KIP_TEST_REGISTRY_IMAGE")
        .unwrap_or_else(|_| "kip-test-registry:latest".into());
    let present = Command::new("docker")
        .args(["image", "inspect", &image])
        .output()
        .is_ok_and(|o| o.status.success());
    if present {
        return Some(image);
    }
    let why =
        format!("the registry image {image} is missing (build it: test-stack/real-kind/build.sh)");
    assert!(!required(), "KIP_E2E=1 but {why}");
    eprintln!("skipping: {why}");
    None
}

/// kip registries a test made, removed (with `kip registry rm`) when it ends.
pub(super) struct Registries<'a> {
    e2e: &'a E2e,
    image: String,
    names: Vec<String>,
}

impl<'a> Registries<'a> {
    pub(super) fn new(e2e: &'a E2e, image: String) -> Self {
        Registries {
            e2e,
            image,
            names: Vec::new(),
        }
    }

    /// `kip registry create NAME --image IMAGE EXTRA… -o json`.
    fn create(&mut self, name: &str, extra: &[&str]) -> Run {
        self.names.push(name.to_string());
        let mut args = vec![
            "registry",
            "create",
            name,
            "--image",
            &self.image,
            "-o",
            "json",
        ];
        args.extend_from_slice(extra);
        self.e2e.kip(&args).run()
    }

    /// A registry made, and its port.
    #[track_caller]
    pub(super) fn port(&mut self, name: &str, extra: &[&str]) -> u16 {
        let run = self.create(name, extra);
        run.success();
        let made = run.json();
        made["port"].as_u64().expect("a port") as u16
    }
}

impl Drop for Registries<'_> {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = self.e2e.kip(&["registry", "rm", name]).run();
        }
    }
}

/// Nothing of registry `name` is left on the engine.
#[track_caller]
fn assert_registry_gone(name: &str) {
    let object = format!("kip-registry-{name}");
    for kind in ["container", "volume"] {
        let out = Command::new("docker")
            .args([kind, "inspect", &object])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{kind} {object} is left");
    }
}

/// The engine's default bridge gateway: where containers reach what kip's
/// registries publish for them.
pub(super) fn gateway() -> String {
    let ipam = docker(&[
        "network",
        "inspect",
        "bridge",
        "-f",
        "{{range .IPAM.Config}}{{.Gateway}} {{.Subnet}}{{end}}",
    ]);
    let mut words = ipam.split_whitespace();
    match (words.next(), words.next()) {
        (Some(gateway), Some(_)) => gateway.to_string(),
        // Docker 20.10 leaves the implicit gateway out: the subnet's first address.
        (Some(subnet), None) => {
            let network: std::net::Ipv4Addr = subnet.split('/').next().unwrap().parse().unwrap();
            std::net::Ipv4Addr::from(u32::from(network) + 1).to_string()
        }
        _ => panic!("the bridge network has no IPv4 subnet: {ipam:?}"),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// An image FROM `base` with a label of its own: another image ID.
fn build_from(base: &str, tag: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {base}\nLABEL dev.kip.e2e={tag}\n"),
    )
    .unwrap();
    let out = Command::new("docker")
        .args(["build", "-q", "-t", tag])
        .arg(dir.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker build {tag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `docker tag` + `docker push` of a host image to a registry on 127.0.0.1.
fn push(image: &str, to: &str) -> Result<(), String> {
    for args in [vec!["tag", image, to], vec!["push", to]] {
        let out = Command::new("docker")
            .args(&args)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "docker {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let _ = Command::new("docker").args(["rmi", to]).output();
    Ok(())
}

// ---------------------------------------------------------------------------
// Bad input, on the stand-in.

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_host_port_in_use_is_refused_before_anything_is_made() {
    let Some(t) = E2e::new("porttaken") else {
        return;
    };
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let flag = format!("127.0.0.1:{port}:80");
    t.up(&t.name, &["-p", &flag])
        .code(3)
        .stderr_has(&format!("host port 127.0.0.1:{port}/tcp is already in use"))
        .stderr_has("nothing was made");
    t.assert_nothing_left(&t.name);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_registry_name_someone_else_has_is_never_touched() {
    let Some(t) = E2e::new("regforeign") else {
        return;
    };
    let Some(image) = registry_image() else {
        return;
    };
    let name = format!("{}-r", t.name);
    let container = format!("kip-registry-{name}");
    docker(&["create", "--name", &container, &image]);
    let mut registries = Registries::new(&t, image);
    registries.create(&name, &[]).code(3).stderr_has(&format!(
        "a container named {container} exists that is not a kip registry"
    ));
    t.kip(&["registry", "rm", &name]).run().code(3);
    docker(&["inspect", &container]);
    docker(&["rm", &container]);
    registries.names.clear();
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_registry_that_is_not_there_is_not_found() {
    let Some(t) = E2e::new("regnone") else {
        return;
    };
    let missing = format!("{}-none", t.name);
    t.up(&t.name, &["--registry", &missing])
        .code(5)
        .stderr_has(&format!("no kip registry named {missing}"));
    t.assert_nothing_left(&t.name);
    t.kip(&["registry", "rm", &missing]).run().code(5);
}

/// A cache whose upstream went away: `up --mirror` names the upstream and
/// makes nothing; with `--mirror-optional` the cluster is made without it.
/// A cache made with an upstream that does not answer is not kept.
#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn a_cache_whose_upstream_does_not_answer() {
    let Some(t) = E2e::new("mirrordown") else {
        return;
    };
    let Some(image) = registry_image() else {
        return;
    };
    let mut registries = Registries::new(&t, image);
    let (hub, cache) = (format!("{}-hub", t.name), format!("{}-cache", t.name));
    let hub_port = registries.port(&hub, &[]);
    let upstream = format!("http://{}:{hub_port}", gateway());
    registries.port(&cache, &["--proxy", &upstream, "--proxy-for", "docker.io"]);
    docker(&["stop", &format!("kip-registry-{hub}")]);

    t.up(&t.name, &["--mirror", &cache])
        .code(3)
        .stderr_has(&format!("cannot reach its upstream {upstream}"))
        .stderr_has("--mirror-optional");
    t.assert_nothing_left(&t.name);

    t.up(&t.name, &["--mirror", &cache, "--mirror-optional"])
        .success()
        .stderr_has("making the cluster without it (--mirror-optional)");
    let status = t.kip(&["status", &t.name, "-o", "json"]).run();
    status.success();
    let status = status.json();
    assert_eq!(status["mirror"], serde_json::Value::Null, "{status}");
    t.kip(&["down", &t.name]).run().success();

    let dead = format!("{}-dead", t.name);
    registries
        .create(&dead, &["--proxy", "http://127.0.0.1:9"])
        .code(3)
        .stderr_has("the upstream http://127.0.0.1:9 does not answer");
    assert_registry_gone(&dead);
}

#[test]
#[ignore = "end-to-end: needs Docker, the test node image and kubectl (KIP_E2E=1 makes their absence a failure)"]
fn registries_are_listed_and_removed_whole() {
    let Some(t) = E2e::new("reglist") else {
        return;
    };
    let Some(image) = registry_image() else {
        return;
    };
    let mut registries = Registries::new(&t, image);
    let name = format!("{}-r", t.name);
    let port = registries.port(&name, &[]);
    // The same again is the same registry; another port is refused.
    registries.create(&name, &[]).success();
    let other = (port + 1).to_string();
    registries
        .create(&name, &["--port", &other])
        .code(3)
        .stderr_has("exists with other settings");
    let list = t.kip(&["registry", "list", "-o", "json"]).run();
    list.success();
    let list = list.json();
    super::schema::assert_valid("registry-list.schema.json", &list);
    let ours = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name.as_str())
        .expect("listed");
    assert_eq!(ours["host"], format!("localhost:{port}"));
    t.kip(&["registry", "list"])
        .run()
        .success()
        .stdout_has(&name);
    t.kip(&["registry", "rm", &name]).run().success();
    assert_registry_gone(&name);
    registries.names.clear();
}

// ---------------------------------------------------------------------------
// The real kind.

/// One DNS question (A, kubernetes.default.svc.cluster.local) over UDP to
/// 127.0.0.1:port: the number of answers.
fn dns_answers(port: u16) -> Result<u16, String> {
    let mut query = vec![0x4b, 0x1d, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in "kubernetes.default.svc.cluster.local".split('.') {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    socket
        .send_to(&query, ("127.0.0.1", port))
        .map_err(|e| e.to_string())?;
    let mut answer = [0u8; 512];
    let n = socket.recv(&mut answer).map_err(|e| e.to_string())?;
    if n < 12 || answer[..2] != query[..2] {
        return Err(format!("not an answer to the question: {:?}", &answer[..n]));
    }
    Ok(u16::from_be_bytes([answer[6], answer[7]]))
}

/// How many `METHOD` requests for `path` the registry container served, by
/// its access log (`ADDR - - [TIME] "GET /v2/… HTTP/1.1" 200 …`; its debug
/// log's trace spans name requests too, and are not counted).
fn requests(container: &str, method: &str, path: &str) -> usize {
    let out = Command::new("docker")
        .args(["logs", container])
        .output()
        .unwrap();
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let wanted = format!("] \"{method} {path}");
    log.lines().filter(|l| l.contains(&wanted)).count()
}

/// The kind nodes' InternalIP addresses, by node name.
fn node_addresses(t: &RealKind, name: &str) -> Result<String, String> {
    ok(&t.kubectl(
        name,
        &["get", "nodes", "-o",
          "jsonpath={range .items[*]}{.metadata.name}={.status.addresses[?(@.type==\"InternalIP\")].address} {end}"],
    ))
    .map(|s| s.trim().to_string())
}

fn all_nodes_ready(t: &RealKind, name: &str, count: usize) -> Result<(), String> {
    eventually(Duration::from_secs(300), || {
        let out = ok(&t.kubectl(
            name,
            &["get", "nodes", "-o",
              "jsonpath={range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}"],
        ))?
        .to_string();
        let ready = out.lines().filter(|l| *l == "True").count();
        (ready == count && out.lines().count() == count)
            .then_some(())
            .ok_or(format!("Ready conditions: {out:?}"))
    })
}

/// A pod pinned to one kind node.
fn pod_on(node: &str, pod_name: &str, image: &str, command: &[&str], pull: &str) -> String {
    let mut spec: serde_json::Value =
        serde_json::from_str(&pod(pod_name, image, command, false)).unwrap();
    spec["spec"]["nodeSelector"] = serde_json::json!({"kubernetes.io/hostname": node});
    // With workers, kind keeps the control plane's NoSchedule taint.
    spec["spec"]["tolerations"] = serde_json::json!([
        {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
    ]);
    spec["spec"]["containers"][0]["imagePullPolicy"] = pull.into();
    spec.to_string()
}

fn node_port_service(
    name: &str,
    namespace: &str,
    selector: serde_json::Value,
    port: u16,
    node_port: u16,
    protocol: &str,
) -> String {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "type": "NodePort",
            "selector": selector,
            "ports": [{"port": port, "targetPort": port, "nodePort": node_port, "protocol": protocol}],
        },
    })
    .to_string()
}

/// `examples/registry-cache.yaml`, as a user applies it to a shared cluster
/// (here the cluster under test; the image is the test stack's registry,
/// loaded, since nothing is pulled from the internet here, and the upstream
/// is the registry that plays Docker Hub): it gets Ready, and its Service
/// serves an image's manifest from the upstream, from a kind node, as the
/// Docker of a remote node given `--mirror http://CLUSTER_IP:5000` asks.
fn the_example_cache_serves(
    t: &RealKind,
    name: &str,
    registry_image: &str,
    upstream: &str,
    hub_repo: &str,
) -> Result<(), String> {
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/registry-cache.yaml"),
    )
    .map_err(|e| e.to_string())?;
    let image = format!("kip.local/e2e-registry:{}", std::process::id());
    docker(&["tag", registry_image, &image]);
    let loaded = ok(&t.e2e.kip(&["load", name, &image]).run()).map(|_| ());
    let _ = Command::new("docker").args(["rmi", &image]).output();
    loaded?;
    let manifest = example
        .lines()
        .map(|line| match line.trim() {
            l if l.starts_with("image: registry:") => format!(
                "{}image: {image}\n{}imagePullPolicy: Never",
                &line[..line.len() - l.len()],
                &line[..line.len() - l.len()]
            ),
            "value: https://registry-1.docker.io" => {
                line.replace("https://registry-1.docker.io", upstream)
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    if !manifest.contains(&image) || !manifest.contains(upstream) {
        return Err("the example no longer has the registry image or REGISTRY_PROXY_REMOTEURL lines this check replaces".into());
    }
    apply(t, name, &manifest)?;
    eventually(Duration::from_secs(180), || {
        let ready = ok(&t.kubectl(
            name,
            &[
                "-n",
                "kip-cache",
                "get",
                "deployment",
                "registry-cache",
                "-o",
                "jsonpath={.status.readyReplicas}",
            ],
        ))?
        .to_string();
        (ready == "1")
            .then_some(())
            .ok_or(format!("ready replicas: {ready:?}"))
    })?;
    let ip = ok(&t.kubectl(
        name,
        &[
            "-n",
            "kip-cache",
            "get",
            "service",
            "registry-cache",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ],
    ))?
    .trim()
    .to_string();
    let url = format!("http://{ip}:5000/v2/{hub_repo}/manifests/1");
    let accept = "Accept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";
    let node = format!("{name}-control-plane");
    eventually(Duration::from_secs(60), || {
        let out = ok(&t
            .e2e
            .exec(
                name,
                &["docker", "exec", &node, "curl", "-fsS", "-H", accept, &url],
            )
            .run())?
        .to_string();
        out.contains("schemaVersion").then_some(()).ok_or(out)
    })
}

#[test]
#[ignore = "needs Docker and the real-kind images (test-stack/real-kind/build.sh); CI runs it with --include-ignored"]
fn two_nodes_with_host_ports_a_registry_and_a_cache_on_the_real_kind() {
    let Some(t) = RealKind::new("dayone") else {
        return;
    };
    let Some(registry_image) = registry_image() else {
        return;
    };
    let started = Instant::now();
    let name = t.e2e.name.clone();
    let id = std::process::id();
    let mut registries = Registries::new(&t.e2e, registry_image);
    let (local, hub, cache) = (
        format!("{name}-reg"),
        format!("{name}-hub"),
        format!("{name}-cache"),
    );
    let local_port = registries.port(&local, &[]);
    let hub_port = registries.port(&hub, &[]);
    let upstream = format!("http://{}:{hub_port}", gateway());
    registries.port(&cache, &["--proxy", &upstream, "--proxy-for", "docker.io"]);

    // What pods will pull: an image pushed from the host to the local
    // registry (etcd, which serves HTTP), and one in the registry that plays
    // Docker Hub (pause), pulled as docker.io/… through the cache.
    let etcd = docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        &t.node_image,
        "-c",
        "kubeadm config images list --kubernetes-version $(cat /kind/version) | grep /etcd:",
    ])
    .trim()
    .to_string();
    let pause = docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        &t.node_image,
        "-c",
        "kubeadm config images list --kubernetes-version $(cat /kind/version) | grep /pause:",
    ])
    .trim()
    .to_string();
    let app = format!("localhost:{local_port}/kip-e2e/app:{id}");
    push(&etcd, &app).expect("push to the local registry");
    let hub_repo = format!("kip-e2e/hubapp-{id}");
    push(&pause, &format!("127.0.0.1:{hub_port}/{hub_repo}:1")).expect("push to the upstream");
    // An image of its own (the kubelet, with KEP-2535's pulled-image
    // records, refuses `imagePullPolicy: Never` for an image ID it pulled
    // under another name, as `app` is).
    let loaded = format!("kip.local/e2e-dayone:{id}");
    build_from(&etcd, &loaded);

    let tcp_port = free_port();
    let udp_port = free_udp_port();
    let kind_config = t.e2e.dir.path().join("kind.yaml");
    std::fs::write(
        &kind_config,
        format!(
            "nodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 30080\n    hostPort: {tcp_port}\n    listenAddress: 127.0.0.1\n- role: worker\n"
        ),
    )
    .unwrap();
    let udp_flag = format!("127.0.0.1:{udp_port}:30053/udp");
    let up = t.up(
        &name,
        &[
            "--kind-config",
            kind_config.to_str().unwrap(),
            "-p",
            &udp_flag,
            "--registry",
            &local,
            "--mirror",
            &cache,
        ],
    );
    up.success();
    eprintln!(
        "the two-node cluster took {:.0}s",
        started.elapsed().as_secs_f64()
    );
    let (control_plane, worker) = (format!("{name}-control-plane"), format!("{name}-worker"));
    let mut c = Checks::default();

    c.check("both kind nodes Ready", all_nodes_ready(&t, &name, 2));
    c.check(
        "kip status lists the host ports, the registry and the cache",
        {
            ok(&t.e2e.kip(&["status", &name, "-o", "json"]).run()).and_then(|out| {
                let v: serde_json::Value = serde_json::from_str(out).map_err(|e| e.to_string())?;
                super::schema::assert_valid("cluster-status.schema.json", &v);
                let ports: Vec<(u64, u64, String)> = v["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        (
                            p["hostPort"].as_u64().unwrap_or(0),
                            p["containerPort"].as_u64().unwrap_or(0),
                            p["protocol"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect();
                let want = vec![
                    (u64::from(tcp_port), 30080, "tcp".to_string()),
                    (u64::from(udp_port), 30053, "udp".to_string()),
                ];
                (ports == want && v["registry"] == local.as_str() && v["mirror"] == cache.as_str())
                    .then_some(())
                    .ok_or(format!(
                        "ports {ports:?}, registry {}, mirror {}",
                        v["registry"], v["mirror"]
                    ))
            })
        },
    );
    c.check(
        "the local-registry-hosting ConfigMap (KEP-1755) names the registry",
        {
            ok(&t.kubectl(
                &name,
                &[
                    "get",
                    "configmap",
                    "-n",
                    "kube-public",
                    "local-registry-hosting",
                    "-o",
                    "jsonpath={.data.localRegistryHosting\\.v1}",
                ],
            ))
            .and_then(|out| {
                out.contains(&format!("host: localhost:{local_port}"))
                    .then_some(())
                    .ok_or(out.to_string())
            })
        },
    );
    c.check(
        "a pod runs an image pushed to the local registry from the host",
        {
            apply(
                &t,
                &name,
                &pod_on(
                    &worker,
                    "app",
                    &app,
                    &[
                        "etcd",
                        "--data-dir=/tmp/etcd",
                        "--listen-client-urls=http://0.0.0.0:2379",
                        "--advertise-client-urls=http://127.0.0.1:2379",
                    ],
                    "Always",
                ),
            )
            .and_then(|()| pod_running(&t, &name, "app"))
        },
    );
    c.check(
        "a Service behind an extraPortMappings port answers on the host's port (TCP)",
        {
            apply(
                &t,
                &name,
                &node_port_service(
                    "app",
                    "default",
                    serde_json::json!({"app": "app"}),
                    2379,
                    30080,
                    "TCP",
                ),
            )
            .and_then(|()| {
                eventually(Duration::from_secs(120), || {
                    let body = http_get(tcp_port, "/version")?;
                    body.contains("etcdserver").then_some(()).ok_or(body)
                })
            })
        },
    );
    c.check(
        "CoreDNS behind a -p …/udp port answers on the host's port (UDP)",
        {
            apply(
                &t,
                &name,
                &node_port_service(
                    "dns-udp",
                    "kube-system",
                    serde_json::json!({"k8s-app": "kube-dns"}),
                    53,
                    30053,
                    "UDP",
                ),
            )
            .and_then(|()| {
                eventually(Duration::from_secs(120), || match dns_answers(udp_port)? {
                    0 => Err("no answer record".into()),
                    _ => Ok(()),
                })
            })
        },
    );
    let docker_io = format!("docker.io/{hub_repo}:1");
    c.check("a pod pulls a docker.io image through the cache", {
        apply(
            &t,
            &name,
            &pod_on(&control_plane, "hub", &docker_io, &[], "Always"),
        )
        .and_then(|()| pod_running(&t, &name, "hub"))
    });
    c.check(
        "the node's own dockerd pulls docker.io through the cache",
        {
            ok(&t
                .e2e
                .exec(&name, &["docker", "pull", &format!("{hub_repo}:1")])
                .run())
            .map(|_| ())
        },
    );
    let hub_container = format!("kip-registry-{hub}");
    let blob_path = format!("/v2/{hub_repo}/blobs/");
    let first_gets = requests(&hub_container, "GET", &blob_path);
    let load = t.e2e.kip(&["load", &name, &loaded]).run();
    eprintln!("kip load: {load}");
    c.check(
        "kip load reaches every kind node: the image runs on the worker and the control plane with imagePullPolicy Never",
        ok(&load).map(|_| ()).and_then(|()| {
            for (pod_name, node) in [("loaded-w", &worker), ("loaded-cp", &control_plane)] {
                apply(&t, &name, &pod_on(node, pod_name, &loaded, &["etcd", "--data-dir=/tmp/etcd"], "Never"))?;
                pod_running(&t, &name, pod_name)?;
            }
            Ok(())
        }),
    );
    c.check(
        "a pod on the worker resolves kubernetes.default through CoreDNS on the control plane",
        {
            apply(
                &t,
                &name,
                &pod_on(
                    &worker,
                    "tools",
                    &format!("registry.k8s.io/kube-proxy:{}", t.version),
                    &["sleep", "infinity"],
                    "Never",
                ),
            )
            .and_then(|()| pod_running(&t, &name, "tools"))
            .and_then(|()| {
                eventually(Duration::from_secs(120), || {
                    let out = ok(&t.kubectl(
                        &name,
                        &[
                            "exec",
                            "tools",
                            "--",
                            "getent",
                            "hosts",
                            "kubernetes.default.svc.cluster.local",
                        ],
                    ))?
                    .to_string();
                    (!out.trim().is_empty()).then_some(()).ok_or(out)
                })
            })
        },
    );

    c.check(
        "examples/registry-cache.yaml makes a cache whose Service serves the upstream's images",
        the_example_cache_serves(&t, &name, &registries.image, &upstream, &hub_repo),
    );

    let before = node_addresses(&t, &name);
    let restarted = Instant::now();
    c.check("after docker restart of kip's node, both kind nodes are Ready at their old addresses, and the ports answer again", {
        docker(&["restart", &t.e2e.node_id(&name)]);
        all_nodes_ready(&t, &name, 2)
            .and_then(|()| {
                let after = node_addresses(&t, &name)?;
                (Ok(&after) == before.as_ref()).then_some(()).ok_or(format!("addresses before {before:?}, after {after:?}"))
            })
            .and_then(|()| pod_running(&t, &name, "app"))
            .and_then(|()| eventually(Duration::from_secs(180), || {
                let body = http_get(tcp_port, "/version")?;
                body.contains("etcdserver").then_some(()).ok_or(body)
            }))
            .and_then(|()| eventually(Duration::from_secs(120), || dns_answers(udp_port).map(|_| ())))
    });
    eprintln!("the restart took {:.0}s", restarted.elapsed().as_secs_f64());

    // A second cluster, one after the other, pulls the same image through
    // the cache: the upstream serves it no more.
    let second = format!("{name}-2");
    let second_started = Instant::now();
    c.check("a second cluster pulls the image through the cache, and the upstream serves it once", {
        ok(&t.up(&second, &["--mirror", &cache]))
            .map(|_| ())
            .and_then(|()| all_nodes_ready(&t, &second, 1))
            .and_then(|()| {
                // The controller manager makes the default ServiceAccount
                // shortly after the API answers.
                let node = format!("{second}-control-plane");
                let hub_pod = pod_on(&node, "hub", &docker_io, &[], "Always");
                eventually(Duration::from_secs(60), || apply(&t, &second, &hub_pod))
            })
            .and_then(|()| pod_running(&t, &second, "hub"))
            .and_then(|()| {
                let gets = requests(&hub_container, "GET", &blob_path);
                let heads = requests(&hub_container, "HEAD", &format!("/v2/{hub_repo}/manifests/"));
                eprintln!("upstream: {gets} blob GETs in all ({first_gets} after the first cluster), {heads} manifest HEADs (tag revalidation)");
                (first_gets > 0 && gets == first_gets)
                    .then_some(())
                    .ok_or(format!("the upstream served {first_gets} blob GETs for the first cluster and {gets} after the second"))
            })
    });
    eprintln!(
        "the second cluster took {:.0}s",
        second_started.elapsed().as_secs_f64()
    );
    c.check("kip down of both leaves nothing of them", {
        let down = t.e2e.kip(&["down", &name, &second]).run();
        ok(&down).map(|_| ()).and_then(|()| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                t.e2e.assert_nothing_left(&name);
                t.e2e.assert_nothing_left(&second);
            }))
            .map_err(|_| "see the panic above".to_string())
        })
    });
    c.check(
        "the registries outlive the clusters, and kip registry rm leaves nothing of them",
        {
            let listed = ok(&t.e2e.kip(&["registry", "list"]).run()).map(|s| s.to_string());
            let all = [local.as_str(), hub.as_str(), cache.as_str()];
            listed
                .and_then(|l| all.iter().all(|r| l.contains(r)).then_some(()).ok_or(l))
                .and_then(|()| {
                    ok(&t.e2e.kip(&["registry", "rm", &local, &hub, &cache]).run()).map(|_| ())
                })
                .and_then(|()| {
                    std::panic::catch_unwind(|| all.iter().for_each(|r| assert_registry_gone(r)))
                        .map_err(|_| "see the panic above".to_string())
                })
        },
    );
    registries.names.clear();
    let _ = Command::new("docker").args(["rmi", &loaded]).output();
    eprintln!(
        "the whole test took {:.0}s",
        started.elapsed().as_secs_f64()
    );
    c.finish();
}

// ---------------------------------------------------------------------------
// The command line.

#[test]
fn up_help_says_host_ports_and_registries_are_local_only() {
    let help = kip(&["up", "--help"]).run();
    help.success()
        .stdout_has("-p, --port <[ADDRESS:]HOST:CONTAINER[/udp]>")
        .stdout_has("local only, refused with --remote")
        .stdout_has("--mirror <NAME|URL>")
        .stdout_has("--mirror-optional");
}

#[test]
fn bad_ports_and_registry_names_are_usage_errors() {
    kip(&["up", "-p", "8080"])
        .run()
        .code(2)
        .stderr_has("expected [ADDRESS:]HOST_PORT:CONTAINER_PORT");
    kip(&["up", "-p", "8080:80/sctp"])
        .run()
        .code(2)
        .stderr_has("tcp or udp");
    kip(&["registry", "create", "Bad_Name"])
        .run()
        .code(2)
        .stderr_has("is not a DNS-1123 label");
    kip(&["registry", "create", "x", "--proxy-for", "docker.io"])
        .run()
        .code(2)
        .stderr_has("--proxy <URL>");
    kip(&["registry", "create", "x", "--proxy", "registry-1.docker.io"])
        .env("DOCKER_HOST", "unix:///nonexistent/kip-test.sock")
        .run()
        .code(2)
        .stderr_has("give the upstream's URL");
}

/// Remote mode, against the API emulator (a dry run needs only the API):
/// host ports and kip's registries are refused with the reason; a cache's
/// URL reaches the node Pod's environment.
#[test]
fn remote_mode_refuses_host_ports_and_registries_and_takes_a_cache_url() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = runtime
        .block_on(kip_test_kube_emulator::Emulator::start())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, emulator.kubeconfig()).unwrap();
    let up = |extra: &[&str]| {
        let mut args = vec![
            "up",
            "remote-day-one",
            "--remote",
            "--dry-run",
            "--dind-image",
            "kip-test-node:latest",
        ];
        args.extend_from_slice(extra);
        kip(&args)
            .kubeconfig(&kubeconfig)
            .env("KIP_STATE_DIR", dir.path().join("state"))
            .run()
    };
    up(&["-p", "8080:80"])
        .code(2)
        .stderr_has("host ports (-p, and a kind config's extraPortMappings) are local only");
    let kind_config = dir.path().join("kind.yaml");
    std::fs::write(
        &kind_config,
        "nodes:\n- extraPortMappings:\n  - {containerPort: 80, hostPort: 8080}\n",
    )
    .unwrap();
    up(&["--kind-config", kind_config.to_str().unwrap()])
        .code(2)
        .stderr_has("are local only");
    up(&["--registry", "dev"])
        .code(2)
        .stderr_has("which a remote node cannot reach");
    up(&["--mirror", "hub"])
        .code(2)
        .stderr_has("in remote mode --mirror takes the URL of a cache");
    up(&["--mirror", "http://10.96.0.50:5000"])
        .success()
        .stdout_has("--registry-mirror=http://10.96.0.50:5000")
        .stdout_has("docker.io [host.\"http://10.96.0.50:5000\"]")
        .stdout_has("config_path = \"/etc/containerd/certs.d\"");
    drop(emulator);
}

/// The config file's `mirror:` is every cluster's cache (the plan of a dry
/// run pulls through it), `--mirror` wins over it, and remote mode, which
/// cannot use a kip registry by name, says so and goes on without it.
#[test]
fn the_config_files_mirror_is_every_clusters_and_the_flag_wins() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    let dry_run = |config_text: &str, extra: &[&str]| {
        std::fs::write(&config, config_text).unwrap();
        let mut args = vec!["up", "cfg-mirror", "--dry-run"];
        args.extend_from_slice(extra);
        kip(&args)
            // No engine: the plan is shown without one.
            .env("DOCKER_HOST", "tcp://127.0.0.1:1")
            .env("KIP_CONFIG", &config)
            .run()
    };
    let from_config = dry_run("mirror: http://cache.example:5000\n", &[]);
    from_config
        .success()
        .stdout_has("--registry-mirror=http://cache.example:5000")
        .stdout_has("docker.io [host.\"http://cache.example:5000\"]");
    let flag = dry_run(
        "mirror: http://cache.example:5000\n",
        &["--mirror", "http://other.example:5000"],
    );
    flag.success()
        .stdout_has("--registry-mirror=http://other.example:5000");
    assert!(!flag.stdout.contains("cache.example"), "{}", flag.stdout);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = runtime
        .block_on(kip_test_kube_emulator::Emulator::start())
        .unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, emulator.kubeconfig()).unwrap();
    std::fs::write(&config, "mirror: hub\n").unwrap();
    kip(&[
        "up",
        "cfg-mirror",
        "--remote",
        "--dry-run",
        "--dind-image",
        "kip-test-node:latest",
    ])
    .kubeconfig(&kubeconfig)
    .env("KIP_CONFIG", &config)
    .env("KIP_STATE_DIR", dir.path().join("state"))
    .run()
    .success()
    .stderr_has("the config file's mirror hub is a registry on your Docker engine; remote nodes do not use it");
    drop(emulator);
}
