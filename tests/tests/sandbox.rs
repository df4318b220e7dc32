//! The sandbox and the per-call limits, proven with the misbehaving probe adapter: CPU time,
//! memory and traps end the call with the right kind while the host and other calls carry on;
//! nothing of the host's environment or files is visible; storage namespaces are separate.

use serde_json::{Value, json};
use weft::{CallOptions, ErrorKind, Runtime};
use weft_tests::harness::{Deployment, component};

fn probe_manifest(name: &str, limits: &str) -> String {
    format!(
        r#"
name = "{name}"
component = "{}"
allowed_hosts = []

[limits]
{limits}
"#,
        component("weft-probe").display()
    )
}

async fn runtime(dep: &Deployment) -> Runtime {
    dep.runtime().await
}

async fn call(
    rt: &Runtime,
    adapter: &str,
    op: &str,
    input: Value,
) -> Result<Value, weft::InvokeError> {
    weft_tests::harness::invoke_json(rt, adapter, op, input).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_hits_the_cpu_limit_and_others_keep_working() {
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &probe_manifest("probe", "cpu_time = \"300ms\"\ntimeout = \"20s\""),
    );
    let rt = std::sync::Arc::new(runtime(&dep).await);
    let spinner = {
        let rt = rt.clone();
        tokio::spawn(async move { call(&rt, "probe", "spin", json!({})).await })
    };
    // While one instance spins, the others answer: the spinner yields at every epoch tick.
    for i in 0..5 {
        let out = call(&rt, "probe", "echo", json!({ "n": i }))
            .await
            .expect("echo while spinning");
        assert_eq!(out["n"], i);
    }
    let e = spinner.await.expect("task").expect_err("spin must fail");
    assert_eq!(e.kind, ErrorKind::Limit, "{e}");
    assert!(e.message.contains("limits.cpu_time (300ms)"), "{e}");
    assert!(e.message.contains("probe"), "names the adapter: {e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wall_clock_timeout_ends_the_call() {
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &probe_manifest("probe", "cpu_time = \"60s\"\ntimeout = \"400ms\""),
    );
    let rt = runtime(&dep).await;
    let e = call(&rt, "probe", "spin", json!({}))
        .await
        .expect_err("timeout");
    assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
    assert!(e.message.contains("limits.timeout (400ms)"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_allocation_hits_the_memory_limit() {
    let dep = Deployment::new();
    dep.manifest("probe", &probe_manifest("probe", "memory = \"16MiB\""));
    let rt = runtime(&dep).await;
    let e = call(&rt, "probe", "alloc", json!({}))
        .await
        .expect_err("out of memory");
    assert_eq!(e.kind, ErrorKind::Limit, "{e}");
    assert!(e.message.contains("limits.memory (16.0 MiB)"), "{e}");
    call(&rt, "probe", "echo", json!({}))
        .await
        .expect("the next call gets a fresh instance");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_a_trap_and_the_host_carries_on() {
    let dep = Deployment::new();
    dep.manifest("probe", &probe_manifest("probe", ""));
    let rt = runtime(&dep).await;
    let e = call(&rt, "probe", "panic", json!({}))
        .await
        .expect_err("trap");
    assert_eq!(e.kind, ErrorKind::Trap, "{e}");
    assert!(e.message.contains("probe trapped"), "{e}");
    assert_eq!(
        call(&rt, "probe", "echo", json!({"ok": true}))
            .await
            .expect("after the trap")["ok"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_grants_no_environment_files_or_arguments() {
    let dep = Deployment::new();
    dep.manifest("probe", &probe_manifest("probe", ""));
    let rt = runtime(&dep).await;
    let out = call(&rt, "probe", "sandbox", json!({}))
        .await
        .expect("sandbox report");
    assert_eq!(out["env"], json!([]), "no environment variables");
    assert_eq!(out["args"], json!([]), "no arguments");
    assert!(
        out["read_etc_passwd"]
            .as_str()
            .unwrap_or("")
            .starts_with("Err"),
        "{out}"
    );
    assert!(
        out["list_cwd"].as_str().unwrap_or("").starts_with("Err"),
        "{out}"
    );
    assert_eq!(out["clock_works"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_http_is_denied_without_a_grant() {
    let dep = Deployment::new();
    dep.manifest("probe", &probe_manifest("probe", ""));
    let rt = runtime(&dep).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    listener.set_nonblocking(true).expect("nonblocking");
    // The probe reports the send's error as data, so the guest-visible error is checked.
    let out = call(&rt, "probe", "http-get", json!({ "url": url }))
        .await
        .expect("probe answers");
    let error = out["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("HttpError::Denied"), "{out}");
    assert!(error.contains("not in allowed_hosts []"), "{out}");
    assert!(listener.accept().is_err(), "no connection was opened");
    let out = call(
        &rt,
        "probe",
        "http-get",
        json!({ "url": "file:///etc/passwd" }),
    )
    .await
    .expect("probe answers");
    assert!(
        out["error"]
            .as_str()
            .unwrap_or_default()
            .contains("scheme \\\"file\\\" is not allowed"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_adapter_instance_has_its_own_storage_namespace() {
    let dep = Deployment::new();
    dep.manifest("a", &probe_manifest("probe-a", ""));
    dep.manifest("b", &probe_manifest("probe-b", ""));
    let rt = runtime(&dep).await;
    let out = call(
        &rt,
        "probe-a",
        "storage",
        json!({"key": "shared/name", "value": "from-a"}),
    )
    .await
    .expect("a writes");
    assert_eq!(out["read"], "from-a");
    let out = call(&rt, "probe-b", "storage", json!({"key": "shared/name"}))
        .await
        .expect("b reads");
    assert_eq!(out["read"], Value::Null, "b cannot see a's key");
    assert_eq!(out["keys"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_gets_a_fresh_instance_and_its_context() {
    let dep = Deployment::new();
    dep.manifest("probe", &probe_manifest("probe", ""));
    let rt = runtime(&dep).await;
    let options = CallOptions {
        idempotency_key: Some("key-1".into()),
        ..CallOptions::default()
    };
    let out: Value = serde_json::from_str(
        &rt.invoke("probe", "context", "{}", options)
            .await
            .expect("context"),
    )
    .expect("json");
    assert_eq!(out["attempt"], 1);
    assert_eq!(out["idempotency_key"], "key-1");
    assert!(out["call_id"].as_str().is_some_and(|s| s.len() == 36));
}

/// Instance slots are reused, and the pages a call wrote are reset in place for the next one
/// (host/src/engine.rs): no call may ever see what an earlier one left, whichever adapter it
/// ran for, whether it wrote a little memory or more than the host keeps resident, or trapped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_call_sees_memory_an_earlier_call_wrote() {
    let dep = Deployment::new();
    dep.manifest("a", &probe_manifest("probe-a", ""));
    dep.manifest("b", &probe_manifest("probe-b", ""));
    let rt = runtime(&dep).await;
    let check = |out: Value, what: &str| {
        assert_eq!(
            out["fresh"], true,
            "{what}: memory left by an earlier call: {out}"
        );
    };
    for i in 0..40u64 {
        let adapter = if i % 2 == 0 { "probe-a" } else { "probe-b" };
        // 64 KiB stays within the pages reset in place; 4 MiB goes past them.
        let heap_kib = if i % 4 < 2 { 64 } else { 4096 };
        let out = call(
            &rt,
            adapter,
            "residue",
            json!({"mark": i + 1, "heap_kib": heap_kib}),
        )
        .await
        .expect("residue");
        check(out, &format!("call {i} ({adapter}, {heap_kib} KiB)"));
        if i % 10 == 9 {
            let e = call(&rt, adapter, "panic", json!({}))
                .await
                .expect_err("trap");
            assert_eq!(e.kind, ErrorKind::Trap, "{e}");
        }
    }
    let calls = (0..32u64).map(|i| {
        let rt = &rt;
        async move {
            let adapter = if i % 2 == 0 { "probe-a" } else { "probe-b" };
            let out = call(
                rt,
                adapter,
                "residue",
                json!({"mark": 1000 + i, "heap_kib": 512}),
            )
            .await
            .expect("residue");
            (i, out)
        }
    });
    for (i, out) in futures_util::future::join_all(calls).await {
        check(out, &format!("concurrent call {i}"));
    }
}

/// A loopback server counting its requests; `redirect_to` makes it answer 302 there.
async fn counting_server(
    redirect_to: Option<String>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let counted = counted.clone();
        let redirect_to = redirect_to.clone();
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            match redirect_to {
                Some(to) => axum::response::Redirect::temporary(&to).into_response(),
                None => "secret".into_response(),
            }
        }
    });
    let (addr, _server) = weft_tests::harness::serve_app(app).await;
    (format!("127.0.0.1:{}", addr.port()), hits)
}

use axum::response::IntoResponse as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_and_names_that_lead_to_hosts_not_granted_are_denied() {
    use std::sync::atomic::Ordering;
    let (inner, inner_hits) = counting_server(None).await;
    let (granted, granted_hits) = counting_server(Some(format!("http://{inner}/secret"))).await;
    let inner_port = inner.rsplit(':').next().expect("port");
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            r#"
name = "probe"
component = "{}"
allowed_hosts = ["http://{granted}", "localhost:{inner_port}"]
"#,
            component("weft-probe").display()
        ),
    );
    let rt = runtime(&dep).await;
    // A granted host that redirects to one that is not: the redirect is not followed.
    let out = call(
        &rt,
        "probe",
        "http-get",
        json!({ "url": format!("http://{granted}/") }),
    )
    .await
    .expect("probe answers");
    let error = out["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("HttpError::Denied"), "{out}");
    assert!(error.contains("redirect refused"), "{out}");
    assert_eq!(granted_hits.load(Ordering::SeqCst), 1);
    // A granted name whose DNS answer is loopback: refused before connecting.
    let out = call(
        &rt,
        "probe",
        "http-get",
        json!({ "url": format!("http://localhost:{inner_port}/secret") }),
    )
    .await
    .expect("probe answers");
    let error = out["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("HttpError::Denied"), "{out}");
    assert!(
        error.contains("resolves only to addresses adapters may not reach"),
        "{out}"
    );
    assert_eq!(
        inner_hits.load(Ordering::SeqCst),
        0,
        "nothing reached the inner host"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_on_one_adapter_queues_up_to_its_bound_and_never_starves_the_others() {
    let dep = Deployment::new();
    dep.manifest(
        "busy",
        &probe_manifest("busy", "concurrency = 1\nqueue = 1\ncpu_time = \"1s\""),
    );
    dep.manifest("calm", &probe_manifest("calm", ""));
    let rt = std::sync::Arc::new(runtime(&dep).await);
    // One call runs (it spins until its CPU budget), one waits, the rest are turned away.
    let flood: Vec<_> = (0..4)
        .map(|_| {
            let rt = rt.clone();
            tokio::spawn(async move { call(&rt, "busy", "spin", json!({})).await })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let out = call(&rt, "calm", "echo", json!({"still": "here"}))
        .await
        .expect("the other adapter answers");
    assert_eq!(out["still"], "here");
    assert!(
        started.elapsed() < std::time::Duration::from_millis(900),
        "not starved"
    );
    let mut kinds = Vec::new();
    for c in flood {
        kinds.push(
            c.await
                .expect("task")
                .expect_err("spins or is turned away")
                .kind,
        );
    }
    let busy = kinds.iter().filter(|k| **k == ErrorKind::Busy).count();
    let limited = kinds.iter().filter(|k| **k == ErrorKind::Limit).count();
    assert_eq!((limited, busy), (2, 2), "{kinds:?}");
}

/// A component whose only content is empty imports of instances named `names`.
fn component_importing(names: &[&str]) -> Vec<u8> {
    use wasm_encoder::{
        Component, ComponentImportSection, ComponentTypeRef, ComponentTypeSection, InstanceType,
    };
    let mut types = ComponentTypeSection::new();
    types.instance(&InstanceType::new());
    let mut imports = ComponentImportSection::new();
    for name in names {
        imports.import(*name, ComponentTypeRef::Instance(0));
    }
    let mut component = Component::new();
    component.section(&types);
    component.section(&imports);
    component.finish()
}

#[test]
fn a_component_importing_what_weft_does_not_grant_fails_to_load_naming_each_import() {
    let dep = Deployment::new();
    let path = dep.data().join("grabby.wasm");
    std::fs::create_dir_all(dep.data()).expect("data");
    let refused = [
        "wasi:http/outgoing-handler@0.2.3",
        "wasi:sockets/tcp@0.3.0",
        "wasi:keyvalue/store@0.2.0-draft",
    ];
    let mut imports = refused.to_vec();
    // Lent with nothing granted (CPython's libc imports it whether or not the adapter opens a
    // socket): not named.
    imports.push("wasi:sockets/tcp@0.2.3");
    std::fs::write(&path, component_importing(&imports)).expect("component");
    dep.manifest(
        "grabby",
        &format!("name = \"grabby\"\ncomponent = \"{}\"\n", path.display()),
    );
    let out = dep.weft(&["check"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    for name in refused {
        assert!(text.contains(name), "{name} is not named: {text}");
    }
    assert!(text.contains("through weft:adapter/http"), "{text}");
    assert!(text.contains("WASI 0.2"), "{text}");
    assert!(!text.contains("tcp@0.2.3"), "a lent import named: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interpreter_needs_its_memory_and_a_limit_below_it_fails_at_load_saying_so() {
    // The Python and TypeScript builds start an interpreter's heap: a limit fit for a Rust
    // adapter (4 MiB) is refused at load (and by `weft check`), with what the instance asked.
    for build in ["weft-py-sekorm", "weft-ts-sekorm"] {
        let dep = Deployment::new();
        let manifest = |memory: &str| {
            format!(
                "name = \"sekorm\"\ncomponent = \"{}\"\nbase_url = \"http://127.0.0.1:9\"\n\n[secrets]\naccount = \"{}\"\napp_secret = \"{}\"\n\n[limits]\nmemory = \"{memory}\"\n",
                component(build).display(),
                dep.secret("account", "a"),
                dep.secret("app_secret", "s"),
            )
        };
        dep.manifest("sekorm", &manifest("4MiB"));
        let rt = Runtime::open(dep.options()).await.expect("opens");
        let errors = format!("{:?}", rt.load_errors());
        assert!(
            errors.contains("exceeded limits.memory (4.0 MiB)") && errors.contains("asked for"),
            "{build}: {errors}"
        );
        drop(rt);
        dep.manifest("sekorm", &manifest("64MiB"));
        let rt = runtime(&dep).await;
        assert!(rt.registry().get("sekorm").is_some(), "{build}");
    }
}
