//! TEST INFRASTRUCTURE ONLY: `kube-emulator KUBECONFIG_PATH [--pods]
//! [--node-root DIR]` starts the emulator (with `--pods`, running pods as
//! containers on the local Docker engine; hostPath volumes point into DIR,
//! default /), writes a kubeconfig for it, and serves until killed.

fn main() -> anyhow::Result<()> {
    let usage = "usage: kube-emulator KUBECONFIG_PATH [--pods] [--node-root DIR]";
    let path = std::env::args()
        .nth(1)
        .filter(|p| !p.starts_with('-'))
        .ok_or_else(|| anyhow::anyhow!(usage))?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let pods = std::env::args().any(|a| a == "--pods");
        let args: Vec<String> = std::env::args().collect();
        let node_root = args
            .iter()
            .position(|a| a == "--node-root")
            .and_then(|i| args.get(i + 1))
            .map_or_else(|| "/".into(), std::path::PathBuf::from);
        let emulator = if pods {
            kip_test_kube_emulator::Emulator::start_with_pods_on_node(1440, node_root).await?
        } else {
            kip_test_kube_emulator::Emulator::start().await?
        };
        std::fs::write(&path, emulator.kubeconfig())?;
        eprintln!(
            "kube-emulator: https://{} and http://{}; kubeconfig in {path}",
            emulator.https, emulator.http
        );
        // Until Ctrl-C or SIGTERM; dropping the emulator removes its pods.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        drop(emulator);
        Ok(())
    })
}
