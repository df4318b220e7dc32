//! `weft-sim`: the five platform simulators the tests use, in one process on loopback, with
//! demo credentials — what `make run` points the demo manifests at, so that every adapter can
//! be tried on a machine with no platform account and no internet.
//!
//! It prints each platform's address and writes the variables the demo manifests read (in `sh`
//! syntax) to `--env-file`, then serves until SIGTERM or Ctrl-C.

use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;
use weft_tests::fxiaoke::Crm;
use weft_tests::hugevision::{Account, HugeVision};
use weft_tests::lenovo::Lenovo;
use weft_tests::sekorm::Sekorm;
use weft_tests::supercarrier8::SuperCarrier8;

#[derive(Parser)]
#[command(
    name = "weft-sim",
    about = "The five platform simulators, on loopback, with demo credentials"
)]
struct Args {
    /// Platforms listen on BASE+1 … BASE+5 (0: free ports, named in the output).
    #[arg(long, default_value_t = 7100)]
    base_port: u16,
    /// Where to write the demo manifests' variables (sh syntax, for `. FILE`).
    #[arg(long)]
    env_file: Option<PathBuf>,
}

/// The demo's credentials: fake, and known to both the simulators and the demo manifests.
const SEKORM: (&str, &str) = ("demo-account", "demo-sekorm-secret");
const LENOVO: (&str, &str) = ("demo-client", "demo-lenovo-secret");
const SC8: (&str, &str) = ("demo-access-key", "demo-sc8-secret");
const HVS: (&str, &str, &str) = (
    "HVSDemoSystem1",
    "HVSDemoSystem1Password",
    "物流担当_0101_01@HVSDemoSystem1",
);
/// What the CRM sends to Weft, and what Weft sends to the CRM.
const FXIAOKE: (&str, &str, &str) = ("demo-crm-token", "demo-push-token", "demo-tenant");

fn port(base: u16, n: u16) -> u16 {
    if base == 0 { 0 } else { base + n }
}

/// `value` quoted for sh.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let b = args.base_port;
    let sekorm = Sekorm::start_on(port(b, 1), SEKORM.0, SEKORM.1).await;
    let lenovo = Lenovo::start_on(port(b, 2), LENOVO.0, LENOVO.1).await;
    let sc8 = SuperCarrier8::start_on(port(b, 3), SC8.0, SC8.1, 7200, Duration::from_secs(1)).await;
    let hvs = HugeVision::start_on(
        port(b, 4),
        Account {
            system_key: HVS.0.into(),
            unique_code: HVS.1.into(),
            user_name: HVS.2.into(),
            parameters: serde_json::json!({"clientId": 1000003, "roleId": 1000021, "organizationId": 1000001}),
        },
        Duration::from_secs(3600),
        Duration::from_secs(1),
        // The platform processes asynchronous adjustments in cycles (30 minutes in
        // production); the demo's cycle is short enough to follow one to its result.
        Duration::from_secs(3),
    )
    .await;
    let crm = Crm::start_on(port(b, 5), FXIAOKE.1, FXIAOKE.2, &[]).await;
    let vars = [
        ("DEMO_SEKORM_URL", sekorm.base_url()),
        ("DEMO_SEKORM_ACCOUNT", SEKORM.0.into()),
        ("DEMO_SEKORM_SECRET", SEKORM.1.into()),
        ("DEMO_LENOVO_URL", lenovo.base_url()),
        ("DEMO_LENOVO_TOKEN_URL", lenovo.token_url()),
        ("DEMO_LENOVO_CLIENT_ID", LENOVO.0.into()),
        ("DEMO_LENOVO_CLIENT_SECRET", LENOVO.1.into()),
        ("DEMO_SC8_URL", sc8.base_url()),
        ("DEMO_SC8_ACCESS_KEY", SC8.0.into()),
        ("DEMO_SC8_SECRET_KEY", SC8.1.into()),
        ("DEMO_HVS_URL", hvs.base_url()),
        ("DEMO_HVS_SYSTEM_KEY", HVS.0.into()),
        ("DEMO_HVS_PASSWORD", HVS.1.into()),
        ("DEMO_HVS_USER", HVS.2.into()),
        ("DEMO_FXIAOKE_URL", crm.base_url()),
        ("DEMO_FXIAOKE_CRM_TOKEN", FXIAOKE.0.into()),
        ("DEMO_FXIAOKE_PUSH_TOKEN", FXIAOKE.1.into()),
        ("DEMO_FXIAOKE_TENANT", FXIAOKE.2.into()),
    ];
    for (platform, url) in [
        ("sekorm", sekorm.base_url()),
        ("lenovo", lenovo.base_url()),
        ("supercarrier8", sc8.base_url()),
        ("hugevision", hvs.base_url()),
        ("fxiaoke", crm.base_url()),
    ] {
        println!("weft-sim: {platform:<14} {url}");
    }
    if let Some(path) = &args.env_file {
        let text: String = vars
            .iter()
            .map(|(k, v)| format!("export {k}={}\n", quoted(v)))
            .collect();
        // Written whole, then renamed: a reader waiting for the file never sees half of it.
        let tmp = path.with_extension("tmp");
        if let Err(e) = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path)) {
            eprintln!("weft-sim: cannot write {}: {e}", path.display());
            return std::process::ExitCode::from(2);
        }
        println!("weft-sim: variables in {}", path.display());
    }
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("weft-sim: cannot listen for SIGTERM: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    std::process::ExitCode::SUCCESS
}
