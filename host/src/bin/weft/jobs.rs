//! `weft jobs`: list, show, retry and cancel durable jobs in the store.

use crate::*;

pub(crate) async fn jobs(cli: &Cli, command: &JobsCommand) -> anyhow::Result<ExitCode> {
    use weft::store::JobState;
    let store = open_store(cli).await?;
    match command {
        JobsCommand::List {
            state,
            adapter,
            limit,
        } => {
            let state = match state.as_deref() {
                None => None,
                Some(s) => Some(JobState::parse(s).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--state: expected queued, running, succeeded or dead, found {s:?}"
                    )
                })?),
            };
            let list = store.job_list(state, adapter.as_deref(), *limit).await?;
            println!("{}", serde_json::to_string_pretty(&list)?);
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Show { id } => match store.job_get(id).await? {
            Some(job) => {
                println!("{}", serde_json::to_string_pretty(&job)?);
                Ok(ExitCode::SUCCESS)
            }
            None => {
                eprintln!("error: no job {id}");
                Ok(ExitCode::from(19))
            }
        },
        JobsCommand::Retry { id, attempts } => {
            let attempts = match attempts {
                Some(n) => *n,
                None => {
                    let adapter = store.job_get(id).await?.map(|j| j.adapter);
                    let manifest = adapter.and_then(|a| manifest_named(&cli.manifests, &a));
                    weft::jobs::retry_attempts(manifest.as_ref())
                }
            };
            let change = weft::jobs::retry(store.as_ref(), id, attempts).await?;
            Ok(job_change(
                id,
                change,
                "queued again",
                "only a dead job can be retried",
            ))
        }
        JobsCommand::Cancel { id } => {
            let change = weft::jobs::cancel(store.as_ref(), id).await?;
            Ok(job_change(
                id,
                change,
                "cancelled",
                "only a queued or dead job can be cancelled",
            ))
        }
    }
}

/// Prints what a retry or cancel did; the exit code names its kind (19 not found, 12 conflict).
pub(crate) fn job_change(
    id: &str,
    change: weft::jobs::JobChange,
    done: &str,
    refused: &str,
) -> ExitCode {
    match change {
        weft::jobs::JobChange::Done => {
            println!("job {id} {done}");
            ExitCode::SUCCESS
        }
        weft::jobs::JobChange::NotFound => {
            eprintln!("error: no job {id}");
            ExitCode::from(19)
        }
        weft::jobs::JobChange::Refused(state) => {
            eprintln!("error: job {id} is {}, {refused}", state.as_str());
            ExitCode::from(12)
        }
    }
}

/// The manifest in `dir` of adapter `name`, parsed without loading its component (the CLI's
/// job commands need its `[retry]` only).
pub(crate) fn manifest_named(
    dir: &std::path::Path,
    name: &str,
) -> Option<weft::manifest::Manifest> {
    let env = |v: &str| std::env::var(v).ok();
    weft::manifest::files_in(dir)
        .ok()?
        .into_iter()
        .find_map(|file| {
            let text = weft::files::read_regular(&file, weft::files::MAX_MANIFEST).ok()?;
            let text = String::from_utf8(text).ok()?;
            weft::manifest::parse(&file, &text, &env)
                .ok()
                .filter(|m| m.name == name)
        })
}
