//! The words for each outcome, written once: the log, the call panel, the
//! overlays and the final message all say it the same way.

use std::time::Duration;

use super::fmt;
use crate::engine::Fault;
use crate::event::LeftReason;

/// How the session ended, in a few words (the call panel).
pub fn left_short(reason: LeftReason) -> &'static str {
    match reason {
        LeftReason::User => "you left",
        LeftReason::Removed => "removed by an administrator",
        LeftReason::Ended => "session ended",
        LeftReason::Replaced => "replaced by another connection",
    }
}

/// How the session ended, as a sentence without its full stop (the log;
/// capitalised, the final message).
pub fn left(reason: LeftReason) -> &'static str {
    match reason {
        LeftReason::User => "left the session",
        LeftReason::Removed => "an administrator removed you from the session",
        LeftReason::Ended => "the session was ended for everyone",
        LeftReason::Replaced => "another connection joined as you, so the server let this one go",
    }
}

/// The idle timeout ended the session after `alone`.
pub fn timed_out(alone: Duration) -> String {
    format!("left after {} alone", fmt::clock_secs(alone.as_secs()))
}

/// Where a connection attempt is in its run: "attempt 2 of 10".
pub fn attempt(attempt: u32, max: u32) -> String {
    format!("attempt {attempt} of {max}")
}

/// The idle countdown's line goes: [`ALONE`], the time left, [`UNLESS`].
pub const ALONE: &str = "alone · leaving in ";
pub const UNLESS: &str = " unless someone joins";

/// The idle line in one piece, for the log.
pub fn alone(left: Duration) -> String {
    format!("{ALONE}{}{UNLESS}", fmt::clock_secs(left.as_secs()))
}

/// A sentence's first letter in capitals.
pub fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Marks what an injected fault caused, so nobody takes it for an outage.
pub const INJECTED_MARK: &str = " [injected]";

/// A fault as it is injected: "injected: stall for 10 s".
pub fn injected(fault: &Fault) -> String {
    let what = match *fault {
        Fault::Drop => "drop the connection (no close frame)".to_owned(),
        Fault::Stall { duration } => format!(
            "stall for {} (no reading, no heartbeats)",
            fmt::human(duration)
        ),
        Fault::ForgetResume => {
            "forget the resume token (the next reconnect is a full rejoin)".to_owned()
        }
        Fault::Refuse { attempts: 1 } => "refuse the next connection attempt".to_owned(),
        Fault::Refuse { attempts } => format!("refuse the next {attempts} connection attempts"),
        Fault::Idle { timeout } => format!("idle timeout set to {}", fmt::human(timeout)),
    };
    format!("injected fault: {what}")
}

/// A fault that lasted is over.
pub fn fault_over(fault: &Fault) -> String {
    match fault {
        Fault::Stall { .. } => "injected stall over".to_owned(),
        Fault::Refuse { .. } => "injected refusals used up".to_owned(),
        other => format!("injected {} over", other.name()),
    }
}
