//! Weft: a host process that lends HTTP, a token cache and storage to sandboxed WebAssembly
//! adapters, one per outside platform, loaded from TOML manifests.
//!
//! Start from [`Runtime`]: it opens the store, builds the engine, loads `manifests/*.toml` and
//! runs operations with [`Runtime::invoke`].

pub mod adapter;
mod bindings;
pub mod cadence;
mod call;
pub mod clock;
pub mod engine;
pub mod error;
pub mod files;
pub mod fixture;
pub mod front;
mod guest_output;
pub mod http;
pub mod inbound;
pub mod invoke;
pub mod jobs;
pub mod manifest;
pub mod metrics;
pub mod recent;
pub mod record;
pub mod redact;
pub mod registry;
pub mod runtime;
pub mod scaffold;
pub mod schedule;
pub mod seal;
pub mod server;
mod state;
pub mod store;
pub mod tokens;
pub mod watch;

pub use error::{ErrorKind, InvokeError};
pub use invoke::CallOptions;
pub use runtime::{Runtime, RuntimeError, RuntimeOptions};
