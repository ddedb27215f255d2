//! `mqtt` check (MQTT 3.1.1, e.g. Mosquitto): connect with a clean session, authenticate from
//! the URL; with `topic:`, subscribe to it at QoS 1, publish one message with a payload unique
//! to the attempt (QoS 1, not retained, so nothing stays on the broker) and wait until it comes
//! back. Messages of other publishers on the topic are ignored, so a stale or foreign message
//! is never taken for this one.
//!
//! rumqttc's event loop only does network work while it is polled: it never reconnects on its
//! own, and dropping it (the probe's timeout) closes the socket. Names are resolved by the
//! probe's resolver first, so the client only ever connects to an IP address.

use std::time::Duration;

use percent_encoding::percent_decode_str;
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet, QoS,
    SubscribeReasonCode,
};

use super::endpoint::Endpoint;
use super::nonce::nonce;
use super::outcome::{Verdict, describe_error, excerpt};
use super::resolve::NameResolver;
use crate::topology::model::MqttCheck;

/// Runs one attempt of an `mqtt` check; `timeout` is the probe's (the client's own connect
/// timeout is set to it, the caller's hard timeout still bounds everything).
pub async fn check(resolver: &NameResolver, check: &MqttCheck, timeout: Duration) -> Verdict {
    let endpoint = match Endpoint::parse(
        &check.url,
        &["mqtt", "tcp"],
        "`mqtt://` (mqtts is not supported yet)",
        |_| 1883,
    ) {
        Ok(e) => e,
        Err(verdict) => return verdict,
    };
    let (url, host, port) = (&endpoint.url, endpoint.host.as_str(), endpoint.port);
    let ips = match resolver.lookup(host).await {
        Ok(ips) => ips,
        Err(reason) => return Verdict::down(reason),
    };
    let token = nonce();
    let user = percent_decode_str(url.username())
        .decode_utf8_lossy()
        .into_owned();
    let password = (!user.is_empty() || url.password().is_some()).then(|| {
        url.password()
            .map(|p| percent_decode_str(p).decode_utf8_lossy().into_owned())
            .unwrap_or_default()
    });
    let payload = format!("linkpatrol probe {token}");
    // Each address in turn while nobody listens there (`localhost` may be `::1` first, with
    // the broker on 127.0.0.1 only); any other answer is the verdict.
    let last = ips.len() - 1;
    for (i, ip) in ips.into_iter().enumerate() {
        let mut options = MqttOptions::new(format!("linkpatrol-{token}"), ip.to_string(), port);
        options.set_clean_session(true);
        options.set_keep_alive(Duration::from_secs(30));
        options.set_max_packet_size(64 * 1024, 64 * 1024);
        if let Some(password) = &password {
            options.set_credentials(user.clone(), password.clone());
        }
        let (client, mut events) = AsyncClient::new(options, 10);
        let mut network = rumqttc::NetworkOptions::new();
        network.set_connection_timeout(timeout.as_secs().max(1));
        network.set_tcp_nodelay(true);
        events.set_network_options(network);
        let mut unreachable = false;
        let verdict = session(
            &client,
            &mut events,
            check.topic.as_deref(),
            &payload,
            &user,
            &mut unreachable,
        )
        .await;
        if unreachable && i < last {
            continue;
        }
        // A clean DISCONNECT, bounded: the broker forgets the clean session either way.
        if client.try_disconnect().is_ok() {
            let _ = tokio::time::timeout(Duration::from_millis(200), async {
                while events.poll().await.is_ok() {}
            })
            .await;
        }
        return verdict;
    }
    unreachable!("the resolver returns at least one address")
}

/// One session at one address; `unreachable` is set when nobody listens there (refused,
/// unreachable before any CONNACK), so that the caller may try the next address.
async fn session(
    client: &AsyncClient,
    events: &mut rumqttc::EventLoop,
    topic: Option<&str>,
    payload: &str,
    user: &str,
    unreachable: &mut bool,
) -> Verdict {
    let mut connected = false;
    let mut published = false;
    loop {
        let event = match events.poll().await {
            Ok(e) => e,
            Err(ConnectionError::Io(io)) if !connected && super::db::refused(&io) => {
                *unreachable = true;
                return Verdict::down(describe_error(&io));
            }
            Err(e) => return Verdict::down(connection_reason(&e, user)),
        };
        let Event::Incoming(packet) = event else {
            continue;
        };
        match packet {
            Packet::ConnAck(_) => {
                connected = true;
                let Some(topic) = topic else {
                    return Verdict::up();
                };
                if let Err(e) = client.try_subscribe(topic, QoS::AtLeastOnce) {
                    return Verdict::unknown(format!("cannot queue the subscribe: {e}"));
                }
            }
            Packet::SubAck(ack) => {
                let topic = topic.unwrap_or_default();
                if ack
                    .return_codes
                    .iter()
                    .any(|c| matches!(c, SubscribeReasonCode::Failure))
                {
                    return Verdict::down(format!(
                        "the broker refused the subscription to `{topic}` (not authorized?)"
                    ));
                }
                if !published {
                    published = true;
                    if let Err(e) =
                        client.try_publish(topic, QoS::AtLeastOnce, false, payload.as_bytes())
                    {
                        return Verdict::unknown(format!("cannot queue the publish: {e}"));
                    }
                }
            }
            Packet::Publish(p) if p.payload.as_ref() == payload.as_bytes() => return Verdict::up(),
            Packet::Disconnect => {
                return Verdict::down("the broker sent DISCONNECT during the probe");
            }
            _ => {}
        }
    }
}

fn connection_reason(e: &ConnectionError, user: &str) -> String {
    match e {
        ConnectionError::ConnectionRefused(code) => match code {
            ConnectReturnCode::BadUserNamePassword if user.is_empty() => {
                "mqtt login refused: the broker wants a user name and password; put them in the url, `mqtt://user:${PASSWORD}@host`".to_owned()
            }
            ConnectReturnCode::BadUserNamePassword => format!(
                "mqtt login refused for user `{user}`: bad user name or password"
            ),
            ConnectReturnCode::NotAuthorized if user.is_empty() => {
                "mqtt login refused: not authorized (anonymous access is off?); put a user and password in the url".to_owned()
            }
            ConnectReturnCode::NotAuthorized => {
                format!("mqtt login refused for user `{user}`: not authorized")
            }
            ConnectReturnCode::RefusedProtocolVersion => {
                "the broker refused MQTT 3.1.1 (protocol version)".to_owned()
            }
            ConnectReturnCode::BadClientId => "the broker refused the client id".to_owned(),
            ConnectReturnCode::ServiceUnavailable => {
                "the broker says it is unavailable (CONNACK 3)".to_owned()
            }
            ConnectReturnCode::Success => "connection refused".to_owned(),
        },
        ConnectionError::NetworkTimeout => "no CONNACK from the broker in time".to_owned(),
        ConnectionError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the broker closed the connection".to_owned()
        }
        ConnectionError::Io(io) => describe_error(io),
        ConnectionError::NotConnAck(p) => format!(
            "the broker answered CONNECT with `{}`, not CONNACK",
            excerpt(&format!("{p:?}"), 80)
        ),
        other => excerpt(&other.to_string(), 200),
    }
}
