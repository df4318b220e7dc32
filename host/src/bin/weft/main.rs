//! The `weft` command: the dispatch to the library. The definitions are in `cli`; the longer
//! commands live beside it — `serve`, `jobs`, `control` (tokens, schedules), `kit` (`weft
//! test`) and `logs`.

use anyhow::Context;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use weft::engine::EngineOptions;
use weft::operations::Operations;
use weft::{CallOptions, Runtime, RuntimeOptions};

mod cli;
mod config;
mod control;
mod health;
mod jobs;
mod kit;
mod local;
mod logs;
mod remote;
mod serve;
mod show;

use cli::{
    Cli, Command, FixtureCommand, JobsCommand, SchedulesCommand, StorageCommand, StoreCommand,
    TokensCommand,
};
use control::{deployment_totals, pause, schedules, storage, store, tokens};
use jobs::jobs;
use kit::{fixtures, from_call, replay};
use logs::init_logs;
use serve::serve;

fn main() -> ExitCode {
    let (cli, matches) = match config::parse() {
        Ok(parsed) => parsed,
        Err(config::ParseError::Usage(e)) => {
            // Help and version are answers (exit 0); a usage error exits 1, as the README's
            // table says, apart from a configuration error's 2 (clap's own default).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
        Err(config::ParseError::Config(message)) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    match &cli.command {
        Command::Serve(args) if args.print_config => {
            config::print(&matches);
            return ExitCode::SUCCESS;
        }
        Command::Reference => {
            print!("{}", config::reference());
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let default_log = match cli.command {
        Command::Serve { .. } => "info",
        Command::Check { .. }
        | Command::Adapters
        | Command::Status
        | Command::Reload
        | Command::Reference
        | Command::Jobs { .. }
        | Command::Storage { .. }
        | Command::Schedules { .. }
        | Command::Keygen
        | Command::Store { .. }
        | Command::Pause { .. }
        | Command::Resume { .. }
        | Command::New { .. }
        | Command::Test { .. }
        | Command::Fixture { .. }
        | Command::Replay { .. }
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
        weft::clock::now_ms()
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
            max_memory: match cli.max_memory.as_str() {
                "auto" | "" => weft::engine::default_max_memory(),
                other => parse_size("--max-memory", other)?,
            },
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
    let store = operations(cli).await?.store();
    Runtime::with_store(options, store)
        .await
        .with_context(|| format!("cannot open Weft with data folder {}", data.display()))
}

/// The operations over the store, checked to be the one this data folder was used with (see
/// `--init`), without starting a host.
async fn operations(cli: &Cli) -> anyhow::Result<Operations> {
    let timeout = parse_duration("--store-timeout", &cli.store_timeout)?;
    Operations::open(
        Some(&cli.store),
        &cli.data,
        &cli.manifests,
        timeout,
        cli.init,
    )
    .await
    .with_context(|| {
        format!(
            "cannot open the store of data folder {}",
            cli.data.display()
        )
    })
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
        Command::Storage { command } => return storage(&cli, command).await,
        Command::Serve(args) => return serve(&cli, args).await,
        Command::Tokens { command } => return tokens(&cli, command).await,
        Command::Pause {
            adapter,
            refuse_calls,
        } => return pause(&cli, adapter, Some(*refuse_calls)).await,
        Command::Resume { adapter } => return pause(&cli, adapter, None).await,
        Command::Keygen => {
            println!("{}", weft::seal::StoreKey::generate_text());
            return Ok(ExitCode::SUCCESS);
        }
        Command::Store { command } => return store(&cli, command).await,
        Command::New { name, lang, .. } => {
            let lang = weft::scaffold::Lang::parse(lang).unwrap_or_default();
            let written = weft::scaffold::write(std::path::Path::new("."), name, lang)?;
            let folder = match lang {
                weft::scaffold::Lang::Rust => format!("plugins/{name}"),
                weft::scaffold::Lang::TypeScript => format!("plugins/typescript/{name}"),
                weft::scaffold::Lang::Python => format!("plugins/python/{name}"),
            };
            for path in written {
                println!("wrote {}", path.display());
            }
            println!(
                "next: make plugins && target/debug/weft test {folder}/fixtures (docs/writing-an-adapter.md)"
            );
            return Ok(ExitCode::SUCCESS);
        }
        Command::Test { paths, component } => {
            return fixtures(paths, component.as_deref(), cli.max_instances).await;
        }
        Command::Fixture {
            command: FixtureCommand::FromCall { id, dir },
        } => return from_call(&cli, id, dir.as_deref()).await,
        Command::Replay { id, component } => return replay(&cli, id, component).await,
        Command::Schedules { command } => return schedules(&cli, command.as_ref()).await,
        Command::Adapters | Command::Status | Command::Reload => {
            let out = show::Output::of(&cli.output);
            match remote::Remote::of(cli.server.as_deref(), cli.token_file.as_deref())? {
                Some(server) => {
                    return remote::exit_of(match &cli.command {
                        Command::Status => health::status(&server, out).await,
                        Command::Reload => match server.post("/v1/admin/reload", &[], None).await {
                            Ok(answer) => {
                                out.print(&answer.body, show::adapters);
                                Ok(health::health_exit(health::failed(&answer.body).is_empty()))
                            }
                            Err(e) => Err(e),
                        },
                        _ => health::served_adapters(&server, out).await,
                    });
                }
                None if !matches!(cli.command, Command::Adapters) => {
                    eprintln!(
                        "error: this command asks a running Weft: give --server URL (or WEFT_URL) and its token (WEFT_TOKEN or --token-file)"
                    );
                    return Ok(ExitCode::from(1));
                }
                None => {}
            }
        }
        _ => {}
    }
    let runtime = open(&cli).await?;
    match &cli.command {
        Command::Serve { .. }
        | Command::Jobs { .. }
        | Command::Storage { .. }
        | Command::Schedules { .. }
        | Command::Keygen
        | Command::Store { .. }
        | Command::Pause { .. }
        | Command::Resume { .. }
        | Command::New { .. }
        | Command::Test { .. }
        | Command::Fixture { .. }
        | Command::Replay { .. }
        | Command::Tokens { .. } => Ok(ExitCode::SUCCESS),
        Command::Check { files } => local::check(&cli, &runtime, files),
        Command::Adapters => {
            let list = serde_json::to_value(runtime.adapters())?;
            show::Output::of(&cli.output).print(&list, show::adapters);
            Ok(health::health_exit(health::failed(&list).is_empty()))
        }
        Command::Status | Command::Reload | Command::Reference => Ok(ExitCode::from(1)),
        Command::Invoke {
            adapter,
            op,
            input,
            idempotency_key,
            record,
        } => {
            local::invoke(
                &runtime,
                adapter,
                op,
                input.as_deref(),
                idempotency_key.as_deref(),
                record.as_ref(),
            )
            .await
        }
    }
}
