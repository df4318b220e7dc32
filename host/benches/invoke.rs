//! One no-I/O `invoke` through the host library, compared in the same run with a bare wasmtime
//! instantiate-and-call of the same component (same engine configuration, stub imports) and
//! with a plain Rust function doing the same JSON work.
//!
//! Run with `make bench` (the probe component must be built: `make plugins`).

#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use std::path::{Path, PathBuf};
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

mod bare {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "adapter-world",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

use bare::weft::adapter::{config, digest, http, jobs, log, storage, tokens, types};

const INPUT: &str = r#"{"items":[{"pnCode":"ABCDE","brandName":"AMS","stockQuantity":1000},{"pnCode":"FGHIJ","brandName":"AMS","stockQuantity":7}]}"#;

fn component_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("wasm32-wasip2/wasm/weft_probe.wasm")
}

/// Host state with every import stubbed: the echo operation calls none of them.
struct Bare {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Bare {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for Bare {}
impl http::Host for Bare {
    async fn send(
        &mut self,
        _r: http::Request,
    ) -> wasmtime::Result<Result<http::Response, http::HttpError>> {
        Ok(Err(http::HttpError::Denied("bare".into())))
    }
}
impl tokens::Host for Bare {
    async fn get(&mut self, _s: String) -> wasmtime::Result<Result<String, tokens::TokenError>> {
        Ok(Err(tokens::TokenError::Unavailable("bare".into())))
    }
    async fn invalidate(&mut self, _s: String, _t: String) -> wasmtime::Result<()> {
        Ok(())
    }
}
impl storage::Host for Bare {
    async fn get(
        &mut self,
        _k: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, storage::StorageError>> {
        Ok(Ok(None))
    }
    async fn set(
        &mut self,
        _k: String,
        _v: Vec<u8>,
    ) -> wasmtime::Result<Result<(), storage::StorageError>> {
        Ok(Ok(()))
    }
    async fn set_expiring(
        &mut self,
        _k: String,
        _v: Vec<u8>,
        _t: u64,
    ) -> wasmtime::Result<Result<(), storage::StorageError>> {
        Ok(Ok(()))
    }
    async fn delete(
        &mut self,
        _k: String,
    ) -> wasmtime::Result<Result<bool, storage::StorageError>> {
        Ok(Ok(false))
    }
    async fn list_keys(
        &mut self,
        _p: String,
        _a: Option<String>,
        _l: u32,
    ) -> wasmtime::Result<Result<Vec<String>, storage::StorageError>> {
        Ok(Ok(Vec::new()))
    }
    async fn compare_and_swap(
        &mut self,
        _k: String,
        _e: Option<Vec<u8>>,
        _n: Option<Vec<u8>>,
    ) -> wasmtime::Result<Result<bool, storage::StorageError>> {
        Ok(Ok(false))
    }
    async fn compare_and_swap_expiring(
        &mut self,
        _k: String,
        _e: Option<Vec<u8>>,
        _n: Vec<u8>,
        _t: u64,
    ) -> wasmtime::Result<Result<bool, storage::StorageError>> {
        Ok(Ok(false))
    }
}
impl bare::weft::adapter::steps::Host for Bare {
    async fn begin(
        &mut self,
        _name: String,
        _resend: bare::weft::adapter::steps::Resend,
    ) -> wasmtime::Result<bare::weft::adapter::steps::Recorded> {
        Ok(bare::weft::adapter::steps::Recorded::None)
    }
    async fn end(
        &mut self,
        _name: String,
        _outcome: Result<String, bare::weft::adapter::types::AdapterError>,
    ) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl bare::weft::adapter::items::Host for Bare {
    async fn report(
        &mut self,
        _accepted: u32,
        _rejected: Vec<bare::weft::adapter::items::RejectedItem>,
    ) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl jobs::Host for Bare {
    async fn enqueue(
        &mut self,
        _o: String,
        _i: String,
        _d: u64,
        _k: Option<String>,
    ) -> wasmtime::Result<Result<String, jobs::JobError>> {
        Ok(Err(jobs::JobError::Unavailable("bare".into())))
    }
    async fn enqueue_with_priority(
        &mut self,
        _o: String,
        _i: String,
        _d: u64,
        _k: Option<String>,
        _p: jobs::Priority,
    ) -> wasmtime::Result<Result<String, jobs::JobError>> {
        Ok(Err(jobs::JobError::Unavailable("bare".into())))
    }
}
impl config::Host for Bare {
    async fn get(&mut self, _k: String) -> wasmtime::Result<Option<String>> {
        Ok(None)
    }
    async fn all(&mut self) -> wasmtime::Result<String> {
        Ok("{}".into())
    }
    async fn secret(&mut self, _n: String) -> wasmtime::Result<Option<String>> {
        Ok(None)
    }
}
impl digest::Host for Bare {
    async fn sha256(&mut self, _d: Vec<u8>) -> wasmtime::Result<Vec<u8>> {
        Ok(vec![0; 32])
    }
}
impl log::Host for Bare {
    async fn write(
        &mut self,
        _l: log::Level,
        _m: String,
        _f: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        Ok(())
    }
}

/// How the bare wasmtime rows allocate instances.
#[derive(Clone, Copy)]
enum Allocation {
    /// The pooling allocator with wasmtime's defaults for resetting slots.
    Pooling,
    /// The pooling allocator reset as Weft's engine resets it (host/src/engine.rs): the pages
    /// a call wrote kept in place, up to 1 MiB, found with `PAGEMAP_SCAN`.
    PoolingAsWeft,
    /// wasmtime's default, memory mapped for each instance.
    OnDemand,
}

fn bare_engine(allocation: Allocation) -> Engine {
    let mut config = Config::new();
    config.epoch_interruption(true);
    if !matches!(allocation, Allocation::OnDemand) {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(64)
            .total_core_instances(512)
            .total_memories(128)
            .total_tables(256)
            .total_stacks(64)
            .max_core_instances_per_component(32)
            .max_memories_per_component(4)
            .max_tables_per_component(8);
        if matches!(allocation, Allocation::PoolingAsWeft) {
            weft::engine::reset_slots(&mut pool);
        }
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&config).expect("engine")
}

fn bench(c: &mut Criterion) {
    let path = component_path();
    assert!(
        path.is_file(),
        "{} is missing: run `make plugins`",
        path.display()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");

    // Weft: the host library, manifest and all.
    let dir = tempfile::tempdir().expect("tempdir");
    let manifests = dir.path().join("manifests");
    std::fs::create_dir_all(&manifests).expect("manifests");
    std::fs::write(
        manifests.join("probe.toml"),
        format!("name = \"probe\"\ncomponent = \"{}\"\n", path.display()),
    )
    .expect("manifest");
    let runtime = rt
        .block_on(weft::Runtime::open(weft::RuntimeOptions {
            manifests,
            data: dir.path().join("data"),
            engine: weft::engine::EngineOptions {
                max_instances: 64,
                ..Default::default()
            },
            store: None,
            store_key: None,
            record: false,
        }))
        .expect("runtime");
    assert!(
        runtime.load_errors().is_empty(),
        "{:?}",
        runtime.load_errors()
    );

    let mut group = c.benchmark_group("no-io invoke");
    group.measurement_time(Duration::from_secs(8));
    group.bench_function(
        "weft Runtime::invoke (fresh instance from cached InstancePre)",
        |b| {
            b.to_async(&rt).iter(|| async {
                runtime
                    .invoke("probe", "echo", INPUT, weft::CallOptions::default())
                    .await
                    .expect("echo")
            })
        },
    );

    for allocation in [
        Allocation::Pooling,
        Allocation::PoolingAsWeft,
        Allocation::OnDemand,
    ] {
        let engine = bare_engine(allocation);
        let component = Component::from_file(&engine, &path).expect("component");
        let mut linker: Linker<Bare> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("wasi");
        bare::AdapterWorld::add_to_linker::<Bare, HasSelf<Bare>>(&mut linker, |s| s)
            .expect("world");
        let pre = bare::AdapterWorldPre::new(linker.instantiate_pre(&component).expect("pre"))
            .expect("typed pre");
        let ctx = types::CallContext {
            call_id: "bench".into(),
            attempt: 1,
            job_id: None,
            idempotency_key: None,
        };
        let name = match allocation {
            Allocation::Pooling => "bare wasmtime instantiate+call (pooling)",
            Allocation::PoolingAsWeft => {
                "bare wasmtime instantiate+call (pooling with Weft's settings)"
            }
            Allocation::OnDemand => "bare wasmtime instantiate+call (on-demand)",
        };
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let mut store = Store::new(
                    &engine,
                    Bare {
                        wasi: WasiCtxBuilder::new().build(),
                        table: ResourceTable::new(),
                    },
                );
                store.set_epoch_deadline(u64::MAX / 2);
                let world = pre
                    .instantiate_async(&mut store)
                    .await
                    .expect("instantiate");
                world
                    .weft_adapter_adapter()
                    .call_invoke(&mut store, &ctx, "echo", INPUT)
                    .await
                    .expect("call")
                    .expect("echo")
            })
        });
    }

    group.bench_function("plain Rust: the same JSON parse and serialise", |b| {
        b.iter(|| {
            let v: serde_json::Value =
                serde_json::from_str(std::hint::black_box(INPUT)).expect("json");
            serde_json::to_string(&v).expect("json")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
