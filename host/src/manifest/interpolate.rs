//! `${VAR}` and `${VAR:-default}` in manifest string values (`$${` writes a literal `${`).
//!
//! Interpolation runs on parsed string values, never on the raw text, so a variable's value can
//! never change the manifest's structure.

/// Replaces every reference in `text`; the error names the variable.
pub fn interpolate(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let end = after
                .find('}')
                .ok_or_else(|| format!("unterminated \"${{\" in {text:?}"))?;
            let inner = &after[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "expected a variable name such as ${{SEKORM_BASE_URL}}, found \"${{{inner}}}\""
                ));
            }
            match (env(name).filter(|v| !v.is_empty()), default) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => {
                    return Err(format!(
                        "environment variable {name} is not set (write ${{{name}:-default}} to give a default)"
                    ));
                }
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// What one interpolated string was written as and what it became, so that an error about
/// the value can name the reference instead of echoing an environment variable's value.
pub(super) type Substitution = (String, String);

/// Interpolates every string in `table`, recursively; errors carry the key path. Each string
/// that changed is recorded in `seen`.
pub(super) fn interpolate_table(
    table: &mut toml::Table,
    prefix: &str,
    env: &dyn Fn(&str) -> Option<String>,
    seen: &mut Vec<Substitution>,
) -> Result<(), (String, String)> {
    for (key, value) in table.iter_mut() {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        interpolate_value(value, &path, env, seen)?;
    }
    Ok(())
}

fn interpolate_value(
    value: &mut toml::Value,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
    seen: &mut Vec<Substitution>,
) -> Result<(), (String, String)> {
    match value {
        toml::Value::String(s) => {
            let done = interpolate(s, env).map_err(|m| (path.to_string(), m))?;
            if done != *s {
                seen.push((s.clone(), done.clone()));
            }
            *s = done;
        }
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_value(item, &format!("{path}[{i}]"), env, seen)?;
            }
        }
        toml::Value::Table(t) => interpolate_table(t, path, env, seen)?,
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("example.com".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn replaces_defaults_and_escapes() {
        assert_eq!(
            interpolate("https://${HOST}/x", &env).as_deref(),
            Ok("https://example.com/x")
        );
        assert_eq!(interpolate("${MISSING:-dflt}", &env).as_deref(), Ok("dflt"));
        assert_eq!(interpolate("${EMPTY:-dflt}", &env).as_deref(), Ok("dflt"));
        assert_eq!(
            interpolate("$${HOST} costs $5", &env).as_deref(),
            Ok("${HOST} costs $5")
        );
    }

    #[test]
    fn names_the_missing_variable() {
        let e = interpolate("${MISSING}", &env).unwrap_err();
        assert!(e.contains("MISSING is not set"), "{e}");
        assert!(
            interpolate("${oops", &env)
                .unwrap_err()
                .contains("unterminated")
        );
        assert!(
            interpolate("${a b}", &env)
                .unwrap_err()
                .contains("variable name")
        );
    }
}
