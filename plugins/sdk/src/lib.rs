//! The guest side of Weft: everything a Rust adapter needs besides its platform's dialect.
//!
//! An adapter implements [`Adapter`] and exports it with [`export_adapter!`]. The modules wrap
//! the host's capabilities in Rust idioms: [`http`] (requests, JSON and form bodies), [`tokens`]
//! (the host's token cache), [`steps`] (durable steps: what the platform already answered is not
//! sent again when a call runs again), [`storage`], [`jobs`], [`config`] (typed `[config]` and secrets),
//! [`log`], [`digest`] (SHA-256 computed natively by the host), [`batch`] (splitting rows into
//! numbered requests) and [`error`] (the four-way adapter error).

pub mod batch;
pub mod config;
pub mod dates;
pub mod digest;
pub mod error;
pub mod http;
pub mod inbound;
pub mod items;
pub mod jobs;
pub mod log;
pub mod paging;
pub mod steps;
pub mod storage;
pub mod tokens;
pub mod watermark;
pub mod xml;

/// Bindings generated from `wit/adapter.wit`; adapters rarely need them directly.
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "adapter-world",
        pub_export_macro: true,
        default_bindings_module: "weft_sdk::bindings",
        export_macro_name: "export_raw",
    });
}

pub use bindings::exports::weft::adapter::adapter::{
    ConfigKey, ConfigType, Description, InboundRequest, InboundResponse, Operation, TokenGrant,
};
pub use bindings::weft::adapter::types::CallContext;
pub use error::{AdapterError, Detail, Result};
pub use serde_json::{Value, json};

/// What a platform adapter implements. Only `describe`, `fetch_token` and `invoke` are required;
/// an adapter without inbound routes or schedules keeps the defaults, which refuse clearly.
pub trait Adapter {
    /// Names the adapter, its operations and the secrets it needs.
    fn describe() -> Description;

    /// Obtains a token for `scope` from the platform (called by the host's token cache only).
    /// By default there is none to obtain: a platform whose credentials are fixed secrets
    /// needs no `fetch_token` of its own.
    fn fetch_token(scope: String) -> Result<TokenGrant> {
        Err(AdapterError::invalid_input(format!(
            "this adapter obtains no tokens (asked for scope {scope:?}): its platform's credentials are in [secrets]"
        )))
    }

    /// Runs operation `op` on JSON `input`, answering JSON.
    fn invoke(ctx: CallContext, op: String, input: Value) -> Result<Value>;

    /// Runs operation `op` on the caller's JSON text as it came, before any `Value` is built;
    /// `None` (the default) hands the call to [`Adapter::invoke`]. For operations whose input is
    /// too large to hold twice: a `Value` tree of 100,000 rows costs more than reading them into
    /// the adapter's own types, borrowing their text.
    fn invoke_text(_ctx: &CallContext, _op: &str, _input: &str) -> Option<Result<Value>> {
        None
    }

    /// Answers a platform-facing route; by default every route is 404. A failure answers the
    /// status of its kind ([`inbound::failure`]: 400, 409, 422, 401 or 503 with `Retry-After`),
    /// so that `?` works here as in `invoke`; a platform that expects refusals in a shape of
    /// its own is answered `Ok` with that shape.
    fn handle_inbound(_ctx: CallContext, req: InboundRequest) -> Result<InboundResponse> {
        Ok(http::inbound_json(
            404,
            &json!({ "error": format!("this adapter serves no route {}", req.route) }),
        ))
    }

    /// Runs a manifest schedule; by default every schedule name is unknown.
    fn on_schedule(_ctx: CallContext, name: String) -> Result<()> {
        Err(AdapterError::invalid_input(format!(
            "this adapter has no schedule named {name:?}"
        )))
    }
}

/// Builds a [`Description`] from a name, a version, `(operation, description)` pairs and the
/// secrets it needs; declare `[config]`, schedules and routes with [`Describe`].
pub fn describe(name: &str, version: &str, ops: &[(&str, &str)], secrets: &[&str]) -> Description {
    Description {
        name: name.to_string(),
        version: version.to_string(),
        operations: ops
            .iter()
            .map(|(name, description)| Operation {
                name: name.to_string(),
                description: description.to_string(),
            })
            .collect(),
        secrets: secrets.iter().map(|s| s.to_string()).collect(),
        config: Vec::new(),
        schedules: Vec::new(),
        routes: Vec::new(),
    }
}

/// Declares what a manifest may say to this adapter, so that the host checks it at load
/// (`weft check`): a `[config]` typo, a missing required key, a schedule or route the adapter
/// does not know fail the manifest with its file and key, not the first call.
pub trait Describe {
    /// The `[config]` keys read, each declared once ([`config::Key`]: type, default, bounds or
    /// choices, what it does). `base_url` is the manifest's own and need not be listed.
    fn config(self, keys: impl IntoIterator<Item = config::Key>) -> Self;
    /// The schedule names `on_schedule` runs.
    fn schedules(self, names: &[&str]) -> Self;
    /// The inbound route names `handle_inbound` serves.
    fn routes(self, names: &[&str]) -> Self;
}

impl Describe for Description {
    fn config(mut self, keys: impl IntoIterator<Item = config::Key>) -> Self {
        self.config = keys.into_iter().map(config::Key::into_wit).collect();
        self
    }

    fn schedules(mut self, names: &[&str]) -> Self {
        self.schedules = names.iter().map(|s| s.to_string()).collect();
        self
    }

    fn routes(mut self, names: &[&str]) -> Self {
        self.routes = names.iter().map(|s| s.to_string()).collect();
        self
    }
}

/// Parses an operation's JSON input into `T`, naming the offending field on failure.
pub fn parse_input<T: serde::de::DeserializeOwned>(input: Value) -> Result<T> {
    serde_json::from_value(input).map_err(|e| AdapterError::invalid_input(format!("input: {e}")))
}

/// Glue between [`Adapter`] and the generated bindings; used by [`export_adapter!`].
#[doc(hidden)]
pub mod glue {
    use super::*;
    use bindings::exports::weft::adapter::adapter as exports;

    /// Runs `invoke`, parsing the input and serialising the output.
    pub fn invoke<A: Adapter>(
        ctx: CallContext,
        op: String,
        input: String,
    ) -> std::result::Result<String, exports::AdapterError> {
        let output = match A::invoke_text(&ctx, &op, &input) {
            Some(output) => output,
            None => {
                let input: Value = serde_json::from_str(&input).map_err(|e| {
                    AdapterError::invalid_input(format!("input is not JSON: {e}")).into_wit()
                })?;
                A::invoke(ctx, op, input)
            }
        }
        .map_err(AdapterError::into_wit)?;
        serde_json::to_string(&output).map_err(|e| {
            AdapterError::transient(format!("output could not be serialised: {e}")).into_wit()
        })
    }
}

/// Exports a type implementing [`Adapter`] as the component's `adapter` interface.
#[macro_export]
macro_rules! export_adapter {
    ($ty:ident) => {
        impl $crate::bindings::exports::weft::adapter::adapter::Guest for $ty {
            fn describe() -> $crate::Description {
                <$ty as $crate::Adapter>::describe()
            }
            fn fetch_token(
                scope: String,
            ) -> ::std::result::Result<
                $crate::TokenGrant,
                $crate::bindings::exports::weft::adapter::adapter::AdapterError,
            > {
                <$ty as $crate::Adapter>::fetch_token(scope).map_err($crate::AdapterError::into_wit)
            }
            fn invoke(
                ctx: $crate::CallContext,
                op: String,
                input: String,
            ) -> ::std::result::Result<
                String,
                $crate::bindings::exports::weft::adapter::adapter::AdapterError,
            > {
                $crate::glue::invoke::<$ty>(ctx, op, input)
            }
            fn handle_inbound(
                ctx: $crate::CallContext,
                req: $crate::InboundRequest,
            ) -> $crate::InboundResponse {
                $crate::inbound::respond(<$ty as $crate::Adapter>::handle_inbound(ctx, req))
            }
            fn on_schedule(
                ctx: $crate::CallContext,
                name: String,
            ) -> ::std::result::Result<(), $crate::bindings::exports::weft::adapter::adapter::AdapterError>
            {
                <$ty as $crate::Adapter>::on_schedule(ctx, name).map_err($crate::AdapterError::into_wit)
            }
        }
        $crate::bindings::export_raw!($ty with_types_in $crate::bindings);
    };
}
