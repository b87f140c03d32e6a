//! Remote mode on a REAL shared cluster: kip-in-kind-in-kip, offline. kip's
//! own local cluster (the real kind, `test-stack/real-kind/build.sh`'s
//! images) is the "shared cluster"; kip's Docker-in-Docker image is put into
//! it with `kip load`, and `kip up --remote` runs the node as a privileged
//! Pod there, streams the kind node image into the Pod's Docker over
//! `pods/exec`, runs the real kind inside it and exports a kubeconfig through
//! kip's forwarder (the real API server's port-forward). Every scenario is
//! one of `conformance.rs`, the assertions the emulator passes too.

use super::conformance::{self, SharedCluster};
use super::doctor::check;
use super::e2e::{required, E2e};
use super::support::{until, Checks, Kip, Run};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The outer node's seed store (kip's `hostPath`).
const SEED_STORE: &str = "/var/lib/kip/seeds";

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

    fn write(&self, file: &str, text: &str) -> String {
        let path = self.t.dir.path().join(file);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
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
        let at = conformance::after_command(args);
        if args.contains(&"--context") {
            all.insert(at, "--remote");
        } else {
            all.splice(at..at, ["--remote", "--context", &context]);
        }
        self.t
            .kip(&all)
            .env("KIP_STATE_DIR", self.state_dir())
            .env("KIP_IMAGE", &self.node_image)
    }

    fn outer(&self, args: &[&str]) -> Run {
        self.inner(&self.outer.clone(), args)
    }

    fn inner(&self, name: &str, args: &[&str]) -> Run {
        let context = format!("kip-{name}");
        let mut all = vec!["--context", &context, "--request-timeout", "60s"];
        all.extend_from_slice(args);
        self.t.kubectl(&all)
    }

    fn dind_image(&self) -> &str {
        &self.t.image
    }

    /// Streaming the 1.48 GB kind node image through pods/exec, then the
    /// real kind: about 70 s here, so a generous limit.
    fn wait(&self) -> &str {
        "10m"
    }

    fn state_dir(&self) -> PathBuf {
        self.t.dir.path().join("state")
    }

    fn kubeconfig(&self) -> PathBuf {
        self.t.kubeconfig()
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
        conformance::assert_nothing_left_of(self, name, &self.t.kubeconfig_doc(), None);
    }

    /// crictl's list on the kind node, as `REPOSITORY:TAG`.
    fn kind_images(&self, name: &str) -> Vec<String> {
        let control_plane = format!("{name}-control-plane");
        let run = self
            .kip(&[
                "exec",
                name,
                "--",
                "docker",
                "exec",
                &control_plane,
                "crictl",
                "images",
            ])
            .run();
        run.success();
        run.stdout
            .lines()
            .skip(1)
            .filter_map(|l| {
                let mut columns = l.split_whitespace();
                Some(format!("{}:{}", columns.next()?, columns.next()?))
            })
            .collect()
    }

    /// As a Kubernetes CI runner with a Docker-in-Docker engine runs one:
    /// kip and kubectl from the job image, the Pod's service account
    /// `kip-job` with exactly the rights kip needs, and a dockerd of its
    /// own that the kind node image is brought into first (there is no
    /// registry).
    fn job(&self, script: &str) -> String {
        self.service_account("kip-job", "");
        let runner = format!("job-{}", self.outer);
        let setup = "dockerd >/var/log/job-dockerd.log 2>&1 &\n\
                     until docker info >/dev/null 2>&1; do sleep 0.2; done\necho JOB-DOCKER-READY\n\
                     until test -e /tmp/node-image-loaded; do sleep 0.2; done\n";
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
                    "command": ["bash", "-c", conformance::job_command(setup, script)],
                    "volumeMounts": [{"name": "docker", "mountPath": "/var/lib/docker"}],
                }],
                "volumes": [{"name": "docker", "emptyDir": {}}],
            },
        });
        let file = self.write("job.json", &manifest.to_string());
        self.outer(&["apply", "-f", &file]).success();
        until(
            "the job's dockerd started",
            Duration::from_secs(180),
            || {
                let log = self.outer(&["logs", &runner]).stdout;
                log.contains("JOB-DOCKER-READY").then_some(()).ok_or(log)
            },
        );
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

    fn job_up_flags(&self) -> String {
        format!("--image {} --wait 10m", self.node_image)
    }

    fn job_waits_for_nodes(&self) -> Option<&'static str> {
        Some("kubectl wait --for=condition=Ready node --all --timeout=180s")
    }
}

/// One real shared cluster (kip's own, with kip's DinD image loaded into
/// it) for every conformance scenario, each a soft check, so that one
/// failure shows with all the others. The inner remote cluster is one too,
/// made by three `up`s at once and ended by three `down`s at once; the
/// scenarios that need a running cluster run on it in between. Each
/// check's line gives its time.
#[test]
#[ignore = "end-to-end on real Kubernetes: needs Docker, kubectl and the images of test-stack/real-kind/build.sh (KIP_E2E=1 makes their absence a failure)"]
fn remote_mode_on_a_real_cluster() {
    let Some(c) = RealShared::start("real-remote") else {
        return;
    };
    // The shared cluster: kip's own, with kip's node image loaded into it.
    // Everything below needs it, so these two are hard assertions.
    c.t.kip(&["up", &c.outer, "--image", &c.node_image, "--wait", "8m"])
        .run()
        .success();
    c.t.kip(&["load", &c.outer, c.dind_image()]).run().success();
    let mut checks = Checks::default();
    refusals_and_checks_that_make_nothing(&c, &mut checks);
    seeds_where_a_policy_forbids_the_host_path(&c, &mut checks);
    let seed = a_cluster_in_a_pod_of_it(&c, &mut checks);
    clusters_made_from_a_ci_job_pod(&c, &mut checks);
    checks.run(
        "a remote pool: a claim reaches its member, the pool refills with no kip running; \
         the example CronJob's gc collects the claimed cluster past its TTL",
        || {
            // The example's CronJob, run at once as a Job, is the gc.
            let gc = || super::remote_pool::the_gc_cronjob_example_runs(&c, "default", &c.t.image);
            super::remote_pool::a_remote_pool_hands_out_members_and_refills_without_its_claimer(
                &c,
                // Two node Pods at once (the claimed member and its
                // refill) on the one outer node of 2 CPUs.
                ("rpool", 1, &["--cpu", "100m"]),
                &["rpool-a"],
                &gc,
                Duration::from_secs(600),
            )
        },
    );
    // Every cluster that used the outer node's seed is gone now (the pool's
    // members used it too).
    if let Some((key, node)) = seed {
        checks.run("gc --remote collects the outer node's unused seed", || {
            conformance::remote_gc_collects_an_unused_seed(&c, &key, &node)
        });
    }
    // Last, as it cannot be undone from inside: the shared cluster's node
    // loses /lib/modules (the kind node's read-only mount of it, gone).
    checks.run("a node without /lib/modules is a FailedMount", || {
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
    });
    let down = c.t.kip(&["down", &c.outer]).run();
    checks.check(
        "kip down of the shared cluster",
        (down.code == 0).then_some(()).ok_or(format!("{down}")),
    );
    checks.finish();
}

/// The refusals, the dry run and doctor: each creates nothing.
fn refusals_and_checks_that_make_nothing(c: &RealShared, checks: &mut Checks) {
    let name = |suffix: &str| format!("{}-{suffix}", c.outer);
    checks.run("refused: Pod Security baseline", || {
        conformance::refused_by_pod_security(c, &name("psa"))
    });
    checks.run("refused: no pods/exec", || {
        conformance::refused_without(c, &name("noexec"), "pods/exec")
    });
    checks.run("refused: no pods/portforward", || {
        conformance::refused_without(c, &name("nofwd"), "pods/portforward")
    });
    checks.run("refused: Unschedulable", || {
        conformance::refused_as_unschedulable(c, &name("unsched"))
    });
    checks.run("refused: ErrImagePull", || {
        conformance::refused_for_an_image_that_cannot_be_pulled(c, &name("pull"))
    });
    checks.run("up without a DinD image names the flag", || {
        conformance::up_without_a_dind_image_names_the_flag(c, &name("nodind"))
    });
    checks.run("a ConfigMap kip did not make is left alone", || {
        conformance::a_config_map_kip_did_not_make_is_never_adopted_or_removed(c, &name("forcm"))
    });
    checks.run("a Pod kip did not make is left alone", || {
        conformance::a_pod_kip_did_not_make_is_never_adopted_or_removed(c, &name("forpod"))
    });
    checks.run("the dry run is what the server accepts", || {
        conformance::dry_run_is_what_the_server_accepts(c, &name("dry"), &c.t.kubeconfig())
    });
    checks.run("unknown fields are refused", || {
        conformance::unknown_fields_are_refused(&c.t.kubeconfig(), &c.outer)
    });
    checks.run("doctor: every check ok", || {
        conformance::doctor_reports_every_check_ok(c);
    });
    checks.run("doctor: the DinD image flag", || {
        conformance::doctor_names_the_dind_image_flag(c)
    });
    checks.run("doctor: Pod Security baseline", || {
        conformance::doctor_fails_pod_security_in_a_baseline_namespace(c, &name("doc"))
    });
    checks.run("doctor: RBAC without pods/exec", || {
        conformance::doctor_fails_rbac_for_a_user_without_pods_exec(c)
    });
}

/// A cluster in a Pod of the shared cluster, reached through kip's
/// forwarder: made by three `up`s at once, used, ended by three `down`s.
/// Returns the key and outer node of the seed it was made from.
fn a_cluster_in_a_pod_of_it(c: &RealShared, checks: &mut Checks) -> Option<(String, String)> {
    let inner = format!("{}-in", c.outer);
    checks.run(
        "three ups at once make one cluster; the maker seeded the outer node with the kind node image",
        || {
            conformance::ups_at_once_make_one_cluster(c, &inner, 3)
                .stderr_has("Seed of the kind node image");
        },
    );
    checks.run("the node Pod made the outer node's one seed", || {
        the_node_pod_made_the_outer_nodes_seed(c, &inner)
    });
    let mut seed = None;
    checks.run(
        "seed list --remote: the seed on its outer node, in use",
        || {
            seed = Some(conformance::remote_seed_is_listed_on_its_outer_node(
                c, &inner,
            ));
        },
    );
    checks.run("the inner cluster's nodes are Ready", || {
        c.inner(&inner, &["get", "--raw", "/readyz"])
            .success()
            .stdout_has("ok");
        c.inner(
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
        c.kip(&["status", &inner])
            .run()
            .success()
            .stdout_has("Ready");
    });
    checks.run("the node is a privileged Pod", || {
        let privileged = c
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
        assert_eq!(privileged, "true", "the node is a privileged Pod");
    });
    checks.run("kip load into the remote node and its cluster", || {
        conformance::load_streams_into_the_node_and_kind_loads_it(c, &inner)
    });
    checks.run(
        "kip run --reuse: CMD reaches the cluster, which stays",
        || {
            let kubectl = super::e2e::kubectl_path();
            c.kip(&["run", "--reuse", &inner, "--", &kubectl, "get", "nodes"])
                .run()
                .success()
                .stdout_has(" Ready ");
            c.kip(&["status", &inner]).run().success();
        },
    );
    checks.run("a second up re-exports, streaming nothing", || {
        conformance::up_on_a_running_cluster_reexports_it(c, &inner)
    });
    checks.run("the node is set up as kip promises (PID 1, MTU)", || {
        conformance::the_node_is_set_up_as_kip_promises(c, &inner);
    });
    checks.run("list, status, kubeconfig and logs find it", || {
        conformance::list_status_kubeconfig_and_logs_find_it(c, &inner)
    });
    checks.run("a killed forwarder is restored by connect", || {
        conformance::a_killed_forwarder_is_restored_by_connect(c, &inner)
    });
    checks.run("the logs bundle comes out of the Pod", || {
        conformance::the_logs_bundle_comes_out_of_the_pod(c, &inner, c.t.dir.path())
    });
    checks.run(
        "three downs at once leave nothing; the shared cluster's context is current again",
        || {
            conformance::downs_at_once_leave_nothing(c, &[&inner]);
            assert_eq!(
                c.t.kubeconfig_doc()["current-context"].as_str(),
                Some(c.context().as_str()),
                "down makes the shared cluster's context current again"
            );
        },
    );
    seed
}

/// A CI job in a Pod of the shared cluster (kip and kubectl there, a
/// service account only) makes a cluster with the pod-ip endpoint (kip's
/// default in a Pod), then one with the service endpoint; kubectl in the
/// job uses each. One job for both: its setup streams the 1.48 GB kind node
/// image into the job's own engine.
fn clusters_made_from_a_ci_job_pod(c: &RealShared, checks: &mut Checks) {
    let (by_ip, by_service) = (format!("{}-ip", c.outer), format!("{}-svc", c.outer));
    let mut log = None;
    checks.run("a CI job Pod runs kip", || {
        log = Some(c.job(&format!(
            "{}{}",
            conformance::pod_ip_from_a_pod_script(c, &by_ip),
            conformance::service_from_a_pod_script(c, &by_service)
        )));
    });
    let Some(log) = log else { return };
    checks.run("from a Pod: the pod-ip endpoint", || {
        conformance::assert_pod_ip_from_a_pod(c, &by_ip, &log)
    });
    checks.run("from a Pod: the service endpoint", || {
        conformance::assert_service_from_a_pod(c, &by_service, &log)
    });
    checks.run(
        "from a Pod: later node Pods on the outer node come up from its seed",
        || {
            for name in [&by_ip, &by_service] {
                let part = conformance::job_part(&log, name);
                assert!(part.contains("from seed"), "{part}");
                assert!(!part.contains("Streaming the kind node image"), "{part}");
            }
        },
    );
}

/// A directory of the outer node's seed store, as `ls -a` lists it there.
fn outer_seed_store(c: &RealShared, dir: &str) -> String {
    let control_plane = format!("{}-control-plane", c.outer);
    let ls =
        c.t.kip(&[
            "exec",
            &c.outer,
            "--",
            "docker",
            "exec",
            &control_plane,
            "ls",
            "-a",
            &format!("{SEED_STORE}/{dir}"),
        ])
        .run();
    ls.success();
    ls.stdout.clone()
}

/// The first node Pod on the outer node said it made the seed (its
/// bootstrap's `kip-info:`), and the outer node's hostPath holds exactly
/// one complete seed and nothing of the maker's dockerd.
fn the_node_pod_made_the_outer_nodes_seed(c: &RealShared, inner: &str) {
    let pod = format!("kip-{inner}");
    let log = c.outer(&["logs", &pod]).success().stdout.clone();
    assert!(log.contains("kip-info: seed=making "), "{log}");
    assert!(!log.contains("cannot remove"), "{log}");
    let store = outer_seed_store(c, "");
    let seeds: Vec<&str> = store
        .lines()
        .filter(|l| l.len() == 20 && l.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    assert_eq!(seeds.len(), 1, "one seed on the outer node:\n{store}");
    assert!(
        log.contains(&format!("kip-info: seed=making {}", seeds[0])),
        "{log}"
    );
    assert!(!store.contains(".making"), "{store}");
    let seed = outer_seed_store(c, seeds[0]);
    let seed: Vec<&str> = seed.lines().collect();
    assert_eq!(seed, [".", "..", "layers", "seed.env", "skel"]);
}

/// What the admission policy of [`host_path_policy`] says.
const POLICY_MESSAGE: &str = "kip-test: hostPath volumes other than /lib/modules are not allowed";

/// An admission policy (a ValidatingAdmissionPolicy, as Gatekeeper's
/// `allowedHostPaths` would be) that allows Pods in `namespace` only the
/// hostPath /lib/modules: kip's node Pod, not its seed store. Returns once
/// the API server enforces it.
fn host_path_policy(c: &RealShared, namespace: &str) {
    let expression = "!has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.hostPath) || v.hostPath.path == '/lib/modules')";
    let manifest = serde_json::json!({
        "apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
            {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
             "metadata": {"name": namespace},
             "spec": {
                 "failurePolicy": "Fail",
                 "matchConstraints": {"resourceRules": [{
                     "apiGroups": [""], "apiVersions": ["v1"],
                     "operations": ["CREATE", "UPDATE"], "resources": ["pods"]}]},
                 "validations": [{"expression": expression, "message": POLICY_MESSAGE}]}},
            {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
             "metadata": {"name": namespace},
             "spec": {
                 "policyName": namespace,
                 "validationActions": ["Deny"],
                 "matchResources": {"namespaceSelector": {"matchLabels": {
                     "kubernetes.io/metadata.name": namespace}}}}},
        ]
    });
    let file = c.write("host-path-policy.json", &manifest.to_string());
    c.outer(&["apply", "-f", &file]).success();
    let probe = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "probe", "namespace": namespace},
        "spec": {
            "containers": [{"name": "c", "image": "probe"}],
            "volumes": [{"name": "s", "hostPath": {"path": SEED_STORE}}],
        },
    });
    let probe = c.write("host-path-probe.json", &probe.to_string());
    until(
        "the admission policy refuses a hostPath Pod",
        Duration::from_secs(60),
        || {
            let dry = c.outer(&["create", "--dry-run=server", "-f", &probe]);
            (dry.code != 0 && dry.stderr.contains(POLICY_MESSAGE))
                .then_some(())
                .ok_or(format!("{dry}"))
        },
    );
}

/// Where a policy forbids the seed store's hostPath: doctor warns (not
/// fails) and names the policy; `up` is not refused but makes the node
/// without the store, whose own word is why (it would stream). The node
/// is kept unschedulable (`--node-selector`), so nothing is streamed.
fn seeds_where_a_policy_forbids_the_host_path(c: &RealShared, checks: &mut Checks) {
    let namespace = format!("{}-nohp", c.outer);
    checks.run("seeds forbidden: the policy is in force", || {
        host_path_policy(c, &namespace)
    });
    checks.run("seeds forbidden: doctor warns and names the policy", || {
        let report = conformance::doctor(c, &["-n", &namespace], 0, &namespace);
        assert_eq!(check(&report, "dry-run")["status"], "ok", "{report:#}");
        let seeds = check(&report, "seeds");
        assert_eq!(seeds["status"], "warn", "{report:#}");
        let message = seeds["message"].as_str().unwrap();
        assert!(message.contains(POLICY_MESSAGE), "{message}");
        assert!(message.contains("streams"), "{message}");
    });
    checks.run(
        "seeds forbidden: up makes the node without the store, which says why",
        || {
            let name = format!("{}-nohp", c.outer);
            let up = c
                .kip(&[
                    "up",
                    &name,
                    "-n",
                    &namespace,
                    "--dind-image",
                    c.dind_image(),
                    "--wait",
                    "90s",
                    "--node-selector",
                    "pool=gpu",
                    "--keep-on-failure",
                ])
                .run();
            up.code(6).stderr_has("Unschedulable");
            let pod = c
                .outer(&[
                    "get",
                    "pod",
                    &format!("kip-{name}"),
                    "-n",
                    &namespace,
                    "-o",
                    "json",
                ])
                .json();
            let env = &pod["spec"]["containers"][0]["env"];
            let off = env
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["name"] == "KIP_SEED_OFF")
                .unwrap_or_else(|| panic!("no KIP_SEED_OFF: {env}"));
            assert!(
                off["value"].as_str().unwrap().contains(POLICY_MESSAGE),
                "{off}"
            );
            assert!(!env.to_string().contains("\"KIP_SEED\""), "{env}");
            let volumes = pod["spec"]["volumes"].to_string();
            assert!(!volumes.contains(SEED_STORE), "{volumes}");
            c.kip(&["down", &name, "-n", &namespace]).run().success();
        },
    );
    let cleanup = [
        vec!["delete", "validatingadmissionpolicybinding", &namespace],
        vec!["delete", "validatingadmissionpolicy", &namespace],
        vec!["delete", "namespace", &namespace, "--wait=false"],
    ];
    for args in cleanup {
        c.outer(&args);
    }
}
