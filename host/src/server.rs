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
    /// Quiet time after a file change before the rescan.
    pub reload_debounce: Duration,
    /// After the stop signal, how long the front door keeps accepting while `/readyz` answers
    /// 503, so that a load balancer takes the node out before it stops listening.
    pub shutdown_delay: Duration,
    /// The longest the drain (requests in flight, then running job attempts) may take; what
    /// did not finish by then is cut, and its jobs are left to their lease.
    pub shutdown_timeout: Duration,
    /// Connections served at once; past it a new connection gets a 503 and is closed.
    pub max_connections: usize,
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
            reload_debounce: Duration::from_millis(200),
            shutdown_delay: Duration::ZERO,
            shutdown_timeout: Duration::from_secs(60),
            max_connections: 512,
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
    _retention: crate::workers::Retention,
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
        let prune_every =
            (options.job_retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(3600));
        let retention = runtime.start_retention(options.job_retention, prune_every);
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
            self.options.max_connections,
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

/// Accepts connections until `shutdown`, each served by hyper's HTTP/1 with a header timeout
/// (which also closes idle keep-alive connections) and counted against `max_connections`;
/// then lets the connections finish their requests.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    max_connections: usize,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
    metrics: Arc<crate::metrics::Metrics>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tokio::io::AsyncWriteExt;
    let permits = Arc::new(tokio::sync::Semaphore::new(max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
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
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            metrics
                .front_refusals
                .get_or_create(&crate::metrics::RefusalLabels {
                    reason: "connections".into(),
                })
                .inc();
            tokio::spawn(async move {
                let mut stream = stream;
                let _ = tokio::time::timeout(Duration::from_secs(1), async {
                    let _ = stream.write_all(TOO_MANY_CONNECTIONS).await;
                    let _ = stream.shutdown().await;
                })
                .await;
            });
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = connection.await {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
