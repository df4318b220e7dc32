//! `weft serve --config FILE`: every serve setting in one TOML file, by its long option name;
//! a flag or a variable given as well wins over the file, and the file over the default.
//! `--print-config` shows what won and where it came from, secrets masked. And `weft
//! reference`: every command, option, variable and manifest key, from the definitions
//! themselves (docs/reference.md is its output, and a test keeps the two the same).

use crate::cli::Cli;
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches};
use std::ffi::OsString;

/// Largest config file.
const MAX_FILE: u64 = 1024 * 1024;

/// Options that are no setting of the server: the client's, and the file's own.
const NOT_SETTINGS: [&str; 7] = [
    "server",
    "token-file",
    "output",
    "config",
    "print-config",
    "help",
    "version",
];

/// Why the command line could not be read.
pub(crate) enum ParseError {
    /// Clap's own (usage, help, version): printed by clap.
    Usage(clap::Error),
    /// The config file is wrong: a configuration error (exit 2).
    Config(String),
}

/// The command line, with `weft serve --config FILE`'s settings filled in where neither a
/// flag nor a variable gave them.
pub(crate) fn parse() -> Result<(Cli, ArgMatches), ParseError> {
    let mut argv: Vec<OsString> = std::env::args_os().collect();
    let matches = Cli::command()
        .try_get_matches_from(&argv)
        .map_err(ParseError::Usage)?;
    let from_file = match matches.subcommand() {
        Some(("serve", serve)) => match serve.get_one::<std::path::PathBuf>("config") {
            Some(path) => settings(path, serve).map_err(ParseError::Config)?,
            None => Vec::new(),
        },
        _ => Vec::new(),
    };
    let matches = if from_file.is_empty() {
        matches
    } else {
        argv.extend(from_file);
        Cli::command()
            .try_get_matches_from(&argv)
            .map_err(|e| ParseError::Config(format!("--config: {}", e.render())))?
    };
    let cli = Cli::from_arg_matches(&matches).map_err(ParseError::Usage)?;
    Ok((cli, matches))
}

/// The serve settings: every option of `weft serve` and every global one but the client's.
fn setting_args() -> Vec<clap::Arg> {
    let command = Cli::command();
    let mut out: Vec<clap::Arg> = command.get_arguments().cloned().collect();
    if let Some(serve) = command.find_subcommand("serve") {
        out.extend(serve.get_arguments().cloned());
    }
    out.retain(|a| a.get_long().is_some_and(|l| !NOT_SETTINGS.contains(&l)));
    out
}

/// The flags `path` adds for the settings `given` lacks (neither flag nor variable).
fn settings(path: &std::path::Path, given: &ArgMatches) -> Result<Vec<OsString>, String> {
    let at = |m: String| format!("--config {}: {m}", path.display());
    let text = weft::files::read_regular(path, MAX_FILE).map_err(|e| at(e.to_string()))?;
    let text = String::from_utf8(text).map_err(|_| at("not UTF-8".into()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| at(e.to_string()))?;
    let args = setting_args();
    let mut out = Vec::new();
    for (key, value) in &table {
        let long = key.replace('_', "-");
        let Some(arg) = args.iter().find(|a| a.get_long() == Some(long.as_str())) else {
            let known: Vec<&str> = args.iter().filter_map(|a| a.get_long()).collect();
            return Err(at(format!(
                "unknown setting {key:?}; the settings are: {}",
                known.join(", ")
            )));
        };
        if matches!(
            given.value_source(arg.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        let flag = format!("--{long}");
        let scalar = |v: &toml::Value| match v {
            toml::Value::String(s) => Ok(s.clone()),
            toml::Value::Integer(i) => Ok(i.to_string()),
            toml::Value::Float(f) => Ok(f.to_string()),
            other => Err(at(format!(
                "{key}: expected a string or a number, found {}",
                other.type_str()
            ))),
        };
        match (value, arg.get_action()) {
            (toml::Value::Boolean(on), ArgAction::SetTrue) => {
                if *on {
                    out.push(flag.into());
                }
            }
            (_, ArgAction::SetTrue) => {
                return Err(at(format!("{key}: expected true or false")));
            }
            (toml::Value::Array(items), ArgAction::Append) => {
                for item in items {
                    out.push(format!("{flag}={}", scalar(item)?).into());
                }
            }
            (v, _) => out.push(format!("{flag}={}", scalar(v)?).into()),
        }
    }
    Ok(out)
}

/// `weft serve --print-config`: each setting as TOML, with where its value came from.
pub(crate) fn print(matches: &ArgMatches) {
    let serve = matches.subcommand_matches("serve").unwrap_or(matches);
    println!("# the settings weft serve runs with; each line says where its value came from");
    for arg in setting_args() {
        let Some(long) = arg.get_long() else { continue };
        let id = arg.get_id().as_str();
        let source = match serve.value_source(id) {
            Some(ValueSource::CommandLine) => "a flag or --config",
            Some(ValueSource::EnvVariable) => "the environment",
            Some(ValueSource::DefaultValue) => "the default",
            _ => "unset",
        };
        let values: Vec<String> = serve
            .get_raw(id)
            .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let shown = |v: &str| {
            if long == "store-key" && !v.starts_with("env:") && !v.starts_with("file:") {
                "\"(set, masked)\"".to_string()
            } else if long == "store"
                && let Ok(mut url) = url::Url::parse(v)
                && url.password().is_some()
            {
                // A URL's password: postgres://user:secret@host/db.
                let _ = url.set_password(Some("masked"));
                format!("{:?}", url.as_str())
            } else if v.parse::<u64>().is_ok() {
                v.to_string()
            } else {
                format!("{v:?}")
            }
        };
        let value = match (arg.get_action(), values.as_slice()) {
            (ArgAction::SetTrue, [v]) => v.clone(),
            (ArgAction::SetTrue, _) => "false".into(),
            (ArgAction::Append, list) => format!(
                "[{}]",
                list.iter().map(|v| shown(v)).collect::<Vec<_>>().join(", ")
            ),
            (_, [v]) => shown(v),
            _ => {
                println!("# {long} = (none)  # {source}");
                continue;
            }
        };
        println!("{long} = {value}  # {source}");
    }
}

/// Variables read besides the options' own.
const OTHER_VARIABLES: [(&str, &str); 1] = [(
    "WEFT_TOKEN",
    "The API token the CLI sends with --server (or --token-file); never a flag, whose value every process listing shows.",
)];

/// `weft reference`: docs/reference.md.
pub(crate) fn reference() -> String {
    let mut out = String::from(
        "# Reference\n\n<!-- Generated by `weft reference` from the definitions in the code; \
         tests/tests/cli.rs fails when this file and the code differ. -->\n\n\
         Every command and option of `weft`, the environment variable each option also reads, \
         and every key of an adapter manifest. An option given on the command line wins over \
         its variable, which wins over `weft serve --config FILE`, which wins over the default.\n",
    );
    let command = Cli::command();
    out.push_str("\n## Global options\n\nAccepted by every command.\n\n");
    out.push_str(&options(command.get_arguments()));
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        commands(&mut out, "weft", sub);
    }
    out.push_str(
        "\n## Environment variables read besides the options\n\n| variable | what |\n|---|---|\n",
    );
    for (name, what) in OTHER_VARIABLES {
        out.push_str(&format!("| `{name}` | {what} |\n"));
    }
    out.push_str(
        "\n## Manifest keys\n\nOne TOML file per adapter instance. `[config]` is the adapter's own: \
         its keys are the ones its `describe` declares (`weft check` checks them).\n\n\
         | key | what |\n|---|---|\n",
    );
    for (key, what) in weft::manifest::KEYS {
        out.push_str(&format!("| `{key}` | {what} |\n"));
    }
    out
}

fn commands(out: &mut String, parent: &str, command: &clap::Command) {
    let name = format!("{parent} {}", command.get_name());
    out.push_str(&format!("\n## `{name}`\n\n"));
    if let Some(about) = command.get_long_about().or(command.get_about()) {
        out.push_str(&format!("{}\n", one_line(&about.to_string())));
    }
    let positional: Vec<String> = command
        .get_positionals()
        .map(|p| format!("`{}`", p.get_id().as_str().to_uppercase()))
        .collect();
    if !positional.is_empty() {
        out.push_str(&format!("\nArguments: {}.\n", positional.join(", ")));
    }
    let own: Vec<&clap::Arg> = command
        .get_arguments()
        .filter(|a| !a.is_positional() && !a.is_global_set())
        .filter(|a| !matches!(a.get_long(), Some("help" | "version")))
        .collect();
    if !own.is_empty() {
        out.push('\n');
        out.push_str(&options(own.into_iter()));
    }
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        commands(out, &name, sub);
    }
}

fn options<'a>(args: impl Iterator<Item = &'a clap::Arg>) -> String {
    let mut out = String::from("| option | variable | default | what |\n|---|---|---|---|\n");
    for arg in args {
        let Some(long) = arg.get_long() else { continue };
        if matches!(long, "help" | "version") {
            continue;
        }
        let env = arg
            .get_env()
            .map(|e| format!("`{}`", e.to_string_lossy()))
            .unwrap_or_default();
        let default: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        let default = if default.is_empty() {
            String::new()
        } else {
            format!("`{}`", default.join(","))
        };
        let value = match arg.get_action() {
            ArgAction::SetTrue => String::new(),
            _ => format!(" {}", arg.get_id().as_str().to_uppercase()),
        };
        let help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(|h| one_line(&h.to_string()))
            .unwrap_or_default();
        out.push_str(&format!(
            "| `--{long}{value}` | {env} | {default} | {} |\n",
            help.replace('|', "\\|")
        ));
    }
    out
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
