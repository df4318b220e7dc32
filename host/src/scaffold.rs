//! `weft new adapter NAME [--lang rust|typescript|python]`: a complete adapter that builds,
//! lints and passes its fixtures as made — the crate under `plugins/` (or its TypeScript or
//! Python module under `plugins/typescript/` or `plugins/python/`, each found by the workspace
//! and the Makefile by glob), a manifest in `manifests/`, and fixtures for `weft test` — to be
//! changed into the platform's. The three languages make the same adapter and share fixtures.

use std::path::{Path, PathBuf};

/// Why nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name cannot be an adapter's.
    #[error(
        "adapter name {0:?}: 2 to 32 characters, lower-case letters, digits and '-', starting with a letter"
    )]
    Name(String),
    /// A file it would write exists already.
    #[error("{0} exists already: nothing was written")]
    Exists(PathBuf),
    /// The files could not be written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

const CARGO: &str = include_str!("../templates/adapter/Cargo.toml.tmpl");
const LIB: &str = include_str!("../templates/adapter/lib.rs.tmpl");
const PYTHON: &str = include_str!("../templates/adapter/python/adapter.py.tmpl");
const TYPESCRIPT: &str = include_str!("../templates/adapter/typescript/adapter.ts.tmpl");
const MANIFEST: &str = include_str!("../templates/adapter/manifest.toml.tmpl");
const FIXTURES: &[(&str, &str)] = &[
    (
        "send-items.toml",
        include_str!("../templates/adapter/fixture-send.toml.tmpl"),
    ),
    (
        "token-refresh.toml",
        include_str!("../templates/adapter/fixture-refresh.toml.tmpl"),
    ),
    (
        "refused.toml",
        include_str!("../templates/adapter/fixture-refused.toml.tmpl"),
    ),
    (
        "resume.toml",
        include_str!("../templates/adapter/fixture-resume.toml.tmpl"),
    ),
];

/// The language an adapter is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// A crate using `plugins/sdk` (the default).
    #[default]
    Rust,
    /// `adapter.ts` using `sdk/typescript`, built with componentize-js.
    TypeScript,
    /// `adapter.py` using `sdk/python`, built with componentize-py.
    Python,
}

impl Lang {
    /// The language named `name` (`rust`, `typescript` or `ts`, `python` or `py`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "rust" => Some(Self::Rust),
            "typescript" | "ts" => Some(Self::TypeScript),
            "python" | "py" => Some(Self::Python),
            _ => None,
        }
    }
}

/// Checks an adapter name.
pub fn check_name(name: &str) -> Result<(), ScaffoldError> {
    let ok = (2..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ScaffoldError::Name(name.to_string()))
    }
}

/// The files of adapter `name` in `lang`, relative to the workspace root, with their text.
pub fn files(name: &str, lang: Lang) -> Result<Vec<(PathBuf, String)>, ScaffoldError> {
    check_name(name)?;
    let ty: String = name
        .split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    // The component's file is `weft_{{crate}}.wasm`: the Makefile names another language's
    // `weft_ts_NAME` or `weft_py_NAME`, so that the three builds of one adapter can sit together.
    let component = match lang {
        Lang::Rust => name.replace('-', "_"),
        Lang::TypeScript => format!("ts_{}", name.replace('-', "_")),
        Lang::Python => format!("py_{}", name.replace('-', "_")),
    };
    let fill = |t: &str| {
        t.replace("{{NAME}}", &name.to_ascii_uppercase().replace('-', "_"))
            .replace("{{Type}}", &ty)
            .replace("{{crate}}", &component)
            .replace("{{name}}", name)
    };
    let (dir, sources) = match lang {
        Lang::Rust => {
            let dir = Path::new("plugins").join(name);
            let sources = vec![
                (dir.join("Cargo.toml"), fill(CARGO)),
                (dir.join("src/lib.rs"), fill(LIB)),
            ];
            (dir, sources)
        }
        Lang::TypeScript => {
            let dir = Path::new("plugins/typescript").join(name);
            (
                dir.clone(),
                vec![(dir.join("adapter.ts"), fill(TYPESCRIPT))],
            )
        }
        Lang::Python => {
            let dir = Path::new("plugins/python").join(name);
            (dir.clone(), vec![(dir.join("adapter.py"), fill(PYTHON))])
        }
    };
    let mut out = sources;
    out.push((
        Path::new("manifests").join(format!("{name}.toml")),
        fill(MANIFEST),
    ));
    for (file, text) in FIXTURES {
        out.push((dir.join("fixtures").join(file), fill(text)));
    }
    Ok(out)
}

/// Writes adapter `name` under `root`; refuses to overwrite anything.
pub fn write(root: &Path, name: &str, lang: Lang) -> Result<Vec<PathBuf>, ScaffoldError> {
    let files = files(name, lang)?;
    for (path, _) in &files {
        if root.join(path).exists() {
            return Err(ScaffoldError::Exists(path.clone()));
        }
    }
    for (path, text) in &files {
        let full = root.join(path);
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&full, text)?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_filled_in() {
        for bad in ["a", "Acme", "1acme", "acme_x", "acme-", &"x".repeat(33)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        let f = files("acme-corp", Lang::Rust).expect("files");
        let lib = &f
            .iter()
            .find(|(p, _)| p.ends_with("lib.rs"))
            .expect("lib")
            .1;
        assert!(lib.contains("struct AcmeCorp;") && !lib.contains("{{"));
        let manifest = &f
            .iter()
            .find(|(p, _)| p.ends_with("acme-corp.toml"))
            .expect("m")
            .1;
        assert!(
            manifest.contains("${ACME_CORP_BASE_URL:-") && manifest.contains("weft_acme_corp.wasm")
        );
        let py = files("acme-corp", Lang::Python).expect("files");
        assert!(
            py.iter()
                .any(|(p, _)| p.ends_with("plugins/python/acme-corp/adapter.py"))
        );
        assert!(py.iter().any(|(_, t)| t.contains("weft_py_acme_corp.wasm")));
        let ts = files("acme-corp", Lang::TypeScript).expect("files");
        assert!(
            ts.iter()
                .any(|(p, _)| p.ends_with("plugins/typescript/acme-corp/fixtures/resume.toml"))
        );
    }
}
