//! Every key a manifest may hold, with what it does: the manifest half of `weft reference`
//! (docs/reference.md). The test below reads the keys serde accepts from the structs
//! themselves, so a key added to a struct without its line here fails it.

/// Every manifest key (`table.key`, `[[array]].key`) and what it does, defaults included.
pub const KEYS: &[(&str, &str)] = &[
    (
        "name",
        "The instance's name: the front door's `{name}`, its storage namespace, its token cache. Lower-case letters, digits and `-`.",
    ),
    (
        "component",
        "The adapter's component file, relative to the manifest's folder.",
    ),
    (
        "base_url",
        "The platform's base URL, handed to the adapter as `config.base_url`; its host is allowed unless `allowed_hosts` says otherwise.",
    ),
    (
        "allowed_hosts",
        "Hosts the adapter may call (`host` or `host:port`); every other is refused as `denied`.",
    ),
    (
        "trace_propagation",
        "Send the call's W3C `traceparent` to the platform (default false).",
    ),
    (
        "secrets",
        "A table of `NAME = \"env:VAR\"` or `\"file:PATH\"`: resolved at load, handed to the adapter, scrubbed from every log, journal and answer.",
    ),
    (
        "config",
        "The adapter's own settings, checked against what its `describe` declares (type, range, choices) and filled with its defaults. `${VAR}` is read from the environment.",
    ),
    (
        "token.refresh_window",
        "Refresh a cached token this close to expiry: a duration (\"5m\", the default) or a share of its lifetime (\"10%\").",
    ),
    (
        "token.min_fetch_interval",
        "Never fetch a token more often than this (default 1s).",
    ),
    (
        "token.default_ttl",
        "Lifetime of a grant that does not say (default 1h).",
    ),
    (
        "token.refresh_at_startup",
        "Fetch a token as soon as the adapter loads (default false).",
    ),
    (
        "token.fetch_timeout",
        "How long one `fetch-token` may take (default 30s).",
    ),
    (
        "token.refresh_on",
        "Platform codes meaning the token is no longer good: the call is treated as `auth` (token dropped, call run once more).",
    ),
    (
        "limits.memory",
        "Linear memory of one instance (default 64MiB; at most `--max-instance-memory`).",
    ),
    (
        "limits.cpu_time",
        "CPU time one call may spend in WebAssembly (default 5s).",
    ),
    (
        "limits.timeout",
        "Wall-clock time of one call, retries included (default 60s).",
    ),
    (
        "limits.concurrency",
        "Calls of this adapter running at once (default 8); each reserves an instance of `--max-instances`.",
    ),
    (
        "limits.queue",
        "Calls that may wait for a turn; past it callers get `busy` (429) at once. Unset: all wait, up to their deadline.",
    ),
    (
        "limits.http_timeout",
        "Timeout of one outbound request (default 30s).",
    ),
    (
        "limits.http_request",
        "Largest outbound request body (default 16MiB).",
    ),
    (
        "limits.http_response",
        "Largest platform answer read (default 16MiB).",
    ),
    (
        "limits.storage_value",
        "Largest storage value (default 1MiB).",
    ),
    (
        "limits.storage",
        "Bytes of storage the adapter may hold, keys and values (default 256MiB).",
    ),
    (
        "limits.storage_keys",
        "Keys the adapter may hold (default 100000).",
    ),
    (
        "limits.request_body",
        "Largest operation input or inbound body the front door accepts for it (default 8MiB).",
    ),
    (
        "limits.rate",
        "Outbound requests of this instance across every node, e.g. \"10/s\", \"600/m\".",
    ),
    (
        "limits.token_rate",
        "Outbound requests of `fetch-token`, the token endpoint's own budget.",
    ),
    (
        "limits.requests_per_call",
        "Outbound requests one call may send at most (default 1000).",
    ),
    (
        "retry.max_attempts",
        "Attempts in all, the first included (default 3; 1 never retries).",
    ),
    (
        "retry.initial_backoff",
        "Wait before the first retry, doubled each time with full jitter (default 200ms).",
    ),
    (
        "retry.max_backoff",
        "Longest wait between attempts (default 30s).",
    ),
    (
        "[[schedules]].name",
        "The name `on-schedule` is called with.",
    ),
    (
        "[[schedules]].every",
        "A fixed period, e.g. \"6m\" (counted from the Unix epoch).",
    ),
    (
        "[[schedules]].cron",
        "A cron expression of 5 fields, or 6 with seconds, e.g. \"50 23 * * *\".",
    ),
    (
        "[[schedules]].time_zone",
        "IANA zone the cron is read in, e.g. \"Asia/Shanghai\" (daylight saving included).",
    ),
    (
        "[[schedules]].utc_offset",
        "Fixed offset the cron is read in, e.g. \"+08:00\" (default UTC).",
    ),
    (
        "[[schedules]].catch_up",
        "Run once at start when ticks were missed while Weft was down (default false).",
    ),
    (
        "[[routes]].name",
        "The name `handle-inbound` is called with.",
    ),
    ("[[routes]].method", "HTTP method, e.g. \"POST\"."),
    (
        "[[routes]].path",
        "Path below `/inbound/{name}`, starting with `/`.",
    ),
    (
        "[[routes]].auth.type",
        "How the host authenticates the caller first: \"none\", \"header\", \"basic\" or \"hmac\".",
    ),
    (
        "[[routes]].auth.header",
        "header: the header whose value must equal the secret; hmac: the header carrying the signature.",
    ),
    (
        "[[routes]].auth.secret",
        "The name of the secret (in `secrets`) the route checks against.",
    ),
    ("[[routes]].auth.username", "basic: the user name."),
    (
        "[[routes]].auth.timestamp_header",
        "hmac: the header carrying the signed Unix-seconds timestamp.",
    ),
    (
        "[[routes]].auth.window",
        "hmac: largest clock difference accepted into the past (default 5m).",
    ),
    (
        "[[routes]].auth.replay",
        "hmac without `timestamp_header`: \"allowed\" takes a signed request more than once.",
    ),
    (
        "journal.keep",
        "Whose platform exchanges are kept: \"failures\" (default), \"all\" or \"off\".",
    ),
    (
        "journal.max_body",
        "Most of each request or answer body kept (default 16KiB).",
    ),
    (
        "journal.max_exchanges",
        "Exchanges kept of one call (default 200).",
    ),
    (
        "journal.max_calls",
        "Calls of this adapter whose journals are kept, oldest dropped first (default 10000).",
    ),
    (
        "items.fail_on_rejected",
        "Any item the platform refused fails the call as `rejected` (default false: it succeeds, its refused items shown).",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;
    use std::collections::BTreeSet;

    /// The fields a struct with `deny_unknown_fields` accepts, read from serde's refusal of a
    /// field that cannot exist.
    fn fields<T: DeserializeOwned + std::fmt::Debug>(extra: &str) -> BTreeSet<String> {
        let text = format!("{extra}\"\\u0001\" = 1\n");
        let e = toml::from_str::<T>(&text).expect_err("an unknown field is refused");
        let message = e.to_string();
        let list = message
            .split("expected one of ")
            .nth(1)
            .or_else(|| message.split("expected ").nth(1))
            .unwrap_or_else(|| panic!("{message}"));
        list.replace(" or ", ",")
            .split(',')
            .map(|f| f.trim().trim_matches('`').trim().to_string())
            .filter(|f| !f.is_empty() && !f.contains(' ') && !f.contains('\n'))
            .collect()
    }

    #[test]
    fn every_key_serde_accepts_has_its_line_and_every_line_its_key() {
        let mut code = BTreeSet::new();
        for f in fields::<super::super::RawManifest>("") {
            if ![
                "token",
                "limits",
                "retry",
                "schedules",
                "routes",
                "journal",
                "items",
            ]
            .contains(&f.as_str())
            {
                code.insert(f);
            }
        }
        let tables: [(&str, BTreeSet<String>); 6] = [
            ("token", fields::<super::super::TokenPolicy>("")),
            ("limits", fields::<super::super::Limits>("")),
            ("retry", fields::<super::super::RetryPolicy>("")),
            ("journal", fields::<super::super::JournalPolicy>("")),
            ("items", fields::<super::super::ItemsPolicy>("")),
            (
                "[[schedules]]",
                fields::<super::super::Schedule>("name = \"n\"\n"),
            ),
        ];
        for (table, names) in tables {
            code.extend(names.into_iter().map(|f| format!("{table}.{f}")));
        }
        for f in fields::<super::super::Route>("name = \"n\"\nmethod = \"POST\"\npath = \"/\"\n") {
            if f != "auth" {
                code.insert(format!("[[routes]].{f}"));
            }
        }
        code.insert("[[routes]].auth.type".into());
        for kind in ["header", "basic", "hmac"] {
            let extra = format!("type = \"{kind}\"\n");
            for f in fields::<super::super::InboundAuth>(&extra) {
                code.insert(format!("[[routes]].auth.{f}"));
            }
        }
        let documented: BTreeSet<String> = KEYS.iter().map(|(k, _)| k.to_string()).collect();
        assert_eq!(
            code.difference(&documented).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "keys the code accepts without a line in manifest::KEYS"
        );
        assert_eq!(
            documented.difference(&code).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "lines in manifest::KEYS for keys the code does not accept"
        );
    }
}
