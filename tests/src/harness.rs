//! Manifests in temporary folders, the built components, and the `weft` binary.

use std::path::{Path, PathBuf};
use weft::engine::EngineOptions;
use weft::{Runtime, RuntimeOptions};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Writes `table` between the `<!-- NAME:begin -->` and `<!-- NAME:end -->` markers of
/// BENCHMARKS.md, where a benchmark keeps its latest run (nothing is written when
/// `BENCH_NO_WRITE` is set, or appended at the end when the markers are missing).
pub fn write_benchmark(name: &str, table: &str) {
    if std::env::var_os("BENCH_NO_WRITE").is_some() {
        return;
    }
    let path = workspace().join("BENCHMARKS.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let (begin, end) = (
        format!("<!-- {name}:begin -->"),
        format!("<!-- {name}:end -->"),
    );
    let block = format!("{begin}\n{table}{end}");
    let updated = match (text.find(&begin), text.find(&end)) {
        (Some(b), Some(e)) if e > b => format!("{}{block}{}", &text[..b], &text[e + end.len()..]),
        _ => format!("{text}\n{block}\n"),
    };
    if let Err(e) = std::fs::write(&path, updated) {
        eprintln!("BENCHMARKS.md not written: {e}");
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

/// The component built from `plugins/NAME` (or `tests/NAME`) by `make plugins`.
pub fn component(crate_name: &str) -> PathBuf {
    let path = target_dir()
        .join("wasm32-wasip2/wasm")
        .join(format!("{}.wasm", crate_name.replace('-', "_")));
    assert!(
        path.is_file(),
        "{} is missing: build the adapters first with `make plugins` (the README's test command does)",
        path.display()
    );
    path
}

/// The second build of the probe (`--features v2`), for hot-reload tests.
pub fn probe_v2() -> PathBuf {
    let path = target_dir().join("probe-v2/wasm32-wasip2/wasm/weft_probe.wasm");
    assert!(
        path.is_file(),
        "{} is missing: build the adapters first with `make plugins`",
        path.display()
    );
    path
}

/// The `weft` binary: `WEFT_BIN` if set (benchmarks point it at the release build), else the
/// one `cargo build` made (the README's test command builds it first).
pub fn weft_bin() -> PathBuf {
    let path = std::env::var_os("WEFT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug/weft"));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build -p weft` first",
        path.display()
    );
    path
}

/// One compiled-component cache for every test, so each component compiles once per run.
pub fn shared_cache() -> PathBuf {
    target_dir().join("weft-test-cache")
}

/// The store key every test process is given: the compiled-component cache they share is
/// vouched for by a MAC under it, so one key means each component compiles once per run.
pub const TEST_STORE_KEY: &str = "7e57000000000000000000000000000000000000000000000000000000005eed";

/// A `weft` command with the test cache and store key set.
pub fn weft_command() -> std::process::Command {
    weft_command_of(&weft_bin())
}

/// A command running the `weft` binary at `bin` (a benchmark's baseline build, say) with the
/// tests' shared cache and store key.
pub fn weft_command_of(bin: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(bin);
    command
        .env("WEFT_CACHE_DIR", shared_cache())
        .env("WEFT_STORE_KEY", TEST_STORE_KEY);
    command
}

/// A temporary deployment: a manifests folder, a data folder and secret files.
pub struct Deployment {
    dir: tempfile::TempDir,
}

impl Default for Deployment {
    fn default() -> Self {
        Self::new()
    }
}

impl Deployment {
    /// An empty deployment.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        std::fs::create_dir_all(dir.path().join("manifests")).expect("manifests folder");
        Self { dir }
    }

    /// The manifests folder.
    pub fn manifests(&self) -> PathBuf {
        self.dir.path().join("manifests")
    }

    /// The data folder.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Writes `manifests/NAME.toml`.
    pub fn manifest(&self, name: &str, text: &str) -> PathBuf {
        let path = self.manifests().join(format!("{name}.toml"));
        std::fs::write(&path, text).expect("write manifest");
        path
    }

    /// Writes a secret file and answers its `file:` reference.
    pub fn secret(&self, name: &str, value: &str) -> String {
        let path = self.dir.path().join(format!("secret-{name}"));
        std::fs::write(&path, format!("{value}\n")).expect("write secret");
        // Readable by its owner only, as an operator's secret files should be.
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("chmod secret");
        format!("file:{}", path.display())
    }

    /// Runs the `weft` binary on this deployment's manifests and data with `args`.
    pub fn weft(&self, args: &[&str]) -> std::process::Output {
        weft_command()
            .arg("--manifests")
            .arg(self.manifests())
            .arg("--data")
            .arg(self.data())
            .args(args)
            .output()
            .expect("weft runs")
    }

    /// Runtime options for this deployment, with a small instance pool fit for tests.
    pub fn options(&self) -> RuntimeOptions {
        RuntimeOptions {
            manifests: self.manifests(),
            data: self.data(),
            engine: EngineOptions {
                max_instances: 200,
                cache_dir: Some(shared_cache()),
                ..EngineOptions::default()
            },
            store: None,
            store_key: Some(TEST_STORE_KEY.into()),
            record: false,
        }
    }

    /// Opens a runtime on this deployment; every manifest must load.
    pub async fn runtime(&self) -> Runtime {
        let runtime = Runtime::open(self.options()).await.expect("runtime opens");
        let errors = runtime.load_errors();
        assert!(errors.is_empty(), "manifests failed to load: {errors:?}");
        runtime
    }
}

/// A `weft serve` process on a free port; killed when dropped.
pub struct Served {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Served {
    /// Starts `weft serve` on this deployment with extra arguments, waiting for its address.
    pub fn start(dep: &Deployment, extra: &[&str]) -> Self {
        let data = dep.data();
        let mut args = vec!["--data", data.to_str().unwrap_or_default()];
        args.extend_from_slice(extra);
        Self::start_with(dep, &args)
    }

    /// Starts `weft serve` on this deployment's manifests with exactly these extra arguments
    /// (global ones such as `--data` and `--store` included).
    pub fn start_with(dep: &Deployment, args: &[&str]) -> Self {
        Self::spawn(dep, args, "warn", std::process::Stdio::inherit())
    }

    /// Starts `weft serve` (no auth, loopback) with extra arguments and environment variables,
    /// logging at `filter` into `log`.
    pub fn start_env(
        dep: &Deployment,
        extra: &[&str],
        env: &[(&str, &str)],
        filter: &str,
        log: &Path,
    ) -> Self {
        let file = std::fs::File::create(log).expect("log file");
        let data = dep.data();
        let mut args = vec!["--data", data.to_str().unwrap_or_default()];
        args.extend_from_slice(extra);
        Self::spawn_full(&weft_bin(), dep, &args, filter, file.into(), false, env)
    }

    /// Starts `weft serve` with API-token authentication on (every other start turns it off
    /// with `--insecure-no-auth`, allowed on loopback), logging at `filter` into `log`.
    pub fn start_secure(dep: &Deployment, extra: &[&str], filter: &str, log: &Path) -> Self {
        let file = std::fs::File::create(log).expect("log file");
        let data = dep.data();
        let mut args = vec!["--data", data.to_str().unwrap_or_default()];
        args.extend_from_slice(extra);
        Self::spawn_with_auth(dep, &args, filter, file.into(), true)
    }

    /// Starts `weft serve` on this deployment logging at `filter` into the file `log`.
    pub fn start_logging(dep: &Deployment, filter: &str, log: &Path) -> Self {
        let file = std::fs::File::create(log).expect("log file");
        let data = dep.data();
        Self::spawn(
            dep,
            &["--data", data.to_str().unwrap_or_default()],
            filter,
            file.into(),
        )
    }

    fn spawn(dep: &Deployment, args: &[&str], filter: &str, stderr: std::process::Stdio) -> Self {
        Self::spawn_with_auth(dep, args, filter, stderr, false)
    }

    fn spawn_with_auth(
        dep: &Deployment,
        args: &[&str],
        filter: &str,
        stderr: std::process::Stdio,
        auth: bool,
    ) -> Self {
        Self::spawn_full(&weft_bin(), dep, args, filter, stderr, auth, &[])
    }

    /// Starts the `weft` binary at `bin` rather than `WEFT_BIN` (a benchmark comparing two
    /// builds in one run) with exactly these arguments, API tokens on if `auth` (the first
    /// start writes the admin token into the data folder) or off as [`Served::start_with`].
    pub fn start_bin(bin: &Path, dep: &Deployment, args: &[&str], auth: bool) -> Self {
        Self::spawn_full(
            bin,
            dep,
            args,
            "warn",
            std::process::Stdio::inherit(),
            auth,
            &[],
        )
    }

    fn spawn_full(
        bin: &Path,
        dep: &Deployment,
        args: &[&str],
        filter: &str,
        stderr: std::process::Stdio,
        auth: bool,
        env: &[(&str, &str)],
    ) -> Self {
        use std::io::BufRead;
        let mut command = weft_command_of(bin);
        command.envs(env.iter().copied());
        command
            .arg("--manifests")
            .arg(dep.manifests())
            .args(["serve", "--listen", "127.0.0.1:0"]);
        if !auth {
            command.arg("--insecure-no-auth");
        }
        let mut child = command
            .args(args)
            .env("WEFT_LOG", filter)
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("weft serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("address line");
        let url = line
            .trim()
            .strip_prefix("weft listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Self { child, url }
    }

    /// The process id, e.g. to read its memory in `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `weft serve` logging at `filter` into the file `log`, with extra arguments.
    pub fn start_logging_with(dep: &Deployment, filter: &str, log: &Path, extra: &[&str]) -> Self {
        let file = std::fs::File::create(log).expect("log file");
        let data = dep.data();
        let mut args = vec!["--data", data.to_str().unwrap_or_default()];
        args.extend_from_slice(extra);
        Self::spawn(dep, &args, filter, file.into())
    }

    /// Sends SIGKILL and waits for the process to be gone.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for a graceful exit; returns its exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        self.child.wait().expect("weft exits")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` every 50 ms until it answers `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: std::time::Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = std::time::Instant::now() + limit;
    while std::time::Instant::now() < end {
        if let Some(v) = f().await {
            return Some(v);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    None
}

/// Serves `app` on a free loopback port: its address, and the task serving it (aborting the
/// task stops the server).
pub async fn serve_app(app: axum::Router) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    serve_app_on(0, app).await
}

/// Runs `op` of `adapter` in `rt` on JSON `input`; the output parsed as JSON.
pub async fn invoke_json(
    rt: &Runtime,
    adapter: &str,
    op: &str,
    input: serde_json::Value,
) -> Result<serde_json::Value, weft::InvokeError> {
    rt.invoke(
        adapter,
        op,
        &input.to_string(),
        weft::CallOptions::default(),
    )
    .await
    .map(|o| serde_json::from_str(&o).expect("JSON output"))
}

/// GETs `url` and parses the answer as JSON, failing the test on any error.
pub async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client
        .get(url)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON answer")
}

/// An answer whose body breaks after the status line: the connection is dropped, as when a
/// platform processed a request and its answer was lost on the way back.
pub fn dropped_answer() -> axum::response::Response {
    let stream = futures_util::stream::once(async {
        Err::<bytes::Bytes, std::io::Error>(std::io::Error::other(
            "connection dropped by the simulator",
        ))
    });
    axum::response::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(axum::body::Body::from_stream(stream))
        .unwrap_or_default()
}

/// [`serve_app`] on loopback port `port` (0: a free one).
pub async fn serve_app_on(
    port: u16,
    app: axum::Router,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:{port}: {e}"));
    let addr = listener.local_addr().expect("local address");
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, server)
}

/// Polls `GET {url}/v1/jobs/{id}` until the job's state is one of `states`, for at most
/// `limit`: the job record then.
pub async fn job_in_state(
    c: &reqwest::Client,
    url: &str,
    id: &str,
    states: &[&str],
    limit: std::time::Duration,
) -> Option<serde_json::Value> {
    eventually(limit, || async {
        let job: serde_json::Value = c
            .get(format!("{url}/v1/jobs/{id}"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        states.iter().any(|s| job["state"] == *s).then_some(job)
    })
    .await
}

/// The PostgreSQL server the tests use (`WEFT_TEST_POSTGRES`, else the local `test` database).
pub fn pg_base_url() -> String {
    std::env::var("WEFT_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh schema for one test on the tests' PostgreSQL, dropped with everything in it when
/// this is dropped.
pub struct PgSchema {
    /// The schema's name.
    pub name: String,
}

impl PgSchema {
    /// A schema named `prefix_` and a random suffix.
    pub fn new(prefix: &str) -> Self {
        Self {
            name: format!("{prefix}_{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// The store URL of this schema (`--store`).
    pub fn url(&self) -> String {
        format!("{}?schema={}", pg_base_url(), self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .arg(pg_base_url())
            .args([
                "-qc",
                &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
            ])
            .output();
    }
}

/// The sum of the `/metrics` samples of `family` whose labels contain every one of `labels`.
pub async fn metric(c: &reqwest::Client, url: &str, family: &str, labels: &[&str]) -> f64 {
    let text = c
        .get(format!("{url}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .filter(|l| l.starts_with(family) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum()
}

/// From a failure to a test: the journal kept of call `call_id` of `adapter` (in `rt`'s store)
/// is made into a fixture with `weft::record::fixture_from_call`, and that fixture is run with
/// `weft test`'s runner against the adapter's component, where it must reproduce the call's
/// outcome. Answers the fixture's text.
pub async fn failure_replays_as_a_fixture(rt: &Runtime, adapter: &str, call_id: &str) -> String {
    let rows = rt
        .shared()
        .store
        .journal_get(call_id, 100)
        .await
        .expect("journal");
    assert!(!rows.is_empty(), "the failed call {call_id} is journaled");
    let attempts: Vec<serde_json::Value> = rows
        .iter()
        .map(|(_, e)| serde_json::from_str(e).expect("journal entry"))
        .collect();
    assert!(
        attempts
            .iter()
            .any(|a| a["exchanges"].as_array().is_some_and(|x| !x.is_empty())),
        "the journal holds the platform exchanges: {attempts:?}"
    );
    let record =
        serde_json::json!({ "call_id": call_id, "adapter": adapter, "attempts": attempts });
    let loaded = rt.registry().get(adapter).expect("loaded");
    let text = weft::record::fixture_from_call(&record, &loaded.manifest, None).expect("fixture");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("from-call.toml");
    std::fs::write(&file, &text).expect("write fixture");
    let crate_name = format!("weft-{adapter}");
    let outcomes = weft::fixture::run(
        &component(&crate_name),
        std::slice::from_ref(&file),
        &dir.path().join("run"),
    )
    .await
    .expect("fixture run");
    let failures: Vec<String> = outcomes.into_iter().flat_map(|o| o.failures).collect();
    assert!(
        failures.is_empty(),
        "the fixture from call {call_id} reproduces its failure: {failures:#?}\n{text}"
    );
    text
}
