//! How the CLI prints what it read: a table with human times for a person at a terminal, the
//! API's JSON for a script (`--output json`, and whenever standard output is not a terminal,
//! so a pipe gets what it can parse). Local and remote commands print the same shapes: both
//! hold the JSON the API answers.

use serde_json::Value;
use std::io::IsTerminal;

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    /// Columns and human times.
    Table,
    /// The JSON as the API answers it, pretty-printed.
    Json,
}

impl Output {
    /// `--output`'s choice; `auto` is a table on a terminal and JSON otherwise.
    pub(crate) fn of(flag: &str) -> Self {
        match flag {
            "json" => Self::Json,
            "table" => Self::Table,
            _ if std::io::stdout().is_terminal() => Self::Table,
            _ => Self::Json,
        }
    }

    /// Prints `value` as JSON, or as the table `table` makes of it.
    pub(crate) fn print(self, value: &Value, table: fn(&Value) -> String) {
        match self {
            Self::Json => println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            ),
            Self::Table => print!("{}", table(value)),
        }
    }
}

/// A table: a header line and rows, columns two spaces apart, the last column unpadded.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    if rows.is_empty() {
        return "(none)\n".into();
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = String>| {
        let cells: Vec<String> = cells.collect();
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths[i].saturating_sub(cell.chars().count()) + 2;
                out.push_str(&" ".repeat(pad));
            }
        }
        out.push('\n');
    };
    line(&mut out, &mut header.iter().map(|h| h.to_string()));
    for row in rows {
        line(&mut out, &mut row.into_iter());
    }
    out
}

/// `value[field]` as text: strings bare, numbers and booleans as written, nothing as "-".
fn text(value: &Value, field: &str) -> String {
    match value.get(field) {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

/// The first `max` characters of `s` on one line.
fn cut(s: &str, max: usize) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= max {
        one
    } else {
        format!("{}…", one.chars().take(max - 1).collect::<String>())
    }
}

/// A time (unix ms) from now: `42s ago`, `in 5h`, `now`.
pub(crate) fn ago(ms: i64) -> String {
    weft::front::words::relative(ms, weft::clock::now_ms())
}

/// `value[field]` as a time from now, read as unix ms or RFC 3339.
fn when(value: &Value, field: &str) -> String {
    match value.get(field) {
        Some(Value::Number(n)) => n.as_i64().map_or_else(|| "-".into(), ago),
        Some(Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s)
            .map_or_else(|_| s.clone(), |t| ago(t.timestamp_millis())),
        _ => "-".into(),
    }
}

/// A problem object's words.
fn problem(value: &Value, field: &str) -> String {
    match value.get(field) {
        None | Some(Value::Null) => "-".into(),
        Some(p) => cut(
            p.get("detail")
                .and_then(Value::as_str)
                .map_or_else(|| p.to_string(), str::to_string)
                .as_str(),
            70,
        ),
    }
}

fn rows(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

/// `weft adapters`.
pub(crate) fn adapters(value: &Value) -> String {
    let rows = rows(value)
        .iter()
        .map(|a| {
            vec![
                text(a, "name"),
                text(a, "status"),
                text(a, "version"),
                a.get("operations")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
                    .to_string(),
                cut(&text(a, "error"), 80),
            ]
        })
        .collect();
    table(&["NAME", "STATUS", "VERSION", "OPS", "ERROR"], rows)
}

/// `weft jobs list`.
pub(crate) fn jobs(value: &Value) -> String {
    let rows = rows(value)
        .iter()
        .map(|j| {
            vec![
                text(j, "id"),
                text(j, "adapter"),
                text(j, "op"),
                text(j, "state"),
                format!("{}/{}", text(j, "attempt"), text(j, "max_attempts")),
                when(j, "created_at_ms"),
                cut(&text(j, "idempotency_key"), 40),
                problem(j, "last_error"),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "ADAPTER",
            "OP",
            "STATE",
            "ATTEMPT",
            "CREATED",
            "KEY",
            "LAST ERROR",
        ],
        rows,
    )
}

/// One record, a field a line; times also from now, objects as compact JSON.
pub(crate) fn record(value: &Value) -> String {
    let Some(map) = value.as_object() else {
        return format!("{value}\n");
    };
    let width = map.keys().map(|k| k.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (key, v) in map {
        let shown = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let human = if key.ends_with("_ms") && v.is_i64() && !key.starts_with("duration") {
            format!(" ({})", when(value, key))
        } else {
            String::new()
        };
        out.push_str(&format!("{key:width$}  {}{human}\n", cut(&shown, 400)));
    }
    out
}

/// `weft schedules`.
pub(crate) fn schedules(value: &Value) -> String {
    let rows = rows(value)
        .iter()
        .map(|s| {
            vec![
                text(s, "adapter"),
                text(s, "schedule"),
                text(s, "cadence"),
                if s.get("paused").and_then(Value::as_bool) == Some(true) {
                    "paused".into()
                } else {
                    "-".into()
                },
                when(s, "last_tick"),
                text(s, "last_outcome"),
                when(s, "next_tick"),
            ]
        })
        .collect();
    table(
        &[
            "ADAPTER",
            "SCHEDULE",
            "CADENCE",
            "PAUSED",
            "LAST TICK",
            "OUTCOME",
            "NEXT TICK",
        ],
        rows,
    )
}

/// `weft schedules show`: the schedule, then its last runs.
pub(crate) fn schedule(value: &Value) -> String {
    let mut head = value.clone();
    if let Some(map) = head.as_object_mut() {
        map.remove("runs");
    }
    let runs = value
        .get("runs")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|r| {
            vec![
                when(r, "started_at_ms"),
                r.get("duration_ms")
                    .and_then(Value::as_i64)
                    .map_or_else(|| "-".into(), weft::front::words::span),
                text(r, "outcome"),
                text(r, "attempt"),
                if r.get("manual").and_then(Value::as_bool) == Some(true) {
                    "by hand".into()
                } else {
                    "tick".into()
                },
                text(r, "job"),
                problem(r, "error"),
            ]
        })
        .collect();
    format!(
        "{}\nlast runs, newest first:\n{}",
        record(&head),
        table(
            &[
                "STARTED", "TOOK", "OUTCOME", "ATTEMPT", "RUN", "JOB", "ERROR"
            ],
            runs
        )
    )
}

/// `weft tokens list`.
pub(crate) fn tokens(value: &Value) -> String {
    let rows = rows(value)
        .iter()
        .map(|t| {
            vec![
                text(t, "id"),
                text(t, "name"),
                text(t, "scopes"),
                when(t, "created_at_ms"),
            ]
        })
        .collect();
    table(&["ID", "NAME", "SCOPES", "CREATED"], rows)
}

/// `weft storage list`: its `keys`, one a line.
pub(crate) fn keys(value: &Value) -> String {
    let rows = value
        .get("keys")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|k| vec![k.as_str().map_or_else(|| k.to_string(), str::to_string)])
        .collect();
    table(&["KEY"], rows)
}

/// A value shown as it is (a stored value, an action's answer): pretty JSON either way.
pub(crate) fn json(value: &Value) -> String {
    format!(
        "{}\n",
        serde_json::to_string_pretty(value).unwrap_or_default()
    )
}
