//! kip's failures, as just's `Error` is shaped: one enum whose variants
//! carry the data of what went wrong, one `Display` that words them all
//! (`display.rs`), and `code()` for the exit status a variant means. Call
//! sites build a variant, never a message; `anyhow::Context` stays for I/O
//! chains where a variant would add nothing, and an `anyhow::Error` without
//! an `Error` in its chain exits 1.
//!
//! Over 400 lines because it is the whole list of what can go wrong, one
//! variant each, kept in one place so the exit codes are decided in one
//! match; the wording is in `display.rs`, its tests in `tests.rs`.

mod display;
#[cfg(test)]
mod tests;

pub use display::{
    pod_security_fix, pod_security_problem, NO_REMOTE_DIND_IMAGE, PSA_ENFORCE,
    REMOTE_DIND_IMAGE_FIX,
};
use std::path::PathBuf;
use std::time::Duration;

/// Exit codes, by family (README "Exit codes"). Bad usage exits 2, as clap
/// does for invalid arguments.
pub mod exit {
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const ENVIRONMENT: u8 = 3;
    pub const TIMEOUT: u8 = 4;
    pub const NOT_FOUND: u8 = 5;
    pub const NODE: u8 = 6;
    /// `kip run`'s CMD cannot be executed / does not exist, as shells say.
    pub const NOT_EXECUTABLE: u8 = 126;
    pub const NO_SUCH_COMMAND: u8 = 127;
    pub const INTERRUPTED: u8 = 130;

    /// Each code and what it means, as README's table and the man page's
    /// EXIT STATUS say it.
    pub const MEANINGS: [(u8, &str); 10] = [
        (0, "success (`status`: the cluster is running and its API server answers)"),
        (FAILURE, "any other failure"),
        (USAGE, "bad usage: an invalid name, flag or value, or a config file that is missing or invalid"),
        (ENVIRONMENT, "environment: Docker unreachable or not answering within 10 s, image missing, port in use, privileges refused, kubeconfig unreadable, unwritable, malformed or not a regular file"),
        (TIMEOUT, "timeout: not ready within `--wait`"),
        (NOT_FOUND, "not found: no such cluster or pool (`kip seed rm`: no such seed; `kip snapshot`, `up --from`: no such snapshot)"),
        (NODE, "failure inside the node: dockerd or kind failed, or the node stopped (`status`: present but not ready; `exec`: the node is not running)"),
        (NOT_EXECUTABLE, "`kip run`: CMD cannot be executed (not executable, a folder)"),
        (NO_SUCH_COMMAND, "`kip run`: CMD not found (not a file, nor in `PATH`)"),
        (INTERRUPTED, "interrupted (Ctrl-C or SIGTERM); `up` removes what it made, `down` and `gc` first finish the deletion under way"),
    ];
}

/// Why there is no node of a cluster to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Absence {
    /// kip has no cluster of that name here (`place`: where it looked, for
    /// a remote target).
    Never { place: Option<String> },
    /// The node container was removed outside kip; its volume is left.
    Orphaned,
    /// kip made it in this namespace (it remembers), and its Pod is gone.
    Vanished { namespace: String },
}

/// Everything that can go wrong, grouped by the exit code it means (see
/// [`Error::code`]). Strings that are not kip's own words (an engine's or
/// API server's message, a log tail) are carried as they came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    // ---- bad usage (2) ----
    /// `KIP_CONFIG` names a file that does not exist.
    ConfigMissing {
        path: PathBuf,
        default: Option<PathBuf>,
    },
    ConfigUnreadable {
        path: PathBuf,
        error: String,
    },
    ConfigInvalid {
        path: PathBuf,
        error: String,
    },
    /// A key of kip's config that parses but cannot be used (`error` says
    /// why, as the matching flag would).
    ConfigValueInvalid {
        path: PathBuf,
        key: &'static str,
        error: String,
    },
    /// `kip run --name A --reuse B`.
    ReuseNamesDiffer {
        name: String,
        reuse: String,
    },
    ReuseWithoutName,
    KindConfigUnreadable {
        path: PathBuf,
        error: String,
    },
    /// A user's kind config contradicts kip's (the field is in `error`).
    KindConfigInvalid {
        path: PathBuf,
        error: String,
    },
    /// `kip up --remote` with kip's local-only default DinD image.
    RemoteDefaultDindImage,
    /// The current context is a kip cluster's, not one that runs nodes.
    KipContextCurrent {
        cluster: String,
    },
    NoCurrentContext,
    /// `kip connect` of a local cluster.
    ConnectLocal {
        cluster: String,
    },
    ArchiveUnreadable {
        path: PathBuf,
        error: String,
    },
    /// `--archive` names something that is not a regular file (`what`: "a
    /// directory", "a FIFO", ...).
    ArchiveNotAFile {
        path: PathBuf,
        what: &'static str,
    },
    /// `kip up --pool` with a flag that shapes a node: the pool's plan
    /// decides it.
    PoolFlagRefused {
        flag: String,
        pool: String,
    },
    /// A flag a pool cannot honour at all (`--api-port`), and why.
    PoolFlagImpossible {
        flag: &'static str,
        why: &'static str,
    },
    /// `kip pool --remote`, `up --remote --pool`: pools are local only.
    PoolsLocalOnly,
    /// `kip seed rm PREFIX` that starts `count` seeds' keys.
    SeedKeyAmbiguous {
        prefix: String,
        count: usize,
    },

    // ---- environment (3) ----
    DockerUnusable {
        host: String,
        error: String,
        hint: &'static str,
    },
    DockerUnreachable {
        host: String,
        error: String,
        hint: &'static str,
    },
    /// A container or volume of the cluster's name without kip's labels.
    Foreign {
        kind: &'static str,
        name: String,
        cluster: String,
    },
    /// A Pod, ConfigMap or Service of the cluster's name without kip's labels.
    ForeignRemote {
        kind: &'static str,
        name: String,
        namespace: String,
        cluster: String,
    },
    NodeImageContext {
        error: String,
    },
    /// The build of kip's default node image broke off.
    NodeImageBuildBroke {
        image: String,
        error: String,
    },
    /// The build of kip's default node image failed (the builder's words).
    NodeImageBuildFailed {
        image: String,
        detail: String,
    },
    /// The DinD image is not on the engine and cannot be pulled.
    NodeImageUnavailable {
        image: String,
        error: String,
    },
    /// The kind node image is not on the host's engine and cannot be pulled.
    KindImageUnavailable {
        image: String,
        error: String,
    },
    KindImageNotListed {
        image: String,
    },
    PrivilegedRefused {
        reason: String,
    },
    PortInUse {
        port: Option<u16>,
    },
    /// `network`: the `--network` the engine's refusal is about, if it is.
    NodeNotCreated {
        error: String,
        network: Option<String>,
    },
    KubeApi {
        server: String,
        error: String,
    },
    PodExecFailed {
        pod: String,
        error: String,
    },
    RemoteKubeconfigUnreadable {
        path: PathBuf,
        error: String,
    },
    ContextUnusable {
        context: Option<String>,
        error: String,
    },
    NoKubeconfig {
        error: String,
    },
    KubeClient {
        error: String,
    },
    /// `lines`: one `  - VERB RESOURCE` line each; `rules`: the Role rules.
    MissingRights {
        place: String,
        lines: String,
        rules: String,
    },
    PodSecurityRefuses {
        namespace: String,
        level: String,
    },
    DryRunRefused {
        kind: String,
        place: String,
        message: String,
    },
    /// `path`: the kubeconfig as given, and where its links led.
    KubeconfigUnreadable {
        path: String,
        error: String,
    },
    KubeconfigUnparsable {
        path: PathBuf,
        error: String,
    },
    KubeconfigNotMapping {
        path: PathBuf,
    },
    KubeconfigMalformed {
        path: PathBuf,
        problem: String,
    },
    KubeconfigUnwritable {
        path: PathBuf,
        what: &'static str,
        place: PathBuf,
        error: String,
    },
    /// `what`: "a directory", "a FIFO", ...
    KubeconfigNotRegular {
        path: String,
        what: &'static str,
    },
    KubeconfigLinkUnreadable {
        link: PathBuf,
        error: String,
    },
    KubeconfigLinkLoop {
        path: PathBuf,
        max: usize,
    },
    /// Another kip made the cluster a run that needs its own was making.
    NameAppeared {
        name: String,
    },
    /// `kip run --name NAME` of a cluster that exists.
    RunNameTaken {
        name: String,
    },
    NoHostEngine,
    ImageNotOnHost {
        image: String,
    },
    DoctorFailed {
        checks: Vec<String>,
    },
    /// `kip pool create` of a pool that exists.
    PoolExists {
        pool: String,
        size: u32,
    },
    /// `kip pool create NAME` where a cluster NAME exists.
    PoolNameIsCluster {
        pool: String,
    },
    /// No image on the engine to run the seed store's helper in.
    SeedStoreUnreadable {
        volume: String,
        images: Vec<String>,
    },
    /// A seed that clusters' nodes (running or stopped) came from, or
    /// whose layers snapshots mount.
    SeedInUse {
        key: String,
        clusters: Vec<String>,
        snapshots: Vec<String>,
    },
    /// Seeds a running node took since kip looked: left in place.
    SeedsHeld {
        keys: Vec<String>,
    },

    // ---- timeout (4) ----
    PodNotStarted {
        pod: String,
        last: String,
        transient: Option<String>,
    },
    /// `tail`: the node's last log lines, as `tail_text` renders them.
    ApiNotReady {
        server: String,
        wait: Duration,
        last: String,
        tail: String,
    },
    ClusterNotReady {
        wait: Duration,
        phase: String,
        tail: String,
    },
    KindImageLate {
        image: String,
        wait: Duration,
    },
    OtherUpTimeout {
        name: String,
        wait: Duration,
    },
    /// A node started again that did not make its cluster again in time.
    RestartTimeout {
        name: String,
        wait: Duration,
    },
    ConnectTimeout {
        cluster: String,
        server: String,
    },
    CommandTimedOut {
        program: String,
        limit: Duration,
    },
    /// A claimed cluster's nodes did not report Ready within `--wait`.
    NodesNotReady {
        cluster: String,
        wait: Duration,
        last: String,
    },
    /// `--pool-wait`: no member of the pool became ready within `--wait`.
    NoReadyMember {
        pool: String,
        wait: Duration,
    },

    // ---- not found (5) ----
    NotFound {
        cluster: String,
        why: Absence,
    },
    /// `place`: where kip looked, for a remote target.
    PoolNotFound {
        pool: String,
        place: Option<String>,
    },
    SeedNotFound {
        key: String,
    },

    // ---- failure inside the node (6) ----
    /// `remote`: a node Pod (no `docker start` brings it back).
    NodeNotRunning {
        cluster: String,
        status: String,
        remote: bool,
    },
    PodCannotRun {
        pod: String,
        why: String,
    },
    PodDeletedWhileStarting {
        pod: String,
    },
    NodeWithoutEndpoint,
    NodeStopped {
        exit: Option<i64>,
        phase: String,
        tail: String,
    },
    /// The node's init could not run the bootstrap (`said`: its words, as
    /// "exec sh failed: No such file or directory").
    NodeInitFailed {
        image: String,
        said: String,
    },
    /// A `kip-fail` marker: `hint` names a known cause, `detail` is the
    /// log the script printed after it.
    BootstrapFailed {
        phase: String,
        reason: String,
        hint: Option<&'static str>,
        detail: String,
    },
    KindImageStream {
        image: String,
        error: String,
    },
    KindImageTag {
        name: String,
        code: i64,
        said: String,
    },
    /// A cluster that exists but cannot be used; `problem` follows "is".
    Broken {
        name: String,
        problem: String,
    },
    OtherUpFailed {
        name: String,
    },
    OtherUpNoNode {
        name: String,
    },
    /// The node this `kip up` made was removed (by a `kip down` or `kip gc`
    /// at the same time) before the cluster was ready.
    DeletedWhileMade {
        name: String,
    },
    /// The kind nodes inside a running node are stopped (killed, or stopped
    /// by hand), so its API server does not answer.
    KindNodesStopped {
        cluster: String,
        nodes: Vec<String>,
    },
    /// The cluster `kip load` loaded into was deleted meanwhile.
    DeletedWhileLoading {
        name: String,
    },
    NotReady {
        cluster: String,
        status: String,
    },
    NoPublishedPort {
        cluster: String,
        status: String,
    },
    NoEndpoint {
        cluster: String,
    },
    ForwarderStopped {
        cluster: String,
    },
    NodeContainerRemoved {
        cluster: String,
    },
    KindLoadFailed {
        output: String,
    },

    // ---- kip run's CMD (126, 127) ----
    /// `what`: the file that is not executable, or why it did not start.
    NotExecutable {
        program: String,
        what: String,
    },
    NoSuchCommand {
        program: String,
    },

    // ---- any other failure (1) ----
    ExecFailed {
        node: String,
        error: String,
    },
    ExecNotAttached {
        node: String,
    },
    NoExitCode,
    CopyOut {
        path: String,
        error: String,
    },
    ReadInNode {
        path: String,
        error: String,
    },
    CannotRemoveVolume {
        volume: String,
        error: String,
    },
    CannotRemoveContainer {
        name: String,
        error: String,
    },
    StillBeingRemoved {
        name: String,
    },
    NodeStartFailed {
        node: String,
        error: String,
    },
    LogStreamBroke {
        error: String,
    },
    CannotStopNode {
        cluster: String,
        error: String,
    },
    ProbeImageMissing {
        image: String,
    },
    ProbeCreate {
        image: String,
        error: String,
    },
    ProbeStart {
        error: String,
    },
    HostImagesUnreadable {
        error: String,
    },
    DockerLoadFailed {
        error: String,
    },
    KindExportFailed {
        error: String,
    },
    WatchEnded,
    ForwarderExited {
        status: String,
        log: String,
    },
    ForwarderSilent {
        log: String,
    },
    CreateObject {
        kind: String,
        name: String,
        error: String,
    },
    OwnConfigMap {
        name: String,
        error: String,
    },
    PodStillTerminating {
        pod: String,
    },
    KubeconfigLocked {
        path: PathBuf,
        lock: PathBuf,
        held: Duration,
    },
    KubeconfigKeyNotScalar,
    NodeKubeconfigNotMapping,
    NoHome,
    NoCaCertificate,
    VersionStatus {
        status: u16,
    },
    NoProcessId {
        program: String,
    },
    /// Another kip took the cluster's name first (a concurrent `kip up` of
    /// the same name): this run created nothing and must remove nothing.
    NameTaken {
        cluster: String,
    },
    /// `failures`: each cluster and why; `code`: the exit code they share,
    /// or 1 when they differ.
    NotAllDeleted {
        failures: Vec<(String, String)>,
        code: u8,
    },
    GcIncomplete {
        failures: Vec<(String, String)>,
    },
    /// The engine refused the object whose creation takes a member.
    ClaimFailed {
        member: String,
        error: String,
    },
    /// Other kips kept changing the pool's definition while this one tried.
    PoolBusy {
        pool: String,
    },
    /// The detached `kip pool fill` did not start.
    FillerNotStarted {
        error: String,
    },
    /// The seed store's helper container failed (`what` it was asked).
    SeedHelperFailed {
        what: String,
        error: String,
    },
    /// A snapshot's helper container (or the probe in the node) failed.
    SnapshotHelperFailed {
        what: String,
        error: String,
    },

    // ---- snapshots (issue 19), by the family of their code ----
    /// No snapshot of that name (5).
    SnapshotNotFound {
        name: String,
    },
    /// A snapshot of that name exists (3): nothing was touched.
    SnapshotExists {
        name: String,
    },
    /// The snapshot's save did not finish (3).
    SnapshotIncomplete {
        name: String,
    },
    /// What differs between the snapshot and this engine or the flags (3).
    SnapshotRefused {
        name: String,
        differences: Vec<String>,
    },
    /// The seed the snapshot's images come from is gone (3).
    SnapshotSeedGone {
        name: String,
        seed: String,
    },
    /// `up --from` of a name a cluster has (3): nothing was touched.
    RestoreNameTaken {
        name: String,
    },
    /// What a removed node left (an orphan) was taken by a `kip up` of
    /// the name after `down` or `gc` judged it: left to the new cluster.
    OrphanTaken {
        cluster: String,
    },
    /// `up --from --dry-run`, `run --from` and `gc --snapshots` in remote
    /// mode are not built yet (2).
    SnapshotRemote,
    /// `kip snapshot rm` of a snapshot pools restore their members from (3).
    SnapshotUsedByPool {
        name: String,
        pools: Vec<String>,
    },
    /// An archive `kip snapshot import` does not take, and why (3).
    SnapshotArchiveRefused {
        archive: String,
        why: String,
    },
    /// `kip snapshot export` to a file that exists (3): left alone.
    SnapshotArchiveFileExists {
        path: String,
    },
    /// `-` is a terminal: stdout (`output`) or stdin (2).
    SnapshotArchiveTerminal {
        output: bool,
    },
    /// The imported snapshot's node image is not on this engine (3).
    SnapshotImageMissing {
        name: String,
        image: String,
    },

    // ---- interrupted (130) ----
    Interrupted,

    // ---- their own families: the variants' words and codes are theirs ----
    /// kip's registries, and connecting a cluster to them.
    Registry(crate::registry::error::RegistryError),
    /// Host ports (`-p`, a kind config's `extraPortMappings`).
    HostPorts(crate::node::ports::PortError),
}

impl Error {
    /// The exit status this failure means (the table in [`exit::MEANINGS`]).
    /// A table itself: one arm per variant.
    pub fn code(&self) -> u8 {
        use Error::*;
        match self {
            ConfigMissing { .. }
            | ConfigUnreadable { .. }
            | ConfigInvalid { .. }
            | ConfigValueInvalid { .. }
            | ReuseNamesDiffer { .. }
            | ReuseWithoutName
            | KindConfigUnreadable { .. }
            | KindConfigInvalid { .. }
            | RemoteDefaultDindImage
            | KipContextCurrent { .. }
            | NoCurrentContext
            | ConnectLocal { .. }
            | ArchiveUnreadable { .. }
            | ArchiveNotAFile { .. }
            | PoolFlagRefused { .. }
            | PoolFlagImpossible { .. }
            | PoolsLocalOnly
            | SeedKeyAmbiguous { .. }
            | SnapshotRemote
            | SnapshotArchiveTerminal { .. } => exit::USAGE,
            DockerUnusable { .. }
            | DockerUnreachable { .. }
            | Foreign { .. }
            | ForeignRemote { .. }
            | NodeImageContext { .. }
            | NodeImageBuildBroke { .. }
            | NodeImageBuildFailed { .. }
            | NodeImageUnavailable { .. }
            | KindImageUnavailable { .. }
            | KindImageNotListed { .. }
            | PrivilegedRefused { .. }
            | PortInUse { .. }
            | NodeNotCreated { .. }
            | KubeApi { .. }
            | PodExecFailed { .. }
            | RemoteKubeconfigUnreadable { .. }
            | ContextUnusable { .. }
            | NoKubeconfig { .. }
            | KubeClient { .. }
            | MissingRights { .. }
            | PodSecurityRefuses { .. }
            | DryRunRefused { .. }
            | KubeconfigUnreadable { .. }
            | KubeconfigUnparsable { .. }
            | KubeconfigNotMapping { .. }
            | KubeconfigMalformed { .. }
            | KubeconfigUnwritable { .. }
            | KubeconfigNotRegular { .. }
            | KubeconfigLinkUnreadable { .. }
            | KubeconfigLinkLoop { .. }
            | NameAppeared { .. }
            | RunNameTaken { .. }
            | NoHostEngine
            | ImageNotOnHost { .. }
            | DoctorFailed { .. }
            | PoolExists { .. }
            | PoolNameIsCluster { .. }
            | SeedStoreUnreadable { .. }
            | SeedInUse { .. }
            | SeedsHeld { .. }
            | SnapshotExists { .. }
            | SnapshotIncomplete { .. }
            | SnapshotRefused { .. }
            | SnapshotUsedByPool { .. }
            | SnapshotSeedGone { .. }
            | SnapshotArchiveRefused { .. }
            | SnapshotArchiveFileExists { .. }
            | SnapshotImageMissing { .. }
            | RestoreNameTaken { .. }
            | OrphanTaken { .. } => exit::ENVIRONMENT,
            PodNotStarted { .. }
            | ApiNotReady { .. }
            | ClusterNotReady { .. }
            | KindImageLate { .. }
            | OtherUpTimeout { .. }
            | RestartTimeout { .. }
            | ConnectTimeout { .. }
            | CommandTimedOut { .. }
            | NoReadyMember { .. }
            | NodesNotReady { .. } => exit::TIMEOUT,
            NotFound { .. }
            | PoolNotFound { .. }
            | SeedNotFound { .. }
            | DeletedWhileLoading { .. }
            | SnapshotNotFound { .. } => exit::NOT_FOUND,
            NodeNotRunning { .. }
            | PodCannotRun { .. }
            | PodDeletedWhileStarting { .. }
            | NodeWithoutEndpoint
            | NodeStopped { .. }
            | NodeInitFailed { .. }
            | BootstrapFailed { .. }
            | KindImageStream { .. }
            | KindImageTag { .. }
            | Broken { .. }
            | OtherUpFailed { .. }
            | OtherUpNoNode { .. }
            | DeletedWhileMade { .. }
            | KindNodesStopped { .. }
            | NotReady { .. }
            | NoPublishedPort { .. }
            | NoEndpoint { .. }
            | ForwarderStopped { .. }
            | NodeContainerRemoved { .. }
            | KindLoadFailed { .. } => exit::NODE,
            NotExecutable { .. } => exit::NOT_EXECUTABLE,
            NoSuchCommand { .. } => exit::NO_SUCH_COMMAND,
            NotAllDeleted { code, .. } => *code,
            Interrupted => exit::INTERRUPTED,
            Registry(error) => error.code(),
            HostPorts(error) => error.code(),
            ExecFailed { .. }
            | ExecNotAttached { .. }
            | NoExitCode
            | CopyOut { .. }
            | ReadInNode { .. }
            | CannotRemoveVolume { .. }
            | CannotRemoveContainer { .. }
            | StillBeingRemoved { .. }
            | NodeStartFailed { .. }
            | LogStreamBroke { .. }
            | CannotStopNode { .. }
            | ProbeImageMissing { .. }
            | ProbeCreate { .. }
            | ProbeStart { .. }
            | HostImagesUnreadable { .. }
            | DockerLoadFailed { .. }
            | KindExportFailed { .. }
            | WatchEnded
            | ForwarderExited { .. }
            | ForwarderSilent { .. }
            | CreateObject { .. }
            | OwnConfigMap { .. }
            | PodStillTerminating { .. }
            | KubeconfigLocked { .. }
            | KubeconfigKeyNotScalar
            | NodeKubeconfigNotMapping
            | NoHome
            | NoCaCertificate
            | VersionStatus { .. }
            | NoProcessId { .. }
            | NameTaken { .. }
            | GcIncomplete { .. }
            | ClaimFailed { .. }
            | PoolBusy { .. }
            | FillerNotStarted { .. }
            | SeedHelperFailed { .. }
            | SnapshotHelperFailed { .. } => exit::FAILURE,
        }
    }

    /// Whether `err` is (or was caused by) this very kind of failure.
    pub fn is(err: &anyhow::Error, test: impl Fn(&Error) -> bool) -> bool {
        err.chain()
            .filter_map(|cause| cause.downcast_ref::<Error>())
            .any(test)
    }
}

impl std::error::Error for Error {}

/// The exit code of an error: its first `Error`'s, else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Error>())
        .map_or(exit::FAILURE, Error::code)
}

/// `Error::NotAllDeleted` for the failed deletions: their exit code when
/// they all failed for the same kind of reason (Docker unreachable, say).
pub fn not_all_deleted(failures: Vec<(String, anyhow::Error)>) -> Error {
    let first = failures.first().map(|(_, e)| exit_code(e));
    let same = failures.iter().all(|(_, e)| Some(exit_code(e)) == first);
    let code = match first {
        Some(code) if same => code,
        _ => exit::FAILURE,
    };
    Error::NotAllDeleted {
        failures: failures
            .into_iter()
            .map(|(name, e)| (name, format!("{e:#}")))
            .collect(),
        code,
    }
}
