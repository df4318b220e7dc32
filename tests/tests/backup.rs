//! Backing the embedded store up while Weft serves under load, and restoring it: the restored
//! store serves the same jobs and accepts the same API tokens; a backup made under another
//! store key, or a restore over a store without --replace, is refused.

use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weft_tests::harness::{Deployment, Served, component, weft_bin};

fn weft(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut command = weft_tests::harness::weft_command();
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.args(args).output().expect("weft runs");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_to_a_store_serving_the_same_jobs_and_tokens() {
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n",
            component("weft-probe").display()
        ),
    );
    let data = dep.data();
    let data_arg = data.to_str().expect("path");
    let served = Served::start_bin(&weft_bin(), &dep, &["--data", data_arg], true);
    let url = served.url.clone();
    let admin = std::fs::read_to_string(data.join("admin-token"))
        .expect("admin token")
        .trim()
        .to_string();
    let c = reqwest::Client::new();
    let made: Value = c
        .post(format!("{url}/v1/tokens"))
        .bearer_auth(&admin)
        .json(&json!({"name": "kept", "scopes": ["read"]}))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let kept = made["token"].as_str().expect("token value").to_string();

    // Load: jobs enqueued one after another for as long as the backup takes.
    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (c, url, admin, accepted, stop) = (
            c.clone(),
            url.clone(),
            admin.clone(),
            accepted.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                i += 1;
                let r = c
                    .post(format!("{url}/v1/adapters/probe/ops/echo?mode=async"))
                    .bearer_auth(&admin)
                    .header("Idempotency-Key", format!("load-{i}"))
                    .json(&json!({ "i": i }))
                    .send()
                    .await;
                if let Ok(r) = r
                    && r.status() == 202
                    && let Ok(body) = r.json::<Value>().await
                    && let Some(id) = body["job_id"].as_str()
                {
                    accepted.lock().expect("lock").push(id.to_string());
                }
            }
        })
    };
    while accepted.lock().expect("lock").len() < 200 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before: Vec<String> = accepted.lock().expect("lock").clone();
    let file = dep
        .manifests()
        .parent()
        .expect("root")
        .join("weft-backup.db");
    let (code, said) = tokio::task::spawn_blocking({
        let (file, data) = (file.clone(), data.clone());
        move || {
            weft(
                &[
                    "--data",
                    data.to_str().expect("path"),
                    "store",
                    "backup",
                    file.to_str().expect("path"),
                ],
                &[],
            )
        }
    })
    .await
    .expect("backup");
    assert_eq!(code, 0, "backup: {said}");
    assert!(said.contains("store key"), "{said}");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    load.await.expect("load");
    let during = accepted.lock().expect("lock").len() - before.len();
    assert!(during > 0, "jobs were enqueued while the backup ran");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file)
        .expect("backup")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the backup is this user's only");
    drop(served);

    // Restored into a new data folder, under the same key (the tests' WEFT_STORE_KEY).
    let root = dep.manifests().parent().expect("root").to_path_buf();
    let restored = root.join("restored");
    let restored_arg = restored.to_str().expect("path");
    let file_arg = file.to_str().expect("path");
    let (code, said) = weft(&["--data", restored_arg, "store", "restore", file_arg], &[]);
    assert_eq!(code, 0, "restore: {said}");
    let mode = std::fs::metadata(&restored)
        .expect("restored")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o700,
        "the restored data folder is this user's only"
    );
    // Again over it: refused without --replace; with it, the store there is kept aside.
    let (code, said) = weft(&["--data", restored_arg, "store", "restore", file_arg], &[]);
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("--replace"), "{said}");
    let (code, said) = weft(
        &[
            "--data",
            restored_arg,
            "store",
            "restore",
            file_arg,
            "--replace",
        ],
        &[],
    );
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("kept as"), "{said}");
    // Under another key: refused, and nothing is put in place.
    let elsewhere = root.join("elsewhere");
    let other_key = "ff".repeat(32);
    let (code, said) = weft(
        &[
            "--data",
            elsewhere.to_str().expect("path"),
            "store",
            "restore",
            file_arg,
        ],
        &[("WEFT_STORE_KEY", other_key.as_str())],
    );
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("another store key"), "{said}");
    assert!(!elsewhere.join("weft.db").exists(), "nothing restored");
    // Not a backup at all.
    let bogus = root.join("bogus.db");
    std::fs::write(&bogus, b"not a database").expect("bogus");
    let (code, said) = weft(
        &[
            "--data",
            elsewhere.to_str().expect("path"),
            "store",
            "restore",
            bogus.to_str().expect("path"),
        ],
        &[],
    );
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("not a backup"), "{said}");

    // The restored store serves: every job accepted before the backup began, and the token.
    let again = Served::start_bin(&weft_bin(), &dep, &["--data", restored_arg], true);
    let url = again.url.clone();
    for id in &before {
        let r = c
            .get(format!("{url}/v1/jobs/{id}"))
            .bearer_auth(&kept)
            .send()
            .await
            .expect("job");
        assert_eq!(r.status(), 200, "job {id} is in the restored store");
    }
    let listed: Value = c
        .get(format!("{url}/v1/jobs?limit=1000"))
        .bearer_auth(&kept)
        .send()
        .await
        .expect("jobs")
        .json()
        .await
        .expect("json");
    assert!(
        listed.as_array().expect("list").len() >= before.len(),
        "{} jobs restored",
        listed.as_array().map_or(0, Vec::len)
    );
    // The restored jobs run: a queued one finishes.
    let last = before.last().expect("a job");
    let done = weft_tests::harness::eventually(Duration::from_secs(30), || async {
        let job: Value = c
            .get(format!("{url}/v1/jobs/{last}"))
            .bearer_auth(&kept)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (job["state"] == "succeeded").then_some(job)
    })
    .await;
    assert!(done.is_some(), "a restored job runs to its end");
}
