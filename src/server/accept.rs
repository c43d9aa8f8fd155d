//! The accept loop: takes connections off the listener, admits or refuses
//! each one, and serves its HTTP (the WebSocket upgrade, or an admin call)
//! with a deadline for the request head, so a client that sends half its
//! headers is not held for good.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower_service::Service;

use super::admit::{Admission, Counted, Refusal};
use super::burst::BurstLog;

/// After an accept error that is not one peer's (no file descriptors left,
/// no memory), the loop waits this long before it tries again: the error
/// stays until something closes, and retrying at once would spin.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Refusals answered at once (each holds a socket for at most the upgrade
/// timeout); past this, a refused connection is closed without an answer.
const MAX_REFUSING: usize = 64;

/// The kernel's send buffer for each client socket. Left to itself, Linux
/// grows it to 4 MB (`tcp_wmem`) for a client that stops reading: 140,000
/// pongs held in the kernel before our own queue even starts to fill. This
/// much (the kernel doubles it) still carries a large room's `joined` at
/// over a megabyte a second at 100 ms round trip.
const SOCKET_SEND_BUFFER: usize = 64 * 1024;

/// Largest HTTP request head read before the upgrade: room for any real
/// client's headers and tokens, none for a client that sends headers forever.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// What the accept loop needs besides the listener.
pub struct Acceptor {
    pub app: Router,
    pub admission: Arc<Admission>,
    /// A connection's request head must have arrived within this.
    pub upgrade_timeout: Duration,
    pub shutdown: watch::Receiver<bool>,
}

impl Acceptor {
    /// Runs until the server shuts down.
    pub async fn run(mut self, listener: TcpListener) {
        let refusals = BurstLog::new("connections refused");
        let errors = BurstLog::new("accept errors");
        let refusing = Arc::new(AtomicUsize::new(0));
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stopped(&mut self.shutdown) => return,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                // That peer gave up before we took its connection: nothing to do.
                Err(e) if one_peers(&e) => continue,
                Err(e) => {
                    errors.note(|| {
                        tracing::error!(
                            target: "calltop::server",
                            "cannot accept connections: {e}{}; trying again every {} ms",
                            hint(&e),
                            ACCEPT_PAUSE.as_millis()
                        )
                    });
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                    continue;
                }
            };
            // Signaling frames are small and each one matters now.
            let _ = stream.set_nodelay(true);
            let _ = socket2::SockRef::from(&stream).set_send_buffer_size(SOCKET_SEND_BUFFER);
            match self.admission.admit(peer.ip()) {
                Ok(ticket) => {
                    let io = Counted::new(stream, ticket);
                    let conn = serve(
                        io,
                        self.app.clone(),
                        self.upgrade_timeout,
                        self.shutdown.clone(),
                    );
                    tokio::spawn(conn);
                }
                Err(why) => {
                    refusals.note(|| {
                        tracing::warn!(
                            target: "calltop::server",
                            "refusing connections: {} (the first from {peer})",
                            why.message()
                        )
                    });
                    refuse(stream, why, self.upgrade_timeout, &refusing);
                }
            }
        }
    }
}

/// Returns once the server is told to stop (or its handle is gone).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// An accept error about one connection, not about the server.
fn one_peers(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}

fn hint(e: &io::Error) -> &'static str {
    // EMFILE and ENFILE (the same numbers on Linux, macOS and the BSDs).
    match e.raw_os_error() {
        Some(23 | 24) => {
            " (out of file descriptors: raise the limit, `ulimit -n`, or lower serve.max_connections)"
        }
        _ => "",
    }
}

fn http1_builder(upgrade_timeout: Duration) -> http1::Builder {
    let mut b = http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(upgrade_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    b
}

/// Serves one admitted connection's HTTP until it upgrades or closes. Its
/// requests carry the socket's [`Abort`], for the WebSocket it may become.
async fn serve(
    io: Counted,
    app: Router,
    upgrade_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let abort = io.abort_handle();
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(abort.clone());
        // A Router is always ready: no poll_ready needed before a call.
        Service::call(&mut app.clone(), req)
    });
    let conn = http1_builder(upgrade_timeout)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stopped(&mut stop) => {
            // Finish a request under way, then close; bounded by the timeout.
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Answers a refused connection with 503 (once it has sent its request, so
/// the client reads the answer rather than a reset), then closes it.
fn refuse(stream: TcpStream, why: Refusal, upgrade_timeout: Duration, refusing: &Arc<AtomicUsize>) {
    if refusing.fetch_add(1, Ordering::Relaxed) >= MAX_REFUSING {
        refusing.fetch_sub(1, Ordering::Relaxed);
        return; // dropped: closed unanswered
    }
    let refusing = refusing.clone();
    tokio::spawn(async move {
        let message = why.message();
        let service = hyper::service::service_fn(move |_req| {
            let answer = unavailable(&message);
            async move { Ok::<_, Infallible>(answer) }
        });
        let mut b = http1_builder(upgrade_timeout);
        b.keep_alive(false);
        let _ = b.serve_connection(TokioIo::new(stream), service).await;
        refusing.fetch_sub(1, Ordering::Relaxed);
    });
}

fn unavailable(message: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1")],
        axum::Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}
