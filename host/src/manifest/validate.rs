//! Checking a parsed manifest: every value in range, every name well formed, every key
//! explained when it is wrong, and the raw tables turned into a [`Manifest`].

use super::*;

/// A [`Manifest`] from `raw`, once every section checks; the first wrong key is the error.
pub(super) fn validate(
    path: &Path,
    raw: RawManifest,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Manifest, ManifestError> {
    let err = |key: &str, message: String| ManifestError::new(path, key, message);
    if !valid_name(&raw.name) {
        return Err(err(
            "name",
            format!(
                "expected 1 to 64 characters a-z, 0-9, '-' or '_', starting with a letter or digit, found {:?}",
                raw.name
            ),
        ));
    }
    let base_url = base_url(raw.base_url.as_deref(), &err)?;
    let allowed_hosts = allowed_hosts(raw.allowed_hosts.as_deref(), base_url.as_ref(), &err)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut secrets = BTreeMap::new();
    for (name, reference) in raw.secrets {
        let key = format!("secrets.{name}");
        let reference = SecretRef::parse(&reference).map_err(|m| err(&key, m))?;
        let value = reference.resolve(base, env).map_err(|m| err(&key, m))?;
        secrets.insert(name, value);
    }
    check_limits(&raw.limits, &raw.token, &raw.retry, &err)?;
    if raw.journal.max_calls == 0 {
        return Err(err(
            "journal.max_calls",
            "expected at least 1 (keep = \"off\" keeps none)".into(),
        ));
    }
    let mut schedules = raw.schedules;
    check_schedules(&mut schedules, &err)?;
    check_routes(&raw.routes, &secrets, &err)?;
    let mut config = serde_json::to_value(&raw.config)
        .map_err(|e| err("config", format!("cannot be represented as JSON: {e}")))?;
    if let (Some(url), Some(obj)) = (&base_url, config.as_object_mut()) {
        obj.entry("base_url").or_insert_with(|| {
            serde_json::Value::String(url.as_str().trim_end_matches('/').to_string())
        });
    }
    Ok(Manifest {
        file: path.to_path_buf(),
        name: raw.name,
        component: base.join(raw.component),
        base_url,
        allowed_hosts,
        trace_propagation: raw.trace_propagation,
        secrets,
        token: raw.token,
        limits: raw.limits,
        retry: raw.retry,
        schedules,
        routes: raw.routes,
        journal: raw.journal,
        items: raw.items,
        config,
    })
}

/// How each check names the wrong key: the manifest's file, the key, what was expected.
type Err<'a> = dyn Fn(&str, String) -> ManifestError + 'a;

/// `base_url`, when given: an absolute http(s) URL.
fn base_url(raw: Option<&str>, err: &Err) -> Result<Option<url::Url>, ManifestError> {
    Ok(match raw {
        None => None,
        Some(text) => {
            let url = url::Url::parse(text).map_err(|e| {
                err(
                    "base_url",
                    format!("expected an absolute http(s) URL, found {text:?} ({e})"),
                )
            })?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(err(
                    "base_url",
                    format!("expected an absolute http(s) URL, found {text:?}"),
                ));
            }
            Some(url)
        }
    })
}

/// `allowed_hosts`: the patterns given (`"base_url"` standing for base_url's own scheme,
/// host and port), or base_url's host alone when none are.
fn allowed_hosts(
    raw: Option<&[String]>,
    base_url: Option<&url::Url>,
    err: &Err,
) -> Result<AllowedHosts, ManifestError> {
    Ok(match raw {
        Some(list) => {
            let mut patterns = Vec::with_capacity(list.len());
            for (i, text) in list.iter().enumerate() {
                let key = format!("allowed_hosts[{i}]");
                // "base_url" stands for base_url's own scheme, host and port, so that a
                // deployment that moves base_url (to a test server, a proxy) moves this too.
                let pattern = if text == "base_url" {
                    let url = base_url.ok_or_else(|| {
                        err(&key, "\"base_url\" needs a base_url in the manifest".into())
                    })?;
                    HostPattern::for_url(url)
                } else {
                    HostPattern::parse(text).map_err(|m| err(&key, m))?
                };
                patterns.push(pattern);
            }
            AllowedHosts::new(patterns)
        }
        None => match base_url {
            Some(url) => AllowedHosts::new(vec![HostPattern::for_url(url)]),
            None => AllowedHosts::new(Vec::new()),
        },
    })
}

/// `[limits]`, the token's durations and `[retry]`: every count at least 1, every duration
/// positive, the refresh window below 100%.
fn check_limits(
    limits: &Limits,
    token: &TokenPolicy,
    retry: &RetryPolicy,
    err: &Err,
) -> Result<(), ManifestError> {
    if limits.concurrency == 0 {
        return Err(err(
            "limits.concurrency",
            "expected at least 1, found 0".into(),
        ));
    }
    if limits.requests_per_call == 0 {
        return Err(err(
            "limits.requests_per_call",
            "expected at least 1, found 0".into(),
        ));
    }
    if limits.memory.bytes() < ByteSize::mib(1).bytes() {
        return Err(err(
            "limits.memory",
            format!("expected at least 1MiB, found {}", limits.memory),
        ));
    }
    for (key, d) in [
        ("limits.cpu_time", limits.cpu_time),
        ("limits.timeout", limits.timeout),
        ("limits.http_timeout", limits.http_timeout),
        ("token.fetch_timeout", token.fetch_timeout),
        ("token.default_ttl", token.default_ttl),
    ] {
        if d.is_zero() {
            return Err(err(
                key,
                "expected a positive duration such as \"10s\", found 0".into(),
            ));
        }
    }
    if retry.max_attempts == 0 {
        return Err(err(
            "retry.max_attempts",
            "expected at least 1, found 0".into(),
        ));
    }
    if let RefreshWindow::Fraction(f) = token.refresh_window
        && !(0.0..1.0).contains(&f)
    {
        return Err(err(
            "token.refresh_window",
            format!("expected a share below 100%, found {}%", f * 100.0),
        ));
    }
    Ok(())
}

/// `[[schedules]]`: unique names, exactly one of `every` and `cron`, a zone for `cron` only;
/// each one's cadence is set.
fn check_schedules(schedules: &mut [Schedule], err: &Err) -> Result<(), ManifestError> {
    let mut names = std::collections::HashSet::new();
    for (i, s) in schedules.iter_mut().enumerate() {
        let key = format!("schedules[{i}]");
        if !names.insert(s.name.as_str()) {
            return Err(err(
                &format!("{key}.name"),
                format!("schedule {:?} is declared twice", s.name),
            ));
        }
        match (&s.every, &s.cron) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(err(
                    &key,
                    "expected exactly one of `every` or `cron`".into(),
                ));
            }
            (Some(d), None) if d.is_zero() => {
                return Err(err(
                    &format!("{key}.every"),
                    "expected a positive duration such as \"6m\"".into(),
                ));
            }
            (Some(d), None) => s.cadence = Some(Cadence::Every(d.get())),
            (None, Some(expr)) => {
                let zone = match (&s.utc_offset, &s.time_zone) {
                    (Some(_), Some(_)) => {
                        return Err(err(
                            &format!("{key}.time_zone"),
                            "expected one of `time_zone` or `utc_offset`, not both".into(),
                        ));
                    }
                    (Some(o), None) => {
                        let seconds = units::parse_utc_offset(o)
                            .map_err(|m| err(&format!("{key}.utc_offset"), m))?;
                        Zone::Fixed(chrono::FixedOffset::east_opt(seconds).ok_or_else(|| {
                            err(&format!("{key}.utc_offset"), format!("{o:?} is out of range"))
                        })?)
                    }
                    (None, Some(name)) => Zone::Named(name.parse::<chrono_tz::Tz>().map_err(|_| {
                        err(
                            &format!("{key}.time_zone"),
                            format!("expected an IANA time zone such as \"Asia/Shanghai\", found {name:?}"),
                        )
                    })?),
                    (None, None) => Zone::Fixed(chrono::FixedOffset::east_opt(0).ok_or_else(|| {
                        err(&format!("{key}.utc_offset"), "UTC is out of range".into())
                    })?),
                };
                let cron = expr.parse::<croner::Cron>().map_err(|e| {
                    err(
                        &format!("{key}.cron"),
                        format!(
                            "expected a cron expression such as \"0 2 * * *\", found {expr:?} ({e})"
                        ),
                    )
                })?;
                let cadence = Cadence::Cron(Box::new(cron), zone);
                // A day-of-month that no month has (30 February) would never tick: say so now
                // rather than wait forever.
                if crate::cadence::next_tick(&cadence, crate::clock::now_ms()).is_none() {
                    return Err(err(&format!("{key}.cron"), format!("{expr:?} never fires")));
                }
                s.cadence = Some(cadence);
            }
        }
        if s.time_zone.is_some() && s.every.is_some() {
            return Err(err(
                &format!("{key}.time_zone"),
                "a time zone applies to `cron` only (`every` counts from the Unix epoch)".into(),
            ));
        }
        if let Some(offset) = &s.utc_offset {
            units::parse_utc_offset(offset).map_err(|m| err(&format!("{key}.utc_offset"), m))?;
        }
    }
    Ok(())
}

/// `[[routes]]`: a path and method each, declared once, an HMAC route that can refuse a
/// replay, and every secret named in `[secrets]`.
fn check_routes(
    routes: &[Route],
    secrets: &BTreeMap<String, SecretValue>,
    err: &Err,
) -> Result<(), ManifestError> {
    let mut seen = std::collections::HashSet::new();
    for (i, r) in routes.iter().enumerate() {
        let key = format!("routes[{i}]");
        if !r.path.starts_with('/') || r.path.contains("//") || r.path.contains('?') {
            return Err(err(
                &format!("{key}.path"),
                format!("expected a path such as \"/create\", found {:?}", r.path),
            ));
        }
        if !matches!(
            r.method.to_ascii_uppercase().as_str(),
            "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
        ) {
            return Err(err(
                &format!("{key}.method"),
                format!(
                    "expected GET, POST, PUT, PATCH or DELETE, found {:?}",
                    r.method
                ),
            ));
        }
        if !seen.insert((r.method.to_ascii_uppercase(), r.path.clone())) {
            return Err(err(
                &key,
                format!("{} {} is declared twice", r.method, r.path),
            ));
        }
        if let InboundAuth::Hmac {
            timestamp_header,
            replay,
            ..
        } = &r.auth
        {
            match (timestamp_header, replay.as_deref()) {
                (_, Some(other)) if other != "allowed" => {
                    return Err(err(
                        &format!("{key}.auth.replay"),
                        format!("expected \"allowed\" or nothing, found {other:?}"),
                    ));
                }
                (None, None) => {
                    return Err(err(
                        &format!("{key}.auth"),
                        "an HMAC route without `timestamp_header` cannot refuse a replayed request: add `timestamp_header`, or `replay = \"allowed\"` if the platform signs no time".into(),
                    ));
                }
                _ => {}
            }
        }
        let secret = match &r.auth {
            InboundAuth::None => None,
            InboundAuth::Header { secret, .. }
            | InboundAuth::Basic { secret, .. }
            | InboundAuth::Hmac { secret, .. } => Some(secret),
        };
        if let Some(s) = secret
            && !secrets.contains_key(s)
        {
            return Err(err(
                &format!("{key}.auth.secret"),
                format!("expected the name of a [secrets] entry, found {s:?}"),
            ));
        }
    }
    Ok(())
}

/// Whether `name` is a valid adapter (instance) name: 1 to 64 of `a-z`, `0-9`, `-`, `_`,
/// starting with a letter or digit.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}
