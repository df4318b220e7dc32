//! Host-side bindings generated from `wit/adapter.wit`, kept apart from the code using them.

#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "adapter-world",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use self::weft::adapter::{
    config, digest, http, items, jobs, log, steps, storage, tokens, types,
};
pub use exports::weft::adapter::adapter as guest;
