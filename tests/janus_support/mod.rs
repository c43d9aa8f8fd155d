//! A real Janus (Debian package `janus`, 1.1.2) on loopback for integration
//! tests, and a raw test-side client that speaks its JSON API.
//!
//! - [`Janus::start`] runs one private instance: free loopback ports, its own
//!   temp folder with configs made from `assets/janus/*.jcfg`, only the
//!   WebSocket transport and the VideoRoom plugin, no STUN/TURN. Tests may run
//!   many in parallel. Dropping it kills the process and removes the folder.
//! - [`require_janus`] starts one, or skips the test (returns `None`) when the
//!   `janus` binary is missing, except under `CI`, where that is a failure.
//! - [`JanusPeer`] is a participant driven by the test itself: it matches
//!   replies by transaction and keeps every other frame as an event.
//!
//! Every wait is bounded; a timeout panics with what was expected.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use rand::RngExt;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long one request waits for its reply before the test fails.
pub const WAIT: Duration = Duration::from_secs(5);
/// How long a start may take before the test fails (it takes ~50-100 ms).
const START_WAIT: Duration = Duration::from_secs(10);
/// Starts retried with new ports when the picked ones were taken meanwhile.
const START_ATTEMPTS: usize = 4;
/// The period of the background keepalive of a [`JanusPeer`] session.
pub const KEEPALIVE_EVERY: Duration = Duration::from_secs(2);
/// Lines of `janus.log` shown when something fails.
const LOG_TAIL_LINES: usize = 40;

const TEMPLATES: [&str; 3] = [
    "janus.jcfg",
    "janus.transport.websockets.jcfg",
    "janus.plugin.videoroom.jcfg",
];

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

// ---------------------------------------------------------------------------
// Finding the installation
// ---------------------------------------------------------------------------

/// Where the `janus` binary and the two shared objects we load are.
#[derive(Debug, Clone)]
pub struct Install {
    pub binary: PathBuf,
    pub videoroom: PathBuf,
    pub websockets: PathBuf,
}

/// The installation, looked up once per test binary; `Err` says what is missing.
pub fn install() -> &'static Result<Install, String> {
    static INSTALL: OnceLock<Result<Install, String>> = OnceLock::new();
    INSTALL.get_or_init(find_install)
}

/// Whether Janus can run here (binary on PATH and both plugins installed).
pub fn janus_available() -> bool {
    install().is_ok()
}

/// `true` if the test can go on; `false` after printing why it is skipped.
/// Under `CI` a missing Janus panics instead: CI installs it, so a skip there
/// would hide a broken setup.
pub fn janus_or_skip() -> bool {
    match install() {
        Ok(_) => true,
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("janus is not installed: .ci/run installs it ({why})")
        }
        Err(why) => {
            eprintln!(
                "SKIPPED: this test needs a real Janus: {why}. \
                 Install it with `apt-get install janus` (CI does; set CI=1 to make this a failure)."
            );
            false
        }
    }
}

/// Starts a Janus, or returns `None` (after a skip message) when none is
/// installed: `let Some(janus) = require_janus(JanusOptions::default()).await else { return };`
pub async fn require_janus(opts: JanusOptions) -> Option<Janus> {
    if !janus_or_skip() {
        return None;
    }
    Some(Janus::start(opts).await)
}

fn find_install() -> Result<Install, String> {
    let binary = find_on_path("janus").ok_or("no `janus` binary on PATH")?;
    let videoroom = find_lib("plugins", "libjanus_videoroom.so")
        .ok_or("`janus` is there but libjanus_videoroom.so is not")?;
    let websockets = find_lib("transports", "libjanus_websockets.so")
        .ok_or("`janus` is there but libjanus_websockets.so is not")?;
    Ok(Install {
        binary,
        videoroom,
        websockets,
    })
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// `<libdir>/janus/<kind>/<file>`: Debian uses the multiarch libdir
/// (`/usr/lib/x86_64-linux-gnu`), builds from source `/usr/local/lib` or `/opt/janus/lib`.
fn find_lib(kind: &str, file: &str) -> Option<PathBuf> {
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(entries) = fs::read_dir("/usr/lib") {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().ends_with("-linux-gnu") {
                roots.push(e.path());
            }
        }
    }
    roots.extend(["/usr/lib", "/usr/lib64", "/usr/local/lib", "/opt/janus/lib"].map(PathBuf::from));
    roots
        .into_iter()
        .map(|r| r.join("janus").join(kind).join(file))
        .find(|p| p.exists())
}

// ---------------------------------------------------------------------------
// One Janus instance
// ---------------------------------------------------------------------------

/// Per-instance settings; everything else is fixed by `assets/janus/`.
#[derive(Debug, Clone)]
pub struct JanusOptions {
    /// `session_timeout`: a session with no request for this long gets a
    /// `timeout` event (2-4 s late: Janus's watchdog ticks every 2 s).
    pub session_timeout_secs: u32,
    /// `reclaim_session_timeout`: how long a session survives its socket
    /// dropping, so that `claim` can resume it. 0 = stock: destroyed at once.
    pub reclaim_timeout_secs: u32,
    /// `api_secret`: every request must carry `"apisecret"`.
    pub api_secret: Option<String>,
    /// `token_auth`: every request must carry a `"token"` added beforehand
    /// with [`Janus::admin_add_token`].
    pub token_auth: bool,
    /// The VideoRoom `admin_key`: room `create` must carry `"admin_key"`.
    pub admin_key: Option<String>,
}

impl Default for JanusOptions {
    fn default() -> Self {
        JanusOptions {
            session_timeout_secs: 10,
            reclaim_timeout_secs: 5,
            api_secret: None,
            token_auth: false,
            admin_key: None,
        }
    }
}

/// A running Janus, private to one test. Drop kills it and removes its folder
/// (and, if the test is failing, prints the tail of its log first).
pub struct Janus {
    child: Option<Child>,
    /// Kills Janus if the test binary dies without running our Drop.
    watchdog: Option<Child>,
    dir: PathBuf,
    ws_port: u16,
    admin_port: u16,
    server_name: String,
    admin_secret: String,
    opts: JanusOptions,
    /// From spawning the process to both APIs answering as this instance.
    pub startup: Duration,
    spawned: Instant,
    frozen: bool,
}

/// Why one start attempt failed.
enum StartFailure {
    /// The process exited (a picked port was taken meanwhile): retry.
    Exited(String),
    /// Another Janus answered on a picked port: retry.
    NotOurs(String),
    /// No answer within [`START_WAIT`]: give up.
    Timeout(String),
}

impl Janus {
    /// Starts an instance and waits until its Janus API answers `ping` and
    /// both APIs answer `info` with this instance's server name.
    pub async fn start(opts: JanusOptions) -> Janus {
        let install = match install() {
            Ok(i) => i.clone(),
            Err(why) => panic!("Janus::start: {why} (use require_janus to skip instead)"),
        };
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let mut janus = Janus::spawn(&install, opts.clone());
            match janus.wait_ready().await {
                Ok(()) => return janus,
                Err(StartFailure::Timeout(why)) => {
                    panic!("Janus did not come up: {why}\n{}", janus.log_tail())
                }
                Err(StartFailure::Exited(why) | StartFailure::NotOurs(why)) => {
                    failures.push(format!("{why}\n{}", janus.log_tail()));
                }
            }
        }
        panic!(
            "Janus failed to start {START_ATTEMPTS} times:\n{}",
            failures.join("\n---\n")
        );
    }

    /// Writes a fresh config folder and spawns `janus -F <dir> -o` on it.
    fn spawn(install: &Install, opts: JanusOptions) -> Janus {
        let (ws_port, admin_port) = free_port_pair();
        let tag = random_hex();
        let dir = std::env::temp_dir().join(format!("calltop-janus-{}-{tag}", std::process::id()));
        let mut janus = Janus {
            child: None,
            watchdog: None,
            dir,
            ws_port,
            admin_port,
            server_name: format!("calltop-test-{tag}"),
            admin_secret: format!("admin-{}", random_hex()),
            opts,
            startup: Duration::ZERO,
            spawned: Instant::now(),
            frozen: false,
        };
        janus.write_config(install);
        let log = fs::File::create(janus.log_path()).expect("create janus.log");
        janus.spawned = Instant::now();
        let child = Command::new(&install.binary)
            .arg("-F")
            .arg(&janus.dir)
            .arg("-o")
            .current_dir(&janus.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup janus.log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", install.binary.display()));
        janus.watchdog = spawn_watchdog(child.id(), &janus.dir);
        janus.child = Some(child);
        janus
    }

    /// The three configs from the templates, and plugin/transport folders
    /// holding a symlink each, so Janus loads nothing else.
    fn write_config(&self, install: &Install) {
        fs::create_dir_all(self.dir.parent().unwrap()).unwrap();
        fs::create_dir(&self.dir).expect("create the instance folder");
        for (sub, lib) in [
            ("plugins", Some(&install.videoroom)),
            ("transports", Some(&install.websockets)),
            ("events", None),
            ("loggers", None),
        ] {
            let folder = self.dir.join(sub);
            fs::create_dir(&folder).unwrap();
            if let Some(lib) = lib {
                std::os::unix::fs::symlink(lib, folder.join(lib.file_name().unwrap())).unwrap();
            }
        }
        let vars = self.template_vars();
        let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/janus");
        for name in TEMPLATES {
            let template = fs::read_to_string(assets.join(name))
                .unwrap_or_else(|e| panic!("read assets/janus/{name}: {e}"));
            let text = fill_template(&template, &vars);
            fs::write(self.dir.join(name), text).unwrap();
        }
    }

    fn template_vars(&self) -> Vec<(&'static str, String)> {
        let o = &self.opts;
        let line = |key: &str, v: &Option<String>| {
            v.as_ref()
                .map(|s| format!("{key} = {}", jcfg_string(s)))
                .unwrap_or_default()
        };
        vec![
            ("@DIR@", self.dir.display().to_string()),
            ("@SERVER_NAME@", self.server_name.clone()),
            ("@SESSION_TIMEOUT@", o.session_timeout_secs.to_string()),
            ("@RECLAIM_TIMEOUT@", o.reclaim_timeout_secs.to_string()),
            ("@ADMIN_SECRET@", self.admin_secret.clone()),
            ("@TOKEN_AUTH@", o.token_auth.to_string()),
            ("@API_SECRET_LINE@", line("api_secret", &o.api_secret)),
            ("@ADMIN_KEY_LINE@", line("admin_key", &o.admin_key)),
            ("@WS_PORT@", self.ws_port.to_string()),
            ("@ADMIN_WS_PORT@", self.admin_port.to_string()),
        ]
    }

    /// Polls until the Janus API pongs and both APIs report our server name
    /// (a picked port may have been taken by another instance meanwhile).
    async fn wait_ready(&mut self) -> Result<(), StartFailure> {
        let deadline = self.spawned + START_WAIT;
        let mut last_error = String::from("not tried yet");
        while Instant::now() < deadline {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(StartFailure::Exited(format!("janus exited with {status}")));
            }
            match self.probe().await {
                Ok(()) => {
                    self.startup = self.spawned.elapsed();
                    return Ok(());
                }
                Err(Probe::Foreign(why)) => return Err(StartFailure::NotOurs(why)),
                Err(Probe::NotYet(why)) => last_error = why,
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(StartFailure::Timeout(format!(
            "no answer within {START_WAIT:?} on {} / {}: {last_error}",
            self.ws_url(),
            self.admin_url()
        )))
    }

    async fn probe(&self) -> Result<(), Probe> {
        let short = Duration::from_millis(500);
        let mut ws = ws_connect(&self.ws_url(), "janus-protocol", short)
            .await
            .map_err(Probe::NotYet)?;
        let pong = ws_roundtrip(&mut ws, json!({"janus": "ping"}), short)
            .await
            .map_err(Probe::NotYet)?;
        if pong["janus"] != "pong" {
            return Err(Probe::NotYet(format!("ping answered {pong}")));
        }
        let info = ws_roundtrip(&mut ws, json!({"janus": "info"}), short)
            .await
            .map_err(Probe::NotYet)?;
        self.check_name("Janus API", &info)?;
        let _ = ws.close(None).await;

        let mut admin = ws_connect(&self.admin_url(), "janus-admin-protocol", short)
            .await
            .map_err(Probe::NotYet)?;
        let body = json!({"janus": "info", "admin_secret": self.admin_secret});
        let info = ws_roundtrip(&mut admin, body, short)
            .await
            .map_err(Probe::NotYet)?;
        self.check_name("Admin API", &info)?;
        let _ = admin.close(None).await;
        Ok(())
    }

    fn check_name(&self, api: &str, info: &Value) -> Result<(), Probe> {
        match info["server-name"].as_str() {
            Some(name) if name == self.server_name => Ok(()),
            Some(other) => Err(Probe::Foreign(format!(
                "{api}: another Janus ({other}) answers on our port"
            ))),
            None => Err(Probe::Foreign(format!("{api}: `info` answered {info}"))),
        }
    }

    /// The Janus API: `ws://127.0.0.1:PORT` (Janus ignores the path).
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.ws_port)
    }

    /// The Admin API (subprotocol `janus-admin-protocol`, needs [`Self::admin_secret`]).
    pub fn admin_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.admin_port)
    }

    pub fn ws_port(&self) -> u16 {
        self.ws_port
    }

    pub fn admin_secret(&self) -> &str {
        &self.admin_secret
    }

    pub fn api_secret(&self) -> Option<&str> {
        self.opts.api_secret.as_deref()
    }

    pub fn options(&self) -> &JanusOptions {
        &self.opts
    }

    /// The `server-name` this instance reports in `info`.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("janus was killed").id()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Janus's stdout and stderr.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("janus.log")
    }

    /// The last lines of the log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = fs::read(self.log_path())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|e| format!("(no log: {e})"));
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(LOG_TAIL_LINES);
        format!(
            "--- last lines of {} ---\n{}",
            self.log_path().display(),
            lines[from..].join("\n")
        )
    }

    /// Whether the process is still there (a frozen one counts).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen
    }

    /// SIGSTOP: sockets stay open but nothing is answered, as with a hung
    /// server. Returns once every thread is stopped. Its timers stop too:
    /// after a long freeze, `thaw` may time out every session at once.
    pub fn freeze(&mut self) {
        self.signal("STOP");
        self.wait_threads(true);
        self.frozen = true;
    }

    /// SIGCONT after [`Self::freeze`]; queued requests are then answered.
    pub fn thaw(&mut self) {
        self.signal("CONT");
        self.wait_threads(false);
        self.frozen = false;
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{sig} {} failed", self.pid());
    }

    /// Signals reach the threads of a process asynchronously: without this
    /// wait a request sent right after `kill -STOP` may still be answered.
    fn wait_threads(&self, stopped: bool) {
        let deadline = Instant::now() + Duration::from_secs(2);
        let tasks = PathBuf::from(format!("/proc/{}/task", self.pid()));
        loop {
            let states = thread_states(&tasks);
            let done = if stopped {
                !states.is_empty() && states.iter().all(|&s| s == 'T' || s == 't')
            } else {
                !states.contains(&'T')
            };
            if done {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "janus threads still {states:?} 2 s after kill (want stopped={stopped})"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// SIGKILL and reap; the folder (and log) stays until drop. Clients see
    /// their sockets reset, as with a crashed server.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(mut dog) = self.watchdog.take() {
            let _ = dog.kill();
            let _ = dog.wait();
        }
    }

    /// Kills the process and removes its folder.
    pub fn stop(mut self) {
        self.cleanup();
    }

    fn cleanup(&mut self) {
        self.kill();
        let _ = fs::remove_dir_all(&self.dir);
    }

    /// One Admin API request (the `admin_secret` and a transaction are
    /// added); returns Janus's reply, errors included.
    pub async fn admin_request(&self, mut body: Value) -> Value {
        body["admin_secret"] = json!(self.admin_secret);
        let mut ws = ws_connect(&self.admin_url(), "janus-admin-protocol", WAIT)
            .await
            .unwrap_or_else(|e| panic!("Admin API: {e}"));
        let reply = ws_roundtrip(&mut ws, body.clone(), WAIT)
            .await
            .unwrap_or_else(|e| panic!("Admin API {body}: {e}"));
        let _ = ws.close(None).await;
        reply
    }

    /// Allows `token` on the Janus API (instances with `token_auth`); with no
    /// plugin list it may use every plugin.
    pub async fn admin_add_token(&self, token: &str) {
        let reply = self
            .admin_request(json!({"janus": "add_token", "token": token}))
            .await;
        assert_eq!(reply["janus"], "success", "add_token {token}: {reply}");
    }

    /// A peer on this instance, with its api_secret if it has one.
    pub async fn peer(&self, token: Option<&str>) -> JanusPeer {
        JanusPeer::connect(&self.ws_url(), self.api_secret(), token).await
    }
}

impl Drop for Janus {
    fn drop(&mut self) {
        if std::thread::panicking() && self.child.is_some() {
            eprintln!("{}", self.log_tail());
        }
        self.cleanup();
    }
}

enum Probe {
    NotYet(String),
    Foreign(String),
}

/// The state letter (R, S, T, ...) of every thread under `/proc/PID/task`.
fn thread_states(tasks: &Path) -> Vec<char> {
    let Ok(entries) = fs::read_dir(tasks) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| fs::read_to_string(e.path().join("stat")).ok())
        // "pid (comm) S ...": the state follows the last ')'.
        .filter_map(|stat| stat.rsplit_once(')')?.1.trim_start().chars().next())
        .collect()
}

/// Two distinct free loopback ports. They are released before Janus binds
/// them, so another process may take one meanwhile: `start` retries then.
fn free_port_pair() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let b = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

/// A shell that SIGKILLs Janus and removes its folder once this test binary
/// is gone, so a run killed mid-way leaves nothing behind. `kill` (or Drop)
/// ends it first.
fn spawn_watchdog(janus_pid: u32, dir: &Path) -> Option<Child> {
    let script = r#"while kill -0 "$1" 2>/dev/null; do sleep 1; done; kill -9 "$2" 2>/dev/null; rm -rf -- "$3""#;
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("calltop-janus-watchdog")
        .arg(std::process::id().to_string())
        .arg(janus_pid.to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

fn fill_template(template: &str, vars: &[(&str, String)]) -> String {
    let mut text = template.to_owned();
    for (key, value) in vars {
        text = text.replace(key, value);
    }
    if let Some(line) = text.lines().find(|l| has_placeholder(l)) {
        panic!("assets/janus: a placeholder the launcher does not know: {line}");
    }
    text
}

/// Whether the part of a config line before any `#` still has an `@NAME@`.
fn has_placeholder(line: &str) -> bool {
    let code = line.split('#').next().unwrap_or("");
    let parts: Vec<&str> = code.split('@').collect();
    // parts[1..len-1] each lie between two '@'.
    (1..parts.len().saturating_sub(1)).any(|i| {
        let name = parts[i];
        !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
    })
}

/// A double-quoted jcfg (libconfig) string.
fn jcfg_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn random_hex() -> String {
    format!("{:016x}", rand::rng().random::<u64>())
}

// ---------------------------------------------------------------------------
// Raw WebSocket helpers (also used before a JanusPeer exists)
// ---------------------------------------------------------------------------

/// Opens a WebSocket offering `subprotocol` (Janus refuses the upgrade
/// without one), within `timeout` (a frozen Janus accepts TCP but never
/// answers the upgrade).
pub async fn ws_connect(url: &str, subprotocol: &str, timeout: Duration) -> Result<Ws, String> {
    let mut request = url
        .into_client_request()
        .map_err(|e| format!("bad url {url}: {e}"))?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_str(subprotocol).unwrap(),
    );
    match tokio::time::timeout(timeout, tokio_tungstenite::connect_async(request)).await {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(e)) => Err(format!("connect {url}: {e}")),
        Err(_) => Err(format!("connect {url}: no handshake within {timeout:?}")),
    }
}

/// Sends one request on a socket nobody else reads and returns its reply
/// (skipping acks and anything for other transactions).
async fn ws_roundtrip(ws: &mut Ws, mut body: Value, timeout: Duration) -> Result<Value, String> {
    let transaction = format!("probe-{}", random_hex());
    body["transaction"] = json!(transaction);
    let deadline = tokio::time::Instant::now() + timeout;
    ws.send(Message::text(body.to_string()))
        .await
        .map_err(|e| format!("send: {e}"))?;
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| format!("no reply to {body} within {timeout:?}"))?;
        let text = match frame {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("read: {e}")),
            None => return Err("socket closed".into()),
        };
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("bad JSON {text}: {e}"))?;
        if v["transaction"] == transaction.as_str() && v["janus"] != "ack" {
            return Ok(v);
        }
    }
}

// ---------------------------------------------------------------------------
// JanusPeer: a participant driven by the test
// ---------------------------------------------------------------------------

type Pending = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Value>>>>;
type Sink = Arc<tokio::sync::Mutex<Option<SplitSink<Ws, Message>>>>;

/// Shared between the peer, its reader task and its keepalive task.
#[derive(Clone)]
struct Wire {
    sink: Sink,
    /// Transactions waiting for their reply.
    pending: Pending,
    /// Every transaction this peer ever sent: late frames for them (an `ack`
    /// after the `event`, a pong after a timed-out ping) are dropped, not
    /// taken for events.
    sent: Arc<Mutex<HashSet<String>>>,
    prefix: Arc<str>,
    counter: Arc<AtomicU64>,
    apisecret: Option<String>,
    token: Option<String>,
    closed: Arc<AtomicBool>,
}

impl Wire {
    fn next_transaction(&self) -> String {
        format!(
            "{}-{}",
            self.prefix,
            self.counter.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Adds transaction and credentials, registers the transaction and sends.
    async fn send_request(
        &self,
        mut body: Value,
    ) -> Result<(String, mpsc::UnboundedReceiver<Value>), String> {
        let transaction = self.next_transaction();
        body["transaction"] = json!(transaction);
        if let Some(s) = &self.apisecret {
            body["apisecret"] = json!(s);
        }
        if let Some(t) = &self.token {
            body["token"] = json!(t);
        }
        if self.closed.load(Ordering::SeqCst) {
            return Err("the socket is closed".into());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        self.sent.lock().unwrap().insert(transaction.clone());
        self.pending.lock().unwrap().insert(transaction.clone(), tx);
        if let Err(e) = self.send_text(body.to_string()).await {
            self.pending.lock().unwrap().remove(&transaction);
            return Err(e);
        }
        Ok((transaction, rx))
    }

    async fn send_text(&self, text: String) -> Result<(), String> {
        trace(&self.prefix, "->", &text);
        let mut guard = self.sink.lock().await;
        let sink = guard.as_mut().ok_or("the socket was aborted")?;
        match tokio::time::timeout(WAIT, sink.send(Message::text(text))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("send: {e}")),
            Err(_) => Err(format!("send blocked for {WAIT:?}")),
        }
    }

    /// One request and its final reply: `ack`s are skipped except for
    /// requests whose only reply is an ack (`keepalive`, `trickle`); a
    /// plugin `message` may answer `success`, or `ack` then `event`, in
    /// either order.
    async fn request(&self, body: Value, timeout: Duration) -> Result<Value, String> {
        let ack_is_final = matches!(body["janus"].as_str(), Some("keepalive" | "trickle"));
        let (transaction, mut rx) = self.send_request(body.clone()).await?;
        let deadline = tokio::time::Instant::now() + timeout;
        let result = loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Err(_) => break Err(format!("no reply within {timeout:?} to {body}")),
                Ok(None) => break Err(format!("socket closed while waiting for reply to {body}")),
                Ok(Some(v)) if v["janus"] == "ack" && !ack_is_final => continue,
                Ok(Some(v)) => break Ok(v),
            }
        };
        self.pending.lock().unwrap().remove(&transaction);
        result
    }
}

/// A raw Janus API client: one WebSocket, at most one session and one
/// VideoRoom handle. Replies are matched by transaction; frames that answer
/// no request of ours are events ([`Self::next_event`]).
///
/// After [`Self::create_session`] a background task sends a keepalive every
/// [`KEEPALIVE_EVERY`], so the session lives as long as the peer, whatever
/// the instance's session_timeout (≥ 3 s); [`Self::stop_keepalive`] lets it
/// time out. A keepalive that fails shows up as an event (the error frame;
/// after 458 "No such session" the keepalive stops).
///
/// Dropping a peer drops its socket without a close frame, like
/// [`Self::abort`]; [`Self::close`] closes cleanly. (To Janus both are "the
/// transport is gone": the session lingers for reclaim_session_timeout.)
pub struct JanusPeer {
    url: String,
    wire: Wire,
    events_tx: mpsc::UnboundedSender<Value>,
    events: mpsc::UnboundedReceiver<Value>,
    reader: JoinHandle<()>,
    keepalive: Option<JoinHandle<()>>,
    /// The Janus session, once created (or claimed).
    pub session_id: Option<u64>,
    /// The VideoRoom handle, once attached.
    pub handle_id: Option<u64>,
    /// Our participant id, once joined.
    pub participant_id: Option<u64>,
    /// How long each request waits ([`WAIT`] unless changed).
    pub wait: Duration,
}

impl Drop for JanusPeer {
    fn drop(&mut self) {
        self.reader.abort();
        if let Some(k) = self.keepalive.take() {
            k.abort();
        }
    }
}

impl JanusPeer {
    /// Connects to the Janus API; `api_secret` and `token` go into every
    /// request (Janus wants them on each one, not once per session).
    pub async fn connect(url: &str, api_secret: Option<&str>, token: Option<&str>) -> JanusPeer {
        JanusPeer::try_connect(url, api_secret, token, WAIT)
            .await
            .unwrap_or_else(|e| panic!("JanusPeer::connect: {e}"))
    }

    /// [`Self::connect`], returning the failure (e.g. a frozen Janus) instead.
    pub async fn try_connect(
        url: &str,
        api_secret: Option<&str>,
        token: Option<&str>,
        timeout: Duration,
    ) -> Result<JanusPeer, String> {
        let ws = ws_connect(url, "janus-protocol", timeout).await?;
        let (sink, stream) = ws.split();
        let wire = Wire {
            sink: Arc::new(tokio::sync::Mutex::new(Some(sink))),
            pending: Arc::default(),
            sent: Arc::default(),
            prefix: format!("peer-{}", &random_hex()[..8]).into(),
            counter: Arc::default(),
            apisecret: api_secret.map(str::to_owned),
            token: token.map(str::to_owned),
            closed: Arc::default(),
        };
        let (events_tx, events) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_frames(stream, wire.clone(), events_tx.clone()));
        Ok(JanusPeer {
            url: url.to_owned(),
            wire,
            events_tx,
            events,
            reader,
            keepalive: None,
            session_id: None,
            handle_id: None,
            participant_id: None,
            wait: WAIT,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the socket is gone (closed by Janus, or aborted).
    pub fn is_closed(&self) -> bool {
        self.wire.closed.load(Ordering::SeqCst)
    }

    // --- generic requests -------------------------------------------------

    /// Sends `body` as is: no transaction, no credentials (for malformed or
    /// hand-made requests; any reply arrives as an event).
    pub async fn send_raw(&self, body: Value) {
        self.wire
            .send_text(body.to_string())
            .await
            .unwrap_or_else(|e| panic!("send_raw: {e}"));
    }

    /// A request with transaction and credentials added; its final reply,
    /// errors included. Err only on timeout or a closed socket.
    pub async fn try_request(&self, body: Value, timeout: Duration) -> Result<Value, String> {
        self.wire.request(body, timeout).await
    }

    /// [`Self::try_request`] within [`Self::wait`], panicking on timeout.
    pub async fn request(&self, body: Value) -> Value {
        let wait = self.wait;
        self.try_request(body, wait)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", self.url))
    }

    /// A request in our session (adds `session_id`).
    pub async fn session_request(&self, mut body: Value) -> Value {
        body["session_id"] = json!(self.session());
        self.request(body).await
    }

    /// A VideoRoom request on our handle; returns the whole reply, plugin
    /// errors (`plugindata.data.error_code`) included.
    pub async fn try_message(&self, body: Value) -> Value {
        let req = json!({"janus": "message", "handle_id": self.handle(), "body": body});
        self.session_request(req).await
    }

    /// A VideoRoom request that must succeed; returns `plugindata.data`.
    pub async fn message(&self, body: Value) -> Value {
        let reply = self.try_message(body.clone()).await;
        let data = plugin_data(&reply).clone();
        assert!(
            reply["janus"] != "error" && data.get("error_code").is_none() && !data.is_null(),
            "videoroom request {body} failed: {reply}"
        );
        data
    }

    // --- core API ---------------------------------------------------------

    /// `ping` within `timeout`: whether a pong came (false on a frozen Janus).
    pub async fn try_ping(&self, timeout: Duration) -> bool {
        matches!(
            self.try_request(json!({"janus": "ping"}), timeout).await,
            Ok(v) if v["janus"] == "pong"
        )
    }

    pub async fn ping(&self) {
        let reply = self.request(json!({"janus": "ping"})).await;
        assert_eq!(reply["janus"], "pong", "ping: {reply}");
    }

    /// `server_info` (server-name, session-timeout, reclaim-session-timeout, ...).
    pub async fn info(&self) -> Value {
        self.request(json!({"janus": "info"})).await
    }

    /// The raw reply to `create` (`success` with data.id, or `error`).
    pub async fn try_create_session(&mut self) -> Value {
        let reply = self.request(json!({"janus": "create"})).await;
        if let Some(id) = reply["data"]["id"]
            .as_u64()
            .filter(|_| reply["janus"] == "success")
        {
            self.session_id = Some(id);
            self.start_keepalive(KEEPALIVE_EVERY);
        }
        reply
    }

    /// Creates our Janus session and starts the background keepalive.
    pub async fn create_session(&mut self) -> u64 {
        let reply = self.try_create_session().await;
        assert_eq!(reply["janus"], "success", "create: {reply}");
        self.session()
    }

    /// `claim`s `session_id` for this socket (after another socket dropped);
    /// returns the raw reply (`success`, or `error` 458 past the reclaim window).
    pub async fn claim(&mut self, session_id: u64) -> Value {
        let req = json!({"janus": "claim", "session_id": session_id});
        let reply = self.request(req).await;
        if reply["janus"] == "success" {
            self.session_id = Some(session_id);
            self.start_keepalive(KEEPALIVE_EVERY);
        }
        reply
    }

    /// Attaches a VideoRoom handle (a new one replaces the old: after a
    /// leave or kick the old handle cannot rejoin).
    pub async fn attach_videoroom(&mut self) -> u64 {
        let reply = self
            .session_request(json!({"janus": "attach", "plugin": "janus.plugin.videoroom"}))
            .await;
        let id = reply["data"]["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("attach: {reply}"));
        self.handle_id = Some(id);
        self.participant_id = None;
        id
    }

    /// Detaches our handle.
    pub async fn detach(&mut self) {
        let reply = self
            .session_request(json!({"janus": "detach", "handle_id": self.handle()}))
            .await;
        assert_eq!(reply["janus"], "success", "detach: {reply}");
        self.handle_id = None;
        self.participant_id = None;
    }

    /// An explicit keepalive (answered by `ack`).
    pub async fn keepalive(&self) {
        let reply = self.session_request(json!({"janus": "keepalive"})).await;
        assert_eq!(reply["janus"], "ack", "keepalive: {reply}");
    }

    /// (Re)starts the background keepalive at `every`.
    pub fn start_keepalive(&mut self, every: Duration) {
        self.stop_keepalive();
        let (wire, events, session) = (self.wire.clone(), self.events_tx.clone(), self.session());
        self.keepalive = Some(tokio::spawn(keep_alive(wire, events, session, every)));
    }

    /// Stops the background keepalive, e.g. to let Janus time the session out.
    pub fn stop_keepalive(&mut self) {
        if let Some(k) = self.keepalive.take() {
            k.abort();
        }
    }

    /// Destroys our session (Janus then closes nothing: the socket stays).
    pub async fn destroy_session(&mut self) {
        self.stop_keepalive();
        let reply = self.session_request(json!({"janus": "destroy"})).await;
        assert_eq!(reply["janus"], "success", "destroy: {reply}");
        self.session_id = None;
        self.handle_id = None;
        self.participant_id = None;
    }

    /// Drops the TCP connection without a close frame, as a network failure
    /// would. The session stays in Janus for its reclaim window.
    pub async fn abort(&mut self) {
        self.stop_keepalive();
        self.reader.abort();
        let _ = (&mut self.reader).await; // its half of the socket is dropped now
        drop(self.wire.sink.lock().await.take());
        self.wire.closed.store(true, Ordering::SeqCst);
    }

    /// A clean WebSocket close (close frame, then TCP close).
    pub async fn close(&mut self) {
        self.stop_keepalive();
        if let Some(mut sink) = self.wire.sink.lock().await.take() {
            let _ = tokio::time::timeout(WAIT, sink.close()).await;
        }
    }

    // --- VideoRoom --------------------------------------------------------

    /// Creates `room`; `opts` are extra create fields, e.g.
    /// `{"secret": "s", "notify_joining": true, "pin": "1234"}` (and
    /// `"admin_key"` on instances that have one). Returns plugin data.
    pub async fn create_room(&self, room: u64, opts: Value) -> Value {
        let data = self
            .message(merge(json!({"request": "create", "room": room}), opts))
            .await;
        assert_eq!(data["videoroom"], "created", "create room {room}: {data}");
        data
    }

    /// Joins `room` as a publisher (no media is sent); returns our participant id.
    pub async fn join(&mut self, room: u64, display: Option<&str>) -> u64 {
        let data = self.join_with(room, display, json!({})).await;
        data["id"].as_u64().unwrap()
    }

    /// [`Self::join`] with extra join fields (`pin`, `id`, ...); returns the
    /// `joined` data (with `attendees` when the room has notify_joining).
    pub async fn join_with(&mut self, room: u64, display: Option<&str>, extra: Value) -> Value {
        let mut body = json!({"request": "join", "ptype": "publisher", "room": room});
        if let Some(d) = display {
            body["display"] = json!(d);
        }
        let data = self.message(merge(body, extra)).await;
        assert_eq!(data["videoroom"], "joined", "join room {room}: {data}");
        self.participant_id = data["id"].as_u64();
        data
    }

    /// Changes our display name (`configure`; answer `configured: "ok"`).
    /// Others get an event `{"id": ours, "display": display}`, but only if
    /// we had a display name before: Janus 1.1.2 announces a change, not a
    /// first name given after a display-less join.
    pub async fn rename(&self, display: &str) -> Value {
        self.message(json!({"request": "configure", "display": display}))
            .await
    }

    /// Leaves the room (answer `leaving: "ok"`); attach anew to rejoin.
    pub async fn leave(&mut self) -> Value {
        let data = self.message(json!({"request": "leave"})).await;
        self.participant_id = None;
        data
    }

    /// Kicks participant `id` (needs the room secret).
    pub async fn kick(&self, room: u64, id: u64, secret: &str) -> Value {
        self.message(json!({"request": "kick", "room": room, "id": id, "secret": secret}))
            .await
    }

    /// Destroys `room`; everyone in it gets a `destroyed` event.
    pub async fn destroy_room(&self, room: u64, secret: &str) -> Value {
        self.message(json!({"request": "destroy", "room": room, "secret": secret}))
            .await
    }

    /// Everyone in `room` (us included) as (id, display).
    pub async fn list_participants(&self, room: u64) -> Vec<(u64, Option<String>)> {
        let data = self
            .message(json!({"request": "listparticipants", "room": room}))
            .await;
        data["participants"]
            .as_array()
            .unwrap_or_else(|| panic!("listparticipants {room}: {data}"))
            .iter()
            .map(|p| {
                let id = p["id"].as_u64().expect("numeric participant id");
                (id, p["display"].as_str().map(str::to_owned))
            })
            .collect()
    }

    // --- events -----------------------------------------------------------

    /// The next frame that answered none of our requests (plugin events,
    /// `timeout`, `detached`, ...), or None on timeout or closed socket.
    pub async fn try_next_event(&mut self, timeout: Duration) -> Option<Value> {
        tokio::time::timeout(timeout, self.events.recv())
            .await
            .ok()
            .flatten()
    }

    /// [`Self::try_next_event`], panicking when none comes.
    pub async fn next_event(&mut self, timeout: Duration) -> Value {
        match self.try_next_event(timeout).await {
            Some(ev) => ev,
            None if self.is_closed() => panic!("{}: socket closed, no event", self.url),
            None => panic!("{}: no event within {timeout:?}", self.url),
        }
    }

    /// Skips events until one matches `pred`, within `timeout` overall;
    /// panics listing the skipped ones otherwise.
    pub async fn wait_event(
        &mut self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.try_next_event(left).await {
                Some(ev) if pred(&ev) => return ev,
                Some(ev) => skipped.push(ev.to_string()),
                None => panic!(
                    "{}: no event {what} within {timeout:?}; skipped: [{}]",
                    self.url,
                    skipped.join(", ")
                ),
            }
        }
    }

    /// Waits for a VideoRoom event whose plugin data has `key` (`"joining"`,
    /// `"leaving"`, `"kicked"`, `"destroyed"`...); returns that data.
    pub async fn wait_plugin_event(&mut self, key: &str, timeout: Duration) -> Value {
        let ev = self
            .wait_event(timeout, &format!("with plugindata `{key}`"), |e| {
                plugin_data(e).get(key).is_some()
                    || (key == "destroyed" && plugin_data(e)["videoroom"] == "destroyed")
            })
            .await;
        plugin_data(&ev).clone()
    }

    /// Everything queued right now, without waiting.
    pub fn drain_events(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        while let Ok(ev) = self.events.try_recv() {
            out.push(ev);
        }
        out
    }

    fn session(&self) -> u64 {
        self.session_id
            .expect("no Janus session: call create_session first")
    }

    fn handle(&self) -> u64 {
        self.handle_id
            .expect("no handle: call attach_videoroom first")
    }
}

/// The reader task: routes each frame to the request waiting for its
/// transaction, drops late frames for finished requests, and queues the rest
/// as events. On close, waiting requests fail at once.
async fn read_frames(
    mut stream: SplitStream<Ws>,
    wire: Wire,
    events: mpsc::UnboundedSender<Value>,
) {
    while let Some(Ok(msg)) = stream.next().await {
        let text = match msg {
            Message::Text(t) => t.to_string(),
            Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
            Message::Close(_) => break,
            _ => continue,
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            trace(&wire.prefix, "<-", &text);
            let _ = events.send(json!({"unparsable": text}));
            continue;
        };
        trace(&wire.prefix, "<-", &v.to_string());
        let transaction = v["transaction"].as_str().map(str::to_owned);
        let waiting = transaction
            .as_ref()
            .and_then(|t| wire.pending.lock().unwrap().get(t).cloned());
        if let Some(tx) = waiting {
            let _ = tx.send(v);
        } else if transaction.is_some_and(|t| wire.sent.lock().unwrap().contains(&t)) {
            // A late ack (or a reply after its request timed out): not an event.
        } else {
            let _ = events.send(v);
        }
    }
    wire.closed.store(true, Ordering::SeqCst);
    wire.pending.lock().unwrap().clear();
}

/// With `CALLTOP_JANUS_TRACE=1`, every frame of every peer goes to stderr
/// (shown for failing tests, or with `--nocapture`).
fn trace(peer: &str, dir: &str, frame: &str) {
    static ON: OnceLock<bool> = OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("CALLTOP_JANUS_TRACE").is_some_and(|v| v != "0")) {
        eprintln!("{peer} {dir} {frame}");
    }
}

/// The background keepalive: one every `every`; failures become events.
async fn keep_alive(
    wire: Wire,
    events: mpsc::UnboundedSender<Value>,
    session: u64,
    every: Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await; // the first tick is immediate
    loop {
        tick.tick().await;
        let req = json!({"janus": "keepalive", "session_id": session});
        match wire.request(req, every).await {
            Ok(v) if v["janus"] == "ack" => {}
            Ok(v) => {
                let gone = v["error"]["code"] == 458;
                let _ = events.send(v);
                if gone {
                    return;
                }
            }
            // A frozen Janus answers late; the next keepalive tries again.
            Err(_) if !wire.closed.load(Ordering::SeqCst) => {}
            Err(_) => return,
        }
    }
}

/// `plugindata.data` of a reply or event (Null when absent).
pub fn plugin_data(v: &Value) -> &Value {
    &v["plugindata"]["data"]
}

/// `base` with the fields of `extra` (an object, or null) added or replaced.
pub fn merge(mut base: Value, extra: Value) -> Value {
    if let Value::Object(fields) = extra {
        for (k, v) in fields {
            base[k] = v;
        }
    }
    base
}
