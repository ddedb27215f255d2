//! What a probe says about one instance: [`ProbeOutcome`] (data, never an error), and
//! [`ProbeError`] (the tool itself failed). Also the helpers every check uses to turn an error
//! chain into a reason a person can act on, with secrets scrubbed.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::time::Duration;

use crate::state::State;
use crate::terminal::printable;
use crate::topology::model::{HttpPhase, Text};

/// The result of probing one instance: a state, the latency of the last attempt, and why.
///
/// A service that is down is *data* (`state: Down`, a reason), never an `Err`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOutcome {
    /// Up, degraded (slow, certificate expiring, plugin warning), down, or unknown.
    pub state: State,
    /// Time of the last attempt, when one ran to an answer or a timeout.
    pub latency: Option<Duration>,
    /// Why the state is not `up`, in words a person can act on; secrets scrubbed.
    pub reason: Option<String>,
    /// Attempts made (1 + retries used); 0 when nothing ran.
    pub attempts: u32,
    /// Whether the only thing wrong is slowness (`degraded` by the `slow` threshold).
    pub slow: bool,
    /// Where the last attempt's time went, for an `http` probe that got an answer or an error
    /// before its timeout; `None` for every other probe type.
    pub phases: Option<HttpPhases>,
}

/// The time an HTTP request spent in each phase; over a chain of redirects, the sum over the
/// hops (as blackbox_exporter sums `probe_http_duration_seconds`). A phase never reached is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpPhases {
    /// Name resolution (0 for an IP address).
    pub dns: Duration,
    /// TCP connect, over every address tried.
    pub connect: Duration,
    /// TLS handshake (0 for `http://`).
    pub tls: Duration,
    /// From sending the request to the response headers.
    pub first_byte: Duration,
    /// Reading the body (up to the cap).
    pub transfer: Duration,
}

impl HttpPhases {
    /// The time of `phase`.
    pub fn get(&self, phase: HttpPhase) -> Duration {
        match phase {
            HttpPhase::Dns => self.dns,
            HttpPhase::Connect => self.connect,
            HttpPhase::Tls => self.tls,
            HttpPhase::FirstByte => self.first_byte,
            HttpPhase::Transfer => self.transfer,
        }
    }

    /// Adds `took` to `phase` (one more hop of a redirect chain).
    pub fn add(&mut self, phase: HttpPhase, took: Duration) {
        let slot = match phase {
            HttpPhase::Dns => &mut self.dns,
            HttpPhase::Connect => &mut self.connect,
            HttpPhase::Tls => &mut self.tls,
            HttpPhase::FirstByte => &mut self.first_byte,
            HttpPhase::Transfer => &mut self.transfer,
        };
        *slot += took;
    }
}

impl ProbeOutcome {
    /// An outcome decided without running a probe (no probe, run deadline, bad setting).
    pub fn not_run(state: State, reason: impl Into<String>) -> Self {
        Self {
            state,
            latency: None,
            reason: Some(reason.into()),
            attempts: 0,
            slow: false,
            phases: None,
        }
    }

    /// The outcome of an instance without a probe.
    pub fn unprobed() -> Self {
        Self::not_run(State::Unknown, "no probe")
    }

    /// Whether the probe passed: up, or degraded only by slowness (SPEC §5 `ok`).
    pub fn ok(&self) -> bool {
        self.state == State::Up || (self.state == State::Degraded && self.slow)
    }
}

/// The tool itself failed while probing (not a service failure).
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The async runtime could not start.
    #[error("cannot start the probe runtime")]
    Runtime(#[source] std::io::Error),
    /// A probe task panicked: a bug in linkpatrol.
    #[error("probe of `{service}` instance `{instance}` crashed")]
    Crashed {
        /// The service.
        service: String,
        /// The instance id.
        instance: String,
    },
    /// A selection named something the topology does not have.
    #[error("unknown {kind} `{name}`{}", suggestion.as_ref().map(|s| format!(", did you mean `{s}`?")).unwrap_or_default())]
    UnknownSelection {
        /// `service`, `tag` or `link`.
        kind: &'static str,
        /// What was asked for.
        name: String,
        /// The closest existing name.
        suggestion: Option<String>,
    },
}

/// What one attempt of a check decided, before slowness and retries are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The state this attempt found.
    pub state: State,
    /// Why, when not up.
    pub reason: Option<String>,
    /// Phase timings (`http` only).
    pub phases: Option<HttpPhases>,
}

impl Verdict {
    /// Everything as expected.
    pub fn up() -> Self {
        Self {
            state: State::Up,
            reason: None,
            phases: None,
        }
    }

    /// Answered, but something is off.
    pub fn degraded(reason: impl Into<String>) -> Self {
        Self {
            state: State::Degraded,
            reason: Some(reason.into()),
            phases: None,
        }
    }

    /// Failed.
    pub fn down(reason: impl Into<String>) -> Self {
        Self {
            state: State::Down,
            reason: Some(reason.into()),
            phases: None,
        }
    }

    /// Could not decide.
    pub fn unknown(reason: impl Into<String>) -> Self {
        Self {
            state: State::Unknown,
            reason: Some(reason.into()),
            phases: None,
        }
    }

    /// The same verdict with the phase timings of the request that led to it.
    #[must_use]
    pub fn with_phases(mut self, phases: HttpPhases) -> Self {
        self.phases = Some(phases);
        self
    }

    /// Whether another attempt may change the answer (a failure, not a definite warning).
    pub fn is_failure(&self) -> bool {
        matches!(self.state, State::Down | State::Unknown)
    }
}

pub use crate::topology::model::MIN_SECRET_LEN;

/// Removes every secret a probe's settings carry from a message, in every form it may take on
/// the way back: raw, percent-encoded (as a URL parser, a form or a strict encoder writes it),
/// base64 (standard and URL-safe, padded or not, and at any offset inside a longer base64
/// text), and `Basic` credentials (`base64(user:password)`) of any URL with a password.
///
/// Each [`Text`] that had `${VAR}` substituted contributes its whole resolved value and each
/// substituted part on its own (so a password echoed alone is caught too); the password of any
/// URL among them is masked as well, even when written literally.
#[derive(Debug, Clone, Default)]
pub struct Scrubber {
    /// (secret, replacement), longest secret first.
    pairs: Vec<(String, String)>,
}

impl Scrubber {
    /// A scrubber for the given texts (URL, DSN, headers, body, argv).
    pub fn new<'a>(texts: impl IntoIterator<Item = &'a Text>) -> Self {
        let mut raw: Vec<(String, String)> = Vec::new();
        for text in texts {
            if text.is_secret() {
                raw.push((text.expose().to_owned(), text.written().to_owned()));
                raw.extend(substituted_parts(text.written(), text.expose()));
            }
            let resolved = crate::probe::db::normalize_userinfo(text.expose());
            if let Ok(url) = reqwest::Url::parse(&resolved)
                && let Some(pw) = url.password()
                && !pw.is_empty()
            {
                let written_url = reqwest::Url::parse(text.written()).ok();
                let from_env = written_url
                    .as_ref()
                    .and_then(|u| u.password().map(str::to_owned))
                    .filter(|w| w.contains("${") || w.contains("%7B"))
                    .map(|w| percent_decode_lossy(&w));
                // A password written literally in the file is not a secret by SPEC §1, but is
                // masked anyway unless so short that masking would garble the message.
                if from_env.is_none() && pw.len() < MIN_SECRET_LEN {
                    continue;
                }
                let written_pw = from_env.unwrap_or_else(|| "***".to_owned());
                let decoded_pw = percent_decode_lossy(pw);
                let user = percent_decode_lossy(url.username());
                raw.push((pw.to_owned(), written_pw.clone()));
                raw.push((decoded_pw.clone(), written_pw.clone()));
                // `Authorization: Basic …` as a client builds it from the URL.
                let basic = format!("{user}:{decoded_pw}");
                let shown = format!("base64({user}:{written_pw})");
                for encoded in base64_forms(basic.as_bytes()) {
                    raw.push((encoded, shown.clone()));
                }
            }
        }
        let mut pairs = Vec::new();
        for (secret, replacement) in raw {
            if secret.chars().count() < MIN_SECRET_LEN {
                continue;
            }
            for variant in encoded_forms(&secret) {
                pairs.push((variant, replacement.clone()));
            }
            for core in base64_cores(secret.as_bytes()) {
                pairs.push((core, format!("base64(…{replacement}…)")));
            }
            pairs.push((secret, replacement));
        }
        pairs.retain(|(secret, _)| secret.chars().count() >= MIN_SECRET_LEN);
        pairs.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        pairs.dedup_by(|a, b| a.0 == b.0);
        Self { pairs }
    }

    /// The message with every known secret replaced by its `${VAR}` form (or `***`).
    pub fn scrub(&self, message: &str) -> String {
        let mut out = message.to_owned();
        for (secret, replacement) in &self.pairs {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), replacement);
            }
        }
        out
    }

    /// Scrubs a verdict's reason, and shows its control characters as escapes ([`printable`]):
    /// an error message can carry text a server chose.
    pub fn verdict(&self, mut verdict: Verdict) -> Verdict {
        verdict.reason = verdict
            .reason
            .map(|r| printable(&self.scrub(&r)).into_owned());
        verdict
    }
}

fn percent_decode_lossy(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The percent-encoded forms a secret takes in a URL: as the WHATWG parser writes a query,
/// path, fragment or userinfo (what `reqwest::Url` does to a `${TOKEN}` with spaces or quotes),
/// as a form (`+` for a space), and fully encoded; upper- and lower-case hex.
fn encoded_forms(secret: &str) -> Vec<String> {
    use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};
    const FRAGMENT: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'<').add(b'>').add(b'`');
    const QUERY: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'<').add(b'>');
    const SPECIAL_QUERY: &AsciiSet = &QUERY.add(b'\'');
    const PATH: &AsciiSet = &QUERY.add(b'?').add(b'`').add(b'{').add(b'}');
    const USERINFO: &AsciiSet = &PATH
        .add(b'/')
        .add(b':')
        .add(b';')
        .add(b'=')
        .add(b'@')
        .add(b'[')
        .add(b'\\')
        .add(b']')
        .add(b'^')
        .add(b'|');
    const COMPONENT: &AsciiSet = &USERINFO.add(b'$').add(b'%').add(b'&').add(b'+').add(b',');
    let mut out = Vec::new();
    for set in [
        FRAGMENT,
        QUERY,
        SPECIAL_QUERY,
        PATH,
        USERINFO,
        COMPONENT,
        NON_ALPHANUMERIC,
    ] {
        let e = utf8_percent_encode(secret, set).to_string();
        if e != secret {
            out.push(e.to_ascii_lowercase_hex());
            out.push(e);
        }
    }
    let form: String = url_form(secret);
    if form != secret {
        out.push(form);
    }
    out.sort();
    out.dedup();
    out
}

/// `application/x-www-form-urlencoded`, as `Url::query_pairs_mut` writes it.
fn url_form(secret: &str) -> String {
    reqwest::Url::parse_with_params("x:", [("", secret)])
        .ok()
        .and_then(|u| u.query().map(|q| q.trim_start_matches('=').to_owned()))
        .unwrap_or_else(|| secret.to_owned())
}

/// Percent-escapes with lower-case hex digits (`%2f`), as some servers echo them.
trait LowerHex {
    fn to_ascii_lowercase_hex(&self) -> String;
}

impl LowerHex for String {
    fn to_ascii_lowercase_hex(&self) -> String {
        let mut out = String::with_capacity(self.len());
        let mut chars = self.chars();
        while let Some(c) = chars.next() {
            out.push(c);
            if c == '%' {
                for _ in 0..2 {
                    if let Some(h) = chars.next() {
                        out.push(h.to_ascii_lowercase());
                    }
                }
            }
        }
        out
    }
}

/// A value base64-encoded whole: standard and URL-safe alphabets, padded and not.
fn base64_forms(bytes: &[u8]) -> Vec<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let mut out: Vec<String> = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .map(|e| e.encode(bytes))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The part of a base64 text that a secret produces wherever it sits inside a longer encoded
/// text: base64 encodes 3 bytes at a time, so for each of the 3 possible offsets the whole
/// 3-byte groups of the secret encode the same way. Only cores of 8 characters or more
/// (6 secret bytes) are kept: shorter ones would match ordinary text by chance.
fn base64_cores(bytes: &[u8]) -> Vec<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let mut out = Vec::new();
    for skip in 0..3 {
        if bytes.len() <= skip {
            break;
        }
        let rest = &bytes[skip..];
        let whole = rest.len() / 3 * 3;
        if whole < 6 {
            continue;
        }
        for e in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
            out.push(e.encode(&rest[..whole]));
        }
    }
    out.extend(base64_forms(bytes));
    out.sort();
    out.dedup();
    out
}

/// The values substituted for each `${VAR}` in `written`, found by matching the literal parts
/// around them in `resolved`; paired with the `${VAR}` they replaced.
fn substituted_parts(written: &str, resolved: &str) -> Vec<(String, String)> {
    // Split `written` into literal, var, literal, var, ..., literal.
    let mut literals = Vec::new();
    let mut vars = Vec::new();
    let mut rest = written;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        literals.push(&rest[..start]);
        vars.push(&rest[start..=start + len]);
        rest = &rest[start + len + 1..];
    }
    literals.push(rest);
    let mut out = Vec::new();
    let Some(mut pos) = resolved
        .starts_with(literals[0])
        .then_some(literals[0].len())
    else {
        return out;
    };
    for (i, var) in vars.iter().enumerate() {
        let next = literals[i + 1];
        let end = if i + 1 == vars.len() {
            // The last value runs up to the final literal, which ends the string.
            if resolved.len() < next.len() + pos || !resolved.ends_with(next) {
                return out;
            }
            resolved.len() - next.len()
        } else if next.is_empty() {
            // Two adjacent variables cannot be told apart; the whole-text pair still covers them.
            return out;
        } else {
            match resolved[pos..].find(next) {
                Some(off) => pos + off,
                None => return out,
            }
        };
        out.push((resolved[pos..end].to_owned(), (*var).to_owned()));
        pos = end + next.len();
    }
    out
}

/// A human reason for an error, from its whole source chain.
///
/// Libraries wrap the useful part deep inside ("error sending request" → "client error
/// (Connect)" → "tcp connect error" → "Connection refused (os error 111)"); this finds the
/// part a person can act on.
pub fn describe_error(err: &(dyn StdError + 'static)) -> String {
    let chain = error_chain(err);
    for e in &chain {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return describe_tls_error(tls);
        }
    }
    for e in &chain {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(s) = describe_io_kind(io.kind())
        {
            return s.to_owned();
        }
    }
    // No well-known cause: the deepest messages, minus generic wrappers.
    let mut parts: Vec<String> = Vec::new();
    for e in chain.iter().rev() {
        let msg = e.to_string();
        if GENERIC.iter().any(|g| msg.starts_with(g)) || msg.is_empty() {
            continue;
        }
        if parts
            .iter()
            .any(|p| p.contains(&msg) || msg.contains(p.as_str()))
        {
            continue;
        }
        parts.push(msg);
        if parts.len() == 2 {
            break;
        }
    }
    if parts.is_empty() {
        return err.to_string();
    }
    parts.reverse();
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(": ");
        }
        let _ = write!(out, "{p}");
    }
    out
}

/// Every error of the chain, outermost first. An `io::Error` wrapping another error reports
/// the wrapped error's *source* as its own, skipping the wrapped error itself (that is where
/// rustls errors hide); this walks into it.
fn error_chain<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut chain = Vec::new();
    let mut cur = Some(err);
    while let Some(e) = cur {
        if chain.len() > 32 {
            break;
        }
        chain.push(e);
        cur = match e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    chain
}

const GENERIC: &[&str] = &[
    "error sending request",
    "client error (Connect)",
    "client error (SendRequest)",
    "error trying to connect",
    "request or response body error",
    "error decoding response body",
    "error reading a body from connection",
];

/// Words for the io error kinds a probe meets.
pub fn describe_io_kind(kind: std::io::ErrorKind) -> Option<&'static str> {
    use std::io::ErrorKind as K;
    Some(match kind {
        K::ConnectionRefused => "connection refused",
        K::ConnectionReset => "connection reset by peer",
        K::ConnectionAborted => "connection aborted",
        K::NotConnected => "not connected",
        K::BrokenPipe => "connection closed while sending (broken pipe)",
        K::UnexpectedEof => "connection closed before a complete answer",
        K::TimedOut => "timed out",
        K::AddrNotAvailable => "address not available",
        K::HostUnreachable => "host unreachable",
        K::NetworkUnreachable => "network unreachable",
        K::PermissionDenied => "permission denied",
        K::NotFound => "not found",
        _ => return None,
    })
}

/// Words for a TLS failure.
pub fn describe_tls_error(err: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match err {
        rustls::Error::InvalidCertificate(c) => match c {
            C::Expired => "certificate expired".to_owned(),
            C::ExpiredContext { time, not_after } => {
                let days = (time.as_secs().saturating_sub(not_after.as_secs())) / 86_400;
                format!("certificate expired {days} days ago")
            }
            C::NotValidYet | C::NotValidYetContext { .. } => "certificate not valid yet".to_owned(),
            C::UnknownIssuer => {
                "certificate not trusted: unknown issuer (self-signed or private CA? set `ca_file`)"
                    .to_owned()
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "certificate does not match the host name".to_owned()
            }
            C::Revoked => "certificate revoked".to_owned(),
            C::BadSignature => "certificate has a bad signature".to_owned(),
            C::Other(o) => {
                if let Some(s) = o.0.downcast_ref::<super::client::SelfSigned>() {
                    let mut out = "self-signed certificate (unknown issuer): set `ca_file` or `verify: false`".to_owned();
                    if s.ca {
                        out.push_str(
                            " (it is marked as a CA, `CA:TRUE`: with `ca_file`, serve a leaf certificate signed by it)",
                        );
                    }
                    out
                } else if o.0.downcast_ref::<super::client::CaAsLeaf>().is_some() {
                    "the server presents a CA certificate (`CA:TRUE`) as its own: serve a leaf certificate signed by that CA, or set `verify: false`".to_owned()
                } else {
                    format!("invalid certificate: {o}")
                }
            }
            other => format!("invalid certificate: {other:?}"),
        },
        rustls::Error::AlertReceived(alert) => format!("TLS alert from server: {alert:?}"),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "not a TLS server (invalid handshake message)".to_owned()
        }
        other => format!("TLS error: {other}"),
    }
}

/// Shortens text from a remote system for a reason: first non-empty line, at most `max`
/// chars, control characters (terminal escapes) shown as escapes ([`printable`]).
pub fn excerpt(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let clean = |s: &str| -> String { printable(s).into_owned() };
    if line.chars().count() > max {
        let cut: String = line.chars().take(max).collect();
        format!("{}…", clean(&cut))
    } else {
        clean(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubber_hides_whole_and_parts() {
        let dsn = Text::interpolated(
            "postgres://app:${PW}@db:5432/x",
            "postgres://app:hunter2@db:5432/x",
        );
        let s = Scrubber::new([&dsn]);
        assert_eq!(
            s.scrub("failed for postgres://app:hunter2@db:5432/x"),
            "failed for postgres://app:${PW}@db:5432/x"
        );
        assert_eq!(s.scrub("password hunter2 wrong"), "password ${PW} wrong");
    }

    #[test]
    fn scrubber_masks_literal_url_passwords() {
        let url = Text::plain("redis://:s3cr%40t@127.0.0.1:6379");
        let s = Scrubber::new([&url]);
        let out = s.scrub("auth s3cr%40t / s3cr@t failed");
        assert!(!out.contains("s3cr"), "{out}");
    }

    #[test]
    fn substituted_parts_finds_each_variable() {
        let parts = substituted_parts("a${X}b${Y}", "a12b345");
        assert_eq!(
            parts,
            vec![
                ("12".to_owned(), "${X}".to_owned()),
                ("345".to_owned(), "${Y}".to_owned())
            ]
        );
        assert!(
            substituted_parts("${X}", "")
                .iter()
                .all(|(v, _)| v.is_empty())
        );
    }

    #[test]
    fn excerpts_are_one_clean_line() {
        assert_eq!(
            excerpt("\n  first \x1b[31mred\nsecond", 80),
            "first \\u{1b}[31mred"
        );
        assert_eq!(excerpt("abcdef", 3), "abc…");
    }
}
