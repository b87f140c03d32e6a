//! What can go wrong with kip's registries, and with connecting a cluster
//! to them: one variant each, one `Display`, and the exit code each means.
//! They reach the user as `crate::error::Error::Registry`. Over 400 lines:
//! the variants, their words and their table test, in one place as
//! `crate::error` keeps its own.

use crate::error::exit;
use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryError {
    // ---- bad usage (2) ----
    /// `up --remote --registry NAME`.
    RemoteRegistry {
        name: String,
    },
    /// `up --remote --mirror NAME`: remote mode takes a URL.
    RemoteMirrorName {
        name: String,
    },
    /// `--mirror VALUE` that is neither a name nor an http(s) URL.
    MirrorUrl {
        url: String,
    },
    /// `--registry NAME` of a pull-through cache.
    IsCache {
        name: String,
        upstream: String,
    },
    /// `--mirror NAME` of a local registry (`flag`: where NAME came from).
    NotCache {
        flag: &'static str,
        name: String,
    },

    // ---- environment (3) ----
    /// A container or volume of a registry's name without kip's labels.
    Foreign {
        kind: &'static str,
        name: String,
    },
    /// `create` of a name that exists with other settings.
    Exists {
        name: String,
        port: u16,
        proxy: Option<String>,
    },
    /// kip's registries need the local engine, and none answers.
    NoEngine,
    NoNetwork {
        network: String,
    },
    NoGateway {
        network: String,
    },
    /// The node's network reaches registries at `gateway`, where this one
    /// is not published.
    Unreachable {
        flag: &'static str,
        name: String,
        network: String,
        gateway: String,
        addresses: Vec<String>,
    },
    /// It does not answer on 127.0.0.1 (`flag`: `up`'s, or None for
    /// `create`, which then removed it); `tail`: its last log lines.
    NotServing {
        flag: Option<&'static str>,
        name: String,
        port: u16,
        error: String,
        tail: String,
    },
    /// `create --proxy URL` of an upstream that does not answer: the
    /// registry stops at once (`why`: its words), and is removed.
    UpstreamDown {
        name: String,
        upstream: String,
        why: String,
    },
    /// `up --mirror NAME` of a cache whose upstream does not answer.
    MirrorUpstreamDown {
        name: String,
        upstream: String,
        why: String,
    },
    StartFailed {
        name: String,
        state: String,
        error: String,
    },
    PortInUse {
        port: u16,
        gateway: String,
    },
    NoFreePort {
        first: u16,
        last: u16,
    },
    ImageUnavailable {
        image: String,
        error: String,
    },
    /// `--proxy-credentials`: what the Docker config lacks, or what its
    /// credential helper said.
    NoDockerConfigDir,
    NoCredentials {
        path: PathBuf,
        registry: String,
    },
    DockerConfigInvalid {
        path: PathBuf,
        error: String,
    },
    HelperCannotRun {
        helper: String,
        program: String,
        error: String,
    },
    HelperRefused {
        program: String,
        server: String,
        said: String,
    },

    // ---- not found (5) ----
    /// `flag`: `up`'s flag that named it, or None (`kip registry rm`).
    NotFound {
        flag: Option<&'static str>,
        name: String,
    },

    // ---- any other failure (1) ----
    CannotCreate {
        container: String,
        error: String,
    },
    CannotStart {
        container: String,
        error: String,
    },
    CannotRemove {
        kind: &'static str,
        name: String,
        error: String,
    },
    Vanished {
        container: String,
    },
}

impl From<RegistryError> for anyhow::Error {
    fn from(error: RegistryError) -> Self {
        crate::error::Error::Registry(error).into()
    }
}

impl RegistryError {
    pub fn code(&self) -> u8 {
        use RegistryError::*;
        match self {
            RemoteRegistry { .. }
            | RemoteMirrorName { .. }
            | MirrorUrl { .. }
            | IsCache { .. }
            | NotCache { .. } => exit::USAGE,
            Foreign { .. }
            | Exists { .. }
            | NoEngine
            | NoNetwork { .. }
            | NoGateway { .. }
            | Unreachable { .. }
            | NotServing { .. }
            | UpstreamDown { .. }
            | MirrorUpstreamDown { .. }
            | StartFailed { .. }
            | PortInUse { .. }
            | NoFreePort { .. }
            | ImageUnavailable { .. }
            | NoDockerConfigDir
            | NoCredentials { .. }
            | DockerConfigInvalid { .. }
            | HelperCannotRun { .. }
            | HelperRefused { .. } => exit::ENVIRONMENT,
            NotFound { .. } => exit::NOT_FOUND,
            CannotCreate { .. } | CannotStart { .. } | CannotRemove { .. } | Vanished { .. } => {
                exit::FAILURE
            }
        }
    }
}

/// Over 60 lines: one arm per variant is the wording table, in one place.
impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RegistryError::*;
        match self {
            RemoteRegistry { name } => write!(
                f,
                "--registry {name}: kip's registries run on your Docker engine, which a remote node \
                 cannot reach; push images to a registry the shared cluster reaches, or `kip load --remote`"
            ),
            RemoteMirrorName { name } => write!(
                f,
                "--mirror {name}: in remote mode --mirror takes the URL of a cache the shared cluster \
                 runs (examples/registry-cache.yaml makes one), e.g. --mirror http://10.96.0.50:5000"
            ),
            MirrorUrl { url } => write!(
                f,
                "--mirror {url}: give a kip registry's name, or a cache's URL \
                 (http://HOST:PORT or https://HOST)"
            ),
            IsCache { name, upstream } => write!(
                f,
                "--registry {name}: {name} is a pull-through cache of {upstream}; connect it with --mirror {name}"
            ),
            NotCache { flag, name } => write!(
                f,
                "{flag} {name}: {name} is a local registry, not a pull-through cache; connect it with \
                 --registry {name}, or make a cache: kip registry create NAME --proxy URL"
            ),
            Foreign { kind, name } => write!(
                f,
                "a {kind} named {name} exists that is not a kip registry (it has no kip registry labels); \
                 kip never adopts or removes it: remove or rename it yourself (`docker {kind} rm {name}`) \
                 if it is not needed, or pick another registry name"
            ),
            Exists { name, port, proxy } => write!(
                f,
                "registry {name} exists with other settings (port {port}, {}); remove it first \
                 (`kip registry rm {name}`: its images go with it) or pick another name",
                proxy
                    .as_deref()
                    .map_or_else(|| "not a cache".into(), |p| format!("a cache of {p}"))
            ),
            NoEngine => write!(f, "kip's registries run on a Docker engine, and none answers"),
            NoNetwork { network } => write!(f, "the Docker network {network} does not exist"),
            NoGateway { network } => write!(
                f,
                "the Docker network {network} has no IPv4 gateway for its containers to reach registries at"
            ),
            Unreachable {
                flag,
                name,
                network,
                gateway,
                addresses,
            } => write!(
                f,
                "{flag} {name}: the node on network {network} reaches registries at its gateway {gateway}, \
                 where {name} is not published (it is on {}); use the engine's default network for this cluster",
                addresses.join(" and ")
            ),
            NotServing {
                flag,
                name,
                port,
                error,
                tail,
            } => match flag {
                Some(flag) => write!(
                    f,
                    "{flag} {name}: the registry does not answer on 127.0.0.1:{port}: {error}\n{tail}"
                ),
                None => write!(
                    f,
                    "registry {name} did not answer on 127.0.0.1:{port} ({error}); nothing was kept\n{tail}"
                ),
            },
            UpstreamDown {
                name,
                upstream,
                why,
            } => write!(
                f,
                "registry {name}: the upstream {upstream} does not answer ({why}); nothing was kept"
            ),
            MirrorUpstreamDown {
                name,
                upstream,
                why,
            } => write!(
                f,
                "the pull-through cache {name} cannot reach its upstream {upstream}: {why}\n\
                 Check the upstream (or the network to it), or pass --mirror-optional to make the \
                 cluster without the cache"
            ),
            StartFailed { name, state, error } => write!(
                f,
                "registry {name} is {state} and does not start: {error}"
            ),
            PortInUse { port, gateway } => write!(
                f,
                "port {port} is already in use on 127.0.0.1 or {gateway}: pick another --port"
            ),
            NoFreePort { first, last } => {
                write!(f, "no free port from {first} to {last}: pass --port")
            }
            ImageUnavailable { image, error } => write!(
                f,
                "the registry image {image} is not on this Docker engine and cannot be pulled: {error}\n\
                 Load it (docker load), or pass --image with a registry image the engine has"
            ),
            NoDockerConfigDir => write!(
                f,
                "--proxy-credentials: there is no Docker config folder (no home folder, no DOCKER_CONFIG)"
            ),
            NoCredentials { path, registry } => write!(
                f,
                "--proxy-credentials: {} has no credentials for {registry}; log in first \
                 (`docker login{}`), or leave --proxy-credentials out for anonymous pulls",
                path.display(),
                if registry == "docker.io" {
                    String::new()
                } else {
                    format!(" {registry}")
                }
            ),
            DockerConfigInvalid { path, error } => {
                write!(f, "{} is not JSON: {error}", path.display())
            }
            HelperCannotRun {
                helper,
                program,
                error,
            } => write!(
                f,
                "--proxy-credentials: the Docker config names the credential helper {helper}, \
                 and {program} cannot run: {error}"
            ),
            HelperRefused {
                program,
                server,
                said,
            } => write!(
                f,
                "--proxy-credentials: {program} gives no credentials for {server}: {said}"
            ),
            NotFound { flag, name } => match flag {
                Some(flag) => write!(
                    f,
                    "{flag} {name}: there is no kip registry named {name} (see `kip registry list`; \
                     make it with `kip registry create {name}`)"
                ),
                None => write!(f, "no kip registry named {name} (see `kip registry list`)"),
            },
            CannotCreate { container, error } => {
                write!(f, "cannot create the registry container {container}: {error}")
            }
            CannotStart { container, error } => {
                write!(f, "cannot start the registry container {container}: {error}")
            }
            CannotRemove { kind, name, error } => write!(f, "cannot remove {kind} {name}: {error}"),
            Vanished { container } => write!(
                f,
                "the registry container {container} vanished as it started"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RegistryError::*;
    use super::*;

    fn s(text: &str) -> String {
        text.to_string()
    }

    /// A table, one row per variant: (the failure, its exit code, what the
    /// user reads).
    #[test]
    fn every_failure_reads_as_written_and_exits_by_its_family() {
        let table: Vec<(RegistryError, u8, &str)> = vec![
            (RemoteRegistry { name: s("dev") }, exit::USAGE,
             "--registry dev: kip's registries run on your Docker engine, which a remote node cannot reach; push images to a registry the shared cluster reaches, or `kip load --remote`"),
            (RemoteMirrorName { name: s("hub") }, exit::USAGE,
             "--mirror hub: in remote mode --mirror takes the URL of a cache the shared cluster runs (examples/registry-cache.yaml makes one), e.g. --mirror http://10.96.0.50:5000"),
            (MirrorUrl { url: s("ftp://x") }, exit::USAGE,
             "--mirror ftp://x: give a kip registry's name, or a cache's URL (http://HOST:PORT or https://HOST)"),
            (IsCache { name: s("hub"), upstream: s("https://registry-1.docker.io") }, exit::USAGE,
             "--registry hub: hub is a pull-through cache of https://registry-1.docker.io; connect it with --mirror hub"),
            (NotCache { flag: "--mirror", name: s("dev") }, exit::USAGE,
             "--mirror dev: dev is a local registry, not a pull-through cache; connect it with --registry dev, or make a cache: kip registry create NAME --proxy URL"),
            (Foreign { kind: "container", name: s("kip-registry-x") }, exit::ENVIRONMENT,
             "a container named kip-registry-x exists that is not a kip registry (it has no kip registry labels); kip never adopts or removes it: remove or rename it yourself (`docker container rm kip-registry-x`) if it is not needed, or pick another registry name"),
            (Exists { name: s("x"), port: 5001, proxy: None }, exit::ENVIRONMENT,
             "registry x exists with other settings (port 5001, not a cache); remove it first (`kip registry rm x`: its images go with it) or pick another name"),
            (Exists { name: s("x"), port: 5002, proxy: Some(s("https://quay.io")) }, exit::ENVIRONMENT,
             "registry x exists with other settings (port 5002, a cache of https://quay.io); remove it first (`kip registry rm x`: its images go with it) or pick another name"),
            (NoEngine, exit::ENVIRONMENT, "kip's registries run on a Docker engine, and none answers"),
            (NoNetwork { network: s("n") }, exit::ENVIRONMENT, "the Docker network n does not exist"),
            (NoGateway { network: s("n") }, exit::ENVIRONMENT,
             "the Docker network n has no IPv4 gateway for its containers to reach registries at"),
            (Unreachable { flag: "--registry", name: s("dev"), network: s("n"), gateway: s("10.1.0.1"), addresses: vec![s("127.0.0.1"), s("172.17.0.1")] }, exit::ENVIRONMENT,
             "--registry dev: the node on network n reaches registries at its gateway 10.1.0.1, where dev is not published (it is on 127.0.0.1 and 172.17.0.1); use the engine's default network for this cluster"),
            (NotServing { flag: Some("--mirror"), name: s("hub"), port: 5002, error: s("refused"), tail: s("log") }, exit::ENVIRONMENT,
             "--mirror hub: the registry does not answer on 127.0.0.1:5002: refused\nlog"),
            (NotServing { flag: None, name: s("hub"), port: 5002, error: s("refused"), tail: s("log") }, exit::ENVIRONMENT,
             "registry hub did not answer on 127.0.0.1:5002 (refused); nothing was kept\nlog"),
            (UpstreamDown { name: s("hub"), upstream: s("http://127.0.0.1:9"), why: s("Get ...: refused") }, exit::ENVIRONMENT,
             "registry hub: the upstream http://127.0.0.1:9 does not answer (Get ...: refused); nothing was kept"),
            (MirrorUpstreamDown { name: s("hub"), upstream: s("http://h:5000"), why: s("dial tcp: refused") }, exit::ENVIRONMENT,
             "the pull-through cache hub cannot reach its upstream http://h:5000: dial tcp: refused\nCheck the upstream (or the network to it), or pass --mirror-optional to make the cluster without the cache"),
            (StartFailed { name: s("x"), state: s("exited"), error: s("port taken") }, exit::ENVIRONMENT,
             "registry x is exited and does not start: port taken"),
            (PortInUse { port: 5001, gateway: s("172.17.0.1") }, exit::ENVIRONMENT,
             "port 5001 is already in use on 127.0.0.1 or 172.17.0.1: pick another --port"),
            (NoFreePort { first: 5001, last: 5100 }, exit::ENVIRONMENT, "no free port from 5001 to 5100: pass --port"),
            (ImageUnavailable { image: s("registry:3"), error: s("offline") }, exit::ENVIRONMENT,
             "the registry image registry:3 is not on this Docker engine and cannot be pulled: offline\nLoad it (docker load), or pass --image with a registry image the engine has"),
            (NoDockerConfigDir, exit::ENVIRONMENT,
             "--proxy-credentials: there is no Docker config folder (no home folder, no DOCKER_CONFIG)"),
            (NoCredentials { path: PathBuf::from("/h/.docker/config.json"), registry: s("docker.io") }, exit::ENVIRONMENT,
             "--proxy-credentials: /h/.docker/config.json has no credentials for docker.io; log in first (`docker login`), or leave --proxy-credentials out for anonymous pulls"),
            (NoCredentials { path: PathBuf::from("/c.json"), registry: s("ghcr.io") }, exit::ENVIRONMENT,
             "--proxy-credentials: /c.json has no credentials for ghcr.io; log in first (`docker login ghcr.io`), or leave --proxy-credentials out for anonymous pulls"),
            (DockerConfigInvalid { path: PathBuf::from("/c.json"), error: s("eof") }, exit::ENVIRONMENT,
             "/c.json is not JSON: eof"),
            (HelperCannotRun { helper: s("pass"), program: s("docker-credential-pass"), error: s("not found") }, exit::ENVIRONMENT,
             "--proxy-credentials: the Docker config names the credential helper pass, and docker-credential-pass cannot run: not found"),
            (HelperRefused { program: s("docker-credential-pass"), server: s("https://index.docker.io/v1/"), said: s("no entry") }, exit::ENVIRONMENT,
             "--proxy-credentials: docker-credential-pass gives no credentials for https://index.docker.io/v1/: no entry"),
            (NotFound { flag: Some("--registry"), name: s("dev") }, exit::NOT_FOUND,
             "--registry dev: there is no kip registry named dev (see `kip registry list`; make it with `kip registry create dev`)"),
            (NotFound { flag: None, name: s("dev") }, exit::NOT_FOUND, "no kip registry named dev (see `kip registry list`)"),
            (CannotCreate { container: s("kip-registry-x"), error: s("e") }, exit::FAILURE, "cannot create the registry container kip-registry-x: e"),
            (CannotStart { container: s("kip-registry-x"), error: s("e") }, exit::FAILURE, "cannot start the registry container kip-registry-x: e"),
            (CannotRemove { kind: "volume", name: s("kip-registry-x"), error: s("in use") }, exit::FAILURE, "cannot remove volume kip-registry-x: in use"),
            (Vanished { container: s("kip-registry-x") }, exit::FAILURE, "the registry container kip-registry-x vanished as it started"),
        ];
        for (error, code, words) in table {
            assert_eq!(error.to_string(), words);
            assert_eq!(error.code(), code, "{words}");
        }
    }
}
