//! The `http` check: one request (redirects followed by hand, up to `max_redirects`), then the
//! expectations in the order a person debugs them: status, headers, body, JSON, certificate.
//!
//! Every hop opens its own connection and times each phase, like blackbox_exporter: the name
//! lookup (the run's resolver; an IP address takes no time), the TCP connect (each address in
//! turn while nobody listens, since `localhost` may be `::1` first with a server on 127.0.0.1
//! only), the TLS handshake (the shared rustls configuration: verification, `ca_file`, SNI and
//! certificate checks as for every TLS probe), the wait from sending the request to the
//! response headers (first byte), and reading the body (transfer). Over a chain of redirects
//! each phase is summed over the hops. HTTP/1.1 is spoken with hyper's connection API, because
//! a pooled client (reqwest) times connect, TLS and the request only together. It costs
//! nothing: `linkpatrol probe` over 2,000 loopback endpoints (the bench fleet of
//! `scripts/bench_probe.sh`, concurrency 256, debug builds, medians of 5 interleaved rounds on 2
//! busy cores) took 1.34 s wall, 0.83 s CPU, 41 MB with reqwest and 1.25 s, 0.76 s, 39 MB
//! with its own connections, every endpoint classified right in both.
//!
//! The body is read in chunks up to [`BODY_CAP`]; whatever follows is never read, so an endless
//! body costs at most the cap. The per-attempt timeout is applied by the caller around this
//! whole function (connect, TLS, headers and body together); dropping the future closes the
//! connection (its task is aborted with it).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{
    ACCEPT, AUTHORIZATION, COOKIE, HOST, HeaderMap, HeaderName, HeaderValue, LOCATION,
    PROXY_AUTHORIZATION, USER_AGENT,
};
use hyper::{Method, Response, StatusCode};
use hyper_util::rt::TokioIo;
use reqwest::Url;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::outcome::{HttpPhases, Verdict, describe_error, excerpt};
use super::resolve::NameResolver;
use super::tls::certificate_verdict;
use crate::topology::model::{HttpCheck, HttpPhase};

/// Bytes of a body read at most; the rest is left unread.
pub const BODY_CAP: usize = 1 << 20;

/// Runs one attempt of an `http` check over `tls` (the HTTP configuration of the probe's TLS
/// setting) with names looked up by `resolver`. The reason is not yet scrubbed. After a
/// redirect, a reason names every hop: "redirected to `http://…`, then: connection refused".
/// The verdict carries the phase timings whenever a connection was attempted.
pub async fn check(tls: &Arc<ClientConfig>, resolver: &NameResolver, check: &HttpCheck) -> Verdict {
    let mut hops = Vec::new();
    let mut phases = None;
    let mut verdict = attempt(tls, resolver, check, &mut hops, &mut phases).await;
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
    match phases {
        Some(p) => verdict.with_phases(p),
        None => verdict,
    }
}

/// Whether a header must not follow a redirect to another origin: credentials, cookies, and
/// every header whose value was read from `${VAR}` (as curl and browsers drop credentials).
fn is_credential(name: &HeaderName, secret: bool) -> bool {
    secret || name == AUTHORIZATION || name == PROXY_AUTHORIZATION || name == COOKIE
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

async fn attempt(
    tls: &Arc<ClientConfig>,
    resolver: &NameResolver,
    check: &HttpCheck,
    hops_out: &mut Vec<Url>,
    phases_out: &mut Option<HttpPhases>,
) -> Verdict {
    let mut url = match Url::parse(check.url.expose()) {
        Ok(u) => u,
        Err(e) => return Verdict::unknown(format!("invalid url `{}`: {e}", check.url.written())),
    };
    let Ok(mut method) = Method::from_bytes(check.method.as_bytes()) else {
        return Verdict::unknown(format!("invalid method `{}`", check.method));
    };
    let mut headers = HeaderMap::new();
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
    let phases = phases_out.insert(HttpPhases::default());

    let mut exchange = loop {
        let exchange = match send(
            tls,
            resolver,
            &method,
            &url,
            &headers,
            body.as_deref(),
            phases,
        )
        .await
        {
            Ok(r) => r,
            Err(reason) => return Verdict::down(reason),
        };
        let status = exchange.response.status();
        if !status.is_redirection() || check.max_redirects == 0 {
            break exchange;
        }
        let Some(location) = exchange
            .response
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
        else {
            break exchange;
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

    let status = exchange.response.status();
    if let Some(reason) = status_mismatch(status, &check.expect.status) {
        // Read a little of the body: a short error text often says why.
        let text = exchange.read_body(4096, phases).await.unwrap_or_default();
        let snippet = excerpt(&String::from_utf8_lossy(&text), 120);
        return Verdict::down(if snippet.is_empty() {
            reason
        } else {
            format!("{reason}: `{snippet}`")
        });
    }
    for (name, expected) in &check.expect.headers {
        match exchange.response.headers().get(name.as_str()) {
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
    let body = match exchange.read_body(BODY_CAP, phases).await {
        Ok(b) => b,
        Err(e) => return Verdict::down(format!("reading the body failed: {}", describe_error(&e))),
    };
    if let Some(v) = body_verdict(&body, check) {
        return v;
    }
    if let Some(der) = &exchange.certificate
        && let Some(v) = certificate_verdict(der, check.cert_min_days)
    {
        return v;
    }
    Verdict::up()
}

/// A byte stream the request goes over: plain TCP or TLS.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Aborts the connection's task when the exchange is dropped (done, or the probe timed out), so
/// no connection outlives its probe.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One request's answer on its own connection.
struct Exchange {
    response: Response<Incoming>,
    /// The server's leaf certificate (DER), for `https://`.
    certificate: Option<Vec<u8>>,
    _connection: AbortOnDrop,
}

impl Exchange {
    /// Reads at most `cap` bytes of the body (the rest is never read), adding the time to the
    /// transfer phase.
    async fn read_body(
        &mut self,
        cap: usize,
        phases: &mut HttpPhases,
    ) -> Result<Vec<u8>, hyper::Error> {
        let start = Instant::now();
        let mut buf = Vec::new();
        let body = self.response.body_mut();
        let result = loop {
            if buf.len() >= cap {
                break Ok(());
            }
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(chunk) = frame.data_ref() {
                        let take = chunk.len().min(cap - buf.len());
                        buf.extend_from_slice(&chunk[..take]);
                    }
                }
                Some(Err(e)) => break Err(e),
                None => break Ok(()),
            }
        };
        phases.add(HttpPhase::Transfer, start.elapsed());
        result.map(|()| buf)
    }
}

/// Sends one request on a new connection to `url`'s host and waits for the response headers,
/// timing each phase into `phases`. `Err` is the reason.
async fn send(
    tls: &Arc<ClientConfig>,
    resolver: &NameResolver,
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
    body: Option<&str>,
    phases: &mut HttpPhases,
) -> Result<Exchange, String> {
    let https = match url.scheme() {
        "http" => false,
        "https" => true,
        other => {
            return Err(format!(
                "unsupported scheme `{other}`, expected `http` or `https`"
            ));
        }
    };
    let Some(host) = url.host_str() else {
        return Err(format!("no host in `{url}`"));
    };
    let port = url
        .port_or_known_default()
        .unwrap_or(if https { 443 } else { 80 });

    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let ips = if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        // An address is not looked up: no DNS phase.
        vec![ip]
    } else {
        let start = Instant::now();
        let looked_up = resolver.lookup(host).await;
        phases.add(HttpPhase::Dns, start.elapsed());
        looked_up?
    };

    let start = Instant::now();
    let mut tcp = None;
    let mut last = None;
    for ip in ips {
        match TcpStream::connect(SocketAddr::new(ip, port)).await {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    phases.add(HttpPhase::Connect, start.elapsed());
    let tcp = match (tcp, last) {
        (Some(s), _) => s,
        (None, Some(e)) => return Err(describe_error(&e)),
        (None, None) => return Err(format!("cannot resolve `{host}`: no address")),
    };
    let _ = tcp.set_nodelay(true);

    let mut certificate = None;
    let stream: Box<dyn Stream> = if https {
        let name = match bare.parse::<std::net::IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::try_from(bare.to_owned())
                .map_err(|_| format!("invalid host name `{bare}` for TLS"))?,
        };
        let start = Instant::now();
        let handshake = TlsConnector::from(Arc::clone(tls)).connect(name, tcp).await;
        phases.add(HttpPhase::Tls, start.elapsed());
        let stream = handshake.map_err(|e| describe_error(&e))?;
        certificate = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.as_ref().to_vec());
        Box::new(stream)
    } else {
        Box::new(tcp)
    };

    let request = build_request(method, url, headers, body)?;
    let start = Instant::now();
    let answered = async {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| describe_error(&e))?;
        let task = AbortOnDrop(tokio::spawn(async move {
            let _ = connection.await;
        }));
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| describe_error(&e))?;
        Ok::<_, String>((response, task))
    }
    .await;
    phases.add(HttpPhase::FirstByte, start.elapsed());
    let (response, task) = answered?;
    Ok(Exchange {
        response,
        certificate,
        _connection: task,
    })
}

/// The request for one hop: origin-form target, `Host`, the probe's headers, and what a client
/// adds unless the probe sets it (`User-Agent`, `Accept`, `Authorization: Basic` from the
/// URL's user and password).
fn build_request(
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
    body: Option<&str>,
) -> Result<hyper::Request<Full<Bytes>>, String> {
    let mut target = url.path().to_owned();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let payload = Full::new(Bytes::from(body.unwrap_or_default().to_owned()));
    let mut request = hyper::Request::builder()
        .method(method.clone())
        .uri(target)
        .body(payload)
        .map_err(|e| format!("cannot build the request for `{url}`: {e}"))?;
    // In the order reqwest writes them (a server's echo, quoted in a reason, shows the same):
    // `Authorization` from the URL's user and password (unless the probe sets its own), the
    // probe's headers, then the defaults the probe did not set.
    let all = request.headers_mut();
    if !headers.contains_key(AUTHORIZATION)
        && (!url.username().is_empty() || url.password().is_some())
    {
        use base64::Engine as _;
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let pair = format!(
            "{}:{}",
            decode(url.username()),
            url.password().map(decode).unwrap_or_default()
        );
        let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
        if let Ok(mut value) = HeaderValue::from_str(&format!("Basic {encoded}")) {
            value.set_sensitive(true);
            all.insert(AUTHORIZATION, value);
        }
    }
    for (name, value) in headers {
        all.append(name.clone(), value.clone());
    }
    all.entry(USER_AGENT)
        .or_insert(HeaderValue::from_static(concat!(
            "linkpatrol/",
            env!("CARGO_PKG_VERSION")
        )));
    all.entry(ACCEPT).or_insert(HeaderValue::from_static("*/*"));
    if !all.contains_key(HOST) {
        let host = url.host_str().unwrap_or_default();
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        let value =
            HeaderValue::from_str(&authority).map_err(|_| format!("invalid host `{authority}`"))?;
        all.insert(HOST, value);
    }
    Ok(request)
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
