//! A compressed day: one `weft serve` with every shipped adapter against the project's
//! simulators — tokens living seconds, a per-second cron, inbound pushes, async jobs, a
//! component replaced once, and another process reading and touching every watched file — for
//! a bounded time (`WEFT_SOAK_SECS`, default 60). It asserts invariants, not timings: reloads
//! equal real changes, schedule runs equal ticks elapsed, every accepted job ends, token fetches
//! stay within the lifetimes elapsed, the metrics' series and the process's memory stay bounded,
//! and no ERROR line appears.

use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use weft_tests::fxiaoke::Crm;
use weft_tests::harness::{Deployment, Served, component, probe_v2};
use weft_tests::hugevision::{Account, HugeVision};
use weft_tests::lenovo::Lenovo;
use weft_tests::sekorm::Sekorm;
use weft_tests::supercarrier8::SuperCarrier8;

const CRM_TOKEN: &str = "crm-token-soak";
/// Token lifetimes, in seconds.
const SEKORM_TTL: u64 = 4;
const SC8_TTL: u64 = 5;
const HV_TTL: u64 = 5;

fn soak_secs() -> u64 {
    std::env::var("WEFT_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60)
        .max(20)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn series(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count()
}

fn metric_sum(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn hv_account() -> Account {
    Account {
        system_key: "HVSDemoSystem1".into(),
        unique_code: "HVSDemoSystem1Password".into(),
        user_name: "物流担当_0101_01@HVSDemoSystem1".into(),
        parameters: json!({"clientId": 1000003, "roleId": 1000021, "organizationId": 1000001}),
    }
}

fn adjustment(doc_no: &str) -> Value {
    json!({"docList": [{
        "docNo": doc_no,
        "org_Text": "HugeVision-SCM Demo",
        "doctype_Name": "库存调整",
        "movementDate": "2026-11-23",
        "warehouse_Text": "D01仓库A",
        "lineList": [
            {"lineId": "1", "locator_Text": "0001_D01仓库A正品库位", "product_Text": "SD01B02_D01食品酒饮02",
             "invStatus_Text": "正常", "adjustQuantity": "10"}
        ]
    }]})
}

struct Sims {
    sekorm: Sekorm,
    lenovo: Lenovo,
    sc8: SuperCarrier8,
    hv: HugeVision,
    _crm: Crm,
}

fn manifests(dep: &Deployment, sims: &Sims, live_probe: &std::path::Path) {
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n[[schedules]]\nname = \"tick\"\ncron = \"* * * * * *\"\ntime_zone = \"Europe/Paris\"\n",
            live_probe.display()
        ),
    );
    dep.manifest(
        "sekorm",
        &sims
            .sekorm
            .manifest(dep, "acct", "secret", "[limits]\nconcurrency = 8\n"),
    );
    dep.manifest(
        "lenovo",
        &format!(
            "name = \"lenovo\"\ncomponent = \"{}\"\nbase_url = \"{}\"\n[secrets]\nclient_id = \"{}\"\nclient_secret = \"{}\"\n[token]\nmin_fetch_interval = \"0s\"\n[retry]\nmax_attempts = 3\ninitial_backoff = \"10ms\"\nmax_backoff = \"50ms\"\n[config]\ntoken_url = \"{}\"\napp_name = \"WEFT\"\n",
            component("weft-lenovo").display(),
            sims.lenovo.base_url(),
            dep.secret("lenovo_id", "weft-client"),
            dep.secret("lenovo_secret", "weft-secret"),
            sims.lenovo.token_url(),
        ),
    );
    dep.manifest(
        "supercarrier8",
        &format!(
            "name = \"supercarrier8\"\ncomponent = \"{}\"\nbase_url = \"{}\"\n[secrets]\naccess_key = \"{}\"\nsecret_key = \"{}\"\n[token]\nrefresh_window = \"10%\"\nmin_fetch_interval = \"1s\"\nrefresh_on = [\"20324012\", \"20324013\"]\n[retry]\nmax_attempts = 3\ninitial_backoff = \"10ms\"\nmax_backoff = \"50ms\"\n",
            component("weft-supercarrier8").display(),
            sims.sc8.base_url(),
            dep.secret("ak", "app-key"),
            dep.secret("sk", "app-secret"),
        ),
    );
    let a = hv_account();
    dep.manifest(
        "hugevision",
        &format!(
            "name = \"hugevision\"\ncomponent = \"{}\"\nbase_url = \"{}\"\n[secrets]\nsystem_key = \"{}\"\nuser_name = \"{}\"\nsystem_password = \"{}\"\n[token]\nmin_fetch_interval = \"0s\"\nrefresh_window = \"10%\"\n[retry]\nmax_attempts = 4\ninitial_backoff = \"10ms\"\nmax_backoff = \"100ms\"\n[config]\nclient_id = 1000003\nrole_id = 1000021\norganization_id = 1000001\npoll_first_delay = \"300ms\"\npoll_backoff = \"300ms\"\npoll_backoff_max = \"1s\"\npoll_give_up_after = \"1m\"\nretention_days = 1\n",
            component("weft-hugevision").display(),
            sims.hv.base_url(),
            dep.secret("hv_system", &a.system_key),
            dep.secret("hv_user", &a.user_name),
            dep.secret("hv_password", &a.unique_code),
        ),
    );
    dep.manifest(
        "fxiaoke",
        &format!(
            "name = \"fxiaoke\"\ncomponent = \"{}\"\nbase_url = \"http://127.0.0.1:9\"\n[secrets]\ncrm_token = \"{}\"\npush_token = \"{}\"\n[[routes]]\nname = \"create\"\nmethod = \"POST\"\npath = \"/erp/create\"\nauth = {{ type = \"header\", header = \"token\", secret = \"crm_token\" }}\n[config]\ntenant_id = \"tenant-soak\"\n",
            component("weft-fxiaoke").display(),
            dep.secret("crm", CRM_TOKEN),
            dep.secret("push", "unused"),
        ),
    );
}

/// One round of ordinary traffic: a call to each adapter, an inbound push, an async job.
/// Answers the async job ids accepted.
async fn round(c: &reqwest::Client, url: &str, n: u64) -> Vec<String> {
    let op = |adapter: &str, op: &str| format!("{url}/v1/adapters/{adapter}/ops/{op}");
    let (sekorm, lenovo, sc8, hv, push, job) = tokio::join!(
        c.post(op("sekorm", "update-quantity"))
            .json(&json!({"pnCode": format!("P{n}"), "brandName": "AMS", "stockQuantity": n}))
            .send(),
        c.post(op("lenovo", "sync"))
            .json(&json!({"data_category": "inventory", "biz_key": "stock", "action": "add",
                "rows": [{"LENOVO_PN": format!("pn_{n}"), "PLANT": "1111", "QTY": n}]}))
            .send(),
        c.post(op("supercarrier8", "call"))
            .json(&json!({"method": "GET", "path": "/cncop/demo"}))
            .send(),
        c.post(format!("{}?mode=async", op("hugevision", "create-inventory-adjustment")))
            .header("Idempotency-Key", format!("hv-{n}"))
            .json(&adjustment(&format!("SOAK{n}")))
            .send(),
        c.post(format!("{url}/inbound/fxiaoke/erp/create"))
            .header("token", CRM_TOKEN)
            .json(&json!({"objAPIName": "OrderObj", "masterFieldVal": {"id": format!("o{n}"), "n": n}}))
            .send(),
        c.post(format!("{}?mode=async", op("probe", "echo")))
            .json(&json!({ "n": n }))
            .send(),
    );
    for (what, r) in [
        ("sekorm", sekorm),
        ("lenovo", lenovo),
        ("supercarrier8", sc8),
        ("fxiaoke push", push),
    ] {
        let r = r.unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert!(status.is_success(), "{what} round {n}: {status} {body}");
    }
    let mut ids = Vec::new();
    for (what, r) in [("hugevision", hv), ("probe job", job)] {
        let r = r.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(r.status(), 202, "{what} round {n}");
        let v: Value = r.json().await.expect("json");
        ids.push(v["job_id"].as_str().expect("job id").to_string());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compressed_day_keeps_every_invariant() {
    let secs = soak_secs();
    let sims = Sims {
        sekorm: Sekorm::start("acct", "secret").await,
        lenovo: Lenovo::start("weft-client", "weft-secret").await,
        sc8: SuperCarrier8::start("app-key", "app-secret", SC8_TTL, Duration::from_secs(1)).await,
        hv: HugeVision::start(
            hv_account(),
            Duration::from_secs(HV_TTL),
            Duration::from_millis(100),
            Duration::from_millis(1500),
        )
        .await,
        _crm: Crm::start("push-token", "tenant-soak", &[]).await,
    };
    sims.sekorm.set_expires_in(SEKORM_TTL);
    let dep = Deployment::new();
    let root = dep.manifests().parent().expect("root").to_path_buf();
    let components = root.join("components");
    std::fs::create_dir_all(&components).expect("components");
    let live = components.join("probe.wasm");
    std::fs::copy(component("weft-probe"), &live).expect("copy");
    manifests(&dep, &sims, &live);
    let log = root.join("serve.log");
    let served = Served::start_logging_with(&dep, "info", &log, &["--job-lease", "5s"]);
    let url = served.url.clone();
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    // Another process reading, stat-ing and touching every watched file, all along.
    let stop = Arc::new(AtomicBool::new(false));
    let toucher = {
        let stop = stop.clone();
        let files: Vec<std::path::PathBuf> = std::fs::read_dir(dep.manifests())
            .expect("list")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .chain([live.clone()])
            .collect();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                for f in &files {
                    let _ = std::fs::read(f);
                    if let Ok(file) = std::fs::OpenOptions::new().append(true).open(f) {
                        let _ = file.set_modified(std::time::SystemTime::now());
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };

    let started = Instant::now();
    let end = started + Duration::from_secs(secs);
    let mut jobs = Vec::new();
    let mut n = 0u64;
    let mut warm: Option<(usize, u64)> = None;
    let mut swapped = false;
    let mut first_ticks = None;
    while Instant::now() < end {
        n += 1;
        jobs.extend(round(&c, &url, n).await);
        let t = started.elapsed();
        if warm.is_none() && t >= Duration::from_secs(secs / 4) {
            let text = c
                .get(format!("{url}/metrics"))
                .send()
                .await
                .expect("metrics")
                .text()
                .await
                .expect("text");
            warm = Some((series(&text), rss_kib(served.pid())));
            first_ticks = Some((
                metric_sum(
                    &text,
                    "weft_schedule_runs_total{adapter=\"probe\",schedule=\"tick\",outcome=\"ok\"}",
                ),
                Instant::now(),
            ));
        }
        if !swapped && t >= Duration::from_secs(secs / 2) {
            // The one real change of the day: a new component, renamed over the old one.
            let tmp = components.join("probe.wasm.tmp");
            std::fs::copy(probe_v2(), &tmp).expect("copy v2");
            std::fs::rename(&tmp, &live).expect("rename");
            swapped = true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    toucher.join().expect("toucher");

    // Every accepted job ends, and succeeds.
    for id in &jobs {
        let state = weft_tests::harness::job_in_state(
            &c,
            &url,
            id,
            &["succeeded", "dead"],
            Duration::from_secs(60),
        )
        .await
        .unwrap_or_else(|| panic!("job {id} never ended"));
        assert_eq!(state["state"], "succeeded", "{state}");
    }

    let text = c
        .get(format!("{url}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    // Reloads equal real changes: six adapters loaded at start, one component replaced.
    let logged = std::fs::read_to_string(&log).expect("log");
    let reloads: Vec<&str> = logged
        .lines()
        .filter(|l| {
            l.contains("weft::registry")
                || l.contains("weft::watch")
                || l.contains("WARN")
                || l.contains("ERROR")
        })
        .collect();
    assert_eq!(
        metric_sum(
            &text,
            "weft_adapter_loads_total{adapter=\"probe\",outcome=\"published\"}"
        ),
        2.0,
        "the probe: loaded once, replaced once: {reloads:#?}"
    );
    assert_eq!(
        metric_sum(&text, "weft_adapter_loads_total{"),
        7.0,
        "no other reload: {text}"
    );
    // Schedule runs equal ticks elapsed (± the boundaries).
    let (ticks_warm, at) = first_ticks.expect("warm-up seen");
    let ticks_end = metric_sum(
        &text,
        "weft_schedule_runs_total{adapter=\"probe\",schedule=\"tick\",outcome=\"ok\"}",
    );
    let window = at.elapsed().as_secs_f64();
    let ran = ticks_end - ticks_warm;
    assert!(
        (ran - window).abs() <= 2.0,
        "{ran} schedule runs in {window:.1} s"
    );
    // Token fetches stay within the lifetimes elapsed: refreshed early by at most half a
    // lifetime, plus the first fetch and one at the edge.
    let bound = |ttl: u64| (elapsed / (ttl as f64 / 2.0)).ceil() as usize + 2;
    let sekorm_fetches = sims.sekorm.token_requests();
    assert!(
        sekorm_fetches <= bound(SEKORM_TTL),
        "sekorm fetched {sekorm_fetches} tokens in {elapsed:.0} s"
    );
    let sc8_fetches = sims.sc8.ledger(|l| l.token_requests);
    assert!(
        sc8_fetches <= bound(SC8_TTL),
        "supercarrier8 fetched {sc8_fetches} tokens in {elapsed:.0} s"
    );
    let hv_logins = sims.hv.ledger(|l| l.login_requests);
    assert!(
        hv_logins <= bound(HV_TTL),
        "hugevision logged in {hv_logins} times in {elapsed:.0} s"
    );
    assert!(
        sims.lenovo.ledger(|l| l.token_requests) >= 1,
        "lenovo was called"
    );
    // Series and memory stay bounded after the warm-up.
    let (warm_series, warm_rss) = warm.expect("warm-up seen");
    let end_series = series(&text);
    assert!(
        end_series <= warm_series + 60,
        "metrics series grew from {warm_series} to {end_series}"
    );
    let end_rss = rss_kib(served.pid());
    assert!(
        end_rss <= warm_rss + 96 * 1024,
        "RSS grew from {warm_rss} KiB to {end_rss} KiB"
    );
    // No ERROR line: nothing here was meant to fail.
    let errors: Vec<&str> = logged.lines().filter(|l| l.contains("ERROR")).collect();
    assert!(errors.is_empty(), "unexpected errors: {errors:#?}");
    assert!(
        logged.matches("manifests reloaded after a change").count() == 1,
        "one rescan reported, for the one change"
    );
}
