//! `kip doctor`: the preflight a user or CI runs before `kip up`, every
//! check reported with its fix (the checks are the cluster layer's
//! `preflight`, which `kip up` runs too); `--remote` checks the shared
//! cluster instead (`remote.rs`).

mod remote;

use crate::cluster::preflight::{
    kind_network_check, local_checks, privileged_check, Check, Host, Level,
};
use crate::error::Error;
use crate::node::image::default_image;
use crate::output::StatusFormat;
use crate::provider::docker::DockerProvider;
use crate::provider::kube::KubeProvider;
use crate::provider::Provider;
use crate::settings::Environment;
use anyhow::Result;
use serde::Serialize;

/// What `kip doctor` checks with, and how it reports.
#[derive(Debug, Clone)]
pub struct DoctorSettings {
    /// The node image: for the privileged-container check, and the node Pod
    /// `--remote` dry-runs (None: kip's node image).
    pub image: Option<String>,
    pub output: StatusFormat,
}

/// `backend`: the engine, or why kip cannot even address it (a missing
/// socket); either way the report is printed.
pub async fn run(
    settings: &DoctorSettings,
    env: &Environment,
    backend: Result<&DockerProvider, &anyhow::Error>,
) -> Result<()> {
    let host = Host::new(env);
    let mut checks = Vec::new();
    let facts = match backend {
        Ok(backend) => backend.facts().await.map(|facts| (backend, facts)),
        Err(e) => Err(anyhow::anyhow!("{e:#}")),
    };
    match facts {
        Err(e) => checks.push(Check::fail(
            "docker",
            first_line(&e),
            "start Docker, or point DOCKER_HOST (or `docker context use`) at your engine",
        )),
        Ok((backend, facts)) => {
            checks.push(Check::ok("docker", facts.description.clone()));
            let image = settings.image.clone().unwrap_or_else(default_image);
            let privileged = match backend.probe_privileged(&image).await {
                Ok(outcome) => Ok(outcome),
                Err(e) => Err(first_line(&e)),
            };
            checks.push(privileged_check(privileged));
            checks.extend(local_checks(&facts, &host));
            let kind = backend.network_mtu("kind").await?;
            let bridge = backend.network_mtu("bridge").await?.flatten();
            checks.push(kind_network_check(kind, bridge));
            checks.push(crate::seed::doctor_check(backend, settings.image.as_deref()).await);
            checks.push(crate::snapshot::report::doctor_check(backend).await);
        }
    }
    report(&checks, settings.output)
}

/// `kip doctor --remote`: the shared cluster's checks, printed as the local
/// ones are. `backend`: the cluster, or why kip cannot even address it (no
/// kubeconfig); either way the report is printed.
pub async fn run_remote(
    settings: &DoctorSettings,
    env: &Environment,
    backend: Result<&KubeProvider, &anyhow::Error>,
) -> Result<()> {
    let checks = remote::checks(settings, env, backend).await;
    report(&checks, settings.output)
}

/// What `kip doctor -o json` prints.
#[derive(Debug, Serialize)]
struct DoctorReport<'a> {
    ok: bool,
    checks: &'a [Check],
}

impl crate::output::Document for DoctorReport<'_> {
    const KIND: &'static str = "DoctorReport";
    const SCHEMA: &'static str = "doctor-report.schema.json";
}

/// Prints the report; a failed check is exit 3 (environment).
fn report(checks: &[Check], output: StatusFormat) -> Result<()> {
    match output {
        StatusFormat::Json => crate::output::json(&DoctorReport {
            ok: !checks.iter().any(|c| c.status == Level::Fail),
            checks,
        })?,
        StatusFormat::Text => crate::output::out(text(checks))?,
    }
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c.status == Level::Fail)
        .map(|c| c.name)
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::DoctorFailed {
            checks: failed.into_iter().map(String::from).collect(),
        }
        .into())
    }
}

/// An error's first line, with its causes: what a check's message says.
fn first_line(e: &anyhow::Error) -> String {
    format!("{e:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn text(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        let status = serde_json::to_value(c.status)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        out.push_str(&format!("{status:<5} {:<13} {}\n", c.name, c.message));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("{:<19} fix: {fix}\n", ""));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::preflight::modules_check;

    #[test]
    fn the_report_matches_its_schema() {
        crate::output::assert_matches_schema(&DoctorReport {
            ok: true,
            checks: &[modules_check(true)],
        });
    }
}
