//! `weft jobs`: find, show, retry and cancel durable jobs — in the store of this process, or
//! through a running Weft's API with `--server`.

use crate::remote::{Failure, Remote, exit_of};
use crate::show::{self, Output};
use crate::*;
use serde_json::Value;

/// Dead jobs one `weft jobs retry-dead` queues again at most (as the front door's).
const MAX_BULK: usize = 10_000;

/// A `--since`/`--until` value as unix ms: an RFC 3339 time, or a span back from now.
fn time_arg(flag: &str, text: &str) -> anyhow::Result<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    let span = humantime::parse_duration(text).map_err(|_| {
        anyhow::anyhow!(
            "--{flag}: expected an RFC 3339 time (2026-12-01T08:00:00Z) or a span back from now (2h, 1d), found {text:?}"
        )
    })?;
    Ok(weft::clock::now_ms() - i64::try_from(span.as_millis()).unwrap_or(i64::MAX / 2))
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Prints where the next page starts, if there is one.
fn more(next: Option<String>) {
    if let Some(after) = next {
        eprintln!("more jobs: --after {after}");
    }
}

pub(crate) async fn jobs(cli: &Cli, command: &JobsCommand) -> anyhow::Result<ExitCode> {
    let out = Output::of(&cli.output);
    if let Some(remote) = Remote::of(cli.server.as_deref(), cli.token_file.as_deref())? {
        return exit_of(served(&remote, out, command).await);
    }
    use weft::operations::{JobFilter, JobState};
    let ops = operations(cli).await?;
    match command {
        JobsCommand::List(search) => {
            let state = match search.state.as_deref() {
                None => None,
                Some(s) => Some(JobState::parse(s).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--state: expected queued, running, succeeded, dead or cancelled, found {s:?}"
                    )
                })?),
            };
            let after = match search.after.as_deref() {
                None => None,
                Some(c) => Some(
                    c.split_once(':')
                        .and_then(|(t, id)| Some((t.parse::<i64>().ok()?, id)))
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                                "--after: expected the cursor a page printed, found {c:?}"
                            )
                        })?,
                ),
            };
            let filter = JobFilter {
                state,
                adapter: search.adapter.as_deref(),
                after,
                op: search.op.as_deref(),
                idempotency_key: search.key.as_deref(),
                since_ms: search
                    .since
                    .as_deref()
                    .map(|t| time_arg("since", t))
                    .transpose()?,
                until_ms: search
                    .until
                    .as_deref()
                    .map(|t| time_arg("until", t))
                    .transpose()?,
            };
            let limit = search.limit.clamp(1, 1000);
            let list = ops.jobs(&filter, limit).await?;
            let next = (list.len() == limit as usize)
                .then(|| list.last().map(|j| format!("{}:{}", j.created_at_ms, j.id)))
                .flatten();
            out.print(&serde_json::to_value(&list)?, show::jobs);
            more(next);
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Show { id } => match ops.job_shown(id).await? {
            Some(job) => {
                out.print(&job, show::record);
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

/// `weft jobs …` through a running Weft's API.
async fn served(remote: &Remote, out: Output, command: &JobsCommand) -> Result<ExitCode, Failure> {
    match command {
        JobsCommand::List(search) => {
            let mut query: Vec<(&str, String)> = vec![("limit", search.limit.to_string())];
            for (name, value) in [
                ("state", &search.state),
                ("adapter", &search.adapter),
                ("op", &search.op),
                ("key", &search.key),
                ("after", &search.after),
            ] {
                if let Some(v) = value {
                    query.push((name, v.clone()));
                }
            }
            for (name, value) in [("since", &search.since), ("until", &search.until)] {
                if let Some(v) = value {
                    query.push((name, rfc3339(time_arg(name, v)?)));
                }
            }
            let answer = remote.get("/v1/jobs", &query).await?;
            out.print(&answer.body, show::jobs);
            more(answer.next);
        }
        JobsCommand::Show { id } => {
            let answer = remote
                .get(&format!("/v1/jobs/{}", segment(id)), &[])
                .await?;
            out.print(&answer.body, show::record);
        }
        JobsCommand::Retry { id, attempts } => {
            if attempts.is_some() {
                return Err(Failure::Other(anyhow::anyhow!(
                    "--attempts is not offered by the API: the server gives the adapter's [retry] max_attempts"
                )));
            }
            remote
                .post(&format!("/v1/jobs/{}/retry", segment(id)), &[], None)
                .await?;
            println!("job {id} queued again");
        }
        JobsCommand::RetryDead { adapter } => {
            let query: Vec<(&str, String)> =
                adapter.iter().map(|a| ("adapter", a.clone())).collect();
            let answer = remote.post("/v1/jobs:retry", &query, None).await?;
            println!(
                "{} dead jobs queued again",
                answer.body.get("queued").unwrap_or(&Value::Null)
            );
        }
        JobsCommand::Cancel { id } => {
            remote.delete(&format!("/v1/jobs/{}", segment(id))).await?;
            println!("job {id} cancelled");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One path segment, percent-encoded (an id or key may hold `/`, `?` or `#`).
pub(crate) fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
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
