//! Starting the node container: with the first security profile the
//! engine allows, on an API port kip chose, each refusal told apart.

use super::errors::{
    is_name_conflict, is_not_found, is_port_in_use, is_privilege_refusal, short_docker_error,
};
use super::ownership::foreign;
use super::spec::{container_body, input_archive, node_run_id, SecurityProfile};
use super::DockerProvider;
use crate::error::Error;
use crate::node::{NodePlan, SecurityMode};
use crate::output::Printer;
use crate::provider::EngineFacts;
use anyhow::Result;
use bollard::errors::Error as DockerError;
use bollard::query_parameters::{CreateContainerOptionsBuilder, UploadToContainerOptionsBuilder};

impl DockerProvider {
    /// Starts the node with the first security profile the engine allows
    /// (`--security auto`: privileged, else capabilities); the one used.
    pub(super) async fn start_node(
        &self,
        plan: &NodePlan,
        facts: &EngineFacts,
        printer: &Printer,
    ) -> Result<SecurityProfile> {
        let attempts: &[SecurityProfile] = match plan.node.security {
            SecurityMode::Privileged => &[SecurityProfile::Privileged],
            SecurityMode::Caps => &[SecurityProfile::Capabilities],
            SecurityMode::Auto => &[SecurityProfile::Privileged, SecurityProfile::Capabilities],
        };
        for (i, profile) in attempts.iter().enumerate() {
            match self.create_and_start(plan, facts, *profile).await? {
                Ok(()) => return Ok(*profile),
                Err(e) if *profile == SecurityProfile::Privileged && is_privilege_refusal(&e) => {
                    self.remove_container_by_name(&plan.node.name).await?;
                    let reason = short_docker_error(&e);
                    if i + 1 == attempts.len() {
                        return Err(Error::PrivilegedRefused { reason }.into());
                    }
                    printer.notice(&format!(
                        "this Docker engine refuses privileged containers ({reason}); using an explicit \
                         capability profile instead (--security caps)"
                    ));
                }
                Err(e) => return Err(self.start_failure(plan, &e).await),
            }
        }
        unreachable!("every security mode has at least one profile to try")
    }

    /// Why the node did not start, in the user's terms.
    async fn start_failure(&self, plan: &NodePlan, e: &DockerError) -> anyhow::Error {
        // The name is the claim: another kip made this node first (or
        // someone else made a container of that name).
        if is_name_conflict(e) {
            if self.foreign_container(&plan.cluster).await {
                return foreign("container", &plan.node.name, &plan.cluster);
            }
            return Error::NameTaken {
                cluster: plan.cluster.clone(),
            }
            .into();
        }
        if is_port_in_use(e) {
            return Error::PortInUse {
                port: plan.node.api.host_port,
            }
            .into();
        }
        let error = short_docker_error(e);
        // The node was made, then removed before it started: a `kip down`
        // (or `gc`) of the cluster at the same time.
        if is_not_found(e) && error.contains("No such container") {
            return Error::DeletedWhileMade {
                name: plan.cluster.clone(),
            }
            .into();
        }
        if is_not_found(e) {
            let network = plan
                .node
                .network
                .clone()
                .filter(|_| error.contains("network"));
            return Error::NodeNotCreated { error, network }.into();
        }
        Error::NodeStartFailed {
            node: plan.node.name.clone(),
            error,
        }
        .into()
    }

    /// Without --api-port, kip publishes a port it found free rather than
    /// letting the engine pick one: an engine-picked port changes at every
    /// start, and a restarted node (`docker restart`, a reboot) would no
    /// longer be where the kubeconfig says. Another process can take the
    /// port between the look and the start: then another one is tried.
    ///
    /// The outer error is kip's refusal of the node's volume (not kip's);
    /// the inner one the engine's, which `start_node` tells apart.
    async fn create_and_start(
        &self,
        plan: &NodePlan,
        facts: &EngineFacts,
        profile: SecurityProfile,
    ) -> Result<Result<(), DockerError>> {
        if plan.node.api.host_port.is_some() {
            return self.create_and_start_once(plan, facts, profile).await;
        }
        let mut attempt = 0;
        loop {
            let mut chosen = plan.clone();
            chosen.node.api.host_port = free_local_port();
            match self.create_and_start_once(&chosen, facts, profile).await? {
                Err(e) if is_port_in_use(&e) && attempt < 5 => {
                    attempt += 1;
                    let _ = self.remove_container_by_name(&plan.node.name).await;
                }
                other => return Ok(other),
            }
        }
    }

    async fn create_and_start_once(
        &self,
        plan: &NodePlan,
        facts: &EngineFacts,
        profile: SecurityProfile,
    ) -> Result<Result<(), DockerError>> {
        let mut body = container_body(plan, facts, profile);
        // This node's own mark on its /var/lib/docker volume: the bootstrap
        // wipes a volume another node left (a node removed outside kip) and
        // keeps it across restarts of this one.
        if let Some(env) = body.env.as_mut() {
            env.push(format!("KIP_NODE_RUN={}", node_run_id()));
        }
        let options = CreateContainerOptionsBuilder::new()
            .name(&plan.node.name)
            .build();
        if let Err(e) = self.docker.create_container(Some(options), body).await {
            return Ok(Err(e));
        }
        // The volume the node mounts is the one its creation made, with
        // kip's labels, unless one of that name appeared since
        // `refuse_foreign` looked: never started on someone else's data.
        if let Err(e) = self.check_volume(&plan.cluster).await {
            self.remove_container_by_name(&plan.node.name).await?;
            return Err(e);
        }
        if let Err(e) = self.give_input(plan).await {
            self.remove_container_by_name(&plan.node.name).await?;
            return Err(e);
        }
        Ok(self.docker.start_container(&plan.node.name, None).await)
    }

    /// The bootstrap's input files, into the node made but not started.
    async fn give_input(&self, plan: &NodePlan) -> Result<()> {
        let archive = input_archive(plan)?;
        let options = UploadToContainerOptionsBuilder::new().path("/").build();
        self.docker
            .upload_to_container(
                &plan.node.name,
                Some(options),
                bollard::body_full(archive.into()),
            )
            .await
            .map_err(|e| {
                if is_not_found(&e) {
                    return Error::DeletedWhileMade {
                        name: plan.cluster.clone(),
                    }
                    .into();
                }
                Error::NodeStartFailed {
                    node: plan.node.name.clone(),
                    error: format!("cannot give it the kind config: {}", short_docker_error(&e)),
                }
                .into()
            })
    }
}

/// A port on 127.0.0.1 that nothing listens on now (None: the engine picks).
fn free_local_port() -> Option<u16> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .ok()
}
