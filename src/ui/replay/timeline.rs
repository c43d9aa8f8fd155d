//! Where a replay is: the playhead on the recording's clock as it moves in
//! real time ([`Playback`]), and the timeline in the footer ([`Bar`]) with
//! the position, the duration and where the connection was lost.

use std::time::{Duration, Instant};

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::ui::fmt;
use crate::ui::theme::{Meaning, Theme};

/// The playhead: paused at a point of the recording, or moving from one at
/// `speed` times real time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Playback {
    pub paused: bool,
    pub speed: u32,
    /// The playhead when paused; while playing, where it was at `anchor`.
    at: Duration,
    anchor: Option<Instant>,
}

impl Playback {
    pub fn paused_at(at: Duration) -> Playback {
        Playback {
            paused: true,
            speed: 1,
            at,
            anchor: None,
        }
    }

    pub fn paused_at_mut(&mut self, at: Duration) {
        self.paused = true;
        self.at = at;
        self.anchor = None;
    }

    pub fn play(&mut self, now: Instant) {
        self.paused = false;
        self.anchor = Some(now);
    }

    pub fn toggle(&mut self, now: Instant) {
        if self.paused {
            self.play(now);
        } else {
            let at = self.at(now);
            self.paused_at_mut(at);
        }
    }

    /// A new speed from now on; the playhead does not jump.
    pub fn set_speed(&mut self, speed: u32, now: Instant) {
        if !self.paused {
            self.at = self.at(now);
            self.anchor = Some(now);
        }
        self.speed = speed.max(1);
    }

    /// The playhead at real time `now`.
    pub fn at(&self, now: Instant) -> Duration {
        match (self.paused, self.anchor) {
            (false, Some(a)) => self.at + now.saturating_duration_since(a) * self.speed,
            _ => self.at,
        }
    }

    /// Where the playhead stands (now, if playing).
    pub fn position(&self) -> Duration {
        self.at(tokio::time::Instant::now().into_std())
    }

    /// The real time at which the playhead reaches `t` (`now` if paused or
    /// already there).
    pub fn real_time(&self, t: Duration, now: Instant) -> Instant {
        match (self.paused, self.anchor) {
            (false, Some(a)) if t > self.at => a + (t - self.at) / self.speed,
            _ => now,
        }
    }
}

/// What the timeline shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub at: Duration,
    pub duration: Duration,
    /// Events applied, of `events`.
    pub event: usize,
    pub events: usize,
    pub losses: Vec<Duration>,
    pub speed: u32,
    pub paused: bool,
    pub damage: Option<String>,
}

fn clock(d: Duration) -> String {
    fmt::clock_secs(d.as_secs())
}

/// The track: `width` cells, filled up to the playhead, a mark where each
/// loss was. Returns (cell text, meaning) runs.
pub fn track(bar: &Bar, width: usize) -> Vec<(String, Meaning)> {
    if width == 0 {
        return Vec::new();
    }
    let total = bar.duration.as_secs_f64();
    let cell = |d: Duration| -> usize {
        if total <= 0.0 {
            width - 1
        } else {
            ((d.as_secs_f64() / total) * (width - 1) as f64).round() as usize
        }
        .min(width - 1)
    };
    let head = cell(bar.at);
    let mut cells: Vec<(char, Meaning)> = (0..width)
        .map(|i| {
            if i < head {
                ('━', Meaning::Accent)
            } else {
                ('─', Meaning::Muted)
            }
        })
        .collect();
    for l in &bar.losses {
        cells[cell(*l)] = ('×', Meaning::Error);
    }
    cells[head] = ('●', Meaning::Text);
    // Runs of one meaning, so a line is a handful of spans.
    let mut runs: Vec<(String, Meaning)> = Vec::new();
    for (c, m) in cells {
        match runs.last_mut() {
            Some((s, last)) if *last == m => s.push(c),
            _ => runs.push((c.to_string(), m)),
        }
    }
    runs
}

/// Draws the timeline into the footer row.
pub fn draw(bar: &Bar, theme: &Theme, frame: &mut Frame, area: Rect) {
    let state = if bar.paused { "⏸" } else { "▶" };
    let left = format!(
        " {state} ×{:<3} {} / {} ",
        bar.speed,
        clock(bar.at),
        clock(bar.duration)
    );
    let right = match &bar.damage {
        Some(_) => format!(" event {}/{} · damaged ", bar.event, bar.events),
        None => format!(" event {}/{} ", bar.event, bar.events),
    };
    let used = left.chars().count() + right.chars().count();
    let width = usize::from(area.width).saturating_sub(used);
    let mut spans = vec![Span::styled(left, theme.strong(Meaning::Accent))];
    for (text, m) in track(bar, width) {
        spans.push(Span::styled(text, theme.style(m)));
    }
    let right_meaning = if bar.damage.is_some() {
        Meaning::Error
    } else {
        Meaning::Muted
    };
    spans.push(Span::styled(right, theme.style(right_meaning)));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playing_moves_the_playhead_at_its_speed_and_pausing_holds_it() {
        let t0 = Instant::now();
        let mut p = Playback::paused_at(Duration::from_secs(10));
        assert_eq!(p.at(t0 + Duration::from_secs(5)), Duration::from_secs(10));
        p.play(t0);
        p.set_speed(4, t0 + Duration::from_secs(1));
        assert_eq!(p.at(t0 + Duration::from_secs(2)), Duration::from_secs(15));
        assert_eq!(
            p.real_time(Duration::from_secs(19), t0),
            t0 + Duration::from_secs(3)
        );
        p.toggle(t0 + Duration::from_secs(2));
        assert!(p.paused);
        assert_eq!(p.at(t0 + Duration::from_secs(60)), Duration::from_secs(15));
    }

    #[test]
    fn the_track_marks_losses_and_the_playhead() {
        let bar = Bar {
            at: Duration::from_secs(50),
            duration: Duration::from_secs(100),
            event: 5,
            events: 10,
            losses: vec![Duration::from_secs(90)],
            speed: 1,
            paused: true,
            damage: None,
        };
        let text: String = track(&bar, 11).into_iter().map(|(s, _)| s).collect();
        assert_eq!(text, "━━━━━●───×─");
    }
}
