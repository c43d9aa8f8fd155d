//! Where each part of the dashboard goes, for the view that draws there and
//! for the update that needs to know (the log's page size, whether the
//! terminal is big enough): one layout, so the two never disagree.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Padding};

use super::facts;
use super::model::Model;

/// The smallest terminal the dashboard is laid out for.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// Rows of the call and participants panels, borders included, at the
/// least; the call panel takes more once the server has told us about
/// itself (see [`call_height`]).
const PANEL_ROWS: u16 = 10;
/// The call panel's rows after those about where we are: call, rtt,
/// drops, error.
pub const STATE_ROWS: usize = 4;

/// Where each part of the dashboard goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub banner: Rect,
    pub call: Rect,
    pub people: Rect,
    pub idle: Rect,
    pub log: Rect,
    pub footer: Rect,
}

/// A panel's frame: its border and padding (the view adds colours and a title).
pub fn panel<'a>() -> Block<'a> {
    Block::bordered().padding(Padding::horizontal(1))
}

/// The call panel's height, borders included: a row for each fact
/// [`facts::rows`] has, then the [`STATE_ROWS`].
fn call_height(m: &Model) -> u16 {
    let rows = facts::rows(&m.info, m.facts.as_ref()).len() + STATE_ROWS + 2;
    u16::try_from(rows).unwrap_or(u16::MAX)
}

pub fn layout(m: &Model, area: Rect) -> Areas {
    let least = PANEL_ROWS.max(call_height(m));
    // Taller terminals give a long participant list more room.
    let panel_rows = if area.height >= 40 {
        let wanted = u16::try_from(m.participants.len() + 2).unwrap_or(u16::MAX);
        wanted.clamp(least, (area.height / 3).max(least))
    } else {
        least
    };
    let banner = u16::from(m.info.banner.is_some());
    let idle = u16::from(m.idle_left().is_some());
    let [header, banner, panels, idle, log, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner),
        Constraint::Length(panel_rows),
        Constraint::Length(idle),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    let [call, people] =
        Layout::horizontal([Constraint::Fill(3), Constraint::Fill(2)]).areas(panels);
    Areas {
        header,
        banner,
        call,
        people,
        idle,
        log,
        footer,
    }
}

/// The log widget's area inside its border, at the model's terminal size.
pub fn log_inner_area(m: &Model) -> Rect {
    let area = Rect::new(0, 0, m.size.0, m.size.1);
    panel().inner(layout(m, area).log)
}

/// The terminal is smaller than the dashboard; only a notice shows.
pub fn too_small(size: (u16, u16)) -> bool {
    size.0 < MIN_WIDTH || size.1 < MIN_HEIGHT
}
