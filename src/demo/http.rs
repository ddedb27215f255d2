//! The HTTP services of the bundled topology (axum), each keeping the contract its probe checks:
//! the platform callback's JSON (`POST /callback/ping` with a JSON body → `{"data":"ok"}`), the
//! gateway's `X-Gateway: ready` header on a 204, the `"status":"UP"` bodies of `auth` and
//! `order-service`, `merchant-push`'s `pong`, and the two SMS providers' status pages.
//!
//! A failing service answers as such a service does when it is unwell: 503 with a body saying
//! so, or (`sms-provider-b`) a 200 whose JSON says `maintenance`.

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::{Answer, Serving};

/// Which service's contract an HTTP endpoint keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `POST /callback/ping` (JSON in, `{"data":"ok"}` out).
    PlatformCallback,
    /// `GET /healthz` → 204 with `X-Gateway: ready`.
    OrderGateway,
    /// `GET /health` → `{"status":"UP"}`.
    Auth,
    /// `GET /actuator/health` → a Spring Boot style health document.
    OrderService,
    /// `GET /ping` → `pong`.
    MerchantPush,
    /// `GET /v1/status` → 200.
    SmsProviderA,
    /// `GET /status` → `{"state":"available"}`.
    SmsProviderB,
}

/// Serves `role` on `listener` until the fleet stops.
pub(crate) async fn serve(listener: TcpListener, role: Role, serving: Serving) {
    let app = router(role, serving.answer);
    let _ = axum::serve(listener, app)
        .with_graceful_shutdown(serving.stopped())
        .await;
}

/// The routes of one service. Anything else is axum's 404 (or 405 for a wrong method).
pub fn router(role: Role, answer: Answer) -> Router {
    let delay = match answer {
        Answer::Slow(d) => d,
        _ => Duration::ZERO,
    };
    let failing = answer == Answer::Failing;
    match role {
        Role::PlatformCallback => Router::new().route(
            "/callback/ping",
            post(move |body: Result<axum::Json<Value>, _>| async move {
                pause(delay).await;
                callback(body, failing)
            }),
        ),
        Role::OrderGateway => Router::new().route(
            "/healthz",
            get(move || async move {
                pause(delay).await;
                let (status, state) = if failing {
                    (StatusCode::SERVICE_UNAVAILABLE, "draining")
                } else {
                    (StatusCode::NO_CONTENT, "ready")
                };
                (
                    status,
                    [(
                        HeaderName::from_static("x-gateway"),
                        HeaderValue::from_static(state),
                    )],
                )
                    .into_response()
            }),
        ),
        Role::Auth => Router::new().route(
            "/health",
            get(move || async move {
                pause(delay).await;
                health(failing, json!({}))
            }),
        ),
        Role::OrderService => Router::new().route(
            "/actuator/health",
            get(move || async move {
                pause(delay).await;
                health(
                    failing,
                    json!({ "components": { "db": { "status": if failing { "DOWN" } else { "UP" } } } }),
                )
            }),
        ),
        Role::MerchantPush => Router::new().route(
            "/ping",
            get(move || async move {
                pause(delay).await;
                if failing {
                    (StatusCode::SERVICE_UNAVAILABLE, "push channel unavailable\n").into_response()
                } else {
                    "pong\n".into_response()
                }
            }),
        ),
        Role::SmsProviderA => Router::new().route(
            "/v1/status",
            get(move || async move {
                pause(delay).await;
                if failing {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        axum::Json(json!({ "ok": false, "error": "upstream carrier timeout" })),
                    )
                        .into_response()
                } else {
                    axum::Json(json!({ "ok": true })).into_response()
                }
            }),
        ),
        Role::SmsProviderB => Router::new().route(
            "/status",
            get(move || async move {
                pause(delay).await;
                let state = if failing { "maintenance" } else { "available" };
                axum::Json(json!({ "state": state })).into_response()
            }),
        ),
    }
}

async fn pause(delay: Duration) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

/// The platform's callback contract: a JSON body in, `{"data":"ok"}` out; anything that is not
/// JSON is refused the way the platform documents it (400, `{"data":"bad request"}`).
fn callback(
    body: Result<axum::Json<Value>, axum::extract::rejection::JsonRejection>,
    failing: bool,
) -> Response {
    match body {
        Err(rejection) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "data": "bad request", "error": rejection.body_text() })),
        )
            .into_response(),
        Ok(_) if failing => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "data": "unavailable" })),
        )
            .into_response(),
        Ok(_) => axum::Json(json!({ "data": "ok" })).into_response(),
    }
}

/// A `{"status":"UP"}` (or `DOWN`, with 503) health document, with `extra` fields merged in.
fn health(failing: bool, extra: Value) -> Response {
    let mut doc = json!({ "status": if failing { "DOWN" } else { "UP" } });
    if let (Some(doc), Value::Object(extra)) = (doc.as_object_mut(), extra) {
        doc.extend(extra);
    }
    let status = if failing {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, axum::Json(doc)).into_response()
}
