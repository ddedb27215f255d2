//! The connection URL of a protocol probe (`redis://`, `amqp://`, `mqtt://`, `nats://`, gRPC's
//! `http(s)://`): parsed once, its scheme checked, its host and port taken out, with the same
//! reasons for every probe that takes one.

use reqwest::Url;

use super::db::normalize_userinfo;
use super::outcome::Verdict;
use crate::topology::model::Text;

/// A parsed probe URL.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The URL (userinfo normalised, see [`normalize_userinfo`]).
    pub url: Url,
    /// The host, without the brackets of an IPv6 address; `127.0.0.1` when the URL has none.
    pub host: String,
    /// The port, or the scheme's default.
    pub port: u16,
}

impl Endpoint {
    /// Parses `text` for a probe that speaks one of `schemes`. `expected` completes the reason
    /// for another scheme ("unsupported scheme `x`, expected …"); `default_port` gives each
    /// scheme's port when the URL has none. An unparsable URL or another scheme is `unknown`:
    /// the file is wrong, not the service.
    pub fn parse(
        text: &Text,
        schemes: &[&str],
        expected: &str,
        default_port: impl Fn(&str) -> u16,
    ) -> Result<Self, Verdict> {
        let url = match Url::parse(&normalize_userinfo(text.expose())) {
            Ok(u) if schemes.contains(&u.scheme()) => u,
            Ok(u) => {
                return Err(Verdict::unknown(format!(
                    "unsupported scheme `{}`, expected {expected}",
                    u.scheme()
                )));
            }
            Err(e) => {
                return Err(Verdict::unknown(format!(
                    "invalid url `{}`: {e}",
                    text.written()
                )));
            }
        };
        let host = url
            .host_str()
            .unwrap_or("127.0.0.1")
            .trim_matches(['[', ']'])
            .to_owned();
        let port = url.port().unwrap_or_else(|| default_port(url.scheme()));
        Ok(Self { url, host, port })
    }

    /// `host:port`, with an IPv6 host in brackets.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}
