//! Adapters against each other and against the host: each keeps its share of the instance pool
//! whatever another does, storage is bounded per adapter, a call's jobs and logs are bounded in
//! the host's memory, and the outbound guard keeps adapters off internal addresses unless a
//! manifest names one with its port.

use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use weft::{ErrorKind, Runtime};
use weft_tests::harness::{Deployment, component};

fn probe(name: &str, top: &str, limits: &str) -> String {
    format!(
        "name = \"{name}\"\ncomponent = \"{}\"\n{top}\n[limits]\n{limits}\n",
        component("weft-probe").display()
    )
}

async fn call(
    rt: &Runtime,
    adapter: &str,
    op: &str,
    input: Value,
) -> Result<Value, weft::InvokeError> {
    weft_tests::harness::invoke_json(rt, adapter, op, input).await
}

async fn open(dep: &Deployment, max_instances: u32) -> Runtime {
    let mut options = dep.options();
    options.engine.max_instances = max_instances;
    Runtime::open(options).await.expect("runtime opens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_adapter_keeps_its_share_of_the_instance_pool() {
    let dep = Deployment::new();
    // 9 + 3 = 12 instances reserved: the whole pool.
    // (Adapters new at once take their shares in name order.)
    dep.manifest(
        "a-hog",
        &probe(
            "a-hog",
            "",
            "concurrency = 8\ntimeout = \"4s\"\n[token]\nfetch_timeout = \"3s\"",
        ),
    );
    dep.manifest("b-calm", &probe("b-calm", "", "concurrency = 2"));
    // 5 more would over-commit it.
    dep.manifest("c-greedy", &probe("c-greedy", "", "concurrency = 4"));
    let rt = Arc::new(open(&dep, 12).await);
    let errors = rt.load_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].key, "limits.concurrency");
    assert!(
        errors[0].message.contains("--max-instances") && errors[0].message.contains("12"),
        "{}",
        errors[0].message
    );
    assert!(
        rt.registry().get("c-greedy").is_none(),
        "greedy is not loaded"
    );

    // The hog holds every instance it may: its calls wait on a token fetch that never returns.
    let hogs: Vec<_> = (0..20)
        .map(|_| {
            let rt = rt.clone();
            tokio::spawn(async move { call(&rt, "a-hog", "hang-token", json!({})).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let calm: Vec<_> = (0..4)
        .map(|i| {
            let rt = rt.clone();
            tokio::spawn(async move { call(&rt, "b-calm", "echo", json!({ "i": i })).await })
        })
        .collect();
    for (i, c) in calm.into_iter().enumerate() {
        let out = c
            .await
            .expect("task")
            .expect("calm answers while the hog hangs");
        assert_eq!(out["i"], i);
    }
    for h in hogs {
        let e = h
            .await
            .expect("task")
            .expect_err("the hog's calls end at their deadline");
        assert_ne!(e.kind, ErrorKind::Trap, "{e:?}");
    }
}

#[test]
fn weft_check_says_when_the_manifests_over_commit_the_pool() {
    let dep = Deployment::new();
    dep.manifest("a", &probe("a", "", "concurrency = 10"));
    dep.manifest("b", &probe("b", "", "concurrency = 10"));
    let out = weft_tests::harness::weft_command()
        .arg("--manifests")
        .arg(dep.manifests())
        .arg("--data")
        .arg(dep.data())
        .args(["--max-instances", "16", "check"])
        .output()
        .expect("weft runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("FAILED") && stdout.contains("limits.concurrency"),
        "{stdout}"
    );
    let ok = weft_tests::harness::weft_command()
        .arg("--manifests")
        .arg(dep.manifests())
        .arg("--data")
        .arg(dep.data())
        .args(["--max-instances", "22", "check"])
        .output()
        .expect("weft runs");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_is_bounded_per_adapter_in_bytes_and_keys() {
    let dep = Deployment::new();
    dep.manifest(
        "full",
        &probe("full", "", "storage = \"2KiB\"\nstorage_keys = 3"),
    );
    dep.manifest("other", &probe("other", "", ""));
    let rt = dep.runtime().await;
    let set = |key: &str, bytes: usize| json!({ "key": key, "value": "v".repeat(bytes) });
    call(&rt, "full", "storage", set("a", 900))
        .await
        .expect("a fits");
    call(&rt, "full", "storage", set("b", 900))
        .await
        .expect("b fits");
    let e = call(&rt, "full", "storage", set("c", 500))
        .await
        .expect_err("c does not fit in 2 KiB");
    assert!(
        e.message.contains("storage is full") && e.message.contains("limits.storage"),
        "{e:?}"
    );
    // Rewriting a key counts its new size, not both.
    call(&rt, "full", "storage", set("a", 100))
        .await
        .expect("a shrinks");
    call(&rt, "full", "storage", set("c", 500))
        .await
        .expect("now c fits");
    let e = call(&rt, "full", "storage", set("d", 1))
        .await
        .expect_err("a fourth key is one too many");
    assert!(e.message.contains("limits.storage_keys"), "{e:?}");
    // Another adapter is not affected.
    call(&rt, "other", "storage", set("d", 5000))
        .await
        .expect("other has its own quota");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jobs_of_one_call_are_bounded_in_bytes() {
    let dep = Deployment::new();
    dep.manifest(
        "storm",
        &probe("storm", "", "memory = \"256MiB\"\nrequest_body = \"8MiB\""),
    );
    let rt = dep.runtime().await;
    let out = call(
        &rt,
        "storm",
        "enqueue-storm",
        json!({ "count": 12, "kib": 7000 }),
    )
    .await
    .expect("the probe reports");
    assert_eq!(
        out["taken"], 9,
        "64 MiB hold nine inputs of 7000 KiB: {out}"
    );
    assert!(
        out["refusal"]
            .as_str()
            .unwrap_or_default()
            .contains("64 MiB"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_floods_the_log_is_cut() {
    let dep = Deployment::new();
    dep.manifest("flood", &probe("flood", "", ""));
    let log = dep.manifests().parent().expect("root").join("serve.log");
    let served = weft_tests::harness::Served::start_logging(&dep, "info", &log);
    let out: Value = reqwest::Client::new()
        .post(format!("{}/v1/adapters/flood/ops/log-flood", served.url))
        .json(&json!({ "count": 200, "kib": 8 }))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(out["logged"], 200, "the call itself is not failed: {out}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logged = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<&str> = logged.lines().filter(|l| l.contains(" flood 0")).collect();
    assert!(!lines.is_empty(), "the first lines are logged");
    let longest = lines.iter().map(|l| l.len()).max().unwrap_or(0);
    assert!(
        longest < 4096 + 1024,
        "each message is cut at 4 KiB: {longest}"
    );
    let bytes: usize = lines.iter().map(|l| l.len()).sum();
    assert!(bytes < 300 * 1024, "at most 256 KiB a call: {bytes}");
    assert!(
        logged.contains("log lines past 262144 bytes in one call are dropped"),
        "the drop is said once"
    );
    assert_eq!(logged.matches("are dropped").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_addresses_need_an_explicit_grant_with_a_port() {
    let dep = Deployment::new();
    for (name, pattern) in [
        ("bare", "127.0.0.1"),
        ("private", "10.0.0.7"),
        ("tld", "*.com"),
        ("ips", "*.0.0.1"),
    ] {
        dep.manifest(
            name,
            &probe(name, &format!("allowed_hosts = [\"{pattern}\"]"), ""),
        );
    }
    // A listener on loopback: reachable only through a pattern naming its port.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await;
        }
    });
    dep.manifest(
        "granted",
        &probe(
            "granted",
            &format!("allowed_hosts = [\"{addr}\", \"*.example.com\"]"),
            "",
        ),
    );
    let mut options = dep.options();
    options.engine.max_instances = 400;
    let rt = Runtime::open(options).await.expect("opens");
    let errors = rt.load_errors();
    let refused: Vec<String> = errors
        .iter()
        .map(|e| {
            e.file
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string()
        })
        .collect();
    for name in ["bare", "private", "tld", "ips"] {
        assert!(refused.iter().any(|r| r == name), "{name}: {errors:?}");
    }
    let bare = errors
        .iter()
        .find(|e| e.file.ends_with("bare.toml"))
        .expect("bare");
    assert!(bare.message.contains("with its port"), "{}", bare.message);

    let ok = call(
        &rt,
        "granted",
        "http-get",
        json!({ "url": format!("http://{addr}/") }),
    )
    .await
    .expect("answer");
    assert_eq!(ok["status"], 200, "{ok}");
    for url in [
        format!("http://127.0.0.1:{}/", addr.port() + 1),
        "http://10.1.2.3:80/".to_string(),
        "http://192.168.0.1/".to_string(),
        "http://[fd00::1]:8080/".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://100.64.0.1/".to_string(),
    ] {
        let out = call(&rt, "granted", "http-get", json!({ "url": url }))
            .await
            .expect("answer");
        let error = out["error"].as_str().unwrap_or_default();
        assert!(error.starts_with("HttpError::Denied"), "{url}: {out}");
    }
}
