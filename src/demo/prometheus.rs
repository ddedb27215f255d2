//! The Prometheus HTTP API's instant query, `GET /api/v1/query?query=…`, answering for the
//! analytics error rate the bundled topology watches, in Prometheus' own JSON envelope
//! (`{"status":"success","data":{"resultType":"vector","result":[…]}}`, errors as
//! `{"status":"error","errorType":"bad_data",…}` with 400).
//!
//! The demo serves one series, `analytics_ingest_*`: a query that names it gets the error
//! rate (1.2 %, or 18 % when failing); any other query matches no series, as on a real server
//! that does not have them.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio::net::TcpListener;

use super::{Answer, Serving};

/// The error rate served while healthy, and while failing.
pub const ERROR_RATE: (&str, &str) = ("0.012", "0.18");

/// Serves the query API on `listener` until the fleet stops.
pub(crate) async fn serve(listener: TcpListener, serving: Serving) {
    let app = router(serving.answer);
    let _ = axum::serve(listener, app)
        .with_graceful_shutdown(serving.stopped())
        .await;
}

/// `/api/v1/query` (GET, as the probe sends it).
pub fn router(answer: Answer) -> Router {
    Router::new().route(
        "/api/v1/query",
        get(
            move |Query(params): Query<HashMap<String, String>>| async move {
                if let Answer::Slow(d) = answer {
                    tokio::time::sleep(d).await;
                }
                query(params.get("query").map(String::as_str), answer)
            },
        ),
    )
}

fn query(query: Option<&str>, answer: Answer) -> Response {
    let Some(query) = query.filter(|q| !q.trim().is_empty()) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "status": "error",
                "errorType": "bad_data",
                "error": "invalid parameter \"query\": 1:1: parse error: no expression found in input",
            })),
        )
            .into_response();
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let result = if query.contains("analytics_ingest") {
        let value = if answer == Answer::Failing {
            ERROR_RATE.1
        } else {
            ERROR_RATE.0
        };
        json!([{ "metric": {}, "value": [now, value] }])
    } else {
        json!([])
    };
    axum::Json(json!({
        "status": "success",
        "data": { "resultType": "vector", "result": result },
    }))
    .into_response()
}
