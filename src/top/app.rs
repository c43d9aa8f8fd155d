//! The loop of `calltop top`: terminal input, poll outcomes and (only while
//! something on screen ages) a timer in; at most one frame per change out.
//! `j` leaves this screen for the dashboard on that session, as the
//! configured user; when the dashboard ends, the table is back, polled all
//! along.

use std::io::{self, IsTerminal};
use std::time::{Instant, SystemTime};

use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::TopSettings;
use super::model::{Effect, Msg, Polled, TopInfo, TopModel, update};
use super::poll;
use super::view;
use crate::config::Config;
use crate::exit::Exit;
use crate::ui::sanitize::clean;
use crate::ui::terminal::{self, Signals, Tui};

/// Runs `top` until the user quits (or a signal ends it).
pub async fn run(config: Config) -> anyhow::Result<Exit> {
    let settings = match TopSettings::from_config(&config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("calltop: {e}");
            return Ok(Exit::Usage);
        }
    };
    let (keymap, theme) = match crate::ui::keys_and_theme(&config) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("calltop: {e}");
            return Ok(Exit::Usage);
        }
    };
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        eprintln!("calltop: top needs a terminal");
        return Ok(Exit::Usage);
    }
    let source = settings.source();
    let info = TopInfo {
        server: clean(&settings.server),
        source: source.describe(),
        interval: settings.interval,
    };
    let (tx, mut polls) = mpsc::channel(4);
    let poller = poll::spawn(source, settings.interval, tx);
    let mut signals = Signals::new()?;
    let mut model = TopModel::new(
        info,
        keymap,
        theme,
        tokio::time::Instant::now().into_std(),
        SystemTime::now(),
        settings.log_lines,
    );
    let result = loop {
        let step = {
            let mut tui = Tui::enter()?;
            if let Ok(size) = tui.terminal.size() {
                update(&mut model, Msg::Resize(size.width, size.height));
            }
            event_loop(&mut model, &mut tui, &mut polls, &mut signals).await
            // The terminal is restored here: the dashboard takes it next.
        };
        match step {
            Ok(Some(session)) => {
                let outcome = dashboard(&config, &settings, &session).await;
                // What was polled meanwhile happened before the return.
                while let Ok(p) = polls.try_recv() {
                    update(&mut model, Msg::Polled(Box::new(p)));
                }
                update(&mut model, tick());
                update(&mut model, Msg::Returned { session, outcome });
            }
            Ok(None) => break Ok(Exit::Ok),
            Err(e) => break Err(e),
        }
        if terminal::panicked() {
            break Ok(Exit::Internal);
        }
        // Hung up while the dashboard had the terminal: nothing to go back to.
        if !terminal::alive() {
            break Ok(Exit::Ok);
        }
    };
    poller.abort();
    result
}

/// The dashboard on `session`; how it ended, in words for the log.
async fn dashboard(config: &Config, settings: &TopSettings, session: &str) -> String {
    let mut c = config.clone();
    c.session.session = session.to_owned();
    c.session.server = settings.join_url();
    c.session.backend = settings.backend;
    // Checked here, so a refusal lands in the log rather than on a screen
    // about to be covered.
    if let Err(e) = c.check() {
        return format!("cannot join: {e}");
    }
    match crate::ui::run(c, None).await {
        Ok(exit) => exit.meaning().to_owned(),
        Err(e) => format!("the dashboard failed: {e:#}"),
    }
}

/// Until quit (`None`) or a join (`Some(session)`).
async fn event_loop(
    m: &mut TopModel,
    tui: &mut Tui,
    polls: &mut mpsc::Receiver<Polled>,
    signals: &mut Signals,
) -> anyhow::Result<Option<String>> {
    let mut input = EventStream::new();
    let mut dirty = true;
    let mut can_draw = true;
    loop {
        if dirty && can_draw {
            if tui.terminal.draw(|f| view::view(m, f)).is_err() {
                can_draw = false;
            }
            dirty = false;
        }
        let wake = m.next_wake();
        let msg = tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(Event::Key(key))) => Some(Msg::Key(key)),
                Some(Ok(Event::Resize(w, h))) => Some(Msg::Resize(w, h)),
                // Pasted text (bracketed paste) is not keys; mouse and focus are unused.
                Some(Ok(_)) => None,
                // The terminal is gone: nothing to show any more.
                Some(Err(_)) | None => return Ok(None),
            },
            p = polls.recv() => match p {
                Some(p) => Some(Msg::Polled(Box::new(p))),
                None => anyhow::bail!("the poller stopped unexpectedly"),
            },
            _ = signals.recv() => return Ok(None),
            _ = sleep_until(wake) => None,
        };
        dirty |= update(m, tick()).redraw;
        if let Some(msg) = msg {
            let u = update(m, msg);
            dirty |= u.redraw;
            // The first effect ends this screen: quitting, or the dashboard.
            match u.effects.into_iter().next() {
                Some(Effect::Quit) => return Ok(None),
                Some(Effect::Join(session)) => return Ok(Some(session)),
                None => {}
            }
        }
        if !terminal::alive() || terminal::panicked() {
            return Ok(None);
        }
    }
}

/// Now, on tokio's clock (which the poller's times are on too) and the wall's.
fn tick() -> Msg {
    Msg::Tick {
        now: tokio::time::Instant::now().into_std(),
        wall: SystemTime::now(),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}
