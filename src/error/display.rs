//! The words of every failure: one `Display` for [`Error`], one arm per
//! variant, each naming the problem and, where one is known, the fix. Over
//! 400 lines because it is every message kip gives, in one place.

use super::{Absence, Error};
use crate::names;
use std::fmt;

/// Why kip's default Docker-in-Docker image cannot serve a remote node, and
/// what to do (`up` refuses with both; `doctor --remote` reports them).
pub const NO_REMOTE_DIND_IMAGE: &str =
    "remote nodes need a Docker-in-Docker node image the cluster can pull; \
     kip's default one is built on the local engine only";
pub const REMOTE_DIND_IMAGE_FIX: &str =
    "pass --dind-image REGISTRY/IMAGE (or set KIP_DIND_IMAGE, or `dindImage:` in kip's config)";

/// The namespace label that names the Pod Security level admission enforces.
pub const PSA_ENFORCE: &str = "pod-security.kubernetes.io/enforce";

/// Why namespace `namespace`, enforcing `level`, cannot run the node.
pub fn pod_security_problem(namespace: &str, level: &str) -> String {
    format!(
        "namespace {namespace} enforces the Pod Security level \"{level}\", which refuses privileged pods, \
         and kip's node must run privileged"
    )
}

/// What lets namespace `namespace` run the node.
pub fn pod_security_fix(namespace: &str) -> String {
    format!(
        "use a namespace that allows privileged pods, or have an admin label this one: \
         kubectl label namespace {namespace} {PSA_ENFORCE}=privileged"
    )
}

fn duration(d: &std::time::Duration) -> humantime::FormattedDuration {
    humantime::format_duration(*d)
}

/// `" (see `kip logs`)"`-style optional parts: `prefix` + the text, or nothing.
fn optional(prefix: &str, text: Option<&str>) -> String {
    text.map_or_else(String::new, |t| format!("{prefix}{t}"))
}

/// Over 60 lines: one arm per variant is the wording table the issue asks
/// for in one place; split, it would scatter again.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Error::*;
        match self {
            ConfigMissing { path, default } => write!(
                f,
                "KIP_CONFIG names {}, which does not exist (unset KIP_CONFIG to use {})",
                path.display(),
                default
                    .as_ref()
                    .map_or_else(|| "no config file".into(), |d| d.display().to_string())
            ),
            ConfigUnreadable { path, error } => {
                write!(f, "cannot read kip's config {}: {error}", path.display())
            }
            ConfigInvalid { path, error } => write!(
                f,
                "kip's config {} is not valid: {error}\n(it takes `image: IMAGE`, `dindImage: IMAGE`, \
                 `ttl: DURATION`, `remote: true|false` and `mirror: NAME|URL`)",
                path.display()
            ),
            ConfigValueInvalid { path, key, error } => write!(
                f,
                "kip's config {}: `{key}`: {error}; correct it, or remove the key for kip's default",
                path.display()
            ),
            ReuseNamesDiffer { name, reuse } => write!(
                f,
                "--name {name} and --reuse {reuse} name different clusters: give one of them"
            ),
            ReuseWithoutName => write!(
                f,
                "--reuse needs a cluster: `--reuse NAME`, or `--name NAME --reuse`"
            ),
            KindConfigUnreadable { path, error } => {
                write!(f, "--kind-config {}: cannot read it: {error}", path.display())
            }
            KindConfigInvalid { path, error } => {
                write!(f, "--kind-config {}: {error}", path.display())
            }
            RemoteDefaultDindImage => write!(f, "{NO_REMOTE_DIND_IMAGE}: {REMOTE_DIND_IMAGE_FIX}"),
            KipContextCurrent { cluster } => write!(
                f,
                "the current context kip-{cluster} is a kip cluster, not the cluster that runs remote nodes: \
                 pass --context CONTEXT"
            ),
            NoCurrentContext => write!(
                f,
                "the kubeconfig names no current context: pass --context CONTEXT \
                 (see `kubectl config get-contexts`)"
            ),
            ConnectLocal { cluster } => write!(
                f,
                "kip connect restarts the port-forward of a remote cluster: `kip connect {cluster} --remote` \
                 (local clusters publish their port)"
            ),
            ArchiveUnreadable { path, error } => write!(
                f,
                "--archive {}: cannot read it: {error}",
                path.display()
            ),
            ArchiveNotAFile { path, what } => write!(
                f,
                "--archive {} is {what}, not a file: give the file `docker save -o FILE IMAGE…` wrote",
                path.display()
            ),
            SeedKeyAmbiguous { prefix, count } => write!(
                f,
                "{prefix:?} is the start of {count} seeds' keys: give more of the key (see `kip seed list`)"
            ),
            DockerUnusable { host, error, hint } => {
                write!(f, "cannot use Docker at {host}: {error}\n({hint})")
            }
            DockerUnreachable { host, error, hint } => write!(
                f,
                "cannot reach Docker at {host}: {error}\nIs the daemon running? ({hint})"
            ),
            Foreign {
                kind,
                name,
                cluster,
            } => write!(
                f,
                "a {kind} named {name} exists that kip did not make (it has no kip labels for cluster {cluster}); \
                 kip never adopts or removes it: remove or rename it yourself (`docker {kind} rm {name}`) \
                 if it is not needed, or pick another cluster name"
            ),
            ForeignRemote {
                kind,
                name,
                namespace,
                cluster,
            } => write!(
                f,
                "a {kind} named {name} exists in namespace {namespace} that kip did not make (it has no kip \
                 labels for cluster {cluster}); kip never adopts or removes it: delete it yourself if it is \
                 not needed, or pick another cluster name"
            ),
            NodeImageContext { error } => {
                write!(f, "cannot pack the node image build context: {error}")
            }
            NodeImageBuildBroke { image, error } => {
                write!(f, "building the node image {image} failed: {error}")
            }
            NodeImageBuildFailed { image, detail } => write!(
                f,
                "building the node image {image} failed: {detail}\n(it needs internet access for docker:28-dind \
                 and kind; or pass --dind-image with a Docker-in-Docker node image you have)"
            ),
            NodeImageUnavailable { image, error } => write!(
                f,
                "the node image {image} is not on this Docker engine and cannot be pulled: {error}\n\
                 Build or load it (docker load / docker import), or omit --dind-image to use kip's default \
                 node image"
            ),
            KindImageUnavailable { image, error } => write!(
                f,
                "the kind node image {image} is neither on the host's Docker engine nor pullable: {error}\n\
                 Make it available on the host (docker pull {image}, or docker load it), or pass --image \
                 with a node image the host has; `kip load` adds images to a running cluster"
            ),
            KindImageNotListed { image } => write!(
                f,
                "the kind node image {image} was pulled but the host's engine does not list it"
            ),
            PrivilegedRefused { reason } => write!(
                f,
                "this Docker engine refuses privileged containers ({reason}); use --security caps (or auto) \
                 for an explicit capability profile"
            ),
            PortInUse { port } => write!(
                f,
                "port 127.0.0.1:{} is already in use: pick another --api-port, or omit it to get a free one",
                port.map_or_else(|| "the API port".into(), |p| p.to_string())
            ),
            NodeNotCreated { error, network } => write!(
                f,
                "cannot create the node: {error}{}",
                network.as_deref().map_or_else(String::new, |net| format!(
                    " (is --network {net} a network on this engine? `docker network ls`)"
                ))
            ),
            KubeApi { server, error } => write!(f, "the Kubernetes API at {server} failed: {error}"),
            PodExecFailed { pod, error } => {
                write!(f, "cannot exec in the node Pod {pod}: {error}")
            }
            RemoteKubeconfigUnreadable { path, error } => {
                write!(f, "cannot read the kubeconfig {}: {error}", path.display())
            }
            ContextUnusable { context, error } => write!(
                f,
                "cannot use context {}: {error}",
                context.as_deref().unwrap_or("(current)")
            ),
            NoKubeconfig { error } => write!(
                f,
                "no kubeconfig ($KUBECONFIG, ~/.kube/config) and not inside a cluster ({error}): \
                 pass --kubeconfig FILE"
            ),
            KubeClient { error } => write!(f, "cannot make a Kubernetes client: {error}"),
            MissingRights {
                place,
                lines,
                rules,
            } => write!(
                f,
                "kip may not do what a remote node needs in {place}:\n{lines}\nAn admin must grant them, \
                 e.g. in a Role bound to you:\n{rules}"
            ),
            PodSecurityRefuses { namespace, level } => {
                let fix = pod_security_fix(namespace);
                let mut chars = fix.chars();
                let fix: String = chars
                    .next()
                    .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect());
                write!(f, "{}.\n{fix}", pod_security_problem(namespace, level))
            }
            DryRunRefused {
                kind,
                place,
                message,
            } => write!(
                f,
                "the cluster refuses kip's {kind} in {place} (a server-side dry run): {message}"
            ),
            KubeconfigUnreadable { path, error } => {
                write!(f, "cannot read kubeconfig {path}: {error}")
            }
            KubeconfigUnparsable { path, error } => write!(
                f,
                "cannot parse kubeconfig {}: {error}\nkip left it untouched; fix or move it, then run the \
                 command again",
                path.display()
            ),
            KubeconfigNotMapping { path } => write!(
                f,
                "kubeconfig {} is not a YAML mapping; kip left it untouched",
                path.display()
            ),
            KubeconfigMalformed { path, problem } => write!(
                f,
                "kubeconfig {}: {problem}, so kubectl cannot read it either\nkip left it untouched; fix or \
                 move it, then run the command again",
                path.display()
            ),
            KubeconfigUnwritable {
                path,
                what,
                place,
                error,
            } => write!(
                f,
                "kubeconfig {} cannot be written ({what} {}: {error}), and kip writes the cluster's \
                 credentials there; kip created nothing\nPass `--kubeconfig FILE` to name a file kip may \
                 write (`kip kubeconfig NAME` prints a cluster's kubeconfig any time)",
                path.display(),
                place.display()
            ),
            KubeconfigNotRegular { path, what } => write!(
                f,
                "kubeconfig {path} is {what}, not a regular file, and kip writes cluster credentials to it; \
                 kip left it untouched\nPass `--kubeconfig FILE` or set KUBECONFIG to a file path (a missing \
                 file is created)"
            ),
            KubeconfigLinkUnreadable { link, error } => {
                write!(f, "cannot read the link {}: {error}", link.display())
            }
            KubeconfigLinkLoop { path, max } => write!(
                f,
                "kubeconfig {} is a loop of symlinks (over {max})",
                path.display()
            ),
            NameAppeared { name } => write!(
                f,
                "cluster {name} already exists (another kip made it just now); it is left alone: pick another \
                 name, or pass --reuse to use it"
            ),
            PoolFlagRefused { flag, pool } => write!(
                f,
                "{flag} shapes a new node, and a member of pool {pool} is made already: with --pool the \
                 pool's plan decides it. Drop {flag}, or drop --pool to make a cluster of your own \
                 (`kip pool list -o json` shows the pool's plan)"
            ),
            PoolFlagImpossible { flag, why } => write!(f, "{flag} cannot be used for a pool: {why}"),
            PoolsLocalOnly => write!(
                f,
                "a pool restored from a snapshot works on the local Docker engine only, where the \
                 snapshot is: drop --remote, or make the remote pool without --from"
            ),
            PoolExists { pool, size } => write!(
                f,
                "pool {pool} exists already (size {size}): `kip pool resize {pool} N` changes its size, \
                 `kip pool create {pool} --replace ...` its plan (members of the old plan are replaced)"
            ),
            PoolNameIsCluster { pool } => write!(
                f,
                "{pool} is the name of a cluster, so it cannot name a pool too (`kip up --pool {pool}` \
                 and `kip down {pool}` would read alike): pick another pool name"
            ),
            NodesNotReady { cluster, wait, last } => write!(
                f,
                "the nodes of cluster {cluster} were not Ready within {} ({last}); `kip logs {cluster}` \
                 shows the node, `kip down {cluster}` removes it",
                duration(wait)
            ),
            NoReadyMember { pool, wait } => write!(
                f,
                "no member of pool {pool} became ready within {} (--pool-wait): `kip pool list` shows \
                 how far its members are; wait longer with --wait, or leave out --pool-wait to make \
                 a cluster at once",
                duration(wait)
            ),
            PoolNotFound { pool, place } => write!(
                f,
                "no pool named {pool}{}: `kip pool list` shows the pools, `kip pool create {pool} --size N` \
                 makes one",
                optional(" in ", place.as_deref())
            ),
            ClaimFailed { member, error } => {
                write!(f, "cannot take pool member {member} for a claim: {error}")
            }
            PoolBusy { pool } => write!(
                f,
                "the definition of pool {pool} kept changing under other kips' hands: try again"
            ),
            FillerNotStarted { error } => write!(
                f,
                "cannot start kip's pool filler (`kip pool fill`): {error}; the pool refills the next \
                 time kip looks at it (`kip pool list`)"
            ),
            RunNameTaken { name } => write!(
                f,
                "cluster {name} already exists, and `kip run` deletes only the clusters it creates: pick \
                 another --name, or pass --reuse to run CMD against {name} and leave it in place"
            ),
            NoHostEngine => write!(
                f,
                "images come from the local Docker engine, and none is reachable (DOCKER_HOST); `docker save` \
                 them elsewhere and pass --archive FILE"
            ),
            ImageNotOnHost { image } => write!(
                f,
                "{image} is not on the host's Docker engine (docker pull {image}, or docker build it)"
            ),
            DoctorFailed { checks } => write!(f, "kip doctor: {} failed", checks.join(", ")),
            SeedStoreUnreadable { volume, images } => write!(
                f,
                "cannot read the seed store (volume {volume}): none of {} is on this engine to run its \
                 helper in; pass --dind-image with a Docker-in-Docker image the engine has",
                images.join(", ")
            ),
            SeedInUse {
                key,
                clusters,
                snapshots,
            } => {
                let mut users = Vec::new();
                if !clusters.is_empty() {
                    users.push(format!("cluster(s) {}", clusters.join(", ")));
                }
                if !snapshots.is_empty() {
                    users.push(format!("snapshot(s) {}", snapshots.join(", ")));
                }
                if users.is_empty() {
                    users.push("a running node (of another kip, or a remote one)".into());
                }
                let how = match (clusters.is_empty(), snapshots.is_empty()) {
                    (_, true) => "`kip down`",
                    (true, false) => "`kip snapshot rm`; an archive of `kip snapshot export` keeps one with the layers",
                    (false, false) => "`kip down`, `kip snapshot rm`; an archive of `kip snapshot export` keeps a snapshot with the layers",
                };
                write!(f, "seed {key} is in use by {}: remove them first ({how}), then the seed", users.join(" and "))
            }
            SeedsHeld { keys } => write!(
                f,
                "a running node holds seed(s) {} (it started from it since kip looked): left in place",
                keys.join(", ")
            ),
            PodNotStarted {
                pod,
                last,
                transient,
            } => write!(
                f,
                "the node Pod {pod} did not start running in time (last: {last}{})",
                optional("; ", transient.as_deref())
            ),
            ApiNotReady {
                server,
                wait,
                last,
                tail,
            } => write!(
                f,
                "the API server at {server} was not ready within {} ({last})\n{tail}",
                duration(wait)
            ),
            ClusterNotReady { wait, phase, tail } => write!(
                f,
                "the cluster was not ready within {} (still in phase {phase})\n{tail}",
                duration(wait)
            ),
            KindImageLate { image, wait } => write!(
                f,
                "the kind node image {image} was not in the node within {}",
                duration(wait)
            ),
            OtherUpTimeout { name, wait } => write!(
                f,
                "cluster {name} (being created by another `kip up`) was not ready within {}; see \
                 `kip status {name}` (if no other run is making it, `kip up {name} --recreate` makes it again)",
                duration(wait)
            ),
            RestartTimeout { name, wait } => write!(
                f,
                "cluster {name} (its node started again) was not ready again within {}; see `kip status {name}` \
                 and `kip logs {name}`, or wait longer with `kip up {name} --wait DURATION`",
                duration(wait)
            ),
            ConnectTimeout { cluster, server } => write!(
                f,
                "the API server of {cluster} does not answer through {server}"
            ),
            CommandTimedOut { program, limit } => write!(
                f,
                "{program} ran longer than --timeout {}; kip stopped it",
                duration(limit)
            ),
            NotFound { cluster, why } => not_found(f, cluster, why),
            SeedNotFound { key } => {
                write!(f, "no seed {key:?} on this engine (see `kip seed list`)")
            }
            NodeNotRunning {
                cluster,
                status,
                remote: false,
            } => write!(
                f,
                "the node of cluster {cluster} is not running ({status}).\nStart it again with `docker start {}` \
                 (then `kip up {cluster}` re-exports its kubeconfig), or make it anew with \
                 `kip up {cluster} --recreate`",
                names::node_name(cluster)
            ),
            NodeNotRunning {
                cluster,
                status,
                remote: true,
            } => write!(
                f,
                "cluster {cluster} is not running ({status}): see `kip status {cluster} --remote`"
            ),
            PodCannotRun { pod, why } => write!(f, "the node Pod {pod} cannot run: {why}"),
            PodDeletedWhileStarting { pod } => {
                write!(f, "the node Pod {pod} was deleted while starting")
            }
            NodeWithoutEndpoint => write!(f, "the node runs but has no API endpoint"),
            NodeStopped { exit, phase, tail } => write!(
                f,
                "the node stopped{} during phase {phase}\n{tail}",
                exit.map_or_else(String::new, |c| format!(" with exit code {c}"))
            ),
            NodeInitFailed { said, .. } if said.contains("argument list too long") => write!(
                f,
                "the node's init could not start its bootstrap ({said}): the node's command and environment \
                 are over the kernel's limit; this is a kip bug, please report it with `kip up --dry-run`'s output"
            ),
            NodeInitFailed { image, said } => write!(
                f,
                "the node's init could not start its bootstrap ({said}): the node image {image} must have `sh`; \
                 use a Docker-in-Docker image as --dind-image (or leave it out for kip's own)"
            ),
            BootstrapFailed {
                phase,
                reason,
                hint,
                detail,
            } => {
                let what = match phase.as_str() {
                    "dockerd" => "dockerd failed inside the node",
                    "cluster" => "kind could not create the cluster",
                    _ => "the node bootstrap failed",
                };
                write!(
                    f,
                    "{what} ({reason}; phase {phase}){}\n{detail}",
                    optional("\nWhy: ", *hint)
                )
            }
            KindImageStream { image, error } => write!(
                f,
                "cannot stream the kind node image {image} into the node: {error}"
            ),
            KindImageTag { name, code, said } => write!(
                f,
                "cannot name the kind node image {name} in the node: `docker tag` exited {code}: {said}"
            ),
            Broken { name, problem } => write!(
                f,
                "cluster {name} exists but is {problem}.\nRecreate it with `kip up {name} --recreate`, or delete \
                 it with `kip down {name}` (its logs: `kip logs {name}`)"
            ),
            OtherUpFailed { name } => write!(
                f,
                "the other `kip up {name}` that was creating this cluster failed and removed it; run \
                 `kip up {name}` again (or see that run's output)"
            ),
            OtherUpNoNode { name } => write!(
                f,
                "another `kip up {name}` claimed this cluster's name, but no node appeared within 20 s; if no \
                 other run is going on, `kip down {name}` clears what is left"
            ),
            DeletedWhileMade { name } => write!(
                f,
                "cluster {name} was deleted by another kip (a `kip down {name}` or `kip gc`) while this \
                 `kip up` was making it; run `kip up {name}` again to make it"
            ),
            KindNodesStopped { cluster, nodes } => write!(
                f,
                "the kind node {} inside cluster {cluster}'s node is stopped, so its API server does not answer: \
                 start it again with `kip exec {cluster} -- docker start {}` (or restart the whole node: \
                 `docker restart {}`)",
                nodes.join(", "),
                nodes.join(" "),
                names::node_name(cluster)
            ),
            DeletedWhileLoading { name } => write!(
                f,
                "cluster {name} was deleted (by a `kip down {name}` or `kip gc`) while `kip load` loaded into it; \
                 make it again with `kip up {name}`, then load again"
            ),
            NotReady { cluster, status } => write!(f, "cluster {cluster} is not ready ({status})"),
            NoPublishedPort { cluster, status } => write!(
                f,
                "cluster {cluster} has no published API port ({status})"
            ),
            NoEndpoint { cluster } => write!(f, "cluster {cluster} has no endpoint to connect to"),
            ForwarderStopped { cluster } => write!(
                f,
                "the port-forward to the node is not running: `kip connect {cluster} --remote` restarts it"
            ),
            NodeContainerRemoved { cluster } => write!(
                f,
                "the node container {} was removed outside kip; its volume {} (and any kubeconfig entries) \
                 are left: `kip down {cluster}` or `kip gc` removes them",
                names::node_name(cluster),
                names::volume_name(cluster)
            ),
            KindLoadFailed { output } => write!(f, "kind load failed: {output}"),
            NotExecutable { program, what } => {
                write!(f, "cannot run {program:?}: {what} is not executable")
            }
            NoSuchCommand { program } => write!(
                f,
                "cannot run {program:?}: command not found (not a file, nor in PATH)"
            ),
            ExecFailed { node, error } => write!(f, "cannot exec in node {node}: {error}"),
            ExecNotAttached { node } => write!(f, "exec in node {node} did not attach"),
            NoExitCode => write!(f, "the command in the node did not report an exit code"),
            CopyOut { path, error } => write!(f, "cannot copy {path} out of the node: {error}"),
            ReadInNode { path, error } => write!(f, "cannot read {path} in the node: {error}"),
            CannotRemoveVolume { volume, error } => {
                write!(f, "cannot remove volume {volume}: {error}")
            }
            CannotRemoveContainer { name, error } => {
                write!(f, "cannot remove container {name}: {error}")
            }
            StillBeingRemoved { name } => write!(
                f,
                "container {name} was still being removed (by another kip?) after 60 s"
            ),
            NodeStartFailed { node, error } => {
                write!(f, "cannot start the node container {node}: {error}")
            }
            LogStreamBroke { error } => write!(f, "the node's log stream broke: {error}"),
            CannotStopNode { cluster, error } => {
                write!(f, "cannot stop the node of {cluster}: {error}")
            }
            ProbeImageMissing { image } => {
                write!(f, "the node image {image} is not on this engine yet")
            }
            ProbeCreate { image, error } => write!(
                f,
                "cannot create a probe container from {image}: {error}"
            ),
            ProbeStart { error } => write!(f, "the probe container did not start: {error}"),
            HostImagesUnreadable { error } => write!(
                f,
                "cannot read the images from the host engine: {error}"
            ),
            DockerLoadFailed { error } => write!(f, "docker load in the node failed: {error}"),
            KindExportFailed { error } => write!(f, "kind export logs failed: {error}"),
            WatchEnded => write!(f, "the watch on the node Pod ended"),
            ForwarderExited { status, log } => {
                write!(f, "kip's forwarder exited ({status}): {log}")
            }
            ForwarderSilent { log } => write!(
                f,
                "kip's forwarder did not start listening within 10 s: {log}"
            ),
            CreateObject { kind, name, error } => {
                write!(f, "cannot create the {kind} {name}: {error}")
            }
            OwnConfigMap { name, error } => write!(
                f,
                "cannot make the Pod {name} own its ConfigMap: {error}"
            ),
            PodStillTerminating { pod } => {
                write!(f, "the node Pod {pod} is still terminating after 45 s")
            }
            KubeconfigLocked { path, lock, held } => write!(
                f,
                "kubeconfig {} is locked by {} (held for over {}s): if no kubectl or kip is running, remove \
                 that file",
                path.display(),
                lock.display(),
                held.as_secs()
            ),
            KubeconfigKeyNotScalar => write!(
                f,
                "the kubeconfig has a mapping key that is not a scalar, which kubectl cannot read"
            ),
            NodeKubeconfigNotMapping => write!(
                f,
                "the node's kubeconfig cluster entry is not a mapping"
            ),
            NoHome => write!(
                f,
                "cannot find a home folder for ~/.kube/config: set KUBECONFIG or pass --kubeconfig"
            ),
            NoCaCertificate => write!(f, "the cluster CA holds no certificate"),
            VersionStatus { status } => write!(f, "GET /version answered {status}"),
            NoProcessId { program } => write!(f, "{program} started without a process id"),
            OrphanTaken { cluster } => write!(
                f,
                "a `kip up {cluster}` is making cluster {cluster} anew on the volume kip found without a node \
                 (its node, or a restore filling it, uses it now): kip left it (`kip down {cluster}` again \
                 deletes that cluster)"
            ),
            NameTaken { cluster } => {
                write!(f, "another `kip up {cluster}` is creating this cluster")
            }
            NotAllDeleted { failures, .. } => {
                write!(f, "could not delete every cluster:\n{}", lines(failures))
            }
            GcIncomplete { failures } => write!(
                f,
                "kip gc could not delete every due cluster:\n{}",
                lines(failures)
            ),
            SeedHelperFailed { what, error } => {
                write!(f, "the seed store helper ({what}) failed: {error}")
            }
            SnapshotHelperFailed { what, error } => {
                write!(f, "the snapshot helper ({what}) failed: {error}")
            }
            SnapshotNotFound { name } => {
                write!(f, "no snapshot {name:?} on this engine (see `kip snapshot list`)")
            }
            SnapshotUsedByPool { name, pools } => write!(
                f,
                "snapshot {name} is kept: pool(s) {} restore their members from it (their refills \
                 would fail); `kip pool rm POOL` first, or `kip pool create POOL --replace --from OTHER`",
                pools.join(", ")
            ),
            SnapshotExists { name } => write!(
                f,
                "a snapshot named {name} exists (volume {}); it is left alone: pick another name, or \
                 `kip snapshot rm {name}` first",
                crate::snapshot::volume_name(name)
            ),
            SnapshotIncomplete { name } => write!(
                f,
                "snapshot {name} is incomplete (its save did not finish): `kip snapshot rm {name}` and save it again"
            ),
            SnapshotRefused { name, differences } => write!(
                f,
                "snapshot {name} cannot be restored here; nothing was made:\n{}",
                differences
                    .iter()
                    .map(|d| format!("  {d}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            SnapshotSeedGone { name, seed } => write!(
                f,
                "snapshot {name} mounts the images of seed {seed}, which is gone from this engine \
                 (`kip seed list`); nothing was made: save the snapshot again from a cluster made with the seed"
            ),
            RestoreNameTaken { name } => write!(
                f,
                "cluster {name} already exists, and `kip up --from` makes a new cluster; it is left alone: \
                 pick another name, or `kip down {name}` first"
            ),
            SnapshotRemote => write!(
                f,
                "`kip up --from --dry-run`, `kip run --from` and `kip gc --snapshots` work on the local \
                 Docker engine only (remote mode is built for `kip up --from` and `kip snapshot save` \
                 only): run without --remote (with `remote: true` in kip's config: KIP_REMOTE=0)"
            ),
            SnapshotArchiveRefused { archive, why } => write!(
                f,
                "{archive} is not a snapshot archive kip can import: {why}; nothing was made \
                 (make one with `kip snapshot export SNAPSHOT FILE`)"
            ),
            SnapshotArchiveFileExists { path } => write!(
                f,
                "{path} exists; kip does not overwrite it: remove it or name another file"
            ),
            SnapshotArchiveTerminal { output: true } => write!(
                f,
                "`-` writes the archive to stdout, which is a terminal: redirect it (`> FILE`, `| ...`) \
                 or name a FILE"
            ),
            SnapshotArchiveTerminal { output: false } => write!(
                f,
                "`-` reads the archive from stdin, which is a terminal: redirect it (`< FILE`, `... |`) \
                 or name a FILE"
            ),
            SnapshotImageMissing { name, image } => write!(
                f,
                "snapshot {name}'s node image {image} is not on this engine; nothing was made: bring it \
                 first (kip's default node image is built by a `kip up`; another is `docker pull`ed or \
                 `docker load`ed)"
            ),
            Interrupted => write!(f, "interrupted"),
            Registry(error) => error.fmt(f),
            HostPorts(error) => error.fmt(f),
        }
    }
}

/// "no kip cluster named …", in one wording for both providers, or what
/// kip knows of a cluster that was there.
fn not_found(f: &mut fmt::Formatter<'_>, cluster: &str, why: &Absence) -> fmt::Result {
    match why {
        Absence::Never { place: None } => {
            write!(f, "no kip cluster named {cluster:?} (see `kip list`)")
        }
        Absence::Never { place: Some(place) } => write!(
            f,
            "no kip cluster named {cluster:?} in {place} (see `kip list --remote`)"
        ),
        Absence::Orphaned => write!(
            f,
            "cluster {cluster:?} has no node: its node container was removed outside kip and its volume is \
             left; `kip down {cluster}` removes what is left, `kip up {cluster}` makes the cluster anew"
        ),
        Absence::Vanished { namespace } => write!(
            f,
            "the node Pod {} is gone from namespace {namespace} (deleted outside kip?): \
             `kip up {cluster} --remote` makes the cluster again, `kip down {cluster}` forgets it",
            names::node_name(cluster)
        ),
    }
}

/// `NAME: WHY`, one line each.
fn lines(failures: &[(String, String)]) -> String {
    failures
        .iter()
        .map(|(name, why)| format!("{name}: {why}"))
        .collect::<Vec<_>>()
        .join("\n")
}
