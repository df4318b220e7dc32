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
        let workers = crate::workers::Workers::start(&runtime, options.workers.clone());
        let schedules = crate::schedule::Scheduler::start(&runtime);
        // Often enough that a short retention (tests, small disks) holds within a few minutes.
        let tick_retention = options.tick_retention.min(options.job_retention);
        let prune_every =
            (tick_retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(600));
        let retention = crate::retention::Retention::start_with(
            &runtime,
            options.job_retention,
            tick_retention,
            prune_every,
        );
        runtime.refresh_tokens_at_startup();
        let watcher = match crate::watch::Watcher::start(&runtime, options.reload_debounce) {
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
        let serve = crate::connections::accept_loop(
            listener,
            app,
            crate::connections::Caps::fitted(
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
        // Succeeded calls' journals are written after their answers: written before the exit.
        let journals = self.runtime.shared().journal_writes.flush();
        if tokio::time::timeout(timeout, journals).await.is_err() {
            tracing::warn!(timeout = ?timeout, "journals of succeeded calls still unwritten at --shutdown-timeout are lost");
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
