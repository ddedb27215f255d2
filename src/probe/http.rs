//! The `http` check: one request (redirects followed by hand, up to `max_redirects`), then the
//! expectations in the order a person debugs them: status, headers, body, JSON, certificate.
//!
//! The body is read in chunks up to [`BODY_CAP`]; whatever follows is never read, so an endless
//! body costs at most the cap. The per-attempt timeout is applied by the caller around this
//! whole function (connect, TLS, headers and body together).

use std::collections::HashSet;

use reqwest::header::{HeaderName, HeaderValue, LOCATION};
use reqwest::{Method, StatusCode, Url};

use super::outcome::{Verdict, describe_error, excerpt};
use super::tls::certificate_verdict;
use crate::topology::model::HttpCheck;

/// Bytes of a body read at most; the rest is left unread.
pub const BODY_CAP: usize = 1 << 20;

/// Runs one attempt of an `http` check. The reason is not yet scrubbed. After a redirect, a
/// reason names every hop: "redirected to `http://…`, then: connection refused".
pub async fn check(client: &reqwest::Client, check: &HttpCheck) -> Verdict {
    let mut hops = Vec::new();
    let mut verdict = attempt(client, check, &mut hops).await;
    // A loop or too long a chain already names the hops it is about.
    let about_redirects = verdict
        .reason
        .as_deref()
        .is_some_and(|r| r.starts_with("redirect loop") || r.starts_with("too many redirects"));
    if !hops.is_empty()
        && !about_redirects
        && let Some(reason) = verdict.reason.take()
    {
        let path: Vec<String> = hops.iter().map(|u| format!("`{u}`")).collect();
        verdict.reason = Some(format!(
            "redirected to {}, then: {reason}",
            path.join(", then to ")
        ));
    }
    verdict
}

/// Whether a header must not follow a redirect to another origin: credentials, cookies, and
/// every header whose value was read from `${VAR}` (as curl and browsers drop credentials).
fn is_credential(name: &HeaderName, secret: bool) -> bool {
    secret
        || name == reqwest::header::AUTHORIZATION
        || name == reqwest::header::PROXY_AUTHORIZATION
        || name == reqwest::header::COOKIE
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

async fn attempt(client: &reqwest::Client, check: &HttpCheck, hops_out: &mut Vec<Url>) -> Verdict {
    let mut url = match Url::parse(check.url.expose()) {
        Ok(u) => u,
        Err(e) => return Verdict::unknown(format!("invalid url `{}`: {e}", check.url.written())),
    };
    let Ok(mut method) = Method::from_bytes(check.method.as_bytes()) else {
        return Verdict::unknown(format!("invalid method `{}`", check.method));
    };
    let mut headers = reqwest::header::HeaderMap::new();
    let mut credentials = Vec::new();
    for (name, value) in &check.headers {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            return Verdict::unknown(format!("invalid header name `{name}`"));
        };
        let Ok(mut header) = HeaderValue::from_str(value.expose()) else {
            return Verdict::unknown(format!("invalid value for header `{name}`"));
        };
        if is_credential(&name, value.is_secret()) {
            header.set_sensitive(true);
            credentials.push(name.clone());
        }
        headers.append(name, header);
    }
    let origin = url.clone();
    let mut left_origin = false;
    let secret_body = check
        .body
        .as_ref()
        .is_some_and(crate::topology::model::Text::is_secret);
    let mut body = check.body.as_ref().map(|b| b.expose().to_owned());
    let mut seen = HashSet::new();
    seen.insert(url.clone());
    let mut hops = 0u32;
    let hops_list = hops_out;

    let mut response = loop {
        let mut request = client
            .request(method.clone(), url.clone())
            .headers(headers.clone());
        if let Some(b) = &body {
            request = request.body(b.clone());
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Verdict::down(describe_error(&e)),
        };
        let status = response.status();
        if !status.is_redirection() || check.max_redirects == 0 {
            break response;
        }
        let Some(location) = response
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
        else {
            break response;
        };
        let next = match url.join(location) {
            Ok(n) => n,
            Err(e) => {
                return Verdict::down(format!(
                    "status {}, bad redirect `{location}`: {e}",
                    status.as_u16()
                ));
            }
        };
        if seen.contains(&next) {
            return Verdict::down(format!("redirect loop: `{url}` redirects back to `{next}`"));
        }
        if hops >= check.max_redirects {
            return Verdict::down(format!(
                "too many redirects (more than {}), next `{next}`",
                check.max_redirects
            ));
        }
        hops += 1;
        if status == StatusCode::SEE_OTHER
            || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                && method == Method::POST)
        {
            method = Method::GET;
            body = None;
        }
        if !left_origin && !same_origin(&origin, &next) {
            // Once the origin changed, credentials stay behind for the rest of the chain.
            left_origin = true;
            for name in &credentials {
                headers.remove(name);
            }
        }
        if left_origin && secret_body && body.is_some() {
            return Verdict::down(format!(
                "status {}, redirected to another origin `{next}`: not following with a body read from `${{VAR}}`",
                status.as_u16()
            ));
        }
        hops_list.push(next.clone());
        seen.insert(next.clone());
        url = next;
    };

    // Certificate of the final connection, if TLS.
    let cert = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate().map(<[u8]>::to_vec));

    let status = response.status();
    if let Some(reason) = status_mismatch(status, &check.expect.status) {
        // Read a little of the body: a short error text often says why.
        let text = read_body(&mut response, 4096).await.unwrap_or_default();
        let snippet = excerpt(&String::from_utf8_lossy(&text), 120);
        return Verdict::down(if snippet.is_empty() {
            reason
        } else {
            format!("{reason}: `{snippet}`")
        });
    }
    for (name, expected) in &check.expect.headers {
        match response.headers().get(name.as_str()) {
            None => {
                return Verdict::down(format!("header `{name}` missing, expected `{expected}`"));
            }
            Some(v) => {
                let got = String::from_utf8_lossy(v.as_bytes());
                if got != expected.expose() {
                    return Verdict::down(format!(
                        "header `{name}` is `{got}`, expected `{expected}`"
                    ));
                }
            }
        }
    }
    let body = match read_body(&mut response, BODY_CAP).await {
        Ok(b) => b,
        Err(e) => return Verdict::down(format!("reading the body failed: {}", describe_error(&e))),
    };
    if let Some(v) = body_verdict(&body, check) {
        return v;
    }
    if let Some(der) = cert
        && let Some(v) = certificate_verdict(&der, check.cert_min_days)
    {
        return v;
    }
    Verdict::up()
}

/// Reads at most `cap` bytes of the body; the rest is never read.
pub(crate) async fn read_body(
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

fn status_mismatch(status: StatusCode, expected: &[u16]) -> Option<String> {
    let code = status.as_u16();
    match expected {
        [] if status.is_success() => None,
        [] => Some(format!("status {code}, expected 2xx")),
        list if list.contains(&code) => None,
        [one] => Some(format!("status {code}, expected {one}")),
        list => {
            let all: Vec<String> = list.iter().map(u16::to_string).collect();
            Some(format!("status {code}, expected one of {}", all.join(", ")))
        }
    }
}

/// Body expectations: substring, regex, JSON paths. `None` = all hold.
fn body_verdict(body: &[u8], check: &HttpCheck) -> Option<Verdict> {
    let expect = &check.expect;
    let cap_note = if body.len() >= BODY_CAP {
        " (in the first 1 MiB)"
    } else {
        ""
    };
    if expect.body_contains.is_some() || expect.body_regex.is_some() {
        let text = String::from_utf8_lossy(body);
        if let Some(needle) = &expect.body_contains
            && !text.contains(needle.expose())
        {
            return Some(Verdict::down(format!(
                "body does not contain `{needle}`{cap_note}"
            )));
        }
        if let Some(pattern) = &expect.body_regex {
            match regex::Regex::new(pattern) {
                Ok(re) if re.is_match(&text) => {}
                Ok(_) => {
                    return Some(Verdict::down(format!(
                        "body does not match `{pattern}`{cap_note}"
                    )));
                }
                Err(e) => {
                    return Some(Verdict::unknown(format!(
                        "invalid body_regex `{pattern}`: {e}"
                    )));
                }
            }
        }
    }
    if !expect.json.is_empty() {
        let doc: serde_json::Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                let snippet = excerpt(&String::from_utf8_lossy(body), 60);
                return Some(Verdict::down(format!(
                    "body is not JSON ({e}): `{snippet}`"
                )));
            }
        };
        for (path, expected) in &expect.json {
            let parsed = match serde_json_path::JsonPath::parse(path) {
                Ok(p) => p,
                Err(e) => {
                    return Some(Verdict::unknown(format!("invalid JSON path `{path}`: {e}")));
                }
            };
            let found = parsed.query(&doc).all();
            match found.first() {
                None => {
                    return Some(Verdict::down(format!(
                        "`{path}` not found, expected `{expected}`"
                    )));
                }
                Some(got) if *got != expected => {
                    return Some(Verdict::down(format!(
                        "`{path}` is `{got}`, expected `{expected}`"
                    )));
                }
                Some(_) => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_expectations() {
        let cases: &[(u16, &[u16], Option<&str>)] = &[
            (200, &[], None),
            (204, &[], None),
            (503, &[], Some("status 503, expected 2xx")),
            (503, &[200], Some("status 503, expected 200")),
            (404, &[404], None),
            (
                500,
                &[200, 204],
                Some("status 500, expected one of 200, 204"),
            ),
        ];
        for (code, expected, want) in cases {
            let got = status_mismatch(StatusCode::from_u16(*code).unwrap(), expected);
            assert_eq!(got.as_deref(), *want, "status {code} against {expected:?}");
        }
    }
}
