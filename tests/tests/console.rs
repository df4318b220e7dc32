//! The ops console at `/ui` of a real `weft serve` with API tokens on: its sign-in, its pages
//! and its actions, over HTTP and in a real headless Chromium driven through chromedriver.
//!
//! The browser tests need Debian's `chromium` and `chromium-driver` (`make test` installs them
//! where it can). Without them they say so loudly and pass, unless `WEFT_REQUIRE_BROWSER` is
//! set, as `.ci/run` sets it: under CI a missing browser is a failure, never a skip.
//! Screenshots of every page are written under `target/console-screenshots/`.

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use weft_tests::harness::{Deployment, Served, component, eventually, weft_command, workspace};

fn weft(dep: &Deployment, args: &[&str]) -> std::process::Output {
    weft_command()
        .arg("--manifests")
        .arg(dep.manifests())
        .arg("--data")
        .arg(dep.data())
        .args(args)
        .output()
        .expect("weft runs")
}

fn create_token(dep: &Deployment, name: &str, scope: &str) -> String {
    let out = weft(dep, &["tokens", "create", "--name", name, "--scope", scope]);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string()
}

/// The hour of the daily `tick` schedule: twelve hours from when the tests start, so that no
/// tick of its own ever falls inside a run and turns "run now" into "a run is in progress".
fn tick_hour() -> u64 {
    static HOUR: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *HOUR.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        (now / 3600 + 12) % 24
    })
}

/// A deployment with the probe (two schedules; the flaky one fails its first two runs, and a
/// job gets two attempts) and a manifest with a typo, so one adapter serves and one fails.
/// Neither schedule ticks by itself during a test: `flaky` once a year (every 8760 h from the
/// epoch: 18 December), `tick` daily twelve hours away.
fn deployment() -> Deployment {
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n[retry]\nmax_attempts = 2\ninitial_backoff = \"1ms\"\n[[schedules]]\nname = \"flaky\"\nevery = \"8760h\"\n[[schedules]]\nname = \"tick\"\ncron = \"10 {} * * *\"\n[config]\nflaky_failures = 2\n",
            component("weft-probe").display(),
            tick_hour()
        ),
    );
    dep.manifest(
        "typo",
        &format!(
            "name = \"typo\"\ncomponent = \"{}\"\n[limits]\nconcurency = 2\n",
            component("weft-probe").display()
        ),
    );
    dep
}

struct Tokens {
    admin: String,
    read: String,
}

fn start(dep: &Deployment) -> (Served, Tokens) {
    let tokens = Tokens {
        admin: create_token(dep, "console-admin", "admin"),
        read: create_token(dep, "console-read", "read"),
    };
    let log = dep.data().join("../serve.log");
    (Served::start_secure(dep, &[], "info", &log), tokens)
}

/// Runs the flaky schedule now and waits for its job to die (both attempts fail).
async fn dead_job(c: &reqwest::Client, url: &str, admin: &str) -> String {
    let r: Value = c
        .post(format!("{url}/v1/schedules/probe/flaky/run"))
        .bearer_auth(admin)
        .send()
        .await
        .expect("run")
        .json()
        .await
        .expect("json");
    let id = r["job_id"].as_str().expect("job id").to_string();
    let job = wait_state(c, url, admin, &id, "dead").await;
    assert_eq!(
        job["state"], "dead",
        "the job dies after two attempts: {job}"
    );
    id
}

/// An operation that always traps, sent as a job: it dies after its two attempts.
async fn panicking_job(c: &reqwest::Client, url: &str, admin: &str) -> String {
    let r: Value = c
        .post(format!("{url}/v1/adapters/probe/ops/panic?mode=async"))
        .bearer_auth(admin)
        .json(&json!({}))
        .send()
        .await
        .expect("enqueue")
        .json()
        .await
        .expect("json");
    let id = r["job_id"].as_str().expect("job id").to_string();
    let job = wait_state(c, url, admin, &id, "dead").await;
    assert_eq!(job["state"], "dead", "{job}");
    id
}

/// The job once it is in `state` (or as it is after 30 s).
async fn wait_state(c: &reqwest::Client, url: &str, admin: &str, id: &str, state: &str) -> Value {
    let (c2, url2, admin2, id2, state2) = (
        c.clone(),
        url.to_string(),
        admin.to_string(),
        id.to_string(),
        state.to_string(),
    );
    let reached = eventually(Duration::from_secs(30), move || {
        let (c, url, admin, id, state) = (
            c2.clone(),
            url2.clone(),
            admin2.clone(),
            id2.clone(),
            state2.clone(),
        );
        async move {
            let job = job_state(&c, &url, &admin, &id).await;
            (job["state"] == state.as_str()).then_some(job)
        }
    })
    .await;
    match reached {
        Some(job) => job,
        None => job_state(c, url, admin, id).await,
    }
}

async fn job_state(c: &reqwest::Client, url: &str, admin: &str, id: &str) -> Value {
    c.get(format!("{url}/v1/jobs/{id}"))
        .bearer_auth(admin)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json")
}

/// A client that keeps no cookies and follows no redirects: what the test sees is what the
/// server said.
fn plain() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn sign_in(c: &reqwest::Client, url: &str, token: &str) -> reqwest::Response {
    c.post(format!("{url}/ui/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .expect("login")
}

fn session_cookie(r: &reqwest::Response) -> String {
    let set = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie")
        .to_string();
    set.split(';').next().expect("pair").to_string()
}

/// The HTML of `path` for the session `cookie`.
async fn page_text(c: &reqwest::Client, url: &str, path: &str, cookie: &str) -> String {
    c.get(format!("{url}{path}"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body")
}

fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token");
    let rest = &page[at + 19..];
    rest[..rest.find('"').expect("end")].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_sets_a_locked_cookie_and_never_echoes_a_token() {
    let dep = deployment();
    let (served, tokens) = start(&dep);
    let url = &served.url;
    let c = plain();
    // Not signed in: every page sends to the sign-in form.
    let r = c.get(format!("{url}/ui/jobs")).send().await.expect("get");
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/ui/login");
    // A wrong token: 401, and the page does not repeat what was typed.
    let wrong = "weft_0123456789abcdef_notarealsecretatall";
    let r = sign_in(&c, url, wrong).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());
    let body = r.text().await.expect("body");
    assert!(!body.contains("notarealsecret"), "{body}");
    // The right one: a cookie scripts cannot read, no other site sends, scoped to /ui.
    let r = sign_in(&c, url, &tokens.admin).await;
    assert_eq!(r.status(), 303);
    let set = r.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_string();
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/ui"] {
        assert!(set.contains(flag), "{flag} missing from {set}");
    }
    let cookie = session_cookie(&r);
    let page = c
        .get(format!("{url}/ui"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(page.headers()["cache-control"], "no-store");
    let body = page.text().await.expect("body");
    assert!(body.contains("probe") && body.contains("typo"), "{body}");
    assert!(
        !body.contains(&tokens.admin),
        "the token is never in a page"
    );
    // The console's own API tokens stay out of every page and the log.
    let log = std::fs::read_to_string(dep.data().join("../serve.log")).unwrap_or_default();
    assert!(!log.contains(&tokens.admin) && !log.contains("notarealsecret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_need_an_admin_session_its_csrf_token_and_our_origin() {
    let dep = deployment();
    let (served, tokens) = start(&dep);
    let url = &served.url;
    let c = plain();
    let id = dead_job(&c, url, &tokens.admin).await;
    let admin = session_cookie(&sign_in(&c, url, &tokens.admin).await);
    let read = session_cookie(&sign_in(&c, url, &tokens.read).await);
    let page = page_text(&c, url, "/ui/jobs", &admin).await;
    assert!(page.contains(&id[..12]), "the dead job is listed: {page}");
    assert!(page.contains("fails on purpose"), "with its error: {page}");
    // The adapters page shows each adapter's queue: nothing waits, nothing runs.
    let adapters = page_text(&c, url, "/ui", &admin).await;
    assert!(
        adapters.contains("0 queued, 0 running"),
        "the queue is shown: {adapters}"
    );
    let csrf = csrf_of(&page);
    let post = |cookie: &str, body: String, origin: Option<&str>| {
        let mut r = c
            .post(format!("{url}/ui/jobs/{id}/retry"))
            .header("cookie", cookie.to_string())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    // No CSRF token, a wrong one, the read session's (it is shown no forms at all), a
    // foreign Origin: all refused, and the job stays dead.
    for (cookie, body, why) in [
        (&admin, String::new(), "no CSRF token"),
        (&admin, "csrf=00".to_string(), "a wrong one"),
        (
            &read,
            format!("csrf={csrf}"),
            "another session's token is no use",
        ),
    ] {
        let status = post(cookie, body, None).await.expect("post").status();
        assert_eq!(status, 403, "{why}");
    }
    let read_page = page_text(&c, url, "/ui/jobs", &read).await;
    assert!(read_page.contains(&id[..12]), "a reader sees the job");
    assert!(
        !read_page.contains("name=\"csrf\""),
        "but no action: {read_page}"
    );
    assert_eq!(
        post(&admin, format!("csrf={csrf}"), Some("http://evil.example"))
            .await
            .expect("post")
            .status(),
        403
    );
    assert_eq!(
        job_state(&c, url, &tokens.admin, &id).await["state"],
        "dead"
    );
    // The admin session with its token: retried, and it succeeds (the third run passes).
    let r = post(&admin, format!("csrf={csrf}"), Some(url))
        .await
        .expect("post");
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    let done = wait_state(&c, url, &tokens.admin, &id, "succeeded").await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        done["errors"].as_array().map(Vec::len),
        Some(2),
        "both failed attempts are in its history: {done}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_its_own_secret_and_ends_at_sign_out() {
    let dep = deployment();
    let (served, tokens) = start(&dep);
    let url = &served.url;
    let c = plain();
    let first = session_cookie(&sign_in(&c, url, &tokens.admin).await);
    let second = session_cookie(&sign_in(&c, url, &tokens.admin).await);
    let value = first
        .split_once('=')
        .map(|(_, v)| v.to_string())
        .expect("pair");
    assert!(
        !value.contains(&tokens.admin) && !value.starts_with("weft_"),
        "the cookie is not the API token: {first}"
    );
    // The cookie's value opens nothing under /v1.
    let r = c
        .get(format!("{url}/v1/jobs"))
        .bearer_auth(&value)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 401, "a session is no API token");
    // Each sign-in has its own CSRF token.
    let csrf_first = csrf_of(&page_text(&c, url, "/ui/schedules", &first).await);
    let csrf_second = csrf_of(&page_text(&c, url, "/ui/schedules", &second).await);
    assert_ne!(
        csrf_first, csrf_second,
        "the CSRF token changes with the session"
    );
    // Signing out ends the session on the server, not only in this browser.
    let r = c
        .post(format!("{url}/ui/logout"))
        .header("cookie", &first)
        .header("origin", url.as_str())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf_first}"))
        .send()
        .await
        .expect("logout");
    assert!(r.status().is_redirection(), "{}", r.status());
    let r = c
        .get(format!("{url}/ui/jobs"))
        .header("cookie", &first)
        .send()
        .await
        .expect("get");
    assert_eq!(
        r.status(),
        303,
        "a copy of the signed-out cookie opens nothing"
    );
    let r = c
        .get(format!("{url}/ui/jobs"))
        .header("cookie", &second)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200, "the other session goes on");
    // Revoking the token ends its sessions.
    let id = tokens.admin.split('_').nth(1).expect("id").to_string();
    let out = weft(&dep, &["tokens", "revoke", &id]);
    assert!(out.status.success(), "{out:?}");
    let gone = eventually(Duration::from_secs(5), || async {
        let r = c
            .get(format!("{url}/ui/jobs"))
            .header("cookie", &second)
            .send()
            .await
            .ok()?;
        (r.status() == 303).then_some(())
    })
    .await;
    assert!(gone.is_some(), "a revoked token's session ends");
}

// ---------------------------------------------------------------------------------------------
// The browser.

/// chromedriver, or None (loudly) where it is not installed and CI does not demand it.
fn chromedriver() -> Option<PathBuf> {
    let path = std::env::var_os("WEFT_CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("WEFT_REQUIRE_BROWSER").is_none(),
        "WEFT_REQUIRE_BROWSER is set but {} is missing: install Debian's chromium and chromium-driver (make browser)",
        path.display()
    );
    eprintln!(
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !!! SKIPPED: the console's browser tests need {} (apt-get install chromium chromium-driver)\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n",
        path.display()
    );
    None
}

struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

async fn browser(driver: &std::path::Path) -> Browser {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let driver = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let profile = tempfile::tempdir().expect("profile");
    let caps = json!({
        "goog:chromeOptions": {
            "binary": std::env::var("WEFT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }
    });
    let caps = match caps {
        Value::Object(m) => m,
        _ => unreachable!("an object"),
    };
    let webdriver = format!("http://127.0.0.1:{port}");
    let mut last = None;
    for _ in 0..100 {
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(caps.clone());
        match builder.connect(&webdriver).await {
            Ok(client) => {
                return Browser {
                    client,
                    driver,
                    _profile: profile,
                };
            }
            Err(e) => last = Some(e.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start a session: {last:?}");
}

fn shots() -> PathBuf {
    let dir = workspace().join("target/console-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

async fn screenshot(b: &Client, name: &str) {
    let png = b.screenshot().await.expect("screenshot");
    std::fs::write(shots().join(format!("{name}.png")), png).expect("write screenshot");
}

async fn text_of(b: &Client, css: &str) -> String {
    b.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .text()
        .await
        .expect("text")
}

/// The text of `css` once the page (perhaps still loading after a click) has it.
async fn wait_text(b: &Client, css: &str) -> String {
    b.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .text()
        .await
        .expect("text")
}

async fn browser_sign_in(b: &Client, url: &str, token: &str) {
    b.goto(&format!("{url}/ui")).await.expect("goto");
    let here = b.current_url().await.expect("url");
    assert_eq!(here.path(), "/ui/login", "not signed in: the sign-in form");
    b.find(Locator::Css("#token"))
        .await
        .expect("token field")
        .send_keys(token)
        .await
        .expect("type");
    b.find(Locator::Css("form.login button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    if b.wait()
        .for_element(Locator::Css("nav a.current"))
        .await
        .is_err()
    {
        panic!(
            "not signed in: at {:?}: {}",
            b.current_url().await.map(|u| u.to_string()),
            b.source().await.unwrap_or_default()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_real_browser() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let dep = deployment();
    let (served, tokens) = start(&dep);
    let url = served.url.clone();
    let c = plain();
    let dead = dead_job(&c, &url, &tokens.admin).await;
    let browser = browser(&driver).await;
    let b = &browser.client;

    // Sign-in page, then the adapters: every adapter of the running weft, the broken one with
    // the error of its manifest.
    b.goto(&format!("{url}/ui/login")).await.expect("goto");
    screenshot(b, "login").await;
    browser_sign_in(b, &url, &tokens.admin).await;
    b.goto(&format!("{url}/ui")).await.expect("goto");
    let listed: Vec<String> = {
        let mut names = Vec::new();
        for card in b
            .find_all(Locator::Css("article.adapter"))
            .await
            .expect("cards")
        {
            names.push(card.attr("id").await.expect("id").unwrap_or_default());
        }
        names
    };
    let statuses: Value = c
        .get(format!("{url}/v1/adapters"))
        .bearer_auth(&tokens.admin)
        .send()
        .await
        .expect("adapters")
        .json()
        .await
        .expect("json");
    let expected: Vec<String> = statuses
        .as_array()
        .expect("list")
        .iter()
        .map(|s| format!("adapter-{}", s["name"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        listed, expected,
        "the console lists every adapter the API does"
    );
    let broken = text_of(b, "#adapter-typo .error").await;
    assert!(
        broken.contains("concurency"),
        "the manifest's error: {broken}"
    );
    assert_eq!(text_of(b, "#adapter-probe .badge").await, "ready");
    screenshot(b, "adapters").await;
    // The same page on a phone's width: nothing needs a desk.
    b.set_window_size(390, 844).await.expect("resize");
    screenshot(b, "adapters-phone").await;
    b.set_window_size(1280, 1000).await.expect("resize");

    // Jobs: the dead job with its error; a click on Retry makes it succeed.
    b.goto(&format!("{url}/ui/jobs")).await.expect("goto");
    let row = format!("tr[data-job=\"{dead}\"]");
    let error = text_of(b, &format!("{row} .error-text")).await;
    assert!(error.contains("fails on purpose"), "{error}");
    screenshot(b, "jobs").await;
    b.find(Locator::Css(&format!("{row} button.retry")))
        .await
        .expect("retry button")
        .click()
        .await
        .expect("click");
    let notice = wait_text(b, "p.notice").await;
    assert!(notice.contains("queued again"), "{notice}");
    let done = wait_state(&c, &url, &tokens.admin, &dead, "succeeded").await;
    assert_eq!(done["state"], "succeeded", "{done}");
    b.goto(&format!("{url}/ui/jobs/{dead}"))
        .await
        .expect("goto");
    let attempts = b
        .find_all(Locator::Css("table.attempts tbody tr"))
        .await
        .expect("attempts");
    assert_eq!(attempts.len(), 2, "the two failed attempts are listed");
    assert_eq!(text_of(b, "h1 .badge").await, "succeeded");
    screenshot(b, "job").await;

    // Schedules: "run now" runs the tick, in words.
    b.goto(&format!("{url}/ui/schedules")).await.expect("goto");
    let tick = "tr[data-schedule=\"probe/tick\"]";
    let cadence = text_of(b, &format!("{tick} td:nth-child(3)")).await;
    let words = format!("every day at {:02}:10", tick_hour());
    assert!(cadence.contains(&words), "{cadence}");
    b.find(Locator::Css(&format!("{tick} button.run")))
        .await
        .expect("run now")
        .click()
        .await
        .expect("click");
    let notice = wait_text(b, "p.notice").await;
    let job = notice
        .split("running as job ")
        .nth(1)
        .unwrap_or_else(|| panic!("{notice}"))
        .trim()
        .to_string();
    let ran = wait_state(&c, &url, &tokens.admin, &job, "succeeded").await;
    assert_eq!(ran["state"], "succeeded", "{ran}");
    b.goto(&format!("{url}/ui/schedules")).await.expect("goto");
    assert_eq!(
        text_of(b, &format!("{tick} .badge.succeeded")).await,
        "succeeded"
    );
    screenshot(b, "schedules").await;

    // One schedule's page: its runs kept, the flaky run's failed attempts and its retry.
    b.goto(&format!("{url}/ui/schedules/probe/flaky"))
        .await
        .expect("goto");
    let runs = b
        .find_all(Locator::Css("table.runs tbody tr"))
        .await
        .expect("runs");
    assert!(
        runs.len() >= 3,
        "two failed attempts and the retry's success"
    );
    let history = text_of(b, "table.runs").await;
    for word in ["dead", "succeeded", "by hand", "fails on purpose"] {
        assert!(history.contains(word), "{word}: {history}");
    }
    screenshot(b, "schedule").await;

    // Paused from the console: the row says so, and so does the API.
    b.goto(&format!("{url}/ui/schedules")).await.expect("goto");
    b.find(Locator::Css(&format!("{tick} button.pause")))
        .await
        .expect("pause button")
        .click()
        .await
        .expect("click");
    let notice = wait_text(b, "p.notice").await;
    assert!(notice.contains("paused"), "{notice}");
    assert_eq!(text_of(b, &format!("{tick} .badge.dead")).await, "paused");
    let shown: Value = c
        .get(format!("{url}/v1/schedules/probe/tick"))
        .bearer_auth(&tokens.admin)
        .send()
        .await
        .expect("schedule")
        .json()
        .await
        .expect("json");
    assert_eq!(shown["paused"], true, "{shown}");

    // Jobs found by operation and state.
    b.goto(&format!(
        "{url}/ui/jobs?op=schedule%3Aflaky&state=succeeded"
    ))
    .await
    .expect("goto");
    let found = wait_text(b, "main").await;
    assert!(found.contains("Found"), "{found}");
    assert!(
        b.source()
            .await
            .expect("source")
            .contains(&format!("data-job=\"{dead}\"")),
        "the retried flaky run is found"
    );

    // On a phone's width the lists are one card a row: no cell squeezed to a letter-group,
    // nothing wider than the screen. The same for an adapter's storage.
    c.post(format!("{url}/v1/adapters/probe/ops/storage"))
        .bearer_auth(&tokens.admin)
        .json(&json!({"key": "cursor/orders", "value": "{\"after\":\"2026-12-01T00:00:00Z\"}"}))
        .send()
        .await
        .expect("storage");
    b.set_window_size(390, 844).await.expect("resize");
    for (page, name) in [
        ("/ui/jobs?op=schedule%3Aflaky", "jobs-phone"),
        ("/ui/schedules/probe/flaky", "schedule-phone"),
        ("/ui/adapters/probe/storage", "storage-phone"),
    ] {
        b.goto(&format!("{url}{page}")).await.expect("goto");
        let fit = b
            .execute(
                "const cells = Array.from(document.querySelectorAll('table.jobs td, table.runs td, table.storage td'));\
                 return {cells: cells.length, narrowest: Math.min(...cells.map(c => c.getBoundingClientRect().width)),\
                         page: document.documentElement.scrollWidth, screen: window.innerWidth};",
                vec![],
            )
            .await
            .expect("measure");
        assert!(fit["cells"].as_u64() > Some(0), "{page}: {fit}");
        assert!(
            fit["narrowest"].as_f64() >= Some(250.0),
            "{page}: a cell squeezed narrow on a phone: {fit}"
        );
        assert!(
            fit["page"].as_f64() <= fit["screen"].as_f64().map(|w| w + 1.0),
            "{page}: wider than the screen: {fit}"
        );
        screenshot(b, name).await;
    }
    assert!(
        b.source().await.expect("source").contains("cursor/orders"),
        "the storage page lists the key"
    );
    b.set_window_size(1280, 1000).await.expect("resize");

    // Tokens and reloads read; no page carries a token.
    b.goto(&format!("{url}/ui/tokens")).await.expect("goto");
    screenshot(b, "tokens").await;
    b.goto(&format!("{url}/ui/reloads")).await.expect("goto");
    let failing = text_of(b, "ul.failures").await;
    assert!(failing.contains("typo.toml"), "{failing}");
    let published = b
        .find_all(Locator::Css("tr[data-what=\"published\"]"))
        .await
        .expect("rows");
    assert!(!published.is_empty(), "the probe's load is in the history");
    screenshot(b, "reloads").await;
    let source = b.source().await.expect("source");
    assert!(!source.contains(&tokens.admin));

    // Signed out, then in with a read-only token: no action anywhere, and a forged POST from
    // the page itself is refused.
    b.find(Locator::Css(".who button"))
        .await
        .expect("sign out")
        .click()
        .await
        .expect("click");
    browser_sign_in(b, &url, &tokens.read).await;
    let second = panicking_job(&c, &url, &tokens.admin).await;
    for page in [
        "/ui",
        "/ui/jobs",
        "/ui/schedules",
        &format!("/ui/jobs/{second}"),
    ] {
        b.goto(&format!("{url}{page}")).await.expect("goto");
        // A search's button is no action: actions are the forms that POST.
        let buttons = b
            .find_all(Locator::Css("main form[method=\"post\"] button"))
            .await
            .expect("buttons");
        assert!(buttons.is_empty(), "{page}: a reader sees no action button");
    }
    b.goto(&format!("{url}/ui/jobs")).await.expect("goto");
    assert!(b.source().await.expect("source").contains(&second[..12]));
    screenshot(b, "jobs-read-only").await;
    let status = b
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             fetch('/ui/jobs/' + arguments[0] + '/retry', {method: 'POST', body: new URLSearchParams({csrf: 'forged'})})\
               .then(r => done(r.status), e => done(String(e)));",
            vec![json!(second)],
        )
        .await
        .expect("script");
    assert_eq!(status, json!(403), "a forged POST is refused");
    assert_eq!(
        job_state(&c, &url, &tokens.admin, &second).await["state"],
        "dead"
    );
    browser.client.clone().close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_an_adapter_serves_cannot_act_as_the_signed_in_operator() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let dep = deployment();
    dep.manifest(
        "evil",
        &format!(
            "name = \"evil\"\ncomponent = \"{}\"\n[[routes]]\nname = \"forge-page\"\nmethod = \"GET\"\npath = \"/page\"\nauth = {{ type = \"none\" }}\n",
            component("weft-probe").display()
        ),
    );
    let (served, tokens) = start(&dep);
    let url = served.url.clone();
    let c = plain();
    let dead = dead_job(&c, &url, &tokens.admin).await;
    let browser = browser(&driver).await;
    let b = &browser.client;
    browser_sign_in(b, &url, &tokens.admin).await;
    // The page reads the console, takes its CSRF token and retries every dead job; it also
    // tries to replace the session cookie with its own.
    let script = r#"<script>
fetch('/ui/jobs').then(r => r.text()).then(t => {
  const m = t.match(/name="csrf" value="([^"]+)"/);
  document.getElementById('out').textContent = 'STOLEN ' + (m ? m[1] : 'page ' + t.length);
  if (m) fetch('/ui/jobs/retry', {method: 'POST', headers: {'content-type': 'application/x-www-form-urlencoded'}, body: 'csrf=' + m[1]});
}).catch(e => { document.getElementById('out').textContent = 'BLOCKED ' + e; });
</script>"#;
    let spec = json!({
        "status": 200,
        "headers": [["content-type", "text/html"], ["set-cookie", "weft_console=attacker; Path=/ui"]],
        "body": format!("<html><body><p id=\"out\">harmless</p>{script}</body></html>"),
    });
    let page = format!(
        "{url}/inbound/evil/page?spec={}",
        url::form_urlencoded::byte_serialize(spec.to_string().as_bytes()).collect::<String>()
    );
    b.goto(&page).await.expect("goto");
    tokio::time::sleep(Duration::from_secs(2)).await;
    screenshot(b, "inbound-page").await;
    let out = text_of(b, "#out").await;
    assert!(
        !out.contains("STOLEN"),
        "the page acted as the console: {out}"
    );
    // The operator is still signed in with their own session, and the dead job is still dead.
    b.goto(&format!("{url}/ui/jobs")).await.expect("goto");
    let here = b.current_url().await.expect("url");
    assert_eq!(here.path(), "/ui/jobs", "the session survived the page");
    assert_eq!(
        job_state(&c, &url, &tokens.admin, &dead).await["state"],
        "dead"
    );
}

/// The job page's timeline: a job that failed at its platform shows its attempts and their
/// exchanges (method, path, status, the bodies folded away), with no secret or token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_jobs_page_shows_its_exchanges_without_secrets() {
    const SECRET: &str = "console-secret-7f3e";
    let app = axum::Router::new().fallback(|body: String| async move {
        (
            axum::http::StatusCode::BAD_REQUEST,
            format!("refused: {body}"),
        )
    });
    let (addr, _task) = weft_tests::harness::serve_app(app).await;
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\nallowed_hosts = [\"127.0.0.1:{}\"]\n[secrets]\napi_key = \"{}\"\n[retry]\nmax_attempts = 1\n",
            component("weft-probe").display(),
            addr.port(),
            dep.secret("api_key", SECRET),
        ),
    );
    let admin = create_token(&dep, "console-admin", "admin");
    let log = dep.data().join("../serve.log");
    let served = Served::start_secure(&dep, &[], "info", &log);
    let c = plain();
    let r: Value = c
        .post(format!(
            "{}/v1/adapters/probe/ops/leak-secrets?mode=async",
            served.url
        ))
        .bearer_auth(&admin)
        .json(&json!({ "url": format!("http://127.0.0.1:{}/push", addr.port()) }))
        .send()
        .await
        .expect("enqueue")
        .json()
        .await
        .expect("json");
    let id = r["job_id"].as_str().expect("job id").to_string();
    wait_state(&c, &served.url, &admin, &id, "dead").await;
    let cookie = session_cookie(&sign_in(&c, &served.url, &admin).await);
    let page = page_text(&c, &served.url, &format!("/ui/jobs/{id}"), &cookie).await;
    assert!(page.contains("Exchanges"), "{page}");
    assert!(page.contains("Attempt 1"), "{page}");
    assert!(page.contains("/push"), "{page}");
    assert!(page.contains("<strong>400</strong>"), "{page}");
    for leaked in [SECRET, "probe-token-leak"] {
        assert!(!page.contains(leaked), "the page shows {leaked}");
    }
}

/// The job page of a partial success: how many items the platform took and refused, and the
/// refused ones with their index, code and reason, scrubbed of secrets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_success_job_page_shows_its_refused_items() {
    const SECRET: &str = "console-items-secret-2c9a";
    let dep = Deployment::new();
    dep.manifest(
        "probe",
        &format!(
            "name = \"probe\"\ncomponent = \"{}\"\n[secrets]\napi_key = \"{}\"\n",
            component("weft-probe").display(),
            dep.secret("api_key", SECRET),
        ),
    );
    let admin = create_token(&dep, "console-admin", "admin");
    let log = dep.data().join("../serve.log");
    let served = Served::start_secure(&dep, &[], "info", &log);
    let c = plain();
    let r: Value = c
        .post(format!(
            "{}/v1/adapters/probe/ops/items?mode=async",
            served.url
        ))
        .bearer_auth(&admin)
        .json(&json!({
            "accepted": 116,
            "rejected": [
                {"index": 7, "code": "E12", "message": format!("bad key {SECRET}")},
                {"index": 50, "code": "E40", "message": "unknown sku"},
            ],
        }))
        .send()
        .await
        .expect("enqueue")
        .json()
        .await
        .expect("json");
    let id = r["job_id"].as_str().expect("job id").to_string();
    wait_state(&c, &served.url, &admin, &id, "succeeded").await;
    let cookie = session_cookie(&sign_in(&c, &served.url, &admin).await);
    let page = page_text(&c, &served.url, &format!("/ui/jobs/{id}"), &cookie).await;
    assert!(page.contains("data-items-accepted=\"116\""), "{page}");
    assert!(page.contains("data-items-rejected=\"2\""), "{page}");
    assert!(
        page.contains("unknown sku") && page.contains("E40"),
        "{page}"
    );
    assert!(page.contains("bad key [redacted]"), "{page}");
    assert!(!page.contains(SECRET), "the page shows the secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_session_sees_an_adapters_storage_and_deletes_a_key() {
    let dep = deployment();
    let (served, tokens) = start(&dep);
    let url = &served.url;
    let c = plain();
    for (key, value) in [
        ("cursor", r#"{"at":"page-7","password":"hunter2"}"#),
        ("markers/a", "1"),
    ] {
        let r = c
            .post(format!("{url}/v1/adapters/probe/ops/storage"))
            .bearer_auth(&tokens.admin)
            .json(&json!({"key": key, "value": value}))
            .send()
            .await
            .expect("put");
        assert_eq!(r.status(), 200);
    }
    let admin = session_cookie(&sign_in(&c, url, &tokens.admin).await);
    let read = session_cookie(&sign_in(&c, url, &tokens.read).await);
    // A read-only session is shown no link and refused the page.
    assert!(
        !page_text(&c, url, "/ui", &read)
            .await
            .contains("/ui/adapters/probe/storage")
    );
    let refused = c
        .get(format!("{url}/ui/adapters/probe/storage"))
        .header("cookie", &read)
        .send()
        .await
        .expect("page");
    assert_eq!(refused.status(), 403);

    assert!(
        page_text(&c, url, "/ui", &admin)
            .await
            .contains("/ui/adapters/probe/storage")
    );
    let page = page_text(&c, url, "/ui/adapters/probe/storage", &admin).await;
    assert!(
        page.contains("markers/a") && page.contains("cursor"),
        "{page}"
    );
    let shown = page_text(&c, url, "/ui/adapters/probe/storage?key=cursor", &admin).await;
    assert!(shown.contains("page-7"), "{shown}");
    assert!(!shown.contains("hunter2"), "a password is masked: {shown}");

    let csrf = csrf_of(&page);
    let deleted = c
        .post(format!("{url}/ui/adapters/probe/storage/delete"))
        .header("cookie", &admin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&key=markers%2Fa&prefix="))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 303);
    let back = deleted.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let after = page_text(&c, url, &back, &admin).await;
    assert!(after.contains("markers/a deleted"), "{after}");
    assert!(
        !after.contains("href=\"/ui/adapters/probe/storage?prefix=&amp;key=markers"),
        "{after}"
    );
    let logged = std::fs::read_to_string(dep.data().join("../serve.log")).expect("log");
    let admin_id = tokens.admin.split('_').nth(1).expect("id");
    assert!(
        logged
            .lines()
            .any(|l| l.contains("storage key deleted by an operator") && l.contains(admin_id)),
        "{logged}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_of_jobs_pages_through_every_match() {
    let dep = deployment();
    let (served, tokens) = start(&dep);
    let url = &served.url;
    let c = plain();
    // 130 jobs of one operation with keys, and one of another.
    let jobs: Vec<Value> = (0..130)
        .map(|i| json!({"op": "echo", "input": {"i": i}, "idempotency_key": format!("page-{i}")}))
        .chain([json!({"op": "version", "input": {}})])
        .collect();
    let r = c
        .post(format!("{url}/v1/adapters/probe/jobs:batch"))
        .bearer_auth(&tokens.admin)
        .json(&json!({ "jobs": jobs }))
        .send()
        .await
        .expect("batch");
    assert_eq!(r.status(), 202);
    let read = session_cookie(&sign_in(&c, url, &tokens.read).await);
    let first = page_text(&c, url, "/ui/jobs?op=echo", &read).await;
    // The rows of the search's table: those before the dead jobs' heading.
    let found = |page: &str| {
        let end = page.find("<h2>Dead").unwrap_or(page.len());
        page[..end].matches("<tr data-job=").count()
    };
    assert!(first.contains("Found"), "{first}");
    assert_eq!(found(&first), 100, "a page holds 100");
    let at = first
        .find("class=\"older\" href=\"")
        .expect("a link to older matches");
    let rest = &first[at + "class=\"older\" href=\"".len()..];
    let next = rest[..rest.find('"').expect("end")].replace("&amp;", "&");
    assert!(
        next.contains("op=echo") && next.contains("after="),
        "{next}"
    );
    let second = page_text(&c, url, &next, &read).await;
    assert_eq!(
        found(&first) + found(&second),
        130,
        "every match once, over two pages"
    );
    assert!(!second.contains("class=\"older\""), "no third page");
    // By key: exactly its job.
    let one = page_text(&c, url, "/ui/jobs?key=page-7", &read).await;
    assert_eq!(found(&one), 1, "{one}");
    // A time that is no time: said, not a 500.
    let bad = page_text(&c, url, "/ui/jobs?since=yesterday", &read).await;
    assert!(bad.contains("since must be an RFC 3339 time"), "{bad}");
}
