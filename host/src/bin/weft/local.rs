//! The commands that run an adapter in the CLI's own process: `weft check` and `weft invoke`.

use crate::*;

/// `weft check`: every manifest (or those of `files`) and its component, each schedule's next
/// ticks, and the deployment's totals; exit 2 on any failure.
pub(crate) fn check(cli: &Cli, runtime: &Runtime, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let only: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.file_name().map(PathBuf::from))
        .collect();
    let shown = |file: &std::path::Path| {
        only.is_empty()
            || file
                .file_name()
                .is_some_and(|n| only.iter().any(|o| o == n))
    };
    let mut failed = 0;
    for a in runtime.adapters().into_iter().filter(|a| shown(&a.file)) {
        failed += usize::from(a.error.is_some());
        match &a.error {
            None => println!(
                "ok      {} ({}): version {}, operations: {}",
                a.name,
                a.file.display(),
                a.version.as_deref().unwrap_or("?"),
                a.operations.join(", ")
            ),
            Some(e) => println!("FAILED  {e}"),
        }
        if a.error.is_none()
            && let Some(loaded) = runtime.registry().get(&a.name)
        {
            let now = weft::clock::now_ms();
            for s in &loaded.manifest.schedules {
                let Some(cadence) = &s.cadence else { continue };
                let next: Vec<String> = weft::schedule::next_ticks(cadence, now, 3)
                    .into_iter()
                    .map(weft::clock::rfc3339)
                    .collect();
                let zone = match cadence {
                    weft::manifest::Cadence::Cron(_, zone) => format!(" ({zone})"),
                    weft::manifest::Cadence::Every(_) => String::new(),
                };
                println!(
                    "        schedule {}: {}{zone}; next ticks {}",
                    s.name,
                    weft::schedule::describe_cadence(s),
                    next.join(", ")
                );
            }
        }
    }
    println!("{}", deployment_totals(cli, runtime));
    if failed > 0 {
        eprintln!("{failed} manifest(s) failed");
        return Ok(ExitCode::from(2));
    }
    if !runtime.adapters().iter().any(|a| shown(&a.file)) {
        eprintln!("no such manifests in {}", cli.manifests.display());
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// `weft invoke`: one operation in this process, its output printed, or its error with an exit
/// code naming its kind; `record` writes the call's platform exchanges as a fixture.
pub(crate) async fn invoke(
    runtime: &Runtime,
    adapter: &str,
    op: &str,
    input: Option<&str>,
    idempotency_key: Option<&str>,
    record: Option<&PathBuf>,
) -> anyhow::Result<ExitCode> {
    let input = match input {
        None => "{}".to_string(),
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read input from standard input")?;
            text
        }
        Some(text) => text.to_string(),
    };
    let options = CallOptions {
        idempotency_key: idempotency_key.map(str::to_string),
        ..CallOptions::default()
    };
    let result = runtime.invoke(adapter, op, &input, options).await;
    if let Some(dir) = record
        && let Some(loaded) = runtime.registry().get(adapter)
    {
        let exchanges = runtime.take_recorded();
        let tokens = runtime.cached_tokens(adapter);
        let path = weft::record::write_fixture(
            dir,
            &loaded.manifest,
            op,
            &input,
            &result,
            &exchanges,
            &tokens,
        )
        .with_context(|| format!("cannot write the fixture in {}", dir.display()))?;
        eprintln!(
            "recorded {} exchange(s) in {}",
            exchanges.len(),
            path.display()
        );
    }
    match result {
        Ok(output) => {
            let pretty = serde_json::from_str::<serde_json::Value>(&output)
                .and_then(|v| serde_json::to_string_pretty(&v))
                .unwrap_or(output);
            println!("{pretty}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(code) = &e.platform_code {
                eprintln!("  platform code: {code}");
            }
            for d in &e.details {
                let at = d.index.map(|i| format!("[{i}]")).unwrap_or_default();
                let field = d
                    .field
                    .as_ref()
                    .map(|f| format!(".{f}"))
                    .unwrap_or_default();
                eprintln!("  {at}{field}: {}", d.message);
            }
            let code = u8::try_from(e.kind.exit_code()).unwrap_or(1);
            Ok(ExitCode::from(code))
        }
    }
}
