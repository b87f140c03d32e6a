//! The failures that choose kip's exit code. Everything else is an
//! `anyhow::Error` and exits 1.

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
        (NOT_FOUND, "not found: no such cluster"),
        (NODE, "failure inside the node: dockerd or kind failed, or the node stopped (`status`: present but not ready; `exec`: the node is not running)"),
        (NOT_EXECUTABLE, "`kip run`: CMD cannot be executed (not executable, a folder)"),
        (NO_SUCH_COMMAND, "`kip run`: CMD not found (not a file, nor in `PATH`)"),
        (INTERRUPTED, "interrupted (Ctrl-C or SIGTERM); `up` removes what it made, `down` and `gc` first finish the deletion under way"),
    ];
}

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Bad input that clap cannot check (a file's contents).
    #[error("{0}")]
    Usage(String),
    /// Docker unreachable, image missing, port taken, privileges refused.
    #[error("{0}")]
    Environment(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    NotFound(String),
    /// dockerd or kind failed inside the node.
    #[error("{0}")]
    Node(String),
    /// `kip run`'s CMD is there but cannot be executed.
    #[error("{0}")]
    NotExecutable(String),
    /// `kip run`'s CMD is not found.
    #[error("{0}")]
    NoSuchCommand(String),
    #[error("interrupted")]
    Interrupted,
}

impl Failure {
    /// The same kind of failure, in other words.
    pub fn with_message(&self, message: String) -> Failure {
        match self {
            Failure::Usage(_) => Failure::Usage(message),
            Failure::Environment(_) => Failure::Environment(message),
            Failure::Timeout(_) => Failure::Timeout(message),
            Failure::NotFound(_) => Failure::NotFound(message),
            Failure::Node(_) => Failure::Node(message),
            Failure::NotExecutable(_) => Failure::NotExecutable(message),
            Failure::NoSuchCommand(_) => Failure::NoSuchCommand(message),
            Failure::Interrupted => Failure::Interrupted,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => exit::USAGE,
            Failure::Environment(_) => exit::ENVIRONMENT,
            Failure::Timeout(_) => exit::TIMEOUT,
            Failure::NotFound(_) => exit::NOT_FOUND,
            Failure::Node(_) => exit::NODE,
            Failure::NotExecutable(_) => exit::NOT_EXECUTABLE,
            Failure::NoSuchCommand(_) => exit::NO_SUCH_COMMAND,
            Failure::Interrupted => exit::INTERRUPTED,
        }
    }
}

pub fn exit_code(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Failure>())
        .map_or(exit::FAILURE, Failure::exit_code)
}
