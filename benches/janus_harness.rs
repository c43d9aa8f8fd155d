//! The real-network targets of the Janus backend, measured against a real Janus
//! (Debian's `janus`, started from `assets/janus/` as the integration tests do)
//! on 127.0.0.1:
//!
//! 1. frozen Janus (SIGSTOP: sockets open, nothing answered) → `connection_lost`
//!    with DEFAULT settings (heartbeat 2 s, timeout 2.5 s): ≤ 5 s;
//! 2. Janus reachable again → `connection_restored` (claim + resync) within 20 ms
//!    of the first attempt that reaches it; the full-rejoin path (Janus with
//!    `reclaim_session_timeout = 0`: create + attach + join + list) measured
//!    the same way;
//! 3. join (connect, create, attach, join, roster) → `session_joined` in a room
//!    with three others: ≤ 10 ms median.
//!
//! Run: `cargo bench --bench janus_harness` (about 1¼ minutes; prints a table).
//! Knobs (environment): `JANUS_HARNESS_STALLS` (default 10),
//! `JANUS_HARNESS_RESTORES` (default 20, per path), `JANUS_HARNESS_JOINS`
//! (default 50), `JANUS_HARNESS_SETTLE` (default 1: between joins, wait until
//! Janus no longer lists us; 0: back to back), `HARNESS_SEED` (default: from
//! the clock; printed).
//!
//! Set-up: each Janus is its own process (`janus_support::Janus`), the room's
//! other participants are raw Janus clients (`janus_support::JanusPeer`) and
//! the fault proxy (`tests/support/proxy.rs`) runs on a fixture runtime; the
//! session under test runs on a second runtime shaped like the `calltop`
//! binary's (multi-thread, 2 workers), with DEFAULT `SessionSettings` except
//! for the Janus backend.
//!
//! - Stall: the session goes straight to Janus. Each sample starts from an
//!   answered heartbeat (a keepalive `ack`); Janus is frozen at a random point
//!   of the 2 s cycle after it (stratified over the samples), timed from the
//!   moment every Janus thread is stopped to the engine's `connection_lost`;
//!   then Janus is thawed and the session claims its Janus session back.
//! - Restore: the session goes through the proxy. It is cut (`Refuse` +
//!   `kill_all`); the first retry is refused; while the engine waits out its
//!   backoff before a later attempt the proxy forwards again and we call
//!   `reconnect_now()`, so the attempt that reaches Janus starts at that call:
//!   timed from the call to `connection_restored` (the engine's event time, and
//!   when our consumer had it).
//! - Join: `join()` to `session_joined` (which carries the roster; the
//!   `participant_joined` events for it follow in the same step), then `leave()`
//!   and `session_left`, repeated. Janus may still list our previous self
//!   right after `session_left` (once in ~1500 joins while this harness was
//!   written, a roster of four came back), so by default a raw client outside
//!   the room polls `listparticipants` between joins until only the three
//!   others are left; rosters with our earlier self in them are counted
//!   either way.
//!
//! For where the time goes, a raw Janus client (the test-side one: sequential
//! requests, no pipelining) does the same handshakes step by step on the same
//! Janus; those rows are not targets.
//!
//! Without `--bench` (as under `cargo test --benches`) it does nothing.

#[path = "../tests/janus_support/mod.rs"]
mod janus_support;
#[path = "../tests/support/proxy.rs"]
#[allow(dead_code)]
mod proxy;

use std::time::{Duration, Instant};

use calltop::clock::Clock;
use calltop::engine::ContractChecker;
use calltop::event::{EventKind, SessionEvent};
use calltop::settings::SessionSettings;
use calltop::{BackendKind, CallSession};
use janus_support::{Janus, JanusOptions as ServerOptions, JanusPeer};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde_json::json;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

use proxy::{Mode, Proxy};

/// The longest the whole run may take before it gives up.
const WATCHDOG: Duration = Duration::from_secs(600);
/// The longest any single expected event may take.
const WAIT: Duration = Duration::from_secs(30);
/// Rooms: one per part, so nothing of one part shows in another.
const STALL_ROOM: u64 = 7001;
const RESTORE_ROOM: u64 = 7002;
const JOIN_ROOM: u64 = 7003;
const RAW_ROOM: u64 = 7004;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("janus_harness: real-time measurements; run `cargo bench --bench janus_harness`");
        return;
    }
    if let Err(why) = janus_support::install() {
        eprintln!("janus_harness: needs a real Janus: {why} (`apt-get install janus`)");
        std::process::exit(1);
    }
    std::thread::spawn(|| {
        std::thread::sleep(WATCHDOG);
        eprintln!("janus_harness: still running after {WATCHDOG:?}; giving up");
        std::process::exit(2);
    });
    let knobs = Knobs {
        stalls: env_num("JANUS_HARNESS_STALLS", 10).max(1) as usize,
        restores: env_num("JANUS_HARNESS_RESTORES", 20).max(1) as usize,
        joins: env_num("JANUS_HARNESS_JOINS", 50).max(1) as usize,
        settle: env_num("JANUS_HARNESS_SETTLE", 1) != 0,
        seed: env_num(
            "HARNESS_SEED",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(1),
        ),
    };
    if let Err(e) = run(&knobs) {
        eprintln!("janus_harness: {e}");
        std::process::exit(1);
    }
}

struct Knobs {
    stalls: usize,
    restores: usize,
    joins: usize,
    /// Between joins, wait until Janus no longer lists us.
    settle: bool,
    seed: u64,
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runtime(workers: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn run(k: &Knobs) -> Result<(), String> {
    let defaults = settings("ws://127.0.0.1:1", 1, "u")?;
    println!(
        "janus_harness: {} stalls, {} restores per path, {} joins, seed {}; {} CPUs, load average {}",
        k.stalls,
        k.restores,
        k.joins,
        k.seed,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "DEFAULT settings (backend janus): heartbeat_interval {:?}, heartbeat_timeout {:?}, \
         connect_timeout {:?}, reconnect {:?}",
        defaults.heartbeat_interval,
        defaults.heartbeat_timeout,
        defaults.connect_timeout,
        defaults.reconnect
    );
    let fixture_rt = runtime(2);
    let client_rt = runtime(2);
    let mut rng = SmallRng::seed_from_u64(k.seed);

    // 1. Stalls, on a Janus that keeps sessions long enough to claim them
    //    after a freeze (its timers stop while frozen, too).
    println!(
        "\n[1/3] frozen Janus → connection_lost ({} freezes)",
        k.stalls
    );
    let mut janus = fixture_rt.block_on(Janus::start(ServerOptions {
        session_timeout_secs: 30,
        reclaim_timeout_secs: 20,
        ..ServerOptions::default()
    }));
    println!(
        "  Janus {} on {} (started in {:.0} ms)",
        janus.server_name(),
        janus.ws_url(),
        ms(janus.startup)
    );
    let peers = fixture_rt.block_on(room_with(&janus, STALL_ROOM, 1));
    let url = janus.ws_url();
    let stalls = client_rt.block_on(async {
        let s = CallSession::new(settings(&url, STALL_ROOM, "alice")?);
        let mut ev = Events::new(&s).await?;
        s.join().await.map_err(|e| e.to_string())?;
        ev.wait("session_joined").await?;
        let out = measure_stalls(&mut janus, &mut ev, k.stalls, &mut rng).await;
        finish(&s, &mut ev).await?;
        out
    })?;
    drop(peers);
    janus.stop();

    // 2. Restores: a claim (reclaim window 5 s), then a full rejoin (reclaim 0).
    let mut restores = Vec::new();
    for (reclaim, resumed) in [(5, true), (0, false)] {
        println!(
            "\n[2/3] reachable again → connection_restored, reclaim_session_timeout {reclaim} s \
             ({}; {} outages)",
            if resumed { "claim" } else { "full rejoin" },
            k.restores
        );
        let janus = fixture_rt.block_on(Janus::start(ServerOptions {
            reclaim_timeout_secs: reclaim,
            ..ServerOptions::default()
        }));
        let peers = fixture_rt.block_on(room_with(&janus, RESTORE_ROOM, 1));
        let upstream = format!("127.0.0.1:{}", janus.ws_port())
            .parse()
            .map_err(|e| format!("address: {e}"))?;
        let proxy = fixture_rt.block_on(Proxy::start(upstream));
        let url = proxy.ws_url();
        let samples = client_rt.block_on(async {
            let s = CallSession::new(settings(&url, RESTORE_ROOM, "alice")?);
            let mut ev = Events::new(&s).await?;
            s.join().await.map_err(|e| e.to_string())?;
            ev.wait("session_joined").await?;
            let out = measure_restores(&proxy, &s, &mut ev, k.restores, &mut rng).await;
            finish(&s, &mut ev).await?;
            out
        })?;
        restores.push((reclaim, resumed, samples));
        drop(proxy);
        drop(peers);
        janus.stop();
    }

    // 3. Joins, and the raw client's handshakes for comparison.
    println!(
        "\n[3/3] join → session_joined, room with 3 others ({} joins)",
        k.joins
    );
    let janus = fixture_rt.block_on(Janus::start(ServerOptions::default()));
    let peers = fixture_rt.block_on(room_with(&janus, JOIN_ROOM, 3));
    let url = janus.ws_url();
    let joins = client_rt.block_on(async {
        // Not in the room: it only lists who is, between the joins.
        let mut observer = janus.peer(None).await;
        observer.create_session().await;
        observer.attach_videoroom().await;
        let s = CallSession::new(settings(&url, JOIN_ROOM, "alice")?);
        let mut ev = Events::new(&s).await?;
        let out = measure_joins(&s, &mut ev, k.joins, &observer, k.settle).await;
        s.shutdown().await;
        out
    })?;
    drop(peers);
    println!(
        "\n[raw] the test-side Janus client, sequential requests, same Janus ({} joins, {} claims)",
        k.joins, k.restores
    );
    let raw_peers = fixture_rt.block_on(room_with(&janus, RAW_ROOM, 3));
    let raw_joins = fixture_rt.block_on(raw_joins(&janus, k.joins));
    let raw_claims = fixture_rt.block_on(raw_claims(&janus, k.restores));
    drop(raw_peers);
    janus.stop();

    report(
        k.settle,
        &defaults,
        &stalls,
        &restores,
        &joins,
        &raw_joins,
        &raw_claims,
    );
    Ok(())
}

fn settings(url: &str, room: u64, user: &str) -> Result<SessionSettings, String> {
    // DEFAULT settings: only the server, room, user and backend are ours.
    SessionSettings::builder(url, room.to_string(), user)
        .backend(BackendKind::Janus)
        .build()
        .map_err(|e| e.to_string())
}

/// `others` raw participants in `room`: the first creates it (announcing joins).
async fn room_with(janus: &Janus, room: u64, others: usize) -> Vec<JanusPeer> {
    let mut peers = Vec::new();
    for i in 0..others {
        let mut p = janus.peer(None).await;
        p.create_session().await;
        p.attach_videoroom().await;
        if i == 0 {
            p.create_room(
                room,
                json!({"notify_joining": true, "description": "harness"}),
            )
            .await;
        }
        p.join(room, Some(&format!("peer{i}"))).await;
        peers.push(p);
    }
    peers
}

/// Leaves and stops the session.
async fn finish(s: &CallSession, ev: &mut Events) -> Result<(), String> {
    s.leave().await.map_err(|e| e.to_string())?;
    ev.wait("session_left").await?;
    s.shutdown().await;
    Ok(())
}

// ---------------------------------------------------------------------------
// Events, with the time we received them, checked against the contract
// ---------------------------------------------------------------------------

struct Events {
    rx: mpsc::UnboundedReceiver<(SessionEvent, Instant)>,
    checker: ContractChecker,
    clock: Clock,
    /// When the last answered heartbeat's keepalive was sent.
    last_answered_ping: Option<Instant>,
}

impl Events {
    async fn new(s: &CallSession) -> Result<Events, String> {
        let mut sub = s.subscribe().await.map_err(|e| e.to_string())?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(ev) = sub.recv().await {
                if tx.send((ev, Instant::now())).is_err() {
                    return;
                }
            }
        });
        Ok(Events {
            rx,
            checker: ContractChecker::new(),
            clock: s.clock(),
            last_answered_ping: None,
        })
    }

    /// When the engine reported `ev` (its offset on the session's clock).
    fn at(&self, ev: &SessionEvent) -> Instant {
        self.clock.instant(ev.offset)
    }

    /// The next event named `name`; every event on the way passes the contract checker.
    async fn wait(&mut self, name: &str) -> Result<(SessionEvent, Instant), String> {
        self.wait_seeing(name, |_, _| {}).await
    }

    /// [`Self::wait`], showing `seen` every event on the way (and the last).
    async fn wait_seeing(
        &mut self,
        name: &str,
        mut seen: impl FnMut(&SessionEvent, Instant),
    ) -> Result<(SessionEvent, Instant), String> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (ev, got) = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .map_err(|_| format!("no {name} within {WAIT:?}"))?
                .ok_or("event stream closed")?;
            self.checker.observe(&ev.kind).map_err(|v| v.to_string())?;
            if let EventKind::Heartbeat { rtt } = ev.kind {
                self.last_answered_ping = Some(self.at(&ev) - rtt);
            }
            seen(&ev, got);
            if ev.kind.name() == name {
                return Ok((ev, got));
            }
            if ev.kind.is_terminal() {
                return Err(format!("waiting for {name}, got {:?}", ev.kind));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 1. Frozen Janus
// ---------------------------------------------------------------------------

struct Stall {
    /// Freeze time after the keepalive that was last answered.
    phase: Duration,
    /// From `kill -STOP` to every Janus thread stopped.
    stopping: Duration,
    /// Janus stopped → `connection_lost` (the engine's event time).
    detect: Duration,
    /// `connection_lost` − (last answered keepalive + interval + timeout): how
    /// late the heartbeat timeout fired.
    lateness: Option<Duration>,
    /// `kill -CONT` → `connection_restored`.
    back: Duration,
    resumed: bool,
}

async fn measure_stalls(
    janus: &mut Janus,
    ev: &mut Events,
    n: usize,
    rng: &mut SmallRng,
) -> Result<Vec<Stall>, String> {
    let interval = SessionSettings::DEFAULT_HEARTBEAT_INTERVAL;
    let timeout = SessionSettings::DEFAULT_HEARTBEAT_TIMEOUT;
    let mut out = Vec::new();
    for i in 0..n {
        // Each sample starts from an answered keepalive; the freeze lands at
        // a random point of the cycle after it, stratified so the N samples
        // cover the whole 2 s evenly.
        let (hb, _) = ev.wait("heartbeat").await?;
        let EventKind::Heartbeat { rtt } = hb.kind else {
            unreachable!()
        };
        let ping_at = ev.at(&hb) - rtt;
        let phase = interval.mul_f64((i as f64 + rng.random::<f64>()) / n as f64);
        let target = (ping_at + phase).max(Instant::now());
        tokio::time::sleep_until(target.into()).await;
        let signalled = Instant::now();
        // Blocks this (block_on) thread for a few ms; the session runs on the
        // runtime's workers.
        janus.freeze();
        let frozen_at = Instant::now();
        let lost = match ev.wait("connection_lost").await {
            Ok((l, _)) => l,
            Err(e) => {
                janus.thaw();
                return Err(e);
            }
        };
        let answered = ev.last_answered_ping;
        // From the signal: Janus may answer before `thaw` has seen every
        // thread running again.
        let thawed_at = Instant::now();
        janus.thaw();
        let EventKind::ConnectionLost { reason, .. } = &lost.kind else {
            unreachable!()
        };
        if !reason.contains("heartbeat") {
            return Err(format!(
                "lost for another reason than the heartbeat: {reason}"
            ));
        }
        let (restored, _) = ev.wait("connection_restored").await?;
        let (lost_at, restored_at) = (ev.at(&lost), ev.at(&restored));
        let EventKind::ConnectionRestored { resumed, .. } = restored.kind else {
            unreachable!()
        };
        let s = Stall {
            phase: frozen_at.saturating_duration_since(ping_at),
            stopping: frozen_at - signalled,
            detect: lost_at.saturating_duration_since(frozen_at),
            lateness: answered.map(|p| lost_at.saturating_duration_since(p + interval + timeout)),
            back: restored_at.saturating_duration_since(thawed_at),
            resumed,
        };
        println!(
            "  #{:<2} frozen {:>6.1} ms after a keepalive (stopping took {:.1} ms) → \
             connection_lost after {:>7.1} ms (timeout fired {} after its deadline); \
             thawed → restored in {:.1} ms, resumed {}",
            i + 1,
            ms(s.phase),
            ms(s.stopping),
            ms(s.detect),
            s.lateness
                .map_or("?".into(), |d| format!("{:.2} ms", ms(d))),
            ms(s.back),
            s.resumed
        );
        out.push(s);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// 2. Restore
// ---------------------------------------------------------------------------

struct Restore {
    /// Cut → reachable again.
    outage: Duration,
    /// `reconnect_now()` (the attempt that reaches Janus starts) →
    /// `connection_restored` (the engine's event time).
    latency: Duration,
    /// Same, to the consumer having received the event.
    latency_received: Duration,
    attempts: u32,
    resumed: bool,
}

async fn measure_restores(
    proxy: &Proxy,
    s: &CallSession,
    ev: &mut Events,
    n: usize,
    rng: &mut SmallRng,
) -> Result<Vec<Restore>, String> {
    let mut out = Vec::new();
    let mut skipped = 0;
    let mut i = 0;
    while out.len() < n {
        i += 1;
        if skipped > n {
            return Err(format!(
                "{skipped} samples skipped: the backoff never waited"
            ));
        }
        // Let the last restore settle (its resync, Janus noticing the old socket).
        tokio::time::sleep(Duration::from_millis(200)).await;
        proxy.set_mode(Mode::Refuse);
        proxy.kill_all();
        let cut_at = Instant::now();
        ev.wait("connection_lost").await?;
        // Attempt 1 goes at once and is refused; wait for the backoff before
        // attempt 2 or 3 (125-250 ms, 250-500 ms with the default policy).
        let last_refused = rng.random_range(2..=3);
        loop {
            let (ra, _) = ev.wait("reconnect_attempt").await?;
            if let EventKind::ReconnectAttempt { attempt, delay, .. } = ra.kind
                && attempt >= last_refused
                && !delay.is_zero()
            {
                break;
            }
        }
        proxy.set_mode(Mode::Forward);
        let reachable_at = Instant::now();
        let hurried = s.reconnect_now().await;
        let (restored, received) = ev.wait("connection_restored").await?;
        let restored_at = ev.at(&restored);
        let EventKind::ConnectionRestored {
            resumed, attempts, ..
        } = restored.kind
        else {
            unreachable!()
        };
        if let Err(e) = hurried {
            println!("  #{i:<2} skipped: reconnect_now() refused ({e})");
            skipped += 1;
            continue;
        }
        let r = Restore {
            outage: reachable_at - cut_at,
            latency: restored_at.saturating_duration_since(reachable_at),
            latency_received: received.saturating_duration_since(reachable_at),
            attempts,
            resumed,
        };
        println!(
            "  #{:<2} refused for {:>6.1} ms; reconnect_now() → connection_restored {:>6.2} ms \
             ({:.2} ms to the consumer); attempts {}, resumed {}",
            i,
            ms(r.outage),
            ms(r.latency),
            ms(r.latency_received),
            r.attempts,
            r.resumed
        );
        out.push(r);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// 3. Join
// ---------------------------------------------------------------------------

struct Join {
    /// `join()` → `session_joined` (the engine's event time).
    joined: Duration,
    /// Same, to the consumer having received it.
    joined_received: Duration,
    /// `join()` → the consumer having every `participant_joined` of the roster.
    roster_received: Duration,
    /// `join()` → `connecting` (the engine took the command).
    connecting: Duration,
    participants: usize,
    /// Entries of the roster that were us in an earlier join.
    ghosts: usize,
    /// How long after `session_left` Janus still listed us in the room, if
    /// it did at all (the next join waits until it does not).
    lingered: Option<Duration>,
}

/// Polls the room until only `others` are listed; how long we were still
/// there, if we were.
async fn until_gone(
    observer: &JanusPeer,
    room: u64,
    others: usize,
) -> Result<Option<Duration>, String> {
    let left_at = Instant::now();
    let mut seen = false;
    loop {
        let listed = observer.list_participants(room).await.len();
        if listed <= others {
            return Ok(seen.then(|| left_at.elapsed()));
        }
        seen = true;
        if left_at.elapsed() > Duration::from_secs(5) {
            return Err(format!(
                "still {listed} in room {room} 5 s after session_left"
            ));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn measure_joins(
    s: &CallSession,
    ev: &mut Events,
    n: usize,
    observer: &JanusPeer,
    settle: bool,
) -> Result<Vec<Join>, String> {
    let mut out = Vec::new();
    // Our participant id in each earlier join.
    let mut our_old_ids: Vec<String> = Vec::new();
    for i in 0..n {
        let t0 = Instant::now();
        s.join().await.map_err(|e| e.to_string())?;
        let clock = s.clock();
        let mut connecting = None;
        let (joined, joined_received) = ev
            .wait_seeing("session_joined", |e, _| {
                if matches!(e.kind, EventKind::Connecting { .. }) {
                    connecting = Some(clock.instant(e.offset));
                }
            })
            .await?;
        let EventKind::SessionJoined { participants } = joined.kind else {
            unreachable!()
        };
        let mut roster_received = joined_received;
        let mut roster = Vec::new();
        let mut own_id = None;
        for _ in 0..participants {
            let (p, got) = ev
                .wait_seeing("participant_joined", |e, _| {
                    if let EventKind::ServerInfo(f) = &e.kind {
                        own_id.clone_from(&f.own_id);
                    }
                })
                .await?;
            if let EventKind::ParticipantJoined { id, .. } = p.kind {
                roster.push(id);
            }
            roster_received = got;
        }
        let ghosts: Vec<String> = roster
            .iter()
            .filter(|id| our_old_ids.contains(id))
            .cloned()
            .collect();
        our_old_ids.extend(own_id);
        let mut j = Join {
            joined: ev.at(&joined).saturating_duration_since(t0),
            joined_received: joined_received.saturating_duration_since(t0),
            roster_received: roster_received.saturating_duration_since(t0),
            connecting: connecting.map_or(Duration::ZERO, |c| c.saturating_duration_since(t0)),
            participants,
            ghosts: ghosts.len(),
            lingered: None,
        };
        if i < 5 || i + 1 == n || j.joined > Duration::from_millis(10) || participants != 3 {
            println!(
                "  #{:<2} join() → connecting {:.2} ms → session_joined {:>6.2} ms \
                 ({:.2} ms to the consumer, roster of {} in {:.2} ms){}",
                i + 1,
                ms(j.connecting),
                ms(j.joined),
                ms(j.joined_received),
                j.participants,
                ms(j.roster_received),
                if ghosts.is_empty() {
                    String::new()
                } else {
                    format!("; in the roster: our own earlier self {ghosts:?}")
                }
            );
        } else if i == 5 {
            println!(
                "  ... (only the first five, the last, those over 10 ms and odd rosters shown)"
            );
        }
        s.leave().await.map_err(|e| e.to_string())?;
        ev.wait("session_left").await?;
        if settle {
            j.lingered = until_gone(observer, JOIN_ROOM, 3).await?;
        }
        out.push(j);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Raw Janus client, for comparison
// ---------------------------------------------------------------------------

/// One raw join: the duration of each step.
struct RawJoin {
    connect: Duration,
    create: Duration,
    attach: Duration,
    join: Duration,
    list: Duration,
}

impl RawJoin {
    fn total(&self) -> Duration {
        self.connect + self.create + self.attach + self.join + self.list
    }
}

async fn raw_joins(janus: &Janus, n: usize) -> Vec<RawJoin> {
    let mut out = Vec::new();
    for _ in 0..n {
        let t0 = Instant::now();
        let mut p = janus.peer(None).await;
        let t1 = Instant::now();
        p.create_session().await;
        let t2 = Instant::now();
        p.attach_videoroom().await;
        let t3 = Instant::now();
        p.join(RAW_ROOM, Some("raw")).await;
        let t4 = Instant::now();
        let listed = p.list_participants(RAW_ROOM).await;
        let t5 = Instant::now();
        assert_eq!(listed.len(), 4, "raw join: {listed:?}");
        out.push(RawJoin {
            connect: t1 - t0,
            create: t2 - t1,
            attach: t3 - t2,
            join: t4 - t3,
            list: t5 - t4,
        });
        p.leave().await;
        p.destroy_session().await;
        p.close().await;
    }
    let totals: Vec<Duration> = out.iter().map(RawJoin::total).collect();
    let (lo, med, hi) = spread(totals);
    println!(
        "  raw join (connect + create + attach + join + list): min {:.2} / median {:.2} / max {:.2} ms",
        ms(lo),
        ms(med),
        ms(hi)
    );
    out
}

/// One raw claim after a drop: new socket, `claim`, `listparticipants`.
struct RawClaim {
    connect: Duration,
    claim: Duration,
    list: Duration,
}

async fn raw_claims(janus: &Janus, n: usize) -> Vec<RawClaim> {
    let mut p = janus.peer(None).await;
    let session = p.create_session().await;
    let handle = p.attach_videoroom().await;
    p.join(RAW_ROOM, Some("raw-claimer")).await;
    let mut out = Vec::new();
    for _ in 0..n {
        p.abort().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let t0 = Instant::now();
        let mut q = janus.peer(None).await;
        let t1 = Instant::now();
        let reply = q.claim(session).await;
        let t2 = Instant::now();
        assert_eq!(reply["janus"], "success", "claim: {reply}");
        q.handle_id = Some(handle);
        let listed = q.list_participants(RAW_ROOM).await;
        let t3 = Instant::now();
        assert_eq!(listed.len(), 4, "raw claim: {listed:?}");
        out.push(RawClaim {
            connect: t1 - t0,
            claim: t2 - t1,
            list: t3 - t2,
        });
        p = q;
    }
    p.leave().await;
    p.destroy_session().await;
    p.close().await;
    let totals: Vec<Duration> = out.iter().map(|c| c.connect + c.claim + c.list).collect();
    let (lo, med, hi) = spread(totals);
    println!(
        "  raw claim (connect + claim + list): min {:.2} / median {:.2} / max {:.2} ms",
        ms(lo),
        ms(med),
        ms(hi)
    );
    out
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// (min, median, max).
fn spread(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    };
    (v[0], median, v[n - 1])
}

/// The nearest-rank percentile `p` (0-100).
fn percentile(mut v: Vec<Duration>, p: usize) -> Duration {
    v.sort();
    let rank = (v.len() * p).div_ceil(100).max(1);
    v[rank - 1]
}

fn median(v: Vec<Duration>) -> Duration {
    spread(v).1
}

fn report(
    settle: bool,
    defaults: &SessionSettings,
    stalls: &[Stall],
    restores: &[(u32, bool, Vec<Restore>)],
    joins: &[Join],
    raw_joins: &[RawJoin],
    raw_claims: &[RawClaim],
) {
    let yes = |ok: bool| if ok { "yes" } else { "NO" };
    let mut rows: Vec<[String; 4]> = Vec::new();

    let (lo, med, hi) = spread(stalls.iter().map(|s| s.detect).collect());
    let late = stalls.iter().filter_map(|s| s.lateness).max();
    let (blo, bmed, bhi) = spread(stalls.iter().map(|s| s.back).collect());
    rows.push([
        "frozen Janus → connection_lost (DEFAULT settings)".into(),
        format!(
            "min {:.0} / median {:.0} / max {:.0} ms (n={}); worst case by design {:.0} ms; \
             timeout fired ≤ {:.1} ms late",
            ms(lo),
            ms(med),
            ms(hi),
            stalls.len(),
            ms(defaults.stall_detection_bound()),
            late.map_or(f64::NAN, ms)
        ),
        "≤ 5000 ms".into(),
        yes(hi <= Duration::from_secs(5)).into(),
    ]);
    rows.push([
        "(not a target) thawed → connection_restored".into(),
        format!(
            "min {:.1} / median {:.1} / max {:.1} ms; resumed in {}/{}",
            ms(blo),
            ms(bmed),
            ms(bhi),
            stalls.iter().filter(|s| s.resumed).count(),
            stalls.len()
        ),
        "-".into(),
        "-".into(),
    ]);
    for (reclaim, want_resumed, samples) in restores {
        let (lo, med, hi) = spread(samples.iter().map(|r| r.latency).collect());
        let (_, rmed, rhi) = spread(samples.iter().map(|r| r.latency_received).collect());
        let as_wanted = samples
            .iter()
            .filter(|r| r.resumed == *want_resumed)
            .count();
        let attempts: Vec<u32> = samples.iter().map(|r| r.attempts).collect();
        let (olo, ohi) = (
            samples.iter().map(|r| r.outage).min().unwrap_or_default(),
            samples.iter().map(|r| r.outage).max().unwrap_or_default(),
        );
        rows.push([
            format!(
                "reachable again → connection_restored, {} (reclaim {reclaim} s)",
                if *want_resumed {
                    "claim + resync"
                } else {
                    "full rejoin"
                }
            ),
            format!(
                "from reconnect_now(): min {:.2} / median {:.2} / max {:.2} ms \
                 (to the consumer: median {:.2} / max {:.2} ms) (n={}); resumed {} in {as_wanted}/{}; \
                 attempts {}-{}; outages {:.0}-{:.0} ms",
                ms(lo),
                ms(med),
                ms(hi),
                ms(rmed),
                ms(rhi),
                samples.len(),
                want_resumed,
                samples.len(),
                attempts.iter().min().unwrap_or(&0),
                attempts.iter().max().unwrap_or(&0),
                ms(olo),
                ms(ohi)
            ),
            "≤ 20 ms".into(),
            yes(hi <= Duration::from_millis(20) && as_wanted == samples.len()).into(),
        ]);
    }
    let joined: Vec<Duration> = joins.iter().map(|j| j.joined).collect();
    let (lo, med, hi) = spread(joined.clone());
    let p90 = percentile(joined, 90);
    let (_, rmed, rhi) = spread(joins.iter().map(|j| j.joined_received).collect());
    let (_, romed, rohi) = spread(joins.iter().map(|j| j.roster_received).collect());
    let cmed = median(joins.iter().map(|j| j.connecting).collect());
    let lingered: Vec<Duration> = joins.iter().filter_map(|j| j.lingered).collect();
    rows.push([
        "join() → session_joined, 3 others in the room".into(),
        format!(
            "min {:.2} / median {:.2} / p90 {:.2} / max {:.2} ms (n={}); to the consumer: \
             median {:.2} / max {:.2} ms; whole roster at the consumer: median {:.2} / max {:.2} ms; \
             join() → connecting: median {:.3} ms; roster ≠ 3 others in {}/{} joins, \
             our own earlier self in it in {}; {}",
            ms(lo),
            ms(med),
            ms(p90),
            ms(hi),
            joins.len(),
            ms(rmed),
            ms(rhi),
            ms(romed),
            ms(rohi),
            ms(cmed),
            joins.iter().filter(|j| j.participants != 3).count(),
            joins.len(),
            joins.iter().filter(|j| j.ghosts > 0).count(),
            if settle {
                format!(
                    "after session_left Janus still listed us in {}/{} runs (for ≤ {:.1} ms; \
                     the next join waited until it did not)",
                    lingered.len(),
                    joins.len(),
                    lingered.iter().max().map_or(0.0, |d| ms(*d))
                )
            } else {
                "joins back to back (JANUS_HARNESS_SETTLE=0)".to_owned()
            }
        ),
        "≤ 10 ms median".into(),
        yes(med <= Duration::from_millis(10)).into(),
    ]);
    let step = |f: fn(&RawJoin) -> Duration| ms(median(raw_joins.iter().map(f).collect()));
    rows.push([
        "(not a target) raw client join, sequential".into(),
        format!(
            "median {:.2} ms = ws connect {:.2} + create {:.2} + attach {:.2} + join {:.2} + \
             listparticipants {:.2} (step medians, n={})",
            ms(median(raw_joins.iter().map(RawJoin::total).collect())),
            step(|r| r.connect),
            step(|r| r.create),
            step(|r| r.attach),
            step(|r| r.join),
            step(|r| r.list),
            raw_joins.len()
        ),
        "-".into(),
        "-".into(),
    ]);
    let cstep = |f: fn(&RawClaim) -> Duration| ms(median(raw_claims.iter().map(f).collect()));
    rows.push([
        "(not a target) raw client claim after a drop".into(),
        format!(
            "median {:.2} ms = ws connect {:.2} + claim {:.2} + listparticipants {:.2} \
             (step medians, n={})",
            ms(median(
                raw_claims
                    .iter()
                    .map(|c| c.connect + c.claim + c.list)
                    .collect()
            )),
            cstep(|c| c.connect),
            cstep(|c| c.claim),
            cstep(|c| c.list),
            raw_claims.len()
        ),
        "-".into(),
        "-".into(),
    ]);

    println!("\n| what | measured | target | met |\n|---|---|---|---|");
    for r in rows {
        println!("| {} | {} | {} | {} |", r[0], r[1], r[2], r[3]);
    }
}
