//! Validation of `alerts:` (SPEC §9): receivers, routes by owner, thresholds.
//!
//! Part of [`validate`](super): it shares the context (diagnostics, `${VAR}` lookup) and, like
//! the rest, reports every problem at once with its location and a suggestion where one helps.
//! Secrets and URLs are kept as [`Text`](crate::topology::model::Text), so every message here prints them as written.

use super::Cx;
use crate::diag::{Code, Diagnostic};
use crate::topology::alerts::{
    Alerts, DEFAULT_FAILURE_THRESHOLD, DEFAULT_SUCCESS_THRESHOLD, Receiver, ReceiverKind,
    ReceiverName, Routes,
};
use crate::topology::model::Service;
use crate::topology::raw::Sp;
use crate::topology::raw_alerts::{RawAlerts, RawReceiver};

/// The route key that catches every owner without a route of its own.
const DEFAULT_ROUTE: &str = "default";

impl Cx<'_> {
    /// `alerts:` → [`Alerts`]; problems go to the diagnostics (the model is then discarded).
    pub(super) fn alerts(&mut self, raw: &Sp<RawAlerts>, services: &[Service]) -> Alerts {
        let a = &raw.value;
        let failure_threshold = a
            .failure_threshold
            .as_ref()
            .and_then(|v| self.count(v, "`alerts.failure_threshold`"))
            .unwrap_or(DEFAULT_FAILURE_THRESHOLD);
        let success_threshold = a
            .success_threshold
            .as_ref()
            .and_then(|v| self.count(v, "`alerts.success_threshold`"))
            .unwrap_or(DEFAULT_SUCCESS_THRESHOLD);
        let repeat = a
            .repeat
            .as_ref()
            .and_then(|d| self.duration(d, "`alerts.repeat`"));

        let mut receivers: Vec<Receiver> = a
            .receivers
            .iter()
            .filter_map(|(key, r)| self.receiver(key, r))
            .collect();
        receivers.sort_by(|x, y| x.name.cmp(&y.name));

        let names: Vec<&str> = a.receivers.iter().map(|(k, _)| k.value.as_str()).collect();
        let mut owners: Vec<&str> = services.iter().filter_map(|s| s.owner.as_deref()).collect();
        owners.sort_unstable();
        owners.dedup();

        let routes = if a.routes.is_empty() {
            None
        } else {
            let mut routes = Routes::default();
            for (owner, list) in a.routes.iter() {
                let mut targets = Vec::with_capacity(list.value.len());
                for r in &list.value {
                    if names.contains(&r.value.as_str()) {
                        targets.push(ReceiverName::new(&r.value));
                    } else {
                        self.err(
                            Code::UnknownReceiver,
                            r.span(),
                            format!(
                                "route `{}` sends to `{}`, which is not a declared receiver",
                                owner.value, r.value
                            ),
                        )
                        .label("not a receiver under `alerts.receivers`")
                        .suggest(&r.value, names.iter().copied());
                    }
                }
                if owner.value == DEFAULT_ROUTE {
                    routes.default = targets;
                } else {
                    if !owners.contains(&owner.value.as_str()) {
                        let mut d = Diagnostic::warning(
                            Code::UnknownOwner,
                            owner.span(),
                            format!("no service has owner `{}`", owner.value),
                        )
                        .with_label("routes are keyed by the `owner:` of services, or `default`");
                        if let Some(best) =
                            crate::diag::closest(&owner.value, owners.iter().copied())
                        {
                            d = d.with_help(format!("did you mean `{best}`?"));
                        }
                        self.diags.push(d);
                    }
                    routes.by_owner.push((owner.value.clone(), targets));
                }
            }
            if !a.routes.iter().any(|(k, _)| k.value == DEFAULT_ROUTE) {
                self.diags.push(
                    Diagnostic::warning(
                        Code::NoDefaultRoute,
                        raw.span(),
                        "`alerts.routes` has no `default`",
                    )
                    .with_label("alerts whose owner has no route go to no receiver")
                    .with_help("add `default: [RECEIVER]` under `routes`"),
                );
            }
            routes.by_owner.sort_by(|x, y| x.0.cmp(&y.0));
            Some(routes)
        };

        Alerts {
            failure_threshold,
            success_threshold,
            send_resolved: a.send_resolved.unwrap_or(true),
            repeat,
            receivers,
            routes,
        }
    }

    fn receiver(&mut self, key: &Sp<String>, r: &Sp<RawReceiver>) -> Option<Receiver> {
        let name = &key.value;
        let r = &r.value;
        let kind = ReceiverKind::parse(&r.kind.value.0);
        if kind.is_none() {
            self.err(
                Code::UnknownReceiverType,
                r.kind.span(),
                format!("receiver `{name}` has unknown type `{}`", r.kind.value.0),
            )
            .label("expected webhook, slack, feishu, lark, dingtalk or wecom")
            .suggest(
                &r.kind.value.0,
                ReceiverKind::ALL.iter().map(|k| k.as_str()),
            );
        }
        let url = self.text(&r.url);
        if let Some(u) = &url {
            let lower = u.expose().to_ascii_lowercase();
            if !(lower.starts_with("http://") || lower.starts_with("https://")) {
                let msg = if u.is_secret() {
                    format!(
                        "the `url` of receiver `{name}`, `{}`, does not resolve to an http(s) URL",
                        u.written()
                    )
                } else {
                    format!("`{}` is not a URL for receiver `{name}`", u.written())
                };
                self.err(Code::BadUrl, r.url.span(), msg)
                    .label("expected a URL starting with `http://` or `https://`");
            }
        }
        let secret = match (&r.secret, kind) {
            (None, _) => None,
            (Some(s), Some(k)) if !k.signs() => {
                self.err(
                    Code::SecretNotSupported,
                    s.span(),
                    format!("receiver `{name}` of type `{k}` does not sign its messages"),
                )
                .label("`secret` applies to dingtalk, feishu and lark")
                .help("remove `secret`, or put the token in the `url`");
                None
            }
            (Some(s), _) => {
                let t = self.text(s);
                if t.as_ref().is_some_and(|t| !t.is_secret()) {
                    self.diags.push(
                        Diagnostic::warning(
                            Code::PlainSecret,
                            s.span(),
                            format!("the secret of receiver `{name}` is written in the file"),
                        )
                        .with_label("anyone who can read the file can sign messages")
                        .with_help("read it from the environment: `secret: \"${MY_SECRET}\"`"),
                    );
                }
                t
            }
        };
        let rate_limit = match &r.rate_limit {
            Some(v) => Some(self.count(v, "`rate_limit`")?),
            None => kind.and_then(ReceiverKind::default_rate_limit),
        };
        let mention = r.mention.iter().map(|m| m.value.clone()).collect();
        Some(Receiver {
            name: ReceiverName::new(name),
            kind: kind?,
            url: url?,
            secret,
            mention,
            rate_limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOOK" => Some("https://oapi.example.invalid/robot/send?access_token=t0k".into()),
            "SECRET" => Some("SECabc123".into()),
            "NOT_URL" => Some("ftp://nope".into()),
            _ => None,
        }
    }

    fn load(alerts: &str) -> Result<crate::topology::Topology, String> {
        let src = format!(
            "version: 1\nname: t\nlinks:\n  l: {{ entry: a }}\nservices:\n  a: {{ owner: order-team, depends_on: {{ b: strong }} }}\n  b: {{ owner: db-team }}\n{alerts}"
        );
        crate::topology::load::load_str_with_env(&src, "t.yaml", &env)
            .map(|l| l.topology)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_apply_and_routes_resolve() {
        let t = load(
            "alerts:\n  repeat: 4h\n  receivers:\n    ding: { type: dingtalk, url: \"${HOOK}\", secret: \"${SECRET}\", mention: [\"13800000000\"] }\n    hook: { type: webhook, url: \"http://127.0.0.1:9/hook\" }\n  routes:\n    order-team: [hook, ding, hook]\n    default: [ding]\n",
        )
        .unwrap();
        let a = t.alerts.unwrap();
        assert_eq!(a.failure_threshold, DEFAULT_FAILURE_THRESHOLD);
        assert_eq!(a.success_threshold, DEFAULT_SUCCESS_THRESHOLD);
        assert!(a.send_resolved);
        assert_eq!(a.repeat, Some(std::time::Duration::from_secs(4 * 3600)));
        let names: Vec<&str> = a.receivers.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["ding", "hook"]);
        let ding = a.receiver("ding").unwrap();
        assert_eq!(ding.kind, ReceiverKind::DingTalk);
        assert_eq!(ding.rate_limit, Some(20));
        assert_eq!(ding.url.written(), "${HOOK}");
        assert_eq!(ding.secret.as_ref().unwrap().expose(), "SECabc123");
        assert_eq!(a.receiver("hook").unwrap().rate_limit, None);
        let route: Vec<&str> = a
            .route(Some("order-team"))
            .iter()
            .map(|r| r.as_str())
            .collect();
        assert_eq!(route, ["hook", "ding"]);
        let route: Vec<&str> = a
            .route(Some("db-team"))
            .iter()
            .map(|r| r.as_str())
            .collect();
        assert_eq!(route, ["ding"]);
        let route: Vec<&str> = a.route(None).iter().map(|r| r.as_str()).collect();
        assert_eq!(route, ["ding"]);
    }

    #[test]
    fn without_routes_every_receiver_gets_every_alert() {
        let t = load(
            "alerts:\n  failure_threshold: 1\n  send_resolved: false\n  receivers:\n    a: { type: slack, url: \"https://hooks.example.invalid/x\" }\n    b: { type: wecom, url: \"https://qyapi.example.invalid/x\", rate_limit: 5 }\n",
        )
        .unwrap();
        let a = t.alerts.unwrap();
        assert_eq!(a.failure_threshold, 1);
        assert!(!a.send_resolved);
        assert_eq!(a.receiver("b").unwrap().rate_limit, Some(5));
        assert_eq!(a.route(Some("anyone")).len(), 2);
    }

    #[test]
    fn every_problem_is_located_with_a_suggestion() {
        let err = load(
            "alerts:\n  failure_threshold: 0\n  repeat: 4 hours\n  receivers:\n    ding: { type: dingtalke, url: \"${HOOK}\" }\n    slk: { type: slack, url: \"${NOT_URL}\", secret: \"${SECRET}\" }\n    lost: { type: feishu, url: \"${NO_SUCH_VAR}\" }\n  routes:\n    order-team: [dingg]\n    default: [slk]\n",
        )
        .unwrap_err();
        for expected in [
            "t.yaml:9:22: error[zero-count]: `alerts.failure_threshold` must be at least 1",
            "t.yaml:10:11: error[bad-duration]",
            "t.yaml:12:19: error[unknown-receiver-type]: receiver `ding` has unknown type `dingtalke`",
            "did you mean `dingtalk`?",
            "error[bad-url]: the `url` of receiver `slk`, `${NOT_URL}`, does not resolve to an http(s) URL",
            "error[secret-not-supported]: receiver `slk` of type `slack` does not sign its messages",
            "error[missing-env-var]: environment variable `NO_SUCH_VAR` is not set",
            "t.yaml:16:18: error[unknown-receiver]: route `order-team` sends to `dingg`, which is not a declared receiver",
            "did you mean `ding`?",
        ] {
            assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
        }
        assert!(
            !err.contains("ftp://nope"),
            "a resolved value leaked:\n{err}"
        );
        assert!(!err.contains("SECabc123"), "a secret leaked:\n{err}");
    }

    #[test]
    fn owner_typos_plain_secrets_and_missing_default_warn() {
        let src = "version: 1\nname: t\nlinks:\n  l: { entry: a }\nservices:\n  a: { owner: order-team }\nalerts:\n  receivers:\n    f: { type: lark, url: \"https://open.example.invalid/hook\", secret: s3cr3t }\n  routes:\n    order-tem: [f]\n";
        let loaded = crate::topology::load::load_str_with_env(src, "t.yaml", &env).unwrap();
        let w = loaded.warnings.to_string();
        assert!(
            w.contains("t.yaml:11:5: warning[unknown-owner]: no service has owner `order-tem`"),
            "{w}"
        );
        assert!(w.contains("did you mean `order-team`?"), "{w}");
        assert!(w.contains("warning[plain-secret]"), "{w}");
        assert!(w.contains("warning[no-default-route]"), "{w}");
        assert!(!w.contains("s3cr3t"), "{w}");
        let a = loaded.topology.alerts.unwrap();
        assert!(a.route(Some("order-team")).is_empty());
    }

    #[test]
    fn unknown_keys_in_alerts_are_errors() {
        let err = load(
            "alerts:\n  receivers:\n    x: { type: webhook, url: \"http://127.0.0.1:1/\", mentions: [a] }\n",
        )
        .unwrap_err();
        assert!(err.contains("unknown-key"), "{err}");
        assert!(err.contains("t.yaml:10:"), "{err}");
    }
}
