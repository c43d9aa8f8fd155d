//! Command-line flags (docs/EVENTS.md, "Headless mode").

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::backend::BackendKind;

#[derive(Debug, Parser)]
#[command(
    name = "calltop",
    version,
    about = "top for a call: watch and drive a call session from the terminal",
    // `calltop --server X serve` would silently ignore --server.
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,
    #[command(flatten)]
    pub session: SessionArgs,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run the reference call server.
    Serve(ServeArgs),
    /// Print a shell completion script (e.g. `calltop completions bash > /etc/bash_completion.d/calltop`).
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `calltop man > calltop.1`.
    Man,
    /// Replay a recording (`--record FILE`, or headless output) in the dashboard.
    Replay(ReplayArgs),
    /// Mint a join token for `calltop serve --token-secret` (printed on stdout).
    Token(TokenArgs),
    /// Print the configuration in force, each value with where it was set
    /// (default, config file, CALLTOP_* variable or flag); secrets are not shown.
    Config(Box<ConfigArgs>),
    /// Every session on a server, live: sort, filter, open one, join it.
    Top(TopArgs),
    /// Many real participants from this one process, with churn and faults;
    /// at the end every roster is checked against the server's own list and
    /// every event stream against the contract.
    Load(Box<LoadArgs>),
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Print a default config file instead: every key, commented, at its default.
    #[arg(long, conflicts_with = "path")]
    pub default: bool,
    /// Print the path of the config file calltop would read instead.
    #[arg(long)]
    pub path: bool,
    /// The dashboard's flags, to see what they would change.
    #[command(flatten)]
    pub session: SessionArgs,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub target: ServerArgs,
    /// How many sessions (Janus: rooms).
    #[arg(long, value_name = "N")]
    pub sessions: usize,
    /// Participants in each session.
    #[arg(long, value_name = "K")]
    pub per_session: usize,
    /// New participants per second until all are started (default 500/s).
    #[arg(long, value_name = "R/s")]
    pub ramp: Option<String>,
    /// How long the full fleet runs after the ramp: 30s, 2m (default 10s).
    #[arg(long, value_name = "D")]
    pub duration: Option<String>,
    /// Participants that leave and rejoin, per second.
    #[arg(long, value_name = "X/s")]
    pub churn: Option<String>,
    /// Connections dropped on purpose (fault drop), per second.
    #[arg(long, value_name = "Y/s")]
    pub drop: Option<String>,
    /// Connections stalled on purpose (fault stall, long enough to be
    /// noticed), per second.
    #[arg(long, value_name = "Z/s")]
    pub stall: Option<String>,
    /// Also write the final summary to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// No screen: a progress line on stderr now and then, the summary on stdout.
    #[arg(long)]
    pub headless: bool,
    /// Where the server's own list is read (default: from --server), for a
    /// load that goes through a proxy.
    #[arg(long, value_name = "URL")]
    pub admin_url: Option<String>,
    /// Sessions are PREFIX-0, PREFIX-1, … (calltop backend).
    #[arg(long, value_name = "PREFIX", default_value = "load")]
    pub prefix: String,
    /// Janus rooms are numbered from this one.
    #[arg(long, value_name = "ROOM", default_value_t = 1000)]
    pub first_room: u64,
    /// Seed for which participants churn and fault (default: random).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub janus: JanusArgs,
}

/// The server `top` and `load` read (its own list of sessions), shared by both.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The server: a reference server's ws://HOST:PORT/ws (top also takes
    /// http://HOST:PORT), or a Janus server's ws://HOST:8188 (with --backend janus).
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// What the server is.
    #[arg(long, value_name = "calltop|janus")]
    pub backend: Option<BackendKind>,
    /// The reference server's admin token, for its list of sessions. Visible
    /// in `ps`: prefer --admin-token-file or CALLTOP_TOP__ADMIN_TOKEN.
    #[arg(long, value_name = "TOKEN", conflicts_with = "admin_token_file")]
    pub admin_token: Option<String>,
    /// Read the admin token from FILE (its first line).
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    #[command(flatten)]
    pub target: ServerArgs,
    /// Janus's Admin API (ws://HOST:7188), for when each participant joined;
    /// its secret is [top].janus_admin_secret or CALLTOP_TOP__JANUS_ADMIN_SECRET.
    #[arg(long, value_name = "URL")]
    pub janus_admin_url: Option<String>,
    /// Milliseconds between polls (default 2000).
    #[arg(long, value_name = "MS")]
    pub poll_interval_ms: Option<u64>,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The server's token secret (at least 16 bytes). Visible in `ps`:
    /// prefer --secret-file or CALLTOP_SERVE__TOKEN_SECRET, which `serve`
    /// reads too.
    #[arg(
        long,
        value_name = "SECRET",
        env = "CALLTOP_SERVE__TOKEN_SECRET",
        hide_env_values = true,
        conflicts_with = "secret_file"
    )]
    pub secret: Option<String>,
    /// Read the secret from FILE (its first line).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// The session the token lets its holder join.
    #[arg(long, value_name = "ID")]
    pub session: String,
    /// The user it lets its holder join as.
    #[arg(long, value_name = "NAME")]
    pub user: String,
    /// How long it is good for: `90s`, `30m`, `1h`, `7d`, `1d 12h`.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_ttl)]
    pub ttl: std::time::Duration,
}

/// A token lifetime in jiff's friendly format (`1h`, `30m`, `7d`, `1d 12h`);
/// a day is 24 hours.
fn parse_ttl(s: &str) -> Result<std::time::Duration, String> {
    let secs = s
        .parse::<jiff::Span>()
        .ok()
        .and_then(|span| {
            span.total((
                jiff::Unit::Second,
                jiff::SpanRelativeTo::days_are_24_hours(),
            ))
            .ok()
        })
        .ok_or_else(|| format!("{s:?} is not a duration such as 90s, 30m, 1h or 7d"))?;
    if secs.is_nan() || secs < 1.0 {
        return Err(format!("{s:?}: a token must be good for some time"));
    }
    if secs > 366.0 * 24.0 * 3600.0 {
        return Err(format!("{s:?}: at most a year (366 days)"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The recording: NDJSON events, one per line.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print a summary (joins, losses and their downtimes, terminal events,
    /// contract violations) instead of opening the dashboard.
    #[arg(long)]
    pub headless: bool,
}

impl Cli {
    /// The command line, parsed; `--help` ends with the environment
    /// variables, the config file this machine would read, examples and the
    /// exit statuses.
    pub fn parse_args() -> Cli {
        let cmd = <Cli as clap::CommandFactory>::command().after_long_help(help_footer());
        // clap's own help and errors follow --color too (NO_COLOR and
        // CLICOLOR_FORCE it reads itself); it speaks before any config is read.
        let cmd = match color_flag(std::env::args_os().skip(1)) {
            Some("always") => cmd.color(clap::ColorChoice::Always),
            Some("never") => cmd.color(clap::ColorChoice::Never),
            _ => cmd,
        };
        let matches = cmd.get_matches();
        <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }

    /// The completion script for `shell`, for every flag and subcommand.
    pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut cmd, "calltop", &mut out);
        out
    }

    /// The man page, in roff.
    pub fn man_page() -> std::io::Result<Vec<u8>> {
        let cmd = <Cli as clap::CommandFactory>::command();
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut out)?;
        Ok(out)
    }
}

#[derive(Debug, Args, Default)]
pub struct SessionArgs {
    /// Signaling server URL (ws:// or wss://). Without one, calltop starts an embedded server.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Session id to join.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Our user name in the session.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Join token, if the server needs one. Visible in `ps`: prefer
    /// --token-file or CALLTOP_SESSION__TOKEN.
    #[arg(long, value_name = "TOKEN", conflicts_with = "token_file")]
    pub token: Option<String>,
    /// Read the join token from FILE (its first line).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Signaling protocol the server speaks.
    #[arg(long, value_name = "calltop|janus")]
    pub backend: Option<BackendKind>,
    /// Seconds alone before leaving (0 disables).
    #[arg(long, value_name = "SECS")]
    pub idle_timeout: Option<u64>,
    #[command(flatten)]
    pub janus: JanusArgs,
    /// Config file (default: the user's config directory).
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Colour: auto (on a terminal unless NO_COLOR is set; CLICOLOR_FORCE
    /// forces it into pipes and files), always, or never (the dashboard's
    /// no-colour palette too). Sets `[ui].color`.
    #[arg(long, value_name = "WHEN", global = true, value_parser = ["auto", "always", "never"])]
    pub color: Option<String>,
    /// Write diagnostics (tracing; RUST_LOG filters them) to FILE, appending:
    /// while the dashboard runs they also reach its log; in headless mode
    /// and `serve` they go there instead of stderr.
    #[arg(long, value_name = "FILE", global = true)]
    pub log_file: Option<PathBuf>,
    /// No UI: NDJSON events on stdout, commands on stdin.
    #[arg(long)]
    pub headless: bool,
    /// Headless: after the session ends, wait for `join` or `quit` instead of exiting.
    #[arg(long, requires = "headless")]
    pub stay: bool,
    /// Headless: also print heartbeat events.
    #[arg(long, requires = "headless")]
    pub verbose: bool,
    /// Write every event to FILE as it happens (NDJSON; `calltop replay FILE` shows it again).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// With --record: replace FILE if it exists.
    #[arg(long, requires = "record")]
    pub force: bool,
    /// Refuse fault injection (the fault keys and `fault …` on stdin), for
    /// watching production (config: faults.enabled = false).
    #[arg(long)]
    pub no_faults: bool,
    /// Headless: stop at the first contract violation, leaving the session,
    /// with exit status 9.
    #[arg(long, requires = "headless")]
    pub strict: bool,
}

impl SessionArgs {
    /// The first flag given that is about a run, not a setting (`calltop
    /// config` refuses them rather than ignore them).
    pub fn not_a_setting(&self) -> Option<&'static str> {
        [
            ("--headless", self.headless),
            ("--stay", self.stay),
            ("--verbose", self.verbose),
            ("--record", self.record.is_some()),
            ("--force", self.force),
            ("--strict", self.strict),
        ]
        .into_iter()
        .find_map(|(flag, given)| given.then_some(flag))
    }
}

/// Options of `--backend janus` (the `[janus]` config section).
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Janus (--backend janus)")]
pub struct JanusArgs {
    /// The room's pin.
    #[arg(long = "janus-pin", value_name = "PIN")]
    pub pin: Option<String>,
    /// The Janus server's api_secret.
    #[arg(long = "janus-api-secret", value_name = "SECRET")]
    pub api_secret: Option<String>,
    /// Create the room if it does not exist.
    #[arg(long = "janus-create-room")]
    pub create_room: bool,
    /// Secret for a room we create.
    #[arg(long = "janus-room-secret", value_name = "SECRET")]
    pub room_secret: Option<String>,
    /// The VideoRoom plugin's admin_key, to create rooms where it is required.
    #[arg(long = "janus-admin-key", value_name = "KEY")]
    pub admin_key: Option<String>,
    /// Join with this participant id instead of one Janus picks.
    #[arg(long = "janus-participant-id", value_name = "ID")]
    pub participant_id: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, HOST:PORT (127.0.0.1:7878, localhost:7878).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Admin API token (default: random, printed at start). Visible in
    /// `ps`: prefer --admin-token-file or CALLTOP_SERVE__ADMIN_TOKEN.
    #[arg(long, value_name = "TOKEN", conflicts_with = "admin_token_file")]
    pub admin_token: Option<String>,
    /// Read the admin token from FILE (its first line).
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// Require join tokens signed with SECRET (`calltop token` mints them);
    /// without one, anyone can join any session as anyone. Visible in
    /// `ps`: prefer --token-secret-file or CALLTOP_SERVE__TOKEN_SECRET.
    #[arg(long, value_name = "SECRET", conflicts_with = "token_secret_file")]
    pub token_secret: Option<String>,
    /// Read the token secret from FILE (its first line).
    #[arg(long, value_name = "FILE")]
    pub token_secret_file: Option<PathBuf>,
    /// Seconds a dropped participant's slot is kept for a resume.
    #[arg(long, value_name = "SECS")]
    pub resume_window: Option<u64>,
    /// Largest frame accepted from a client, in bytes.
    #[arg(long, value_name = "BYTES")]
    pub max_frame_bytes: Option<u64>,
}

impl Cli {
    /// The session flags in force: `calltop config` takes its own copy.
    pub fn session_args(&self) -> &SessionArgs {
        match &self.command {
            Some(Cmd::Config(a)) => &a.session,
            _ => &self.session,
        }
    }

    /// Flags as config overrides, so they take precedence over everything.
    pub fn overrides(&self) -> Vec<(&'static str, config::Value)> {
        let s = self.session_args();
        let mut o: Vec<(&'static str, config::Value)> = Vec::new();
        let mut put = |k: &'static str, v: Option<config::Value>| {
            if let Some(v) = v {
                o.push((k, v));
            }
        };
        put("session.server", s.server.clone().map(Into::into));
        put("session.session", s.session.clone().map(Into::into));
        put("session.user", s.user.clone().map(Into::into));
        put("session.token", s.token.clone().map(Into::into));
        put("session.backend", s.backend.map(|b| b.as_str().into()));
        put("session.idle_timeout_secs", s.idle_timeout.map(Into::into));
        put("faults.enabled", s.no_faults.then_some(false.into()));
        put("ui.color", s.color.clone().map(Into::into));
        s.janus.put(&mut put);
        if let Some(Cmd::Serve(a)) = &self.command {
            put("serve.listen", a.listen.clone().map(Into::into));
            put("serve.admin_token", a.admin_token.clone().map(Into::into));
            put("serve.token_secret", a.token_secret.clone().map(Into::into));
            put("serve.resume_window_secs", a.resume_window.map(Into::into));
            put("serve.max_frame_bytes", a.max_frame_bytes.map(Into::into));
        }
        let target = match &self.command {
            Some(Cmd::Top(a)) => Some(&a.target),
            Some(Cmd::Load(a)) => Some(&a.target),
            _ => None,
        };
        if let Some(t) = target {
            put("session.server", t.server.clone().map(Into::into));
            put("session.backend", t.backend.map(|b| b.as_str().into()));
            put("top.admin_token", t.admin_token.clone().map(Into::into));
        }
        if let Some(Cmd::Top(a)) = &self.command {
            put(
                "top.janus_admin_url",
                a.janus_admin_url.clone().map(Into::into),
            );
            put("top.poll_interval_ms", a.poll_interval_ms.map(Into::into));
        }
        if let Some(Cmd::Load(a)) = &self.command {
            a.janus.put(&mut put);
        }
        o
    }
}

impl JanusArgs {
    /// These flags as config overrides (`[janus]`).
    fn put(&self, put: &mut impl FnMut(&'static str, Option<config::Value>)) {
        put("janus.pin", self.pin.clone().map(Into::into));
        put("janus.api_secret", self.api_secret.clone().map(Into::into));
        put("janus.create_room", self.create_room.then_some(true.into()));
        put(
            "janus.room_secret",
            self.room_secret.clone().map(Into::into),
        );
        put("janus.admin_key", self.admin_key.clone().map(Into::into));
        put("janus.participant_id", self.participant_id.map(Into::into));
    }
}

/// The value of the last `--color WHEN` or `--color=WHEN` among `args`.
fn color_flag(args: impl Iterator<Item = std::ffi::OsString>) -> Option<&'static str> {
    let mut found = None;
    let mut next_is_value = false;
    for arg in args {
        let Some(arg) = arg.to_str() else { continue };
        let value = if std::mem::take(&mut next_is_value) {
            Some(arg)
        } else if arg == "--color" {
            next_is_value = true;
            None
        } else {
            arg.strip_prefix("--color=")
        };
        if let Some(v) = value {
            found = ["auto", "always", "never"].into_iter().find(|w| *w == v);
        }
        // Past `--`, nothing is a flag.
        if arg == "--" {
            break;
        }
    }
    found
}

fn help_footer() -> String {
    let config = match crate::config::default_path() {
        Some(p) if p.is_file() => format!("{} (found)", p.display()),
        Some(p) => format!("{} (not there: defaults apply)", p.display()),
        None => "none (no home directory)".to_owned(),
    };
    let statuses: String = crate::exit::Exit::ALL
        .iter()
        .map(|e| format!("  {}  {}\n", e.code(), e.meaning()))
        .collect();
    format!(
        "Environment:
  CALLTOP_<SECTION>__<KEY>  any config key, e.g. CALLTOP_SESSION__SERVER=ws://host:7878/ws,
                            CALLTOP_JANUS__API_SECRET=... (keeps secrets out of `ps`)
  NO_COLOR                  no colour (unless --color always)
  CLICOLOR_FORCE            colour on stderr even when it is not a terminal (NO_COLOR wins)
  RUST_LOG                  diagnostics filter, e.g. calltop=debug

Config file: {config}; --config FILE reads another
(`calltop config --default` prints one to start from).
Precedence: defaults < config file < CALLTOP_* < flags.

Examples:
  calltop                                         the dashboard on an embedded demo
  calltop --server ws://127.0.0.1:7878/ws --session standup --user alice
  calltop --backend janus --server ws://127.0.0.1:8188 --session 1234 --user alice
  calltop --headless --server ws://127.0.0.1:7878/ws --session standup --user bot
  calltop --record call.ndjson --server ws://127.0.0.1:7878/ws --session standup --user alice
  calltop replay call.ndjson                     the recorded call in the dashboard
  calltop replay --headless call.ndjson          its joins, losses and verdict
  calltop serve --listen 127.0.0.1:7878
  calltop config                                 the settings in force, and where each was set
  calltop --log-file calltop.log                 the dashboard, diagnostics into calltop.log
  calltop top --server ws://127.0.0.1:7878/ws --admin-token-file token.txt   every session
  calltop load --server ws://127.0.0.1:7878/ws --admin-token-file token.txt --sessions 100 --per-session 20

Exit statuses:
{statuses}  101  calltop crashed: a bug (it says where its crash report went)
"
    )
}
