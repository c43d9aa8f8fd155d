//! Throughput of the session engine's two hot paths (issue 2, "Targets"):
//!
//! * `engine/*`: the pure core, [`Engine`], fed what a joined session really
//!   gets: heartbeat deadlines (`handle_timeout`, which sends a ping), the
//!   `pong` answering it, and participant churn (`participant_joined` /
//!   `participant_left` frames, which also start and cancel the idle
//!   countdown). One element = one input (`handle_input` or `handle_timeout`),
//!   with every output drained after it, as the driver does. Virtual time.
//!   Target: ≥ 1,000,000 inputs per second on one core.
//! * `fanout/*`: status events through [`Fanout`] (the per-subscriber
//!   channel the driver delivers events with, which never makes the engine
//!   wait) to a consumer task on a tokio runtime. One element = one event received by the consumer; every batch
//!   asserts that the consumer got each event exactly once, in order.
//!   Target: ≥ 1,000,000 per second, none lost.
//!
//! Run: `cargo bench --bench core` (add a filter such as `-- engine/` to run one group).

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use calltop::engine::{Command, Engine, Input, Output, Phase};
use calltop::event::{EventKind, SessionEvent};
use calltop::protocol::{PROTOCOL_VERSION, Participant, ServerFrame};
use calltop::session::Fanout;
use calltop::settings::SessionSettings;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

// ---------------------------------------------------------------------------
// The pure core
// ---------------------------------------------------------------------------

/// Cycles prepared (untimed) at a time, then fed (timed).
const CHUNK_CYCLES: usize = 4096;
/// Distinct participant names churned through.
const NAMES: usize = 64;
const JOINED_AT: &str = "2026-11-25T04:30:00.123Z";

/// A step of the schedule: a heartbeat deadline or an input, `after` the previous step.
enum Step {
    Timeout,
    Input(Input, Duration),
}

/// What the engine produced, so the bench can check the mix did what it claims.
#[derive(Default, Debug)]
struct Tally {
    sends: u64,
    events: u64,
    heartbeats: u64,
    errors: u64,
    other: u64,
}

impl Tally {
    #[inline]
    fn drain(&mut self, e: &mut Engine) {
        while let Some(out) = e.poll_output() {
            match &out {
                Output::Send(_) => self.sends += 1,
                Output::Event(_, EventKind::Heartbeat { .. }) => {
                    self.events += 1;
                    self.heartbeats += 1
                }
                Output::Event(_, EventKind::Error { .. }) => {
                    self.events += 1;
                    self.errors += 1
                }
                Output::Event(..) => self.events += 1,
                _ => self.other += 1,
            }
            black_box(out);
        }
    }
}

fn settings() -> SessionSettings {
    SessionSettings::builder("ws://127.0.0.1:7878/ws", "demo", "alice")
        .build()
        .expect("default settings are valid")
}

fn frame(f: &ServerFrame) -> String {
    serde_json::to_string(f).expect("server frames serialize")
}

/// An engine that has joined "demo" at `t0`, with default settings: alone (so
/// the idle countdown runs) or with "bob" already there.
fn joined_engine(t0: Instant, alone: bool) -> Engine {
    let mut e = Engine::new(settings(), 7);
    let mut t = Tally::default();
    e.handle_command(Command::Join, t0).unwrap();
    t.drain(&mut e);
    e.handle_input(Input::TransportUp, t0);
    t.drain(&mut e);
    let joined = frame(&ServerFrame::Joined {
        v: PROTOCOL_VERSION,
        session: "demo".into(),
        user: "alice".into(),
        resumed: false,
        resume_token: "0123456789abcdef0123456789abcdef".into(),
        resume_window_ms: 30_000,
        participants: if alone {
            vec![]
        } else {
            vec![Participant {
                user: "bob".into(),
                joined_at: JOINED_AT.into(),
            }]
        },
    });
    e.handle_input(Input::Frame(joined), t0);
    t.drain(&mut e);
    assert_eq!(e.phase(), Phase::Joined);
    assert_eq!(t.errors, 0);
    e
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mix {
    /// Heartbeat deadline + its pong: 2 inputs per cycle (the idle steady state,
    /// with one other participant so the idle countdown does not end the session).
    Heartbeat,
    /// Heartbeat deadline, pong, participant_joined, participant_left: 4 per
    /// cycle; we are otherwise alone, so each cycle also cancels and restarts the
    /// idle countdown.
    Churn,
}

impl Mix {
    fn inputs_per_cycle(self) -> u64 {
        match self {
            Mix::Heartbeat => 2,
            Mix::Churn => 4,
        }
    }
}

/// Appends `cycles` cycles of the mix to `steps`; `seq` is the last ping seq used.
fn prepare(steps: &mut Vec<Step>, mix: Mix, cycles: usize, seq: &mut u64, name: &mut usize) {
    for _ in 0..cycles {
        *seq += 1;
        steps.push(Step::Timeout);
        steps.push(Step::Input(
            Input::Frame(frame(&ServerFrame::Pong { seq: *seq })),
            Duration::from_micros(300),
        ));
        if mix == Mix::Churn {
            *name = (*name + 1) % NAMES;
            let user = format!("participant-{name:02}");
            steps.push(Step::Input(
                Input::Frame(frame(&ServerFrame::ParticipantJoined {
                    user: user.clone(),
                    joined_at: JOINED_AT.into(),
                })),
                Duration::from_millis(400),
            ));
            steps.push(Step::Input(
                Input::Frame(frame(&ServerFrame::ParticipantLeft { user })),
                Duration::from_millis(700),
            ));
        }
    }
}

/// Feeds `iters` inputs' worth of whole cycles and returns the time spent inside
/// the engine (plus draining its outputs). With `copy_frames`, each frame is
/// cloned inside the timed loop, as the driver's `to_owned()` of a received
/// WebSocket text does; without it the prepared `String` is moved in.
fn run_core(iters: u64, mix: Mix, copy_frames: bool) -> Duration {
    let t0 = Instant::now();
    let mut e = joined_engine(t0, mix == Mix::Churn);
    let cycles = iters.div_ceil(mix.inputs_per_cycle()) as usize;
    let (mut seq, mut name) = (0u64, 0usize);
    let mut tally = Tally::default();
    let mut steps = Vec::with_capacity(CHUNK_CYCLES * 4);
    let mut spent = Duration::ZERO;
    let mut done = 0;
    let mut now = t0;
    while done < cycles {
        let n = CHUNK_CYCLES.min(cycles - done);
        steps.clear();
        prepare(&mut steps, mix, n, &mut seq, &mut name);
        let start = Instant::now();
        for step in steps.drain(..) {
            match step {
                Step::Timeout => {
                    now = e
                        .poll_timeout()
                        .expect("a joined engine has a heartbeat due");
                    e.handle_timeout(now);
                }
                Step::Input(input, after) => {
                    now += after;
                    let input = match (copy_frames, input) {
                        (true, Input::Frame(f)) => Input::Frame(black_box(f.as_str()).to_owned()),
                        (_, input) => input,
                    };
                    e.handle_input(input, now);
                }
            }
            tally.drain(&mut e);
        }
        spent += start.elapsed();
        done += n;
    }
    // The mix did what it says: one ping and one answered heartbeat per cycle,
    // no error events, still joined.
    assert_eq!(e.phase(), Phase::Joined);
    assert_eq!(tally.errors, 0, "{tally:?}");
    assert_eq!(tally.sends, cycles as u64, "{tally:?}");
    assert_eq!(tally.heartbeats, cycles as u64, "{tally:?}");
    if mix == Mix::Churn {
        // joined + cancelled, left + started, heartbeat.
        assert_eq!(tally.events, 5 * cycles as u64, "{tally:?}");
    }
    // Per-input cost, scaled to exactly `iters` inputs.
    spent.mul_f64(iters as f64 / (cycles as u64 * mix.inputs_per_cycle()) as f64)
}

fn bench_engine(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("heartbeat_cycle", |b| {
        b.iter_custom(|iters| run_core(iters, Mix::Heartbeat, false))
    });
    g.bench_function("churn_mix", |b| {
        b.iter_custom(|iters| run_core(iters, Mix::Churn, false))
    });
    g.bench_function("churn_mix_with_frame_copy", |b| {
        b.iter_custom(|iters| run_core(iters, Mix::Churn, true))
    });
    g.finish();
}

// ---------------------------------------------------------------------------
// Events through Fanout to a consumer task
// ---------------------------------------------------------------------------

/// Events per measured batch.
const BATCH: u64 = 50_000;

/// Status event number `i`: alternately `connection_lost` and `connection_restored`
/// (a sequence the contract allows), its position encoded in its offset.
fn status_event(i: u64) -> SessionEvent {
    let kind = if i.is_multiple_of(2) {
        EventKind::ConnectionLost {
            reason: "heartbeat unanswered for 2500 ms".to_owned(),
            injected: false,
        }
    } else {
        EventKind::ConnectionRestored {
            resumed: true,
            downtime: Duration::from_millis(312),
            attempts: 1,
        }
    };
    SessionEvent {
        ts: SystemTime::now(),
        offset: Duration::from_micros(i),
        kind,
    }
}

/// One batch: a producer task pushes `BATCH` status events through a `Fanout`
/// with one subscriber (as `CallSession::subscribe` makes it), a consumer task
/// receives them. Timed from the first send to the consumer having seen the
/// last event.
async fn fanout_batch() -> Duration {
    let mut fanout = Fanout::default();
    let mut sub = fanout.subscribe();
    let consumer = tokio::spawn(async move {
        let mut got = 0u64;
        while let Some(ev) = sub.recv().await {
            // Exactly once, in order: event `got` must be the next one.
            assert_eq!(ev.offset, Duration::from_micros(got), "lost or reordered");
            let lost = matches!(ev.kind, EventKind::ConnectionLost { .. });
            assert_eq!(lost, got.is_multiple_of(2), "wrong kind at {got}");
            black_box(&ev);
            got += 1;
        }
        (got, Instant::now())
    });
    let producer = tokio::spawn(async move {
        let start = Instant::now();
        for i in 0..BATCH {
            fanout.send(&status_event(i));
        }
        start
        // `fanout` drops here, closing the channel once the consumer is done.
    });
    let start = producer.await.expect("producer");
    let (got, end) = consumer.await.expect("consumer");
    assert_eq!(got, BATCH, "events lost: sent {BATCH}, received {got}");
    end - start
}

fn bench_fanout(c: &mut Criterion) {
    let mut g = c.benchmark_group("fanout");
    g.throughput(Throughput::Elements(BATCH));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(8));
    let runtimes = [
        (
            "status_events_multi_thread_2_workers",
            // What the `calltop` binary runs on.
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
        ),
        (
            "status_events_current_thread",
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        ),
    ];
    for (name, rt) in &runtimes {
        g.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += fanout_batch().await;
                    }
                    total
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_engine, bench_fanout);
criterion_main!(benches);
