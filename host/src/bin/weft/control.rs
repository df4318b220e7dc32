//! `weft tokens`, `weft schedules` and `weft storage`: the control plane from the command
//! line.

use crate::*;

pub(crate) async fn tokens(cli: &Cli, command: &TokensCommand) -> anyhow::Result<ExitCode> {
    let tokens = weft::front::ApiTokens::new(&operations(cli).await?);
    match command {
        TokensCommand::Create { name, scopes } => {
            let (token, value) = tokens.create(name, scopes).await?;
            eprintln!(
                "token {} ({}) created with scopes {}; this is the only time its value is shown:",
                token.id,
                token.name,
                token.scopes.join(", ")
            );
            println!("{value}");
            Ok(ExitCode::SUCCESS)
        }
        TokensCommand::List => {
            println!("{}", serde_json::to_string_pretty(&tokens.list().await?)?);
            Ok(ExitCode::SUCCESS)
        }
        TokensCommand::Revoke { id } => {
            if tokens.revoke(id).await? {
                println!("token {id} revoked");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("error: no token {id}");
                Ok(ExitCode::from(19))
            }
        }
    }
}

pub(crate) async fn schedules(
    cli: &Cli,
    command: Option<&SchedulesCommand>,
) -> anyhow::Result<ExitCode> {
    let runtime = std::sync::Arc::new(open(cli).await?);
    match command {
        None | Some(SchedulesCommand::List) => {
            let ops = weft::operations::Operations::new(runtime.clone());
            println!("{}", serde_json::to_string_pretty(&ops.schedules().await)?);
            Ok(ExitCode::SUCCESS)
        }
        Some(SchedulesCommand::Run { adapter, name }) => {
            let loaded = runtime
                .adapter(adapter, &weft::schedule::job_op(name))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if !loaded.manifest.schedules.iter().any(|s| &s.name == name) {
                eprintln!("error: adapter {adapter} has no schedule {name:?}");
                return Ok(ExitCode::from(19));
            }
            match loaded.on_schedule(name).await {
                Ok(()) => {
                    println!("schedule {name} of adapter {adapter} ran");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(
                        u8::try_from(e.kind.exit_code()).unwrap_or(1),
                    ))
                }
            }
        }
    }
}

/// `weft pause NAME [--refuse-calls]` (`refuse_calls` given) and `weft resume NAME` (none).
pub(crate) async fn pause(
    cli: &Cli,
    adapter: &str,
    refuse_calls: Option<bool>,
) -> anyhow::Result<ExitCode> {
    let ops = operations(cli).await?;
    match refuse_calls {
        Some(refuse) => {
            ops.pause(adapter, refuse).await?;
            let how = if refuse {
                " (its calls are refused)"
            } else {
                ""
            };
            println!("{adapter} paused{how}");
        }
        None => {
            let was = ops.resume(adapter).await?;
            println!(
                "{adapter} {}",
                if was { "resumed" } else { "was not paused" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `weft check`'s last line: what the loaded adapters reserve of the instance pool, and the
/// job workers `weft serve` would start with by default.
pub(crate) fn deployment_totals(cli: &Cli, runtime: &Runtime) -> String {
    let loaded: Vec<_> = runtime
        .registry()
        .names()
        .iter()
        .filter_map(|n| runtime.registry().get(n))
        .collect();
    let reserved: u32 = loaded
        .iter()
        .map(|a| weft::registry::reserved_instances(&a.manifest))
        .sum();
    let concurrency: u32 = loaded.iter().map(|a| a.manifest.limits.concurrency).sum();
    format!(
        "totals  {} adapters loaded; instances reserved {reserved} of {} (--max-instances); job workers by default {} (their limits.concurrency together, from 16 to 512)",
        loaded.len(),
        cli.max_instances,
        (concurrency as usize).clamp(16, 512)
    )
}

pub(crate) async fn storage(cli: &Cli, command: &StorageCommand) -> anyhow::Result<ExitCode> {
    let ops = operations(cli).await?;
    let by = "the command line (weft storage)";
    match command {
        StorageCommand::List {
            adapter,
            prefix,
            after,
            limit,
        } => {
            let page = ops
                .storage_keys(adapter, prefix, after.as_deref(), *limit)
                .await?;
            println!("{}", serde_json::to_string_pretty(&page.keys)?);
            if let Some(after) = page.next_after {
                eprintln!("more keys: --after {after:?}");
            }
            Ok(ExitCode::SUCCESS)
        }
        StorageCommand::Get { adapter, key } => match ops.storage_value(adapter, key, by).await? {
            Some(value) => {
                println!("{}", serde_json::to_string_pretty(&value)?);
                Ok(ExitCode::SUCCESS)
            }
            None => {
                eprintln!("error: adapter {adapter:?} holds no key {key:?}");
                Ok(ExitCode::from(19))
            }
        },
        StorageCommand::Delete { adapter, key } => {
            if ops.storage_delete(adapter, key, by).await? {
                println!("deleted {key:?} of {adapter}");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("error: adapter {adapter:?} holds no key {key:?}");
                Ok(ExitCode::from(19))
            }
        }
    }
}
