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
//! `kind load` and `kind export logs` use it). A claim as NAME gives it
//! NAME where the provider can change a name atomically: on Docker its
//! container is renamed `kip-NAME` (labels cannot change, moby#21721) and
//! is found by that name plus the pool label, its volume through its
//! mount; on Kubernetes its Pod's labels and annotations are updated with
//! the Pod's resourceVersion. Every command (`list`, `status`, `down`,
//! `gc`, `load`, `logs`, `exec`, `kubeconfig`, `run`) finds it as NAME.
//!
//! **Mutable facts live where an atomic operation guards them.** A pool's
//! definition (size, plan, `--max-age`, `--paused`) is on the engine or
//! the cluster, never in a local file: a generation of labelled volumes on
//! Docker (a change is the next generation, won by one create), a
//! ConfigMap on Kubernetes (a change names its resourceVersion). A claim's
//! record (claimer, claimed-at, TTL, expires-at, the claimer's labels) is
//! written by the very operation that takes the member: the labels of the
//! claim container whose creation took it (Docker), the annotations of
//! the Pod update that took it (Kubernetes). `list` and `gc` read TTLs
//! there, as for any cluster.
//!
//! **Exclusive claims.** Of claimers racing for one member, exactly one
//! wins: on Docker the creation of the member's claim container (a
//! container name is reserved atomically; a plain rename is not exclusive,
//! see `provider::docker::pool`), on Kubernetes the Pod update carrying the
//! resourceVersion the claimer listed (409 for the others), after the
//! name's ConfigMap was created (409: the name is another's). A claimer
//! killed at any point leaves either nothing, or a member taken by a claim
//! that never finished: the next kip that looks at the pool (a claim's
//! refill, `kip pool`, `kip gc`) deletes it once it has been taken for
//! longer than [`member::TAKEN_LIMIT`] (one minute), and refills.
//!
//! **Refill without the claimer waiting.** Locally a member must be
//! watched while it is made (it is offered to claims once its API server
//! answers), so the claim starts a detached `kip pool fill` and returns.
//! Remotely only objects are created (the member's ConfigMap and Pod, by
//! the ordinary remote provisioning): the Pod's bootstrap makes the
//! cluster and its readiness probe marks it ready, so the claiming job
//! ends at once and the shared cluster does the rest. kip's own node Pods
//! rather than a Deployment: a claim must take one member exclusively and
//! re-label it, which a ReplicaSet would answer by adopting or replacing
//! on its own schedule; and kip needs no rights beyond those `up --remote`
//! needs. Members of an older plan or older than `--max-age` are replaced
//! by whoever looks (the `kip gc --remote` CronJob of `examples/` when no
//! one does).
//!
//! **What a pool cannot honour.** `up --pool` refuses, naming it, any flag
//! that shapes a node (`--image`, `--api-port`, `--network`, `--kind-config`
//! ...): the pool's plan decides them, and a user who wants them makes a
//! cluster without `--pool`. `--ttl` and `--label` are the claim's own.
//!
//! **Snapshots (issue 19).** `kip pool create --from SNAPSHOT` will keep
//! members made by the restore recipe instead of the create recipe: the
//! seam is `cluster::create::member`, whose steps become the restore
//! recipe's, and `PoolPlan`, which gains the snapshot's name (so its hash
//! tells members of another snapshot apart).

pub mod member;
pub mod spec;
pub mod tend;
