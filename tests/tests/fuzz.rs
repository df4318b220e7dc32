//! Property tests of the front door's request parsing: arbitrary bodies, content types, paths,
//! queries and headers against the real router with the probe loaded. Whatever arrives, the
//! answer is a well-formed status (never a 5xx for bad input), JSON is echoed exactly, and
//! inbound auth admits only the exact token.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use proptest::prelude::*;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;
use weft_tests::harness::{Deployment, component};

struct Fixture {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
    _dep: Deployment,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dep = Deployment::new();
        dep.manifest(
            "probe",
            &format!(
                "name = \"probe\"\ncomponent = \"{}\"\n[secrets]\nhook = \"{}\"\n[limits]\nrequest_body = \"64KiB\"\n[[routes]]\nname = \"create\"\nmethod = \"POST\"\npath = \"/erp/create\"\nauth = {{ type = \"header\", header = \"token\", secret = \"hook\" }}\n",
                component("weft-probe").display(),
                dep.secret("hook", "the-token"),
            ),
        );
        let runtime = rt.block_on(dep.runtime());
        let router = weft::front::router(Arc::new(runtime), weft::front::FrontOptions::default());
        Fixture {
            rt,
            router,
            _dep: dep,
        }
    })
}

fn send(request: Request<Body>) -> (StatusCode, Vec<u8>) {
    let f = fixture();
    f.rt.block_on(async {
        let response = f.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, body.to_vec())
    })
}

proptest! {
    #[test]
    fn any_body_gets_an_answer_and_json_is_echoed_exactly(
        body in prop::collection::vec(any::<u8>(), 0..2048),
        content_type in prop::sample::select(vec!["application/json", "text/plain", "application/x-www-form-urlencoded", "", "application/json; charset=utf-8"]),
    ) {
        let mut request = Request::post("/v1/adapters/probe/ops/echo");
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        let (status, answer) = send(request.body(Body::from(body.clone())).expect("request"));
        // A form or text body is what a browser sends cross-site without asking: it never
        // reaches an operation.
        if content_type == "text/plain" || content_type == "application/x-www-form-urlencoded" {
            prop_assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
            return Ok(());
        }
        // An empty (or blank) body is an operation called without input: `{}`.
        let blank = std::str::from_utf8(&body).is_ok_and(|t| t.trim().is_empty());
        let expected = if blank { Ok(serde_json::json!({})) } else { serde_json::from_slice::<serde_json::Value>(&body) };
        match expected {
            Ok(v) => {
                prop_assert_eq!(status, StatusCode::OK);
                let echoed: serde_json::Value = serde_json::from_slice(&answer).expect("JSON answer");
                prop_assert_eq!(echoed, v);
            }
            Err(_) => {
                prop_assert_eq!(status, StatusCode::BAD_REQUEST);
                let problem: serde_json::Value = serde_json::from_slice(&answer).expect("problem");
                prop_assert_eq!(&problem["kind"], "invalid-input");
            }
        }
    }

    #[test]
    fn any_path_and_method_is_answered_without_a_server_error(
        method in prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
        path in "(/[a-zA-Z0-9%._~{}-]{0,12}){1,5}",
        query in "[a-zA-Z0-9=&%+]{0,40}",
    ) {
        let uri = format!("{path}?{query}");
        let Ok(request) = Request::builder().method(method).uri(&uri).body(Body::empty()) else {
            return Ok(());
        };
        let (status, _) = send(request);
        prop_assert!(!status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE, "{} {} -> {}", method, uri, status);
    }

    #[test]
    fn inbound_auth_admits_only_the_exact_token(token in "[ -~]{0,20}", body in "\\PC{0,200}") {
        let request = Request::post("/inbound/probe/erp/create")
            .header("token", token.as_str())
            .body(Body::from(body))
            .expect("request");
        let (status, _) = send(request);
        if token == "the-token" {
            prop_assert_eq!(status, StatusCode::OK);
        } else {
            prop_assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
    }
}

#[test]
fn a_body_over_the_limit_is_413_before_the_adapter_runs() {
    let body = vec![b' '; 65 * 1024];
    let request = Request::post("/v1/adapters/probe/ops/echo")
        .header("content-length", body.len().to_string())
        .body(Body::from(body))
        .expect("request");
    let (status, _) = send(request);
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}
