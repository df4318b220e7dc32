//! `weft serve` as a library call: the front door, the job workers, the scheduler, job
//! retention, hot reload and SIGHUP, started together and stopped in one order.
//!
//! Every background task is owned by a guard that stops it when dropped, so that an early
//! return (a listener error, a panic in the caller) leaves nothing running.

use crate::front::FrontOptions;
use crate::runtime::Runtime;
use crate::workers::WorkerOptions;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Settings of a serving process.
#[derive(Clone)]
pub struct ServeOptions {
    /// The front door's limits.
    pub front: FrontOptions,
    /// The job worker pool.
    pub workers: WorkerOptions,
    /// How long succeeded, dead and cancelled jobs are kept.
    pub job_retention: Duration,
    /// How long a schedule tick's job is kept once it succeeded (at most `job_retention`).
    pub tick_retention: Duration,
    /// Quiet time after a file change before the rescan.
    pub reload_debounce: Duration,
    /// After the stop signal, how long the front door keeps accepting while `/readyz` answers
    /// 503, so that a load balancer takes the node out before it stops listening.
    pub shutdown_delay: Duration,
    /// The longest the drain (requests in flight, then running job attempts) may take; what
    /// did not finish by then is cut, and its jobs are left to their lease.
    pub shutdown_timeout: Duration,
    /// Connections served at once; past it a new connection gets a 503 and is closed (a
    /// `GET /healthz` on it is still answered). Lowered at start to what the process's
    /// descriptor limit allows.
    pub max_connections: usize,
    /// Connections one client address may hold once more than half of `max_connections` are
    /// in use, so that one client cannot take every connection (behind a proxy every client
    /// has the proxy's address: raise it to `max_connections` there).
    pub max_connections_per_client: usize,
    /// How long a client may take to send a request's headers; also how long an idle
    /// keep-alive connection is kept.
    pub header_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            front: FrontOptions::default(),
            workers: WorkerOptions::default(),
            job_retention: Duration::from_secs(7 * 24 * 3600),
            tick_retention: Duration::from_secs(3600),
            reload_debounce: Duration::from_millis(200),
            shutdown_delay: Duration::ZERO,
            shutdown_timeout: Duration::from_secs(60),
            max_connections: 512,
            max_connections_per_client: 128,
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// Stops a spawned task when dropped.
struct TaskGuard(tokio::task::JoinHandle<()>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A serving process's background work, started: job workers, scheduler, retention, hot
/// reload and SIGHUP. Dropping it stops them all; [`Server::serve`] runs the front door and
/// then drains in order.
pub struct Server {
    runtime: Arc<Runtime>,
    options: ServeOptions,
    workers: crate::workers::Workers,
    schedules: crate::schedule::Scheduler,
    _retention: crate::retention::Retention,
    _watcher: Option<crate::watch::Watcher>,
    _sighup: TaskGuard,
}

impl Server {
    /// Starts everything but the front door, so that the process watches its files and runs
    /// its jobs before it tells anyone where it listens.
    pub fn start(runtime: Arc<Runtime>, options: ServeOptions) -> Self {
        let workers = runtime.start_workers(options.workers.clone());
        let schedules = runtime.start_schedules();
        // Often enough that a short retention (tests, small disks) holds within a few minutes.
        let tick_retention = options.tick_retention.min(options.job_retention);
        let prune_every =
            (tick_retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(600));
        let retention =
            runtime.start_retention_with(options.job_retention, tick_retention, prune_every);
        runtime.refresh_tokens_at_startup();
        let watcher = match runtime.watch(options.reload_debounce) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!("hot reload is off: {e}");
                None
            }
        };
        let sighup = {
            let runtime = runtime.clone();
            TaskGuard(tokio::spawn(async move {
                let Ok(mut hup) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                else {
                    return;
                };
                while hup.recv().await.is_some() {
                    tracing::info!("SIGHUP: reloading every manifest");
                    runtime.reload().await;
                }
            }))
        };
        Self {
            runtime,
            options,
            workers,
            schedules,
            _retention: retention,
            _watcher: watcher,
            _sighup: sighup,
        }
    }

    /// Serves the front door on `listener` until `shutdown` completes, then drains in order:
    /// stop accepting (requests in flight finish), stop ticking, let running job attempts
    /// finish and hand the rest back to the queue.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = crate::front::router(self.runtime.clone(), self.options.front.clone());
        let draining = self.options.front.draining.clone();
        let delay = self.options.shutdown_delay;
        let (began, begun) = tokio::sync::oneshot::channel::<tokio::time::Instant>();
        let shutdown = async move {
            shutdown.await;
            draining.store(true, std::sync::atomic::Ordering::SeqCst);
            tracing::info!(delay = ?delay, "draining: /readyz answers 503");
            let _ = began.send(tokio::time::Instant::now());
            tokio::time::sleep(delay).await;
        };
        let serve = accept_loop(
            listener,
            app,
            Caps::fitted(
                self.options.max_connections,
                self.options.max_connections_per_client,
            ),
            self.options.header_timeout,
            shutdown,
            self.runtime.shared().metrics.clone(),
        );
        tokio::pin!(serve);
        let timeout = self.options.shutdown_timeout;
        let deadline = async {
            match begun.await {
                Ok(at) => tokio::time::sleep_until(at + delay + timeout).await,
                // The server ended without a stop signal: nothing to bound.
                Err(_) => std::future::pending().await,
            }
        };
        tokio::pin!(deadline);
        let served = tokio::select! {
            served = &mut serve => served,
            () = &mut deadline => {
                let cut = self.runtime.shared().in_flight.list();
                tracing::warn!(timeout = ?timeout, calls = ?cut, "--shutdown-timeout passed with requests still in flight: these calls are cut (the platform may have done their work; their call ids are in its logs if it keeps them)");
                Ok(())
            }
        };
        tracing::info!("stopped accepting; finishing running jobs");
        self.schedules.shutdown().await;
        if tokio::time::timeout_at(
            tokio::time::Instant::now() + timeout,
            self.workers.shutdown(),
        )
        .await
        .is_err()
        {
            let cut = self.runtime.shared().in_flight.list();
            tracing::warn!(timeout = ?timeout, calls = ?cut, "job attempts still running at --shutdown-timeout are cut: their jobs run again once their lease lapses");
        }
        served
    }
}

/// Serves `runtime` on `listener` until `shutdown` completes: [`Server::start`] then
/// [`Server::serve`].
pub async fn run(
    runtime: Arc<Runtime>,
    listener: tokio::net::TcpListener,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    Server::start(runtime, options)
        .serve(listener, shutdown)
        .await
}

/// The answer to a connection past `--max-connections`: written at once, then closed, so that
/// the client learns why instead of waiting on a socket nobody reads.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 140\r\n\r\n{\"type\":\"/problems#unavailable\",\"title\":\"Unavailable\",\"status\":503,\"detail\":\"too many connections (--max-connections)\",\"kind\":\"unavailable\"}";

/// The answer to a `GET /healthz` that came on a connection past the caps: the process is
/// alive, only busy.
const HEALTHY_WHEN_FULL: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: 3\r\n\r\nok\n";

/// Descriptors kept for everything but client connections: the store's connections, the
/// compiled-component cache, outbound platform calls, the file watcher.
const RESERVED_FDS: u64 = 256;

/// Connections refused past the caps that are still read for a health probe at once; more
/// are told 503 and closed unread.
const OVERFLOW: usize = 32;
/// Of those, how many one client address may have.
const OVERFLOW_PER_CLIENT: usize = 4;

/// The connection caps in force.
#[derive(Debug, Clone, Copy)]
struct Caps {
    total: usize,
    per_client: usize,
}

impl Caps {
    /// The caps asked for, with the total lowered to what the descriptor limit allows (the
    /// soft limit raised to the hard one first): past it, `accept` fails with EMFILE in a
    /// loop instead of answering.
    fn fitted(total: usize, per_client: usize) -> Self {
        let total = total.max(1);
        let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(u64::MAX);
        let room = usize::try_from(limit.saturating_sub(RESERVED_FDS + OVERFLOW as u64))
            .unwrap_or(usize::MAX)
            .max(16);
        let fitted = if total > room {
            tracing::warn!(
                asked = total,
                fd_limit = limit,
                "--max-connections lowered to {room}: the descriptor limit (ulimit -n) leaves no room for more"
            );
            room
        } else {
            total
        };
        Self {
            total: fitted,
            per_client: per_client.clamp(1, fitted),
        }
    }
}

/// The address a connection's share is counted under: an IPv4 address (an IPv4-mapped IPv6
/// one included) as it is, an IPv6 address by its /64, since one host is routinely given a
/// whole /64 and could otherwise come from as many addresses as it likes.
fn client_of(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.into(),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                std::net::Ipv6Addr::from(segments).into()
            }
        },
        v4 => v4,
    }
}

/// Connections held per client address.
#[derive(Default)]
struct PerClient(std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>);

/// One connection counted against its client's share; uncounted when dropped.
struct ClientSlot {
    clients: Arc<PerClient>,
    ip: std::net::IpAddr,
}

impl PerClient {
    /// Counts one more connection of `ip`, if it is within its share `cap` or the house is
    /// less than half full (`roomy`): a share binds only when connections grow scarce, so one
    /// busy client (or a proxy in front of many) is not held back while there is room.
    fn take(self: &Arc<Self>, ip: std::net::IpAddr, cap: usize, roomy: bool) -> Option<ClientSlot> {
        let mut held = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = held.entry(ip).or_default();
        if *n >= cap && !roomy {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            clients: self.clone(),
            ip,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut held = self.clients.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = held.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.ip);
            }
        }
    }
}

/// Answers a connection past the caps: a health probe gets its 200 (a full house is not a
/// dead process, and a liveness check must not restart it for being busy), anything else the
/// 503, and the connection is closed. A probe sends its request at once: the request line is
/// waited for a quarter of a second at most.
async fn refuse(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tokio::time::timeout(Duration::from_millis(250), async {
        let mut head = [0u8; 64];
        let mut read = 0;
        while read < head.len() {
            match stream.read(&mut head[read..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
            if head[..read].contains(&b'\n') {
                break;
            }
        }
        let line = &head[..read];
        let answer = if line.starts_with(b"GET /healthz ") || line.starts_with(b"GET /healthz\r") {
            HEALTHY_WHEN_FULL
        } else {
            TOO_MANY_CONNECTIONS
        };
        let _ = stream.write_all(answer).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Accepts connections until `shutdown`, each served by hyper's HTTP/1 with a header timeout
/// (which also closes idle keep-alive connections) and counted against the caps; then lets the
/// connections finish their requests.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    caps: Caps,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
    metrics: Arc<crate::metrics::Metrics>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let permits = Arc::new(tokio::sync::Semaphore::new(caps.total));
    let overflow = Arc::new(tokio::sync::Semaphore::new(OVERFLOW));
    let clients = Arc::new(PerClient::default());
    let overflow_clients = Arc::new(PerClient::default());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    let refused = |reason: &str| {
        metrics
            .front_refusals
            .get_or_create(&crate::metrics::RefusalLabels {
                reason: reason.into(),
            })
            .inc();
    };
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a reset before accept: wait a moment, keep serving.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let roomy = permits.available_permits() > caps.total / 2;
        let client = client_of(peer.ip());
        let slot = clients.take(client, caps.per_client, roomy);
        let permit = slot
            .as_ref()
            .and_then(|_| permits.clone().try_acquire_owned().ok());
        let (Some(slot), Some(permit)) = (slot, permit) else {
            refused(if permit_missing_is_total(&permits) {
                "connections"
            } else {
                "client-connections"
            });
            // A few refused connections of each address are read for a health probe; the
            // rest are closed unread, so that one client reconnecting in a loop cannot keep
            // every other address's probe from an answer.
            if let Some(mine) = overflow_clients.take(client, OVERFLOW_PER_CLIENT, false)
                && let Ok(spare) = overflow.clone().try_acquire_owned()
            {
                tokio::spawn(async move {
                    let _spare = (spare, mine);
                    refuse(stream).await;
                });
            } else {
                // Told why without a wait: a fresh socket's send buffer takes the answer
                // whole, and nothing is spawned for it.
                let _ = stream.try_write(TOO_MANY_CONNECTIONS);
            }
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _held = (permit, slot);
            if let Err(e) = connection.await {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// True when the total cap, not the client's share, refused a connection.
fn permit_missing_is_total(permits: &tokio::sync::Semaphore) -> bool {
    permits.available_permits() == 0
}

#[cfg(test)]
mod tests {
    use super::client_of;

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a: std::net::IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: std::net::IpAddr = "2001:db8:1:2:bbbb::9".parse().expect("ip");
        let c: std::net::IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(client_of(a), client_of(b));
        assert_ne!(client_of(a), client_of(c));
        let mapped: std::net::IpAddr = "::ffff:10.0.0.7".parse().expect("ip");
        assert_eq!(
            client_of(mapped),
            "10.0.0.7".parse::<std::net::IpAddr>().expect("ip")
        );
    }
}
