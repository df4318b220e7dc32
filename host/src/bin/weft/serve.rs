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
