//! `weft adapters` and `weft status` asked of a running Weft: what is loaded, failed or
//! paused, and whether jobs died; both exit 3 when something needs an operator.

use crate::remote::{Failure, Remote};
use crate::show::{self, Output};
use serde_json::Value;
use std::process::ExitCode;

/// `weft adapters` through a running Weft; exit 3 if any adapter failed.
pub(crate) async fn served_adapters(remote: &Remote, out: Output) -> Result<ExitCode, Failure> {
    let list = remote.get("/v1/adapters", &[]).await?.body;
    out.print(&list, show::adapters);
    Ok(health_exit(failed(&list).is_empty()))
}

/// The names of the adapters a listing shows as failed.
pub(crate) fn failed(list: &Value) -> Vec<String> {
    list.as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter(|a| a.get("status").and_then(Value::as_str) == Some("failed"))
        .filter_map(|a| a.get("name").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// 0 when healthy; 3 when something needs an operator (README's table).
pub(crate) fn health_exit(healthy: bool) -> ExitCode {
    if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    }
}

/// Dead jobs counted at most by `weft status`.
const DEAD_COUNTED: usize = 1000;

/// `weft status`: readiness, failed and paused adapters, dead jobs; exit 3 unless all is well.
pub(crate) async fn status(remote: &Remote, out: Output) -> Result<ExitCode, Failure> {
    let (ready, not_ready) = match remote.get("/readyz", &[]).await {
        Ok(_) => (true, None),
        Err(Failure::Refused(r)) => (false, Some(r.to_string())),
        Err(e) => return Err(e),
    };
    let list = remote.get("/v1/adapters", &[]).await?.body;
    let failed = failed(&list);
    let paused: Vec<String> = list
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter(|a| a.get("paused").is_some_and(|p| !p.is_null()))
        .filter_map(|a| a.get("name").and_then(Value::as_str).map(str::to_string))
        .collect();
    let dead = remote
        .get(
            "/v1/jobs",
            &[
                ("state", "dead".into()),
                ("limit", DEAD_COUNTED.to_string()),
            ],
        )
        .await?;
    let dead_jobs = dead.body.as_array().map_or(0, Vec::len);
    let summary = serde_json::json!({
        "ready": ready,
        "not_ready": not_ready,
        "adapters": list.as_array().map_or(0, Vec::len),
        "failed_adapters": failed,
        "paused_adapters": paused,
        "dead_jobs": dead_jobs,
        "dead_jobs_more": dead.next.is_some(),
    });
    out.print(&summary, |s| {
        let list = |f: &str| {
            s.get(f)
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .map_or("none".to_string(), |a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
        };
        let more = if s["dead_jobs_more"] == Value::Bool(true) {
            "+"
        } else {
            ""
        };
        format!(
            "ready     {}\nadapters  {} loaded; failed: {}; paused: {}\ndead jobs {}{more}\n",
            match s.get("not_ready").and_then(Value::as_str) {
                Some(why) => format!("no: {why}"),
                None => "yes".into(),
            },
            s["adapters"],
            list("failed_adapters"),
            list("paused_adapters"),
            s["dead_jobs"],
        )
    });
    Ok(health_exit(ready && failed.is_empty() && dead_jobs == 0))
}
