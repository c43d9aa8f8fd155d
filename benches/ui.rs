//! How long one dashboard frame takes to build: 200x60, a full event log,
//! participants and a full RTT history, drawn into ratatui's TestBackend.
//!
//! `cargo bench --bench ui`

use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use calltop::event::{EventKind, SessionEvent};
use calltop::ui::keys::Keymap;
use calltop::ui::log;
use calltop::ui::model::{CallInfo, Effect, Model, Msg, RTT_HISTORY, update};
use calltop::ui::theme::Theme;
use calltop::ui::view;

const LOG_CAPACITY: usize = 2000;

fn model() -> Model {
    let w0 = SystemTime::now();
    let info = CallInfo {
        session: "standup".into(),
        user: "alice".into(),
        server: "ws://127.0.0.1:7878/ws".into(),
        backend: "calltop".into(),
        banner: None,
    };
    let mut m = Model::new(info, Keymap::default(), Theme::colour(), Duration::ZERO, w0);
    m.size = (200, 60);
    let apply = |m: &mut Model, kind: EventKind| {
        let u = update(m, Msg::Event(SessionEvent::new(w0, Duration::ZERO, kind)));
        for e in u.effects {
            if let Effect::Log(line) = e {
                log::write(&line, &m.tz);
            }
        }
    };
    apply(&mut m, EventKind::SessionJoined { participants: 12 });
    for i in 0..12 {
        apply(
            &mut m,
            EventKind::ParticipantJoined {
                id: format!("p{i}"),
                user: format!("participant-{i:02}"),
                joined_at: Some(w0),
            },
        );
    }
    for i in 0..RTT_HISTORY as u64 {
        apply(
            &mut m,
            EventKind::Heartbeat {
                rtt: Duration::from_micros(300 + (i * 37) % 900),
            },
        );
    }
    // Fill the log to its capacity with long-ish lines that wrap.
    for i in 0..LOG_CAPACITY {
        apply(
            &mut m,
            EventKind::Error {
                message: format!(
                    "notice {i}: the quick brown fox jumps over the lazy dog and keeps on running well past the edge of the panel"
                ),
            },
        );
        if i % 500 == 0 {
            log::flush();
        }
    }
    log::flush();
    m
}

fn frame(c: &mut Criterion) {
    log::set_capacity(LOG_CAPACITY);
    let m = model();
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
    c.bench_function("frame 200x60 full log", |b| {
        b.iter(|| {
            terminal.draw(|f| view::view(&m, f)).unwrap();
        })
    });
}

criterion_group!(benches, frame);
criterion_main!(benches);
