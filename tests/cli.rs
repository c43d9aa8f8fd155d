//! The binary's conventions: shell completions and the man page.

use std::process::Command;

fn calltop(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_calltop"))
        .args(args)
        .env("XDG_CONFIG_HOME", "/nonexistent")
        // A broken configuration must not stop either of them.
        .env("CALLTOP_RECONNECT__MAX_ATTEMPTS", "many")
        .output()
        .unwrap()
}

#[test]
fn completions_cover_every_subcommand_and_flag_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = calltop(&["completions", shell]);
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let script = String::from_utf8(out.stdout).unwrap();
        // Flag names without their dashes: fish writes `-l janus-pin`.
        for word in [
            "serve",
            "server",
            "headless",
            "janus-pin",
            "backend",
            "completions",
        ] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    let bash = String::from_utf8(calltop(&["completions", "bash"]).stdout).unwrap();
    assert!(
        bash.contains("complete -F _calltop"),
        "a bash completion function"
    );
    let out = calltop(&["completions", "tcsh"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("bash"));
}

#[test]
fn the_man_page_is_roff_with_every_option() {
    let out = calltop(&["man"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH calltop 1"), "{page}");
    for option in [
        r"\-\-server",
        r"\-\-janus\-api\-secret",
        r"\-\-idle\-timeout",
    ] {
        assert!(page.contains(option), "the man page lacks {option}");
    }
    assert!(page.contains("completions"), "subcommands are listed");
}

#[test]
fn help_names_the_environment_the_config_file_and_the_exit_statuses() {
    let out = calltop(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "CALLTOP_<SECTION>__<KEY>",
        "NO_COLOR",
        "RUST_LOG",
        "Config file: /nonexistent/calltop/config.toml (not there",
        "--backend janus",
        "Exit statuses:",
        "  5  connection closed for good",
        "  8  headless: stdout was closed",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}

#[test]
fn flags_that_make_no_sense_together_are_refused() {
    for (args, says) in [
        (vec!["--verbose"], "--headless"),
        (
            vec!["--server", "ws://127.0.0.1:1/ws", "serve"],
            "cannot be used with",
        ),
    ] {
        let out = calltop(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn help_is_in_colour_only_when_asked_for() {
    for (args, coloured) in [
        (vec!["--help"], false),
        (vec!["--color", "always", "--help"], true),
        (vec!["--color=always", "--help"], true),
        (vec!["--color", "never", "--help"], false),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_calltop"))
            .args(&args)
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        assert_eq!(help.contains('\u{1b}'), coloured, "{args:?}: {help:?}");
    }
    // And clap's errors too, on stderr.
    let out = Command::new(env!("CARGO_BIN_EXE_calltop"))
        .args(["--color", "always", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains('\u{1b}'));
}
