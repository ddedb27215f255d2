//! `depends_on`: single dependencies and `any_of` groups, resolved to service indices.

use std::collections::HashSet;

use super::{Cx, Resolver};
use crate::diag::Code;
use crate::topology::model::{Dependency, ServiceIdx, Strength, Target};
use crate::topology::raw::{RawDep, Sp};

impl Cx<'_> {
    pub(super) fn dependency(
        &mut self,
        owner: &Sp<String>,
        me: ServiceIdx,
        key: &Sp<String>,
        dep: &Sp<RawDep>,
        resolver: &Resolver<'_>,
    ) -> Option<Dependency> {
        let o = &owner.value;
        let (strength_text, strength_span, full) = match &dep.value {
            RawDep::Short(s) => (s.as_str(), dep.span(), None),
            RawDep::Full(f) => (f.strength.value.0.as_str(), f.strength.span(), Some(f)),
        };
        let strength = match strength_text {
            "strong" => Some(Strength::Strong),
            "weak" => Some(Strength::Weak),
            other => {
                self.err(
                    Code::UnknownStrength,
                    strength_span,
                    format!("unknown strength `{other}` for `{o}` → `{}`", key.value),
                )
                .label("expected `strong` or `weak`")
                .suggest(other, ["strong", "weak"]);
                None
            }
        };
        let timeout = full
            .and_then(|f| f.timeout.as_ref())
            .map(|t| self.duration(t, "a dependency `timeout`"));
        let group = full.and_then(|f| f.any_of.as_ref());
        if let (Some(m), None) = (full.and_then(|f| f.min.as_ref()), group) {
            self.err(
                Code::MinWithoutAnyOf,
                m.span(),
                format!(
                    "`min` on `{o}` → `{}`, which is not an any_of group",
                    key.value
                ),
            )
            .label("`min` only applies together with `any_of`");
        }
        let target = if let Some(members) = group {
            self.group(
                o,
                me,
                key,
                members,
                full.and_then(|f| f.min.as_ref()),
                resolver,
            )
        } else {
            let t = resolver.resolve(key, self, |n| {
                format!("`{o}` depends on `{n}`, which is not a declared service")
            });
            if t == Some(me) {
                self.err(
                    Code::SelfDependency,
                    key.span(),
                    format!("service `{o}` depends on itself"),
                )
                .label("a service cannot be its own dependency");
                None
            } else {
                t.map(Target::Service)
            }
        };
        let op_field = full.and_then(|f| f.operation.as_ref());
        let operation = match (op_field, &target) {
            (Some(op), _) if group.is_some() => {
                self.err(
                    Code::OperationOnGroup,
                    op.span(),
                    format!(
                        "`operation` on `{o}` → `{}`, which is an any_of group",
                        key.value
                    ),
                )
                .label("the members of a group are whole services")
                .help("make the group's members services of their own, or drop `operation`");
                return None;
            }
            (Some(op), Some(Target::Service(t))) => {
                let op =
                    resolver.operation(*t, op, self, || format!("`{o}` calls `{}`", key.value));
                Some(op?)
            }
            _ => None,
        };
        Some(Dependency {
            label: key.value.clone(),
            strength: strength?,
            timeout: match timeout {
                Some(t) => Some(t?),
                None => None,
            },
            fallback: full
                .and_then(|f| f.fallback.as_ref())
                .map(|f| self.shown(f, dep.span())),
            target: target?,
            operation,
        })
    }

    pub(super) fn group(
        &mut self,
        o: &str,
        me: ServiceIdx,
        key: &Sp<String>,
        members: &Sp<Vec<Sp<String>>>,
        min: Option<&Sp<u32>>,
        resolver: &Resolver<'_>,
    ) -> Option<Target> {
        if members.value.is_empty() {
            self.err(
                Code::EmptyAnyOf,
                members.span(),
                format!("any_of group `{}` of `{o}` is empty", key.value),
            )
            .label("expected at least one service");
            return None;
        }
        let mut ok = true;
        let mut out = Vec::with_capacity(members.value.len());
        let mut seen = HashSet::new();
        for m in &members.value {
            let Some(t) = resolver.resolve(m, self, |n| {
                format!(
                    "any_of group `{}` of `{o}` names `{n}`, which is not a declared service",
                    key.value
                )
            }) else {
                ok = false;
                continue;
            };
            if t == me {
                self.err(
                    Code::SelfDependency,
                    m.span(),
                    format!(
                        "any_of group `{}` of `{o}` contains `{o}` itself",
                        key.value
                    ),
                )
                .label("a service cannot be a member of its own dependency group");
                ok = false;
            } else if !seen.insert(t) {
                self.err(
                    Code::DuplicateMember,
                    m.span(),
                    format!(
                        "`{}` appears twice in any_of group `{}` of `{o}`",
                        m.value, key.value
                    ),
                )
                .label("already listed in this group");
                ok = false;
            } else {
                out.push(t);
            }
        }
        let n = members.value.len();
        let min_v = match min {
            None => 1,
            Some(m) if m.value == 0 || m.value as usize > n => {
                self.err(
                    Code::BadGroupMin,
                    m.span(),
                    format!(
                        "`min: {}` for any_of group `{}` of `{o}`, which has {}",
                        m.value,
                        key.value,
                        crate::diag::plural(n, "member")
                    ),
                )
                .label(format!("expected a number from 1 to {n}"));
                ok = false;
                1
            }
            Some(m) => m.value as usize,
        };
        ok.then_some(Target::AnyOf {
            members: out,
            min: min_v,
        })
    }
}
