//! Weft: a host process that lends HTTP, a token cache and storage to sandboxed WebAssembly
//! adapters, one per outside platform, loaded from TOML manifests.
//!
//! Start from [`Runtime`]: it opens the store, builds the engine, loads `manifests/*.toml` and
//! runs operations with [`Runtime::invoke`].

mod bindings;
pub mod cadence;
pub mod call;
pub mod clock;
mod connections;
pub mod description;
pub mod digest;
pub mod egress;
pub mod engine;
pub mod error;
pub mod files;
pub mod fixture;
pub mod front;
pub mod guest_env;
pub mod http;
pub mod inbound;
pub mod items;
pub mod jobs;
pub mod journal;
pub mod manifest;
pub mod metrics;
pub mod operations;
pub mod pause;
pub mod recent;
pub mod record;
pub mod redact;
pub mod registry;
pub mod retention;
pub mod retry;
pub mod runtime;
pub mod sandbox;
pub mod scaffold;
pub mod schedule;
pub mod seal;
pub mod server;
pub mod steps;
pub mod storage;
pub mod store;
pub mod tokens;
pub mod watch;
pub mod workers;

pub use call::CallOptions;
pub use error::{ErrorKind, InvokeError};
pub use runtime::{Runtime, RuntimeError, RuntimeOptions};
