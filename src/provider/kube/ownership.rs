//! What in the namespace is kip's: a Pod, ConfigMap or Service `kip-NAME`
//! carrying kip's labels for NAME, never one that merely has the name. One
//! without them is someone else's: `up` refuses it before making anything,
//! `down` leaves it, and it is never taken for a cluster.

use super::KubeProvider;
use crate::error::Error;
use crate::names;
use crate::node::labels;
use anyhow::Result;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;

pub(super) fn is_kips(meta: &ObjectMeta, cluster: &str) -> bool {
    let get = |key: &str| {
        meta.labels
            .as_ref()
            .and_then(|l| l.get(key))
            .map(String::as_str)
    };
    get(labels::MANAGED_BY) == Some(labels::MANAGER) && get(labels::CLUSTER) == Some(cluster)
}

/// Whose the object of a cluster's name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    Absent,
    Kip,
    Someone,
}

impl KubeProvider {
    pub(super) async fn owner<K>(&self, api: &Api<K>, cluster: &str) -> Result<Owner>
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let found = api
            .get_opt(&names::node_name(cluster))
            .await
            .map_err(|e| self.unreachable(e))?;
        Ok(match found {
            None => Owner::Absent,
            Some(object) if is_kips(object.meta(), cluster) => Owner::Kip,
            Some(_) => Owner::Someone,
        })
    }

    /// Refuses a Pod, ConfigMap or Service of the cluster's name that kip
    /// did not make, before anything is created.
    pub(super) async fn refuse_foreign_objects(&self, cluster: &str) -> Result<()> {
        let ns = || (self.client.clone(), self.namespace.as_str());
        let owners = [
            ("Pod", self.owner(&self.pods(), cluster).await?),
            (
                "ConfigMap",
                self.owner(&Api::<ConfigMap>::namespaced(ns().0, ns().1), cluster)
                    .await?,
            ),
            (
                "Service",
                self.owner(&Api::<Service>::namespaced(ns().0, ns().1), cluster)
                    .await?,
            ),
        ];
        match owners.iter().find(|(_, owner)| *owner == Owner::Someone) {
            Some((kind, _)) => Err(Error::ForeignRemote {
                kind,
                name: names::node_name(cluster),
                namespace: self.namespace.clone(),
                cluster: cluster.to_string(),
            }
            .into()),
            None => Ok(()),
        }
    }

    /// Deletes the object of the cluster's name from `api` if kip made it;
    /// one kip did not make is named in `left`.
    pub(super) async fn delete_owned<K>(
        &self,
        api: &Api<K>,
        cluster: &str,
        kind: &str,
        left: &mut Vec<String>,
    ) -> Result<bool>
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let name = names::node_name(cluster);
        match self.owner(api, cluster).await? {
            Owner::Absent => Ok(false),
            Owner::Someone => {
                left.push(format!("{kind} {name}"));
                Ok(false)
            }
            Owner::Kip => match api.delete(&name, &kube::api::DeleteParams::default()).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
                Err(e) => Err(self.unreachable(e)),
            },
        }
    }

    /// Deletes `name` from `api` only if it is still the object of `uid`
    /// (a precondition: one made anew under the name since is left); one
    /// already gone, or another, is no error.
    pub(super) async fn delete_by_uid<K>(
        &self,
        api: &Api<K>,
        name: &str,
        uid: Option<String>,
    ) -> Result<()>
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let ours = kube::api::DeleteParams {
            preconditions: Some(kube::api::Preconditions {
                uid,
                resource_version: None,
            }),
            ..kube::api::DeleteParams::default()
        };
        match api.delete(name, &ours).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
            Err(e) => Err(self.unreachable(e)),
        }
    }
}
