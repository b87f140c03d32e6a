//! `kip doctor --remote`: what `kip up --remote` asks of the shared cluster,
//! asked the same way (the same rights, label and dry run as the backend's
//! preflight) and before anything is created, but reported check by check
//! instead of stopping at the first refusal.

use super::{first_line, Check, DoctorSettings};
use crate::cluster::plan::default_plan;
use crate::error::{NO_REMOTE_DIND_IMAGE, REMOTE_DIND_IMAGE_FIX};
use crate::names::DEFAULT_CLUSTER;
use crate::node::contract::SEED_STORE;
use crate::node::pod_options::EndpointMode;
use crate::node::NodePlan;
use crate::provider::kube::preflight::{self, Right};
use crate::provider::kube::KubeProvider;
use crate::provider::Provider;
use crate::seed::Seed;
use crate::settings::Environment;
use anyhow::Result;

const API: &str = "kubernetes";
const RBAC: &str = "rbac";
const POD_SECURITY: &str = "pod-security";
const DRY_RUN: &str = "dry-run";
const SUBNETS: &str = "subnets";
const IMAGE: &str = "dind-image";
const SEEDS: &str = "seeds";
const POOLS: &str = "pools";

/// The checks, in order. An API server that does not answer is the one
/// check: everything else would fail the same way.
pub async fn checks(
    settings: &DoctorSettings,
    env: &Environment,
    backend: Result<&KubeProvider, &anyhow::Error>,
) -> Vec<Check> {
    let backend = match backend {
        Ok(backend) => backend,
        Err(e) => return vec![unaddressable_check(&first_line(e))],
    };
    let version = backend.api_version().await.map_err(|e| first_line(&e));
    let api = api_check(version, backend.server(), &backend.where_());
    if api.status == super::Level::Fail {
        return vec![api];
    }
    let mut checks = vec![api];
    let missing = backend.missing_rights().await.map_err(|e| first_line(&e));
    checks.push(rbac_check(missing, backend.endpoint(), &backend.where_()));
    let pools = backend
        .missing_pool_rights()
        .await
        .map_err(|e| first_line(&e));
    checks.push(pool_rights_check(pools, &backend.where_()));
    checks.push(pod_security_check(
        backend.namespace(),
        backend.pod_security_level().await,
    ));
    checks.push(image_check(settings.image.as_deref()));
    match backend.facts().await.and_then(|facts| {
        let plan = default_plan(DEFAULT_CLUSTER, settings.image.clone(), &facts, env)?;
        Ok((facts, plan))
    }) {
        Ok((facts, plan)) => {
            let dry = backend
                .dry_run(&plan)
                .await
                .map(|refused| refused.map_err(|e| e.to_string()))
                .map_err(|e| first_line(&e));
            let node_accepted = matches!(dry, Ok(Ok(())));
            checks.push(dry_run_check(dry));
            let mut seeds = seeds_check(if node_accepted {
                seed_store_refusal(backend, &plan).await
            } else {
                Err("the cluster refuses the node Pod itself (see dry-run)".into())
            });
            if let Some(disk) = seed_disk(backend).await {
                seeds.message = format!("{}; {disk}", seeds.message);
            }
            checks.push(seeds);
            let inner = &plan.kind_config.networking;
            checks.push(subnets_check(
                &facts.subnets,
                &inner.pod_subnet,
                &inner.service_subnet,
            ));
        }
        Err(e) => checks.push(Check::fail(
            DRY_RUN,
            format!("kip cannot plan the node: {}", first_line(&e)),
            "fix what the message names, then run `kip doctor --remote` again",
        )),
    }
    checks
}

/// The node Pod's image: kip's default exists on the local engine only.
fn image_check(image: Option<&str>) -> Check {
    match image {
        Some(image) => Check::ok(
            IMAGE,
            format!("node Pods run {image} (the cluster's nodes must be able to pull it)"),
        ),
        None => Check::fail(IMAGE, NO_REMOTE_DIND_IMAGE, REMOTE_DIND_IMAGE_FIX),
    }
}

/// kip cannot even make a client: no kubeconfig, no such context.
fn unaddressable_check(why: &str) -> Check {
    Check::fail(
        API,
        why.to_string(),
        "name the cluster as kubectl would: --kubeconfig FILE, --context CONTEXT (see `kubectl config get-contexts`)",
    )
}

fn api_check(version: Result<String, String>, server: &str, place: &str) -> Check {
    match version {
        Ok(version) => Check::ok(API, format!("Kubernetes {version} at {server}, {place}")),
        Err(why) => Check::fail(
            API,
            why,
            format!(
                "check that {server} is up and reachable from here (`kubectl version` asks the same), \
                 or pick another cluster with --context CONTEXT or --kubeconfig FILE"
            ),
        ),
    }
}

fn rbac_check(missing: Result<Vec<Right>, String>, mode: EndpointMode, place: &str) -> Check {
    let endpoint = endpoint_name(mode);
    match missing {
        Ok(missing) if missing.is_empty() => Check::ok(
            RBAC,
            format!(
                "kip may do all a remote node needs in {place} (endpoint {endpoint}: {} rights)",
                preflight::needed_rights(mode).len()
            ),
        ),
        Ok(missing) => Check::fail(
            RBAC,
            format!(
                "kip may not do what a remote node (endpoint {endpoint}) needs in {place}:\n{}",
                preflight::missing_lines(&missing)
            ),
            format!(
                "an admin must grant them, e.g. in a Role bound to you:\n{}",
                preflight::role_rules(&missing)
            ),
        ),
        Err(why) => Check::fail(
            RBAC,
            format!("cannot ask the cluster what kip may do (SelfSubjectAccessReview): {why}"),
            "an admin must let you create selfsubjectaccessreviews (every authenticated user may by default)",
        ),
    }
}

/// The rights warm pools need beyond a node's: a warning, as a user who
/// never keeps a pool here does not need them.
fn pool_rights_check(missing: Result<Vec<Right>, String>, place: &str) -> Check {
    match missing {
        Ok(missing) if missing.is_empty() => Check::ok(
            POOLS,
            format!(
                "kip may keep warm pools in {place} (`kip pool --remote`: {} more rights)",
                preflight::POOL_RIGHTS.len()
            ),
        ),
        Ok(missing) => Check::warn(
            POOLS,
            format!(
                "kip may make clusters but not keep warm pools in {place} (`kip pool --remote`, \
                 `up --pool`); it lacks:\n{}",
                preflight::missing_lines(&missing)
            ),
            format!(
                "only if you use pools here: an admin must grant them, e.g. in a Role bound to you:\n{}",
                preflight::role_rules(&missing)
            ),
        ),
        // The rbac check says the same of the same reviews.
        Err(why) => Check::warn(
            POOLS,
            format!("cannot ask the cluster what warm pools may do: {why}"),
            "see the rbac check",
        ),
    }
}

fn pod_security_check(namespace: &str, level: Result<Option<String>, String>) -> Check {
    match level {
        Ok(Some(level)) if preflight::refuses_privileged(&level) => Check::fail(
            POD_SECURITY,
            preflight::pod_security_problem(namespace, &level),
            preflight::pod_security_fix(namespace),
        ),
        Ok(Some(level)) => Check::ok(
            POD_SECURITY,
            format!("namespace {namespace} enforces the Pod Security level \"{level}\": privileged pods are allowed"),
        ),
        Ok(None) => Check::ok(
            POD_SECURITY,
            format!("namespace {namespace} enforces no Pod Security level: privileged pods are allowed"),
        ),
        // RBAC often hides namespaces: the dry run still shows a refusal.
        Err(why) => Check::warn(
            POD_SECURITY,
            format!("not checked: {why}"),
            "nothing to do if the dry run is ok; else ask an admin for the namespace's \
             pod-security.kubernetes.io/enforce label (kip's node needs \"privileged\")",
        ),
    }
}

fn dry_run_check(outcome: Result<Result<(), String>, String>) -> Check {
    match outcome {
        Ok(Ok(())) => Check::ok(
            DRY_RUN,
            "the cluster accepts the node's objects (a server-side dry run: admission webhooks, quotas and policies answered)",
        ),
        Ok(Err(refusal)) => Check::fail(
            DRY_RUN,
            refusal,
            "an admission webhook, quota or policy refuses the node: ask an admin, or use another --namespace",
        ),
        Err(why) => Check::fail(
            DRY_RUN,
            why,
            "check that the API server answers, then run `kip doctor --remote` again",
        ),
    }
}

/// The dry run again, the node Pod with the outer node's seed store (a
/// `hostPath`): the cluster's words if it refuses that alone.
async fn seed_store_refusal(
    backend: &KubeProvider,
    plan: &NodePlan,
) -> Result<Option<String>, String> {
    let mut seeded = plan.clone();
    Seed::for_remote_node(
        (crate::node::DEFAULT_KIND_IMAGE, "sha256:doctor"),
        &plan.node.image,
    )
    .apply(&mut seeded);
    backend
        .host_path_refusal(&seeded)
        .await
        .map_err(|e| first_line(&e))
}

/// The disk the seeds kip knows of take on the outer nodes (a helper Pod
/// on each), or None when it knows of none.
async fn seed_disk(backend: &KubeProvider) -> Option<String> {
    let found = crate::seed::remote_inventory(backend, None).await.ok()?;
    if found.stores.is_empty() && found.unread.is_empty() {
        return None;
    }
    let sizes: Vec<u64> = found
        .stores
        .iter()
        .flat_map(|(_, seeds)| seeds.iter().map(|s| s.size_bytes))
        .collect();
    let mut disk = format!(
        "{} seed(s) take {} on {} outer node(s) (`kip seed list --remote`; `kip gc --remote --older-than 7d` \
         removes unused ones)",
        sizes.len(),
        crate::output::size(sizes.iter().sum()),
        found.stores.len()
    );
    for (node, why) in &found.unread {
        disk.push_str(&format!(
            "; outer node {node} not read: {}",
            why.lines().next().unwrap_or_default()
        ));
    }
    Some(disk)
}

/// Whether node Pods can share seeds on their outer node: a cluster that
/// forbids the hostPath costs a stream per node Pod, nothing fails.
fn seeds_check(refusal: Result<Option<String>, String>) -> Check {
    match refusal {
        Ok(None) => Check::ok(
            SEEDS,
            format!(
                "node Pods may mount the hostPath seed store {SEED_STORE}: the first node Pod on an outer node \
                 makes the seed of a kind node image, later ones there get the image from it"
            ),
        ),
        Ok(Some(refusal)) => Check::warn(
            SEEDS,
            format!(
                "the cluster refuses the hostPath seed store {SEED_STORE}: {}; kip streams the kind node image \
                 into every node Pod instead (about a minute each)",
                refusal.lines().next().unwrap_or_default()
            ),
            format!(
                "nothing fails without seeds; for them an admin must allow kip's node Pods a hostPath volume at {SEED_STORE}"
            ),
        ),
        Err(why) => Check::warn(
            SEEDS,
            format!("not checked: {why}"),
            "fix the dry run first, then run `kip doctor --remote` again",
        ),
    }
}

fn subnets_check(outer: &[String], pods: &str, services: &str) -> Check {
    let inner = format!("the inner cluster takes pods {pods}, services {services}");
    if outer.is_empty() {
        Check::ok(
            SUBNETS,
            format!("the outer cluster's subnets are not visible (RBAC hides nodes): {inner}"),
        )
    } else {
        Check::ok(
            SUBNETS,
            format!(
                "the outer cluster uses {}: {inner}, clear of them",
                outer.join(", ")
            ),
        )
    }
}

/// As `--endpoint` names it.
fn endpoint_name(endpoint: EndpointMode) -> &'static str {
    match endpoint {
        EndpointMode::Forwarded => "forwarded",
        EndpointMode::PodIp => "pod-ip",
        EndpointMode::Service => "service",
    }
}

#[cfg(test)]
mod tests {
    use super::super::Level;
    use super::*;

    #[test]
    fn kips_default_dind_image_is_no_image_for_a_remote_node() {
        let default = image_check(None);
        assert_eq!(default.status, Level::Fail);
        assert!(default.fix.unwrap().contains("--dind-image"));
        assert_eq!(image_check(Some("registry/dind:1")).status, Level::Ok);
    }

    #[test]
    fn an_unreachable_api_server_names_its_address() {
        let down = api_check(
            Err("connection refused".into()),
            "https://10.0.0.1:6443/",
            "ns",
        );
        assert_eq!(down.status, Level::Fail);
        assert!(down.fix.unwrap().contains("https://10.0.0.1:6443/"));
        let up = api_check(
            Ok("v1.31.0".into()),
            "https://10.0.0.1:6443/",
            "namespace a",
        );
        assert_eq!(up.status, Level::Ok);
        assert!(up.message.contains("v1.31.0"), "{}", up.message);
    }

    #[test]
    fn missing_pool_rights_are_a_warning_naming_the_role_rules() {
        let ok = pool_rights_check(Ok(Vec::new()), "namespace a");
        assert_eq!(ok.status, Level::Ok);
        let warn = pool_rights_check(Ok(vec![preflight::POOL_RIGHTS[0]]), "namespace a");
        assert_eq!(warn.status, Level::Warn);
        assert!(warn.message.contains("  - patch pods"), "{}", warn.message);
        assert!(warn.fix.unwrap().contains("verbs: [\"patch\"]"));
    }

    #[test]
    fn missing_rights_name_the_role_rules() {
        let ok = rbac_check(Ok(Vec::new()), EndpointMode::Forwarded, "namespace a");
        assert_eq!(ok.status, Level::Ok);
        let missing = preflight::needed_rights(EndpointMode::Forwarded)
            .into_iter()
            .filter(|r| r.subresource == "exec")
            .collect();
        let fail = rbac_check(Ok(missing), EndpointMode::Forwarded, "namespace a");
        assert_eq!(fail.status, Level::Fail);
        assert!(
            fail.message.contains("  - create pods/exec"),
            "{}",
            fail.message
        );
        assert!(fail.fix.unwrap().contains("resources: [\"pods/exec\"]"));
    }

    #[test]
    fn pod_security_levels() {
        let level = |l: Result<Option<&str>, &str>| {
            pod_security_check("a", l.map(|o| o.map(String::from)).map_err(String::from)).status
        };
        assert_eq!(level(Ok(None)), Level::Ok);
        assert_eq!(level(Ok(Some("privileged"))), Level::Ok);
        assert_eq!(level(Ok(Some("baseline"))), Level::Fail);
        assert_eq!(level(Ok(Some("restricted"))), Level::Fail);
        // Unreadable is not a refusal: the dry run still answers.
        assert_eq!(level(Err("forbidden")), Level::Warn);
        let fix = pod_security_check("a", Ok(Some("baseline".into()))).fix;
        assert!(fix.unwrap().contains("kubectl label namespace a "));
    }

    #[test]
    fn a_refused_seed_store_is_a_warning_naming_the_refusal() {
        assert_eq!(seeds_check(Ok(None)).status, Level::Ok);
        let refused = seeds_check(Ok(Some(
            "pods \"kip-kip\" is forbidden: no hostPath\nmore".into(),
        )));
        assert_eq!(refused.status, Level::Warn);
        assert!(
            refused
                .message
                .contains("/var/lib/kip/seeds: pods \"kip-kip\" is forbidden: no hostPath;"),
            "{}",
            refused.message
        );
        assert!(refused.message.contains("streams"), "{}", refused.message);
        assert_eq!(seeds_check(Err("refused".into())).status, Level::Warn);
    }

    #[test]
    fn dry_run_and_subnets() {
        assert_eq!(dry_run_check(Ok(Ok(()))).status, Level::Ok);
        assert_eq!(dry_run_check(Ok(Err("quota".into()))).status, Level::Fail);
        assert_eq!(dry_run_check(Err("gone".into())).status, Level::Fail);
        let seen = subnets_check(&["10.244.0.0/24".into()], "10.245.0.0/16", "10.246.0.0/16");
        assert_eq!(seen.status, Level::Ok);
        assert!(seen.message.contains("10.244.0.0/24"), "{}", seen.message);
        assert!(subnets_check(&[], "p", "s").message.contains("not visible"));
    }
}
