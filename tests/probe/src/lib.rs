//! A test adapter: echoes, probes what the sandbox grants, and misbehaves on request (spins,
//! allocates without end, panics, hits `unreachable`, overflows its stack, abuses storage and
//! jobs, answers huge outputs, waits on host calls past its deadline, fetches a token that never
//! comes) so that tests can prove the host's limits.

use std::time::Duration;
use weft_sdk::http::Request;
use weft_sdk::{
    Adapter, AdapterError, CallContext, Description, Result, TokenGrant, Value, json, storage,
};

struct Probe;

/// Initial contents of `RESIDUE_DATA`: part of the component's data image.
const RESIDUE_INIT: u64 = 0x5A5A_5A5A_5A5A_5A5A;
/// A static with a non-zero start (.data) and one starting zeroed (.bss).
static RESIDUE_DATA: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(RESIDUE_INIT);
static RESIDUE_BSS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// What an earlier call left in this instance's memory, if anything: the statics' values, and
/// the nonzero bytes of a zeroed heap allocation of `heap_kib` KiB (the allocator trusts fresh
/// memory to be zero and does not clear it). Then writes `mark` over all of them, so that the
/// next call sees it if the host ever hands a call memory that is not fresh.
fn residue(mark: u64, heap_kib: usize) -> Value {
    use std::sync::atomic::Ordering::Relaxed;
    let data = RESIDUE_DATA.load(Relaxed);
    let bss = RESIDUE_BSS.load(Relaxed);
    let mut heap = vec![0u8; heap_kib << 10];
    let dirty = heap.iter().filter(|b| **b != 0).count();
    let byte = mark.to_le_bytes()[0] | 1;
    heap.fill(byte);
    std::hint::black_box(&heap);
    RESIDUE_DATA.store(mark, Relaxed);
    RESIDUE_BSS.store(mark, Relaxed);
    json!({
        "fresh": data == RESIDUE_INIT && bss == 0 && dirty == 0,
        "data": data,
        "bss": bss,
        "heap_dirty_bytes": dirty,
    })
}

/// Which build this is: hot-reload tests swap the two.
const BUILD: &str = if cfg!(feature = "v2") { "v2" } else { "v1" };

impl Adapter for Probe {
    fn describe() -> Description {
        weft_sdk::describe(
            "probe",
            env!("CARGO_PKG_VERSION"),
            &[
                ("echo", "answer the input"),
                ("spin", "loop forever"),
                ("alloc", "allocate memory without end"),
                ("panic", "panic"),
                ("unreachable", "execute an `unreachable` instruction"),
                ("overflow", "recurse until the stack overflows"),
                ("huge-output", "answer a string of input.mib MiB"),
                (
                    "storage-abuse",
                    "write a giant key, a giant value and input.count keys; report each outcome",
                ),
                (
                    "enqueue-storm",
                    "enqueue input.count jobs in one call; report how many the host took",
                ),
                (
                    "hang-token",
                    "ask for the token of scope \"hang\", whose fetch never returns",
                ),
                (
                    "sandbox",
                    "report what the sandbox grants: environment, files, clock",
                ),
                (
                    "http-get",
                    "GET input.url through the host and report the outcome",
                ),
                (
                    "http-burst",
                    "GET input.url input.count times; report how many went out",
                ),
                (
                    "storage",
                    "set input.key to input.value, then list and read back",
                ),
                ("context", "answer the call context"),
                (
                    "leak-secrets",
                    "send secret api_key and a token to input.url in every form, then fail",
                ),
                (
                    "steps",
                    "POST input.count requests to input.url, each a durable step (input.once: unsafe to resend)",
                ),
                (
                    "residue",
                    "report whether memory looks as a fresh instance's, then write input.mark over it",
                ),
                ("version", "answer which build of the probe this is"),
                (
                    "pages",
                    "read every page of input.url since the watermark, each page a step, then advance the mark",
                ),
                (
                    "items",
                    "report input.accepted items taken and input.rejected ([{index, code, message}]) refused, in input.reports reports",
                ),
                (
                    "leak-token",
                    "echo a token back the way a careless platform does",
                ),
                (
                    "enqueue",
                    "enqueue input.op with input.input as a job; fail afterwards if input.fail_after",
                ),
                (
                    "log-flood",
                    "log input.count messages of input.kib KiB each, numbered",
                ),
            ],
            &[],
        )
    }

    fn fetch_token(scope: String) -> Result<TokenGrant> {
        if scope == "hang" {
            // A token endpoint that never answers, as far as the host can tell.
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
        Ok(TokenGrant {
            token: format!("probe-token-{scope}"),
            expires_in_seconds: Some(60),
        })
    }

    fn invoke(ctx: CallContext, op: String, input: Value) -> Result<Value> {
        match op.as_str() {
            "echo" => Ok(input),
            "version" => Ok(json!({ "build": BUILD })),
            "leak-token" => {
                // A platform that echoes the token back: in output, in errors, in details.
                let scope = input["scope"].as_str().unwrap_or("leak");
                let token = weft_sdk::tokens::get(scope)?;
                let encoded: String = token
                    .bytes()
                    .map(|b| match b {
                        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                            (b as char).to_string()
                        }
                        _ => format!("%{b:02X}"),
                    })
                    .collect();
                println!("token is {token}");
                eprintln!(
                    "escaped {}",
                    serde_json::to_string(&token).unwrap_or_default()
                );
                Err(AdapterError::rejected(
                    "E1",
                    format!("platform said: bad token {token} (sent as {encoded})"),
                )
                .with_details(vec![weft_sdk::Detail {
                    index: Some(0),
                    field: Some("token".into()),
                    code: None,
                    message: format!("echo {token}"),
                }]))
            }
            "spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("probe was asked to panic"),
            "unreachable" => {
                #[cfg(target_arch = "wasm32")]
                core::arch::wasm32::unreachable();
                #[cfg(not(target_arch = "wasm32"))]
                std::process::abort();
            }
            "overflow" => Ok(json!({ "depth": recurse(std::hint::black_box(1)) })),
            "huge-output" => {
                let mib = input["mib"].as_u64().unwrap_or(1) as usize;
                Ok(Value::String("x".repeat(mib << 20)))
            }
            "storage-abuse" => {
                let outcome = |r: Result<()>| match r {
                    Ok(()) => "ok".to_string(),
                    Err(e) => e.to_string(),
                };
                let giant_key = outcome(storage::set(&"k".repeat(100_000), b"v"));
                let kib = input["value_kib"].as_u64().unwrap_or(2048) as usize;
                let giant_value = outcome(storage::set("giant", &vec![7u8; kib << 10]));
                let count = input["count"].as_u64().unwrap_or(0);
                let mut written = 0u64;
                for i in 0..count {
                    if storage::set(&format!("many/{i:08}"), b"1").is_err() {
                        break;
                    }
                    written += 1;
                }
                Ok(
                    json!({ "giant_key": giant_key, "giant_value": giant_value, "written": written }),
                )
            }
            "enqueue-storm" => {
                let count = input["count"].as_u64().unwrap_or(0);
                let filler = "x".repeat((input["kib"].as_u64().unwrap_or(0) as usize) << 10);
                let mut taken = 0u64;
                let mut refusal = None;
                for i in 0..count {
                    let job = json!({ "n": i, "filler": filler });
                    match weft_sdk::jobs::enqueue("echo", &job, 3_600_000, None) {
                        Ok(_) => taken += 1,
                        Err(e) => {
                            refusal = Some(e.to_string());
                            break;
                        }
                    }
                }
                Ok(json!({ "taken": taken, "refusal": refusal }))
            }
            "hang-token" => {
                let token = weft_sdk::tokens::get("hang")?;
                Ok(json!({ "token": token }))
            }
            "sandbox" => {
                let env: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                let read = std::fs::read_to_string("/etc/passwd")
                    .map(|s| s.len())
                    .map_err(|e| e.to_string());
                let list = std::fs::read_dir(".")
                    .map(|d| d.count())
                    .map_err(|e| e.to_string());
                let args: Vec<String> = std::env::args().collect();
                println!("probe stdout line");
                eprintln!("probe stderr line");
                Ok(json!({
                    "env": env,
                    "args": args,
                    "read_etc_passwd": format!("{read:?}"),
                    "list_cwd": format!("{list:?}"),
                    "clock_works": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).is_ok(),
                }))
            }
            "http-get" => {
                let url = input["url"]
                    .as_str()
                    .ok_or_else(|| AdapterError::invalid_input("url is required"))?;
                match Request::get(url).send() {
                    Ok(r) => Ok(json!({ "status": r.status, "body": r.text() })),
                    Err(e) => Ok(json!({ "error": format!("{e:?}") })),
                }
            }
            "http-burst" => {
                let url = input["url"]
                    .as_str()
                    .ok_or_else(|| AdapterError::invalid_input("url is required"))?;
                let count = input["count"].as_u64().unwrap_or(1);
                let (mut sent, mut refusal) = (0u64, None);
                for _ in 0..count {
                    match Request::get(url).send() {
                        Ok(_) => sent += 1,
                        Err(e) => {
                            refusal = Some(format!("{e:?}"));
                            break;
                        }
                    }
                }
                Ok(json!({ "sent": sent, "refusal": refusal }))
            }
            "leak-secrets" => {
                use base64::Engine as _;
                let url = input["url"]
                    .as_str()
                    .ok_or_else(|| AdapterError::invalid_input("url is required"))?;
                let secret = weft_sdk::config::secret("api_key")?;
                let token = weft_sdk::tokens::get("leak")?;
                let b64 = base64::engine::general_purpose::STANDARD;
                let query = weft_sdk::http::form_encode(&[
                    ("key", &secret),
                    ("t", &token),
                    ("b64", &b64.encode(&secret)),
                ]);
                let json = Request::post(format!("{url}?{query}"))
                    .header("X-Api-Key", secret.clone())
                    .header("Authorization", format!("Bearer {token}"))
                    .header("X-Echo", format!("{secret} {token}"))
                    .json(&json!({
                        "password": secret,
                        "note": format!("uses {token} and {secret}"),
                        "b64": b64.encode(&token),
                        "rows": [{ "sku": "A-1", "sig": secret }],
                    }))?
                    .send()?;
                let form = Request::post(url)
                    .form(&[("user", "erp"), ("pass", &secret), ("tok", &token)])
                    .send()?;
                Err(AdapterError::rejected(
                    "E-LEAK",
                    format!("the platform answered {} and {}", json.status, form.status),
                ))
            }
            "pages" => {
                use weft_sdk::paging::{self, At, Page};
                use weft_sdk::watermark::Watermark;
                let url = input["url"]
                    .as_str()
                    .ok_or_else(|| AdapterError::invalid_input("url is required"))?
                    .to_string();
                let max_pages = input["max_pages"].as_u64().unwrap_or(10) as usize;
                let mark = Watermark::load("mark")?;
                let rows: Vec<Value> = paging::all("orders", At::Cursor(None), max_pages, |at| {
                    let mut r = Request::get(url.clone());
                    if let Some(since) = mark.since() {
                        r = r.query(&[("since", since)]);
                    }
                    if let At::Cursor(Some(c)) = at {
                        r = r.query(&[("cursor", c)]);
                    }
                    let answer = r.send()?;
                    let page: Value = answer.classify("orders")?.json()?;
                    Ok(Page::by_cursor(
                        page["rows"].as_array().cloned().unwrap_or_default(),
                        page["next"].as_str().map(str::to_string),
                    ))
                })?;
                let newest =
                    Watermark::newest(rows.iter().filter_map(|r| r["updated_at"].as_str()));
                let since = mark.since().map(str::to_string);
                let now = match newest {
                    Some(n) => Some(mark.advance(n)?),
                    None => since.clone(),
                };
                Ok(json!({ "rows": rows.len(), "since": since, "mark": now }))
            }
            "items" => {
                let accepted = input["accepted"].as_u64().unwrap_or(0) as usize;
                let rejected: Vec<weft_sdk::items::Rejected> = input["rejected"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| {
                        weft_sdk::items::Rejected::new(
                            r["index"].as_u64().map(|i| i as usize),
                            r["code"].as_str().unwrap_or_default(),
                            r["message"].as_str().unwrap_or_default(),
                        )
                    })
                    .collect();
                // Split across several reports, as an adapter reporting a batch at a time does.
                let reports = input["reports"].as_u64().unwrap_or(1).max(1) as usize;
                let per = rejected.len().div_ceil(reports).max(1);
                for (n, chunk) in rejected.chunks(per).enumerate() {
                    weft_sdk::items::report(if n == 0 { accepted } else { 0 }, chunk);
                }
                if rejected.is_empty() {
                    weft_sdk::items::report(accepted, &[]);
                }
                Ok(json!({ "reported": true }))
            }
            "steps" => {
                let url = input["url"]
                    .as_str()
                    .ok_or_else(|| AdapterError::invalid_input("url is required"))?;
                let count = input["count"].as_u64().unwrap_or(1);
                let once = input["once"].as_bool().unwrap_or(false);
                let mut answers = Vec::new();
                for n in 1..=count {
                    let send = || {
                        let r = Request::post(format!("{url}?n={n}")).send()?;
                        let r = r.classify("steps")?;
                        Ok(r.text())
                    };
                    let name = format!("request/{n}");
                    let answer: String = if once {
                        weft_sdk::steps::run_once(&name, send)?
                    } else {
                        weft_sdk::steps::run(&name, send)?
                    };
                    answers.push(answer);
                }
                Ok(json!({ "answers": answers }))
            }
            "storage" => {
                let key = input["key"]
                    .as_str()
                    .ok_or_else(|| AdapterError::invalid_input("key is required"))?;
                match (input["value"].as_str(), input["ttl_ms"].as_u64()) {
                    (Some(value), None) => storage::set(key, value.as_bytes())?,
                    (Some(value), Some(ttl)) => {
                        storage::set_expiring(key, value.as_bytes(), Duration::from_millis(ttl))?
                    }
                    (None, _) => {}
                }
                // A versioned value written only when newer than the stored one.
                let written = match input.get("latest") {
                    Some(latest) => Some(storage::latest_wins(key, latest, |v: &Value| {
                        v["version"].as_u64()
                    })?),
                    None => None,
                };
                let read = storage::get(key)?.map(|v| String::from_utf8_lossy(&v).into_owned());
                let keys = storage::list_all("")?;
                Ok(json!({ "read": read, "keys": keys, "written": written }))
            }
            "log-flood" => {
                let count = input["count"].as_u64().unwrap_or(1);
                let kib = input["kib"].as_u64().unwrap_or(1) as usize;
                let filler = "x".repeat(kib << 10);
                for i in 0..count {
                    weft_sdk::log::info(
                        &format!("flood {i:06} {filler}"),
                        &[("n", &i.to_string())],
                    );
                }
                Ok(json!({ "logged": count }))
            }
            "context" => Ok(json!({
                "call_id": ctx.call_id,
                "attempt": ctx.attempt,
                "idempotency_key": ctx.idempotency_key,
            })),
            "enqueue" => {
                let op = input["op"].as_str().unwrap_or("echo");
                let delay = input["delay_ms"].as_u64().unwrap_or(0);
                let id = weft_sdk::jobs::enqueue(op, &input["input"], delay, None)?;
                if input["fail_after"].as_bool() == Some(true) {
                    return Err(AdapterError::rejected("asked", "failing after enqueue"));
                }
                Ok(json!({ "job_id": id }))
            }
            "residue" => Ok(residue(
                input["mark"].as_u64().unwrap_or(u64::MAX),
                input["heap_kib"].as_u64().unwrap_or(64) as usize,
            )),
            other => Err(AdapterError::invalid_input(format!(
                "unknown operation {other:?}"
            ))),
        }
    }

    /// Echoes an inbound request and counts the calls in storage under "inbound_calls". Route
    /// "fail" fails with the error its `kind` query value names.
    fn handle_inbound(
        _ctx: CallContext,
        req: weft_sdk::InboundRequest,
    ) -> Result<weft_sdk::InboundResponse> {
        if req.route == "fail" {
            let kind = req.query.iter().find(|(k, _)| k == "kind");
            return Err(match kind.map(|(_, v)| v.as_str()) {
                Some("rejected") => AdapterError::rejected("E7", "order 7 is closed"),
                Some("conflict") => AdapterError::rejected("DUP", "seen before").conflict(),
                Some("auth") => AdapterError::auth("the body's signature does not match"),
                Some("transient") => {
                    AdapterError::transient("the store is busy").retry_after_ms(2_000)
                }
                _ => AdapterError::invalid_input("orderId: required"),
            });
        }
        if req.route.starts_with("forge") {
            // A hostile answer, exactly as the request's body (or its `spec` query value)
            // describes it: any status, any headers (framing and cookies included), any body.
            let spec: Value = serde_json::from_slice(&req.body)
                .ok()
                .or_else(|| {
                    req.query
                        .iter()
                        .find(|(k, _)| k == "spec")
                        .and_then(|(_, v)| serde_json::from_str(v).ok())
                })
                .unwrap_or(Value::Null);
            let headers = spec["headers"]
                .as_array()
                .map(|hs| {
                    hs.iter()
                        .filter_map(|h| {
                            Some((h[0].as_str()?.to_string(), h[1].as_str()?.to_string()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            return Ok(weft_sdk::InboundResponse {
                status: spec["status"].as_u64().unwrap_or(200) as u16,
                headers,
                body: spec["body"].as_str().unwrap_or("").as_bytes().to_vec(),
            });
        }
        let calls: u64 = storage::get_json("inbound_calls")
            .ok()
            .flatten()
            .unwrap_or(0);
        let _ = storage::set_json("inbound_calls", &(calls + 1));
        Ok(weft_sdk::http::inbound_json(
            200,
            &json!({
                "route": req.route,
                "method": req.method,
                "path": req.path,
                "query": req.query,
                "body": String::from_utf8_lossy(&req.body),
            }),
        ))
    }

    /// Schedule "tick" counts its runs in storage and records any overlap with itself; it
    /// sleeps `config.tick_sleep_ms` to make overlaps possible if the host allowed them.
    /// Schedule "flaky" counts its runs and fails transiently for the first
    /// `config.flaky_failures` of them.
    fn on_schedule(_ctx: CallContext, name: String) -> Result<()> {
        if name == "flaky" {
            let runs: u64 = storage::get_json("flaky_runs")?.unwrap_or(0);
            storage::set_json("flaky_runs", &(runs + 1))?;
            let failures: u64 = weft_sdk::config::get("flaky_failures")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if runs < failures {
                return Err(AdapterError::transient(format!(
                    "flaky schedule: run {} fails on purpose",
                    runs + 1
                )));
            }
            return Ok(());
        }
        if name != "tick" {
            return Err(AdapterError::invalid_input(format!(
                "unknown schedule {name:?}"
            )));
        }
        if !storage::compare_and_swap("running", None, Some(b"1"))? {
            storage::set("overlap", b"1")?;
        }
        let sleep = weft_sdk::config::get("tick_sleep_ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        std::thread::sleep(std::time::Duration::from_millis(sleep));
        let ticks: u64 = storage::get_json("ticks")?.unwrap_or(0);
        storage::set_json("ticks", &(ticks + 1))?;
        storage::delete("running")?;
        Ok(())
    }
}

/// Recurses with a large frame until the stack runs out.
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 512]);
    if frame[0] == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + frame[511] % 2
}

weft_sdk::export_adapter!(Probe);
