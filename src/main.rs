//! kip: parse, pick and build the backend, run, map the outcome to an exit
//! code.

mod api;
mod backend;
mod cli;
mod commands;
mod config;
mod error;
mod kubeconfig;
mod names;
mod node;
mod output;
mod seed;
#[cfg(test)]
mod testing;

use backend::docker::DockerBackend;
use backend::kube::KubeBackend;
use cli::{Cli, Command};
use config::ConfigFile;
use output::{Printer, StatusFormat};
use std::process::ExitCode;

fn main() -> ExitCode {
    // SIGPIPE stays ignored (Rust's default): a closed connection is an
    // error kip handles; a closed stdout ends kip in `output::out`.
    cli::generate::complete_if_asked();
    let cli = Cli::parse_given();
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
    match runtime.block_on(run(&cli.command, &printer)) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            printer.error(&format!("{err:#}"));
            ExitCode::from(error::exit_code(&err))
        }
    }
}

async fn run(command: &Command, printer: &Printer) -> anyhow::Result<u8> {
    match command {
        Command::Completions(args) => {
            cli::generate::completions(&args.shell)?;
            return Ok(0);
        }
        Command::Man => {
            cli::generate::man()?;
            return Ok(0);
        }
        Command::Forwarder(args) => {
            let target =
                backend::kube::resolve(&args.target.kube_target(), Some(&args.name)).await?;
            let pods = kube::Api::namespaced(target.client, &target.namespace);
            backend::kube::forwarder::serve(pods, &args.name, args.port).await?;
            return Ok(0);
        }
        _ => {}
    }
    let config = command.config_file()?;
    if let Some((target, cluster)) = command.remote_target(&config) {
        // Even a dry run needs the target: the namespace is in the objects
        // it prints.
        let backend = KubeBackend::connect(&target, cluster, command.kube_options()).await;
        if let Command::Doctor(args) = command {
            // A cluster kip cannot address is the report's first check.
            commands::doctor::run_remote(&args.settings(&config), backend.as_ref()).await?;
            return Ok(0);
        }
        let backend = backend?;
        // The kind node image comes from the local engine, if one answers.
        let host = DockerBackend::connect().ok();
        return dispatch(command, &config, &backend, host.as_ref(), printer).await;
    }
    match command {
        Command::Up(args) if args.dry_run => {
            let docker = DockerBackend::connect();
            commands::up::dry_run(
                &args.settings(&config),
                args.output,
                docker.as_ref(),
                printer,
            )
            .await?;
            Ok(0)
        }
        // The local checks: reported even when the engine cannot be addressed.
        Command::Doctor(args) => {
            commands::doctor::run(&args.settings(&config), DockerBackend::connect().as_ref())
                .await?;
            Ok(0)
        }
        _ => {
            let docker = DockerBackend::connect()?;
            // `up` and `run` ask within their own signal handling (a Ctrl-C
            // during the wait ends them at once, exit 130).
            if !matches!(command, Command::Up(_) | Command::Run(_)) {
                docker.check_answers().await?;
            }
            dispatch(command, &config, &docker, Some(&docker), printer).await
        }
    }
}

async fn dispatch(
    command: &Command,
    config: &ConfigFile,
    backend: &impl backend::Backend,
    host: Option<&DockerBackend>,
    printer: &Printer,
) -> anyhow::Result<u8> {
    match command {
        Command::Up(args) if args.dry_run => {
            commands::up::dry_run(&args.settings(config), args.output, Ok(backend), printer)
                .await?;
        }
        Command::Up(args) => {
            let outcome = commands::up::run(&args.settings(config), backend, host, printer).await?;
            if args.output == StatusFormat::Json {
                output::out(serde_json::to_string_pretty(&outcome)? + "\n")?;
            }
        }
        Command::Run(args) => {
            return commands::run::run(&args.settings(config)?, backend, host, printer).await
        }
        Command::Load(args) => {
            commands::load::run(&args.settings(), backend, host, printer).await?
        }
        Command::Gc(args) => {
            // Seeds are the local engine's (remote ones: phase 2).
            let seeds = host.filter(|_| command.remote_target(config).is_none());
            commands::gc::run(&args.settings(), backend, seeds, printer).await?
        }
        Command::Seed(args) => {
            let engine =
                host.ok_or_else(|| anyhow::anyhow!("kip seed works on the local Docker engine"))?;
            commands::seed::run(&args.settings(), engine, printer).await?
        }
        Command::Down(args) => commands::down::run(&args.settings(), backend, printer).await?,
        Command::List(args) => commands::list::run(&args.settings(), backend, printer).await?,
        Command::Status(args) => commands::status::run(&args.settings(), backend).await?,
        Command::Kubeconfig(args) => commands::kubeconfig::run(&args.settings(), backend).await?,
        Command::Connect(args) => {
            commands::connect::run(&args.settings(), backend, printer).await?;
        }
        Command::Logs(args) => {
            return Ok(exit_status(
                commands::logs::run(&args.settings(), backend).await?,
            ))
        }
        Command::Exec(args) => {
            return Ok(exit_status(
                commands::exec::run(&args.settings(), backend).await?,
            ))
        }
        Command::Completions(_) | Command::Man | Command::Forwarder(_) | Command::Doctor(_) => {
            unreachable!("handled before a backend is picked")
        }
    }
    Ok(0)
}

/// A command's exit code as a process exit status (0–255).
fn exit_status(code: i64) -> u8 {
    u8::try_from(code).unwrap_or(error::exit::FAILURE)
}
