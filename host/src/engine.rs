//! The one wasmtime `Engine`: pooling allocator, epoch ticker for CPU deadlines, and compiled
//! components cached on disk by content hash and engine compatibility.

use crate::seal::StoreKey;
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::component::Component;
use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig};

/// The wasmtime release pinned in Cargo.toml; part of the compiled-component cache key.
pub const WASMTIME_VERSION: &str = "48.0.8";

/// Engine-wide settings (per-adapter limits come from manifests).
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Largest linear memory any instance may have; manifests may ask for less, not more.
    pub max_instance_memory: u64,
    /// Instances alive at once across all adapters (the pooling allocator's slots).
    pub max_instances: u32,
    /// Epoch tick: the granularity of CPU deadlines and of yielding to other tasks.
    pub epoch_tick: Duration,
    /// Where compiled components are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// The key whose MAC vouches for each cached file (kept outside the cache folder); without
    /// one the cache is not used, since a cached file is native code run outside the sandbox.
    pub cache_key: Option<StoreKey>,
    /// Linear memory all instances together may hold (`--max-memory`); a growth past it fails
    /// in the instance that asked, whatever its own limit allows. 0: no bound.
    pub max_memory: u64,
}

/// The default of `--max-memory`: half of this machine's memory (the pooling allocator's
/// slots could otherwise promise instances many times what the machine has).
pub fn default_max_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(8 << 30, |kib| kib * 1024 / 2)
}

/// Linear memory lent to instances, process-wide: each instance takes what its memories grow
/// by and gives it all back when it is dropped.
#[derive(Debug)]
pub struct MemoryPool {
    max: usize,
    used: std::sync::atomic::AtomicUsize,
}

impl MemoryPool {
    /// A pool of `max` bytes (0: unbounded).
    pub fn new(max: u64) -> Self {
        Self {
            max: usize::try_from(max).unwrap_or(usize::MAX),
            used: Default::default(),
        }
    }

    /// Takes `bytes`; false (taking nothing) if that would pass the pool's size.
    pub fn try_take(&self, bytes: usize) -> bool {
        if self.max == 0 {
            self.used.fetch_add(bytes, Ordering::Relaxed);
            return true;
        }
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|n| *n <= self.max)
            })
            .is_ok()
    }

    /// Gives `bytes` back.
    pub fn give(&self, bytes: usize) {
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(bytes))
            });
    }

    /// Bytes lent now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The pool's size in bytes (0: unbounded).
    pub fn max(&self) -> usize {
        self.max
    }
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            max_instance_memory: 512 * 1024 * 1024,
            max_instances: 512,
            epoch_tick: Duration::from_millis(10),
            cache_dir: None,
            cache_key: None,
            max_memory: default_max_memory(),
        }
    }
}

/// Why the engine or a component could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// wasmtime refused the configuration.
    #[error("engine: {0}")]
    Config(String),
    /// The component is not valid WebAssembly or does not compile.
    #[error("not a valid component: {0}")]
    Compile(String),
    /// The component does not implement the weft:adapter contract.
    #[error("does not implement weft:adapter@0.1.0: {0}")]
    Contract(String),
}

/// Stops the epoch ticker when dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Freed instance slots decommitted together (see [`reset_slots`]).
pub const DECOMMIT_BATCH: usize = 16;
/// Bytes of each freed linear memory reset in place rather than given back with madvise: with
/// `PAGEMAP_SCAN` (Linux 6.7+) only the pages the call wrote, up to this many; without it, the
/// lowest addresses.
pub const MEMORY_KEEP_RESIDENT: usize = 1024 * 1024;
/// Bytes of each freed table reset with memset rather than madvise.
pub const TABLE_KEEP_RESIDENT: usize = 16 * 1024;

/// How Weft's pool resets a freed instance slot for the next instance; public so that the
/// benchmarks can give a bare wasmtime the same settings and measure Weft's own cost apart.
///
/// A fresh instance per call means a slot freed per call. Freeing it with one madvise each
/// costs a TLB shootdown on every other core (the hottest kernel path under load,
/// BENCHMARKS.md); batching them and resetting small tables and the first pages of memory with
/// memset instead keeps that off the request path. Which pages are "first" matters: a Rust
/// guest's stack ends at 1 MiB and its data and heap lie above it, so a fixed prefix missed
/// every page a call writes, and the next call's first write to each took a copy-on-write fault
/// whose TLB flush interrupted the other core (15% of all samples under load). `PAGEMAP_SCAN`
/// finds the pages actually written, wherever they are, and resets just those in place; they
/// stay mapped and writable for the next instance. Where the kernel lacks the ioctl, wasmtime
/// falls back to the prefix.
pub fn reset_slots(pool: &mut PoolingAllocationConfig) -> &mut PoolingAllocationConfig {
    pool.decommit_batch_size(DECOMMIT_BATCH)
        .linear_memory_keep_resident(MEMORY_KEEP_RESIDENT)
        .table_keep_resident(TABLE_KEEP_RESIDENT)
        .pagemap_scan(wasmtime::Enabled::Auto)
}

/// Set (to anything) to write `/tmp/perf-<pid>.map`, so that `perf report` names the functions of
/// adapters' compiled code.
pub const PERFMAP_ENV: &str = "WEFT_PERFMAP";

/// First bytes of a cache file, before its MAC and the compilation: the MAC and the bytes it
/// vouches for travel in one file, renamed into place at once.
const CACHE_MAGIC: &[u8] = b"WEFTMAC1";
/// Largest cache file read (a compilation is a few times its component's size).
const MAX_CACHED: u64 = 4 * crate::files::MAX_COMPONENT;

/// The engine and the on-disk compilation cache. (The linker, which knows the call state, is
/// `call::linker`.)
pub struct WeftEngine {
    engine: wasmtime::Engine,
    options: EngineOptions,
    compat: String,
    /// Compiled components by the SHA-256 of their bytes: adapters that run the same component
    /// (several accounts of one platform) share one copy of its code, about a megabyte each.
    compiled: std::sync::Mutex<std::collections::HashMap<String, Component>>,
    memory: std::sync::Arc<MemoryPool>,
    _ticker: Ticker,
}

impl WeftEngine {
    /// Builds the engine and starts its ticker.
    pub fn new(options: EngineOptions) -> Result<Self, EngineError> {
        let mut pool = PoolingAllocationConfig::new();
        let n = options.max_instances.max(1);
        pool.total_component_instances(n)
            .total_core_instances(n.saturating_mul(8))
            .total_memories(n.saturating_mul(2))
            .total_tables(n.saturating_mul(4))
            .total_stacks(n)
            .max_core_instances_per_component(32)
            .max_memories_per_component(4)
            .max_tables_per_component(8)
            .max_memory_size(usize::try_from(options.max_instance_memory).unwrap_or(usize::MAX));
        reset_slots(&mut pool);
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if std::env::var_os(PERFMAP_ENV).is_some() {
            // For `perf record`: without the map, time in adapters' code shows as unnamed
            // addresses (BENCHMARKS.md, "Where the time goes").
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine =
            wasmtime::Engine::new(&config).map_err(|e| EngineError::Config(format!("{e:#}")))?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        WASMTIME_VERSION.hash(&mut hasher);
        let compat = format!("{:016x}", hasher.finish());
        let stop = Arc::new(AtomicBool::new(false));
        let ticker_engine = engine.clone();
        let ticker_stop = stop.clone();
        let tick = options.epoch_tick;
        let thread = std::thread::Builder::new()
            .name("weft-epoch".into())
            .spawn(move || {
                while !ticker_stop.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    ticker_engine.increment_epoch();
                }
            })
            .map_err(|e| EngineError::Config(format!("epoch ticker: {e}")))?;
        Ok(Self {
            engine,
            memory: std::sync::Arc::new(MemoryPool::new(options.max_memory)),
            options,
            compat,
            compiled: Default::default(),
            _ticker: Ticker {
                stop,
                thread: Some(thread),
            },
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &wasmtime::Engine {
        &self.engine
    }

    /// The memory every instance draws from.
    pub fn memory(&self) -> &std::sync::Arc<MemoryPool> {
        &self.memory
    }

    /// Engine-wide settings.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Compiles `bytes`, or loads the cached compilation; returns it with its SHA-256.
    pub fn compile(&self, bytes: &[u8]) -> Result<(Component, String), EngineError> {
        let hash = hex::encode(Sha256::digest(bytes));
        if let Some(component) = self.compiled_lock().get(&hash) {
            return Ok((component.clone(), hash));
        }
        let component = self.load_or_compile(bytes, &hash)?;
        self.compiled_lock().insert(hash.clone(), component.clone());
        Ok((component, hash))
    }

    /// Forgets the compiled components whose hash is not in `in_use` (the loaded adapters'),
    /// so that the code of replaced versions is freed once their last call ends.
    pub fn retain_compiled(&self, in_use: &std::collections::HashSet<&str>) {
        self.compiled_lock()
            .retain(|hash, _| in_use.contains(hash.as_str()));
    }

    fn compiled_lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Component>> {
        self.compiled.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The on-disk cache's compilation of `bytes`, or a fresh one (then cached).
    fn load_or_compile(&self, bytes: &[u8], hash: &str) -> Result<Component, EngineError> {
        let cache = match (&self.options.cache_dir, &self.options.cache_key) {
            (Some(dir), Some(key)) => {
                let name = format!("{hash}-{}.cwasm", self.compat);
                Some((dir.join(&name), name, key))
            }
            _ => None,
        };
        if let Some((path, name, key)) = &cache
            && path.is_file()
        {
            match self.load_cached(path, name, key) {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "cached compilation refused, recompiling: {e}")
                }
            }
        }
        let component = Component::new(&self.engine, bytes)
            .map_err(|e| EngineError::Compile(format!("{e:#}")))?;
        if let Some((path, name, key)) = &cache
            && let Err(e) = self.write_cache(&component, path, name, key)
        {
            tracing::warn!(path = %path.display(), "could not cache the compiled component: {e}");
        }
        Ok(component)
    }

    /// Loads a cached compilation if its MAC, over its name (the component's content hash and
    /// the engine's compatibility) and its bytes, is the one this key makes: a file copied
    /// from another component's entry, or crafted by whoever can write the cache folder, is
    /// refused before wasmtime maps it as native code.
    fn load_cached(&self, path: &Path, name: &str, key: &StoreKey) -> Result<Component, String> {
        use subtle::ConstantTimeEq;
        let file = crate::files::read_regular(path, MAX_CACHED).map_err(|e| e.to_string())?;
        let body = file
            .strip_prefix(CACHE_MAGIC)
            .filter(|rest| rest.len() > 32)
            .ok_or("not a Weft cache file (no MAC header)")?;
        let (mac, compiled) = body.split_at(32);
        if !bool::from(mac.ct_eq(&key.cache_mac(name, compiled))) {
            return Err(
                "its MAC does not match: written by another key, for another component, or altered"
                    .into(),
            );
        }
        self.deserialize(compiled).map_err(|e| format!("{e:#}"))
    }

    #[allow(unsafe_code)]
    fn deserialize(&self, compiled: &[u8]) -> wasmtime::Result<Component> {
        // SAFETY: `compiled` carries a MAC under a key that only this deployment holds (checked
        // by the caller), so it is a compilation that a process of this deployment made with an
        // engine of the same compatibility hash; wasmtime further checks its header.
        unsafe { Component::deserialize(&self.engine, compiled) }
    }

    fn write_cache(
        &self,
        component: &Component,
        path: &Path,
        name: &str,
        key: &StoreKey,
    ) -> std::io::Result<()> {
        let compiled = component
            .serialize()
            .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
        let mut bytes = Vec::with_capacity(CACHE_MAGIC.len() + 32 + compiled.len());
        bytes.extend_from_slice(CACHE_MAGIC);
        bytes.extend_from_slice(&key.cache_mac(name, &compiled));
        bytes.extend_from_slice(&compiled);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // Write-then-rename, so a concurrent reader never sees half a file.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)
    }
}
