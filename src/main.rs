//! kip: parse, resolve the settings once, pick the provider, run the
//! command, map the outcome to an exit code.

mod api;
mod cli;
mod cluster;
mod commands;
mod config;
mod error;
mod kubeconfig;
mod names;
mod node;
mod output;
mod pool;
mod provider;
mod registry;
mod seed;
mod settings;
mod snapshot;
#[cfg(test)]
mod testing;

use cli::{Cli, Command};
use output::{Printer, StatusFormat};
use provider::docker::DockerProvider;
use provider::kube::KubeProvider;
use seed::SeedPlace;
use settings::{Environment, GlobalSettings};
use std::process::ExitCode;

fn main() -> ExitCode {
    // SIGPIPE stays ignored (Rust's default): a closed connection is an
    // error kip handles; a closed stdout ends kip in `output::out`.
    cli::generate::complete_if_asked();
    let cli = Cli::parse_given();
    let env = Environment::capture();
    let printer = Printer::new(cli.output_settings(&env));
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
    match runtime.block_on(run(&cli, env, &printer)) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            printer.error(&format!("{err:#}"));
            ExitCode::from(error::exit_code(&err))
        }
    }
}

async fn run(cli: &Cli, env: Environment, printer: &Printer) -> anyhow::Result<u8> {
    let command = &cli.command;
    if let Some(code) = run_without_settings(command, &env, printer).await? {
        return Ok(code);
    }
    let global = cli.global_settings(env)?;
    match command.remote_target(&global) {
        Some((target, cluster)) => run_remote(command, &global, &target, cluster, printer).await,
        None => run_local(command, &global, printer).await,
    }
}

/// The commands that need neither kip's settings nor a provider: their
/// exit code, or None for every other command.
async fn run_without_settings(
    command: &Command,
    env: &Environment,
    printer: &Printer,
) -> anyhow::Result<Option<u8>> {
    match command {
        Command::Completions(args) => cli::generate::completions(&args.shell)?,
        Command::Man => cli::generate::man()?,
        // An engine-only command: registries run on the local engine.
        Command::Registry(args) => {
            let docker = DockerProvider::connect(&env.docker)?;
            docker.check_answers().await?;
            commands::registry::run(&args.settings(), env, &docker, printer).await?;
        }
        Command::Forwarder(args) => {
            let state = provider::remote_state::RemoteState::new(&env.state_dir);
            let target = provider::kube::resolve(
                &args.target.kube_target(),
                Some(&args.name),
                &state,
                env.in_cluster,
            )
            .await?;
            let pods = kube::Api::namespaced(target.client, &target.namespace);
            provider::kube::forwarder::serve(pods, (&args.name, args.pod.as_deref()), args.port)
                .await?;
        }
        _ => return Ok(None),
    }
    Ok(Some(0))
}

/// Remote mode: nodes are Pods on the cluster `target` names.
async fn run_remote(
    command: &Command,
    global: &GlobalSettings,
    target: &provider::kube::KubeTarget,
    cluster: Option<&str>,
    printer: &Printer,
) -> anyhow::Result<u8> {
    // `up --from --dry-run`, `run --from` and `gc --snapshots` are the
    // local engine's.
    if matches!(command, Command::Up(args) if args.from.is_some() && args.dry_run)
        || matches!(command, Command::Run(args) if args.from.is_some())
        || matches!(command, Command::Gc(args) if args.snapshots)
    {
        return Err(error::Error::SnapshotRemote.into());
    }
    // Even a dry run needs the target: the namespace is in the objects it
    // prints.
    let kube = KubeProvider::connect(target, cluster, command.kube_options(), &global.env).await;
    if let Command::Doctor(args) = command {
        // A cluster kip cannot address is the report's first check.
        let settings = args.settings(&global.config);
        commands::doctor::run_remote(&settings, &global.env, kube.as_ref()).await?;
        return Ok(0);
    }
    let kube = kube?;
    // Seeds live on the outer nodes.
    let seeds = Some(SeedPlace::Remote(&kube));
    match command {
        Command::Seed(args) => {
            commands::seed::run(&args.settings(), SeedPlace::Remote(&kube), printer).await?;
            return Ok(0);
        }
        Command::Gc(args) => {
            let settings = args.settings(&global.env);
            commands::gc::run(&settings, &global.env, &kube, (None, seeds), printer).await?;
            return Ok(0);
        }
        // A snapshot on the local engine streamed into a new remote node.
        Command::Up(args) if args.from.is_some() => {
            let engine = DockerProvider::connect(&global.env.docker)?;
            engine.check_answers().await?;
            let settings = args.settings(global);
            let places = (&kube, &engine);
            let outcome =
                commands::up::restore_remote(&settings, &global.env, places, printer).await?;
            if args.output == StatusFormat::Json {
                output::json(&outcome)?;
            }
            return Ok(0);
        }
        // A remote node saved into a snapshot on the local engine.
        Command::Snapshot(args) => {
            let engine = DockerProvider::connect(&global.env.docker)?;
            engine.check_answers().await?;
            commands::snapshot::run_remote(&args.action(), &kube, &engine, printer).await?;
            return Ok(0);
        }
        _ => {}
    }
    // The kind node image comes from the local engine, if one answers.
    let host = DockerProvider::connect(&global.env.docker).ok();
    dispatch(command, global, &kube, host.as_ref(), printer).await
}

/// Local mode: nodes are containers on the local Docker engine.
async fn run_local(
    command: &Command,
    global: &GlobalSettings,
    printer: &Printer,
) -> anyhow::Result<u8> {
    let docker = DockerProvider::connect(&global.env.docker);
    match command {
        // A claim's dry run asks the engine which members are ready.
        Command::Up(args) if args.dry_run && args.pool.is_some() => {
            let settings = args.settings(global);
            let docker = docker?;
            docker.check_answers().await?;
            let places = (&docker, Some(&docker));
            commands::up::dry_run_claim(&settings, &global.env, args.output, places, printer)
                .await?;
            Ok(0)
        }
        // A restore's dry run reads the snapshot on the engine.
        Command::Up(args) if args.dry_run && args.from.is_some() => {
            let settings = args.settings(global);
            let docker = docker?;
            docker.check_answers().await?;
            commands::up::dry_run_restore(&settings, &global.env, args.output, &docker, printer)
                .await?;
            Ok(0)
        }
        Command::Up(args) if args.dry_run => {
            let settings = args.settings(global);
            let sources = (docker.as_ref(), docker.as_ref().ok());
            commands::up::dry_run(&settings, &global.env, args.output, sources, printer).await?;
            Ok(0)
        }
        // The local checks: reported even when the engine cannot be addressed.
        Command::Doctor(args) => {
            let settings = args.settings(&global.config);
            commands::doctor::run(&settings, &global.env, docker.as_ref()).await?;
            Ok(0)
        }
        _ => {
            let docker = docker?;
            // `up` and `run` ask within their own signal handling (a Ctrl-C
            // during the wait ends them at once, exit 130).
            if !matches!(command, Command::Up(_) | Command::Run(_)) {
                docker.check_answers().await?;
            }
            match command {
                Command::Up(args) if args.from.is_some() => {
                    let settings = args.settings(global);
                    let outcome =
                        commands::up::restore(&settings, &global.env, &docker, printer).await?;
                    if args.output == StatusFormat::Json {
                        output::json(&outcome)?;
                    }
                    Ok(0)
                }
                Command::Snapshot(args) => {
                    commands::snapshot::run(&args.action(), &docker, printer).await?;
                    Ok(0)
                }
                _ => dispatch(command, global, &docker, Some(&docker), printer).await,
            }
        }
    }
}

/// Runs `command` on `provider` (local or remote alike). A table: one arm
/// per command.
async fn dispatch(
    command: &Command,
    global: &GlobalSettings,
    provider: &impl provider::pool::Pools,
    host: Option<&DockerProvider>,
    printer: &Printer,
) -> anyhow::Result<u8> {
    let env = &global.env;
    match command {
        // A claim's dry run asks which members are ready.
        Command::Up(args) if args.dry_run && args.pool.is_some() => {
            let settings = args.settings(global);
            let places = (provider, host);
            commands::up::dry_run_claim(&settings, env, args.output, places, printer).await?;
        }
        Command::Up(args) if args.dry_run => {
            let settings = args.settings(global);
            let sources = (Ok(provider), host);
            commands::up::dry_run(&settings, env, args.output, sources, printer).await?;
        }
        Command::Up(args) => {
            let settings = args.settings(global);
            let outcome = commands::up::run(&settings, env, provider, host, printer).await?;
            if args.output == StatusFormat::Json {
                output::json(&outcome)?;
            }
        }
        Command::Run(args) => {
            let settings = args.settings(global)?;
            return commands::run::run(&settings, env, provider, host, printer).await;
        }
        Command::Load(args) => {
            commands::load::run(&args.settings(), provider, host, printer).await?
        }
        // Local mode here (remote: `run_remote`): the engine is the host.
        Command::Gc(args) => {
            let seeds = host.map(SeedPlace::Engine);
            let places = (host, seeds);
            commands::gc::run(&args.settings(env), env, provider, places, printer).await?
        }
        Command::Seed(args) => {
            let engine =
                host.ok_or_else(|| anyhow::anyhow!("kip seed works on the local Docker engine"))?;
            commands::seed::run(&args.settings(), SeedPlace::Engine(engine), printer).await?
        }
        Command::Down(args) => commands::down::run(&args.settings(env), provider, printer).await?,
        Command::List(args) => commands::list::run(&args.settings(), provider, printer).await?,
        Command::Status(args) => commands::status::run(&args.settings(), provider).await?,
        Command::Kubeconfig(args) => commands::kubeconfig::run(&args.settings(), provider).await?,
        Command::Connect(args) => {
            commands::connect::run(&args.settings(env), provider, printer).await?;
        }
        Command::Pool(args) => {
            commands::pool::run(&args.settings(global)?, env, provider, host, printer).await?;
        }
        Command::Logs(args) => {
            return Ok(exit_status(
                commands::logs::run(&args.settings(), provider, printer).await?,
            ))
        }
        Command::Exec(args) => {
            return Ok(exit_status(
                commands::exec::run(&args.settings(), provider).await?,
            ))
        }
        Command::Completions(_)
        | Command::Man
        | Command::Forwarder(_)
        | Command::Doctor(_)
        | Command::Registry(_) => {
            unreachable!("handled before a provider is picked")
        }
        Command::Snapshot(_) => unreachable!("handled in run_local and run_remote"),
    }
    Ok(0)
}

/// A command's exit code as a process exit status (0–255).
fn exit_status(code: i64) -> u8 {
    u8::try_from(code).unwrap_or(error::exit::FAILURE)
}
