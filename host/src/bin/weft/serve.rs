//! `weft serve`: the front door, workers, scheduler and watcher until a signal.

use crate::*;

/// Creates the first admin token when none exists, writing its value to a file only this user
/// can read, and says where in the log (never the value itself).
pub(crate) async fn first_admin_token(
    tokens: &weft::front::ApiTokens,
    data: &std::path::Path,
) -> anyhow::Result<()> {
    if tokens.any().await? {
        return Ok(());
    }
    let (token, value) = tokens
        .create("initial-admin", &["admin".to_string()])
        .await?;
    std::fs::create_dir_all(data)?;
    let path = data.join("admin-token");
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(format!("{value}\n").as_bytes())?;
    tracing::warn!(token = %token.id, file = %path.display(), "no API token existed: an admin token was created; its value is in this file, readable by this user only (weft tokens create makes narrower ones)");
    Ok(())
}

pub(crate) async fn serve(cli: &Cli, args: &cli::ServeArgs) -> anyhow::Result<ExitCode> {
    let stop = shutdown_signal()?;
    let listen = args.listen.as_str();
    let required = match args.require_adapters.as_str() {
        "all" | "" => weft::front::Required::All,
        list => {
            weft::front::Required::Names(list.split(',').map(|n| n.trim().to_string()).collect())
        }
    };
    let mut options = weft::server::ServeOptions {
        front: weft::front::FrontOptions {
            max_body: parse_size("--max-body", &args.max_body)?,
            request_timeout: parse_duration("--request-timeout", &args.request_timeout)?,
            required,
            body_timeout: parse_duration("--body-timeout", &args.body_timeout)?,
            body_budget: weft::front::BodyBudget::new(parse_size(
                "--max-buffered",
                &args.max_buffered,
            )?),
            ..weft::front::FrontOptions::default()
        },
        workers: weft::workers::WorkerOptions {
            workers: args.workers,
            lease: parse_duration("--job-lease", &args.job_lease)?,
            ..weft::workers::WorkerOptions::default()
        },
        job_retention: parse_duration("--job-retention", &args.job_retention)?,
        tick_retention: parse_duration("--tick-retention", &args.tick_retention)?,
        shutdown_delay: parse_duration("--shutdown-delay", &args.shutdown_delay)?,
        shutdown_timeout: parse_duration("--shutdown-timeout", &args.shutdown_timeout)?,
        max_connections: args.max_connections,
        max_connections_per_client: match args.max_connections_per_client {
            0 => (args.max_connections / 4).max(1),
            n => n,
        },
        header_timeout: parse_duration("--header-timeout", &args.header_timeout)?,
        ..weft::server::ServeOptions::default()
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    if args.insecure_no_auth && !addr.ip().is_loopback() {
        anyhow::bail!(
            "--insecure-no-auth is refused on {addr}: anyone who reaches a non-loopback address could run operations with the platforms' credentials"
        );
    }
    let runtime = std::sync::Arc::new(open(cli).await?);
    for e in runtime.load_errors() {
        tracing::error!("not loaded: {e}");
    }
    options.front.access = weft::front::Access {
        tokens: if args.insecure_no_auth {
            tracing::warn!("--insecure-no-auth: the control plane takes requests without a token");
            None
        } else {
            let ops = weft::operations::Operations::new(runtime.clone());
            let tokens = weft::front::ApiTokens::new(&ops);
            first_admin_token(&tokens, &cli.data).await?;
            Some(tokens)
        },
        allowed_hosts: args.allowed_hosts.to_vec(),
        metrics_need_read: args.metrics_auth,
    };
    let adapters = runtime.adapters().len();
    let server = weft::server::Server::start(runtime, options);
    {
        use std::io::Write;
        // One write, its errors ignored: a reader that takes the first line and closes the
        // pipe (a supervisor, a test) must not make a later print panic the server.
        let mut out = std::io::stdout().lock();
        let _ = write!(
            out,
            "weft listening on http://{addr}\nconsole: http://{addr}/ui (sign in with an admin token)\n"
        );
        let _ = out.flush();
    }
    tracing::info!(%addr, adapters, "serving");
    server.serve(listener, stop).await?;
    Ok(ExitCode::SUCCESS)
}

/// The stop signal (SIGTERM or SIGINT), its handlers installed when this is called rather
/// than when the answer is first awaited: a SIGTERM that arrives between the "listening" line
/// and the first poll would otherwise end the process at once, with no drain.
pub(crate) fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// `weft serve`'s settings, as given on the command line (or in the environment): defined once,
/// here, and read by `serve` as they are.
#[derive(clap::Args, Debug)]
pub(crate) struct ServeArgs {
    /// A TOML file of settings: any `weft serve` option or global option by its long name
    /// (`listen = "0.0.0.0:8080"`, `max-connections = 1024`, `allowed-host = ["weft.example"]`).
    /// A flag or variable given as well overrides the file.
    #[arg(long, env = "WEFT_CONFIG")]
    pub(crate) config: Option<std::path::PathBuf>,
    /// Print the settings `weft serve` would run with (from flags, variables, --config and
    /// defaults, each named), secrets masked, and exit.
    #[arg(long)]
    pub(crate) print_config: bool,
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, env = "WEFT_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: String,
    /// Jobs run at once across all adapters; 0 (the default): every loaded adapter's
    /// limits.concurrency together, from 16 to 512. Each adapter gets a fair share of
    /// them and never more than its limits.concurrency.
    #[arg(long, env = "WEFT_WORKERS", default_value_t = 0)]
    pub(crate) workers: usize,
    /// Largest request body accepted by any route.
    #[arg(long, env = "WEFT_MAX_BODY", default_value = "16MiB")]
    pub(crate) max_body: String,
    /// Deadline of a synchronous call, e.g. "120s".
    #[arg(long, env = "WEFT_REQUEST_TIMEOUT", default_value = "120s")]
    pub(crate) request_timeout: String,
    /// How long an attempt owns its job between heartbeats, e.g. "30s".
    #[arg(long, env = "WEFT_JOB_LEASE", default_value = "30s")]
    pub(crate) job_lease: String,
    /// How long succeeded, dead and cancelled jobs are kept before they are pruned.
    #[arg(long, env = "WEFT_JOB_RETENTION", default_value = "7d")]
    pub(crate) job_retention: String,
    /// How long a schedule tick's job is kept once it succeeded (at most
    /// --job-retention; dead ticks keep the full retention).
    #[arg(long, env = "WEFT_TICK_RETENTION", default_value = "1h")]
    pub(crate) tick_retention: String,
    /// Turn API-token authentication off (local development only; refused unless the
    /// listen address is loopback).
    #[arg(long, env = "WEFT_INSECURE_NO_AUTH")]
    pub(crate) insecure_no_auth: bool,
    /// A host name clients use to reach this Weft (besides IP addresses and localhost);
    /// repeat for several. Requests naming another Host are refused (DNS rebinding).
    #[arg(
        long = "allowed-host",
        env = "WEFT_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub(crate) allowed_hosts: Vec<String>,
    /// Require a read-scoped token for /metrics (open by default).
    #[arg(long, env = "WEFT_METRICS_AUTH")]
    pub(crate) metrics_auth: bool,
    /// Adapters /readyz waits for: "all" (every manifest) or a comma-separated list.
    #[arg(long, env = "WEFT_REQUIRE_ADAPTERS", default_value = "all")]
    pub(crate) require_adapters: String,
    /// After SIGTERM, how long to keep accepting while /readyz answers 503.
    #[arg(long, env = "WEFT_SHUTDOWN_DELAY", default_value = "0s")]
    pub(crate) shutdown_delay: String,
    /// The longest each drain phase (requests in flight, then job attempts) may take.
    #[arg(long, env = "WEFT_SHUTDOWN_TIMEOUT", default_value = "60s")]
    pub(crate) shutdown_timeout: String,
    /// Connections served at once; past it a new one gets a 503 and is closed.
    #[arg(long, env = "WEFT_MAX_CONNECTIONS", default_value_t = 512)]
    pub(crate) max_connections: usize,
    /// Connections one client address may hold once more than half of --max-connections
    /// are in use (0: a quarter of --max-connections). Behind a proxy every client has
    /// its address: raise it there.
    #[arg(long, env = "WEFT_MAX_CONNECTIONS_PER_CLIENT", default_value_t = 0)]
    pub(crate) max_connections_per_client: usize,
    /// How long a client may take to send a request's headers (also how long an idle
    /// keep-alive connection stays open).
    #[arg(long, env = "WEFT_HEADER_TIMEOUT", default_value = "10s")]
    pub(crate) header_timeout: String,
    /// How long a request body may take to arrive.
    #[arg(long, env = "WEFT_BODY_TIMEOUT", default_value = "30s")]
    pub(crate) body_timeout: String,
    /// Bytes of request bodies held at once across all requests; past it a request gets
    /// a 503.
    #[arg(long, env = "WEFT_MAX_BUFFERED", default_value = "256MiB")]
    pub(crate) max_buffered: String,
}
