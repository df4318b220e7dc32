//! What Weft leaves on disk: platform tokens sealed under the store key (never in plain text in
//! the database), a credentials fingerprint nobody without the key can test guesses against, a
//! wrong or missing key refused with a clear error, and a compiled-component cache whose files
//! are run only if their MAC says this deployment wrote them for that very component.

use serde_json::json;
use sha2::Digest;
use std::path::{Path, PathBuf};
use weft::{CallOptions, Runtime, RuntimeOptions};
use weft_tests::harness::{Deployment, component};

fn probe_manifest(dep: &Deployment, secret: &str) -> String {
    format!(
        "name = \"probe\"\ncomponent = \"{}\"\n\n[secrets]\napi_key = \"{}\"\n",
        component("weft-probe").display(),
        dep.secret("api_key", secret)
    )
}

/// Every byte the embedded store has on disk (the database and its write-ahead log).
fn store_bytes(data: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["weft.db", "weft.db-wal"] {
        if let Ok(bytes) = std::fs::read(data.join(name)) {
            all.extend(bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn fetch_a_token(rt: &Runtime) {
    // leak-token fetches the token for its scope, then fails on purpose.
    let out = rt
        .invoke(
            "probe",
            "leak-token",
            &json!({"scope": "rest"}).to_string(),
            CallOptions::default(),
        )
        .await;
    assert!(out.is_err(), "leak-token always fails: {out:?}");
}

/// The grant stored for the probe's scope "rest".
async fn stored_grant(rt: &Runtime) -> Option<weft::store::StoredGrant> {
    rt.shared()
        .store
        .token_load("probe", "rest")
        .await
        .expect("load")
}

fn options(dep: &Deployment, key: Option<&str>) -> RuntimeOptions {
    RuntimeOptions {
        store_key: key.map(str::to_string),
        ..dep.options()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_sealed_at_rest_and_a_wrong_key_is_refused() {
    let dep = Deployment::new();
    dep.manifest("probe", &probe_manifest(&dep, "s3cret-api-key"));
    // No key given: the embedded store makes its own, readable by its owner only.
    let rt = Runtime::open(options(&dep, None)).await.expect("opens");
    fetch_a_token(&rt).await;
    let key_file = dep.data().join("store-key");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "DATA/store-key is 0600");
    }
    let grant = stored_grant(&rt).await.expect("a grant was stored");
    let sealed = grant.token.clone().expect("token");
    assert!(!sealed.contains("probe-token"), "stored sealed: {sealed}");
    // The credentials fingerprint is keyed: not the bare SHA-256 of the secret anyone could
    // compute from a guess.
    for guess in [
        hex::encode(sha2::Sha256::digest(b"s3cret-api-key")),
        hex::encode(sha2::Sha256::digest(b"api_key\0s3cret-api-key\0")),
    ] {
        assert!(
            !guess.starts_with(&grant.credentials),
            "{}",
            grant.credentials
        );
    }
    drop(rt);
    let bytes = store_bytes(&dep.data());
    assert!(!bytes.is_empty(), "the store is on disk");
    assert!(
        !contains(&bytes, "probe-token-rest"),
        "the token is nowhere in the database files"
    );

    // The same key (the file) again: the sealed grant opens and is used, no new fetch.
    let rt = Runtime::open(options(&dep, None)).await.expect("reopens");
    fetch_a_token(&rt).await;
    let again = stored_grant(&rt).await.expect("grant");
    assert_eq!(
        again.fetched_at_ms, grant.fetched_at_ms,
        "the stored token was reused"
    );
    drop(rt);

    // Another key: refused before anything runs, naming what is wrong but not the key.
    let other = weft::seal::StoreKey::generate_text();
    let refused = Runtime::open(options(&dep, Some(&other))).await;
    let message = refused.err().expect("a wrong key is refused").to_string();
    assert!(message.contains("store key"), "{message}");
    assert!(!message.contains(&other), "{message}");

    // A key that is not a key.
    let refused = Runtime::open(options(&dep, Some("hunter2"))).await;
    let message = refused
        .err()
        .expect("a malformed key is refused")
        .to_string();
    assert!(
        message.contains("32 bytes") || message.contains("64 hex"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_credentials_fingerprint_depends_on_the_key() {
    let mut fingerprints = Vec::new();
    for key in [
        weft::seal::StoreKey::generate_text(),
        weft::seal::StoreKey::generate_text(),
    ] {
        let dep = Deployment::new();
        dep.manifest("probe", &probe_manifest(&dep, "same-secret"));
        let rt = Runtime::open(options(&dep, Some(&key)))
            .await
            .expect("opens");
        fetch_a_token(&rt).await;
        let grant = stored_grant(&rt).await.expect("grant");
        fingerprints.push(grant.credentials);
    }
    assert_ne!(fingerprints[0], fingerprints[1]);
}

#[test]
fn a_shared_store_without_a_key_is_refused() {
    let dep = Deployment::new();
    dep.manifest("probe", &probe_manifest(&dep, "x"));
    // A schema of its own, dropped after: the refusal must leave no table behind anywhere.
    let schema = weft_tests::harness::PgSchema::new("at_rest_nokey");
    let url = schema.url();
    let out = weft_tests::harness::weft_command()
        .env_remove("WEFT_STORE_KEY")
        .arg("--manifests")
        .arg(dep.manifests())
        .arg("--data")
        .arg(dep.data())
        .args(["--store", &url, "check"])
        .output()
        .expect("weft runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("WEFT_STORE_KEY"), "{stderr}");
}

/// The operations the adapter called "hello" offers.
fn hello_ops(rt: &Runtime) -> Vec<String> {
    rt.adapters()
        .into_iter()
        .find(|a| a.name == "hello")
        .expect("hello")
        .operations
}

fn cached_file(cache: &Path, component: &Path) -> PathBuf {
    let hash = hex::encode(sha2::Sha256::digest(
        std::fs::read(component).expect("component"),
    ));
    std::fs::read_dir(cache)
        .expect("cache folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&hash) && n.ends_with(".cwasm"))
        })
        .unwrap_or_else(|| panic!("no cache entry for {}", component.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_file_swapped_or_forged_is_refused_and_recompiled() {
    let dep = Deployment::new();
    let cache = dep.data().join("own-cache");
    let probe = component("weft-probe");
    let hello = component("weft-sekorm");
    dep.manifest("probe", &probe_manifest(&dep, "x"));
    dep.manifest(
        "hello",
        &format!(
            "name = \"hello\"\ncomponent = \"{}\"\nbase_url = \"https://wwww.sekorm.com/serviceGate\"\n[secrets]\naccount = \"{}\"\napp_secret = \"{}\"\n",
            hello.display(),
            dep.secret("account", "a"),
            dep.secret("app_secret", "s"),
        ),
    );
    let opts = || {
        let mut o = options(&dep, None);
        o.engine.cache_dir = Some(cache.clone());
        o
    };
    let rt = Runtime::open(opts()).await.expect("opens");
    assert!(rt.load_errors().is_empty(), "{:?}", rt.load_errors());
    let before = hello_ops(&rt);
    drop(rt);
    let probe_file = cached_file(&cache, &probe);
    let hello_file = cached_file(&cache, &hello);

    // The probe's compilation under the hello component's name: the first manifest would run
    // the other's code with its own secrets and hosts.
    std::fs::copy(&probe_file, &hello_file).expect("swap");
    let rt = Runtime::open(opts()).await.expect("opens");
    let ops = hello_ops(&rt);
    assert_eq!(ops, before, "hello runs hello's code");
    drop(rt);
    assert_ne!(
        std::fs::read(&hello_file).expect("cache"),
        std::fs::read(&probe_file).expect("cache"),
        "the refused entry was replaced by a fresh compilation"
    );

    // A forged file with a made-up MAC, and one written under another key.
    let mut forged = b"WEFTMAC1".to_vec();
    forged.extend([0u8; 32]);
    forged.extend(
        std::fs::read(&probe_file)
            .expect("cache")
            .into_iter()
            .skip(40),
    );
    std::fs::write(&hello_file, &forged).expect("forge");
    let rt = Runtime::open(opts()).await.expect("opens");
    assert!(rt.load_errors().is_empty(), "{:?}", rt.load_errors());
    drop(rt);
    assert_ne!(std::fs::read(&hello_file).expect("cache"), forged);
    let mut other = options(&dep, Some(&weft::seal::StoreKey::generate_text()));
    other.engine.cache_dir = Some(cache.clone());
    other.data = dep.data().join("other");
    let rt = Runtime::open(other)
        .await
        .expect("opens with its own data folder");
    drop(rt);
    let rt = Runtime::open(opts()).await.expect("opens");
    let ops = hello_ops(&rt);
    assert_eq!(ops, before);
}
