//! The README's command summary must match what `--help` says: every subcommand it lists exists,
//! and every flag it shows for a subcommand is accepted by that subcommand.

use assert_cmd::Command;

fn help(args: &[&str]) -> String {
    let out = Command::cargo_bin("linkpatrol")
        .unwrap()
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn readme_usage_matches_help() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme
        .split("```\nlinkpatrol [-f FILE]")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README has the command summary block");
    let top = help(&[]);
    let mut seen = 0;
    for line in block.lines().skip(2) {
        let mut words = line.split_whitespace();
        let Some(sub) = words.next() else { continue };
        seen += 1;
        assert!(
            top.contains(&format!("  {sub} ")),
            "README lists `{sub}` but `linkpatrol --help` does not"
        );
        let sub_help = help(&[sub]);
        for flag in line
            .split(['[', ']', ' ', '|'])
            .filter(|w| w.starts_with("--") || (w.starts_with('-') && w.len() == 2))
        {
            assert!(
                sub_help.contains(flag),
                "README shows `{flag}` for `{sub}` but its --help does not"
            );
        }
    }
    assert!(
        seen >= 6,
        "the README command block lists only {seen} commands"
    );
}
