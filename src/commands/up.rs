//! `kip up [NAME]`: a cluster, by the cluster layer's `up` recipe (or
//! `--recreate`'s); `--dry-run` prints the node plan instead.

use crate::cluster::{self, create, Place, Request, UpOutcome};
use crate::output::{Printer, StatusFormat};
use crate::provider::docker::DockerProvider;
use crate::provider::kube::KubeProvider;
use crate::provider::pool::Pools;
use crate::provider::Provider;
use crate::settings::Environment;
use anyhow::Result;

/// What `kip up` makes, resolved from its flags and kip's config file.
#[derive(Debug, Clone)]
pub struct UpSettings {
    pub request: Request,
    /// Delete an existing cluster of this name first.
    pub recreate: bool,
    /// `--pool POOL` (and `--pool-wait`): claim a ready member of the pool.
    pub pool: Option<(String, bool)>,
    /// Make the cluster from this snapshot (on the local engine).
    pub from: Option<String>,
}

/// `host`: the local Docker engine the kind node image comes from (the
/// provider itself in local mode; in remote mode, one if it answers).
pub async fn run<P: Pools>(
    settings: &UpSettings,
    env: &Environment,
    provider: &P,
    host: Option<&DockerProvider>,
    printer: &Printer,
) -> Result<UpOutcome> {
    let place = Place {
        provider,
        host,
        printer,
        env,
    };
    if let Some((pool, wait)) = &settings.pool {
        let request =
            cluster::pool::claim_request(provider, settings.request.clone(), pool, *wait).await?;
        return cluster::pool::claim_member(&request, false, place).await;
    }
    let recipe = if settings.recreate {
        create::recreate()
    } else {
        create::up()
    };
    cluster::create(recipe, &settings.request, place).await
}

/// `kip up NAME --from SNAPSHOT`: the cluster layer's `restore` recipe, on
/// the local engine.
pub async fn restore(
    settings: &UpSettings,
    env: &Environment,
    engine: &DockerProvider,
    printer: &Printer,
) -> Result<UpOutcome> {
    let place = local_place(engine, env, printer);
    let snapshot = settings.from.as_deref().unwrap_or_default();
    cluster::create(create::restore(snapshot), &settings.request, place).await
}

/// `kip up NAME --remote --from SNAPSHOT`: the snapshot (on the local
/// `engine`) streamed into a new remote node.
pub async fn restore_remote(
    settings: &UpSettings,
    env: &Environment,
    (kube, engine): (&KubeProvider, &DockerProvider),
    printer: &Printer,
) -> Result<UpOutcome> {
    let place = Place {
        provider: kube,
        host: Some(engine),
        printer,
        env,
    };
    let snapshot = settings.from.as_deref().unwrap_or_default();
    cluster::create(create::restore_remote(snapshot), &settings.request, place).await
}

/// `kip up --dry-run`: prints the node plan and touches nothing. It works
/// without a reachable engine too (the plan then assumes defaults).
pub async fn dry_run(
    settings: &UpSettings,
    env: &Environment,
    format: StatusFormat,
    (provider, host): (
        Result<&impl Provider, &anyhow::Error>,
        Option<&DockerProvider>,
    ),
    printer: &Printer,
) -> Result<()> {
    let request = &settings.request;
    let sources = (provider, host);
    let yaml = cluster::plan::dry_run(&request.name, &request.cluster, env, sources, |w| {
        printer.warn(&w)
    })
    .await?;
    print_plan(yaml, format)
}

/// `kip up NAME --from SNAPSHOT --dry-run`: the restore's checks run as a
/// restore runs them (a snapshot this engine or these flags cannot run is
/// refused, exit 3; an unknown one is exit 5), what the restore would do
/// said on stderr, and the node plan it would make printed. Touches nothing.
pub async fn dry_run_restore(
    settings: &UpSettings,
    env: &Environment,
    format: StatusFormat,
    engine: &DockerProvider,
    printer: &Printer,
) -> Result<()> {
    let place = local_place(engine, env, printer);
    let snapshot = settings.from.as_deref().unwrap_or_default();
    let (meta, plan) = create::restore_plan(snapshot, &settings.request, place).await?;
    let name = &settings.request.name;
    printer.info(&crate::snapshot::check::restore_summary(
        &meta,
        name,
        &plan.node.volume.name,
    ));
    let yaml = engine.manifest(&plan);
    print_plan(yaml, format)
}

/// `kip up NAME --pool POOL --dry-run`: says what the claim would do (take
/// one of the pool's ready members, wait for one, or make NAME fresh from
/// the pool's plan) and prints the pool's plan as the node plan; refuses
/// what the claim would refuse (an unknown pool, a flag that shapes a
/// node). Touches nothing. Pools are the local engine's.
pub async fn dry_run_claim<P: Pools>(
    settings: &UpSettings,
    env: &Environment,
    format: StatusFormat,
    (provider, host): (&P, Option<&DockerProvider>),
    printer: &Printer,
) -> Result<()> {
    let Some((pool, wait)) = &settings.pool else {
        return dry_run(settings, env, format, (Ok(provider), host), printer).await;
    };
    let name = &settings.request.name;
    let request =
        cluster::pool::claim_request(provider, settings.request.clone(), pool, *wait).await?;
    let spec = cluster::pool::find(provider, pool).await?.spec;
    let ready = cluster::pool::ready_members(provider, &spec).await?.len();
    printer.info(&match ready {
        0 if *wait => format!(
            "Pool {pool} has no ready member: kip up would wait up to --wait for one to become {name}"
        ),
        0 => match &spec.plan.snapshot {
            Some(snapshot) => format!(
                "Pool {pool} has no ready member: kip up would restore {name} from snapshot {} (the \
                 pool's plan, below)",
                snapshot.name
            ),
            None => format!(
                "Pool {pool} has no ready member: kip up would make {name} fresh from the pool's plan (below)"
            ),
        },
        n => format!("kip up would claim one of pool {pool}'s {n} ready member(s) as {name}, made from the plan below"),
    });
    let claimed = UpSettings {
        request,
        pool: None,
        ..settings.clone()
    };
    dry_run(&claimed, env, format, (Ok(provider), host), printer).await
}

/// `-o json` of what is otherwise printed as YAML: one document as itself,
/// several (a remote node's objects) as a `List`, as `kubectl -o json` does.
fn yaml_to_json(yaml: &str) -> Result<String> {
    use serde::Deserialize;
    let mut docs = serde_yaml::Deserializer::from_str(yaml)
        .map(serde_json::Value::deserialize)
        .collect::<Result<Vec<_>, _>>()?;
    docs.retain(|d| !d.is_null());
    let value = if docs.len() == 1 {
        docs.remove(0)
    } else {
        serde_json::json!({"apiVersion": "v1", "kind": "List", "items": docs})
    };
    Ok(serde_json::to_string_pretty(&value)?)
}

/// Where a local `up --from` runs: the engine is the provider and the host.
fn local_place<'a>(
    engine: &'a DockerProvider,
    env: &'a Environment,
    printer: &'a Printer,
) -> Place<'a, DockerProvider> {
    Place {
        provider: engine,
        host: Some(engine),
        printer,
        env,
    }
}

/// A node plan on stdout, as YAML or (`-o json`) JSON.
fn print_plan(yaml: String, format: StatusFormat) -> Result<()> {
    match format {
        StatusFormat::Text => crate::output::out(yaml)?,
        StatusFormat::Json => crate::output::out(yaml_to_json(&yaml)? + "\n")?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::yaml_to_json;

    #[test]
    fn json_of_one_document_and_of_several() {
        let one: serde_json::Value =
            serde_json::from_str(&yaml_to_json("a: 1\nb: [x]\n").unwrap()).unwrap();
        assert_eq!(one, serde_json::json!({"a": 1, "b": ["x"]}));
        let list: serde_json::Value =
            serde_json::from_str(&yaml_to_json("kind: Pod\n---\nkind: Service\n").unwrap())
                .unwrap();
        assert_eq!(list["kind"], "List");
        assert_eq!(list["items"][1]["kind"], "Service");
    }
}
