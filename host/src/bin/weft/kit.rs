//! `weft test`: fixtures of an adapter, run and reported.

use crate::*;

pub(crate) async fn fixtures(
    paths: &[PathBuf],
    component: Option<&std::path::Path>,
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
    let outcomes = weft::fixture::run(&component, &files, &scratch).await;
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
