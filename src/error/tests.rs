//! Every failure's words and exit code, one row each: a change of wording
//! is a change of this table.

use super::{exit, Absence, Error};
use std::path::PathBuf;
use std::time::Duration;

fn s(text: &str) -> String {
    text.to_string()
}

fn p(path: &str) -> PathBuf {
    PathBuf::from(path)
}

/// (the failure, its exit code, what the user reads).
fn table() -> Vec<(Error, u8, &'static str)> {
    use Error::*;
    vec![
        (ConfigMissing { path: p("/c.yaml"), default: Some(p("/home/u/.config/kip/config.yaml")) }, exit::USAGE,
         "KIP_CONFIG names /c.yaml, which does not exist (unset KIP_CONFIG to use /home/u/.config/kip/config.yaml)"),
        (ConfigMissing { path: p("/c.yaml"), default: None }, exit::USAGE,
         "KIP_CONFIG names /c.yaml, which does not exist (unset KIP_CONFIG to use no config file)"),
        (ConfigUnreadable { path: p("/c.yaml"), error: s("denied") }, exit::USAGE,
         "cannot read kip's config /c.yaml: denied"),
        (ConfigInvalid { path: p("/c.yaml"), error: s("bad") }, exit::USAGE,
         "kip's config /c.yaml is not valid: bad\n(it takes `image: IMAGE`, `dindImage: IMAGE`, `ttl: DURATION`, `remote: true|false` and `mirror: NAME|URL`)"),
        (ReuseNamesDiffer { name: s("a"), reuse: s("b") }, exit::USAGE,
         "--name a and --reuse b name different clusters: give one of them"),
        (ReuseWithoutName, exit::USAGE,
         "--reuse needs a cluster: `--reuse NAME`, or `--name NAME --reuse`"),
        (KindConfigUnreadable { path: p("k.yaml"), error: s("gone") }, exit::USAGE,
         "--kind-config k.yaml: cannot read it: gone"),
        (KindConfigInvalid { path: p("k.yaml"), error: s("networking.apiServerPort is kip's") }, exit::USAGE,
         "--kind-config k.yaml: networking.apiServerPort is kip's"),
        (RemoteDefaultDindImage, exit::USAGE,
         "remote nodes need a Docker-in-Docker node image the cluster can pull; kip's default one is built on the local engine only: pass --dind-image REGISTRY/IMAGE (or set KIP_DIND_IMAGE, or `dindImage:` in kip's config)"),
        (KipContextCurrent { cluster: s("a") }, exit::USAGE,
         "the current context kip-a is a kip cluster, not the cluster that runs remote nodes: pass --context CONTEXT"),
        (NoCurrentContext, exit::USAGE,
         "the kubeconfig names no current context: pass --context CONTEXT (see `kubectl config get-contexts`)"),
        (ConnectLocal { cluster: s("a") }, exit::USAGE,
         "kip connect restarts the port-forward of a remote cluster: `kip connect a --remote` (local clusters publish their port)"),
        (ArchiveUnreadable { path: p("i.tar"), error: s("No such file or directory (os error 2)") }, exit::USAGE,
         "--archive i.tar: No such file or directory (os error 2)"),
        (DockerUnusable { host: s("tcp://x"), error: s("bad"), hint: "set DOCKER_HOST to use another engine" }, exit::ENVIRONMENT,
         "cannot use Docker at tcp://x: bad\n(set DOCKER_HOST to use another engine)"),
        (DockerUnreachable { host: s("unix:///s"), error: s("refused"), hint: "set DOCKER_HOST to use another engine" }, exit::ENVIRONMENT,
         "cannot reach Docker at unix:///s: refused\nIs the daemon running? (set DOCKER_HOST to use another engine)"),
        (Foreign { kind: "volume", name: s("kip-a-docker"), cluster: s("a") }, exit::ENVIRONMENT,
         "a volume named kip-a-docker exists that kip did not make (it has no kip labels for cluster a); kip never adopts or removes it: remove or rename it yourself (`docker volume rm kip-a-docker`) if it is not needed, or pick another cluster name"),
        (ForeignRemote { kind: "ConfigMap", name: s("kip-a"), namespace: s("ci"), cluster: s("a") }, exit::ENVIRONMENT,
         "a ConfigMap named kip-a exists in namespace ci that kip did not make (it has no kip labels for cluster a); kip never adopts or removes it: delete it yourself if it is not needed, or pick another cluster name"),
        (NodeImageContext { error: s("full") }, exit::ENVIRONMENT,
         "cannot pack the node image build context: full"),
        (NodeImageBuildBroke { image: s("kip-node:x"), error: s("eof") }, exit::ENVIRONMENT,
         "building the node image kip-node:x failed: eof"),
        (NodeImageBuildFailed { image: s("kip-node:x"), detail: s("no network") }, exit::ENVIRONMENT,
         "building the node image kip-node:x failed: no network\n(it needs internet access for docker:28-dind and kind; or pass --dind-image with a Docker-in-Docker node image you have)"),
        (NodeImageUnavailable { image: s("dind:x"), error: s("denied") }, exit::ENVIRONMENT,
         "the node image dind:x is not on this Docker engine and cannot be pulled: denied\nBuild or load it (docker load / docker import), or omit --dind-image to use kip's default node image"),
        (KindImageUnavailable { image: s("kindest/node:x"), error: s("denied") }, exit::ENVIRONMENT,
         "the kind node image kindest/node:x is neither on the host's Docker engine nor pullable: denied\nMake it available on the host (docker pull kindest/node:x, or docker load it), or pass --image with a node image the host has; `kip load` adds images to a running cluster"),
        (KindImageNotListed { image: s("k:1") }, exit::ENVIRONMENT,
         "the kind node image k:1 was pulled but the host's engine does not list it"),
        (PrivilegedRefused { reason: s("unable to apply caps") }, exit::ENVIRONMENT,
         "this Docker engine refuses privileged containers (unable to apply caps); use --security caps (or auto) for an explicit capability profile"),
        (PortInUse { port: Some(6443) }, exit::ENVIRONMENT,
         "port 127.0.0.1:6443 is already in use: pick another --api-port, or omit it to get a free one"),
        (PortInUse { port: None }, exit::ENVIRONMENT,
         "port 127.0.0.1:the API port is already in use: pick another --api-port, or omit it to get a free one"),
        (NodeNotCreated { error: s("network n not found"), network: Some(s("n")) }, exit::ENVIRONMENT,
         "cannot create the node: network n not found (is --network n a network on this engine? `docker network ls`)"),
        (NodeNotCreated { error: s("no such image"), network: None }, exit::ENVIRONMENT,
         "cannot create the node: no such image"),
        (KubeApi { server: s("https://k:6443/"), error: s("refused") }, exit::ENVIRONMENT,
         "the Kubernetes API at https://k:6443/ failed: refused"),
        (PodExecFailed { pod: s("kip-a"), error: s("403") }, exit::ENVIRONMENT,
         "cannot exec in the node Pod kip-a: 403"),
        (RemoteKubeconfigUnreadable { path: p("/kc"), error: s("gone") }, exit::ENVIRONMENT,
         "cannot read the kubeconfig /kc: gone"),
        (ContextUnusable { context: Some(s("ci")), error: s("no user") }, exit::ENVIRONMENT,
         "cannot use context ci: no user"),
        (ContextUnusable { context: None, error: s("no user") }, exit::ENVIRONMENT,
         "cannot use context (current): no user"),
        (NoKubeconfig { error: s("no token") }, exit::ENVIRONMENT,
         "no kubeconfig ($KUBECONFIG, ~/.kube/config) and not inside a cluster (no token): pass --kubeconfig FILE"),
        (KubeClient { error: s("tls") }, exit::ENVIRONMENT,
         "cannot make a Kubernetes client: tls"),
        (MissingRights { place: s("namespace a of context c"), lines: s("  - create pods"), rules: s("  - rule") }, exit::ENVIRONMENT,
         "kip may not do what a remote node needs in namespace a of context c:\n  - create pods\nAn admin must grant them, e.g. in a Role bound to you:\n  - rule"),
        (PodSecurityRefuses { namespace: s("ci"), level: s("baseline") }, exit::ENVIRONMENT,
         "namespace ci enforces the Pod Security level \"baseline\", which refuses privileged pods, and kip's node must run privileged.\nUse a namespace that allows privileged pods, or have an admin label this one: kubectl label namespace ci pod-security.kubernetes.io/enforce=privileged"),
        (DryRunRefused { kind: s("Pod"), place: s("namespace a"), message: s("quota") }, exit::ENVIRONMENT,
         "the cluster refuses kip's Pod in namespace a (a server-side dry run): quota"),
        (KubeconfigUnreadable { path: s("/kc (a link to /x)"), error: s("denied") }, exit::ENVIRONMENT,
         "cannot read kubeconfig /kc (a link to /x): denied"),
        (KubeconfigUnparsable { path: p("/kc"), error: s("bad yaml") }, exit::ENVIRONMENT,
         "cannot parse kubeconfig /kc: bad yaml\nkip left it untouched; fix or move it, then run the command again"),
        (KubeconfigNotMapping { path: p("/kc") }, exit::ENVIRONMENT,
         "kubeconfig /kc is not a YAML mapping; kip left it untouched"),
        (KubeconfigMalformed { path: p("/kc"), problem: s("`clusters` is not a list") }, exit::ENVIRONMENT,
         "kubeconfig /kc: `clusters` is not a list, so kubectl cannot read it either\nkip left it untouched; fix or move it, then run the command again"),
        (KubeconfigUnwritable { path: p("/kc"), what: "its folder", place: p("/"), error: s("denied") }, exit::ENVIRONMENT,
         "kubeconfig /kc cannot be written (its folder /: denied), and kip writes the cluster's credentials there; kip created nothing\nPass `--kubeconfig FILE` to name a file kip may write (`kip kubeconfig NAME` prints a cluster's kubeconfig any time)"),
        (KubeconfigNotRegular { path: s("/dev/null"), what: "a character device" }, exit::ENVIRONMENT,
         "kubeconfig /dev/null is a character device, not a regular file, and kip writes cluster credentials to it; kip left it untouched\nPass `--kubeconfig FILE` or set KUBECONFIG to a file path (a missing file is created)"),
        (KubeconfigLinkUnreadable { link: p("/l"), error: s("denied") }, exit::ENVIRONMENT,
         "cannot read the link /l: denied"),
        (KubeconfigLinkLoop { path: p("/l"), max: 40 }, exit::ENVIRONMENT,
         "kubeconfig /l is a loop of symlinks (over 40)"),
        (NameAppeared { name: s("a") }, exit::ENVIRONMENT,
         "cluster a already exists (another kip made it just now); it is left alone: pick another name, or pass --reuse to use it"),
        (RunNameTaken { name: s("a") }, exit::ENVIRONMENT,
         "cluster a already exists, and `kip run` deletes only the clusters it creates: pick another --name, or pass --reuse to run CMD against a and leave it in place"),
        (NoHostEngine, exit::ENVIRONMENT,
         "images come from the local Docker engine, and none is reachable (DOCKER_HOST); `docker save` them elsewhere and pass --archive FILE"),
        (ImageNotOnHost { image: s("app:1") }, exit::ENVIRONMENT,
         "app:1 is not on the host's Docker engine (docker pull app:1, or docker build it)"),
        (DoctorFailed { checks: vec![s("disk"), s("cgroup")] }, exit::ENVIRONMENT,
         "kip doctor: disk, cgroup failed"),
        (SeedKeyAmbiguous { prefix: s("01"), count: 2 }, exit::USAGE,
         "\"01\" is the start of 2 seeds' keys: give more of the key (see `kip seed list`)"),
        (SeedStoreUnreadable { volume: s("kip-seeds"), images: vec![s("a:1"), s("kip-node:x")] }, exit::ENVIRONMENT,
         "cannot read the seed store (volume kip-seeds): none of a:1, kip-node:x is on this engine to run its helper in; pass --dind-image with a Docker-in-Docker image the engine has"),
        (SeedInUse { key: s("0123"), clusters: vec![s("a"), s("b")] }, exit::ENVIRONMENT,
         "seed 0123 is in use by cluster(s) a, b: remove them first (`kip down`), then the seed"),
        (SeedInUse { key: s("0123"), clusters: Vec::new() }, exit::ENVIRONMENT,
         "seed 0123 is in use by a running node (of another kip, or a remote one): remove them first (`kip down`), then the seed"),
        (SeedsHeld { keys: vec![s("0123")] }, exit::ENVIRONMENT,
         "a running node holds seed(s) 0123 (it started from it since kip looked): left in place"),
        (SeedNotFound { key: s("99") }, exit::NOT_FOUND,
         "no seed \"99\" on this engine (see `kip seed list`)"),
        (SeedHelperFailed { what: s("list"), error: s("exited 2: usage") }, exit::FAILURE,
         "the seed store helper (list) failed: exited 2: usage"),
        (SnapshotHelperFailed { what: s("copy"), error: s("exited 1: no space") }, exit::FAILURE,
         "the snapshot helper (copy) failed: exited 1: no space"),
        (SnapshotNotFound { name: s("base") }, exit::NOT_FOUND,
         "no snapshot \"base\" on this engine (see `kip snapshot list`)"),
        (SnapshotExists { name: s("base") }, exit::ENVIRONMENT,
         "a snapshot named base exists (volume kip-snap-base); it is left alone: pick another name, or `kip snapshot rm base` first"),
        (SnapshotIncomplete { name: s("base") }, exit::ENVIRONMENT,
         "snapshot base is incomplete (its save did not finish): `kip snapshot rm base` and save it again"),
        (SnapshotRefused { name: s("base"), differences: vec![s("MTU: 1500 above 1440"), s("arch")] }, exit::ENVIRONMENT,
         "snapshot base cannot be restored here; nothing was made:\n  MTU: 1500 above 1440\n  arch"),
        (SnapshotSeedGone { name: s("base"), seed: s("abc") }, exit::ENVIRONMENT,
         "snapshot base mounts the images of seed abc, which is gone from this engine (`kip seed list`); nothing was made: save the snapshot again from a cluster made with the seed"),
        (RestoreNameTaken { name: s("b") }, exit::ENVIRONMENT,
         "cluster b already exists, and `kip up --from` makes a new cluster; it is left alone: pick another name, or `kip down b` first"),
        (SnapshotRemote, exit::USAGE,
         "snapshots work on the local Docker engine only (remote mode is not built yet): run without --remote (with `remote: true` in kip's config: KIP_REMOTE=0)"),
        (PodNotStarted { pod: s("kip-a"), last: s("Pending"), transient: Some(s("watch interrupted")) }, exit::TIMEOUT,
         "the node Pod kip-a did not start running in time (last: Pending; watch interrupted)"),
        (PodNotStarted { pod: s("kip-a"), last: s("Pending"), transient: None }, exit::TIMEOUT,
         "the node Pod kip-a did not start running in time (last: Pending)"),
        (ApiNotReady { server: s("https://127.0.0.1:1"), wait: Duration::from_secs(300), last: s("refused"), tail: s("TAIL") }, exit::TIMEOUT,
         "the API server at https://127.0.0.1:1 was not ready within 5m (refused)\nTAIL"),
        (ClusterNotReady { wait: Duration::from_secs(90), phase: s("cluster"), tail: s("TAIL") }, exit::TIMEOUT,
         "the cluster was not ready within 1m 30s (still in phase cluster)\nTAIL"),
        (KindImageLate { image: s("k:1"), wait: Duration::from_secs(60) }, exit::TIMEOUT,
         "the kind node image k:1 was not in the node within 1m"),
        (OtherUpTimeout { name: s("a"), wait: Duration::from_secs(60) }, exit::TIMEOUT,
         "cluster a (being created by another `kip up`) was not ready within 1m; see `kip status a` (if no other run is making it, `kip up a --recreate` makes it again)"),
        (ConnectTimeout { cluster: s("a"), server: s("https://127.0.0.1:1") }, exit::TIMEOUT,
         "the API server of a does not answer through https://127.0.0.1:1"),
        (CommandTimedOut { program: s("make"), limit: Duration::from_secs(3600) }, exit::TIMEOUT,
         "make ran longer than --timeout 1h; kip stopped it"),
        (NotFound { cluster: s("gone"), why: Absence::Never { place: None } }, exit::NOT_FOUND,
         "no kip cluster named \"gone\" (see `kip list`)"),
        (NotFound { cluster: s("gone"), why: Absence::Never { place: Some(s("namespace ci of context c")) } }, exit::NOT_FOUND,
         "no kip cluster named \"gone\" in namespace ci of context c (see `kip list --remote`)"),
        (NotFound { cluster: s("a"), why: Absence::Orphaned }, exit::NOT_FOUND,
         "cluster \"a\" has no node: its node container was removed outside kip and its volume is left; `kip down a` removes what is left, `kip up a` makes the cluster anew"),
        (NotFound { cluster: s("a"), why: Absence::Vanished { namespace: s("ci") } }, exit::NOT_FOUND,
         "the node Pod kip-a is gone from namespace ci (deleted outside kip?): `kip up a --remote` makes the cluster again, `kip down a` forgets it"),
        (NodeNotRunning { cluster: s("a"), status: s("container is not running"), remote: false }, exit::NODE,
         "the node of cluster a is not running (container is not running).\nStart it again with `docker start kip-a` (then `kip up a` re-exports its kubeconfig), or make it anew with `kip up a --recreate`"),
        (NodeNotRunning { cluster: s("a"), status: s("Pending"), remote: true }, exit::NODE,
         "cluster a is not running (Pending): see `kip status a --remote`"),
        (PodCannotRun { pod: s("kip-a"), why: s("ErrImagePull: x") }, exit::NODE,
         "the node Pod kip-a cannot run: ErrImagePull: x"),
        (PodDeletedWhileStarting { pod: s("kip-a") }, exit::NODE,
         "the node Pod kip-a was deleted while starting"),
        (NodeWithoutEndpoint, exit::NODE, "the node runs but has no API endpoint"),
        (NodeStopped { exit: Some(1), phase: s("dockerd"), tail: s("TAIL") }, exit::NODE,
         "the node stopped with exit code 1 during phase dockerd\nTAIL"),
        (NodeStopped { exit: None, phase: s("cluster"), tail: s("TAIL") }, exit::NODE,
         "the node stopped during phase cluster\nTAIL"),
        (BootstrapFailed { phase: s("dockerd"), reason: s("dockerd exited"), hint: None, detail: s("log") }, exit::NODE,
         "dockerd failed inside the node (dockerd exited; phase dockerd)\nlog"),
        (BootstrapFailed { phase: s("cluster"), reason: s("kind failed"), hint: Some("HINT"), detail: s("log") }, exit::NODE,
         "kind could not create the cluster (kind failed; phase cluster)\nWhy: HINT\nlog"),
        (BootstrapFailed { phase: s("image"), reason: s("no image"), hint: None, detail: s("") }, exit::NODE,
         "the node bootstrap failed (no image; phase image)\n"),
        (KindImageStream { image: s("k:1"), error: s("broken pipe") }, exit::NODE,
         "cannot stream the kind node image k:1 into the node: broken pipe"),
        (KindImageTag { name: s("k:1"), code: 1, said: s("no such image") }, exit::NODE,
         "cannot name the kind node image k:1 in the node: `docker tag` exited 1: no such image"),
        (Broken { name: s("a"), problem: s("not running (Exited (1))") }, exit::NODE,
         "cluster a exists but is not running (Exited (1)).\nRecreate it with `kip up a --recreate`, or delete it with `kip down a` (its logs: `kip logs a`)"),
        (OtherUpFailed { name: s("a") }, exit::NODE,
         "the other `kip up a` that was creating this cluster failed and removed it; run `kip up a` again (or see that run's output)"),
        (OtherUpNoNode { name: s("a") }, exit::NODE,
         "another `kip up a` claimed this cluster's name, but no node appeared within 20 s; if no other run is going on, `kip down a` clears what is left"),
        (NotReady { cluster: s("a"), status: s("Exited (1)") }, exit::NODE,
         "cluster a is not ready (Exited (1))"),
        (NoPublishedPort { cluster: s("a"), status: s("Created") }, exit::NODE,
         "cluster a has no published API port (Created)"),
        (NoEndpoint { cluster: s("a") }, exit::NODE, "cluster a has no endpoint to connect to"),
        (ForwarderStopped { cluster: s("a") }, exit::NODE,
         "the port-forward to the node is not running: `kip connect a --remote` restarts it"),
        (NodeContainerRemoved { cluster: s("a") }, exit::NODE,
         "the node container kip-a was removed outside kip; its volume kip-a-docker (and any kubeconfig entries) are left: `kip down a` or `kip gc` removes them"),
        (KindLoadFailed { output: s("not present") }, exit::NODE, "kind load failed: not present"),
        (NotExecutable { program: s("./x"), what: s("./x") }, exit::NOT_EXECUTABLE,
         "cannot run \"./x\": ./x is not executable"),
        (NoSuchCommand { program: s("nope") }, exit::NO_SUCH_COMMAND,
         "cannot run \"nope\": command not found (not a file, nor in PATH)"),
        (ExecFailed { node: s("abc"), error: s("no") }, exit::FAILURE, "cannot exec in node abc: no"),
        (ExecNotAttached { node: s("abc") }, exit::FAILURE, "exec in node abc did not attach"),
        (NoExitCode, exit::FAILURE, "the command in the node did not report an exit code"),
        (CopyOut { path: s("/var/log"), error: s("no") }, exit::FAILURE, "cannot copy /var/log out of the node: no"),
        (ReadInNode { path: s("/etc/kip/kubeconfig"), error: s("no such file") }, exit::FAILURE,
         "cannot read /etc/kip/kubeconfig in the node: no such file"),
        (CannotRemoveVolume { volume: s("v"), error: s("in use") }, exit::FAILURE, "cannot remove volume v: in use"),
        (CannotRemoveContainer { name: s("c"), error: s("no") }, exit::FAILURE, "cannot remove container c: no"),
        (StillBeingRemoved { name: s("c") }, exit::FAILURE,
         "container c was still being removed (by another kip?) after 60 s"),
        (NodeStartFailed { node: s("kip-a"), error: s("oci") }, exit::FAILURE,
         "cannot start the node container kip-a: oci"),
        (LogStreamBroke { error: s("409") }, exit::FAILURE, "the node's log stream broke: 409"),
        (CannotStopNode { cluster: s("a"), error: s("no") }, exit::FAILURE, "cannot stop the node of a: no"),
        (ProbeImageMissing { image: s("i") }, exit::FAILURE, "the node image i is not on this engine yet"),
        (ProbeCreate { image: s("i"), error: s("no") }, exit::FAILURE, "cannot create a probe container from i: no"),
        (ProbeStart { error: s("no") }, exit::FAILURE, "the probe container did not start: no"),
        (HostImagesUnreadable { error: s("no") }, exit::FAILURE, "cannot read the images from the host engine: no"),
        (DockerLoadFailed { error: s("no") }, exit::FAILURE, "docker load in the node failed: no"),
        (KindExportFailed { error: s("no") }, exit::FAILURE, "kind export logs failed: no"),
        (WatchEnded, exit::FAILURE, "the watch on the node Pod ended"),
        (ForwarderExited { status: s("exit status: 1"), log: s("bind") }, exit::FAILURE,
         "kip's forwarder exited (exit status: 1): bind"),
        (ForwarderSilent { log: s("") }, exit::FAILURE, "kip's forwarder did not start listening within 10 s: "),
        (CreateObject { kind: s("Pod"), name: s("kip-a"), error: s("403") }, exit::FAILURE,
         "cannot create the Pod kip-a: 403"),
        (OwnConfigMap { name: s("kip-a"), error: s("403") }, exit::FAILURE,
         "cannot make the Pod kip-a own its ConfigMap: 403"),
        (PodStillTerminating { pod: s("kip-a") }, exit::FAILURE, "the node Pod kip-a is still terminating after 45 s"),
        (KubeconfigLocked { path: p("/kc"), lock: p("/kc.lock"), held: Duration::from_secs(10) }, exit::FAILURE,
         "kubeconfig /kc is locked by /kc.lock (held for over 10s): if no kubectl or kip is running, remove that file"),
        (KubeconfigKeyNotScalar, exit::FAILURE,
         "the kubeconfig has a mapping key that is not a scalar, which kubectl cannot read"),
        (NodeKubeconfigNotMapping, exit::FAILURE, "the node's kubeconfig cluster entry is not a mapping"),
        (NoHome, exit::FAILURE, "cannot find a home folder for ~/.kube/config: set KUBECONFIG or pass --kubeconfig"),
        (NoCaCertificate, exit::FAILURE, "the cluster CA holds no certificate"),
        (VersionStatus { status: 503 }, exit::FAILURE, "GET /version answered 503"),
        (NoProcessId { program: s("make") }, exit::FAILURE, "make started without a process id"),
        (NameTaken { cluster: s("a") }, exit::FAILURE, "another `kip up a` is creating this cluster"),
        (NotAllDeleted { failures: vec![(s("a"), s("x")), (s("b"), s("y"))], code: exit::ENVIRONMENT }, exit::ENVIRONMENT,
         "could not delete every cluster:\na: x\nb: y"),
        (GcIncomplete { failures: vec![(s("a"), s("x"))] }, exit::FAILURE,
         "kip gc could not delete every due cluster:\na: x"),
        (Interrupted, exit::INTERRUPTED, "interrupted"),
        (PoolFlagRefused { flag: s("--image"), pool: s("ci") }, exit::USAGE,
         "--image shapes a new node, and a member of pool ci is made already: with --pool the pool's plan decides it. Drop --image, or drop --pool to make a cluster of your own (`kip pool list -o json` shows the pool's plan)"),
        (PoolFlagImpossible { flag: "--api-port", why: "each member needs a host port of its own" }, exit::USAGE,
         "--api-port cannot be used for a pool: each member needs a host port of its own"),
        (PoolsLocalOnly, exit::USAGE,
         "warm pools work on the local Docker engine only (remote pools are not built yet): drop --remote, or drop --pool to make a remote cluster of your own"),
        (PoolExists { pool: s("ci"), size: 2 }, exit::ENVIRONMENT,
         "pool ci exists already (size 2): `kip pool resize ci N` changes its size, `kip pool create ci --replace ...` its plan (members of the old plan are replaced)"),
        (PoolNameIsCluster { pool: s("ci") }, exit::ENVIRONMENT,
         "ci is the name of a cluster, so it cannot name a pool too (`kip up --pool ci` and `kip down ci` would read alike): pick another pool name"),
        (NodesNotReady { cluster: s("a"), wait: Duration::from_secs(60), last: s("node x is not Ready") }, exit::TIMEOUT,
         "the nodes of cluster a were not Ready within 1m (node x is not Ready); `kip logs a` shows the node, `kip down a` removes it"),
        (NoReadyMember { pool: s("ci"), wait: Duration::from_secs(300) }, exit::TIMEOUT,
         "no member of pool ci became ready within 5m (--pool-wait): `kip pool list` shows how far its members are; wait longer with --wait, or leave out --pool-wait to make a cluster at once"),
        (PoolNotFound { pool: s("ci"), place: None }, exit::NOT_FOUND,
         "no pool named ci: `kip pool list` shows the pools, `kip pool create ci --size N` makes one"),
        (PoolNotFound { pool: s("ci"), place: Some(s("namespace ci of context c")) }, exit::NOT_FOUND,
         "no pool named ci in namespace ci of context c: `kip pool list` shows the pools, `kip pool create ci --size N` makes one"),
        (ClaimFailed { member: s("pool.ci.0123abcd"), error: s("no space") }, exit::FAILURE,
         "cannot take pool member pool.ci.0123abcd for a claim: no space"),
        (PoolBusy { pool: s("ci") }, exit::FAILURE,
         "the definition of pool ci kept changing under other kips' hands: try again"),
        (FillerNotStarted { error: s("no exe") }, exit::FAILURE,
         "cannot start kip's pool filler (`kip pool fill`): no exe; the pool refills the next time kip looks at it (`kip pool list`)"),
    ]
}

#[test]
fn each_failure_has_its_words_and_exit_code() {
    let mut wrong = Vec::new();
    for (error, code, words) in table() {
        if error.to_string() != words || error.code() != code {
            wrong.push(format!(
                "{error:?}\n  code {} (want {code})\n  says: {error}\n  want: {words}",
                error.code()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_exit_code_is_in_the_table_of_meanings() {
    for (error, _, _) in table() {
        assert!(
            exit::MEANINGS.iter().any(|(code, _)| *code == error.code()),
            "{error:?}"
        );
    }
}

#[test]
fn the_exit_code_is_the_first_failure_in_the_chain() {
    use anyhow::Context;
    let err = Err::<(), _>(Error::NoHostEngine)
        .context("while loading")
        .unwrap_err();
    assert_eq!(super::exit_code(&err), exit::ENVIRONMENT);
    assert_eq!(super::exit_code(&anyhow::anyhow!("plain")), exit::FAILURE);
}

#[test]
fn failed_deletions_share_their_exit_code_only_when_they_agree() {
    let unreachable = || -> anyhow::Error {
        Error::DockerUnreachable {
            host: s("h"),
            error: s("e"),
            hint: "",
        }
        .into()
    };
    let same = super::not_all_deleted(vec![(s("a"), unreachable()), (s("b"), unreachable())]);
    assert_eq!(same.code(), exit::ENVIRONMENT);
    let mixed = super::not_all_deleted(vec![
        (s("a"), unreachable()),
        (s("b"), anyhow::anyhow!("x")),
    ]);
    assert_eq!(mixed.code(), exit::FAILURE);
    assert_eq!(mixed.to_string(), "could not delete every cluster:\na: cannot reach Docker at h: e\nIs the daemon running? ()\nb: x");
}
