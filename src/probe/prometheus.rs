//! The `prometheus` check: `GET {url}/api/v1/query?query=…` (an instant query), then every
//! sample of the answer must satisfy `op threshold`. No data is `unknown`, not `up`: a query
//! that matches nothing proves nothing.

use reqwest::Url;
use serde_json::Value;

use super::outcome::{Verdict, describe_error, excerpt};
use crate::topology::model::PrometheusCheck;

/// Bytes of a query answer read at most.
const ANSWER_CAP: usize = 4 << 20;

/// The query URL for `check`.
pub fn query_url(check: &PrometheusCheck) -> Result<Url, String> {
    let base = check.url.expose().trim_end_matches('/');
    let mut url = Url::parse(&format!("{base}/api/v1/query"))
        .map_err(|e| format!("invalid url `{}`: {e}", check.url.written()))?;
    url.query_pairs_mut()
        .append_pair("query", check.query.expose());
    Ok(url)
}

/// Reads at most `cap` bytes of the body; the rest is never read.
async fn read_body(
    response: &mut reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut buf = Vec::new();
    while buf.len() < cap {
        match response.chunk().await? {
            Some(chunk) => {
                let take = chunk.len().min(cap - buf.len());
                buf.extend_from_slice(&chunk[..take]);
            }
            None => break,
        }
    }
    Ok(buf)
}

/// Runs one attempt of a `prometheus` check. The reason is not yet scrubbed.
pub async fn check(client: &reqwest::Client, check: &PrometheusCheck) -> Verdict {
    let url = match query_url(check) {
        Ok(u) => u,
        Err(reason) => return Verdict::unknown(reason),
    };
    let mut response = match client.get(url).send().await {
        Ok(r) => r,
        Err(e) => return Verdict::down(format!("prometheus unreachable: {}", describe_error(&e))),
    };
    let status = response.status();
    let body = match read_body(&mut response, ANSWER_CAP).await {
        Ok(b) => b,
        Err(e) => {
            return Verdict::down(format!("reading the answer failed: {}", describe_error(&e)));
        }
    };
    let doc: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            return Verdict::unknown(format!(
                "prometheus answered status {} without JSON: `{}`",
                status.as_u16(),
                excerpt(&String::from_utf8_lossy(&body), 80)
            ));
        }
    };
    if doc["status"] != "success" {
        let error = doc["error"].as_str().unwrap_or("no error text");
        return Verdict::unknown(format!("prometheus rejected the query: {error}"));
    }
    evaluate(check, &doc["data"])
}

/// Checks the `data` of a successful answer against the comparison.
pub fn evaluate(check: &PrometheusCheck, data: &Value) -> Verdict {
    let samples: Vec<(String, &Value)> = match data["resultType"].as_str() {
        Some("vector") => match data["result"].as_array() {
            Some(series) => series
                .iter()
                .map(|s| (labels(&s["metric"]), &s["value"][1]))
                .collect(),
            None => return Verdict::unknown("malformed answer: `result` is not a list"),
        },
        Some("scalar" | "string") => vec![(String::new(), &data["result"][1])],
        Some("matrix") => {
            return Verdict::unknown("the query returns a range vector; use an instant query");
        }
        other => return Verdict::unknown(format!("unexpected result type {other:?}")),
    };
    if samples.is_empty() {
        return Verdict::unknown(format!("query `{}` returned no data", check.query));
    }
    let want = format!("{} {}", check.op.symbol(), fmt_num(check.threshold));
    for (labels, value) in samples {
        let Some(v) = value.as_str().and_then(|s| s.parse::<f64>().ok()) else {
            return Verdict::unknown(format!("malformed sample value `{value}`"));
        };
        if v.is_nan() {
            return Verdict::unknown(format!("query `{}`{labels} is NaN", check.query));
        }
        if !check.op.holds(v, check.threshold) {
            return Verdict::down(format!(
                "query `{}`{labels} is {}, expected {want}",
                check.query,
                fmt_num(v)
            ));
        }
    }
    Verdict::up()
}

fn labels(metric: &Value) -> String {
    let Some(map) = metric.as_object() else {
        return String::new();
    };
    if map.is_empty() {
        return String::new();
    }
    let mut parts: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.as_str().unwrap_or_default()))
        .collect();
    parts.sort();
    format!(" {{{}}}", parts.join(", "))
}

fn fmt_num(v: f64) -> String {
    let s = format!("{v}");
    if s.len() > 12 { format!("{v:.6}") } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::State;
    use crate::topology::model::{CompareOp, Text};

    fn check(op: CompareOp, threshold: f64) -> PrometheusCheck {
        PrometheusCheck {
            url: Text::plain("http://127.0.0.1:9090"),
            query: crate::topology::model::Text::plain("rate(errors[5m])"),
            op,
            threshold,
        }
    }

    #[test]
    fn samples_are_compared_table_driven() {
        let vector = |v: &str| {
            serde_json::json!({"resultType": "vector",
                "result": [{"metric": {"job": "api"}, "value": [1.0, v]}]})
        };
        let scalar = serde_json::json!({"resultType": "scalar", "result": [1.0, "3"]});
        let empty = serde_json::json!({"resultType": "vector", "result": []});
        let cases: Vec<(PrometheusCheck, Value, State, Option<&str>)> = vec![
            (check(CompareOp::Lt, 0.01), vector("0.001"), State::Up, None),
            (
                check(CompareOp::Lt, 0.01),
                vector("0.05"),
                State::Down,
                Some("query `rate(errors[5m])` {job=\"api\"} is 0.05, expected < 0.01"),
            ),
            (check(CompareOp::Ge, 3.0), scalar.clone(), State::Up, None),
            (check(CompareOp::Gt, 3.0), scalar, State::Down, None),
            (
                check(CompareOp::Lt, 1.0),
                empty,
                State::Unknown,
                Some("query `rate(errors[5m])` returned no data"),
            ),
            (
                check(CompareOp::Lt, 1.0),
                vector("NaN"),
                State::Unknown,
                None,
            ),
        ];
        for (c, data, state, reason) in cases {
            let v = evaluate(&c, &data);
            assert_eq!(v.state, state, "{data}");
            if let Some(r) = reason {
                assert_eq!(v.reason.as_deref(), Some(r));
            }
        }
    }
}
