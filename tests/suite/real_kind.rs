//! End-to-end tests on REAL Kubernetes. The real kind v0.32.0 CLI (in the
//! Docker-in-Docker test image `KIP_TEST_REAL_DIND_IMAGE`) creates clusters
//! from the node image `KIP_TEST_KIND_IMAGE`; both are built offline by
//! `test-stack/real-kind/build.sh` (kubelet, kubeadm, API server, etcd,
//! CoreDNS, kube-proxy, containerd and runc from their Go modules). The
//! client is the real kubectl. These are the assertions the stand-in `kind`
//! answers for in the fast tests, here against the real thing.
//!
//! Each test makes one cluster and runs every check on it, reporting all the
//! checks that failed, not only the first.

use super::e2e::{docker, required, E2e};
use super::node_fixes::Network;
use super::support::{eventually, walk, Checks, Run};
use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

pub const WAIT: &str = "8m";

pub struct RealKind {
    pub e2e: E2e,
    pub node_image: String,
    /// The Kubernetes version the node image carries.
    pub version: String,
}

/// The images of `test-stack/real-kind/build.sh`, or why they are missing.
pub fn images() -> Result<(String, String), String> {
    let dind = std::env::var("KIP_TEST_REAL_DIND_IMAGE")
        .unwrap_or_else(|_| "kip-test-node:real-kind".into());
    let node =
        std::env::var("KIP_TEST_KIND_IMAGE").unwrap_or_else(|_| "kip-test-kind-node:latest".into());
    for image in [&dind, &node] {
        let out = Command::new("docker")
            .args(["image", "inspect", "-f", "{{.Id}}", image])
            .output()
            .map_err(|e| format!("the docker CLI cannot run: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "the image {image} is missing (build it: test-stack/real-kind/build.sh)"
            ));
        }
    }
    Ok((dind, node))
}

impl RealKind {
    pub fn new(test: &str) -> Option<RealKind> {
        let (dind, node_image) = match images() {
            Ok(images) => images,
            Err(why) => {
                assert!(!required(), "KIP_E2E=1 but {why}");
                eprintln!("skipping real-Kubernetes test {test}: {why}");
                return None;
            }
        };
        let mut e2e = E2e::new(test)?;
        e2e.image = dind;
        let version = docker(&[
            "run",
            "--rm",
            "--entrypoint",
            "cat",
            &node_image,
            "/kind/version",
        ])
        .trim()
        .to_string();
        Some(RealKind {
            e2e,
            node_image,
            version,
        })
    }

    pub(super) fn up(&self, name: &str, extra: &[&str]) -> Run {
        let mut args = vec!["up", name, "--image", &self.node_image, "--wait", WAIT];
        args.extend_from_slice(extra);
        self.e2e.kip(&args).run()
    }

    pub fn kubectl(&self, name: &str, args: &[&str]) -> Run {
        let context = format!("kip-{name}");
        let mut all = vec!["--context", &context, "--request-timeout", "60s"];
        all.extend_from_slice(args);
        self.e2e.kubectl(&all)
    }
}

pub fn ok(run: &Run) -> Result<&str, String> {
    if run.code == 0 {
        Ok(run.stdout.as_str())
    } else {
        Err(format!("{run}"))
    }
}

/// A pod spec for `kubectl apply -f -`.
pub(super) fn pod(name: &str, image: &str, command: &[&str], privileged: bool) -> String {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "main",
                "image": image,
                "imagePullPolicy": "Never",
                "command": command,
                "securityContext": {"privileged": privileged},
            }],
        },
    })
    .to_string()
}

pub(super) fn apply(t: &RealKind, name: &str, manifest: &str) -> Result<(), String> {
    let mut child = Command::new(super::e2e::kubectl_path())
        .arg("--kubeconfig")
        .arg(t.e2e.kubeconfig())
        .args(["--context", &format!("kip-{name}"), "apply", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(manifest.as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    ok(&Run::from(out)).map(|_| ())
}

/// `pod` made in cluster `name` and Running.
pub fn start_pod(
    t: &RealKind,
    name: &str,
    pod_name: &str,
    image: &str,
    command: &[&str],
    privileged: bool,
) -> Result<(), String> {
    apply(t, name, &pod(pod_name, image, command, privileged))?;
    pod_running(t, name, pod_name)
}

pub fn pod_running(t: &RealKind, name: &str, pod: &str) -> Result<(), String> {
    eventually(Duration::from_secs(180), || {
        let run = t.kubectl(name, &["get", "pod", pod, "-o", "jsonpath={.status.phase}"]);
        match ok(&run)? {
            "Running" => Ok(()),
            phase => Err(format!(
                "pod {pod} is {phase:?}: {}",
                t.kubectl(name, &["describe", "pod", pod]).stdout
            )),
        }
    })
}

fn pod_phase(t: &RealKind, name: &str, pod: &str, want: &str) -> Result<(), String> {
    eventually(Duration::from_secs(180), || {
        let run = t.kubectl(name, &["get", "pod", pod, "-o", "jsonpath={.status.phase}"]);
        match ok(&run)? {
            phase if phase == want => Ok(()),
            phase => Err(format!(
                "pod {pod} is {phase:?}, not {want}: {}",
                t.kubectl(name, &["describe", "pod", pod]).stdout
            )),
        }
    })
}

/// A pod of `image` running `script` with the claim `claim` at /data, once.
fn pod_with_claim(pod: &str, image: &str, claim: &str, script: &str) -> String {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "main",
                "image": image,
                "imagePullPolicy": "Never",
                "command": ["sh", "-c", script],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            }],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}],
        },
    })
    .to_string()
}

/// kind's default storage as kind users have it: `standard` is the default
/// StorageClass (local-path), a claim of it binds when a pod uses it, and
/// what one pod writes there the next pod reads.
fn claim_keeps_a_file(t: &RealKind, name: &str, image: &str) -> Result<(), String> {
    let default = ok(&t.kubectl(
        name,
        &[
            "get",
            "storageclass",
            "standard",
            "-o",
            "jsonpath={.metadata.annotations.storageclass\\.kubernetes\\.io/is-default-class}",
        ],
    ))?
    .to_string();
    if default != "true" {
        return Err(format!(
            "StorageClass standard is not the default: {default:?}"
        ));
    }
    // Without kind's default-storage.yaml kind falls back to a legacy
    // host-path class, which binds too: the provisioner tells them apart.
    let provisioner = ok(&t.kubectl(
        name,
        &[
            "get",
            "storageclass",
            "standard",
            "-o",
            "jsonpath={.provisioner}",
        ],
    ))?
    .to_string();
    if provisioner != "rancher.io/local-path" {
        return Err(format!(
            "StorageClass standard is provisioned by {provisioner:?}, not kind's rancher.io/local-path"
        ));
    }
    let claim = serde_json::json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Mi"}}},
    });
    apply(t, name, &claim.to_string())?;
    let token = format!("kip-pvc-{}", std::process::id());
    apply(
        t,
        name,
        &pod_with_claim(
            "writer",
            image,
            "data",
            &format!("echo {token} >/data/probe"),
        ),
    )?;
    pod_phase(t, name, "writer", "Succeeded")?;
    let phase = ok(&t.kubectl(
        name,
        &["get", "pvc", "data", "-o", "jsonpath={.status.phase}"],
    ))?
    .to_string();
    if phase != "Bound" {
        return Err(format!("the claim is {phase:?}, not Bound"));
    }
    let volume = ok(&t.kubectl(
        name,
        &["get", "pvc", "data", "-o", "jsonpath={.spec.volumeName}"],
    ))?
    .to_string();
    let by = ok(&t.kubectl(
        name,
        &[
            "get",
            "pv",
            &volume,
            "-o",
            "jsonpath={.metadata.annotations.pv\\.kubernetes\\.io/provisioned-by}",
        ],
    ))?
    .to_string();
    if by != "rancher.io/local-path" {
        return Err(format!("the volume {volume} was provisioned by {by:?}"));
    }
    apply(
        t,
        name,
        &pod_with_claim("reader", image, "data", "cat /data/probe"),
    )?;
    pod_phase(t, name, "reader", "Succeeded")?;
    let read = ok(&t.kubectl(name, &["logs", "reader"]))?
        .trim()
        .to_string();
    (read == token).then_some(()).ok_or(format!(
        "the reader read {read:?}, the writer wrote {token:?}"
    ))
}

/// The host's cgroup v1 memory hierarchy path of a container, if the host
/// uses cgroup v1.
fn v1_memory_cgroup_of(container: &str) -> Option<std::path::PathBuf> {
    let root = std::path::Path::new("/sys/fs/cgroup/memory");
    if !root.is_dir() {
        return None;
    }
    let parent = docker(&["inspect", "-f", "{{.HostConfig.CgroupParent}}", container]);
    let parent = match parent.trim() {
        "" => "/docker",
        p => p,
    };
    Some(root.join(parent.trim_start_matches('/')).join(container))
}

/// The folders below `root` whose name starts with `prefix`.
fn find_dirs(root: &std::path::Path, prefix: &str) -> Vec<std::path::PathBuf> {
    walk(root)
        .into_iter()
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect()
}

/// An HTTP GET through a local port; the response body.
pub(super) fn http_get(port: u16, path: &str) -> Result<String, String> {
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    Ok(response)
}

#[test]
#[ignore = "needs Docker and the real-kind images (test-stack/real-kind/build.sh); CI runs it with --include-ignored"]
fn real_cluster_serves_pods_and_kip_fixes_hold_on_the_real_kubelet() {
    let Some(t) = RealKind::new("real") else {
        return;
    };
    let name = t.e2e.name.clone();
    let up = t.up(&name, &[]);
    up.success().stderr_has("Cluster created");
    let node = format!("{name}-control-plane");
    let mut c = Checks::default();

    c.check("every node Ready", {
        eventually(Duration::from_secs(240), || {
            let out = ok(&t.kubectl(
                &name,
                &["get", "nodes", "-o", "jsonpath={range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}"],
            ))?
            .to_string();
            if !out.trim().is_empty() && out.lines().all(|l| l == "True") {
                Ok(())
            } else {
                Err(format!("Ready conditions: {out:?}"))
            }
        })
    });
    c.check("every kube-system pod Running and ready", {
        eventually(Duration::from_secs(240), || {
            let out = ok(&t.kubectl(
                &name,
                &["get", "pods", "-n", "kube-system", "-o", "jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.status.containerStatuses[*].ready}{\"\\n\"}{end}"],
            ))?
            .to_string();
            let bad: Vec<&str> = out
                .lines()
                .filter(|l| !l.contains(" Running ") || l.contains("false"))
                .collect();
            let wanted = ["coredns", "etcd", "kube-apiserver", "kube-controller-manager", "kube-proxy", "kube-scheduler"];
            let missing: Vec<&&str> = wanted.iter().filter(|w| !out.contains(*w)).collect();
            if bad.is_empty() && missing.is_empty() {
                Ok(())
            } else {
                Err(format!("not running/ready: {bad:?}; missing: {missing:?}\n{out}"))
            }
        })
    });
    c.check("the API server reports the node image's version", {
        ok(&t.kubectl(&name, &["version", "-o", "json"])).and_then(|out| {
            let v: serde_json::Value = serde_json::from_str(out).map_err(|e| e.to_string())?;
            (v["serverVersion"]["gitVersion"] == t.version.as_str())
                .then_some(())
                .ok_or(format!(
                    "serverVersion {}, image {}",
                    v["serverVersion"], t.version
                ))
        })
    });

    // Workloads: every image is preloaded in the node image (no registry).
    let tools_image = format!("registry.k8s.io/kube-proxy:{}", t.version);
    let etcd_image = docker(&[
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
    let sleeper = ["sleep", "infinity"];
    c.check(
        "a pod runs",
        start_pod(&t, &name, "tools", &tools_image, &sleeper, false),
    );
    c.check(
        "a privileged pod runs",
        start_pod(&t, &name, "privileged", &tools_image, &sleeper, true),
    );
    c.check(
        "a claim of the default StorageClass (kind's local-path) binds and keeps a file from one pod to the next",
        claim_keeps_a_file(&t, &name, &tools_image),
    );
    c.check(
        "a server pod runs",
        apply(
            &t,
            &name,
            &pod(
                "web",
                &etcd_image,
                &[
                    "etcd",
                    "--data-dir=/tmp/etcd",
                    "--listen-client-urls=http://0.0.0.0:2379",
                    "--advertise-client-urls=http://127.0.0.1:2379",
                ],
                false,
            ),
        )
        .and_then(|()| pod_running(&t, &name, "web")),
    );
    c.check("kubectl exec", {
        ok(&t.kubectl(
            &name,
            &[
                "exec",
                "tools",
                "--",
                "sh",
                "-c",
                "echo hello-from-$(hostname)",
            ],
        ))
        .and_then(|out| {
            out.contains("hello-from-tools")
                .then_some(())
                .ok_or(out.to_string())
        })
    });
    c.check("kubectl logs", {
        eventually(Duration::from_secs(60), || {
            let out = ok(&t.kubectl(&name, &["logs", "web"]))?.to_string();
            out.contains("serving client").then_some(()).ok_or(out)
        })
    });
    c.check("a pod resolves kubernetes.default through CoreDNS", {
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
    });
    c.check("kubectl port-forward", {
        let mut forward = Command::new(super::e2e::kubectl_path())
            .arg("--kubeconfig")
            .arg(t.e2e.kubeconfig())
            .args([
                "--context",
                &format!("kip-{name}"),
                "port-forward",
                "pod/web",
                ":2379",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        let mut first = String::new();
        let mut reader = std::io::BufReader::new(forward.stdout.take().unwrap());
        let result = std::io::BufRead::read_line(&mut reader, &mut first)
            .map_err(|e| e.to_string())
            .and_then(|_| {
                // "Forwarding from 127.0.0.1:PORT -> 2379"
                let port: u16 = first
                    .split("127.0.0.1:")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .and_then(|p| p.parse().ok())
                    .ok_or(format!("no port in {first:?}"))?;
                let body = http_get(port, "/version")?;
                body.contains("etcdserver").then_some(()).ok_or(body)
            });
        let _ = forward.kill();
        let _ = forward.wait();
        result
    });
    c.check("pods' eth0 MTU is the node's", {
        let node_mtu = ok(&t.e2e.exec(&name, &["cat", "/sys/class/net/eth0/mtu"]).run())
            .map(|s| s.trim().to_string());
        let pod_mtu = ok(&t.kubectl(
            &name,
            &["exec", "tools", "--", "cat", "/sys/class/net/eth0/mtu"],
        ))
        .map(|s| s.trim().to_string());
        match (node_mtu, pod_mtu) {
            (Ok(n), Ok(p)) if n == p => Ok(()),
            other => Err(format!("node, pod: {other:?}")),
        }
    });
    c.check("a pull-sized transfer crosses the pod network", {
        // The OpenAPI document (megabytes) from the API server's Service IP,
        // through kube-proxy's NAT and the pod's eth0.
        ok(&t.kubectl(
            &name,
            &["exec", "tools", "--", "sh", "-c",
              "curl -sS --max-time 60 --cacert /var/run/secrets/kubernetes.io/serviceaccount/ca.crt \
               -H \"Authorization: Bearer $(cat /var/run/secrets/kubernetes.io/serviceaccount/token)\" \
               https://kubernetes.default.svc/openapi/v2 | wc -c"],
        ))
        .and_then(|out| {
            let bytes: u64 = out.trim().parse().map_err(|_| out.to_string())?;
            (bytes > 1_000_000).then_some(()).ok_or(format!("only {bytes} bytes"))
        })
    });
    c.check("the running kubelet has cgroupRoot /kubelet (configz)", {
        ok(&t.kubectl(
            &name,
            &[
                "get",
                "--raw",
                &format!("/api/v1/nodes/{node}/proxy/configz"),
            ],
        ))
        .and_then(|out| {
            let v: serde_json::Value = serde_json::from_str(out).map_err(|e| e.to_string())?;
            (v["kubeletconfig"]["cgroupRoot"] == "/kubelet")
                .then_some(())
                .ok_or(format!("cgroupRoot {}", v["kubeletconfig"]["cgroupRoot"]))
        })
    });
    let kip_node = t.e2e.node_id(&name);
    let node_cgroup = v1_memory_cgroup_of(&kip_node);
    if let Some(cgroup) = &node_cgroup {
        c.check("pod cgroups sit under the kip node's cgroup", {
            // The kubelet's systemd driver names them kubelet-kubepods-…-pod<uid>.slice.
            let pods: Vec<_> = find_dirs(cgroup, "kubelet-kubepods")
                .into_iter()
                .filter(|d| d.to_string_lossy().contains("-pod"))
                .collect();
            (!pods.is_empty())
                .then_some(())
                .ok_or(format!("no pod cgroup under {}", cgroup.display()))
        });
    }
    c.check("kip status reports the node's fixes", {
        ok(&t.e2e.kip(&["status", &name, "-o", "json"]).run()).and_then(|out| {
            let v: serde_json::Value = serde_json::from_str(out).map_err(|e| e.to_string())?;
            let facts = &v["nodeFacts"];
            (facts["kmsg"].is_string() && facts["runtime"].is_string())
                .then_some(())
                .ok_or(format!("nodeFacts {facts}"))
        })
    });
    c.check(
        "kip load: an image from the host runs in a pod with imagePullPolicy Never",
        {
            // A name only this test uses, for an image the host has.
            let loaded = format!("kip.local/e2e-load:{}", std::process::id());
            docker(&["tag", &etcd_image, &loaded]);
            let result = ok(&t.e2e.kip(&["load", &name, &loaded]).run())
                .map(|_| ())
                .and_then(|()| {
                    apply(
                        &t,
                        &name,
                        &pod("loaded", &loaded, &["etcd", "--data-dir=/tmp/etcd"], false),
                    )
                })
                .and_then(|()| pod_running(&t, &name, "loaded"));
            let _ = Command::new("docker").args(["rmi", &loaded]).output();
            result
        },
    );
    c.check("kip logs --export has kind's own export", {
        let dir = t.e2e.dir.path().join("logs");
        ok(&t
            .e2e
            .kip(&["logs", &name, "--export", dir.to_str().unwrap()])
            .run())
        .and_then(|_| {
            let kubelet_logs: Vec<_> = walk(&dir)
                .into_iter()
                .filter(|p| !p.is_dir() && p.file_name().is_some_and(|n| n == "kubelet.log"))
                .collect();
            (!kubelet_logs.is_empty())
                .then_some(())
                .ok_or(format!("no kubelet.log under {}", dir.display()))
        })
    });

    // The node survives a restart, and its cluster comes back.
    c.check(
        "the cluster is Ready again after docker restart of the node",
        {
            docker(&["restart", &kip_node]);
            eventually(Duration::from_secs(300), || {
                ok(&t.kubectl(&name, &["get", "--raw", "/readyz"]))?;
                let out = ok(&t.kubectl(
                    &name,
                    &[
                        "get",
                        "nodes",
                        "-o",
                        "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}",
                    ],
                ))?
                .to_string();
                (out == "True").then_some(()).ok_or(out)
            })
            .and_then(|()| pod_running(&t, &name, "tools"))
        },
    );

    let down = t.e2e.kip(&["down", &name]).run();
    c.check("kip down", ok(&down).map(|_| ()));
    c.run(
        "kip down leaves no container, volume or kubeconfig entry",
        || t.e2e.assert_nothing_left(&name),
    );
    if let Some(cgroup) = &node_cgroup {
        c.check("no cgroup is left after kip down", {
            (!cgroup.exists()).then_some(()).ok_or(format!(
                "{} is still there: {:?}",
                cgroup.display(),
                find_dirs(cgroup, "")
            ))
        });
    }
    c.finish();
}

/// What this host makes the node lack, and so which of kip's node fixes
/// matter here: (the fix's switch off, the word kip's error must name).
fn fixes_this_host_needs() -> Vec<(&'static str, &'static str)> {
    let bounding = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:").map(|v| v.trim().to_string()))
        })
        .and_then(|v| u64::from_str_radix(&v, 16).ok())
        .unwrap_or(u64::MAX);
    let lacks_sys_resource = bounding & (1 << 24) == 0;
    let cgroup_v1 = !std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let mut needed = Vec::new();
    if lacks_sys_resource {
        // The engine refuses privileged nodes here, so the node's /dev is
        // Docker's default set, without kmsg.
        needed.push(("KIP_RUNTIME_CLAMP=false", "KIP_RUNTIME_CLAMP"));
        needed.push(("KIP_KMSG_CREATE=false", "KIP_KMSG_CREATE"));
        needed.push(("KIP_RESTRICT_OOM=false", "KIP_RESTRICT_OOM"));
    }
    if cgroup_v1 {
        needed.push(("KIP_FAIL_CGROUP_V1=true", "KIP_FAIL_CGROUP_V1"));
    }
    needed
}

/// Each node fix this host needs, turned off, reproduces the failure it
/// prevents on the real kubelet and runc: `kip up` fails as a node failure
/// (exit 6, not the 4 of a timeout: the node names the cause instead of
/// waiting out kubeadm's 4 minutes), names the cause and the switch, and
/// leaves nothing behind. On a host that needs none of them (full
/// capabilities, cgroup v2) the list is empty and the test says so.
#[test]
#[ignore = "needs Docker and the real-kind images (test-stack/real-kind/build.sh); CI runs it with --include-ignored"]
fn each_node_fix_turned_off_reproduces_its_failure_on_the_real_kubelet() {
    let Some(t) = RealKind::new("fixoff") else {
        return;
    };
    let needed = fixes_this_host_needs();
    if needed.is_empty() {
        eprintln!(
            "this host withholds no capability and uses cgroup v2: no node fix is needed here"
        );
        assert!(
            !required(),
            "CI's machine (cgroup v1, no CAP_SYS_RESOURCE) needs every fix"
        );
        return;
    }
    // Side by side: each run waits mostly on its node.
    let runs: Vec<_> = needed
        .iter()
        .enumerate()
        .map(|(i, (switch, _))| {
            let name = format!("{}-{i}", t.e2e.name);
            let child = t
                .e2e
                .kip(&[
                    "up",
                    &name,
                    "--image",
                    &t.node_image,
                    "--node-env",
                    switch,
                    "--wait",
                    "6m",
                ])
                .spawn();
            (name, Instant::now(), child)
        })
        .collect();
    let mut c = Checks::default();
    for ((name, started, child), (switch, word)) in runs.into_iter().zip(&needed) {
        let run = Run::from(child.wait_with_output().expect("kip runs"));
        eprintln!(
            "{switch}: kip up ended in {:.0}s",
            started.elapsed().as_secs_f64()
        );
        c.check(
            &format!("{switch}: a node failure (exit 6) that names {word}"),
            {
                if run.code == 6 && run.stderr.contains(word) && run.stderr.contains("Why: ") {
                    Ok(())
                } else {
                    Err(format!("{run}"))
                }
            },
        );
        c.run(&format!("{switch}: nothing left"), || {
            t.e2e.assert_nothing_left(&name)
        });
    }
    c.finish();
}

/// `kip run` on the real stack, on an outer network with a 1400 MTU: the
/// command gets the cluster (the real kubectl through KUBECONFIG), its pods'
/// eth0 follows the node's smaller MTU, a transfer of megabytes crosses it,
/// and the cluster is gone afterwards.
#[test]
#[ignore = "needs Docker and the real-kind images (test-stack/real-kind/build.sh); CI runs it with --include-ignored"]
fn kip_run_on_a_1400_mtu_network_gives_pods_that_mtu() {
    let Some(t) = RealKind::new("realrun") else {
        return;
    };
    let network = format!("kip-e2e-mtu-{}", std::process::id());
    let _net = Network::create(&network, Some(1400));
    let tools = format!("registry.k8s.io/kube-proxy:{}", t.version);
    let script = format!(
        r#"set -eu
kubectl get nodes -o name
kubectl wait --for=condition=Ready node --all --timeout=240s
kubectl run tools --image={tools} --image-pull-policy=Never --restart=Never --command -- sleep infinity
kubectl wait --for=condition=Ready pod/tools --timeout=180s
echo "pod-mtu=$(kubectl exec tools -- cat /sys/class/net/eth0/mtu)"
for i in $(seq 1 60); do
  n=$(kubectl exec tools -- sh -c 'curl -sS --max-time 60 --cacert /var/run/secrets/kubernetes.io/serviceaccount/ca.crt -H "Authorization: Bearer $(cat /var/run/secrets/kubernetes.io/serviceaccount/token)" https://kubernetes.default.svc/openapi/v2 | wc -c' || true)
  [ "${{n:-0}}" -gt 1000000 ] && break
  sleep 2
done
echo "transfer-bytes=$n"
"#
    );
    let name = t.e2e.name.clone();
    let run = t
        .e2e
        .kip(&[
            "run",
            "--name",
            &name,
            "--image",
            &t.node_image,
            "--network",
            &network,
            "--wait",
            WAIT,
            "--",
            "sh",
            "-c",
            &script,
        ])
        .env(
            "PATH",
            format!(
                "{}:{}",
                std::path::Path::new(&super::e2e::kubectl_path())
                    .parent()
                    .unwrap()
                    .display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .run();
    run.success().stdout_has("node/").stdout_has("pod-mtu=1400");
    let bytes: u64 = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("transfer-bytes="))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        bytes > 1_000_000,
        "only {bytes} bytes crossed the 1400 MTU\n{run}"
    );
    t.e2e.assert_nothing_left(&name);
}
