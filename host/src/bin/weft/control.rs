//! `weft tokens`, `weft schedules` and `weft storage`: the control plane from the command
//! line.

use crate::jobs::segment;
use crate::remote::{Failure, Remote, exit_of};
use crate::show::{self, Output};
use crate::*;
use serde_json::Value;

pub(crate) async fn tokens(cli: &Cli, command: &TokensCommand) -> anyhow::Result<ExitCode> {
    let out = Output::of(&cli.output);
    if let Some(remote) = Remote::of(cli.server.as_deref(), cli.token_file.as_deref())? {
        return exit_of(served_tokens(&remote, out, command).await);
    }
    let tokens = weft::front::ApiTokens::new(&operations(cli).await?);
    match command {
        TokensCommand::Create { name, scopes } => {
            let (token, value) = tokens.create(name, scopes).await?;
            created(&token.id, &token.name, &token.scopes, &value);
            Ok(ExitCode::SUCCESS)
        }
        TokensCommand::List => {
            out.print(&serde_json::to_value(tokens.list().await?)?, show::tokens);
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

/// Prints a new token: what it is on standard error, its value alone on standard output.
fn created(id: &str, name: &str, scopes: &[String], value: &str) {
    eprintln!(
        "token {id} ({name}) created with scopes {}; this is the only time its value is shown:",
        scopes.join(", ")
    );
    println!("{value}");
}

async fn served_tokens(
    remote: &Remote,
    out: Output,
    command: &TokensCommand,
) -> Result<ExitCode, Failure> {
    match command {
        TokensCommand::Create { name, scopes } => {
            let body = serde_json::json!({ "name": name, "scopes": scopes });
            let made = remote.post("/v1/tokens", &[], Some(body)).await?.body;
            let text = |f: &str| {
                made.get(f)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            created(&text("id"), &text("name"), scopes, &text("token"));
        }
        TokensCommand::List => out.print(&remote.get("/v1/tokens", &[]).await?.body, show::tokens),
        TokensCommand::Revoke { id } => {
            remote
                .delete(&format!("/v1/tokens/{}", segment(id)))
                .await?;
            println!("token {id} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn schedules(
    cli: &Cli,
    command: Option<&SchedulesCommand>,
) -> anyhow::Result<ExitCode> {
    let out = Output::of(&cli.output);
    if let Some(remote) = Remote::of(cli.server.as_deref(), cli.token_file.as_deref())? {
        return exit_of(served_schedules(&remote, out, command).await);
    }
    match command {
        Some(SchedulesCommand::Pause { adapter, name }) => {
            operations(cli).await?.pause_schedule(adapter, name).await?;
            println!("schedule {name} of {adapter} paused");
            return Ok(ExitCode::SUCCESS);
        }
        Some(SchedulesCommand::Resume { adapter, name }) => {
            let was = operations(cli)
                .await?
                .resume_schedule(adapter, name)
                .await?;
            println!(
                "schedule {name} of {adapter} {}",
                if was { "resumed" } else { "was not paused" }
            );
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let runtime = std::sync::Arc::new(open(cli).await?);
    let ops = weft::operations::Operations::new(runtime.clone());
    match command {
        None | Some(SchedulesCommand::List) => {
            out.print(
                &serde_json::to_value(ops.schedules().await)?,
                show::schedules,
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(SchedulesCommand::Show { adapter, name }) => {
            let Some(status) = ops.schedule(adapter, name).await else {
                eprintln!("error: adapter {adapter} has no schedule {name:?}");
                return Ok(ExitCode::from(19));
            };
            let mut shown = serde_json::to_value(status)?;
            if let Some(map) = shown.as_object_mut() {
                map.insert(
                    "runs".into(),
                    serde_json::to_value(ops.schedule_runs(adapter, name).await?)?,
                );
            }
            out.print(&shown, show::schedule);
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
        Some(SchedulesCommand::Pause { .. } | SchedulesCommand::Resume { .. }) => {
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn served_schedules(
    remote: &Remote,
    out: Output,
    command: Option<&SchedulesCommand>,
) -> Result<ExitCode, Failure> {
    let path =
        |adapter: &str, name: &str| format!("/v1/schedules/{}/{}", segment(adapter), segment(name));
    match command {
        None | Some(SchedulesCommand::List) => out.print(
            &remote.get("/v1/schedules", &[]).await?.body,
            show::schedules,
        ),
        Some(SchedulesCommand::Show { adapter, name }) => out.print(
            &remote.get(&path(adapter, name), &[]).await?.body,
            show::schedule,
        ),
        Some(SchedulesCommand::Run { adapter, name }) => {
            let answer = remote
                .post(&format!("{}/run", path(adapter, name)), &[], None)
                .await?;
            println!(
                "schedule {name} of {adapter} queued as job {}",
                answer
                    .body
                    .get("job_id")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
            );
        }
        Some(SchedulesCommand::Pause { adapter, name }) => {
            remote
                .post(&format!("{}/pause", path(adapter, name)), &[], None)
                .await?;
            println!("schedule {name} of {adapter} paused");
        }
        Some(SchedulesCommand::Resume { adapter, name }) => {
            let answer = remote
                .post(&format!("{}/resume", path(adapter, name)), &[], None)
                .await?;
            let was = answer.body.get("was_paused").and_then(Value::as_bool) == Some(true);
            println!(
                "schedule {name} of {adapter} {}",
                if was { "resumed" } else { "was not paused" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `weft pause NAME [--refuse-calls]` (`refuse_calls` given) and `weft resume NAME` (none).
pub(crate) async fn pause(
    cli: &Cli,
    adapter: &str,
    refuse_calls: Option<bool>,
) -> anyhow::Result<ExitCode> {
    if let Some(remote) = Remote::of(cli.server.as_deref(), cli.token_file.as_deref())? {
        let path = format!("/v1/adapters/{}", segment(adapter));
        return exit_of(
            async {
                match refuse_calls {
                    Some(refuse) => {
                        let calls = if refuse { "refuse" } else { "allow" };
                        remote
                            .post(&format!("{path}/pause"), &[("calls", calls.into())], None)
                            .await?;
                        println!(
                            "{adapter} paused{}",
                            if refuse {
                                " (its calls are refused)"
                            } else {
                                ""
                            }
                        );
                    }
                    None => {
                        remote.post(&format!("{path}/resume"), &[], None).await?;
                        println!("{adapter} resumed");
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            .await,
        );
    }
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
    let out = Output::of(&cli.output);
    if let Some(remote) = Remote::of(cli.server.as_deref(), cli.token_file.as_deref())? {
        return exit_of(served_storage(&remote, out, command).await);
    }
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
            let shown = serde_json::json!({
                "adapter": adapter, "keys": page.keys, "next_after": page.next_after,
            });
            out.print(&shown, show::keys);
            more_keys(&shown);
            Ok(ExitCode::SUCCESS)
        }
        StorageCommand::Get { adapter, key } => match ops.storage_value(adapter, key, by).await? {
            Some(value) => {
                out.print(&serde_json::to_value(value)?, show::json);
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

fn more_keys(page: &Value) {
    if let Some(after) = page.get("next_after").and_then(Value::as_str) {
        eprintln!("more keys: --after {after:?}");
    }
}

async fn served_storage(
    remote: &Remote,
    out: Output,
    command: &StorageCommand,
) -> Result<ExitCode, Failure> {
    match command {
        StorageCommand::List {
            adapter,
            prefix,
            after,
            limit,
        } => {
            let mut query = vec![("prefix", prefix.clone()), ("limit", limit.to_string())];
            if let Some(a) = after {
                query.push(("after", a.clone()));
            }
            let path = format!("/v1/adapters/{}/storage", segment(adapter));
            let page = remote.get(&path, &query).await?.body;
            out.print(&page, show::keys);
            more_keys(&page);
        }
        StorageCommand::Get { adapter, key } => {
            let path = format!("/v1/adapters/{}/storage/{}", segment(adapter), segment(key));
            out.print(&remote.get(&path, &[]).await?.body, show::json);
        }
        StorageCommand::Delete { adapter, key } => {
            let path = format!("/v1/adapters/{}/storage/{}", segment(adapter), segment(key));
            remote.delete(&path).await?;
            println!("deleted {key:?} of {adapter}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `weft store backup FILE` and `weft store restore FILE [--replace]`.
pub(crate) async fn store(cli: &Cli, command: &StoreCommand) -> anyhow::Result<ExitCode> {
    match command {
        StoreCommand::Backup { file } => {
            let ops = operations(cli).await?;
            let started = std::time::Instant::now();
            ops.backup(file)
                .await
                .with_context(|| format!("cannot back up the store to {}", file.display()))?;
            let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
            println!(
                "store backed up to {} ({}, {:.1}s); a restore needs the store key it was made under: keep it apart",
                file.display(),
                bytesize::ByteSize(size),
                started.elapsed().as_secs_f64()
            );
        }
        StoreCommand::Restore { file, replace } => {
            if !matches!(cli.store.as_str(), "" | "sqlite") {
                anyhow::bail!(
                    "weft store restore restores the embedded store; PostgreSQL is restored with its own tools"
                );
            }
            let restored =
                weft::operations::restore(file, &cli.data, cli.store_key.as_deref(), *replace)
                    .await
                    .with_context(|| format!("cannot restore {}", file.display()))?;
            println!(
                "restored {} as the store of {} (store id {})",
                file.display(),
                cli.data.display(),
                restored.store_id
            );
            if let Some(previous) = restored.previous {
                println!("the store that was there is kept as {}", previous.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
