//! Handing a ready cluster over: its kubeconfig entries written (a ready
//! cluster never turns into a failed `up` because of the kubeconfig), the
//! flags that did nothing named, and the result `up -o json` prints.

use super::Request;
use crate::api::ApiEndpoint;
use crate::kubeconfig::{self, ClusterCredentials, KubeconfigTarget};
use crate::names;
use crate::output::Printer;
use crate::provider::NodeInfo;
use std::time::Instant;

/// What `kip up -o json` prints.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpOutcome {
    pub name: String,
    pub context: String,
    pub endpoint: String,
    pub kubeconfig: std::path::PathBuf,
    /// False when the cluster is ready but kip could not write `kubeconfig`
    /// (stderr says why; `kip kubeconfig NAME` prints it).
    pub kubeconfig_written: bool,
    /// True when the cluster already ran and was only re-exported.
    pub reused: bool,
    /// `up --pool`: the pool member that became the cluster (null: the
    /// cluster was made, or re-exported).
    pub member: Option<String>,
    /// With `reused`: the flags given that only shape a new cluster, which
    /// therefore did nothing (`--ttl 1h`, `--mtu 1400`).
    pub ignored_flags: Vec<String>,
    pub elapsed_seconds: f64,
}

impl crate::output::Document for UpOutcome {
    const KIND: &'static str = "UpResult";
    const SCHEMA: &'static str = "up-result.schema.json";
}

impl UpOutcome {
    pub fn new(
        request: &Request,
        endpoint: &ApiEndpoint,
        target: &KubeconfigTarget,
        reused: bool,
        kubeconfig_written: bool,
        started: Instant,
    ) -> Self {
        UpOutcome {
            name: request.name.clone(),
            context: names::context_name(&request.name),
            endpoint: endpoint.server_url(),
            kubeconfig: target.path.clone(),
            kubeconfig_written,
            reused,
            member: None,
            ignored_flags: if reused {
                request.cluster.given.clone()
            } else {
                Vec::new()
            },
            elapsed_seconds: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        }
    }
}

/// A ready cluster never turns into a failed `up` because of the kubeconfig:
/// say what went wrong and how to get the kubeconfig instead. Whether it
/// was written.
pub fn write_kubeconfig(
    request: &Request,
    printer: &Printer,
    target: &KubeconfigTarget,
    creds: &ClusterCredentials,
) -> bool {
    let context = names::context_name(&request.name);
    let step = printer.step("kubeconfig-written", "Writing the kubeconfig");
    let result = kubeconfig::update(&target.path, |doc| {
        kubeconfig::upsert_entries(doc, &context, creds, request.switch_context)
    });
    match result {
        Ok(()) => {
            step.done(&format!(
                "Kubeconfig written: context {context} in {}",
                target.path.display()
            ));
            true
        }
        Err(e) => {
            printer.warn(&format!(
                "the cluster is ready, but kip could not update {}: {e:#}\nGet its kubeconfig with: kip kubeconfig {} > FILE",
                target.path.display(),
                request.name
            ));
            false
        }
    }
}

/// The kubectl command that reaches the new cluster: `--kubeconfig` too
/// when the file written is not the one kubectl reads by default (`kip run`'s
/// private kubeconfig, `--kubeconfig FILE`), or the context is found nowhere.
pub fn kubectl_hint(request: &Request, target: &KubeconfigTarget) -> String {
    let context = names::context_name(&request.name);
    let default = KubeconfigTarget::resolve(&request.kubeconfig.without_flag()).ok();
    let file = if default.is_some_and(|d| d.path == target.path) {
        String::new()
    } else {
        format!(" --kubeconfig {}", target.path.display())
    };
    format!("\n  kubectl{file} --context {context} get --raw /readyz")
}

/// The flags that would have shaped a new cluster do nothing to one that
/// exists (a container's labels, its TTL among them, are fixed when it is
/// made): say so, and what the cluster's TTL still is, rather than let a CI
/// job believe `--ttl` protects it.
pub fn warn_ignored(request: &Request, printer: &Printer, existing: &NodeInfo) {
    let given = &request.cluster.given;
    if given.is_empty() {
        return;
    }
    let name = &request.name;
    let ttl = if given.iter().any(|g| g.starts_with("--ttl ")) {
        match &existing.expires_at {
            Some(at) => format!("; its TTL is unchanged: `kip gc` deletes it after {at}"),
            None => format!(
                "; it has no TTL, so `kip gc` will not delete it: `kip down {name}` when done"
            ),
        }
    } else {
        String::new()
    };
    printer.warn(&format!(
        "cluster {name} already exists, so these flags were ignored (they only shape a new cluster): {}{ttl}.\n\
         `kip up {name} --recreate` makes it anew with them",
        given.join(", ")
    ));
}

#[cfg(test)]
mod tests {
    use super::UpOutcome;

    #[test]
    fn the_result_matches_its_schema() {
        crate::output::assert_matches_schema(&UpOutcome {
            name: "a".into(),
            context: "kip-a".into(),
            endpoint: "https://127.0.0.1:1".into(),
            kubeconfig: "/kc".into(),
            kubeconfig_written: true,
            reused: false,
            member: Some("pool.ci.0123abcd".into()),
            ignored_flags: Vec::new(),
            elapsed_seconds: 1.0,
        });
    }
}
