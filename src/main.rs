//! The `calltop` binary: flags and config in, then the dashboard, headless mode or the server.

// Signals (SIGHUP, SIGTERM) and the terminal's hang-up detection are Unix's.
#[cfg(not(unix))]
compile_error!("calltop runs on Unix-like systems only (Linux, macOS, the BSDs)");

use std::process::ExitCode;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

use calltop::cli::{Cli, Cmd};
use calltop::config::{self, Config, Sources};
use calltop::exit::Exit;
use calltop::server;
use calltop::{CallSession, headless};

fn main() -> ExitCode {
    calltop::crash::install();
    let cli = Cli::parse_args();
    // Neither needs a configuration (nor should a broken one stop them).
    match &cli.command {
        Some(Cmd::Completions { shell }) => return print(&Cli::completions(*shell)),
        Some(Cmd::Replay(args)) if args.headless => {
            return calltop::record::summary::run_headless(&args.file).into();
        }
        Some(Cmd::Token(args)) => return mint_token(args),
        Some(Cmd::Man) => {
            return match Cli::man_page() {
                Ok(page) => print(&page),
                Err(e) => {
                    say(format_args!("cannot render the man page: {e}"));
                    Exit::Internal.into()
                }
            };
        }
        _ => {}
    }
    // Neither reads the configuration, so a broken one cannot stop them.
    if let Some(Cmd::Config(args)) = &cli.command {
        if args.default {
            return print(calltop::config_print::DEFAULT_FILE.as_bytes());
        }
        if args.path {
            return print_config_path(args.session.config.as_deref());
        }
        if let Some(flag) = args.session.not_a_setting() {
            say(format_args!(
                "config: {flag} does not change the configuration; `calltop config` shows the settings only"
            ));
            return Exit::Usage.into();
        }
    }
    let file = cli.session_args().config.as_deref();
    let loaded = match Config::load_with_warnings(Sources {
        file,
        optional_file: if file.is_none() {
            config::default_path()
        } else {
            None
        },
        env: None,
        overrides: match secret_overrides(&cli) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("calltop: {e}");
                return Exit::Usage.into();
            }
        },
    }) {
        Ok(c) => c,
        Err(e) => {
            say(e);
            return Exit::Usage.into();
        }
    };
    for w in &loaded.warnings {
        say(format_args!("warning: {w}"));
    }
    if let Some(Cmd::Config(_)) = &cli.command {
        let shown = match calltop::config_print::effective(&loaded, file) {
            Ok(text) => print(text.as_bytes()),
            Err(e) => {
                say(format_args!(
                    "config: cannot write the configuration as TOML: {e}"
                ));
                return Exit::Internal.into();
            }
        };
        // What a run would refuse, said after the values, which show where it was set.
        if let Err(e) = loaded.config.check() {
            say(loaded.explain(&e));
            return Exit::Usage.into();
        }
        return shown;
    }
    // The whole configuration, checked the same way for the dashboard and
    // headless mode, before anything starts.
    if cli.command.is_none()
        && let Err(e) = loaded.config.check()
    {
        say(loaded.explain(&e));
        return Exit::Usage.into();
    }
    let config = loaded.config;
    if let Some(path) = &cli.session_args().log_file
        && let Err(e) = calltop::diagnostics::open_file(path)
    {
        say(e);
        return Exit::Usage.into();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            say(format_args!("cannot start the async runtime: {e}"));
            return Exit::Internal.into();
        }
    };
    let result = runtime.block_on(async {
        match &cli.command {
            Some(Cmd::Serve(_)) => serve(&config).await,
            Some(Cmd::Completions { .. } | Cmd::Man | Cmd::Token(_) | Cmd::Config(_)) => {
                unreachable!("handled before the runtime")
            }
            Some(Cmd::Replay(args)) => calltop::ui::replay::run(config, &args.file).await,
            Some(Cmd::Top(_)) => calltop::top::run(config).await,
            Some(Cmd::Load(args)) => calltop::load::run(config, args).await,
            None if cli.session.headless => run_headless(&config, &cli).await,
            None => calltop::ui::run(config, record_to(&cli)).await,
        }
    });
    // A blocking stdin read (headless) would hold a plain runtime drop forever.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(exit) => exit.into(),
        Err(e) => {
            say(format_args!("{e:#}"));
            Exit::Internal.into()
        }
    }
}

/// The flags as config overrides, with a secret read from its file.
fn secret_overrides(cli: &Cli) -> Result<Vec<(&'static str, ::config::Value)>, String> {
    let mut o = cli.overrides();
    let mut from_file = |key: &'static str, what: &str, path: &std::path::Path| {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the {what} from {}: {e}", path.display()))?;
        o.push((
            key,
            text.lines().next().unwrap_or_default().to_owned().into(),
        ));
        Ok::<(), String>(())
    };
    if let Some(path) = &cli.session_args().token_file {
        from_file("session.token", "join token", path)?;
    }
    if let Some(Cmd::Serve(a)) = &cli.command {
        if let Some(path) = &a.token_secret_file {
            from_file("serve.token_secret", "token secret", path)?;
        }
        if let Some(path) = &a.admin_token_file {
            from_file("serve.admin_token", "admin token", path)?;
        }
    }
    let target = match &cli.command {
        Some(Cmd::Top(a)) => Some(&a.target),
        Some(Cmd::Load(a)) => Some(&a.target),
        _ => None,
    };
    if let Some(path) = target.and_then(|t| t.admin_token_file.as_ref()) {
        from_file("top.admin_token", "admin token", path)?;
    }
    Ok(o)
}

/// `calltop config --path`: the file `calltop` would read, whether or not it is there.
fn print_config_path(given: Option<&std::path::Path>) -> ExitCode {
    let Some(path) = given.map(ToOwned::to_owned).or_else(config::default_path) else {
        say("config: no home directory, so no default config file; give --config FILE");
        return Exit::Usage.into();
    };
    if !path.exists() {
        say(format_args!(
            "config: {} is not there: defaults apply (`calltop config --default` prints a file to start from)",
            path.display()
        ));
    }
    print(format!("{}\n", path.display()).as_bytes())
}

/// `calltop token`: prints a join token for `serve --token-secret`.
fn mint_token(args: &calltop::cli::TokenArgs) -> ExitCode {
    let secret = match (&args.secret, &args.secret_file) {
        (Some(s), _) => s.clone(),
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(text) => text.lines().next().unwrap_or_default().to_owned(),
            Err(e) => {
                eprintln!(
                    "calltop: cannot read the secret from {}: {e}",
                    path.display()
                );
                return Exit::Usage.into();
            }
        },
        (None, None) => {
            eprintln!(
                "calltop: token: no secret: give --secret-file FILE, --secret SECRET or CALLTOP_SERVE__TOKEN_SECRET"
            );
            return Exit::Usage.into();
        }
    };
    let names_ok = [("--session", &args.session), ("--user", &args.user)]
        .into_iter()
        .find(|(_, v)| !calltop::protocol::valid_name(v));
    if let Some((flag, v)) = names_ok {
        eprintln!(
            "calltop: token: {flag} {v:?}: expected 1 to 64 characters, no control characters"
        );
        return Exit::Usage.into();
    }
    match calltop::token::mint(
        secret.as_bytes(),
        &args.session,
        &args.user,
        args.ttl,
        std::time::SystemTime::now(),
    ) {
        Ok(token) => print(format!("{token}\n").as_bytes()),
        Err(e) => {
            eprintln!("calltop: token: {e}");
            Exit::Usage.into()
        }
    }
}

fn print(bytes: &[u8]) -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Exit::Ok.into(),
        Err(e) => {
            say(format_args!("cannot write to stdout: {e}"));
            Exit::Internal.into()
        }
    }
}

/// A message on stderr. A closed stderr is no reason to panic (`eprintln!`
/// would, with status 101).
fn say(message: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "calltop: {message}");
}

fn stderr_logging(default: &str, config: &Config) {
    calltop::diagnostics::to_stderr(default, calltop::color::for_stderr(config.ui.color));
}

async fn serve(config: &Config) -> anyhow::Result<Exit> {
    stderr_logging("calltop=info", config);
    let server_config = match config.server_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("calltop: {e}");
            return Ok(Exit::Usage);
        }
    };
    // Each closes every client with 1001 (going away), so clients reconnect
    // at once, rather than a kill's reset they may take for a network fault.
    // Installed before the address is printed: whoever reads it may signal.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let listen = server_config.listen;
    let server_config_token = server_config.admin_token.clone();
    let server = server::start(server_config)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    println!("calltop serve: WebSocket {}", server.ws_url());
    println!(
        "calltop serve: admin API {}/api/sessions",
        server.http_url()
    );
    // Only a generated token is printed: one given on the command line or in
    // the config is the operator's secret already.
    if server_config_token.is_none() {
        println!("calltop serve: admin token {}", server.admin_token);
    }
    if config.serve.token_secret.is_empty() {
        println!(
            "calltop serve: no --token-secret: anyone can join any session as anyone \
             (see `calltop token`)"
        );
    }
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = term.recv() => {}
        _ = hangup.recv() => {}
    }
    server.shutdown().await;
    Ok(Exit::Ok)
}

async fn run_headless(config: &Config, cli: &Cli) -> anyhow::Result<Exit> {
    stderr_logging("warn", config);
    let (settings, embedded) = calltop::demo::target(config).await?;
    if let Some(e) = &embedded {
        say(format_args!(
            "no server configured; using an embedded reference server at {} (admin API {}, token {})",
            e.ws_url(),
            e.server.http_url(),
            e.server.admin_token
        ));
    }
    let session = CallSession::new(settings);
    let recording = match calltop::record::start(record_to(cli).as_ref(), &session).await {
        Ok(r) => r,
        Err(e) => {
            say(e);
            if let Some(server) = embedded {
                server.shutdown().await;
            }
            return Ok(Exit::Usage);
        }
    };
    let exit = headless::run(
        session.clone(),
        headless::Options {
            stay: cli.session.stay,
            verbose: cli.session.verbose,
            strict: cli.session.strict,
        },
    )
    .await?;
    session.shutdown().await;
    if let Some(r) = recording {
        r.finish();
    }
    if let Some(server) = embedded {
        server.shutdown().await;
    }
    Ok(exit)
}

fn record_to(cli: &Cli) -> Option<calltop::record::RecordTo> {
    cli.session
        .record
        .clone()
        .map(|path| calltop::record::RecordTo {
            path,
            force: cli.session.force,
        })
}
