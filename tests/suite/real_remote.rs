//! Remote mode on a REAL shared cluster: kip-in-kind-in-kip, offline. kip's
//! own local cluster (the real kind, `test-stack/real-kind/build.sh`'s
//! images) is the "shared cluster"; kip's Docker-in-Docker image is put into
//! it with `kip load`, and `kip up --remote` runs the node as a privileged
//! Pod there, streams the kind node image into the Pod's Docker over
//! `pods/exec`, runs the real kind inside it and exports a kubeconfig through
//! kip's forwarder (the real API server's port-forward). The refusals are
//! `conformance::refusals`, the same assertions the emulator passes.

use super::conformance::{self, SharedCluster};
use super::e2e::{required, E2e};
use super::support::{Kip, Run};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// kip's Docker-in-Docker image with kip and kubectl in it: the node image
/// of the remote nodes, and the image of the CI job Pods that run kip inside
/// the shared cluster (one image, `kip load`ed once).
fn job_image(dind: &str) -> String {
    let image = format!("{dind}-ci-job");
    let dir = tempfile::tempdir().unwrap();
    let strip = Command::new("strip")
        .arg("-o")
        .arg(dir.path().join("kip"))
        .arg(super::support::kip_bin())
        .status()
        .expect("strip runs");
    assert!(
        strip.success(),
        "strip {}",
        super::support::kip_bin().display()
    );
    std::fs::copy(super::e2e::kubectl_path(), dir.path().join("kubectl")).unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {dind}\nCOPY kip kubectl /usr/local/bin/\n"),
    )
    .unwrap();
    super::e2e::docker(&["build", "-q", "-t", &image, dir.path().to_str().unwrap()]);
    image
}

struct RealShared {
    t: E2e,
    node_image: String,
    /// The local cluster that plays the shared one.
    outer: String,
}

impl RealShared {
    fn start(test: &str) -> Option<RealShared> {
        let (dind, node_image) = match super::real_kind::images() {
            Ok(images) => images,
            Err(why) => {
                assert!(!required(), "KIP_E2E=1 but {why}");
                eprintln!("skipping real-Kubernetes test {test}: {why}");
                return None;
            }
        };
        let mut t = E2e::new(test)?;
        t.image = job_image(&dind);
        let outer = t.name.clone();
        Some(RealShared {
            t,
            node_image,
            outer,
        })
    }

    fn context(&self) -> String {
        format!("kip-{}", self.outer)
    }

    fn state_dir(&self) -> PathBuf {
        self.t.dir.path().join("state")
    }

    /// kubectl through the kubeconfig kip wrote, to cluster `name`.
    fn kubectl(&self, name: &str, args: &[&str]) -> Run {
        let context = format!("kip-{name}");
        let mut all = vec!["--context", &context, "--request-timeout", "60s"];
        all.extend_from_slice(args);
        self.t.kubectl(&all)
    }

    fn write(&self, file: &str, text: &str) -> String {
        let path = self.t.dir.path().join(file);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// A CI job in a Pod of the shared cluster, as a Kubernetes CI runner
    /// with a Docker-in-Docker engine runs one: kip and kubectl from the
    /// job image, no kubeconfig, only the Pod's service account `kip-job`
    /// with exactly the rights kip needs, and a dockerd of its own that the
    /// kind node image is brought into first (there is no registry). Runs
    /// `script` once that is done; the job's log.
    fn job(&self, script: &str) -> String {
        self.service_account("kip-job", "");
        let runner = format!("job-{}", self.outer);
        let manifest = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": runner, "namespace": "default"},
            "spec": {
                "restartPolicy": "Never",
                "serviceAccountName": "kip-job",
                "containers": [{
                    "name": "job",
                    "image": self.t.image,
                    "imagePullPolicy": "Never",
                    "securityContext": {"privileged": true},
                    "command": ["bash", "-c", format!(
                        "set -eu\n# One stream: the log keeps the order things happened in.\nexec 2>&1\n\
                         export HOME=/root KIP_STATE_DIR=/root/state\n\
                         dockerd >/var/log/job-dockerd.log 2>&1 &\n\
                         until docker info >/dev/null 2>&1; do sleep 0.2; done\necho JOB-DOCKER-READY\n\
                         until test -e /tmp/node-image-loaded; do sleep 0.2; done\n{script}")],
                    "volumeMounts": [{"name": "docker", "mountPath": "/var/lib/docker"}],
                }],
                "volumes": [{"name": "docker", "emptyDir": {}}],
            },
        });
        let file = self.write("job.json", &manifest.to_string());
        self.outer(&["apply", "-f", &file]).success();
        let log = || self.outer(&["logs", &runner]).stdout;
        let deadline = Instant::now() + Duration::from_secs(180);
        while !log().contains("JOB-DOCKER-READY") {
            assert!(
                Instant::now() < deadline,
                "the job's dockerd did not start: {}",
                log()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        // The kind node image into the job's engine, as a runner's cache
        // or a `docker pull` before the job would have it.
        let mut save = Command::new("docker")
            .args(["save", &self.node_image])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let load = Command::new(super::e2e::kubectl_path())
            .arg("--kubeconfig")
            .arg(self.t.kubeconfig())
            .args([
                "--context",
                &self.context(),
                "exec",
                "-i",
                &runner,
                "--",
                "docker",
                "load",
            ])
            .stdin(save.stdout.take().unwrap())
            .output()
            .unwrap();
        assert!(save.wait().unwrap().success());
        assert!(load.status.success(), "{}", Run::from(load));
        self.outer(&["exec", &runner, "--", "touch", "/tmp/node-image-loaded"])
            .success();
        conformance::job_log(self, &runner, Duration::from_secs(900))
    }

    /// A service account `user` in `default`, bound to a Role of everything
    /// kip needs but `missing`: real RBAC.
    fn service_account(&self, user: &str, missing: &str) {
        let namespaced: Vec<&str> = conformance::NEEDED
            .iter()
            .copied()
            .filter(|r| *r != missing && !["namespaces", "selfsubjectaccessreviews"].contains(r))
            .collect();
        let manifest = serde_json::json!({
            "apiVersion": "v1", "kind": "List", "items": [
                {"apiVersion": "v1", "kind": "ServiceAccount",
                 "metadata": {"name": user, "namespace": "default"}},
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                 "metadata": {"name": user, "namespace": "default"},
                 "rules": [{"apiGroups": [""], "resources": namespaced, "verbs": ["*"]}]},
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                 "metadata": {"name": user, "namespace": "default"},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": user},
                 "subjects": [{"kind": "ServiceAccount", "name": user, "namespace": "default"}]},
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                 "metadata": {"name": user},
                 "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list"]}]},
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                 "metadata": {"name": user},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": user},
                 "subjects": [{"kind": "ServiceAccount", "name": user, "namespace": "default"}]},
            ]
        });
        let file = self.write(&format!("{user}.json"), &manifest.to_string());
        self.outer(&["apply", "-f", &file]).success();
    }
}

impl SharedCluster for RealShared {
    fn kip(&self, args: &[&str]) -> Kip {
        let context = self.context();
        let mut all = args.to_vec();
        if args.contains(&"--context") {
            all.insert(1, "--remote");
        } else {
            all.splice(1..1, ["--remote", "--context", &context]);
        }
        self.t
            .kip(&all)
            .env("KIP_STATE_DIR", self.state_dir())
            .env("KIP_IMAGE", &self.node_image)
    }

    fn outer(&self, args: &[&str]) -> Run {
        self.kubectl(&self.outer.clone(), args)
    }

    fn dind_image(&self) -> &str {
        &self.t.image
    }

    /// A service account bound to a Role of everything kip needs but
    /// `missing`, and a kubeconfig context with its token: real RBAC.
    fn as_user_without(&self, missing: &str) -> Vec<String> {
        let user = format!("kip-no-{}", missing.replace('/', "-"));
        self.service_account(&user, missing);
        let token = self
            .outer(&["create", "token", &user, "-n", "default"])
            .success()
            .stdout
            .trim()
            .to_string();
        let cluster = self
            .t
            .kubectl(&[
                "config",
                "view",
                "-o",
                &format!(
                    "jsonpath={{.contexts[?(@.name==\"{}\")].context.cluster}}",
                    self.context()
                ),
            ])
            .success()
            .stdout
            .trim()
            .to_string();
        self.t
            .kubectl(&[
                "config",
                "set-credentials",
                &user,
                &format!("--token={token}"),
            ])
            .success();
        self.t
            .kubectl(&[
                "config",
                "set-context",
                &user,
                &format!("--cluster={cluster}"),
                &format!("--user={user}"),
                "--namespace=default",
            ])
            .success();
        vec!["--context".into(), user]
    }

    fn assert_nothing_left(&self, name: &str) {
        let doc = self.t.kubeconfig_doc();
        conformance::assert_nothing_left_of(self, name, &self.state_dir(), &doc, None);
    }
}

#[test]
#[ignore = "end-to-end on real Kubernetes: needs Docker, kubectl and the images of test-stack/real-kind/build.sh (KIP_E2E=1 makes their absence a failure)"]
fn remote_mode_on_a_real_cluster() {
    let Some(c) = RealShared::start("real-remote") else {
        return;
    };
    // The shared cluster: kip's own, with kip's node image loaded into it.
    c.t.kip(&["up", &c.outer, "--image", &c.node_image, "--wait", "8m"])
        .run()
        .success();
    c.t.kip(&["load", &c.outer, c.dind_image()]).run().success();

    conformance::refusals(&c, &format!("{}-no", c.outer));
    conformance::dry_run_is_what_the_server_accepts(
        &c,
        &format!("{}-dry", c.outer),
        &c.t.kubeconfig(),
    );
    conformance::unknown_fields_are_refused(&c.t.kubeconfig(), &c.outer);
    conformance::doctor_reports(&c, &format!("{}-doc", c.outer));

    // A cluster in a Pod of it, reached through kip's forwarder.
    let inner = format!("{}-in", c.outer);
    c.kip(&[
        "up",
        &inner,
        "--dind-image",
        c.dind_image(),
        "--image",
        &c.node_image,
        "--wait",
        "10m",
    ])
    .run()
    .success()
    .stderr_has("streamed into the node");
    c.kubectl(&inner, &["get", "--raw", "/readyz"])
        .success()
        .stdout_has("ok");
    c.kubectl(
        &inner,
        &[
            "wait",
            "--for=condition=Ready",
            "node",
            "--all",
            "--timeout=180s",
        ],
    )
    .success();
    let pod = c
        .outer(&[
            "get",
            "pod",
            &format!("kip-{inner}"),
            "-o",
            "jsonpath={.spec.containers[0].securityContext.privileged}",
        ])
        .success()
        .stdout
        .clone();
    assert_eq!(pod, "true", "the node is a privileged Pod");
    c.kip(&["status", &inner])
        .run()
        .success()
        .stdout_has("Ready");

    // `kip load` into the remote node (through pods/exec) and its cluster.
    let tag = format!("kip-test-tiny:{}", std::process::id());
    super::ci_usage::tiny_image(&tag);
    c.kip(&["load", &inner, &tag])
        .run()
        .success()
        .stderr_has(&format!("Loaded {tag} into cluster {inner}"));
    let control_plane = format!("{inner}-control-plane");
    c.kip(&[
        "exec",
        &inner,
        "--",
        "docker",
        "exec",
        &control_plane,
        "crictl",
        "images",
    ])
    .run()
    .success()
    .stdout_has("kip-test-tiny");
    c.kip(&["load", &inner, &tag])
        .run()
        .success()
        .stderr_has("already in the node");
    super::e2e::docker(&["rmi", &tag]);
    // `kip run --remote --reuse`: CMD reaches the cluster through the
    // kubeconfig kip gives it, and the cluster stays.
    let kubectl = super::e2e::kubectl_path();
    c.kip(&["run", "--reuse", &inner, "--", &kubectl, "get", "nodes"])
        .run()
        .success()
        .stdout_has(" Ready ");
    c.kip(&["status", &inner]).run().success();

    // A second `up` re-exports, streaming nothing.
    let again = c.kip(&["up", &inner]).run();
    again.success();
    assert!(!again.stderr.contains("streamed"), "{again}");

    c.kip(&["down", &inner]).run().success();
    c.assert_nothing_left(&inner);
    let doc = c.t.kubeconfig_doc();
    assert_eq!(
        doc["current-context"].as_str(),
        Some(c.context().as_str()),
        "down makes the shared cluster's context current again"
    );

    // A CI job in a Pod of the shared cluster: kip and kubectl there with a
    // service account only, the pod-ip endpoint (kip's default in a Pod)
    // and then the service endpoint, each used by kubectl in the job.
    let (by_ip, by_service) = (format!("{}-ip", c.outer), format!("{}-svc", c.outer));
    let node = &c.node_image;
    let image = c.dind_image();
    let log = c.job(&format!(
        r#"test ! -e /root/.kube/config
kip up {by_ip} --remote --dind-image {image} --image {node} --wait 10m
kubectl get --raw /readyz; echo
kubectl wait --for=condition=Ready node --all --timeout=180s
kip down {by_ip} --remote
kip up {by_service} --remote --endpoint service --dind-image {image} --image {node} --wait 10m
kubectl config view --minify -o jsonpath='{{.clusters[0].cluster.server}}'; echo
kubectl get --raw /readyz; echo
kip down {by_service} --remote
echo JOB-DONE"#
    ));
    let ready: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("API server ready at"))
        .collect();
    assert_eq!(ready.len(), 2, "{log}");
    assert!(
        ready[0].contains(":6443") && !ready[0].contains("127.0.0.1"),
        "pod-ip: the API server at the node Pod's own address: {log}"
    );
    let server = format!("https://kip-{by_service}.default.svc:6443");
    assert!(ready[1].contains(&server), "{log}");
    assert!(log.lines().any(|l| l == server), "{log}");
    assert_eq!(log.lines().filter(|l| *l == "ok").count(), 2, "{log}");
    assert!(log.contains("condition met"), "{log}");
    assert!(!log.contains("port-forward"), "{log}");
    assert!(log.contains("JOB-DONE"), "{log}");
    c.assert_nothing_left(&by_ip);
    c.assert_nothing_left(&by_service);

    // Last, as it cannot be undone from inside: the shared cluster's node
    // loses /lib/modules (the kind node's read-only mount of it, gone).
    c.t.kip(&[
        "exec",
        &c.outer,
        "--",
        "docker",
        "exec",
        &format!("{}-control-plane", c.outer),
        "sh",
        "-c",
        "umount /usr/lib/modules && rmdir /usr/lib/modules",
    ])
    .run()
    .success();
    conformance::node_without_lib_modules(&c, &format!("{}-mods", c.outer));

    c.t.kip(&["down", &c.outer]).run().success();
}
