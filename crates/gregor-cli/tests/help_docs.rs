//! `--help` (examples, GREGOR_LOG), shell completions and man pages generated from clap, and
//! usage errors as one line.

use std::process::Command;

fn gregor(args: &[&str]) -> std::process::Output {
    Command::new(assert_cmd::cargo::cargo_bin("gregor")).args(args).output().unwrap()
}

fn out(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn help_has_examples_and_documents_gregor_log() {
    let top = out(&gregor(&["--help"]));
    assert!(top.contains("GREGOR_LOG") && top.contains("Examples"), "{top}");
    for cmd in ["consume", "produce", "metadata", "offsets", "groups", "connections"] {
        let h = out(&gregor(&[cmd, "--help"]));
        assert!(h.contains("Examples:"), "{cmd} --help has examples: {h}");
        assert!(h.contains("-q, --quiet") && h.contains("-d, --debug"), "{cmd}: logging flags");
    }
    assert!(out(&gregor(&["consume", "--help"])).contains("%t topic"));
}

#[test]
fn completions_and_man_pages_are_generated() {
    let bash = out(&gregor(&["completions", "bash"]));
    assert!(bash.contains("_gregor") && bash.contains("reset-offsets") && bash.contains("--key-delimiter"));
    let zsh = out(&gregor(&["completions", "zsh"]));
    assert!(zsh.starts_with("#compdef gregor"));
    let man = out(&gregor(&["man"]));
    assert!(man.contains(".TH gregor") && man.contains("GREGOR_LOG"), "{man}");
    let dir = std::env::temp_dir().join(format!("gregor-man-{}", std::process::id()));
    out(&gregor(&["man", "--dir", dir.to_str().unwrap()]));
    let consume = std::fs::read_to_string(dir.join("gregor-consume.1")).unwrap();
    assert!(consume.contains("format\\-string") || consume.contains("format-string"), "{consume}");
    assert!(dir.join("gregor-groups-reset-offsets.1").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn usage_errors_are_one_line_with_exit_2() {
    for args in [&["consume", "--bogus"][..], &["consume", "-b"], &["nosuch"], &["groups", "reset-offsets", "-b", "x", "g"]] {
        let o = gregor(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("gregor: "), "{err}");
    }
    // A missing required argument is named, not cut off after clap's first line.
    let o = gregor(&["groups", "reset-offsets", "-b", "x", "g", "-t", "t"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not provided: <--to-earliest|--to-latest"), "{err}");
    assert!(!err.contains("Usage:"), "{err}");
}
