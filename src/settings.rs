//! What spans every command, resolved once at start (uv's `GlobalSettings`):
//! the environment kip reads, captured in one place; kip's config file; and
//! the output mode. Nothing else in kip reads an environment variable.

use crate::config::ConfigFile;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

/// The environment variables CI systems set that kip records on a cluster
/// (see `node::labels::ci_labels`), and the hostname for Tekton.
const CI_VARS: [&str; 9] = [
    "GITHUB_REPOSITORY",
    "GITHUB_RUN_ID",
    "GITHUB_JOB",
    "CI_PROJECT_PATH",
    "CI_JOB_ID",
    "BUILD_TAG",
    "BUILD_URL",
    "BUILDKITE_BUILD_URL",
    "HOSTNAME",
];

/// Everything kip takes from its environment, read once.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `NO_COLOR` set to something.
    pub no_color: bool,
    /// `KIP_CONFIG`: the config file, which must then exist.
    pub config_file: Option<PathBuf>,
    /// Whether `KIP_REMOTE` is set at all (then it, not the config file,
    /// decides remote mode).
    pub remote_var_set: bool,
    /// `KIP_ACCEPT_WARNINGS`: preflight warnings `up` no longer prints.
    pub accept_warnings: String,
    /// `KUBECONFIG`, as kubectl reads it.
    pub kubeconfig: Option<OsString>,
    /// `KUBERNETES_SERVICE_HOST` is set: kip runs in a Pod.
    pub in_cluster: bool,
    pub docker: DockerEnvironment,
    /// `PATH`, where `kip run` looks for CMD.
    pub path: Option<OsString>,
    /// `USER`, else `LOGNAME`.
    pub user: Option<String>,
    /// The CI variables of [`CI_VARS`] that are set.
    pub ci: BTreeMap<String, String>,
    /// `/tekton` exists: a Tekton step.
    pub in_tekton: bool,
    /// Where the host is read (tests point these at prepared trees:
    /// `KIP_TEST_PROC_DIR`, `KIP_TEST_HOST_ROOT`; users never set them).
    pub proc_dir: PathBuf,
    pub host_root: PathBuf,
    /// `KIP_TEST_CLAIM_STOP`: the step of a claim at which kip stops itself
    /// (SIGSTOP), so a test can kill it there (users never set it).
    pub test_claim_stop: Option<String>,
    pub home: Option<PathBuf>,
    /// `$XDG_CONFIG_HOME`, else `~/.config`.
    pub config_dir: Option<PathBuf>,
    /// kip's state folder: `KIP_STATE_DIR`, else `$XDG_STATE_HOME/kip`,
    /// else `~/.local/state/kip`.
    pub state_dir: PathBuf,
}

/// Where the Docker engine is, as the docker CLI finds it.
#[derive(Debug, Clone, Default)]
pub struct DockerEnvironment {
    /// `DOCKER_HOST`, when not empty.
    pub host: Option<String>,
    /// `DOCKER_CONFIG`, else `~/.docker`.
    pub config_dir: Option<PathBuf>,
    /// `DOCKER_CONTEXT`, when not empty.
    pub context: Option<String>,
}

impl Environment {
    /// Reads kip's environment: the one place that does.
    pub fn capture() -> Environment {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let var_os = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let home = dirs::home_dir();
        Environment {
            no_color: var_os("NO_COLOR").is_some(),
            config_file: var_os("KIP_CONFIG").map(PathBuf::from),
            remote_var_set: std::env::var_os("KIP_REMOTE").is_some(),
            accept_warnings: var("KIP_ACCEPT_WARNINGS").unwrap_or_default(),
            kubeconfig: std::env::var_os("KUBECONFIG"),
            in_cluster: std::env::var_os("KUBERNETES_SERVICE_HOST").is_some(),
            docker: DockerEnvironment {
                host: var("DOCKER_HOST"),
                config_dir: std::env::var_os("DOCKER_CONFIG")
                    .map(PathBuf::from)
                    .or_else(|| home.as_ref().map(|h| h.join(".docker"))),
                context: var("DOCKER_CONTEXT"),
            },
            path: std::env::var_os("PATH"),
            user: std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .ok(),
            ci: CI_VARS
                .iter()
                .filter_map(|name| var(name).map(|v| (name.to_string(), v)))
                .collect(),
            in_tekton: std::path::Path::new("/tekton").is_dir(),
            proc_dir: std::env::var_os("KIP_TEST_PROC_DIR")
                .map_or_else(|| PathBuf::from("/proc"), PathBuf::from),
            host_root: std::env::var_os("KIP_TEST_HOST_ROOT")
                .map_or_else(|| PathBuf::from("/"), PathBuf::from),
            test_claim_stop: var("KIP_TEST_CLAIM_STOP"),
            config_dir: dirs::config_dir(),
            state_dir: var_os("KIP_STATE_DIR")
                .map(PathBuf::from)
                .or_else(|| dirs::state_dir().map(|d| d.join("kip")))
                .or_else(|| home.as_ref().map(|h| h.join(".local/state/kip")))
                .unwrap_or_else(|| std::env::temp_dir().join("kip-state")),
            home,
        }
    }

    /// A CI variable, if it is set (for `node::labels::ci_labels`).
    pub fn ci_var(&self, name: &str) -> Option<String> {
        self.ci.get(name).cloned()
    }

    /// A test's stop in a claim: at step `step` (if `KIP_TEST_CLAIM_STOP`
    /// names it) kip stops itself, and the test kills it there, so that
    /// what a killed claimer leaves is tested step by step, without sleeps.
    pub fn stop_for_test(&self, step: &str) {
        if self.test_claim_stop.as_deref() == Some(step) {
            // SAFETY: raising a signal at this process itself.
            unsafe {
                libc::raise(libc::SIGSTOP);
            }
        }
    }

    /// `user@host`, for the owner label.
    pub fn owner(&self) -> String {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        format!("{}@{host}", self.user.as_deref().unwrap_or("unknown"))
    }
}

/// What every command runs with: resolved once, before any command runs
/// (the output mode, `output::OutputSettings`, is resolved first: it
/// reports the errors of the rest).
#[derive(Debug, Clone)]
pub struct GlobalSettings {
    pub env: Environment,
    /// kip's config file (the defaults for the commands that do not read it).
    pub config: ConfigFile,
}
