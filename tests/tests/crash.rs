//! Crash safety: `weft serve` is killed with SIGKILL at random points of a mixed load — sync
//! calls, async jobs, a schedule, inbound pushes — twenty times over one data folder. After the
//! last restart every job that was accepted reaches a final state, and every inbound push that
//! was acknowledged is stored.

use rand::Rng;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;
use weft_tests::harness::{Deployment, Served, component, eventually};

const TOKEN: &str = "crm-token-crash";

fn manifests(dep: &Deployment) {
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n[retry]\nmax_attempts = 5\ninitial_backoff = \"10ms\"\nmax_backoff = \"50ms\"\n[[schedules]]\nname = \"tick\"\nevery = \"1s\"\n",
            component("weft-probe").display()
        ),
    );
    dep.manifest(
        "fxiaoke",
        &format!(
            "name = \"fxiaoke\"\ncomponent = \"{}\"\nbase_url = \"http://127.0.0.1:9\"\n[secrets]\ncrm_token = \"{}\"\npush_token = \"{}\"\n[[routes]]\nname = \"create\"\nmethod = \"POST\"\npath = \"/erp/create\"\nauth = {{ type = \"header\", header = \"token\", secret = \"crm_token\" }}\n[[routes]]\nname = \"queryMasterById\"\nmethod = \"GET\"\npath = \"/erp/queryMasterById\"\nauth = {{ type = \"header\", header = \"token\", secret = \"crm_token\" }}\n",
            component("weft-fxiaoke").display(),
            dep.secret("crm", TOKEN),
            dep.secret("push", "unused"),
        ),
    );
}

/// What the clients were told before the crash.
#[derive(Default)]
struct Acknowledged {
    jobs: BTreeSet<String>,
    pushes: BTreeSet<String>,
    sync_ok: usize,
}

async fn mixed_load(
    url: &str,
    round: usize,
    until: tokio::time::Instant,
    acked: &mut Acknowledged,
) {
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let mut n = 0;
    while tokio::time::Instant::now() < until {
        n += 1;
        let key = format!("r{round}-{n}");
        let (job, push, sync) = tokio::join!(
            c.post(format!("{url}/v1/adapters/probe/ops/echo?mode=async"))
                .header("Idempotency-Key", &key)
                .json(&json!({"key": key}))
                .send(),
            c.post(format!("{url}/inbound/fxiaoke/erp/create"))
                .header("token", TOKEN)
                .json(&json!({"objAPIName": "OrderObj", "masterFieldVal": {"id": key, "n": n}}))
                .send(),
            c.post(format!("{url}/v1/adapters/probe/ops/echo"))
                .json(&json!({"n": n}))
                .send(),
        );
        if let Ok(r) = job
            && r.status().as_u16() == 202
            && let Ok(v) = r.json::<Value>().await
            && let Some(id) = v["job_id"].as_str()
        {
            acked.jobs.insert(id.to_string());
        }
        if let Ok(r) = push
            && r.status().is_success()
            && let Ok(v) = r.json::<Value>().await
            && v["code"] == "0"
        {
            acked.pushes.insert(key.clone());
        }
        if let Ok(r) = sync
            && r.status().is_success()
        {
            acked.sync_ok += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_kills_lose_no_accepted_job_and_no_acknowledged_push() {
    let dep = Deployment::new();
    manifests(&dep);
    let mut acked = Acknowledged::default();
    for round in 0..20 {
        let served = Served::start(&dep, &["--workers", "4", "--job-lease", "2s"]);
        let length = Duration::from_millis(rand::rng().random_range(100..600));
        mixed_load(
            &served.url,
            round,
            tokio::time::Instant::now() + length,
            &mut acked,
        )
        .await;
        served.kill9();
    }
    assert!(
        acked.jobs.len() > 20 && acked.pushes.len() > 20,
        "the load ran: {} jobs, {} pushes",
        acked.jobs.len(),
        acked.pushes.len()
    );
    assert!(acked.sync_ok > 20);

    let served = Served::start(&dep, &["--workers", "4", "--job-lease", "2s"]);
    let c = reqwest::Client::new();
    let url = served.url.clone();
    // Every accepted job ends: leases of killed processes lapse and the jobs run again.
    let pending = eventually(Duration::from_secs(60), || {
        let (c, url, jobs) = (c.clone(), url.clone(), acked.jobs.clone());
        async move {
            let mut left = Vec::new();
            for id in &jobs {
                let v: Value = c
                    .get(format!("{url}/v1/jobs/{id}"))
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                if v["state"] != "succeeded" {
                    left.push(format!("{id}: {}", v["state"]));
                }
            }
            left.is_empty().then_some(())
        }
    })
    .await;
    assert!(
        pending.is_some(),
        "accepted jobs did not all succeed after the last restart"
    );
    // Every acknowledged push is stored.
    for key in &acked.pushes {
        let v: Value = c
            .get(format!("{url}/inbound/fxiaoke/erp/queryMasterById"))
            .header("token", TOKEN)
            .query(&[("objAPIName", "OrderObj"), ("dataId", key.as_str())])
            .send()
            .await
            .expect("query")
            .json()
            .await
            .expect("json");
        assert_eq!(
            v["code"], "0",
            "push {key} was acknowledged but is not stored: {v}"
        );
    }
    // The schedule ran across the crashes (overlap is proven elsewhere: a kill in the middle of
    // a tick would leave the probe's own marker behind).
    let ticks: Value = c
        .post(format!("{url}/v1/adapters/probe/ops/storage"))
        .json(&json!({"key": "ticks"}))
        .send()
        .await
        .expect("storage")
        .json()
        .await
        .expect("json");
    let ticks: u64 = ticks["read"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    assert!(ticks >= 1, "the schedule never ran");
}
