//! The steps clusters are made of, in the manner of kind's create actions:
//! each is one small thing, reported as one status line, in a file of its
//! own. A step says which [`Stage`] it belongs to, and the runner
//! (`cluster::create`) applies what that stage means for signals and
//! failures, the same for every step; the steps only do their thing.

mod bootstrap;
mod claim;
mod dind_image;
mod export;
mod host_ports;
mod member;
mod name;
mod nodes;
mod plan;
mod provision;
mod ready;
mod registries;
mod restore;
mod restore_remote;
mod seed;
mod stream;

pub use bootstrap::{CreateCluster, StartEngine};
pub use claim::{AwaitMember, Claim};
pub use dind_image::DindImage;
pub use export::ExportKubeconfig;
pub use host_ports::HostPorts;
pub use member::{MarkReady, Refill};
pub use name::{appeared, Recreate, RefuseExisting, ReuseExisting};
pub use nodes::WaitNodes;
pub use plan::Plan;
pub use provision::Provision;
pub use ready::WaitReady;
pub use registries::ConnectRegistries;
pub use restore::{restore_steps, RefuseTaken};
pub use restore_remote::remote_restore_steps;
pub use seed::{SeedImage, SeedOnly};

use super::existing::Maker;
use super::handover::UpOutcome;
use super::Request;
use crate::api::ApiEndpoint;
use crate::kubeconfig::{ClusterCredentials, KubeconfigTarget};
use crate::node::NodePlan;
use crate::output::Printer;
use crate::provider::docker::DockerProvider;
use crate::provider::{EngineFacts, Provider};
use crate::registry::wiring::RegistryWiring;
use crate::settings::Environment;
use anyhow::Result;
use futures_util::future::LocalBoxFuture;
use std::time::Instant;

/// What a step's failure and a signal during it mean (kind's actions have
/// one meaning; kip's steps have four, because kip undoes what it made).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Nothing is made yet and the step only reads and waits: a signal
    /// ends it at once (exit 130), nothing to undo.
    Look,
    /// Nothing of this run's is made yet, but the step changes things (a
    /// deletion, an image pulled): it runs to its end.
    Prepare,
    /// Makes what a failure must remove: never cut short by a signal (a
    /// request dropped half-way could still create a container after the
    /// clean-up has looked), looked for before and after.
    Make,
    /// Reads and waits on what was made: a signal ends it at once, and a
    /// failure or a signal removes what was made (unless kept).
    Finish,
    /// The cluster is ready and is handed over: nothing here fails the run.
    Report,
}

/// What a step leaves to the runner.
pub enum Flow {
    /// The next step.
    Next,
    /// The cluster is there (a running one re-exported): no further step.
    Done(Box<UpOutcome>),
    /// Another run (or the restarted node) is making the cluster: wait for
    /// it, until then.
    WaitForOther(tokio::time::Instant, Maker),
    /// No member of the pool to claim: the recipe's fresh steps make the
    /// cluster instead.
    Fresh,
    /// Others took what the step before waited for: that step again.
    WaitAgain,
}

/// One step of making a cluster.
pub trait Step<P: Provider> {
    fn stage(&self) -> Stage;
    fn run<'s, 'c>(&'s self, cx: &'s mut Context<'c, P>) -> LocalBoxFuture<'s, Result<Flow>>;
}

/// What the steps of one making share (kind's `ActionContext`): where and
/// how, and what the steps before found and made.
pub struct Context<'a, P: Provider> {
    pub provider: &'a P,
    /// The host's engine the kind node image comes from: the provider
    /// itself in local mode; in remote mode, one if it answers.
    pub host: Option<&'a DockerProvider>,
    pub printer: &'a Printer,
    pub env: &'a Environment,
    pub request: &'a Request,
    /// The kubeconfig the cluster is handed over in (checked writable
    /// before anything is made); none for a pool's member.
    pub target: Option<KubeconfigTarget>,
    pub started: Instant,
    /// When the cluster must be ready: `--wait` from when its node is made.
    pub deadline: tokio::time::Instant,
    pub facts: Option<EngineFacts>,
    /// The registries the cluster pulls through (`ConnectRegistries`).
    pub registries: RegistryWiring,
    pub plan: Option<NodePlan>,
    pub node: Option<P::Node>,
    /// The node's bootstrap log, followed from step to step.
    pub bootstrap: Option<bootstrap::Followed>,
    pub ready: Option<(ClusterCredentials, ApiEndpoint)>,
    /// The member a claim took: its key, and when it was thawed (a paused
    /// member), for the wait on its nodes.
    pub claimed: Option<(String, Option<std::time::SystemTime>)>,
    /// The cluster as it was handed over (the steps after it refill a pool).
    pub outcome: Option<UpOutcome>,
}

impl<P: Provider> Context<'_, P> {
    pub fn facts(&self) -> &EngineFacts {
        self.facts.as_ref().expect("the plan step runs first")
    }

    pub fn plan(&self) -> &NodePlan {
        self.plan.as_ref().expect("the plan step runs first")
    }

    pub fn target(&self) -> &KubeconfigTarget {
        self.target
            .as_ref()
            .expect("a recipe that hands a cluster over has a kubeconfig")
    }

    pub fn node(&self) -> &P::Node {
        self.node
            .as_ref()
            .expect("a step that makes the node runs first")
    }

    /// Plans the node on the engine the facts describe; `stream_kind_image`:
    /// the node waits for kip to bring the kind node image (the engine's
    /// preparation plans again when there is none to bring).
    pub fn plan_node(&mut self, stream_kind_image: bool) -> Result<()> {
        let request = self.request;
        let mut options = super::plan::options(
            &request.name,
            &request.cluster,
            self.env,
            self.facts(),
            stream_kind_image,
        )?;
        options.registries = self.registries.clone();
        options.fast_node_status = matches!(
            request.pool,
            crate::cluster::PoolRole::Member { paused: true, .. }
        );
        let mut plan = super::plan::plan(&request.cluster, &options)?;
        if let crate::cluster::PoolRole::Member {
            pool, plan: hash, ..
        } = &request.pool
        {
            crate::cluster::pool::label_member(&mut plan, pool, hash);
        }
        self.plan = Some(plan);
        Ok(())
    }
}
