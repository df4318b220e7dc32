//! Loading one adapter: parse the manifest, compile the component (through the cache), check
//! the contract, describe, check the manifest against the description, and reserve instances.

use super::DESCRIBE_TIMEOUT;
use crate::bindings::AdapterWorldPre;
use crate::call::{CallState, LoadedAdapter, Shared};
use crate::http::{HttpCapability, HttpPolicy};
use crate::manifest::{self, ManifestError};
use crate::redact::Redactor;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tokio::sync::Semaphore;

/// Instances an adapter may hold at once: one per concurrent call, and one for a token fetch
/// running beside them.
pub fn reserved_instances(manifest: &crate::manifest::Manifest) -> u32 {
    manifest.limits.concurrency.saturating_add(1)
}

/// Gives each adapter its own share of the instance pool: the adapters in `adapters` must
/// together reserve no more than `pool` instances, so that one adapter's hanging calls can
/// never take the instances another needs. Versions already serving keep their share; a new or
/// changed manifest that does not fit is refused (its running version, if any, keeps serving).
pub(super) fn reserve_instances(
    pool: u32,
    current: &BTreeMap<String, Arc<LoadedAdapter>>,
    adapters: &mut BTreeMap<String, Arc<LoadedAdapter>>,
    failures: &mut Vec<ManifestError>,
) {
    let is_running = |a: &Arc<LoadedAdapter>| {
        current
            .get(&a.manifest.name)
            .is_some_and(|c| Arc::ptr_eq(c, a))
    };
    let mut reserved: u32 = adapters
        .values()
        .filter(|a| is_running(a))
        .map(|a| reserved_instances(&a.manifest))
        .fold(0, u32::saturating_add);
    let newcomers: Vec<Arc<LoadedAdapter>> = adapters
        .values()
        .filter(|a| !is_running(a))
        .cloned()
        .collect();
    for adapter in newcomers {
        let name = adapter.manifest.name.clone();
        let wants = reserved_instances(&adapter.manifest);
        let previous = current.get(&name);
        let others = reserved;
        if others.saturating_add(wants) <= pool {
            reserved = others.saturating_add(wants);
            continue;
        }
        let message = format!(
            "limits.concurrency = {} needs {wants} instances (one per call and one for token fetches), but the pool has {pool} and the other adapters reserve {others}: lower limits.concurrency here or elsewhere, or start weft with a larger --max-instances",
            adapter.manifest.limits.concurrency
        );
        tracing::error!(adapter = %name, "{message}");
        failures.push(ManifestError {
            file: adapter.manifest.file.clone(),
            key: "limits.concurrency".into(),
            message,
        });
        match previous {
            Some(p) => {
                tracing::warn!(adapter = %name, "the previous version keeps serving");
                reserved = reserved.saturating_add(reserved_instances(&p.manifest));
                adapters.insert(name, p.clone());
            }
            None => {
                adapters.remove(&name);
            }
        }
    }
}

/// Loads one manifest and its component, ready to serve. A new version of a running adapter
/// (`running`) with the same `limits.concurrency` shares the running version's permits and
/// queue count, so that calls still running on the old version count against the new one and
/// a reload never lets more calls reach the platform at once than the manifest allows.
pub async fn load_adapter(
    shared: &Arc<Shared>,
    file: &Path,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    running: &BTreeMap<String, Arc<LoadedAdapter>>,
) -> Result<Arc<LoadedAdapter>, ManifestError> {
    let (manifest, source_hash) = read_manifest(file, env).await?;
    let err = |key: &str, message: String| ManifestError {
        file: file.to_path_buf(),
        key: key.to_string(),
        message,
    };
    let max = shared.engine.options().max_instance_memory;
    if manifest.limits.memory.bytes() > max {
        return Err(err(
            "limits.memory",
            format!(
                "{} exceeds the host's per-instance maximum of {} (weft --max-instance-memory)",
                manifest.limits.memory,
                manifest::ByteSize::bytes_exact(max)
            ),
        ));
    }
    let (pre, hash) = compile(shared, &manifest, &err).await?;
    let http = HttpCapability::new(
        &manifest.name,
        HttpPolicy {
            allowed: manifest.allowed_hosts.clone(),
            timeout: manifest.limits.http_timeout.get(),
            max_request: manifest.limits.http_request.bytes(),
            max_response: manifest.limits.http_response.bytes(),
            propagate_trace: manifest.trace_propagation,
        },
        shared.metrics.clone(),
    )
    .map_err(|e| err("", e.to_string()))?;
    let redactor = Redactor::new(manifest.secrets.values().map(|s| s.expose()));
    let credentials = shared.tokens.credentials_fingerprint(
        manifest
            .secrets
            .iter()
            .map(|(name, value)| (name.as_str(), value.expose())),
    );
    let config_given = crate::description::EffectiveConfig::of(&manifest.config, &[]);
    let carried = running
        .get(&manifest.name)
        .filter(|old| old.manifest.limits.concurrency == manifest.limits.concurrency)
        .map(|old| (old.permits.clone(), old.waiting.clone()));
    let (permits, waiting) = carried.unwrap_or_else(|| {
        (
            Arc::new(Semaphore::new(manifest.limits.concurrency as usize)),
            Arc::default(),
        )
    });
    let adapter = Arc::new(LoadedAdapter {
        manifest,
        source_hash,
        component_hash: hash,
        loaded_at_ms: crate::clock::now_ms(),
        description: OnceLock::new(),
        pre,
        http,
        redactor,
        credentials,
        config_given,
        config: OnceLock::new(),
        permits,
        waiting,
        shared: shared.clone(),
    });
    let description = adapter
        .describe(Instant::now() + DESCRIBE_TIMEOUT)
        .await
        .map_err(|f| err("component", format!("describe() failed: {}", f.message)))?;
    check_description(&adapter.manifest, &description, &err)?;
    let _ = adapter.config.set(crate::description::EffectiveConfig::of(
        &adapter.manifest.config,
        &description.config,
    ));
    let _ = adapter.description.set(description);
    tracing::info!(adapter = %adapter.manifest.name, file = %file.display(), hash = %adapter.component_hash, "adapter loaded");
    Ok(adapter)
}

/// How a load names the wrong key of its manifest.
type Err<'a> = dyn Fn(&str, String) -> ManifestError + Sync + 'a;

/// The manifest in `file`, parsed and checked, with the SHA-256 of its text.
async fn read_manifest(
    file: &Path,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<(manifest::Manifest, String), ManifestError> {
    let text = crate::files::read_regular_async(file, crate::files::MAX_MANIFEST)
        .await
        .map_err(|e| ManifestError {
            file: file.to_path_buf(),
            key: String::new(),
            message: format!("cannot be read: {e}"),
        })?;
    let source_hash = hex::encode(Sha256::digest(&text));
    let text = String::from_utf8(text).map_err(|_| ManifestError {
        file: file.to_path_buf(),
        key: String::new(),
        message: "is not UTF-8 text".into(),
    })?;
    let manifest = manifest::parse(file, &text, env)?;
    Ok((manifest, source_hash))
}

/// The manifest's component read, compiled (through the cache) and linked: answers it ready
/// to instantiate, and its hash.
async fn compile(
    shared: &Arc<Shared>,
    manifest: &manifest::Manifest,
    err: &Err<'_>,
) -> Result<(AdapterWorldPre<CallState>, String), ManifestError> {
    let bytes = crate::files::read_regular_async(&manifest.component, crate::files::MAX_COMPONENT)
        .await
        .map_err(|e| {
            err(
                "component",
                format!("cannot read {}: {e}", manifest.component.display()),
            )
        })?;
    // Said before wasmtime looks: its parse errors quote the first bytes they found, and a
    // manifest that names some other file (`component = "../../etc/passwd"`) would print them.
    if let Some(problem) = not_a_component(&bytes) {
        return Err(err(
            "component",
            format!("{} {problem}", manifest.component.display()),
        ));
    }
    let compile_shared = shared.clone();
    let (component, hash) =
        tokio::task::spawn_blocking(move || compile_shared.engine.compile(&bytes))
            .await
            .map_err(|e| err("component", format!("compilation did not finish: {e}")))?
            .map_err(|e| {
                err(
                    "component",
                    format!("{}: {e}", manifest.component.display()),
                )
            })?;
    let engine = shared.engine.engine();
    let inert = crate::sandbox::check(engine, &component)
        .map_err(|e| err("component", format!("{} {e}", manifest.component.display())))?;
    let pre = if inert.is_empty() {
        shared.linker.instantiate_pre(&component)
    } else {
        crate::sandbox::linker_for(&shared.linker, engine, &component, &inert)
            .and_then(|linker| linker.instantiate_pre(&component))
    }
    .and_then(AdapterWorldPre::new)
    .map_err(|e| {
        err(
            "component",
            format!(
                "{} does not implement weft:adapter@0.1.0: {e:#}",
                manifest.component.display()
            ),
        )
    })?;
    Ok((pre, hash))
}

/// Refuses a component whose `describe` claims a host operation name, needs a secret the
/// manifest does not give, or disagrees with what the manifest declares (every problem at
/// once).
fn check_description(
    manifest: &manifest::Manifest,
    description: &crate::description::AdapterDescription,
    err: &Err<'_>,
) -> Result<(), ManifestError> {
    if let Some(op) = description
        .operations
        .iter()
        .find(|o| o.name.starts_with(crate::jobs::JOB_PREFIX))
    {
        return Err(err(
            "component",
            format!(
                "operation {:?}: names starting with {:?} are the host's (schedule runs)",
                op.name,
                crate::jobs::JOB_PREFIX
            ),
        ));
    }
    for secret in &description.secrets {
        if !manifest.secrets.contains_key(secret) {
            return Err(err(
                "secrets",
                format!(
                    "adapter {} {} needs secret {secret:?} (add `{secret} = \"env:SOME_VARIABLE\"` under [secrets])",
                    description.name, description.version
                ),
            ));
        }
    }
    let problems = description.problems_with(manifest);
    if let Some(((key, first), rest)) = problems.split_first() {
        // Every problem at once: the first names the key, the others follow with theirs.
        let mut message = first.clone();
        for (k, m) in rest {
            message.push_str(&format!("; {k}: {m}"));
        }
        return Err(err(key, message));
    }
    Ok(())
}

/// Why `bytes` cannot be a WebAssembly component, without quoting any of them.
fn not_a_component(bytes: &[u8]) -> Option<&'static str> {
    const MAGIC: &[u8] = b"\0asm";
    const COMPONENT: &[u8] = &[0x0d, 0x00, 0x01, 0x00];
    const MODULE: &[u8] = &[0x01, 0x00, 0x00, 0x00];
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Some("is not a valid component: not a WebAssembly file (no \\0asm header)");
    }
    match &bytes[4..8] {
        v if v == COMPONENT => None,
        v if v == MODULE => {
            Some("is not a valid component: a core WebAssembly module (build it for wasm32-wasip2)")
        }
        _ => Some("is not a valid component: a WebAssembly version this host does not read"),
    }
}

#[cfg(test)]
mod component_header_tests {
    use super::not_a_component;

    #[test]
    fn other_files_are_refused_without_their_bytes() {
        let why = not_a_component(b"root:x:0:0:root:/root:/bin/bash\n").unwrap_or_default();
        assert!(why.contains("not a valid component"), "{why}");
        assert!(!why.contains("0x72") && !why.contains("root"), "{why}");
        assert!(not_a_component(b"\0asm\x01\0\0\0").is_some_and(|w| w.contains("core")));
        assert_eq!(not_a_component(b"\0asm\x0d\0\x01\0rest"), None);
    }
}
