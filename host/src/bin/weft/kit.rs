//! `weft test`: fixtures of an adapter, run and reported; `weft fixture from-call` and `weft
//! replay`: a journaled call as a fixture, and replayed against another build.

use crate::*;

/// The fixture of journaled call `id` (see `weft::record::fixture_from_call`): its adapter's
/// name and the fixture's text.
async fn fixture_of_call(cli: &Cli, id: &str) -> anyhow::Result<(String, String)> {
    let ops = operations(cli).await?;
    let record = ops.call_record(id).await?.ok_or_else(|| {
        anyhow::anyhow!(
            "nothing is kept of call {id}: its journal was not kept (the adapter's [journal] keep) or is past its retention"
        )
    })?;
    let adapter = record["adapter"]
        .as_str()
        .ok_or_else(|| {
            anyhow::anyhow!("call {id} has steps but no journal: a fixture needs its exchanges")
        })?
        .to_string();
    let manifest = weft::manifest::named(&cli.manifests, &adapter).ok_or_else(|| {
        anyhow::anyhow!(
            "no manifest of adapter {adapter} in {}: the fixture takes its [config] and secret names",
            cli.manifests.display()
        )
    })?;
    // A job's whole input is in its record: shown as every journal shows an input.
    let input = ops.job(id).await?.map(|job| {
        let redactor = weft::redact::Redactor::new(manifest.secrets.values().map(|s| s.expose()));
        match serde_json::from_str::<serde_json::Value>(&job.input) {
            Ok(mut v) => {
                weft::redact::mask_json(&mut v, &redactor);
                v.to_string()
            }
            Err(_) => redactor.scrub(&job.input),
        }
    });
    let text = weft::record::fixture_from_call(&record, &manifest, input.as_deref())
        .map_err(|e| anyhow::anyhow!("call {id}: {e}"))?;
    Ok((adapter, text))
}

/// `weft fixture from-call ID [DIR]`.
pub(crate) async fn from_call(
    cli: &Cli,
    id: &str,
    dir: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let (adapter, text) = fixture_of_call(cli, id).await?;
    let dir = dir.unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let short: String = id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    let path = dir.join(format!("{adapter}-call-{short}.toml"));
    std::fs::write(&path, text)?;
    println!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// `weft replay ID --component FILE`: the call's fixture run against `component`.
pub(crate) async fn replay(
    cli: &Cli,
    id: &str,
    component: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    let (_, text) = fixture_of_call(cli, id).await?;
    let scratch = tempfile_dir()?;
    let file = scratch.join("replay.toml");
    std::fs::write(&file, text)?;
    let outcomes =
        weft::fixture::run(component, std::slice::from_ref(&file), &scratch.join("run")).await;
    let _ = std::fs::remove_dir_all(&scratch);
    let differs: Vec<String> = outcomes?.into_iter().flat_map(|o| o.failures).collect();
    if differs.is_empty() {
        println!("call {id} replays the same against {}", component.display());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "call {id} replays differently against {}:",
        component.display()
    );
    for d in differs {
        println!("  {d}");
    }
    Ok(ExitCode::from(1))
}

pub(crate) async fn fixtures(
    paths: &[PathBuf],
    component: Option<&std::path::Path>,
    max_instances: u32,
) -> anyhow::Result<ExitCode> {
    let files = weft::fixture::files(paths)?;
    if files.is_empty() {
        anyhow::bail!("no fixture files (*.toml) under the given paths");
    }
    let component = match component {
        Some(c) => c.to_path_buf(),
        None => weft::fixture::component_for(&files[0]).ok_or_else(|| {
            anyhow::anyhow!("cannot tell which component these fixtures test: give --component")
        })?,
    };
    let scratch = tempfile_dir()?;
    let outcomes = weft::fixture::run_with(&component, &files, &scratch, max_instances).await;
    let _ = std::fs::remove_dir_all(&scratch);
    let outcomes = outcomes?;
    let failed = outcomes.iter().filter(|o| !o.failures.is_empty()).count();
    for o in &outcomes {
        if o.failures.is_empty() {
            println!("ok      {} ({} exchanges)", o.file.display(), o.exchanges);
        } else {
            println!("FAILED  {}", o.file.display());
            for f in &o.failures {
                println!("        {f}");
            }
        }
    }
    println!("{} passed, {failed} failed", outcomes.len() - failed);
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
