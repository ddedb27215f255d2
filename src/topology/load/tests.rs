//! Error cases and edge cases of loading.

use super::test_support::{HEAD, diagnostics, error_case, load};
use super::*;

fn with_head(body: &str) -> String {
    format!("{HEAD}{body}")
}

error_case!(yaml_syntax, with_head("  a: [\n"), "yaml-syntax", 6, 6, "");
error_case!(
    unknown_key_with_suggestion,
    with_head("  a:\n    ownr: x\n"),
    "unknown-key",
    7,
    5,
    "unknown key `ownr`",
    help = "did you mean `owner`?"
);
error_case!(
    unknown_top_level_key,
    "version: 1\nname: t\nservics: {}\n",
    "unknown-key",
    3,
    1,
    "unknown key `servics`",
    help = "did you mean `services`?"
);
error_case!(
    wrong_type_number,
    with_head("  a:\n    replicas: many\n"),
    "wrong-type",
    7,
    15,
    "whole number"
);
error_case!(
    wrong_type_mapping,
    with_head("  a: [1, 2]\n"),
    "wrong-type",
    6,
    6,
    "expected a mapping"
);
error_case!(
    wrong_type_top_level,
    "- a\n- b\n",
    "wrong-type",
    1,
    1,
    "expected a mapping"
);
error_case!(
    duplicate_service,
    with_head("  a: {}\n  a: {}\n"),
    "duplicate-key",
    7,
    3,
    "`a`"
);
error_case!(
    duplicate_link,
    "version: 1\nname: t\nlinks:\n  l: {entry: a}\n  l: {entry: a}\nservices:\n  a: {}\n",
    "duplicate-key",
    5,
    3,
    "`l`"
);
error_case!(
    duplicate_field,
    with_head("  a:\n    owner: x\n    owner: y\n"),
    "duplicate-key",
    8,
    5,
    "`owner`"
);
error_case!(
    missing_link_entry,
    "version: 1\nname: t\nlinks:\n  l: {description: x}\nservices:\n  a: {}\n",
    "missing-key",
    4,
    7,
    "`entry`"
);
error_case!(
    missing_services,
    "version: 1\nname: t\n",
    "missing-key",
    1,
    1,
    "`services`"
);
error_case!(empty_file, "", "empty-file", 1, 1, "empty");
error_case!(
    comment_only_file,
    "# nothing here\n\n",
    "empty-file",
    1,
    1,
    "empty"
);
error_case!(
    unknown_record_type,
    with_head("  a:\n    probe: {dns: {name: x.test, type: AAA}}\n"),
    "unknown-value",
    7,
    39,
    "`AAA`",
    help = "did you mean `AAAA`?"
);
error_case!(
    risk_not_off,
    "version: 1\nname: t\nservices: {a: {}}\nrisks:\n  spof: maybe\n",
    "wrong-type",
    5,
    3,
    "maybe"
);

#[test]
fn every_structural_error_is_reported_at_once() {
    let src = with_head(
        "  a:\n    ownr: x\n  b:\n    replicas: many\n  c:\n    depends_on: {a: strong}\nlinks2: {}\n",
    );
    let d = diagnostics(&src);
    let got: Vec<(&str, u32)> = d
        .iter()
        .map(|d| (d.code.as_str(), d.span.unwrap().line))
        .collect();
    assert_eq!(
        got,
        [("unknown-key", 7), ("wrong-type", 9), ("unknown-key", 12)],
        "{d:#?}"
    );
}

#[test]
fn a_service_with_no_body_has_every_default() {
    // Issue 11: catalogue exports write leaves as `name:`; also `name: ~` and `name: null`,
    // at the end of the file, before another key, in flow style.
    let braces = load(&with_head(
        "  a:\n    depends_on: {b: strong, c: weak, d: strong}\n  b: {}\n  c: {}\n  d: {}\n",
    ))
    .unwrap()
    .topology;
    for bodies in [["", " ~", " null"], [" ~", "", ""], [" null", " ~", ""]] {
        let src = with_head(&format!(
            "  a:\n    depends_on: {{b: strong, c: weak, d: strong}}\n  b:{}\n  c:{}\n  d:{}\n",
            bodies[0], bodies[1], bodies[2]
        ));
        let loaded = load(&src).unwrap_or_else(|e| panic!("{src}\n{e}"));
        assert!(loaded.warnings.is_empty(), "{}", loaded.warnings);
        assert_eq!(
            format!("{:?}", loaded.topology.services),
            format!("{:?}", braces.services),
            "{src}"
        );
    }
    let flow = load("version: 1\nname: t\nlinks: {l: {entry: a}}\nservices: {a: {depends_on: {b: strong}}, b: ~}\n")
        .unwrap()
        .topology;
    assert_eq!(flow.services.len(), 2);
    assert_eq!(flow.services[1].instances.len(), 1);
    assert_eq!(flow.services[1].min_healthy, 1);
}

#[test]
fn many_warnings_of_one_code_show_five_and_a_count() {
    // Eight catalogue leaves that no link reaches, written with no body (lines 7 to 14).
    let leaves = (0..8).fold(String::new(), |mut s, i| {
        std::fmt::Write::write_fmt(&mut s, format_args!("  leaf{i}:\n")).unwrap();
        s
    });
    let loaded = load(&with_head(&format!("  a: {{}}\n{leaves}"))).unwrap();
    assert_eq!(loaded.warnings.len(), 8);
    let text = loaded.warnings.render(false);
    for i in 0..8 {
        let shown = text.contains(&format!("[t.yaml:{}:3]", 7 + i));
        assert_eq!(shown, i < 5, "leaf{i}:\n{text}");
    }
    assert!(
        text.contains("warning[unreachable-service]: … and 3 more like the above (8 in all; `-v` shows every one)"),
        "{text}"
    );
    let all = loaded.warnings.render_all(false);
    assert!(
        (0..8).all(|i| all.contains(&format!("[t.yaml:{}:3]", 7 + i))),
        "{all}"
    );
}

error_case!(
    a_service_body_that_is_text_is_still_wrong,
    with_head("  a: hello\n"),
    "wrong-type",
    6,
    6,
    "wrong type"
);

#[test]
fn duplicate_keys_are_refused_not_merged() {
    // serde_yaml and friends keep the last of two duplicate services silently.
    let src = with_head("  a:\n    owner: first\n  b: {}\n  a:\n    owner: second\n");
    let d = diagnostics(&src);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0].code, Code::DuplicateKey);
    assert_eq!(d[0].span.unwrap().line, 9);
}

#[test]
fn alias_bomb_is_refused() {
    // Nine levels of nine-fold aliases: 9^9 = 387M nodes if expanded.
    let mut src = String::from(
        "version: 1\nname: bomb\nservices:\n  a:\n    probe:\n      http:\n        url: http://x\n        expect:\n          json:\n            \"$.a\": &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    let mut prev = 'a';
    for c in 'b'..='i' {
        std::fmt::Write::write_fmt(
            &mut src,
            format_args!(
                "            \"$.{c}\": &{c} [{}]\n",
                vec![format!("*{prev}"); 9].join(", ")
            ),
        )
        .unwrap();
        prev = c;
    }
    let d = diagnostics(&src);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0].code, Code::YamlTooComplex);
    assert!(d[0].span.is_some());
}

#[test]
fn deep_nesting_is_refused() {
    let src = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let d = diagnostics(&src);
    assert_eq!(d.len(), 1);
    assert!(
        matches!(d[0].code, Code::YamlTooComplex | Code::YamlSyntax),
        "{d:#?}"
    );
}

#[test]
fn non_utf8_file_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.yaml");
    std::fs::write(&path, b"version: 1\nname: caf\xe9\n").unwrap();
    let err = load_file(&path).unwrap_err();
    let d = &err.diagnostics().unwrap().items[0];
    assert_eq!(d.code, Code::NotUtf8);
    let s = d.span.unwrap();
    assert_eq!((s.line, s.column), (2, 10));
    assert!(
        err.to_string().contains("t.yaml:2:10: error[not-utf8]"),
        "{err}"
    );
}

#[test]
fn missing_file_is_a_read_error() {
    let err = load_file(Path::new("/nonexistent/topology.yaml")).unwrap_err();
    assert!(matches!(err, LoadError::Read { .. }));
    assert!(
        err.to_string()
            .starts_with("cannot read `/nonexistent/topology.yaml`"),
        "{err}"
    );
}

#[test]
fn rendered_diagnostics_underline_the_offending_text() {
    let err = load(&with_head("  a:\n    ownr: x\n")).unwrap_err();
    let text = err.diagnostics().unwrap().render(false);
    assert!(text.contains("unknown key `ownr`"), "{text}");
    assert!(text.contains("[t.yaml:7:5]"), "{text}");
    assert!(text.contains("────"), "{text}");
    assert!(text.contains("did you mean `owner`?"), "{text}");
    assert!(!text.contains('\u{1b}'), "no colour asked: {text}");
}

#[test]
fn bundled_topology_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("topology.yaml");
    let loaded = load_file_with_warnings(&path).unwrap();
    assert!(loaded.warnings.is_empty(), "{}", loaded.warnings);
    let t = &loaded.topology;
    assert_eq!(t.name, "takeaway-isv");
    assert_eq!(t.links.len(), 3);
    assert_eq!(t.services.len(), 14);
}

// Issue 11: syntax errors are located where the usual cause is, with a hint for it (they used
// to point at 1:1: serde-saphyr gives their line and column but no offset).
error_case!(
    syntax_mapping_indented_too_little,
    with_head("  a:\n    owner: x\n   replicas: 2\n"),
    "yaml-syntax",
    8,
    4,
    "did not find expected key",
    help = "check the indentation: line 8 is indented by 3 spaces, line 7 above by 4; the keys of one mapping must start in the same column"
);
error_case!(
    syntax_mapping_indented_too_much,
    with_head("  a:\n    owner: x\n     replicas: 2\n"),
    "yaml-syntax",
    8,
    6,
    "mapping values are not allowed",
    help = "check the indentation: line 8 is indented by 5 spaces, line 7 above by 4; the keys of one mapping must start in the same column"
);
error_case!(
    syntax_tab_in_indentation,
    with_head("  a:\n\towner: x\n"),
    "yaml-syntax",
    7,
    1,
    "tab",
    help = "YAML does not allow tabs in indentation: indent with spaces"
);
error_case!(
    syntax_tab_on_the_next_line,
    with_head("  a:\n    owner: x\n  \treplicas: 2\n"),
    "yaml-syntax",
    8,
    3,
    "tab",
    help = "YAML does not allow tabs in indentation: indent with spaces"
);
error_case!(
    syntax_missing_colon_before_a_sibling,
    with_head("  a:\n    owner x\n    replicas: 2\n"),
    "yaml-syntax",
    7,
    5,
    "mapping values are not allowed",
    help = "write `owner: x`"
);
error_case!(
    syntax_key_without_colon,
    with_head("  a:\n    owner: x\n  b\n  c: {}\n"),
    "yaml-syntax",
    8,
    3,
    "simple key expected ':'",
    help = "write `key: value`; a service with no settings is written `name:`"
);
error_case!(
    syntax_unclosed_flow_mapping,
    with_head("  a: {owner: x\n  b: {}\n"),
    "yaml-syntax",
    6,
    6,
    "flow mapping",
    help = "close the flow mapping with `}` on the same line, before the next key"
);
error_case!(
    syntax_unclosed_flow_mapping_at_the_end,
    with_head("  a: {owner: x, replicas: 2\n"),
    "yaml-syntax",
    6,
    6,
    "unclosed",
    help = "close the flow mapping with `}` on the same line, before the next key"
);
error_case!(
    syntax_unclosed_flow_sequence,
    with_head("  a:\n    tags: [x, y\n  b: {}\n"),
    "yaml-syntax",
    7,
    11,
    "",
    help = "close the flow sequence with `]` on the same line, before the next key"
);
// A JSON file (a catalogue export): its collections span lines, so the usual causes differ.
error_case!(
    syntax_json_missing_comma,
    "{\n  \"version\": 1,\n  \"name\": \"t\"\n  \"services\": {\"a\": {}}\n}\n",
    "yaml-syntax",
    4,
    3,
    "',' or '}'",
    help = "separate the entries of the flow mapping opened on line 1 with `,`: the line above may lack one at its end"
);
error_case!(
    syntax_json_missing_comma_in_a_nested_list,
    "{\"version\": 1, \"name\": \"t\", \"services\": {\"a\": {\"tags\": [\n  \"x\"\n  \"y\"\n]}}}\n",
    "yaml-syntax",
    3,
    3,
    "',' or ']'",
    help = "separate the entries of the flow sequence opened on line 1 with `,`: the line above may lack one at its end"
);
error_case!(
    syntax_json_never_closed,
    "{\n  \"version\": 1,\n  \"name\": \"t\",\n  \"services\": {\"a\": {\"replicas\": 2}}\n",
    "yaml-syntax",
    1,
    1,
    "unclosed",
    help = "close the flow mapping with `}`"
);

#[test]
fn syntax_error_snippet_shows_the_problem_line() {
    let err = load(&with_head("  a:\n    owner: x\n   replicas: 2\n")).unwrap_err();
    let text = err.diagnostics().unwrap().render(false);
    assert!(text.contains("[t.yaml:8:4]"), "{text}");
    assert!(text.contains(" 8 │    replicas: 2"), "{text}");
    assert!(!text.contains("version: 1"), "{text}");
}

#[test]
fn syntax_errors_deep_in_a_large_file_are_located() {
    use std::fmt::Write;
    let mut src = String::from(HEAD);
    for i in 0..20_000 {
        writeln!(src, "  s{i}:\n    owner: team").unwrap();
    }
    src.push_str("  bad:\n    owner: x\n   replicas: 2\n");
    let d = diagnostics(&src);
    assert_eq!(d.len(), 1, "{d:#?}");
    let s = d[0].span.unwrap();
    assert_eq!((d[0].code, s.line, s.column), (Code::YamlSyntax, 40_008, 4));
    assert_eq!(&src[s.offset..s.offset + 8], "replicas");
}
