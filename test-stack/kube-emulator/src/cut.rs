//! A connection the API server can cut: every accepted TCP stream is
//! wrapped so that stopping the server (an emulated restart) closes it
//! at once, wherever it went — plain requests, watches, and the exec and
//! port-forward streams that hyper hands over after an upgrade — as the
//! death of a real API server process does.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};

#[derive(Default)]
struct Shared {
    tcp: Option<TcpStream>,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

pub struct Cuttable {
    shared: Arc<Mutex<Shared>>,
    /// Dropped with the connection: ends its watcher.
    _closed: oneshot::Sender<()>,
}

impl Cuttable {
    /// Wraps `tcp`; when `stopped` changes (or its sender goes), the
    /// socket is closed and pending reads and writes fail.
    pub fn new(tcp: TcpStream, mut stopped: watch::Receiver<bool>) -> Cuttable {
        let shared = Arc::new(Mutex::new(Shared {
            tcp: Some(tcp),
            ..Shared::default()
        }));
        let (closed_tx, closed_rx) = oneshot::channel::<()>();
        let weak: Weak<Mutex<Shared>> = Arc::downgrade(&shared);
        tokio::spawn(async move {
            tokio::select! {
                _ = stopped.changed() => {}
                _ = closed_rx => return,
            }
            if let Some(shared) = weak.upgrade() {
                let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
                drop(s.tcp.take());
                for waker in [s.read_waker.take(), s.write_waker.take()]
                    .into_iter()
                    .flatten()
                {
                    waker.wake();
                }
            }
        });
        Cuttable {
            shared,
            _closed: closed_tx,
        }
    }

    fn with<T>(
        &self,
        cx: &mut Context<'_>,
        writing: bool,
        op: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let mut s = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tcp) = s.tcp.as_mut() else {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the API server stopped",
            )));
        };
        let polled = op(Pin::new(tcp), cx);
        if polled.is_pending() {
            let slot = if writing {
                &mut s.write_waker
            } else {
                &mut s.read_waker
            };
            *slot = Some(cx.waker().clone());
        }
        polled
    }
}

impl AsyncRead for Cuttable {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.with(cx, false, |tcp, cx| tcp.poll_read(cx, buf))
    }
}

impl AsyncWrite for Cuttable {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.with(cx, true, |tcp, cx| tcp.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(cx, true, |tcp, cx| tcp.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(cx, true, |tcp, cx| tcp.poll_shutdown(cx))
    }
}
