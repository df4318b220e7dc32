//! `weft tokens` and `weft schedules`: the control plane from the command line.

use crate::*;

pub(crate) async fn tokens(cli: &Cli, command: &TokensCommand) -> anyhow::Result<ExitCode> {
    let store = open_store(cli).await?;
    let tokens = weft::front::ApiTokens::new(store);
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
    let runtime = open(cli).await?;
    match command {
        None | Some(SchedulesCommand::List) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&runtime.schedules().await)?
            );
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
