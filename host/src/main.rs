//! The `weft` command: check manifests, run one operation, list adapters.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use weft::engine::EngineOptions;
use weft::{CallOptions, Runtime, RuntimeOptions};

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
    /// Log filter (tracing's EnvFilter syntax), e.g. "info" or "weft=debug".
    #[arg(long, global = true, env = "WEFT_LOG")]
    log: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate every manifest and component; exit 2 if any fails.
    Check,
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
    },
    /// List the adapters with their status, version and operations.
    Adapters,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_log = match cli.command {
        Command::Check | Command::Adapters => "warn",
        // The outcome is printed; the log only adds what went wrong on the way.
        Command::Invoke { .. } => "error",
    };
    let filter = tracing_subscriber::EnvFilter::try_new(cli.log.as_deref().unwrap_or(default_log))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_log));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn open(cli: &Cli) -> anyhow::Result<Runtime> {
    let max: bytesize::ByteSize = cli.max_instance_memory.parse().map_err(|e| {
        anyhow::anyhow!("--max-instance-memory: expected a size such as \"512MiB\": {e}")
    })?;
    let options = RuntimeOptions {
        manifests: cli.manifests.clone(),
        data: cli.data.clone(),
        engine: EngineOptions {
            max_instance_memory: max.as_u64(),
            ..EngineOptions::default()
        },
    };
    Runtime::open(options)
        .await
        .with_context(|| format!("cannot open Weft with data folder {}", cli.data.display()))
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = open(&cli).await?;
    match &cli.command {
        Command::Check => {
            for a in runtime.adapters() {
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
            }
            let failed = runtime.load_errors().len();
            if failed > 0 {
                eprintln!("{failed} manifest(s) failed");
                return Ok(ExitCode::from(2));
            }
            if runtime.adapters().is_empty() {
                eprintln!("no manifests in {}", cli.manifests.display());
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
            match runtime.invoke(adapter, op, &input, options).await {
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
