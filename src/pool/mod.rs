//! Warm pools: ready, never-used clusters of one plan, kept so that a
//! claim hands one over in a fraction of a second instead of making it.
//! This module is the pools' pure data (a definition, its members, a claim
//! record) and the rules that keep a pool whole; the cluster layer runs
//! claims and refills (`cluster::pool`), the providers store and take
//! (`provider::docker::pool`, `provider::kube::pool`).
//!
//! # DESIGN
//!
//! **A claimed cluster never returns to the pool.** Resetting a used
//! cluster (namespaces, CRDs, webhooks, credentials, images, whatever a
//! privileged pod changed on the node) cannot be verified in general, so
//! a claimed member is an ordinary cluster from then on (`down`, `gc`,
//! TTL) and the pool makes a new one (Hive's and CoreWeave's choice).
//!
//! **Identity.** A member is made by the ordinary create recipe before
//! anyone knows the name it will have, under its key `pool.POOL.ID` (a dot
//! is in no cluster name, so a member is never taken for a cluster). The
//! key stays the name of the kind cluster inside it (`NodeInfo::inner`:
//! `kind load` and `kind export logs` use it). A claim as NAME renames its
//! container `kip-NAME` (labels cannot change, moby#21721); it is found by
//! that name plus the pool label, its volume through its mount. Every
//! command (`list`, `status`, `down`, `gc`, `load`, `logs`, `exec`,
//! `kubeconfig`, `run`) finds it as NAME.
//!
//! **Mutable facts live where an atomic operation guards them.** A pool's
//! definition (size, plan, `--max-age`) is on the engine, never in a local
//! file: a generation of labelled volumes (a change is the next
//! generation, won by one create). A claim's record (claimer, claimed-at,
//! TTL, expires-at, the claimer's labels) is the labels of the claim
//! volume whose creation took the member. `list` and `gc` read TTLs there,
//! as for any cluster.
//!
//! **Exclusive claims.** Of claimers racing for one member, exactly one
//! wins: the one whose create of the member's claim volume (one fixed
//! name) made it; only it renames the member. A plain rename is not
//! exclusive (measured, see `provider::docker::pool`). A claimer killed at
//! any point leaves either nothing, a member taken by a claim that never
//! finished, or the cluster NAME (an ordinary one): the next kip that
//! looks at the pool (a claim's refill, `kip pool list`, `kip gc`) deletes
//! a taken member once it has been taken for longer than
//! [`member::TAKEN_LIMIT`] (one minute), and refills.
//!
//! **Refill without the claimer waiting.** A member must be watched while
//! it is made (it is offered to claims once its API server answers), so
//! the claim starts a detached `kip pool fill` and returns (as `up
//! --remote` leaves its port-forward to a detached `kip forwarder`).
//! Members of an older plan or older than `--max-age` are replaced by
//! whoever looks (`tend.rs`).
//!
//! **What a pool cannot honour.** `up --pool` refuses, naming it, any flag
//! that shapes a node (`--image`, `--api-port`, `--network`, `--kind-config`
//! ...): the pool's plan decides them, and a user who wants them makes a
//! cluster without `--pool`. `--ttl` and `--label` are the claim's own.
//!
//! **Remote pools** keep members as node Pods that become ready by their
//! readiness probe, so a refill only creates objects; a claim takes one by
//! a patch at the Pod's resourceVersion (`provider::kube::pool`).
//! `--paused` (frozen members: no CPU, a slower claim that waits for the
//! thawed kubelet to renew its lease, `steps::nodes`) is local only.
//!
//! **Snapshots.** `kip pool create --from SNAPSHOT` keeps members made by
//! the restore recipe's steps instead of the create recipe's
//! (`cluster::pool::recipes`); `PoolPlan::snapshot` records which save of
//! the name it is (a digest of its metadata), so its hash tells members of
//! another save apart, and the filler makes no member from a snapshot
//! that is gone or is another save (`cluster::pool::snapshot`).

pub mod member;
pub mod spec;
pub mod tend;
