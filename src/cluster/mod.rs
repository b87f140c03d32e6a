//! The cluster layer: what commands ask of clusters, between the commands
//! (thin: settings in, the layer, the result out) and the providers (which
//! find, make, list and delete nodes, and hand out node handles). No
//! command calls another; what two commands share lives here.
//!
//! # DESIGN
//!
//! Getting a cluster is a [`create::Recipe`]: an ordered list of small
//! steps (`steps/`, one file each, each one status line), in the manner of
//! kind's create actions, run by one runner (`create.rs`). `up` today is
//!
//! ```text
//! Plan → ReuseExisting | Recreate → ConnectRegistries → HostPorts
//!      → DindImage → SeedImage::on_host
//!      → Provision → StartEngine → SeedImage::in_node → CreateCluster
//!      → WaitReady → ExportKubeconfig
//! ```
//!
//! and `run` the same list with `RefuseExisting` for the name (a property
//! of its recipe, with "another kip took the name" refused instead of
//! waited for). A step declares its [`steps::Stage`] (look, prepare, make,
//! finish, report) and the runner applies what that means for a signal and
//! a failure, the same for every step: a new step gets Ctrl-C, the logs
//! bundle and the clean-up right without writing any of it. What a step
//! finds or makes for the later ones is in the [`steps::Context`].
//!
//! The next ways to get a cluster land as new steps and new lists:
//!
//! - **From a seed** (issue 18, landed): "prepare the node's engine" is the
//!   pair of steps around `Provision`, `SeedImage::on_host` (the image on
//!   the host, as `StreamImage::on_host` finds it, then the seed's key and
//!   store in the plan of a local node) and `SeedImage::in_node` (nothing
//!   when the node's bootstrap gave its Docker the image from the seed;
//!   else `StreamImage::stream_to_node`: into the seed the node makes, or into
//!   the node alone). The seed itself is made and mounted by the node
//!   (`crate::seed`), so the choice is the node's, reported at boot.
//! - **Restore from a snapshot** (issue 19, landed, local mode):
//!   `create::restore(snapshot)` =
//!   `Plan → RefuseTaken → CheckSnapshot → DindImage → ProvisionFromSnapshot
//!   → StartEngine → CreateCluster → WaitReady → ExportKubeconfig`
//!   (`steps/restore.rs`). `CheckSnapshot` (stage `Prepare`) refuses a
//!   snapshot this engine cannot run before anything is made and plans the
//!   node as the snapshot's (its DinD image, no kind node image to bring,
//!   its seed mounted); `ProvisionFromSnapshot` (`Make`) fills the node's
//!   volume from the snapshot, then provisions as `Provision` does. The
//!   bootstrap of a restored node makes its cluster again, as on a
//!   restart, so the steps after it are `up`'s own. A pool filled from a
//!   snapshot (`kip pool create --from`) takes this recipe's two steps.
//!   Remotely, `create::restore_remote(snapshot)` =
//!   `Plan → RefuseTaken → CheckRemoteSnapshot → DindImage → Provision
//!   → StreamSnapshot → StartEngine → CreateCluster → WaitReady
//!   → ExportKubeconfig` (`steps/restore_remote.rs`): the snapshot is on
//!   the local engine (the host), the node Pod checks what only it sees and
//!   waits, before its dockerd starts, for the snapshot streamed into it.
//! - **Claim from a pool** (issue 20): a recipe `claim(pool)` =
//!   `Plan → RefuseExisting → Claim → WaitReady → ExportKubeconfig`, where
//!   `Claim` (stage `Make`) takes a ready member by the provider's atomic
//!   rename (or a resourceVersion-checked update) and sets `cx.node`;
//!   provisioning, the engine and `CreateCluster` are not in the list. A
//!   pool with no ready member falls back to `up`'s recipe.
//!
//! Where an existing cluster stands (being made, ready, broken, stopped) is
//! decided in one place, `condition.rs`; the races of `up`, `down` and `gc`
//! on one name (issue 22) are fixed there and in `existing.rs`.

pub mod access;
pub mod condition;
pub mod create;
pub mod delete;
pub mod due;
pub mod existing;
pub mod handover;
pub mod images;
pub mod logs;
pub mod plan;
pub mod pool;
pub mod preflight;
pub mod signals;
pub mod status;
mod steps;
mod undo;

pub use create::{create, Place};
pub use handover::UpOutcome;

use crate::kubeconfig::KubeconfigSource;
use crate::node::settings::ClusterSettings;
use crate::pool::spec::PoolSpec;

/// A cluster to get: its name, how it is made, and where its kubeconfig
/// goes.
#[derive(Debug, Clone)]
pub struct Request {
    pub name: String,
    pub cluster: ClusterSettings,
    /// The kubeconfig file to update, by kubectl's rules.
    pub kubeconfig: KubeconfigSource,
    /// Make the new context the current one.
    pub switch_context: bool,
    /// Where a warm pool comes in.
    pub pool: PoolRole,
}

/// What a request has to do with a warm pool.
#[derive(Debug, Clone, Default)]
pub enum PoolRole {
    #[default]
    None,
    /// `up --pool`: a ready member of the pool becomes the cluster, else
    /// one is made from the pool's plan (`cluster` is that plan already).
    Claim {
        spec: Box<PoolSpec>,
        /// `--pool-wait`: wait (within `--wait`) for a member instead.
        wait_for_member: bool,
    },
    /// A member of pool `pool` (plan hash `plan`) is made, named by its key.
    Member {
        pool: String,
        plan: String,
        paused: bool,
    },
}
