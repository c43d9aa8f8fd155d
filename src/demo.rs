//! The embedded demo: with no server configured, calltop starts the reference
//! server in-process on 127.0.0.1 and joins it through a loopback [`Relay`]
//! that stands in for the network, while scripted participants
//! (`assets/demo.toml`) join and leave as real clients, our connection is
//! dropped now and then, and the network goes down for a while, so every part
//! of the dashboard shows within the first minute.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::protocol;
use crate::server::{self, ServerHandle};
use crate::session::CallSession;
use crate::settings::SessionSettings;

/// The demo script shipped with calltop.
pub const SCRIPT: &str = include_str!("../assets/demo.toml");

/// A demo script: steps run in order, each after its wait.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// Start over after the last step.
    #[serde(default)]
    pub repeat: bool,
    pub steps: Vec<RawStep>,
}

/// One step as written in the file; [`Script::parse`] checks it does one thing.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub wait_secs: f64,
    #[serde(default)]
    pub join: Option<String>,
    #[serde(default)]
    pub leave: Option<String>,
    #[serde(default)]
    pub drop_us: bool,
    #[serde(default)]
    pub outage_secs: Option<f64>,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Join(String),
    Leave(String),
    /// The server drops our connection without a word.
    DropUs,
    /// The relay cuts our connection and refuses new ones for this long.
    Outage(Duration),
}

fn secs(field: &str, v: f64) -> Result<Duration, String> {
    if v.is_finite() && (0.0..=3600.0).contains(&v) {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!("{field} = {v}: expected seconds from 0 to 3600"))
    }
}

impl Script {
    /// Parses and checks a script: every step does exactly one thing, names are valid.
    pub fn parse(text: &str) -> Result<Vec<(Duration, Step)>, String> {
        Self::parse_full(text).map(|(_, steps)| steps)
    }

    /// Like [`Script::parse`], with the `repeat` flag.
    pub fn parse_full(text: &str) -> Result<(bool, Vec<(Duration, Step)>), String> {
        let script: Script = toml::from_str(text).map_err(|e| e.to_string())?;
        if script.steps.is_empty() {
            return Err("the script has no steps".into());
        }
        let mut steps = Vec::with_capacity(script.steps.len());
        for (i, raw) in script.steps.into_iter().enumerate() {
            let n = i + 1;
            let wait = secs("wait_secs", raw.wait_secs).map_err(|e| format!("step {n}: {e}"))?;
            let mut actions = Vec::new();
            if let Some(name) = raw.join {
                actions.push(Step::Join(name));
            }
            if let Some(name) = raw.leave {
                actions.push(Step::Leave(name));
            }
            if raw.drop_us {
                actions.push(Step::DropUs);
            }
            if let Some(s) = raw.outage_secs {
                let d = secs("outage_secs", s).map_err(|e| format!("step {n}: {e}"))?;
                actions.push(Step::Outage(d));
            }
            let step = match <[Step; 1]>::try_from(actions) {
                Ok([step]) => step,
                Err(_) => {
                    return Err(format!(
                        "step {n}: expected exactly one of join, leave, drop_us, outage_secs"
                    ));
                }
            };
            if let Step::Join(name) | Step::Leave(name) = &step
                && !protocol::valid_name(name)
            {
                return Err(format!(
                    "step {n}: {name:?} is not a valid participant name"
                ));
            }
            if wait.is_zero() && !matches!(step, Step::Join(_) | Step::Leave(_)) {
                return Err(format!("step {n}: wait_secs must be above 0 here"));
            }
            steps.push((wait, step));
        }
        if script.repeat && steps.iter().all(|(w, _)| w.is_zero()) {
            return Err("a repeating script needs some wait".into());
        }
        Ok((script.repeat, steps))
    }
}

/// A loopback TCP relay in front of the server: the demo's "network". While
/// down, it has cut every connection through it and refuses new ones.
pub struct Relay {
    pub addr: SocketAddr,
    up: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Relay {
    /// Listens on 127.0.0.1 (a free port) and forwards to `target`.
    pub async fn start(target: SocketAddr) -> std::io::Result<Relay> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let (up, up_rx) = watch::channel(true);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if !*up_rx.borrow() {
                    // Down: the connection is dropped as soon as it is made.
                    continue;
                }
                let mut down = up_rx.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = down.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Ok(Relay { addr, up, task })
    }

    /// The WebSocket URL through the relay.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Brings the "network" up or down. Going down cuts every connection.
    pub fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }

    pub fn shutdown(self) {
        self.task.abort();
    }
}

/// The session to join: on the configured server, or, with none configured,
/// on an embedded server started now. Call [`Config::check`] first: a setting
/// that cannot work is a usage error, reported before anything starts.
pub async fn target(config: &Config) -> anyhow::Result<(SessionSettings, Option<Embedded>)> {
    let embedded = if config.session.server.is_empty() {
        Some(Embedded::start(config).await?)
    } else {
        None
    };
    let url = match &embedded {
        Some(e) => e.ws_url(),
        None => config.session.server.clone(),
    };
    match config.session_settings(&url) {
        Ok(s) => Ok((s, embedded)),
        Err(e) => {
            if let Some(e) = embedded {
                e.shutdown().await;
            }
            Err(e.into())
        }
    }
}

/// The embedded reference server, the relay in front of it, and the demo script.
pub struct Embedded {
    pub server: ServerHandle,
    relay: Relay,
    demo: Option<(watch::Sender<bool>, JoinHandle<()>)>,
}

impl Embedded {
    /// Starts the reference server (with the `[serve]` settings, but on
    /// 127.0.0.1 and a free port) and the relay.
    pub async fn start(config: &Config) -> anyhow::Result<Embedded> {
        let mut sc = config.server_config()?;
        sc.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        sc.admin_token = None;
        sc.token_secret = None;
        let server = server::start(sc)
            .await
            .context("cannot start the embedded reference server on 127.0.0.1")?;
        let relay = Relay::start(server.addr)
            .await
            .context("cannot start the embedded server's relay on 127.0.0.1")?;
        Ok(Embedded {
            server,
            relay,
            demo: None,
        })
    }

    /// The URL we join: through the relay.
    pub fn ws_url(&self) -> String {
        self.relay.ws_url()
    }

    /// One line saying what this is and how to use a real server.
    pub fn banner(&self) -> String {
        "embedded server · for a real call: calltop --server ws://HOST:PORT/ws".into()
    }

    /// Runs the demo script in the background: participants join and leave
    /// `session`, and `us` is dropped and cut off now and then.
    pub fn run_script(&mut self, text: &str, session: &str, us: &str) -> anyhow::Result<()> {
        let (repeat, steps) =
            Script::parse_full(text).map_err(|e| anyhow::anyhow!("demo script: {e}"))?;
        let (stop, stopped) = watch::channel(false);
        let runner = Runner {
            steps,
            repeat,
            url: self.server.ws_url(),
            session: session.to_owned(),
            us: us.to_owned(),
            hub: self.server.hub.clone(),
            relay: self.relay.up.clone(),
            people: HashMap::new(),
        };
        self.demo = Some((stop, tokio::spawn(runner.run(stopped))));
        Ok(())
    }

    /// Stops the script (its participants leave), the relay and the server.
    pub async fn shutdown(self) {
        if let Some((stop, task)) = self.demo {
            stop.send_replace(true);
            let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
        }
        self.relay.shutdown();
        self.server.shutdown().await;
    }
}

struct Runner {
    steps: Vec<(Duration, Step)>,
    repeat: bool,
    url: String,
    session: String,
    us: String,
    hub: server::Hub,
    relay: watch::Sender<bool>,
    people: HashMap<String, CallSession>,
}

impl Runner {
    /// A participant's name that is not ours.
    fn name(&self, name: &str) -> String {
        if name == self.us {
            format!("{name}-demo")
        } else {
            name.to_owned()
        }
    }

    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let steps = std::mem::take(&mut self.steps);
        'script: loop {
            for (wait, step) in &steps {
                tokio::select! {
                    _ = tokio::time::sleep(*wait) => {}
                    _ = stop.wait_for(|s| *s) => break 'script,
                }
                match step {
                    Step::Join(name) => {
                        let name = self.name(name);
                        if let Some(s) = self.participant(&name) {
                            let _ = s.join().await;
                        }
                    }
                    Step::Leave(name) => {
                        if let Some(s) = self.people.get(&self.name(name)) {
                            let _ = s.leave().await;
                        }
                    }
                    Step::DropUs => {
                        self.hub.drop_connection(&self.session, &self.us);
                    }
                    Step::Outage(d) => {
                        self.relay.send_replace(false);
                        tokio::select! {
                            _ = tokio::time::sleep(*d) => {}
                            _ = stop.wait_for(|s| *s) => {}
                        }
                        self.relay.send_replace(true);
                    }
                }
            }
            if !self.repeat {
                let _ = stop.wait_for(|s| *s).await;
                break;
            }
        }
        self.relay.send_replace(true);
        for s in self.people.values() {
            let _ = tokio::time::timeout(Duration::from_secs(2), s.shutdown()).await;
        }
    }

    fn participant(&mut self, name: &str) -> Option<&CallSession> {
        if !self.people.contains_key(name) {
            let settings = SessionSettings::builder(&self.url, &self.session, name)
                .idle_timeout(Duration::ZERO)
                .build()
                .ok()?;
            self.people
                .insert(name.to_owned(), CallSession::new(settings));
        }
        self.people.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_script_parses_and_shows_every_feature() {
        let (repeat, steps) = Script::parse_full(SCRIPT).unwrap();
        assert!(repeat);
        assert!(steps.iter().any(|(_, s)| matches!(s, Step::Join(_))));
        assert!(steps.iter().any(|(_, s)| matches!(s, Step::Leave(_))));
        assert!(steps.iter().any(|(_, s)| *s == Step::DropUs));
        assert!(steps.iter().any(|(_, s)| matches!(s, Step::Outage(_))));
        // We start alone for a while, so the idle countdown shows.
        assert!(steps[0].0 >= Duration::from_secs(3));
        // Nobody is left in the call forever: everyone who joins also leaves.
        let mut here = std::collections::BTreeSet::new();
        for (_, s) in &steps {
            match s {
                Step::Join(n) => assert!(here.insert(n.clone()), "{n} joins twice"),
                Step::Leave(n) => assert!(here.remove(n), "{n} leaves without joining"),
                _ => {}
            }
        }
        assert!(here.is_empty(), "still here at the end: {here:?}");
    }

    #[test]
    fn a_step_must_do_exactly_one_thing() {
        let e =
            Script::parse("[[steps]]\nwait_secs = 1\njoin = \"a\"\nleave = \"a\"\n").unwrap_err();
        assert!(e.contains("step 1") && e.contains("exactly one"), "{e}");
        let e = Script::parse("[[steps]]\nwait_secs = 1\n").unwrap_err();
        assert!(e.contains("exactly one"), "{e}");
        let e = Script::parse("[[steps]]\nwait_secs = -1\njoin = \"a\"\n").unwrap_err();
        assert!(e.contains("wait_secs"), "{e}");
        let e = Script::parse("[[steps]]\nwait_secs = 1\njion = \"a\"\n").unwrap_err();
        assert!(e.contains("jion"), "{e}");
    }
}
