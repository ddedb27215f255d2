//! The `risks:` settings: rules switched off and severities overridden.

use super::Cx;
use crate::diag::Code;
use crate::topology::model::{RiskRule, RiskSettings, Severity as RiskSeverity};
use crate::topology::raw::{RawRisk, RawSeverity, RawTopology};

impl Cx<'_> {
    pub(super) fn risks(&mut self, raw: &RawTopology) -> RiskSettings {
        let mut out = RiskSettings::default();
        for (key, setting) in raw.risks.iter() {
            let Some(rule) = RiskRule::from_id(&key.value) else {
                self.err(
                    Code::UnknownRiskRule,
                    key.span(),
                    format!("unknown risk rule `{}`", key.value),
                )
                .label(format!(
                    "expected one of {}",
                    RiskRule::ALL
                        .iter()
                        .map(|r| format!("`{}`", r.id()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .suggest(&key.value, RiskRule::ALL.iter().map(|r| r.id()));
                continue;
            };
            match &setting.value {
                RawRisk::Off => {
                    out.disabled.insert(rule);
                }
                RawRisk::Settings(s) => {
                    if let Some(sev) = s.severity {
                        out.severity.insert(
                            rule,
                            match sev {
                                RawSeverity::Info => RiskSeverity::Info,
                                RawSeverity::Warning => RiskSeverity::Warning,
                                RawSeverity::Error => RiskSeverity::Error,
                            },
                        );
                    }
                    for (opt, val, owner) in [
                        ("max_depth", &s.max_depth, RiskRule::DeepStrongChain),
                        ("min_links", &s.min_links, RiskRule::SharedHotspot),
                    ] {
                        let Some(v) = val else { continue };
                        if rule != owner {
                            self.err(
                                Code::RiskOptionNotApplicable,
                                v.span(),
                                format!("`{opt}` does not apply to risk rule `{rule}`"),
                            )
                            .label(format!("`{opt}` belongs to `{owner}`"));
                        } else if let Some(n) = self.count(v, &format!("`{opt}`")) {
                            if rule == RiskRule::DeepStrongChain {
                                out.max_strong_depth = n as usize;
                            } else {
                                out.hotspot_min_links = n as usize;
                            }
                        }
                    }
                }
            }
        }
        out
    }
}
