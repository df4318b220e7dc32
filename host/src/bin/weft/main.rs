//! The `weft` command: every subcommand's clap definition and the dispatch to the library
//! (this file is long because the definitions, with their help texts, are the CLI's reference);
//! the longer commands live beside it — `serve`, `jobs`, `control` (tokens, schedules), `kit`
//! (`weft test`) and `logs`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use weft::engine::EngineOptions;
use weft::{CallOptions, Runtime, RuntimeOptions};

mod control;
mod jobs;
mod kit;
mod logs;
mod serve;

use control::{schedules, tokens};
use jobs::jobs;
use kit::fixtures;
use logs::init_logs;
use serve::{ServeArgs, serve};

/// Weft: a WebAssembly-plugin integration runtime.
#[derive(Parser)]
#[command(name = "weft", version, about)]
struct Cli {
    /// Folder of adapter manifests (*.toml).
    #[arg(
        long,
        global = true,
        env = "WEFT_MANIFESTS",
        default_value = "manifests"
    )]
    manifests: PathBuf,
    /// Data folder: the embedded store and the compiled-component cache.
    #[arg(long, global = true, env = "WEFT_DATA", default_value = "data")]
    data: PathBuf,
    /// Largest linear memory an adapter instance may be given (a manifest may ask for less).
    #[arg(
        long,
        global = true,
        env = "WEFT_MAX_INSTANCE_MEMORY",
        default_value = "512MiB"
    )]
    max_instance_memory: String,
    /// Adapter instances alive at once, across all adapters. Each adapter reserves its
    /// limits.concurrency + 1 of them; a manifest that would over-commit the pool is refused.
    #[arg(long, global = true, env = "WEFT_MAX_INSTANCES", default_value_t = 256)]
    max_instances: u32,
    /// Where compiled components are cached (default DATA/cache); several processes may share it.
    #[arg(long, global = true, env = "WEFT_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// The store: "sqlite" (embedded, in the data folder) or a postgres:// URL shared by
    /// several processes (add ?schema=NAME to use a schema other than public).
    #[arg(long, global = true, env = "WEFT_STORE", default_value = "sqlite")]
    store: String,
    /// The key that seals platform tokens in the store: 64 hex digits (see `weft keygen`),
    /// or "env:NAME" / "file:PATH" to read it from elsewhere. Required with a shared store;
    /// the embedded store keeps its own in DATA/store-key when none is given.
    #[arg(long, global = true, env = "WEFT_STORE_KEY", hide_env_values = true)]
    store_key: Option<String>,
    /// Accept a store that vanished, was emptied or was replaced since this data folder last
    /// used it (its idempotency keys and jobs are lost): begin afresh with it.
    #[arg(long, global = true, env = "WEFT_INIT")]
    init: bool,
    /// Log filter (tracing's EnvFilter syntax), e.g. "info" or "weft=debug".
    #[arg(long, global = true, env = "WEFT_LOG")]
    log: Option<String>,
    /// Log lines as "text" (for people) or "json" (one object a line, with the request, call
    /// and job ids of the spans they belong to).
    #[arg(long, global = true, env = "WEFT_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start and matched at once: the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Validate every manifest and component; exit 2 if any fails.
    Check {
        /// Check only these manifest files (of one folder) instead of the whole folder.
        files: Vec<PathBuf>,
    },
    /// Run one operation in-process and print its JSON output.
    Invoke {
        /// Adapter instance name.
        adapter: String,
        /// Operation name.
        op: String,
        /// JSON input, or "-" to read it from standard input (default "{}").
        input: Option<String>,
        /// Idempotency key passed to the adapter.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Write the call's platform exchanges as a fixture for `weft test` in this folder
        /// (secrets and tokens redacted).
        #[arg(long)]
        record: Option<PathBuf>,
    },
    /// List the adapters with their status, version and operations.
    Adapters,
    /// Serve the front door, run jobs and schedules until SIGTERM or Ctrl-C.
    Serve {
        /// Address to listen on (port 0 picks a free port; the address is printed).
        #[arg(long, env = "WEFT_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Jobs run at once across all adapters.
        #[arg(long, env = "WEFT_WORKERS", default_value_t = 4)]
        workers: usize,
        /// Largest request body accepted by any route.
        #[arg(long, env = "WEFT_MAX_BODY", default_value = "16MiB")]
        max_body: String,
        /// Deadline of a synchronous call, e.g. "120s".
        #[arg(long, env = "WEFT_REQUEST_TIMEOUT", default_value = "120s")]
        request_timeout: String,
        /// How long an attempt owns its job between heartbeats, e.g. "30s".
        #[arg(long, env = "WEFT_JOB_LEASE", default_value = "30s")]
        job_lease: String,
        /// How long succeeded, dead and cancelled jobs are kept before they are pruned.
        #[arg(long, env = "WEFT_JOB_RETENTION", default_value = "7d")]
        job_retention: String,
        /// Turn API-token authentication off (local development only; refused unless the
        /// listen address is loopback).
        #[arg(long, env = "WEFT_INSECURE_NO_AUTH")]
        insecure_no_auth: bool,
        /// A host name clients use to reach this Weft (besides IP addresses and localhost);
        /// repeat for several. Requests naming another Host are refused (DNS rebinding).
        #[arg(
            long = "allowed-host",
            env = "WEFT_ALLOWED_HOSTS",
            value_delimiter = ','
        )]
        allowed_hosts: Vec<String>,
        /// Require a read-scoped token for /metrics (open by default).
        #[arg(long, env = "WEFT_METRICS_AUTH")]
        metrics_auth: bool,
        /// Adapters /readyz waits for: "all" (every manifest) or a comma-separated list.
        #[arg(long, env = "WEFT_REQUIRE_ADAPTERS", default_value = "all")]
        require_adapters: String,
        /// After SIGTERM, how long to keep accepting while /readyz answers 503.
        #[arg(long, env = "WEFT_SHUTDOWN_DELAY", default_value = "0s")]
        shutdown_delay: String,
        /// The longest each drain phase (requests in flight, then job attempts) may take.
        #[arg(long, env = "WEFT_SHUTDOWN_TIMEOUT", default_value = "60s")]
        shutdown_timeout: String,
        /// Connections served at once; past it a new one gets a 503 and is closed.
        #[arg(long, env = "WEFT_MAX_CONNECTIONS", default_value_t = 512)]
        max_connections: usize,
        /// How long a client may take to send a request's headers (also how long an idle
        /// keep-alive connection stays open).
        #[arg(long, env = "WEFT_HEADER_TIMEOUT", default_value = "10s")]
        header_timeout: String,
        /// How long a request body may take to arrive.
        #[arg(long, env = "WEFT_BODY_TIMEOUT", default_value = "30s")]
        body_timeout: String,
        /// Bytes of request bodies held at once across all requests; past it a request gets
        /// a 503.
        #[arg(long, env = "WEFT_MAX_BUFFERED", default_value = "256MiB")]
        max_buffered: String,
    },
    /// Create, list and revoke the API tokens of the front door.
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// List the schedules with their last and next ticks, or run one now.
    Schedules {
        #[command(subcommand)]
        command: Option<SchedulesCommand>,
    },
    /// Inspect and retry durable jobs in the store.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Print a new random store key (for WEFT_STORE_KEY).
    Keygen,
    /// Make something new: `weft new adapter NAME` writes a complete adapter (crate, manifest,
    /// fixtures) that builds and passes `weft test` as made.
    New {
        /// What to make: "adapter".
        #[arg(value_parser = ["adapter"])]
        kind: String,
        /// Its name: lower-case letters, digits and '-'.
        name: String,
    },
    /// Run an adapter against fixture files (folders mean their *.toml): exit 1 if a case fails.
    Test {
        /// Fixture files or folders, e.g. plugins/acme/fixtures.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The component (default: target/wasm32-wasip2/wasm/weft_NAME.wasm for
        /// plugins/NAME/…).
        #[arg(long)]
        component: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TokensCommand {
    /// Create a token and print it (shown once: only its hash is kept).
    Create {
        /// What the token is for, e.g. "erp-sync".
        #[arg(long)]
        name: String,
        /// admin, read, invoke or invoke:ADAPTER; repeat for several.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// List the tokens (ids, names, scopes; never the secret).
    List,
    /// Revoke a token by its id.
    Revoke {
        /// Token id (the part between "weft_" and the second "_").
        id: String,
    },
}

#[derive(Subcommand)]
enum SchedulesCommand {
    /// Every schedule: cadence, time zone, last tick and its outcome, next tick (the default).
    List,
    /// Run one schedule now, in this process, and print its outcome.
    Run {
        /// Adapter instance name.
        adapter: String,
        /// Schedule name.
        name: String,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// List jobs, newest first.
    List {
        /// queued, running, succeeded or dead.
        #[arg(long)]
        state: Option<String>,
        /// Only this adapter's jobs.
        #[arg(long)]
        adapter: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Show one job with its output or last error.
    Show {
        /// Job id.
        id: String,
    },
    /// Put a dead job back in the queue.
    Retry {
        /// Job id.
        id: String,
        /// Attempts to allow from now on (default: the adapter's `[retry] max_attempts`, as
        /// the front door's retry gives).
        #[arg(long)]
        attempts: Option<u32>,
    },
    /// Cancel a queued or dead job: it never runs (again).
    Cancel {
        /// Job id.
        id: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_log = match cli.command {
        Command::Serve { .. } => "info",
        Command::Check { .. }
        | Command::Adapters
        | Command::Jobs { .. }
        | Command::Schedules { .. }
        | Command::Keygen
        | Command::New { .. }
        | Command::Test { .. }
        | Command::Tokens { .. } => "warn",
        // The outcome is printed; the log only adds what went wrong on the way.
        Command::Invoke { .. } => "error",
    };
    let filter = tracing_subscriber::EnvFilter::try_new(cli.log.as_deref().unwrap_or(default_log))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_log));
    // wasmtime-wasi logs the raw bytes a guest writes to stdout and stderr at DEBUG, before
    // Weft's own scrubbed copy: whatever filter the operator asks for, that target stays off.
    let filter = match "wasmtime_wasi::p2::write_stream=off".parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    let traces = init_logs(&cli.log_format, filter);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    };
    if let Some(provider) = traces
        && let Err(e) = provider.shutdown()
    {
        eprintln!("warning: traces not all exported: {e}");
    }
    code
}

/// A fresh private folder under the system's temporary folder.
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "weft-test-{}-{}",
        std::process::id(),
        weft::jobs::now_ms()
    ));
    std::fs::create_dir_all(&dir)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(dir)
}

async fn open(cli: &Cli) -> anyhow::Result<Runtime> {
    let max: bytesize::ByteSize = cli.max_instance_memory.parse().map_err(|e| {
        anyhow::anyhow!("--max-instance-memory: expected a size such as \"512MiB\": {e}")
    })?;
    // A recording runs on a scratch store: no cached token (its fetch is part of the
    // exchanges), and nothing of the call left in the real store.
    let recording = matches!(
        &cli.command,
        Command::Invoke {
            record: Some(_),
            ..
        }
    );
    let data = if recording {
        tempfile_dir()?
    } else {
        cli.data.clone()
    };
    // `weft check FILE…`: the folder of those files.
    let manifests = match &cli.command {
        Command::Check { files } if !files.is_empty() => {
            let dirs: std::collections::BTreeSet<PathBuf> = files
                .iter()
                .map(|f| {
                    f.parent()
                        .filter(|p| !p.as_os_str().is_empty())
                        .unwrap_or(std::path::Path::new("."))
                        .to_path_buf()
                })
                .collect();
            if dirs.len() > 1 {
                anyhow::bail!("check files of one folder at a time");
            }
            dirs.into_iter()
                .next()
                .unwrap_or_else(|| cli.manifests.clone())
        }
        _ => cli.manifests.clone(),
    };
    let options = RuntimeOptions {
        manifests,
        data: data.clone(),
        engine: EngineOptions {
            max_instance_memory: max.as_u64(),
            max_instances: cli.max_instances,
            cache_dir: cli.cache_dir.clone(),
            ..EngineOptions::default()
        },
        store: Some(cli.store.clone()),
        store_key: if recording {
            None
        } else {
            cli.store_key.clone()
        },
        record: recording,
    };
    if recording {
        return Runtime::open(options)
            .await
            .context("cannot open a scratch runtime to record in");
    }
    let store = open_store(cli).await?;
    Runtime::with_store(options, store)
        .await
        .with_context(|| format!("cannot open Weft with data folder {}", data.display()))
}

/// The store, checked to be the one this data folder was used with (see `--init`).
async fn open_store(cli: &Cli) -> anyhow::Result<std::sync::Arc<dyn weft::store::Store>> {
    let store = weft::store::open(Some(&cli.store), &cli.data)
        .await
        .with_context(|| {
            format!(
                "cannot open the store of data folder {}",
                cli.data.display()
            )
        })?;
    weft::store::check_identity(store.as_ref(), &cli.data, cli.init).await?;
    Ok(store)
}

fn parse_size(flag: &str, text: &str) -> anyhow::Result<u64> {
    text.parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| {
            anyhow::anyhow!("{flag}: expected a size such as \"16MiB\", found {text:?}: {e}")
        })
}

fn parse_duration(flag: &str, text: &str) -> anyhow::Result<std::time::Duration> {
    humantime::parse_duration(text).map_err(|e| {
        anyhow::anyhow!("{flag}: expected a duration such as \"120s\", found {text:?}: {e}")
    })
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Jobs { command } => return jobs(&cli, command).await,
        Command::Serve {
            listen,
            workers,
            max_body,
            request_timeout,
            job_lease,
            job_retention,
            insecure_no_auth,
            allowed_hosts,
            metrics_auth,
            require_adapters,
            shutdown_delay,
            shutdown_timeout,
            max_connections,
            header_timeout,
            body_timeout,
            max_buffered,
        } => {
            let args = ServeArgs {
                listen,
                workers: *workers,
                max_body,
                request_timeout,
                job_lease,
                job_retention,
                insecure_no_auth: *insecure_no_auth,
                allowed_hosts,
                metrics_auth: *metrics_auth,
                require_adapters,
                shutdown_delay,
                shutdown_timeout,
                max_connections: *max_connections,
                header_timeout,
                body_timeout,
                max_buffered,
            };
            return serve(&cli, args).await;
        }
        Command::Tokens { command } => return tokens(&cli, command).await,
        Command::Keygen => {
            println!("{}", weft::seal::StoreKey::generate_text());
            return Ok(ExitCode::SUCCESS);
        }
        Command::New { name, .. } => {
            let written = weft::scaffold::write(std::path::Path::new("."), name)?;
            for path in written {
                println!("wrote {}", path.display());
            }
            println!(
                "next: make plugins && target/debug/weft test plugins/{name}/fixtures (docs/writing-an-adapter.md)"
            );
            return Ok(ExitCode::SUCCESS);
        }
        Command::Test { paths, component } => return fixtures(paths, component.as_deref()).await,
        Command::Schedules { command } => return schedules(&cli, command.as_ref()).await,
        _ => {}
    }
    let runtime = open(&cli).await?;
    match &cli.command {
        Command::Serve { .. }
        | Command::Jobs { .. }
        | Command::Schedules { .. }
        | Command::Keygen
        | Command::New { .. }
        | Command::Test { .. }
        | Command::Tokens { .. } => Ok(ExitCode::SUCCESS),
        Command::Check { files } => {
            let only: Vec<PathBuf> = files
                .iter()
                .filter_map(|f| f.file_name().map(PathBuf::from))
                .collect();
            let shown = |file: &std::path::Path| {
                only.is_empty()
                    || file
                        .file_name()
                        .is_some_and(|n| only.iter().any(|o| o == n))
            };
            let mut failed = 0;
            for a in runtime.adapters().into_iter().filter(|a| shown(&a.file)) {
                failed += usize::from(a.error.is_some());
                match &a.error {
                    None => println!(
                        "ok      {} ({}): version {}, operations: {}",
                        a.name,
                        a.file.display(),
                        a.version.as_deref().unwrap_or("?"),
                        a.operations.join(", ")
                    ),
                    Some(e) => println!("FAILED  {e}"),
                }
                if a.error.is_none()
                    && let Some(loaded) = runtime.registry().get(&a.name)
                {
                    let now = weft::jobs::now_ms();
                    for s in &loaded.manifest.schedules {
                        let Some(cadence) = &s.cadence else { continue };
                        let next: Vec<String> = weft::schedule::next_ticks(cadence, now, 3)
                            .into_iter()
                            .map(weft::clock::rfc3339)
                            .collect();
                        let zone = match cadence {
                            weft::manifest::Cadence::Cron(_, zone) => format!(" ({zone})"),
                            weft::manifest::Cadence::Every(_) => String::new(),
                        };
                        println!(
                            "        schedule {}: {}{zone}; next ticks {}",
                            s.name,
                            weft::schedule::describe_cadence(s),
                            next.join(", ")
                        );
                    }
                }
            }
            if failed > 0 {
                eprintln!("{failed} manifest(s) failed");
                return Ok(ExitCode::from(2));
            }
            if !runtime.adapters().iter().any(|a| shown(&a.file)) {
                eprintln!("no such manifests in {}", cli.manifests.display());
                return Ok(ExitCode::from(2));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Adapters => {
            println!("{}", serde_json::to_string_pretty(&runtime.adapters())?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Invoke {
            adapter,
            op,
            input,
            idempotency_key,
            record,
        } => {
            let input = match input.as_deref() {
                None => "{}".to_string(),
                Some("-") => {
                    let mut text = String::new();
                    std::io::stdin()
                        .read_to_string(&mut text)
                        .context("cannot read input from standard input")?;
                    text
                }
                Some(text) => text.to_string(),
            };
            let options = CallOptions {
                idempotency_key: idempotency_key.clone(),
                ..CallOptions::default()
            };
            let result = runtime.invoke(adapter, op, &input, options).await;
            if let Some(dir) = record
                && let Some(loaded) = runtime.registry().get(adapter)
            {
                let exchanges = runtime
                    .shared()
                    .recorder
                    .as_ref()
                    .map(|r| r.take())
                    .unwrap_or_default();
                let tokens = runtime.shared().tokens.cached_tokens(adapter);
                let path = weft::record::write_fixture(
                    dir,
                    &loaded.manifest,
                    op,
                    &input,
                    &result,
                    &exchanges,
                    &tokens,
                )
                .with_context(|| format!("cannot write the fixture in {}", dir.display()))?;
                eprintln!(
                    "recorded {} exchange(s) in {}",
                    exchanges.len(),
                    path.display()
                );
            }
            match result {
                Ok(output) => {
                    let pretty = serde_json::from_str::<serde_json::Value>(&output)
                        .and_then(|v| serde_json::to_string_pretty(&v))
                        .unwrap_or(output);
                    println!("{pretty}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    if let Some(code) = &e.platform_code {
                        eprintln!("  platform code: {code}");
                    }
                    for d in &e.details {
                        let at = d.index.map(|i| format!("[{i}]")).unwrap_or_default();
                        let field = d
                            .field
                            .as_ref()
                            .map(|f| format!(".{f}"))
                            .unwrap_or_default();
                        eprintln!("  {at}{field}: {}", d.message);
                    }
                    let code = u8::try_from(e.kind.exit_code()).unwrap_or(1);
                    Ok(ExitCode::from(code))
                }
            }
        }
    }
}
