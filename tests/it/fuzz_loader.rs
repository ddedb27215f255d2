//! Property test: whatever bytes arrive, the loader never panics or hangs, and it answers either
//! with a model or with errors that point into the file.
//!
//! Inputs are the bundled topology broken in realistic ways (flipped bytes, deleted or duplicated
//! lines, truncation, changed indentation, inserted YAML punctuation), plain random bytes, and
//! files built to hit the loader's limits (issue 16 item 5: replica and instance counts around
//! and far past the caps, unbounded `retries`, alias bombs, deep nesting, terminal escapes).
//!
//! The normal suite (CI) runs a bounded count of each property, a few seconds in all. A longer
//! run sets the count per property: `LINKPATROL_FUZZ_CASES=200000 cargo nextest run
//! --all-targets -E 'test(/fuzz_loader/)'` (every property gets that many cases).

use std::fmt::Write as _;
use std::path::Path;

use linkpatrol::topology::load::{LoadError, load_bytes};
use linkpatrol::topology::model::Target;
use linkpatrol::topology::validate::{MAX_INSTANCES, MAX_RETRIES, MAX_TOTAL_INSTANCES};
use proptest::prelude::*;

/// Cases per property: `default`, or `LINKPATROL_FUZZ_CASES` for a longer run.
fn cases(default: u32) -> u32 {
    std::env::var("LINKPATROL_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn bundled() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| {
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("topology.yaml")).unwrap()
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipByte(usize, u8),
    DeleteLine(usize),
    DuplicateLine(usize),
    Truncate(usize),
    Indent(usize, i8),
    Insert(usize, &'static str),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let tokens = prop::sample::select(vec![
        ":",
        "- ",
        "&a ",
        "*a",
        "{",
        "}",
        "[",
        "]",
        "\"",
        "'",
        "#",
        "\t",
        "\n",
        "  ",
        "---\n",
        "<<: *a\n",
        "!!str ",
        "|\n",
        "~",
        "${X}",
        "{address}",
        "\u{feff}",
        "\u{0}",
        "é",
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::FlipByte(i, b)),
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), -4i8..=4).prop_map(|(i, d)| Mutation::Indent(i, d)),
        (any::<usize>(), tokens).prop_map(|(i, t)| Mutation::Insert(i, t)),
    ]
}

#[allow(clippy::many_single_char_names)]
fn apply(src: &[u8], m: &Mutation) -> Vec<u8> {
    let mut v = src.to_vec();
    if v.is_empty() {
        return v;
    }
    let lines = || -> Vec<Vec<u8>> {
        src.split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect()
    };
    match *m {
        Mutation::FlipByte(i, b) => {
            let n = v.len();
            v[i % n] = b;
        }
        Mutation::DeleteLine(i) => {
            let mut l = lines();
            let n = l.len();
            l.remove(i % n);
            v = l.concat();
        }
        Mutation::DuplicateLine(i) => {
            let mut l = lines();
            let n = l.len();
            let line = l[i % n].clone();
            l.insert(i % n, line);
            v = l.concat();
        }
        Mutation::Truncate(i) => v.truncate(i % v.len()),
        Mutation::Indent(i, d) => {
            let mut l = lines();
            let n = l.len();
            let line = &mut l[i % n];
            if d > 0 {
                line.splice(0..0, std::iter::repeat_n(b' ', d as usize));
            } else {
                let k = line
                    .iter()
                    .take(d.unsigned_abs() as usize)
                    .take_while(|&&b| b == b' ')
                    .count();
                line.drain(..k);
            }
            v = l.concat();
        }
        Mutation::Insert(i, t) => {
            let at = i % (v.len() + 1);
            v.splice(at..at, t.bytes());
        }
    }
    v
}

/// The property: a model, or errors that each point inside the source.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    match load_bytes(bytes, "fuzz.yaml") {
        Ok(loaded) => {
            // The model's documented invariants hold for whatever was accepted.
            let t = &loaded.topology;
            prop_assert!(t.services.windows(2).all(|w| w[0].name < w[1].name));
            prop_assert_eq!(t.index.len(), t.services.len());
            for (i, s) in t.iter_services() {
                prop_assert_eq!(t.index_of(s.name.as_str()), Some(i));
                prop_assert!(!s.instances.is_empty());
                prop_assert!((1..=s.instances.len()).contains(&s.min_healthy));
                for d in &s.depends_on {
                    prop_assert!(!d.targets().is_empty());
                    prop_assert!(
                        d.targets()
                            .iter()
                            .all(|&x| x != i && x.get() < t.services.len())
                    );
                    if let Target::AnyOf { members, min } = &d.target {
                        prop_assert!((1..=members.len()).contains(min));
                    }
                }
            }
            for l in &t.links {
                prop_assert!(l.entry.get() < t.services.len());
            }
            // The limits of SECURITY.md hold for whatever was accepted.
            let mut total = 0u64;
            for s in &t.services {
                prop_assert!(s.instances.len() as u64 <= MAX_INSTANCES);
                total += s.instances.len() as u64;
                for i in &s.instances {
                    prop_assert!(i.probe.as_ref().is_none_or(|p| p.retries <= MAX_RETRIES));
                }
            }
            prop_assert!(total <= MAX_TOTAL_INSTANCES);
        }
        Err(LoadError::Invalid(d)) => {
            prop_assert!(d.has_errors(), "Err without an error: {d}");
            let len = d.source().len();
            for e in d.errors() {
                let span = e.span;
                prop_assert!(span.is_some(), "unlocated error {e:?}");
                let s = span.unwrap();
                prop_assert!(
                    s.line >= 1 && s.column >= 1 && s.offset <= len,
                    "bad span {e:?} (len {len})"
                );
            }
            let shown = d.to_string();
            prop_assert!(shown.contains("fuzz.yaml:"), "{shown}");
            let rendered = d.render(false);
            prop_assert!(!rendered.is_empty());
        }
        Err(e) => prop_assert!(false, "read error from bytes: {e}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(3000), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_topology_never_panics(muts in prop::collection::vec(mutation(), 1..5)) {
        let mut src = bundled().to_vec();
        for m in &muts {
            src = apply(&src, m);
        }
        check(&src)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(2000), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        check(&bytes)?;
    }

    #[test]
    fn random_yamlish_text_never_panics(
        parts in prop::collection::vec(
            prop::sample::select(vec![
                "version: 1\n", "name: x\n", "services:\n", "links:\n", "  a:\n", "  b: {}\n",
                "    depends_on: {b: strong}\n", "    depends_on: {a: weak}\n", "    replicas: 2\n",
                "    min_healthy: 3\n", "  l: {entry: a}\n", "    probe: {tcp: {}}\n", "&x ", "*x",
                "[", "]", "{", "}", ": ", "- ", "\n", "  ", "risks: {spof: off}\n", "defaults: {timeout: 0s}\n",
            ]),
            0..40,
        )
    ) {
        check(parts.concat().as_bytes())?;
    }
}

/// One service's worth of YAML built to press on a limit.
fn hostile_service() -> impl Strategy<Value = String> {
    let count = prop::sample::select(vec![
        "0",
        "1",
        "2",
        "9999",
        "10000",
        "10001",
        "3000000",
        "100000000",
        "99999999999",
        "18446744073709551616",
        "-1",
        "1e9",
        "0x10",
        "2.5",
        "\"3\"",
        "~",
    ]);
    let retries = prop::sample::select(vec![
        "0",
        "1",
        "10",
        "11",
        "255",
        "99999999",
        "4294967296",
        "-3",
    ]);
    let text = prop::sample::select(vec![
        "plain",
        "\"\\e]0;title\\a\"",
        "\"\\e[2J\"",
        "\"\\u202e\"",
        "\"${UNSET_VAR}\"",
        "\"\\u0000\"",
        "\"\\x9b2J\"",
    ]);
    prop_oneof![
        (count.clone(), count.clone())
            .prop_map(|(r, m)| format!("{{ replicas: {r}, min_healthy: {m} }}")),
        (retries, text.clone()).prop_map(|(r, t)| format!(
            "{{ owner: {t}, probe: {{ tcp: {{ address: \"127.0.0.1:1\" }}, retries: {r} }} }}"
        )),
        (1usize..40, 1usize..4000).prop_map(|(n, names)| {
            // An `instances` list of n entries, some of them with the same name.
            let list: Vec<String> = (0..n)
                .map(|i| format!("{{ name: i{} }}", i % names))
                .collect();
            format!("{{ instances: [{}] }}", list.join(", "))
        }),
        (1usize..300).prop_map(|d| format!(
            "{{ description: {}x{} }}",
            "[".repeat(d),
            "]".repeat(d)
        )),
        text.prop_map(|t| format!("{{ description: {t}, tags: [{t}] }}")),
    ]
}

/// A whole file: an alias bomb of `levels` levels (each level ten references to the one below)
/// or none, then the services.
fn limits_file(levels: usize, services: &[String]) -> String {
    let mut s = String::from("version: 1\nname: limits\n");
    if levels > 0 {
        s.push_str("x-bomb:\n  l0: &l0 [a, a, a, a, a, a, a, a, a, a]\n");
        for l in 1..levels {
            let refs = vec![format!("*l{}", l - 1); 10].join(", ");
            let _ = writeln!(s, "  l{l}: &l{l} [{refs}]");
        }
    }
    s.push_str("links: { l: { entry: s0 } }\nservices:\n");
    for (i, svc) in services.iter().enumerate() {
        let _ = writeln!(s, "  s{i}: {svc}");
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(150), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn hostile_limits_are_located_errors_never_a_blow_up(
        levels in prop::sample::select(vec![0usize, 0, 0, 3, 6, 9]),
        services in prop::collection::vec(hostile_service(), 1..6),
    ) {
        let src = limits_file(levels, &services);
        let started = std::time::Instant::now();
        check(src.as_bytes())?;
        // Bounded work: no case may take long (debug build; a hang would time the suite out).
        prop_assert!(started.elapsed() < std::time::Duration::from_secs(5), "slow: {src}");
    }
}
