//! Hot reload under load: components replaced live without a failed request, broken changes
//! that leave the previous version serving, and manifests removed and restored.

use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use weft_tests::harness::{Deployment, Served, component, eventually, probe_v2};

/// Replaces `dst` atomically with `src`'s bytes (write beside, then rename over).
fn install(src: &std::path::Path, dst: &std::path::Path) {
    let tmp = dst.with_extension("tmp");
    std::fs::copy(src, &tmp).expect("copy component");
    std::fs::rename(&tmp, dst).expect("rename over");
}

async fn build(c: &reqwest::Client, url: &str) -> Option<String> {
    let r = c
        .post(format!("{url}/v1/adapters/probe/ops/version"))
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.json::<Value>().await.ok()?["build"]
        .as_str()
        .map(str::to_string)
}

fn setup() -> (Deployment, std::path::PathBuf) {
    let dep = Deployment::new();
    let components = dep.manifests().parent().expect("root").join("components");
    std::fs::create_dir_all(&components).expect("components");
    let live = components.join("probe.wasm");
    install(&component("weft-probe"), &live);
    dep.manifest(
        "probe",
        &format!("name = \"probe\"\ncomponent = \"{}\"\n", live.display()),
    );
    (dep, live)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_component_swaps_under_load_fail_no_request() {
    let (dep, live) = setup();
    let served = Served::start(&dep, &[]);
    let url = served.url.clone();
    let c = reqwest::Client::new();
    assert_eq!(build(&c, &url).await.as_deref(), Some("v1"));

    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (c, url, stop) = (c.clone(), url.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut odd) = (0u32, 0u32, 0u32);
            // Bounded: the swaps below end it, and it stops on its own after 120 s.
            let end = Instant::now() + Duration::from_secs(120);
            while !stop.load(Ordering::SeqCst) && Instant::now() < end {
                match c
                    .post(format!("{url}/v1/adapters/probe/ops/version"))
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => match r
                        .json::<Value>()
                        .await
                        .ok()
                        .and_then(|v| v["build"].as_str().map(str::to_string))
                    {
                        Some(b) if b == "v1" || b == "v2" => ok += 1,
                        _ => odd += 1,
                    },
                    _ => failed += 1,
                }
            }
            (ok, failed, odd)
        }));
    }

    let v1 = component("weft-probe");
    let v2 = probe_v2();
    let mut waits = Vec::new();
    for i in 0..20 {
        let (src, want) = if i % 2 == 0 { (&v2, "v2") } else { (&v1, "v1") };
        let written = Instant::now();
        install(src, &live);
        eventually(Duration::from_secs(15), || async {
            (build(&c, &url).await.as_deref() == Some(want)).then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("swap {i}: {want} never served"));
        waits.push(written.elapsed());
    }
    stop.store(true, Ordering::SeqCst);
    let (mut ok, mut failed, mut odd) = (0, 0, 0);
    for t in load {
        let (o, f, d) = t.await.expect("load task");
        ok += o;
        failed += f;
        odd += d;
    }
    assert_eq!(
        failed, 0,
        "no request failed during 20 swaps ({ok} succeeded)"
    );
    assert_eq!(odd, 0, "every answer came from exactly one version");
    assert!(ok > 20, "the load really ran: {ok} requests");
    waits.sort();
    eprintln!(
        "write-to-serve: median {:?}, max {:?}",
        waits[waits.len() / 2],
        waits[waits.len() - 1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_changes_leave_the_previous_version_serving_until_fixed() {
    let (dep, live) = setup();
    let served = Served::start(&dep, &[]);
    let url = served.url.clone();
    let c = reqwest::Client::new();
    let status = || async {
        let list: Value = c
            .get(format!("{url}/v1/adapters"))
            .send()
            .await
            .expect("adapters")
            .json()
            .await
            .expect("json");
        list.as_array()
            .and_then(|l| l.iter().find(|a| a["name"] == "probe").cloned())
            .unwrap_or(Value::Null)
    };
    let manifest = dep.manifests().join("probe.toml");
    let good = std::fs::read_to_string(&manifest).expect("manifest");

    std::fs::write(&manifest, format!("{good}\n[limits]\nmemory = \"lots\"\n"))
        .expect("break manifest");
    let s = eventually(Duration::from_secs(10), || async {
        let s = status().await;
        (s["status"] == "stale").then_some(s)
    })
    .await
    .expect("the error shows");
    assert!(
        s["error"].as_str().unwrap_or("").contains(
            "probe.toml: limits.memory: expected a size such as \"64MiB\", found \"lots\""
        ),
        "{s}"
    );
    assert_eq!(
        build(&c, &url).await.as_deref(),
        Some("v1"),
        "the old version still serves"
    );

    std::fs::write(&manifest, &good).expect("fix manifest");
    eventually(Duration::from_secs(10), || async {
        (status().await["status"] == "ready").then_some(())
    })
    .await
    .expect("recovers");

    std::fs::write(live.with_extension("tmp"), b"\0asm garbage").expect("garbage");
    std::fs::rename(live.with_extension("tmp"), &live).expect("rename");
    let s = eventually(Duration::from_secs(10), || async {
        let s = status().await;
        (s["status"] == "stale").then_some(s)
    })
    .await
    .expect("corrupt component shows");
    assert!(
        s["error"].as_str().unwrap_or("").contains("component"),
        "{s}"
    );
    assert_eq!(build(&c, &url).await.as_deref(), Some("v1"));
    install(&probe_v2(), &live);
    eventually(Duration::from_secs(10), || async {
        (build(&c, &url).await.as_deref() == Some("v2")).then_some(())
    })
    .await
    .expect("fixed component serves");

    std::fs::remove_file(&manifest).expect("delete manifest");
    eventually(Duration::from_secs(10), || async {
        let r = c
            .post(format!("{url}/v1/adapters/probe/ops/version"))
            .send()
            .await
            .ok()?;
        (r.status() == 404).then_some(())
    })
    .await
    .expect("removed");
    std::fs::write(&manifest, &good).expect("restore");
    eventually(Duration::from_secs(10), || async { build(&c, &url).await })
        .await
        .expect("restored");

    let r = c
        .post(format!("{url}/v1/admin/reload"))
        .send()
        .await
        .expect("admin reload");
    assert_eq!(r.status(), 200);
    let list: Value = r.json().await.expect("json");
    assert_eq!(list[0]["status"], "ready");
    let _ = json!(null);
}

/// Writes `files` as a new version of a Kubernetes ConfigMap volume at `mount`, the way the
/// kubelet does: a new timestamped folder, a `..data_tmp` link to it renamed over `..data` (one
/// atomic swap), a link per file through `..data`, and the old folder removed.
fn configmap_update(mount: &std::path::Path, version: u32, files: &[(&str, String)]) {
    let folder = format!("..2026_12_07_00_00_{version:02}.000000001");
    std::fs::create_dir(mount.join(&folder)).expect("version folder");
    for (name, text) in files {
        std::fs::write(mount.join(&folder).join(name), text).expect("file");
    }
    let old = std::fs::read_link(mount.join("..data")).ok();
    std::os::unix::fs::symlink(&folder, mount.join("..data_tmp")).expect("..data_tmp");
    std::fs::rename(mount.join("..data_tmp"), mount.join("..data")).expect("swap ..data");
    for (name, _) in files {
        let link = mount.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(format!("..data/{name}"), &link).expect("file link");
        }
    }
    if let Some(old) = old {
        std::fs::remove_dir_all(mount.join(old)).expect("old version");
    }
}

/// `weft_adapter_loads_total` of the probe with `outcome`, as /metrics shows it.
async fn loads(c: &reqwest::Client, url: &str, outcome: &str) -> u64 {
    let outcome = format!("\"{outcome}\"");
    weft_tests::harness::metric(
        c,
        url,
        "weft_adapter_loads_total{",
        &["adapter=\"probe\"", &outcome],
    )
    .await as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configmap_update_reloads_once_and_a_broken_one_keeps_the_old_version_serving() {
    let dep = Deployment::new();
    let mount = dep.manifests();
    let manifest = |component: &std::path::Path| {
        format!(
            "name = \"probe\"\ncomponent = \"{}\"\n",
            component.display()
        )
    };
    configmap_update(
        &mount,
        1,
        &[("probe.toml", manifest(&component("weft-probe")))],
    );
    let served = Served::start(&dep, &[]);
    let url = served.url.clone();
    let c = reqwest::Client::new();
    assert_eq!(build(&c, &url).await.as_deref(), Some("v1"));
    let published = loads(&c, &url, "published").await;
    assert_eq!(published, 1, "the first load");

    // The update: a new manifest behind one swap of `..data`.
    configmap_update(&mount, 2, &[("probe.toml", manifest(&probe_v2()))]);
    eventually(Duration::from_secs(15), || async {
        (build(&c, &url).await.as_deref() == Some("v2")).then_some(())
    })
    .await
    .expect("the update serves");
    // The swap is several events (a link made, renamed, the old folder removed): one reload.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        loads(&c, &url, "published").await,
        published + 1,
        "one update, one reload"
    );

    // A broken update: the error shows, the last good version keeps serving.
    configmap_update(
        &mount,
        3,
        &[(
            "probe.toml",
            format!(
                "{}[limits]\nconcurrency = \"many\"\n",
                manifest(&probe_v2())
            ),
        )],
    );
    let listed = eventually(Duration::from_secs(15), || async {
        let list: Value = c
            .get(format!("{url}/v1/adapters"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let probe = list
            .as_array()?
            .iter()
            .find(|a| a["name"] == "probe")?
            .clone();
        (probe["status"] == "stale").then_some(probe)
    })
    .await
    .expect("the broken update shows");
    assert!(
        listed["error"]
            .as_str()
            .unwrap_or("")
            .contains("concurrency"),
        "{listed}"
    );
    assert_eq!(
        build(&c, &url).await.as_deref(),
        Some("v2"),
        "v2 still serves"
    );
    assert_eq!(loads(&c, &url, "published").await, published + 1);
}
