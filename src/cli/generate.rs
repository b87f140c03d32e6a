//! Shell completion scripts and the man page, generated from the clap
//! definition. The completion scripts are clap_complete's dynamic ones: the
//! shell calls `COMPLETE=<shell> kip -- <words>` back, so cluster names
//! complete from the clusters that exist right now ([`cluster_names`]).

use super::Cli;
use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::env::Shells;

/// The environment variable the completion scripts set.
pub const COMPLETE_VAR: &str = "COMPLETE";

/// Answers a completion request from a shell and exits, when there is one.
pub fn complete_if_asked() {
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(COMPLETE_VAR)
        .complete();
}

/// The names of the clusters on the engine, for completion; none when the
/// engine does not answer within a second.
pub fn cluster_names() -> Vec<clap_complete::CompletionCandidate> {
    use crate::provider::Provider;
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    let env = crate::settings::Environment::capture();
    runtime.block_on(async {
        let Ok(backend) = crate::provider::docker::DockerProvider::connect(&env.docker) else {
            return Vec::new();
        };
        let listed = tokio::time::timeout(std::time::Duration::from_secs(1), backend.list());
        match listed.await {
            Ok(Ok(nodes)) => nodes
                .into_iter()
                .map(|n| {
                    clap_complete::CompletionCandidate::new(n.cluster).help(Some(n.status.into()))
                })
                .collect(),
            _ => Vec::new(),
        }
    })
}

/// `kip completions SHELL`: the script that registers kip's completions.
pub fn completions(shell: &str) -> Result<()> {
    let shells = Shells::builtins();
    let completer = shells
        .completer(shell)
        .with_context(|| format!("no completions for {shell}"))?;
    let mut script = Vec::new();
    completer.write_registration(COMPLETE_VAR, "kip", "kip", "kip", &mut script)?;
    if shell == "zsh" {
        // Installed as `_kip` in $fpath, zsh runs this file as the function
        // `_kip`: complete at once instead of only registering for next time.
        script.extend_from_slice(
            b"[[ \"${funcstack[1]}\" == _kip ]] && _clap_dynamic_completer_kip \"$@\"\n",
        );
    }
    crate::output::out(script)?;
    Ok(())
}

/// `kip man`: one page, kip(1). clap_mangen's own subcommand section would
/// refer to kip-up(1) and the like, which are not installed; this page lists
/// the commands itself and adds EXIT STATUS, ENVIRONMENT and FILES.
pub fn man() -> Result<()> {
    crate::output::out(man_page()?)?;
    Ok(())
}

fn man_page() -> Result<Vec<u8>> {
    let cli = Cli::command();
    let man = clap_mangen::Man::new(cli.clone());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    let mut text = String::from(".SH COMMANDS\n");
    for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
        text.push_str(&format!(
            ".TP\n\\fBkip {}\\fR\n{}\n",
            sub.get_name(),
            roff_text(&sub.get_about().map(ToString::to_string).unwrap_or_default())
        ));
    }
    text.push_str(".SH EXIT STATUS\n");
    for (code, meaning) in crate::error::exit::MEANINGS {
        text.push_str(&format!(".TP\n\\fB{code}\\fR\n{}\n", roff_text(meaning)));
    }
    text.push_str(".PP\n");
    text.push_str(&roff_text(
        "kip exec, kip logs --dockerd and kip run exit with the command's own code \
         (run: 128 + the signal if a signal ended it).",
    ));
    text.push_str("\n.SH ENVIRONMENT\n");
    for (name, meaning) in ENVIRONMENT {
        text.push_str(&format!(".TP\n\\fB{name}\\fR\n{}\n", roff_text(meaning)));
    }
    text.push_str(".SH FILES\n");
    for (name, meaning) in FILES {
        text.push_str(&format!(
            ".TP\n\\fI{}\\fR\n{}\n",
            roff_text(name),
            roff_text(meaning)
        ));
    }
    text.push_str(".SH SEE ALSO\n");
    text.push_str(&roff_text(
        "kip COMMAND --help for each command's options; kubectl(1), docker(1) where installed.",
    ));
    text.push('\n');
    page.extend_from_slice(text.as_bytes());
    man.render_version_section(&mut page)?;
    Ok(page)
}

/// The environment kip reads, for the man page.
const ENVIRONMENT: [(&str, &str); 17] = [
    (
        "DOCKER_HOST",
        "the Docker engine (else the current Docker context, else unix:///var/run/docker.sock)",
    ),
    (
        "DOCKER_CONTEXT",
        "the Docker CLI context whose engine to use",
    ),
    (
        "DOCKER_CONFIG",
        "where the Docker CLI's contexts and credentials are (default ~/.docker)",
    ),
    (
        "KUBECONFIG",
        "the kubeconfig kip updates, as kubectl picks it (else ~/.kube/config)",
    ),
    (
        "KIP_CONFIG",
        "kip's config file; a file it names must exist",
    ),
    ("KIP_IMAGE", "--image: the kind node image"),
    (
        "KIP_DIND_IMAGE",
        "--dind-image: the Docker-in-Docker image the node runs",
    ),
    ("KIP_TTL", "--ttl: when kip gc may delete a new cluster"),
    ("KIP_SECURITY", "--security: auto, privileged or caps"),
    (
        "KIP_REMOTE",
        "--remote (1) or local mode (0), over the config file's remote",
    ),
    (
        "KIP_MIRROR",
        "--mirror: the pull-through cache clusters pull docker.io through, over the config file's mirror",
    ),
    (
        "KIP_REGISTRY_IMAGE",
        "kip registry create --image: the registry image",
    ),
    ("KIP_PROGRESS", "--progress: human or json"),
    (
        "KIP_ACCEPT_WARNINGS",
        "doctor checks whose warnings kip up no longer prints, e.g. inotify,lib-modules",
    ),
    (
        "KIP_STATE_DIR",
        "where kip remembers remote clusters (else $XDG_STATE_HOME/kip)",
    ),
    (
        "XDG_CONFIG_HOME",
        "where kip's config file is (kip/config.yaml)",
    ),
    ("NO_COLOR", "no colour on stderr"),
];

/// The files kip reads and writes, for the man page.
const FILES: [(&str, &str); 3] = [
    ("~/.kube/config", "the kubeconfig kip adds each cluster's context to (or $KUBECONFIG, or --kubeconfig)"),
    ("~/.config/kip/config.yaml", "kip's config file: image, dindImage, ttl, remote, mirror (or $XDG_CONFIG_HOME/kip/config.yaml, or $KIP_CONFIG)"),
    ("~/.local/state/kip/remote/", "what kip remembers of remote clusters (or $KIP_STATE_DIR)"),
];

/// Plain text as a roff paragraph: backslashes escaped, and no line that
/// starts with a control character.
fn roff_text(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    match escaped.chars().next() {
        Some('.' | '\'') => format!("\\&{escaped}"),
        _ => escaped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_man_page_refers_to_no_other_page_of_kip() {
        let page = String::from_utf8(man_page().unwrap()).unwrap();
        assert!(
            !page.contains("kip\\-up(1)") && !page.contains("kip-up(1)"),
            "{page}"
        );
        for section in [
            "COMMANDS",
            "EXIT STATUS",
            "ENVIRONMENT",
            "FILES",
            "SEE ALSO",
        ] {
            assert!(page.contains(&format!(".SH {section}")), "no {section}");
        }
        assert!(page.contains("KIP_ACCEPT_WARNINGS") && page.contains("\\fB130\\fR"));
    }
}
