//! The loop of `calltop load`: one tick drives everything (start the ramp's
//! participants, drain every event stream, churn and faults, the stages of
//! the run), the screen gets a new look only when it changed, and the end
//! prints the summary once the terminal is restored.

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;

use super::fleet::Fleet;
use super::model::{LoadInfo, LoadModel, Msg, Progress, Stage, update};
use super::summary::{Findings, Memory, RunFacts, Summary, percentiles, rss_kib};
use super::{LoadSettings, view};
use crate::cli::LoadArgs;
use crate::clock::Clock;
use crate::config::Config;
use crate::exit::Exit;
use crate::ui::terminal::{self, Signals, Tui};

/// How often the collector drains every participant's events.
const TICK: Duration = Duration::from_millis(25);
/// How often the screen is offered a new look (drawn only if it changed).
const LOOK: Duration = Duration::from_millis(250);
/// How often headless mode says how it goes, on stderr.
const PROGRESS_LINE: Duration = Duration::from_secs(5);
/// How long the roster check keeps comparing while rosters and the
/// server's list still differ: events in flight catch up well within it, a
/// frame that never came does not.
const CHECK_WINDOW: Duration = Duration::from_secs(5);
const CHECK_EVERY: Duration = Duration::from_millis(250);
/// How long everyone gets to leave at the end, beyond the leave timeout.
const LEAVE_GRACE: Duration = Duration::from_secs(5);

fn say(message: impl std::fmt::Display) {
    let _ = writeln!(io::stderr(), "calltop: {message}");
}

/// Runs a load test to its summary.
pub async fn run(config: Config, args: &LoadArgs) -> anyhow::Result<Exit> {
    let mut s = match LoadSettings::new(&config, args) {
        Ok(s) => s,
        Err(e) => {
            say(format_args!("load: {e}"));
            return Ok(Exit::Usage);
        }
    };
    let theme = match crate::ui::keys_and_theme(&config) {
        Ok((_, theme)) => theme,
        Err(e) => {
            say(e);
            return Ok(Exit::Usage);
        }
    };
    if !s.headless && (!io::stdout().is_terminal() || !io::stdin().is_terminal()) {
        say(
            "load: the live screen needs a terminal; --headless prints progress on stderr and the summary on stdout",
        );
        return Ok(Exit::Usage);
    }
    let needed = s.plan.participants() as u64 + 256;
    let fd_limit = raise_fd_limit(needed);
    if let Some(limit) = fd_limit.filter(|l| *l < needed) {
        say(format_args!(
            "warning: load: {} participants need about {needed} file descriptors and this process may open {limit} (ulimit -n): some joins will fail",
            s.plan.participants()
        ));
    }
    // An unreachable server or a wrong admin token is found before any participant starts.
    if let Err(e) = s.source.poll().await {
        say(format_args!(
            "load: cannot read the server's own list ({}), which the roster check needs: {e}",
            s.source.describe()
        ));
        return Ok(Exit::Usage);
    }
    let info = LoadInfo {
        server: crate::ui::sanitize::clean(&s.server),
        backend: s.backend.as_str(),
        plan: s.plan.clone(),
    };
    let rss_before = rss_kib();
    let mut fleet = Fleet::new(s.plan.clone(), s.target.clone(), Clock::start(), s.seed);
    let mut signals = Signals::new()?;
    let mut screen = if s.headless {
        Screen::Headless
    } else {
        let tui = Tui::enter()?;
        let mut model = LoadModel::new(info.clone(), theme);
        if let Ok(size) = tui.terminal.size() {
            update(&mut model, Msg::Resize(size.width, size.height));
        }
        Screen::Live {
            tui: Box::new(tui),
            input: EventStream::new(),
            model: Box::new(model),
            can_draw: true,
        }
    };
    let outcome = drive(&mut s, &mut fleet, &mut screen, &mut signals, rss_before).await;
    // The terminal is restored before the summary is printed.
    drop(screen);
    let outcome = outcome?;
    let summary = Summary::new(
        RunFacts {
            backend: info.backend,
            server: info.server,
            plan: s.plan.clone(),
            duration: outcome.duration,
            stopped_early: outcome.stopped_early,
            memory: outcome.memory,
            fd_limit,
        },
        &fleet.stats,
        outcome.findings,
    );
    drop(fleet);
    let mut out = io::stdout().lock();
    let _ = out.write_all(summary.text().as_bytes());
    let _ = out.flush();
    if let Some(path) = &s.json
        && let Err(e) = std::fs::write(path, summary.to_json())
    {
        say(format_args!(
            "load: cannot write the summary to {}: {e}",
            path.display()
        ));
        return Ok(Exit::Internal);
    }
    if terminal::panicked() {
        return Ok(Exit::Internal);
    }
    Ok(summary.exit())
}

enum Screen {
    Headless,
    Live {
        tui: Box<Tui>,
        input: EventStream,
        model: Box<LoadModel>,
        can_draw: bool,
    },
}

impl Screen {
    /// The next key or resize, for the live screen; never, headless.
    async fn input(&mut self) -> Option<Msg> {
        match self {
            Screen::Headless => std::future::pending().await,
            Screen::Live { input, .. } => match input.next().await {
                Some(Ok(Event::Key(k))) => Some(Msg::Key(k)),
                Some(Ok(Event::Resize(w, h))) => Some(Msg::Resize(w, h)),
                Some(Ok(_)) => None,
                // The terminal is gone: stop as if asked to.
                Some(Err(_)) | None => Some(Msg::Key(crossterm::event::KeyEvent::new(
                    crossterm::event::KeyCode::Char('q'),
                    crossterm::event::KeyModifiers::NONE,
                ))),
            },
        }
    }

    /// Hands a message to the model and draws if it changed; whether to stop.
    fn show(&mut self, msg: Msg) -> bool {
        match self {
            Screen::Headless => false,
            Screen::Live {
                tui,
                model,
                can_draw,
                ..
            } => {
                let u = update(model, msg);
                if u.redraw && *can_draw && tui.terminal.draw(|f| view::view(model, f)).is_err() {
                    *can_draw = false;
                }
                u.stop
            }
        }
    }
}

struct Outcome {
    duration: Duration,
    stopped_early: bool,
    memory: Option<Memory>,
    findings: Findings,
}

async fn drive(
    s: &mut LoadSettings,
    fleet: &mut Fleet,
    screen: &mut Screen,
    signals: &mut Signals,
    rss_before: Option<u64>,
) -> anyhow::Result<Outcome> {
    let plan = s.plan.clone();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let started = tokio::time::Instant::now();
    let mut stage = Stage::Ramping;
    let mut until = Duration::ZERO;
    let mut last = Duration::ZERO;
    let mut next_second = Duration::from_secs(1);
    let mut next_look = Duration::ZERO;
    let mut next_line = PROGRESS_LINE;
    let mut next_poll = Duration::ZERO;
    let mut stop = false;
    let mut stopped_early = false;
    let mut memory = None;
    let (counts, mismatches) = loop {
        tokio::select! {
            _ = ticker.tick() => {}
            msg = screen.input() => if let Some(msg) = msg {
                stop |= screen.show(msg);
            },
            name = signals.recv() => {
                let _ = name;
                stop = true;
            }
        }
        let now = started.elapsed();
        fleet.drain();
        if matches!(stage, Stage::Ramping | Stage::Running { .. }) {
            fleet.strike(now.saturating_sub(last));
            if stop {
                stopped_early = true;
                fleet.calm();
                stage = Stage::Settling;
                until = now + s.settle;
            }
        }
        last = now;
        match stage {
            Stage::Ramping => {
                fleet.launch(plan.due(now)).await?;
                if fleet.launched() {
                    until = now + plan.duration;
                    stage = Stage::Running {
                        left: plan.duration,
                    };
                }
            }
            Stage::Running { .. } => {
                if now >= until {
                    fleet.calm();
                    stage = Stage::Settling;
                    until = now + s.settle;
                } else {
                    stage = Stage::Running { left: until - now };
                }
            }
            Stage::Settling => {
                if fleet.settled() || now >= until {
                    stage = Stage::Checking;
                    until = now + CHECK_WINDOW;
                    next_poll = now;
                }
            }
            Stage::Checking if now >= next_poll => {
                next_poll = now + CHECK_EVERY;
                let polled = s.source.poll().await;
                // What arrived while the list was read counts as before it.
                fleet.drain();
                let now = started.elapsed();
                match polled {
                    Ok(snap) => {
                        let m = fleet.mismatches(&snap);
                        if m.is_empty() || now >= until {
                            break (fleet.counts(), Ok(m));
                        }
                    }
                    Err(e) if now >= until => break (fleet.counts(), Err(e.to_string())),
                    Err(_) => {}
                }
            }
            Stage::Checking | Stage::Leaving => {}
        }
        let counts = fleet.counts();
        if memory.is_none() && counts.joined == counts.planned {
            memory = rss_before
                .zip(rss_kib())
                .map(|(b, a)| Memory::new(b, a, counts.joined));
        }
        while now >= next_second {
            fleet.stats.second(counts.joined);
            next_second += Duration::from_secs(1);
        }
        if now >= next_look {
            next_look = now + LOOK;
            stop |= screen.show(Msg::Progress(Box::new(progress(fleet, stage, now))));
        }
        if matches!(screen, Screen::Headless) && now >= next_line {
            next_line = now + PROGRESS_LINE;
            say(progress_line(&progress(fleet, stage, now)));
        }
    };
    let duration = started.elapsed();
    if memory.is_none() && counts.joined > 0 {
        memory = rss_before
            .zip(rss_kib())
            .map(|(b, a)| Memory::new(b, a, counts.joined));
    }
    let findings = Findings {
        counts,
        mismatches,
        violations: fleet.violations.clone(),
        ended_early: fleet.closed.clone(),
    };
    // Everyone leaves, within a bound: a server that does not answer the
    // leave is cut off by the engine's own leave timeout.
    fleet.leave_all();
    let deadline = started.elapsed() + s.target.template.leave_timeout + LEAVE_GRACE;
    while !fleet.all_closed() && started.elapsed() < deadline {
        ticker.tick().await;
        fleet.drain();
        let now = started.elapsed();
        if now >= next_look {
            next_look = now + LOOK;
            screen.show(Msg::Progress(Box::new(progress(
                fleet,
                Stage::Leaving,
                now,
            ))));
        }
    }
    Ok(Outcome {
        duration,
        stopped_early,
        memory,
        findings,
    })
}

fn progress(fleet: &Fleet, stage: Stage, now: Duration) -> Progress {
    let h = &fleet.stats.history;
    Progress {
        stage,
        elapsed_s: now.as_secs(),
        counts: fleet.counts(),
        join: fleet.stats.join.percentiles(),
        rtt: fleet.stats.rtt.percentiles(),
        events_per_s: h.events_per_s.latest().unwrap_or_default(),
        violations: fleet.stats.violations,
        history: h.clone(),
    }
}

fn progress_line(p: &Progress) -> String {
    let c = &p.counts;
    format!(
        "load: {} {}s: joined {}/{} · connecting {} · reconnecting {} · closed {} · join {} · {} events/s · {} violations",
        p.stage.words().to_lowercase(),
        p.elapsed_s,
        c.joined,
        c.planned,
        c.connecting,
        c.reconnecting,
        c.closed,
        percentiles(&p.join),
        p.events_per_s,
        p.violations
    )
}

/// Lets this process open `needed` files where it can: the soft limit up
/// to the hard one, and the hard one too where the process may (root).
/// Returns the soft limit in force, if the system says.
pub fn raise_fd_limit(needed: u64) -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let now = getrlimit(Resource::Nofile);
    let soft = now.current;
    if soft.is_none_or(|s| s >= needed) {
        return soft;
    }
    let want = match now.maximum {
        Some(hard) if hard < needed => {
            // Only a privileged process may raise the hard limit; failing, the soft one goes to it.
            let raised = Rlimit {
                current: Some(needed),
                maximum: Some(needed),
            };
            if setrlimit(Resource::Nofile, raised).is_ok() {
                return Some(needed);
            }
            Some(hard)
        }
        _ => Some(needed),
    };
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: want,
            maximum: now.maximum,
        },
    );
    getrlimit(Resource::Nofile).current
}
