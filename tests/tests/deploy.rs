//! What the project ships to run Weft, checked by the tools that will read it: the systemd
//! unit by `systemd-analyze verify`, the alert rules by `promtool check rules` and `promtool
//! test rules` (a case fires each alert), and every metric the rules and the dashboard name
//! against what a running Weft exports.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;
use weft_tests::harness::{Deployment, Served, component, eventually, weft_bin, workspace};

fn deploy(path: &str) -> PathBuf {
    workspace().join("deploy").join(path)
}

/// Runs `program` with `args` in `dir`: exit success, stdout and stderr together.
fn run(program: &str, args: &[&str], dir: &Path) -> (bool, String) {
    let out = std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed (make test installs it): {e}"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let unit = std::fs::read_to_string(deploy("systemd/weft.service")).expect("unit");
    for line in [
        "DynamicUser=yes",
        "StateDirectory=weft",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "LoadCredential=store-key:/etc/weft/store-key",
        "Environment=WEFT_STORE_KEY=file:%d/store-key",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "CapabilityBoundingSet=",
    ] {
        assert!(
            unit.lines().any(|l| l.trim() == line),
            "the unit sets {line}"
        );
    }
    // The stop timeout covers the drain: --shutdown-delay (0s) and two phases of
    // --shutdown-timeout (60s by default).
    let stop: u64 = unit
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .and_then(|v| v.trim().parse().ok())
        .expect("TimeoutStopSec in seconds");
    assert!(stop > 2 * 60, "TimeoutStopSec={stop} cuts the drain short");
    // Verified as installed, with the binary it starts where the unit says it is.
    let dir = tempfile::tempdir().expect("temp");
    let bin = weft_bin();
    std::fs::write(
        dir.path().join("weft.service"),
        unit.replace("/usr/local/bin/weft", &bin.display().to_string()),
    )
    .expect("unit copy");
    let (ok, said) = run(
        "systemd-analyze",
        &["verify", "--man=no", "./weft.service"],
        dir.path(),
    );
    assert!(
        ok && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );
}

#[test]
fn the_alert_rules_check_and_each_alert_fires_in_its_test() {
    let dir = deploy("prometheus");
    let (ok, said) = run("promtool", &["check", "rules", "alerts.yml"], &dir);
    assert!(ok, "{said}");
    let (ok, said) = run("promtool", &["test", "rules", "alerts.test.yml"], &dir);
    assert!(ok, "{said}");
    let rules = std::fs::read_to_string(dir.join("alerts.yml")).expect("rules");
    let tests = std::fs::read_to_string(dir.join("alerts.test.yml")).expect("tests");
    for alert in rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
    {
        assert!(
            tests.contains(&format!(
                "alertname: {alert}\n        exp_alerts:\n          - "
            )),
            "a case fires {alert}"
        );
    }
}

/// Every `weft_…` metric name in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("weft_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        // Not a command (`weft jobs`) or a path: a metric name has a second word.
        if name.len() > 6 && !(at > 0 && rest.as_bytes()[at - 1].is_ascii_alphanumeric()) {
            out.insert(name.clone());
        }
        rest = &rest[at + name.len().max(1)..];
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_alerts_and_the_dashboard_name_is_one_weft_exports() {
    let (platform, _server) = weft_tests::harness::serve_app(
        axum::Router::new().route("/", axum::routing::get(|| async { "ok" })),
    )
    .await;
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\nallowed_hosts = [\"{platform}\"]\n[[schedules]]\nname = \"tick\"\nevery = \"1s\"\n",
            component("weft-probe").display()
        ),
    );
    let served = Served::start(&dep, &[]);
    let c = reqwest::Client::new();
    // A call that fetches a token, one that calls a platform, a job, and the schedule's ticks: the series the rules
    // and the dashboard read exist once something happened.
    let _ = c
        .post(format!("{}/v1/adapters/probe/ops/leak-token", served.url))
        .json(&serde_json::json!({}))
        .send()
        .await;
    let _ = c
        .post(format!("{}/v1/adapters/probe/ops/http-get", served.url))
        .json(&serde_json::json!({ "url": format!("http://{platform}/") }))
        .send()
        .await;
    let _ = c
        .post(format!(
            "{}/v1/adapters/probe/ops/echo?mode=async",
            served.url
        ))
        .json(&serde_json::json!({}))
        .send()
        .await;
    let rules = std::fs::read_to_string(deploy("prometheus/alerts.yml")).expect("rules");
    let dashboard = std::fs::read_to_string(deploy("grafana/weft.json")).expect("dashboard");
    let named: BTreeSet<String> = metric_names(&rules)
        .into_iter()
        .chain(metric_names(&dashboard))
        .collect();
    let unknown = std::sync::Mutex::new(Vec::<String>::new());
    let exported = eventually(Duration::from_secs(20), || async {
        let text = c
            .get(format!("{}/metrics", served.url))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let exported = exported_names(&text);
        let missing: Vec<String> = named.difference(&exported).cloned().collect();
        let done = missing.is_empty();
        *unknown.lock().expect("lock") = missing;
        done.then_some(exported)
    })
    .await;
    assert!(
        exported.is_some(),
        "the alerts or the dashboard name metrics Weft does not export: {:?}",
        unknown.lock().expect("lock")
    );
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).expect("dashboard JSON");
    assert!(
        parsed["panels"].as_array().is_some_and(|p| p.len() >= 6),
        "the dashboard has its panels"
    );
}

/// The sample names a scrape's `# TYPE` lines announce.
fn exported_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((words.next()?.to_string(), words.next()?.to_string()))
        })
        .flat_map(|(name, kind)| match kind.as_str() {
            "counter" => vec![format!("{name}_total"), name],
            "histogram" => vec![
                format!("{name}_bucket"),
                format!("{name}_sum"),
                format!("{name}_count"),
                name,
            ],
            _ => vec![name],
        })
        .collect()
}
