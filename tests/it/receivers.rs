//! In-test receivers that check what the real DingTalk, Feishu/Lark, WeCom and Slack endpoints
//! check, and answer the way they answer: HTTP 200 with an error code for a bad signature, a
//! stale timestamp, a malformed body or too many messages. Signatures are recomputed here from
//! the secret, independently of the crate's code.
//!
//! Paths: `/dingtalk`, `/feishu`, `/lark`, `/wecom`, `/slack`, `/webhook`. The server runs on its
//! own thread and runtime, so both blocking tests (the binary) and async tests can use it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};

/// One request as the fake receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    /// `dingtalk`, `feishu`, …
    pub kind: String,
    /// The query parameters.
    pub query: HashMap<String, String>,
    /// The JSON body (`Null` when it was not JSON).
    pub body: Value,
    /// Whether it was accepted.
    pub accepted: bool,
}

#[derive(Default)]
struct Inner {
    secret: Option<String>,
    received: Vec<Received>,
    /// Per kind: refuse this many more requests with the receiver's rate-limit error.
    refuse: HashMap<String, u32>,
}

/// The running fake receivers.
pub struct Fake {
    /// Where they listen.
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Fake {
    /// Starts the receivers; `secret` is what DingTalk and Feishu/Lark check signatures with.
    pub fn start(secret: Option<&str>) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            secret: secret.map(str::to_owned),
            ..Inner::default()
        }));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = Arc::clone(&inner);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let app = Router::new()
                    .route("/{kind}", post(handle))
                    .with_state(state);
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = addr_rx.recv().unwrap();
        Self {
            addr,
            inner,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The URL of one receiver kind.
    pub fn url(&self, kind: &str) -> String {
        format!("http://{}/{kind}", self.addr)
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// The accepted requests so far.
    pub fn accepted(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.accepted).collect()
    }

    /// Makes the next `n` requests to `kind` fail with its rate-limit answer (HTTP 200).
    pub fn refuse_next(&self, kind: &str, n: u32) {
        self.inner.lock().unwrap().refuse.insert(kind.to_owned(), n);
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    base64::engine::general_purpose::STANDARD.encode(ring::hmac::sign(&key, msg).as_ref())
}

async fn handle(
    State(state): State<Arc<Mutex<Inner>>>,
    Path(kind): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let mut inner = state.lock().unwrap();
    let refuse = match inner.refuse.get_mut(&kind) {
        Some(n) if *n > 0 => {
            *n -= 1;
            true
        }
        _ => false,
    };
    let secret = inner.secret.clone();
    let (status, answer, accepted) = match kind.as_str() {
        "dingtalk" => dingtalk(&query, &json, secret.as_deref(), refuse),
        "feishu" | "lark" => feishu(&json, secret.as_deref(), refuse),
        "wecom" => wecom(&json, refuse),
        "slack" => slack(&json, refuse),
        "webhook" if refuse => (StatusCode::SERVICE_UNAVAILABLE, "busy".to_owned(), false),
        "webhook" => (StatusCode::OK, String::new(), json.get("alerts").is_some()),
        _ => (StatusCode::NOT_FOUND, "no such receiver".to_owned(), false),
    };
    inner.received.push(Received {
        kind,
        query,
        body: json,
        accepted,
    });
    (status, answer).into_response()
}

fn dingtalk(
    query: &HashMap<String, String>,
    body: &Value,
    secret: Option<&str>,
    refuse: bool,
) -> (StatusCode, String, bool) {
    let fail = |code: i64, msg: &str| {
        (
            StatusCode::OK,
            json!({"errcode": code, "errmsg": msg}).to_string(),
            false,
        )
    };
    if let Some(secret) = secret {
        let (Some(ts), Some(sign)) = (query.get("timestamp"), query.get("sign")) else {
            return fail(310_000, "sign not match");
        };
        let Ok(t) = ts.parse::<i64>() else {
            return fail(310_000, "sign not match");
        };
        if (now_ms() - t).abs() > 3_600_000 {
            return fail(310_000, "sign not match, timestamp is not within one hour");
        }
        let expected = hmac_b64(secret.as_bytes(), format!("{ts}\n{secret}").as_bytes());
        if *sign != expected {
            return fail(310_000, "sign not match");
        }
    }
    let ok_body = match body["msgtype"].as_str() {
        Some("markdown") => {
            body["markdown"]["title"].is_string() && body["markdown"]["text"].is_string()
        }
        Some("text") => body["text"]["content"].is_string(),
        _ => false,
    };
    if !ok_body {
        return fail(40_035, "missing parameter json");
    }
    if body.to_string().len() > 20_000 {
        return fail(460_101, "message too long");
    }
    if refuse {
        return fail(130_101, "send too fast, exceed 20 times per minute");
    }
    (
        StatusCode::OK,
        json!({"errcode": 0, "errmsg": "ok"}).to_string(),
        true,
    )
}

fn feishu(body: &Value, secret: Option<&str>, refuse: bool) -> (StatusCode, String, bool) {
    let fail = |code: i64, msg: &str| {
        (
            StatusCode::OK,
            json!({"code": code, "msg": msg, "data": {}}).to_string(),
            false,
        )
    };
    if let Some(secret) = secret {
        let (Some(ts), Some(sign)) = (body["timestamp"].as_str(), body["sign"].as_str()) else {
            return fail(
                19_021,
                "sign match fail or timestamp is not within one hour from current time",
            );
        };
        let Ok(t) = ts.parse::<i64>() else {
            return fail(
                19_021,
                "sign match fail or timestamp is not within one hour from current time",
            );
        };
        let expected = hmac_b64(format!("{ts}\n{secret}").as_bytes(), b"");
        if (now_ms() / 1000 - t).abs() > 3600 || sign != expected {
            return fail(
                19_021,
                "sign match fail or timestamp is not within one hour from current time",
            );
        }
    }
    let ok_body = match body["msg_type"].as_str() {
        Some("interactive") => body["card"]["elements"].is_array(),
        Some("text") => body["content"]["text"].is_string(),
        _ => false,
    };
    if !ok_body {
        return fail(19_002, "params error");
    }
    if refuse {
        return fail(11_232, "frequency limited");
    }
    (
        StatusCode::OK,
        json!({"code": 0, "msg": "success", "data": {}}).to_string(),
        true,
    )
}

fn wecom(body: &Value, refuse: bool) -> (StatusCode, String, bool) {
    let fail = |code: i64, msg: &str| {
        (
            StatusCode::OK,
            json!({"errcode": code, "errmsg": msg}).to_string(),
            false,
        )
    };
    let Some(content) = body["markdown"]["content"].as_str() else {
        return fail(40_008, "invalid message type");
    };
    if body["msgtype"] != "markdown" {
        return fail(40_008, "invalid message type");
    }
    if content.len() > 4096 {
        return fail(40_058, "markdown.content exceed max length 4096");
    }
    if refuse {
        return fail(45_009, "api freq out of limit");
    }
    (
        StatusCode::OK,
        json!({"errcode": 0, "errmsg": "ok"}).to_string(),
        true,
    )
}

fn slack(body: &Value, refuse: bool) -> (StatusCode, String, bool) {
    if refuse {
        return (StatusCode::TOO_MANY_REQUESTS, "rate_limited".into(), false);
    }
    if !body["text"].is_string() && !body["blocks"].is_array() {
        return (StatusCode::BAD_REQUEST, "no_text".into(), false);
    }
    (StatusCode::OK, "ok".into(), true)
}
