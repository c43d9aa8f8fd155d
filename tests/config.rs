//! The configuration as a person meets it, through the binary: files that
//! are not regular files, stray and misspelt `CALLTOP_*` variables, and
//! messages that name the key, the value, where it was set and what it may be.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// Nothing listens on port 1: a run there ends on its own, quickly, with
/// `connection_closed` (exit 5), after printing `run_started`.
const NOWHERE: &str = "ws://127.0.0.1:1/ws";

fn calltop(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_calltop"));
    c.args(args)
        .env_remove("RUST_LOG")
        // No user config file from the machine running the tests.
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .env("CALLTOP_RECONNECT__MAX_ATTEMPTS", "1")
        .env("CALLTOP_RECONNECT__INITIAL_DELAY_MS", "20")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn run(mut c: Command) -> (Option<i32>, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = c.output().unwrap();
    (
        status.code(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// The `user` of the run's first line: proof of what the configuration said.
fn run_user(stdout: &str) -> String {
    let first: serde_json::Value =
        serde_json::from_str(stdout.lines().next().expect("a first line")).unwrap();
    assert_eq!(first["event"], "run_started", "{stdout}");
    first["run"]["user"].as_str().unwrap().to_owned()
}

/// A fresh directory of this test's own.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("calltop-config-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Words that belong to Rust's types and `config`'s internals, not to a person.
fn assert_no_rust_words(message: &str) {
    for word in [
        "enum ",
        "ColorMode",
        "BackendKind",
        "variant",
        "64 bit",
        "32 bit",
        "floating point",
        "for key `",
    ] {
        assert!(!message.contains(word), "{word:?} in: {message}");
    }
}

#[test]
fn dev_null_a_fifo_and_a_process_substitution_are_config_files() {
    let (code, stdout, stderr) = run(calltop(
        &["--headless", "--config", "/dev/null", "--server", NOWHERE],
        &[],
    ));
    assert_eq!(code, Some(5), "{stderr}");
    run_user(&stdout);

    // A named FIFO, written by another thread once calltop opens it.
    let fifo = scratch("fifo").join("config.toml");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            std::fs::write(&fifo, "[session]\nuser = \"from-fifo\"\n").unwrap();
        })
    };
    let (code, stdout, stderr) = run(calltop(
        &[
            "--headless",
            "--config",
            fifo.to_str().unwrap(),
            "--server",
            NOWHERE,
        ],
        &[],
    ));
    writer.join().unwrap();
    assert_eq!(code, Some(5), "{stderr}");
    assert_eq!(run_user(&stdout), "from-fifo");

    // `--config <(...)`, as a shell passes it: /dev/fd/N.
    let mut c = Command::new("bash");
    c.args([
        "-c",
        r#"exec "$0" --headless --server "$1" --config <(printf '[session]\nuser = "from-pipe"\n')"#,
        env!("CARGO_BIN_EXE_calltop"),
        NOWHERE,
    ])
    .env_remove("RUST_LOG")
    .env("XDG_CONFIG_HOME", "/nonexistent")
    .env("CALLTOP_RECONNECT__MAX_ATTEMPTS", "1")
    .stdin(Stdio::null());
    let (code, stdout, stderr) = run(c);
    assert_eq!(code, Some(5), "{stderr}");
    assert_eq!(run_user(&stdout), "from-pipe");

    // What cannot be read says so, and why; what never ends is not read to its end.
    let (code, _, stderr) = run(calltop(&["--headless", "--config", "/dev/zero"], &[]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot read config file /dev/zero: larger than"),
        "{stderr}"
    );
    let dir = scratch("dir");
    let (code, _, stderr) = run(calltop(
        &["--headless", "--config", dir.to_str().unwrap()],
        &[],
    ));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot read config file {}", dir.display())),
        "{stderr}"
    );
}

#[test]
fn a_stray_calltop_variable_is_named_and_ignored_and_a_misspelt_setting_is_refused_by_name() {
    // Not shaped like a setting: somebody else's variable, ignored with a warning.
    let (code, stdout, stderr) = run(calltop(
        &["--headless", "--server", NOWHERE, "--user", "alice"],
        &[("CALLTOP_FOO", "1")],
    ));
    assert_eq!(code, Some(5), "the run goes on: {stderr}");
    assert_eq!(run_user(&stdout), "alice");
    assert!(
        stderr.contains("warning: ignored CALLTOP_FOO")
            && stderr.contains("CALLTOP_<SECTION>__<KEY>"),
        "{stderr}"
    );

    // Shaped like a setting, but there is no such key or section: refused,
    // naming the variable and what exists.
    for (var, says) in [
        ("CALLTOP_SESSION__IDLE_TIMOUT_SECS", "idle_timeout_secs"),
        ("CALLTOP_SESION__USER", "[session]"),
        ("CALLTOP_SESSION__USER__NAME", "CALLTOP_<SECTION>__<KEY>"),
    ] {
        let (code, stdout, stderr) =
            run(calltop(&["--headless", "--server", NOWHERE], &[(var, "x")]));
        assert_eq!(code, Some(2), "{var}: {stderr}");
        assert!(stdout.is_empty(), "{var}: nothing starts");
        assert!(
            stderr.contains(&format!("environment variable {var}")),
            "{var}: {stderr}"
        );
        assert!(stderr.contains(says), "{var}: {stderr}");
        assert_no_rust_words(&stderr);
    }
}

#[test]
fn errors_in_the_default_config_file_name_the_file() {
    let home = scratch("xdg");
    std::fs::create_dir_all(home.join("calltop")).unwrap();
    let file = home.join("calltop").join("config.toml");
    for (text, says) in [
        ("[ui]\ncolor = \"blue\"\n", "ui.color"),
        ("[ui]\ncolour = \"never\"\n", "colour"),
        ("[ui\n", "line 1"),
        ("[ui]\nlog_capacity = 0\n", "ui.log_capacity"),
    ] {
        std::fs::write(&file, text).unwrap();
        let (code, _, stderr) = run(calltop(
            &["--headless", "--server", NOWHERE],
            &[("XDG_CONFIG_HOME", home.to_str().unwrap())],
        ));
        assert_eq!(code, Some(2), "{text}: {stderr}");
        assert!(
            stderr.contains(&format!("config file {}", file.display())),
            "{text}: {stderr}"
        );
        assert!(stderr.contains(says), "{text}: {stderr}");
    }
}

#[test]
fn bad_values_are_named_with_the_value_where_it_was_set_and_what_is_allowed() {
    let dir = scratch("values");
    let file = dir.join("c.toml");
    std::fs::write(&file, "[session]\nbackend = 3\n").unwrap();
    let file_origin = format!("(from config file {})", file.display());
    for (args, env, wants) in [
        (
            vec![],
            Some(("CALLTOP_UI__COLOR", "blue")),
            vec![
                "invalid ui.color = \"blue\"",
                "(from environment variable CALLTOP_UI__COLOR)",
                r#""auto", "always", "never""#,
            ],
        ),
        (
            vec![],
            Some(("CALLTOP_SESSION__BACKEND", "sip")),
            vec!["invalid session.backend = \"sip\"", r#""calltop", "janus""#],
        ),
        (
            vec!["--config", file.to_str().unwrap()],
            None,
            vec![
                "invalid session.backend = 3",
                &file_origin,
                r#""calltop", "janus""#,
            ],
        ),
        (
            vec![],
            Some(("CALLTOP_RECONNECT__MULTIPLIER", "fast")),
            vec![
                "invalid reconnect.multiplier = \"fast\"",
                "a number, such as 2.0",
            ],
        ),
        (
            vec![],
            Some(("CALLTOP_RECONNECT__MAX_ATTEMPTS", "5000000000")),
            vec![
                "reconnect.max_attempts",
                "a whole number from 0 to 4294967295",
            ],
        ),
        (
            vec![],
            Some(("CALLTOP_JANUS__CREATE_ROOM", "maybe")),
            vec!["invalid janus.create_room = \"maybe\"", "true or false"],
        ),
        (
            vec![],
            Some(("CALLTOP_THEME__MUTED", "grayish")),
            vec![
                "invalid theme.muted = \"grayish\"",
                "(from environment variable CALLTOP_THEME__MUTED)",
                "#rrggbb",
            ],
        ),
        (
            vec![],
            Some(("CALLTOP_THEME__NAME", "solarized")),
            vec![
                "invalid theme.name = \"solarized\"",
                r#""dark", "light", "none""#,
            ],
        ),
    ] {
        let mut all = vec!["--headless", "--server", NOWHERE];
        all.extend(args);
        let (code, stdout, stderr) = run(calltop(&all, env.as_slice()));
        assert_eq!(code, Some(2), "{env:?}: {stderr}");
        assert!(stdout.is_empty(), "{env:?}: nothing starts");
        for want in wants {
            assert!(stderr.contains(want), "{env:?}: wants {want:?}: {stderr}");
        }
        assert_no_rust_words(&stderr);
    }
}

#[test]
fn headless_refuses_the_keys_the_dashboard_refuses_before_anything_starts() {
    for (var, value) in [("CALLTOP_KEYS__LEAVE", "ll"), ("CALLTOP_KEYS__QUIT", "l")] {
        let (code, stdout, stderr) = run(calltop(
            &["--headless", "--server", NOWHERE],
            &[(var, value)],
        ));
        assert_eq!(code, Some(2), "{var}={value}: {stderr}");
        assert!(stdout.is_empty(), "{var}: nothing starts");
        assert!(stderr.contains("keys."), "{var}: {stderr}");
        assert!(
            stderr.contains(&format!("(from environment variable {var})")),
            "{var}: {stderr}"
        );
    }
}

/// `calltop config`'s output as a file, read back through the real loader.
fn read_back(printed: &str, name: &str) -> calltop::config::Config {
    let file = scratch(name).join("printed.toml");
    std::fs::write(&file, printed).unwrap();
    calltop::config::Config::load(calltop::config::Sources {
        file: Some(&file),
        env: Some(Default::default()),
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("the printed config does not read back: {e}\n{printed}"))
}

#[test]
fn config_default_prints_a_commented_file_that_reads_back_as_the_defaults() {
    // A broken configuration does not stop it: it reads none.
    let (code, stdout, stderr) = run(calltop(
        &["config", "--default"],
        &[("CALLTOP_UI__COLOR", "blue")],
    ));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.lines().filter(|l| l.starts_with('#')).count() > 20);
    assert_eq!(
        read_back(&stdout, "default"),
        calltop::config::Config::default()
    );
}

#[test]
fn config_shows_each_value_with_where_it_was_set_and_reads_back_as_in_force() {
    let dir = scratch("effective");
    let file = dir.join("c.toml");
    std::fs::write(
        &file,
        "[session]\nuser = \"file-user\"\nsession = \"from-file\"\n[ui]\nlog_capacity = 77\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run(calltop(
        &[
            "config",
            "--config",
            file.to_str().unwrap(),
            "--session",
            "from-flag",
            "--idle-timeout",
            "42",
        ],
        &[
            ("CALLTOP_SESSION__USER", "env-user"),
            ("CALLTOP_SESSION__TOKEN", "tok-very-secret"),
        ],
    ));
    assert_eq!(code, Some(0), "{stderr}");
    let line = |key: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")) || l.starts_with(&format!("# {key} = ")))
            .unwrap_or_else(|| panic!("no {key} line:\n{stdout}"))
            .to_owned()
    };
    let file_origin = format!("# config file {}", file.display());
    for (key, value, origin) in [
        (
            "user",
            "\"env-user\"",
            "# environment variable CALLTOP_SESSION__USER",
        ),
        ("session", "\"from-flag\"", "# the command line"),
        ("idle_timeout_secs", "42", "# the command line"),
        ("log_capacity", "77", file_origin.as_str()),
        ("heartbeat_interval_ms", "2000", "# default"),
    ] {
        let l = line(key);
        assert!(l.contains(&format!("{key} = {value}")), "{l}");
        assert!(l.ends_with(origin), "{key}: {l}");
    }
    // The token is set, and said to be, but never printed.
    assert!(!stdout.contains("very-secret"), "{stdout}");
    assert!(
        line("token").starts_with("# token = (set, not shown)")
            && line("token").ends_with("CALLTOP_SESSION__TOKEN"),
        "{}",
        line("token")
    );
    assert!(stdout.contains(&format!("# Config file: {} (--config)", file.display())));

    let back = read_back(&stdout, "effective-back");
    assert_eq!(back.session.user, "env-user");
    assert_eq!(back.session.session, "from-flag");
    assert_eq!(back.session.idle_timeout_secs, 42);
    assert_eq!(back.ui.log_capacity, 77);
    assert_eq!(back.session.token, "", "a secret is not carried over");
    // What the run helper sets in the environment is in force too.
    assert_eq!(back.reconnect.max_attempts, 1);
}

#[test]
fn config_path_names_the_file_calltop_would_read_even_when_it_is_broken() {
    let home = scratch("path");
    std::fs::create_dir_all(home.join("calltop")).unwrap();
    let file = home.join("calltop").join("config.toml");
    std::fs::write(&file, "[ui\n").unwrap();
    let xdg = [("XDG_CONFIG_HOME", home.to_str().unwrap())];
    let (code, stdout, stderr) = run(calltop(&["config", "--path"], &xdg));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, format!("{}\n", file.display()));
    assert!(stderr.is_empty(), "{stderr}");

    let (code, stdout, stderr) = run(calltop(
        &["config", "--path", "--config", "/etc/elsewhere.toml"],
        &xdg,
    ));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "/etc/elsewhere.toml\n");
    assert!(stderr.contains("not there: defaults apply"), "{stderr}");
}

#[test]
fn config_with_a_broken_configuration_says_what_is_wrong_and_exits_2() {
    let dir = scratch("broken");
    let file = dir.join("c.toml");
    // Cannot be read as calltop's settings at all: the reason, nothing on stdout.
    std::fs::write(&file, "[ui]\ncolor = \"blue\"\n").unwrap();
    let (code, stdout, stderr) = run(calltop(
        &["config", "--config", file.to_str().unwrap()],
        &[],
    ));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("invalid ui.color = \"blue\""), "{stderr}");
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");

    // Readable but refused by a run: the values (where the bad one was set
    // shows), then what a run would refuse.
    std::fs::write(&file, "[ui]\nlog_capacity = 0\n").unwrap();
    let (code, stdout, stderr) = run(calltop(
        &["config", "--config", file.to_str().unwrap()],
        &[],
    ));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stdout.lines().any(|l| l.starts_with("log_capacity = 0")
            && l.ends_with(&format!("# config file {}", file.display()))),
        "{stdout}"
    );
    assert!(stderr.contains("invalid ui.log_capacity = 0"), "{stderr}");

    // A flag that is about a run, not a setting, is refused rather than ignored.
    let (code, _, stderr) = run(calltop(&["config", "--headless"], &[]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--headless does not change the configuration"),
        "{stderr}"
    );
}
