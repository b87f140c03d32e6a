//! TEST INFRASTRUCTURE ONLY: a Kubernetes API emulator for kip's tests. It
//! speaks the real wire protocol (discovery, REST with resourceVersions,
//! watches, Status errors, tables) over HTTP and HTTPS, keeps objects in
//! memory, and answers with the real messages of RBAC and PodSecurity
//! refusals. The real kubectl is its conformance client. It is never part of
//! the `kip` binary.

mod cut;
mod dns;
mod exec;
mod patch;
pub mod policy;
mod portforward;
mod probe;
mod resources;
mod runtime;
mod selectors;
mod server;
mod spdy;
mod store;
mod time;
mod tls;

use anyhow::{Context, Result};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use policy::Rule;

/// A running emulator; dropping it stops both servers.
pub struct Emulator {
    pub https: SocketAddr,
    pub http: SocketAddr,
    in_cluster: Option<SocketAddr>,
    /// Ends the cluster DNS server when the emulator goes (dropped).
    _dns_stop: Option<watch::Sender<bool>>,
    pki: tls::Pki,
    state: Arc<server::State>,
    stop: watch::Sender<bool>,
}

impl Emulator {
    /// Starts HTTPS and plain HTTP servers on 127.0.0.1, on free ports.
    /// Pods are stored but not run.
    pub async fn start() -> Result<Emulator> {
        Self::start_inner(None).await
    }

    /// Like `start`, and runs pods as containers on the local Docker engine,
    /// on a pod network whose MTU is `mtu` (1440: the Calico IPIP case).
    pub async fn start_with_pods(mtu: u32) -> Result<Emulator> {
        Self::start_with_pods_on_node(mtu, "/".into()).await
    }

    /// Like `start_with_pods`, with `node_root` as the emulated node's
    /// filesystem: hostPath volumes point into it (so a test decides
    /// whether the node has, say, `/lib/modules`).
    pub async fn start_with_pods_on_node(
        mtu: u32,
        node_root: std::path::PathBuf,
    ) -> Result<Emulator> {
        let runtime = runtime::Runtime::start(mtu, node_root).await?;
        Self::start_inner(Some(Arc::new(runtime))).await
    }

    async fn start_inner(runtime: Option<Arc<runtime::Runtime>>) -> Result<Emulator> {
        let state = server::State::new();
        // With pods, the API also listens on the pod network's gateway, as
        // pods reach it (KUBERNETES_SERVICE_HOST), and its certificate
        // names that address.
        let gateway = runtime.as_ref().map(|rt| rt.gateway());
        *state.runtime.lock().unwrap_or_else(|e| e.into_inner()) = runtime.clone();
        let mut sans = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        sans.extend(gateway.clone());
        let pki = tls::Pki::generate(&sans)?;
        let (stop, stopped) = watch::channel(false);
        let https_listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen for HTTPS")?;
        let http_listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen for HTTP")?;
        let pods_listener = match &gateway {
            Some(ip) => Some(
                TcpListener::bind((ip.as_str(), 0))
                    .await
                    .with_context(|| format!("cannot listen on the pod network's gateway {ip}"))?,
            ),
            None => None,
        };
        let https = https_listener.local_addr()?;
        let http = http_listener.local_addr()?;
        let in_cluster = pods_listener
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()?;
        *state
            .server_address
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = https.to_string();
        if let (Some(rt), Some(address)) = (&runtime, in_cluster) {
            let token = tls::random_token()?;
            state.set_service_account_token(&token);
            *rt.in_cluster.lock().unwrap_or_else(|e| e.into_inner()) = Some(runtime::InCluster {
                address,
                ca_pem: pki.ca_pem().to_string(),
                token,
            });
        }
        // Cluster DNS on the gateway, for ClusterFirst pods; where port 53
        // cannot be had (not root), pods keep the engine's DNS.
        let mut dns_stop = None;
        if let (Some(rt), Some(ip)) = (&runtime, &gateway) {
            if let Ok(socket) = tokio::net::UdpSocket::bind((ip.as_str(), 53)).await {
                let (stop, stopped) = watch::channel(false);
                tokio::spawn(dns::serve(
                    socket,
                    Arc::new(server::PodStoreHandle(state.clone())),
                    stopped,
                ));
                *rt.cluster_dns.lock().unwrap_or_else(|e| e.into_inner()) = Some(ip.clone());
                dns_stop = Some(stop);
            }
        }
        let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config()?);
        tokio::spawn(serve(
            https_listener,
            Some(acceptor.clone()),
            state.clone(),
            stopped.clone(),
        ));
        if let Some(listener) = pods_listener {
            tokio::spawn(serve(
                listener,
                Some(acceptor),
                state.clone(),
                stopped.clone(),
            ));
        }
        tokio::spawn(serve(http_listener, None, state.clone(), stopped));
        Ok(Emulator {
            https,
            http,
            in_cluster,
            _dns_stop: dns_stop,
            pki,
            state,
            stop,
        })
    }

    /// The address a pod sees port-forwarded connections come from:
    /// 127.0.0.1 when the emulator dials inside the pod's network namespace
    /// as a kubelet does (as root), else its address on the pod network.
    pub fn port_forward_peer(&self) -> Option<String> {
        let runtime = self
            .state
            .runtime
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        Some(if runtime.dials_in_pods {
            "127.0.0.1".to_string()
        } else {
            runtime.gateway()
        })
    }

    /// Whether ClusterFirst pods get the cluster DNS (it needs port 53 on
    /// the gateway, so root).
    pub fn has_cluster_dns(&self) -> bool {
        self._dns_stop.is_some()
    }

    /// Where pods reach the API server (the pod network's gateway), when
    /// the emulator runs pods.
    pub fn in_cluster_address(&self) -> Option<SocketAddr> {
        self.in_cluster
    }

    /// A kubeconfig for the HTTPS server, with a client certificate.
    pub fn kubeconfig(&self) -> String {
        self.pki.kubeconfig(&format!("https://{}", self.https))
    }

    /// The label on every container this emulator runs, and the name of its
    /// pod network; None when it runs no pods.
    pub fn pod_label(&self) -> Option<(String, String)> {
        let runtime = self
            .state
            .runtime
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        Some((
            format!("{}={}", runtime::LABEL, runtime.id),
            runtime.id.clone(),
        ))
    }

    /// The node reports `cidr` as its pod range (spec.podCIDR).
    pub fn set_node_pod_cidr(&self, cidr: &str) {
        self.state.set_node_pod_cidr(cidr);
    }

    /// How many watches the API server is serving now.
    pub fn open_watches(&self) -> usize {
        self.state
            .open_watches
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many port-forward sessions the API server is serving now.
    pub fn open_port_forwards(&self) -> usize {
        self.state
            .open_port_forwards
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Holds the next request of `verb` on `resource` ("create", "pods")
    /// until [`Self::release`]; its index.
    pub fn hold(&self, verb: &str, resource: &str) -> usize {
        let mut holds = self.state.holds.lock().unwrap_or_else(|e| e.into_inner());
        holds.push(server::Hold::new(verb, resource));
        holds.len() - 1
    }

    /// Waits (up to `limit`) until hold `id` holds a request.
    pub fn holding(&self, id: usize, limit: std::time::Duration) -> bool {
        let holds = self.state.holds.lock().unwrap_or_else(|e| e.into_inner());
        let (holds, _) = self
            .state
            .hold_changed
            .wait_timeout_while(holds, limit, |h| !h[id].holding)
            .unwrap_or_else(|e| e.into_inner());
        holds[id].holding
    }

    /// Lets hold `id`'s request (held or to come) through.
    pub fn release(&self, id: usize) {
        let holds = self.state.holds.lock().unwrap_or_else(|e| e.into_inner());
        holds[id].release.send_replace(true);
    }

    /// Every image pull takes `delay` from now on.
    pub fn set_pull_delay(&self, delay: std::time::Duration) {
        if let Some(rt) = self
            .state
            .runtime
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            *rt.pull_delay.lock().unwrap_or_else(|e| e.into_inner()) = delay;
        }
    }

    /// An API server restart: both servers stop (open requests and watches
    /// are cut), nothing answers for `down`, then they serve again on the
    /// same addresses with the same objects. Pods keep running.
    pub async fn restart_api(&mut self, down: std::time::Duration) -> Result<()> {
        let _ = self.stop.send(true);
        tokio::time::sleep(down).await;
        let (stop, stopped) = watch::channel(false);
        let bind = |addr: SocketAddr| async move {
            // The old listener closes as its task notices the stop.
            let mut tries = 0;
            loop {
                match TcpListener::bind(addr).await {
                    Ok(listener) => return Ok(listener),
                    Err(e) if tries < 100 => {
                        let _ = e;
                        tries += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                    Err(e) => return Err(e).context("cannot listen again after the restart"),
                }
            }
        };
        let https = bind(self.https).await?;
        let http = bind(self.http).await?;
        let acceptor = tokio_rustls::TlsAcceptor::from(self.pki.server_config()?);
        if let Some(address) = self.in_cluster {
            tokio::spawn(serve(
                bind(address).await?,
                Some(acceptor.clone()),
                self.state.clone(),
                stopped.clone(),
            ));
        }
        tokio::spawn(serve(
            https,
            Some(acceptor),
            self.state.clone(),
            stopped.clone(),
        ));
        tokio::spawn(serve(http, None, self.state.clone(), stopped));
        self.stop = stop;
        Ok(())
    }

    /// Replaces the RBAC rules; `None` allows everything.
    pub fn set_rbac(&self, rules: Option<Vec<Rule>>) {
        *self.state.rbac.lock().unwrap_or_else(|e| e.into_inner()) = rules;
    }
}

impl Drop for Emulator {
    /// Stops the servers and removes every container and network the pods
    /// used, even when a test panicked.
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        let runtime = self
            .state
            .runtime
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(runtime) = runtime {
            let cleaner = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(runtime.clean_up());
                }
            });
            let _ = cleaner.join();
        }
    }
}

async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<server::State>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        let Ok((tcp, _)) = accepted else { continue };
        let _ = tcp.set_nodelay(true);
        // Stopping cuts the connection, upgraded streams included.
        let tcp = cut::Cuttable::new(tcp, stopped.clone());
        let state = state.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| server::handle(state.clone(), req));
            let builder = hyper::server::conn::http1::Builder::new();
            match tls {
                Some(acceptor) => {
                    let Ok(stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                }
                None => {
                    let _ = builder
                        .serve_connection(TokioIo::new(tcp), service)
                        .with_upgrades()
                        .await;
                }
            }
        });
    }
}
