//! kip: parse, run, map the outcome to an exit code.

mod api;
mod backend;
mod cli;
mod commands;
mod error;
mod forwarder;
mod kubeconfig;
mod names;
mod node;
mod output;
mod settings;
#[cfg(test)]
mod testing;

use backend::docker::DockerBackend;
use backend::kube::KubeBackend;
use clap::Parser;
use cli::{Cli, Command};
use output::Printer;
use std::process::ExitCode;

fn main() -> ExitCode {
    // SIGPIPE stays ignored (Rust's default): a closed connection is an
    // error kip handles; a closed stdout ends kip in `output::out`.
    commands::completions::complete_if_asked();
    let cli = Cli::parse();
    let printer = Printer::new(cli.quiet, cli.progress);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            printer.error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::from(error::exit::FAILURE);
        }
    };
    match runtime.block_on(run(cli, &printer)) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            printer.error(&format!("{err:#}"));
            ExitCode::from(error::exit_code(&err))
        }
    }
}

async fn run(cli: Cli, printer: &Printer) -> anyhow::Result<u8> {
    match &cli.command {
        Command::Completions(args) => {
            commands::completions::completions(&args.shell)?;
            return Ok(0);
        }
        Command::Man => {
            commands::completions::man()?;
            return Ok(0);
        }
        Command::Forwarder(args) => {
            forwarder::serve(args).await?;
            return Ok(0);
        }
        _ => {}
    }
    if let Some(target) = remote_target(&cli.command) {
        // Even a dry run needs the target: the namespace is in the objects
        // it prints.
        let mut backend =
            KubeBackend::connect(target.remote, target.kubeconfig, target.name).await?;
        match &cli.command {
            Command::Up(args) => {
                backend.pod = args.pod.clone();
                backend.endpoint = args.pod.endpoint.unwrap_or(backend.endpoint);
                backend.wait = args.cluster.wait;
                if args.dry_run {
                    commands::up::dry_run(args, Ok(&backend), printer).await?;
                    return Ok(0);
                }
            }
            Command::List(args) => backend.all_namespaces = args.all_namespaces,
            _ => {}
        }
        return dispatch(&cli, &backend, printer).await;
    }
    if let Command::Connect(args) = &cli.command {
        return Err(error::Failure::Usage(format!(
            "kip connect restarts the port-forward of a remote cluster: `kip connect {} --remote` (local clusters publish their port)",
            args.name
        ))
        .into());
    }
    if let Command::Up(args) = &cli.command {
        if args.dry_run {
            commands::up::dry_run(args, DockerBackend::connect().as_ref(), printer).await?;
            return Ok(0);
        }
    }
    dispatch(&cli, &DockerBackend::connect()?, printer).await
}

/// The remote-mode options of a command that has them, when remote mode is
/// on (`--remote`, `--context`, `--namespace`, or KIP_REMOTE).
struct RemoteTarget<'a> {
    remote: &'a cli::RemoteArgs,
    kubeconfig: Option<&'a std::path::Path>,
    name: Option<&'a str>,
}

fn remote_target(command: &Command) -> Option<RemoteTarget<'_>> {
    let (remote, kubeconfig, name) = match command {
        Command::Up(a) => (
            &a.remote,
            a.kubeconfig.kubeconfig.as_deref(),
            Some(a.name.as_str()),
        ),
        Command::Down(a) => (
            &a.remote,
            a.kubeconfig.kubeconfig.as_deref(),
            a.names.first().map(String::as_str),
        ),
        Command::List(a) => (&a.remote, a.kubeconfig.kubeconfig.as_deref(), None),
        Command::Status(a) => (
            &a.remote,
            a.kubeconfig.kubeconfig.as_deref(),
            Some(a.name.as_str()),
        ),
        Command::Kubeconfig(a) => (&a.remote, a.kubeconfig.as_deref(), Some(a.name.as_str())),
        Command::Logs(a) => (
            &a.remote,
            a.kubeconfig.kubeconfig.as_deref(),
            Some(a.name.as_str()),
        ),
        Command::Exec(a) => (
            &a.remote,
            a.kubeconfig.kubeconfig.as_deref(),
            Some(a.name.as_str()),
        ),
        Command::Connect(a) => (
            &a.remote,
            a.kubeconfig.kubeconfig.as_deref(),
            Some(a.name.as_str()),
        ),
        _ => return None,
    };
    // The config file's `remote: true` stands for --remote unless KIP_REMOTE
    // says otherwise (KIP_REMOTE=0: local); an unreadable config file is
    // reported by the command itself.
    let by_default = || {
        std::env::var_os("KIP_REMOTE").is_none()
            && settings::Settings::load().is_ok_and(|s| s.remote)
    };
    (remote.enabled() || by_default()).then_some(RemoteTarget {
        remote,
        kubeconfig,
        name,
    })
}

async fn dispatch(
    cli: &Cli,
    backend: &impl backend::Backend,
    printer: &Printer,
) -> anyhow::Result<u8> {
    match &cli.command {
        Command::Up(args) => {
            let outcome = commands::up::run(args, backend, printer).await?;
            if args.output == cli::StatusFormat::Json {
                output::out(serde_json::to_string_pretty(&outcome)? + "\n")?;
            }
        }
        Command::Run(args) => return commands::run::run(args, backend, printer).await,
        Command::Gc(args) => commands::gc::run(args, backend, printer).await?,
        Command::Load(args) => commands::load::run(args, backend, printer).await?,
        Command::Down(args) => commands::down::run(args, backend, printer).await?,
        Command::List(args) => commands::list::run(args, backend).await?,
        Command::Status(args) => commands::status::run(args, backend).await?,
        Command::Doctor(args) => commands::doctor::run(args, backend).await?,
        Command::Kubeconfig(args) => commands::kubeconfig::run(args, backend).await?,
        Command::Connect(args) => commands::connect::run(args, backend, printer).await?,
        Command::Logs(args) => return Ok(exit_status(commands::logs::run(args, backend).await?)),
        Command::Exec(args) => return Ok(exit_status(commands::exec::run(args, backend).await?)),
        Command::Completions(_) | Command::Man | Command::Forwarder(_) => {
            unreachable!("handled before a backend is made")
        }
    }
    Ok(0)
}

/// A command's exit code as a process exit status (0–255).
fn exit_status(code: i64) -> u8 {
    u8::try_from(code).unwrap_or(error::exit::FAILURE)
}
