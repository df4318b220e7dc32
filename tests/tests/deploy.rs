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

/// The documents of a YAML file as JSON, read by the Python that kubernetes-validate brings.
fn yaml_documents(python: &Path, file: &Path) -> Vec<serde_json::Value> {
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))",
        ])
        .arg(file)
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("documents as JSON")
}

/// Seconds in a duration such as "10s" or "2m".
fn seconds(text: &str) -> u64 {
    let (number, unit) = text.split_at(text.len() - 1);
    let n: u64 = number.parse().expect("a number of seconds or minutes");
    match unit {
        "s" => n,
        "m" => n * 60,
        other => panic!("unit {other:?} of {text:?}"),
    }
}

#[test]
fn the_kubernetes_manifests_validate_and_agree_with_weft_s_flags() {
    let tools = workspace().join("target/tools/kv/bin");
    let file = deploy("kubernetes/weft.yaml");
    let (ok, said) = run(
        tools.join("kubernetes-validate").to_str().expect("path"),
        &["--strict", "-k", "1.32.0", file.to_str().expect("path")],
        &workspace(),
    );
    assert!(
        ok && !said.contains("ERROR") && !said.contains("WARN"),
        "{said}"
    );
    let docs = yaml_documents(&tools.join("python3"), &file);
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let env = |name: &str| -> serde_json::Value {
        container["env"]
            .as_array()
            .expect("env")
            .iter()
            .find(|e| e["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} is set"))
    };
    assert!(
        deployment["spec"]["replicas"].as_u64() >= Some(2),
        "several replicas"
    );
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    // The grace period covers the preStop pause, the delay and both drain phases.
    let pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .expect("preStop sleep");
    let delay = seconds(env("WEFT_SHUTDOWN_DELAY")["value"].as_str().expect("delay"));
    let timeout = seconds(
        env("WEFT_SHUTDOWN_TIMEOUT")["value"]
            .as_str()
            .expect("timeout"),
    );
    let grace = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("grace");
    assert!(
        grace >= pre_stop + delay + 2 * timeout,
        "terminationGracePeriodSeconds {grace} < {pre_stop} + {delay} + 2 × {timeout}"
    );
    // The store and its key from Secrets, never a literal; the manifests from a ConfigMap.
    assert!(env("WEFT_STORE")["valueFrom"]["secretKeyRef"].is_object());
    let key = env("WEFT_STORE_KEY")["value"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let key_dir = key
        .strip_prefix("file:")
        .and_then(|p| Path::new(p).parent())
        .expect("the store key read from a file");
    let mounts = container["volumeMounts"].as_array().expect("mounts");
    let volume_of = |path: &Path| -> serde_json::Value {
        let mount = mounts
            .iter()
            .find(|m| Path::new(m["mountPath"].as_str().unwrap_or("")) == path)
            .unwrap_or_else(|| panic!("{} is mounted", path.display()));
        pod["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .find(|v| v["name"] == mount["name"])
            .cloned()
            .expect("its volume")
    };
    assert!(
        volume_of(key_dir)["secret"].is_object(),
        "the key from a Secret"
    );
    let manifests = env("WEFT_MANIFESTS")["value"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let config_map = volume_of(Path::new(&manifests))["configMap"]["name"].clone();
    assert!(
        docs.iter()
            .any(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == config_map),
        "the manifests' ConfigMap is defined"
    );
    // Locked down as the image is built: not root, nothing written outside its volumes.
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
}

/// Platform credentials the production manifests read: any value loads them.
const CREDENTIALS: [&str; 14] = [
    "SEKORM_ACCOUNT",
    "SEKORM_APP_SECRET",
    "LENOVO_CLIENT_ID",
    "LENOVO_CLIENT_SECRET",
    "LENOVO_TEST_CLIENT_ID",
    "LENOVO_TEST_CLIENT_SECRET",
    "SC8_ACCESS_KEY",
    "SC8_SECRET_KEY",
    "HVS_SYSTEM_KEY",
    "HVS_SYSTEM_PASSWORD",
    "HVS_USER_NAME",
    "FXIAOKE_CRM_TOKEN",
    "FXIAOKE_PUSH_TOKEN",
    "FXIAOKE_ERP_TOKEN",
];

fn with_credentials(command: &mut std::process::Command) -> &mut std::process::Command {
    for name in CREDENTIALS {
        command.env(name, "dist-test");
    }
    command.env_remove("WEFT_STORE_KEY")
}

/// Reads a JSON blob of an OCI image layout by its digest.
fn oci_blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
    std::fs::read(layout.join("blobs/sha256").join(hex)).expect("blob")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dist_makes_a_tarball_that_serves_its_manifests_and_an_image_that_holds_all_it_needs() {
    let out = tempfile::tempdir().expect("temp");
    let wasm = component("weft-sekorm")
        .parent()
        .expect("folder")
        .to_path_buf();
    let (ok, said) = run(
        "python3",
        &[
            "deploy/dist.py",
            weft_bin().to_str().expect("path"),
            wasm.to_str().expect("path"),
            "0.1.0",
            out.path().to_str().expect("path"),
        ],
        &workspace(),
    );
    assert!(ok, "{said}");

    // The tarball: its binary checks and serves its own manifests with its own components.
    let (ok, said) = run(
        "tar",
        &["-xzf", "weft-0.1.0-x86_64-linux.tar.gz"],
        out.path(),
    );
    assert!(ok, "{said}");
    let unpacked = out.path().join("weft-0.1.0-x86_64-linux");
    let data = out.path().join("data");
    let weft_of_tarball = |args: &[&str]| {
        let mut command = std::process::Command::new(unpacked.join("bin/weft"));
        with_credentials(&mut command)
            .env("WEFT_PLUGIN_DIR", unpacked.join("components"))
            .arg("--manifests")
            .arg(unpacked.join("manifests"))
            .arg("--data")
            .arg(&data)
            .args(args);
        command
    };
    let checked = weft_of_tarball(&["check"]).output().expect("check");
    assert!(checked.status.success(), "{checked:?}");
    let mut serving = weft_of_tarball(&["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve");
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(serving.stdout.take().expect("stdout")),
        &mut first,
    )
    .expect("banner");
    let url = first
        .trim()
        .strip_prefix("weft listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    let ready = weft_tests::harness::eventually(Duration::from_secs(60), || async {
        let r = reqwest::get(format!("{url}/readyz")).await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    let _ = serving.kill();
    let _ = serving.wait();
    assert!(
        ready.is_some(),
        "the tarball's weft serves its manifests, ready"
    );
    let unit = std::fs::read_to_string(unpacked.join("systemd/weft.service")).expect("unit");
    assert!(unit.contains("ProtectSystem=strict"));
    for file in ["docs/README.md", "docs/deploy.md", "LICENSE"] {
        assert!(unpacked.join(file).is_file(), "the tarball holds {file}");
    }

    // The image: its metadata, then its one layer holds everything the binary needs to run.
    let layout = out.path().join("weft-oci");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index"))
            .expect("JSON");
    let manifest: serde_json::Value = serde_json::from_slice(&oci_blob(
        &layout,
        index["manifests"][0]["digest"].as_str().expect("digest"),
    ))
    .expect("manifest");
    let config: serde_json::Value = serde_json::from_slice(&oci_blob(
        &layout,
        manifest["config"]["digest"].as_str().expect("digest"),
    ))
    .expect("config");
    let c = &config["config"];
    assert_eq!(c["User"], "10001:10001", "not root");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/usr/local/bin/weft"]));
    assert!(
        c["Volumes"]["/var/lib/weft"].is_object(),
        "data on a volume"
    );
    let layer = layout.join("blobs/sha256").join(
        manifest["layers"][0]["digest"]
            .as_str()
            .expect("digest")
            .trim_start_matches("sha256:"),
    );
    let root = out.path().join("rootfs");
    std::fs::create_dir(&root).expect("rootfs");
    let (ok, said) = run(
        "tar",
        &[
            "-xzf",
            layer.to_str().expect("path"),
            "-C",
            root.to_str().expect("path"),
        ],
        out.path(),
    );
    assert!(ok, "{said}");
    assert!(!root.join("bin/sh").exists(), "no shell in the image");
    assert_eq!(
        std::fs::read_dir(root.join("opt/weft/components"))
            .expect("components")
            .count(),
        5,
        "the five adapters' components"
    );
    // Run with the image's own loader and libraries, none of this machine's.
    let loader = root.join("lib64/ld-linux-x86-64.so.2");
    let libraries = ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"]
        .map(|p| root.join(p).display().to_string())
        .join(":");
    let mut command = std::process::Command::new(&loader);
    let inside = with_credentials(&mut command)
        .env("WEFT_PLUGIN_DIR", root.join("opt/weft/components"))
        .arg("--library-path")
        .arg(&libraries)
        .arg(root.join("usr/local/bin/weft"))
        .arg("--manifests")
        .arg(root.join("etc/weft/manifests"))
        .arg("--data")
        .arg(out.path().join("image-data"))
        .arg("check")
        .output()
        .expect("the image's weft runs");
    assert!(inside.status.success(), "{inside:?}");
    assert!(String::from_utf8_lossy(&inside.stdout).contains("ok      sekorm "));
}
