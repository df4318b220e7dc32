//! What a component may import, judged before it is linked: a load error names every import
//! Weft does not grant, and why, rather than wasmtime's "no matching implementation".
//!
//! Three answers:
//! - **lent**: every `weft:adapter` interface, and the WASI 0.2 interfaces a language's runtime
//!   links whether or not the adapter uses them (CPython's libc imports sockets and the
//!   filesystem; a Rust or JavaScript component imports clocks, random and stdio). They are
//!   granted nothing ([`crate::call::CallState::new`]): no preopened directory, no
//!   environment, every socket address refused. Refusing these imports would refuse every
//!   Python adapter for what its interpreter could do, not for what it does;
//! - **inert**: `wasi:http/types`, which StarlingMonkey (componentize-js) imports for its
//!   `Request` and `Headers` classes even with its `fetch` turned off. Linked as functions that
//!   trap, naming weft:adapter/http, if an adapter ever calls them;
//! - **refused**: everything else, a way out of the sandbox or a capability Weft does not
//!   have: `wasi:http/outgoing-handler` (a `fetch` past `allowed_hosts`), WASI 0.3, and any
//!   interface of another package (`wasi:keyvalue`, `wasi:config`, a vendor's).

use crate::call::CallState;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, ResourceType};

/// The WASI 0.2 packages lent with nothing granted.
const LENT: &[&str] = &[
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:io/",
    "wasi:random/",
    "wasi:filesystem/",
    "wasi:sockets/",
];

/// How the host answers one import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Linked for real (with nothing granted, for WASI).
    Lent,
    /// Linked as functions that trap with a message.
    Inert,
    /// Not linked: the component fails to load, with this reason.
    Refused(&'static str),
}

/// The host's answer to an import named `name` (`wasi:sockets/tcp@0.2.3`).
pub fn judge(name: &str) -> Verdict {
    let version = name.rsplit_once('@').map(|(_, v)| v).unwrap_or("");
    if name.starts_with("weft:adapter/") {
        return Verdict::Lent;
    }
    if name.starts_with("wasi:") && !version.starts_with("0.2.") {
        return Verdict::Refused(
            "this host speaks WASI 0.2: build the adapter for wasm32-wasip2 (or its language's 0.2 toolchain)",
        );
    }
    if name.starts_with("wasi:http/types@") {
        return Verdict::Inert;
    }
    if name.starts_with("wasi:http/") {
        return Verdict::Refused(
            "an adapter reaches its platform through weft:adapter/http, which checks allowed_hosts, applies the manifest's limits and keeps secrets out of logs; build TypeScript adapters with the SDK's build (fetch turned off)",
        );
    }
    if LENT.iter().any(|p| name.starts_with(p)) {
        return Verdict::Lent;
    }
    Verdict::Refused("Weft lends adapters weft:adapter@0.1.0 and WASI 0.2's basics, nothing else")
}

/// Every import of `component` the host refuses, each with its reason, as one message; and
/// otherwise the inert imports to link as traps.
pub fn check(engine: &wasmtime::Engine, component: &Component) -> Result<Vec<String>, String> {
    let mut refused = Vec::new();
    let mut inert = Vec::new();
    for (name, _) in component.component_type().imports(engine) {
        match judge(name) {
            Verdict::Lent => {}
            Verdict::Inert => inert.push(name.to_string()),
            Verdict::Refused(why) => refused.push(format!("{name} ({why})")),
        }
    }
    if refused.is_empty() {
        Ok(inert)
    } else {
        Err(format!(
            "imports what Weft does not grant: {}",
            refused.join("; ")
        ))
    }
}

/// Marks the resources of an inert interface: no value of them is ever made.
struct Inert;

/// The host type of resource `name` of an inert interface: `wasi:http/types` re-exports
/// wasi:io's streams, pollable and error, which must be the types WASI's own linking gave
/// them; its own resources (fields, requests, responses) are [`Inert`].
fn resource_type(name: &str) -> ResourceType {
    use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable, IoError};
    match name {
        "input-stream" => ResourceType::host::<DynInputStream>(),
        "output-stream" => ResourceType::host::<DynOutputStream>(),
        "pollable" => ResourceType::host::<DynPollable>(),
        "io-error" | "error" => ResourceType::host::<IoError>(),
        _ => ResourceType::host::<Inert>(),
    }
}

/// A copy of `base` with the `inert` imports of `component` defined as functions that trap,
/// naming the import and the interface to use instead (a component with none links with `base`
/// itself, uncopied).
pub fn linker_for(
    base: &Linker<CallState>,
    engine: &wasmtime::Engine,
    component: &Component,
    inert: &[String],
) -> wasmtime::Result<Linker<CallState>> {
    let mut linker = base.clone();
    for (name, item) in component.component_type().imports(engine) {
        if !inert.iter().any(|i| i == name) {
            continue;
        }
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            continue;
        };
        let mut at = linker.instance(name)?;
        for (export, item) in instance.exports(engine) {
            match item.ty {
                ComponentItem::ComponentFunc(_) => {
                    let what = format!("{name}#{export}");
                    at.func_new(export, move |_, _, _, _| {
                        wasmtime::bail!(
                            "{what} is not granted to adapters: call the platform through weft:adapter/http"
                        )
                    })?;
                }
                ComponentItem::Resource(_) => {
                    at.resource(export, resource_type(export), |_, _| Ok(()))?;
                }
                _ => {}
            }
        }
    }
    Ok(linker)
}

#[cfg(test)]
mod tests {
    use super::{Verdict, judge};

    #[test]
    fn weft_and_wasi_basics_are_lent_a_way_out_is_refused() {
        for lent in [
            "weft:adapter/http@0.1.0",
            "wasi:cli/environment@0.2.9",
            "wasi:sockets/tcp@0.2.12",
            "wasi:filesystem/preopens@0.2.0",
        ] {
            assert_eq!(judge(lent), Verdict::Lent, "{lent}");
        }
        assert_eq!(judge("wasi:http/types@0.2.10"), Verdict::Inert);
        for refused in [
            "wasi:http/outgoing-handler@0.2.10",
            "wasi:keyvalue/store@0.2.0-draft",
            "wasi:sockets/tcp@0.3.0",
            "acme:secret/exfiltrate",
        ] {
            assert!(matches!(judge(refused), Verdict::Refused(_)), "{refused}");
        }
    }
}
