//! `kip run`'s CMD as a process group of its own, so that a signal (a
//! forwarded Ctrl-C, `--timeout`'s SIGTERM and the SIGKILL after it) reaches
//! everything CMD started, not only CMD: a `sleep` left behind by a killed
//! `sh -c` would keep a CI job's output pipe open. When kip owns the
//! terminal, CMD's group is made its foreground group (as a shell does for a
//! job), so an interactive CMD can read it and gets Ctrl-C itself.

use crate::error::Error;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Finds CMD as exec would, before a cluster is made for it: none is exit
/// 127, one that cannot be executed 126, as shells say.
pub(super) fn check_command(program: &str, path: Option<&std::ffi::OsStr>) -> Result<()> {
    let candidates: Vec<PathBuf> = if program.contains('/') {
        vec![PathBuf::from(program)]
    } else {
        path.map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(program))
                .collect()
        })
        .unwrap_or_default()
    };
    let mut not_executable = None;
    for candidate in candidates {
        if !candidate.exists() {
            continue;
        }
        if executable(&candidate) {
            return Ok(());
        }
        not_executable.get_or_insert(candidate);
    }
    Err(match not_executable {
        Some(path) => not_executable_error(program, &path.display().to_string()),
        None => no_such_command(program),
    })
}

fn executable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access(2) on a NUL-terminated path.
    path.is_file() && unsafe { libc::access(c_path.as_ptr(), libc::X_OK) } == 0
}

fn no_such_command(program: &str) -> anyhow::Error {
    Error::NoSuchCommand {
        program: program.to_string(),
    }
    .into()
}

fn not_executable_error(program: &str, what: &str) -> anyhow::Error {
    Error::NotExecutable {
        program: program.to_string(),
        what: what.to_string(),
    }
    .into()
}

/// Why CMD did not start, with the shell's exit code.
pub(super) fn spawn_error(program: &str, err: &std::io::Error) -> anyhow::Error {
    match err.kind() {
        std::io::ErrorKind::NotFound => no_such_command(program),
        _ => not_executable_error(program, &format!("{err}; it")),
    }
}

/// CMD's process group, by its leader's pid.
#[derive(Debug, Clone, Copy)]
pub(super) struct Group(i32);

impl Group {
    pub(super) fn of(pid: Option<u32>) -> Option<Group> {
        pid.and_then(|p| i32::try_from(p).ok()).map(Group)
    }

    /// Sends `sig` to every process of the group.
    pub(super) fn signal(self, sig: i32) {
        // SAFETY: kill(2) on a process group kip created.
        unsafe {
            libc::kill(-self.0, sig);
        }
    }

    /// Whether any process of the group is left.
    pub(super) fn alive(self) -> bool {
        // SAFETY: kill(2) with signal 0 only checks.
        unsafe { libc::kill(-self.0, 0) == 0 }
    }
}

/// Sets up `command` to start in a process group of its own, made the
/// terminal's foreground group when kip's group is; the `Terminal` gives it
/// back to kip.
pub(super) fn own_group(command: &mut tokio::process::Command) -> Terminal {
    command.process_group(0);
    // SAFETY: isatty, tcgetpgrp and getpgrp only read.
    let foreground = unsafe { libc::isatty(0) == 1 && libc::tcgetpgrp(0) == libc::getpgrp() };
    if foreground {
        // SAFETY: between fork and exec, only async-signal-safe calls:
        // sigprocmask and tcsetpgrp. SIGTTOU is blocked for the call, as a
        // process outside the foreground group may not otherwise make it.
        unsafe {
            command.pre_exec(|| {
                let mut ttou: libc::sigset_t = std::mem::zeroed();
                let mut old: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut ttou);
                libc::sigaddset(&mut ttou, libc::SIGTTOU);
                libc::sigprocmask(libc::SIG_BLOCK, &ttou, &mut old);
                libc::tcsetpgrp(0, libc::getpgrp());
                libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
                Ok(())
            });
        }
    }
    Terminal {
        handed_over: foreground,
    }
}

/// The terminal kip handed to CMD's group, if it did.
pub(super) struct Terminal {
    handed_over: bool,
}

impl Terminal {
    /// Makes kip's group the terminal's foreground group again.
    pub(super) fn take_back(&mut self) {
        if !std::mem::take(&mut self.handed_over) {
            return;
        }
        // SAFETY: as in `own_group`, on this thread: SIGTTOU blocked around
        // tcsetpgrp, since kip is a background process at this point.
        unsafe {
            let mut ttou: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut ttou);
            libc::sigaddset(&mut ttou, libc::SIGTTOU);
            libc::pthread_sigmask(libc::SIG_BLOCK, &ttou, &mut old);
            libc::tcsetpgrp(0, libc::getpgrp());
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.take_back();
    }
}
