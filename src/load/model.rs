//! The load screen's state and `update` (no IO): what the fleet reported
//! last, the terminal's size, and whether the user asked to stop.

use std::time::Duration;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::fleet::Counts;
use super::plan::Plan;
use super::stats::{History, Percentiles};
use crate::ui::theme::Theme;

/// Where the run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Starting participants at the ramp rate.
    Ramping,
    /// Everyone started; churn and faults go on for the plan's duration.
    Running { left: Duration },
    /// Churn and faults stopped; waiting for everyone to be back in.
    Settling,
    /// Comparing rosters with the server's list.
    Checking,
    /// Everyone leaving.
    Leaving,
}

impl Stage {
    pub fn words(self) -> &'static str {
        match self {
            Stage::Ramping => "RAMPING",
            Stage::Running { .. } => "RUNNING",
            Stage::Settling => "SETTLING",
            Stage::Checking => "CHECKING",
            Stage::Leaving => "LEAVING",
        }
    }
}

/// One look at the run, made by the loop a few times a second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub stage: Stage,
    /// Whole seconds since the first participant started.
    pub elapsed_s: u64,
    pub counts: Counts,
    pub join: Percentiles,
    pub rtt: Percentiles,
    pub events_per_s: u64,
    pub violations: u64,
    pub history: History,
}

/// What does not change during a run.
#[derive(Debug, Clone)]
pub struct LoadInfo {
    pub server: String,
    pub backend: &'static str,
    pub plan: Plan,
}

pub struct LoadModel {
    pub info: LoadInfo,
    pub theme: Theme,
    pub progress: Option<Progress>,
    pub size: (u16, u16),
    /// The user asked to stop (the loop settles, checks and ends).
    pub stopping: bool,
}

pub enum Msg {
    Progress(Box<Progress>),
    Key(KeyEvent),
    Resize(u16, u16),
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Update {
    pub redraw: bool,
    /// Stop the load now (first `q`, Ctrl-C).
    pub stop: bool,
}

impl LoadModel {
    pub fn new(info: LoadInfo, theme: Theme) -> LoadModel {
        LoadModel {
            info,
            theme,
            progress: None,
            size: (80, 24),
            stopping: false,
        }
    }
}

pub fn update(m: &mut LoadModel, msg: Msg) -> Update {
    match msg {
        Msg::Progress(p) => {
            let changed = m.progress.as_ref() != Some(&*p);
            m.progress = Some(*p);
            Update {
                redraw: changed,
                stop: false,
            }
        }
        Msg::Resize(w, h) => {
            m.size = (w, h);
            Update {
                redraw: true,
                stop: false,
            }
        }
        Msg::Key(k) if k.kind != KeyEventKind::Release => {
            let stop = matches!(k.code, KeyCode::Char('q'))
                || (k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL));
            if stop && !m.stopping {
                m.stopping = true;
                return Update {
                    redraw: true,
                    stop: true,
                };
            }
            Update::default()
        }
        Msg::Key(_) => Update::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::plan::Rate;

    fn model() -> LoadModel {
        LoadModel::new(
            LoadInfo {
                server: "ws://127.0.0.1:1/ws".into(),
                backend: "calltop",
                plan: Plan::new(1, 1, Rate(1.0), Duration::ZERO).unwrap(),
            },
            Theme::plain(),
        )
    }

    fn progress(joined: usize) -> Box<Progress> {
        Box::new(Progress {
            stage: Stage::Ramping,
            elapsed_s: 0,
            counts: Counts {
                joined,
                ..Counts::default()
            },
            join: Percentiles::default(),
            rtt: Percentiles::default(),
            events_per_s: 0,
            violations: 0,
            history: History::default(),
        })
    }

    #[test]
    fn the_same_progress_twice_draws_once() {
        let mut m = model();
        assert!(update(&mut m, Msg::Progress(progress(1))).redraw);
        assert!(!update(&mut m, Msg::Progress(progress(1))).redraw);
        assert!(update(&mut m, Msg::Progress(progress(2))).redraw);
    }

    #[test]
    fn q_and_ctrl_c_stop_the_load_once() {
        let mut m = model();
        let q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        let other = KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE);
        assert_eq!(update(&mut m, Msg::Key(other)), Update::default());
        assert!(update(&mut m, Msg::Key(ctrl_c)).stop);
        assert!(m.stopping);
        assert!(!update(&mut m, Msg::Key(q)).stop, "already stopping");
    }
}
