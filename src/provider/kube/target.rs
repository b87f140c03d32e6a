//! Which cluster remote nodes run on: the target as the user named it,
//! resolved the way kubectl resolves one (kubeconfig, context, namespace),
//! with what kip recorded of a cluster, and the in-cluster service account.

use crate::error::Error;
use crate::names;
use crate::provider::remote_state::RemoteState;
use anyhow::Result;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use std::path::PathBuf;

/// The cluster remote nodes run on, as the user named it (`--context`,
/// `--namespace`, `--kubeconfig`); what is not named comes from kip's
/// record of the cluster, then from the kubeconfig.
#[derive(Debug, Clone, Default)]
pub struct KubeTarget {
    pub context: Option<String>,
    pub namespace: Option<String>,
    pub kubeconfig: Option<PathBuf>,
}

/// A target resolved to a client: where remote nodes of one cluster are.
pub struct ResolvedTarget {
    pub client: Client,
    pub namespace: String,
    pub context: Option<String>,
    pub kubeconfig: Option<PathBuf>,
    /// The target is the cluster kip runs in, through its service account.
    pub service_account: bool,
    pub server: String,
}

/// A kubeconfig with nothing to use: no current context and no contexts
/// (what `kip down` leaves of a file `up` created in a CI Pod).
fn is_empty(file: &Kubeconfig) -> bool {
    file.current_context.as_deref().unwrap_or("").is_empty() && file.contexts.is_empty()
}

/// Resolves the target cluster like kubectl (`--kubeconfig`, then
/// $KUBECONFIG, then ~/.kube/config, then the in-cluster service account)
/// and the context and namespace: flags, then what this machine recorded
/// for `cluster` in `state`, then the kubeconfig's. `in_cluster`: kip runs
/// in a Pod. Contacts nothing.
pub async fn resolve(
    target: &KubeTarget,
    cluster: Option<&str>,
    state: &RemoteState,
    in_cluster: bool,
) -> Result<ResolvedTarget> {
    let mut record = cluster.and_then(|c| state.load(c));
    let mut context = target
        .context
        .clone()
        .or_else(|| record.as_ref().and_then(|r| r.context.clone()));
    let kubeconfig_path = target
        .kubeconfig
        .clone()
        .or_else(|| record.as_ref().and_then(|r| r.kubeconfig.clone()));
    // A cluster made through the service account (a CI job in a Pod)
    // stays there, even once `up` has written a kubeconfig whose
    // current context is the cluster itself.
    let named = target.context.is_some() || target.kubeconfig.is_some();
    let mut service_account = !named && record.as_ref().is_some_and(|r| r.in_cluster);
    let file_config =
        match &kubeconfig_path {
            _ if service_account => None,
            Some(path) => Some(Kubeconfig::read_from(path).map_err(|e| {
                Error::RemoteKubeconfigUnreadable {
                    path: path.clone(),
                    error: e.to_string(),
                }
            })?),
            // Like client-go: a missing or empty default kubeconfig means
            // the in-cluster service account, where there is one.
            None => Kubeconfig::read()
                .ok()
                .filter(|file| !(in_cluster && is_empty(file))),
        };
    let file_config = match file_config {
        Some(file) if context.is_none() => {
            context = file.current_context.clone().filter(|c| !c.is_empty());
            // `up` made a kip cluster's context the current one: the
            // cluster that runs it is the one kip recorded for it.
            if let Some(kip) = context.as_deref().and_then(names::cluster_of_context) {
                match state.load(kip) {
                    Some(r) if r.context.is_some() => {
                        context = r.context.clone();
                        record = record.or(Some(r));
                    }
                    Some(r) if r.in_cluster => {
                        context = None;
                        service_account = true;
                        record = record.or(Some(r));
                    }
                    _ => {
                        return Err(Error::KipContextCurrent {
                            cluster: kip.to_string(),
                        }
                        .into())
                    }
                }
            }
            if service_account {
                None
            } else if context.is_none() {
                return Err(Error::NoCurrentContext.into());
            } else {
                Some(file)
            }
        }
        other => other,
    };
    let (config, context) = match file_config {
        Some(file) => {
            let options = KubeConfigOptions {
                context: context.clone(),
                ..Default::default()
            };
            let config = Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| Error::ContextUnusable {
                    context: context.clone(),
                    error: e.to_string(),
                })?;
            (config, context)
        }
        None => {
            service_account = true;
            (
                Config::incluster().map_err(|e| Error::NoKubeconfig {
                    error: e.to_string(),
                })?,
                None,
            )
        }
    };
    let namespace = target
        .namespace
        .clone()
        .or_else(|| record.as_ref().map(|r| r.namespace.clone()))
        .unwrap_or_else(|| config.default_namespace.clone());
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|e| Error::KubeClient {
        error: e.to_string(),
    })?;
    Ok(ResolvedTarget {
        client,
        namespace,
        context,
        kubeconfig: kubeconfig_path,
        service_account,
        server,
    })
}
