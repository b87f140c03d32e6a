//! TEST INFRASTRUCTURE ONLY: `kube-emulator KUBECONFIG_PATH` starts the
//! emulator, writes a kubeconfig for it, and serves until killed.

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: kube-emulator KUBECONFIG_PATH"))?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let emulator = kip_test_kube_emulator::Emulator::start().await?;
        std::fs::write(&path, emulator.kubeconfig())?;
        eprintln!(
            "kube-emulator: https://{} and http://{}; kubeconfig in {path}",
            emulator.https, emulator.http
        );
        std::future::pending::<()>().await;
        Ok(())
    })
}
