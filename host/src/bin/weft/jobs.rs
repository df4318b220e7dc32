//! `weft jobs`: list, show, retry and cancel durable jobs in the store.

use crate::*;

/// Dead jobs one `weft jobs retry-dead` queues again at most (as the front door's).
const MAX_BULK: usize = 10_000;

pub(crate) async fn jobs(cli: &Cli, command: &JobsCommand) -> anyhow::Result<ExitCode> {
    use weft::operations::{JobFilter, JobState};
    let ops = operations(cli).await?;
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
            let filter = JobFilter {
                state,
                adapter: adapter.as_deref(),
                after: None,
            };
            let list = ops.jobs(&filter, *limit).await?;
            println!("{}", serde_json::to_string_pretty(&list)?);
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Show { id } => match ops.job_shown(id).await? {
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
            let change = ops.retry(id, *attempts).await?;
            Ok(job_change(
                id,
                change,
                "queued again",
                "only a dead job can be retried",
            ))
        }
        JobsCommand::RetryDead { adapter } => {
            let queued = ops.retry_dead(adapter.as_deref(), MAX_BULK).await?;
            println!("{queued} dead jobs queued again");
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Cancel { id } => {
            let change = ops.cancel(id).await?;
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
