//! Where we are and what the server said about itself, in words, from one
//! place: the first rows of the call panel ([`rows`]) and the line a
//! `server_info` event leaves in the log ([`log_text`]).

use super::fmt;
use super::model::CallInfo;
use super::theme::Meaning;
use crate::backend::BackendKind;
use crate::event::ServerFacts;

/// A row of the settings panel: a label, its value, how to colour it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub label: &'static str,
    pub value: String,
    pub meaning: Meaning,
}

/// The settings panel's rows: the timers and the reconnect schedule the
/// run reported (its `run_started`), the idle timeout (an injected one
/// marked), what the server announced about keeping our slot, how long
/// since it was last heard (the warning colour past a heartbeat interval
/// without anything), and whether faults may be injected.
pub fn in_force(m: &super::model::Model) -> Vec<Setting> {
    use std::time::Duration;
    let ms = Duration::from_millis;
    let row = |label, meaning, value: String| Setting {
        label,
        value,
        meaning,
    };
    let mut rows = Vec::new();
    let Some(f) = &m.in_force else {
        rows.push(row(
            "settings",
            Meaning::Muted,
            "not reported by this run (no run_started)".into(),
        ));
        return rows;
    };
    let interval = ms(f.heartbeat_interval_ms);
    rows.push(row(
        "heartbeat",
        Meaning::Text,
        format!(
            "every {}, lost after {} unanswered (a stall shows within {})",
            fmt::human(interval),
            fmt::human(ms(f.heartbeat_timeout_ms)),
            fmt::human(interval + ms(f.heartbeat_timeout_ms))
        ),
    ));
    let r = &f.reconnect;
    // Seconds, as short as they go: "0 0.25 0.5 1 2 4 5 s".
    let waits: Vec<String> = r
        .nominal_delays_ms
        .iter()
        .map(|d| {
            let s = format!("{:.3}", *d as f64 / 1000.0);
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        })
        .collect();
    let jitter = if r.jitter > 0.0 {
        format!(" (each up to {:.0} % shorter)", r.jitter * 100.0)
    } else {
        String::new()
    };
    rows.push(row(
        "reconnect",
        Meaning::Text,
        format!(
            "{} attempts, waits {} s{jitter}",
            r.max_attempts,
            waits.join(" ")
        ),
    ));
    rows.push(row(
        "gives up",
        Meaning::Text,
        format!(
            "within {} of a loss (waits {} + {} × {} to connect)",
            fmt::human(ms(r.loss_budget_ms)),
            fmt::human(ms(r.worst_case_budget_ms)),
            r.max_attempts,
            fmt::human(ms(f.connect_timeout_ms))
        ),
    ));
    let idle = match m.injected_idle {
        Some(injected) => row(
            "idle timeout",
            Meaning::Warn,
            format!(
                "{} (injected; {} configured)",
                fmt::human(injected),
                fmt::human(ms(f.idle_timeout_ms))
            ),
        ),
        None if f.idle_timeout_ms == 0 => row("idle timeout", Meaning::Text, "off".into()),
        None => row(
            "idle timeout",
            Meaning::Text,
            format!(
                "{} alone, then calltop leaves",
                fmt::human(ms(f.idle_timeout_ms))
            ),
        ),
    };
    rows.push(idle);
    let (_, window) = window_words(&m.info.backend);
    let kept = match m.resume_window {
        Some(d) if d.is_zero() => row(window, Meaning::Warn, FULL_REJOIN.into()),
        Some(d) => row(
            window,
            Meaning::Text,
            format!("{} (as the server announced)", fmt::human(d)),
        ),
        None => row(window, Meaning::Muted, "not announced".into()),
    };
    rows.push(kept);
    if let Some(d) = m.facts.as_ref().and_then(|f| f.session_timeout) {
        rows.push(row(
            "session timeout",
            Meaning::Text,
            format!("{} (the server drops a silent session)", fmt::human(d)),
        ));
    }
    rows.push(match m.heard_ago() {
        Some(ago) => row(
            "last heard",
            if ago > interval {
                Meaning::Warn
            } else {
                Meaning::Text
            },
            format!("{} s ago from the server", ago.as_secs()),
        ),
        None => row("last heard", Meaning::Muted, "not connected".into()),
    });
    rows.push(if f.faults {
        row(
            "faults",
            Meaning::Text,
            "may be injected (--no-faults turns them off)".into(),
        )
    } else {
        row("faults", Meaning::Muted, "off (--no-faults)".into())
    });
    rows
}

/// What a zero resume window (Janus: `reclaim-session-timeout = 0`, its
/// default) means for us; the panel and the log say it in these words.
pub const FULL_REJOIN: &str = "a drop means a full rejoin";

/// One fact in a row: `lead` (a separator, muted) then `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub lead: &'static str,
    pub meaning: Meaning,
    pub text: String,
    /// Shown whole or not at all (with what follows it) when the row is too
    /// narrow; otherwise cut with `…`.
    pub whole: bool,
}

/// A labelled row of the call panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub label: &'static str,
    pub parts: Vec<Part>,
}

fn part(meaning: Meaning, text: impl Into<String>) -> Part {
    Part {
        lead: "",
        meaning,
        text: text.into(),
        whole: false,
    }
}

fn then(lead: &'static str, meaning: Meaning, text: impl Into<String>) -> Part {
    Part {
        lead,
        ..part(meaning, text)
    }
}

/// What the backend calls how long the server keeps our place after a
/// drop: the call panel's label, and the words in the log.
fn window_words(backend: &str) -> (&'static str, &'static str) {
    if backend == BackendKind::Janus.as_str() {
        ("reclaim", "reclaim")
    } else {
        ("resume", "resume window")
    }
}

/// Our own participant id, when it says more than our name does (on
/// calltop's protocol it is the name).
fn own_id<'a>(info: &CallInfo, facts: &'a ServerFacts) -> Option<&'a str> {
    facts
        .own_id
        .as_deref()
        .filter(|id| !id.is_empty() && *id != info.user)
}

/// The server's software, with its name for itself: `Janus WebRTC Server
/// 1.1.2` and `(janus-ci)`.
fn software(facts: &ServerFacts) -> Option<(String, Option<String>)> {
    match (&facts.server, &facts.server_name) {
        (Some(s), name) => Some((s.clone(), name.as_ref().map(|n| format!("({n})")))),
        (None, Some(n)) => Some((n.clone(), None)),
        (None, None) => None,
    }
}

/// The call panel's rows about where we are: session (and the room), user
/// (and our id), server, backend (and our session on the server), then the
/// server's software and its limits, each only when the server told us.
/// `facts` must be cleaned (the model keeps them so).
pub fn rows(info: &CallInfo, facts: Option<&ServerFacts>) -> Vec<Row> {
    let none = ServerFacts::default();
    let f = facts.unwrap_or(&none);
    let mut session = vec![part(Meaning::Text, &info.session)];
    // A description that only repeats the id says nothing.
    if let Some(room) = f.room.as_ref().filter(|r| **r != info.session) {
        session.push(then(" · ", Meaning::Text, room));
    }
    let mut user = vec![part(Meaning::Text, &info.user)];
    if let Some(id) = own_id(info, f) {
        user.push(then("  ", Meaning::Muted, format!("#{id}")));
    }
    let mut backend = vec![part(Meaning::Text, &info.backend)];
    if let Some(s) = &f.server_session {
        backend.push(then(" · ", Meaning::Text, format!("session {s}")));
    }
    let mut out = vec![
        Row {
            label: "session",
            parts: session,
        },
        Row {
            label: "user",
            parts: user,
        },
        Row {
            label: "server",
            parts: vec![part(Meaning::Text, &info.server)],
        },
        Row {
            label: "backend",
            parts: backend,
        },
    ];
    if let Some((software, name)) = software(f) {
        let mut parts = vec![part(Meaning::Text, software)];
        if let Some(name) = name {
            parts.push(Part {
                whole: true,
                ..then(" ", Meaning::Muted, name)
            });
        }
        out.push(Row {
            label: "software",
            parts,
        });
    }
    let (label, _) = window_words(&info.backend);
    match (f.resume_window, f.session_timeout) {
        (Some(w), timeout) => {
            let mut parts = vec![if w.is_zero() {
                part(Meaning::Warn, format!("0 s: {FULL_REJOIN}"))
            } else {
                part(Meaning::Text, format!("within {}", fmt::setting(w)))
            }];
            if let Some(t) = timeout {
                let text = format!("session timeout {}", fmt::setting(t));
                parts.push(Part {
                    whole: true,
                    ..then(" · ", Meaning::Text, text)
                });
            }
            out.push(Row { label, parts });
        }
        (None, Some(t)) => out.push(Row {
            label: "timeout",
            parts: vec![part(Meaning::Text, format!("session {}", fmt::setting(t)))],
        }),
        (None, None) => {}
    }
    out
}

/// The log line for a `server_info` event: everything the server told us,
/// also what the call panel has no room for. `None`: it told us nothing.
/// `facts` must be cleaned.
pub fn log_text(info: &CallInfo, facts: &ServerFacts) -> Option<String> {
    let mut said = Vec::new();
    if let Some((software, name)) = software(facts) {
        said.push(match name {
            Some(name) => format!("{software} {name}"),
            None => software,
        });
    }
    if let Some(t) = facts.session_timeout {
        said.push(format!("session timeout {}", fmt::setting(t)));
    }
    if let Some(w) = facts.resume_window {
        let (_, term) = window_words(&info.backend);
        said.push(if w.is_zero() {
            format!("{term} 0 s ({FULL_REJOIN})")
        } else {
            format!("{term} {}", fmt::setting(w))
        });
    }
    if let Some(room) = &facts.room {
        said.push(format!("room {room}"));
    }
    if let Some(s) = &facts.server_session {
        said.push(format!("server session {s}"));
    }
    if let Some(id) = own_id(info, facts) {
        said.push(format!("our id #{id}"));
    }
    (!said.is_empty()).then(|| format!("server: {}", said.join(" · ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn info(backend: &str) -> CallInfo {
        CallInfo {
            session: "1234".into(),
            user: "alice".into(),
            server: "ws://127.0.0.1:8188/".into(),
            backend: backend.into(),
            banner: None,
        }
    }

    fn janus() -> ServerFacts {
        ServerFacts {
            server: Some("Janus WebRTC Server 1.1.2".into()),
            server_name: Some("janus-ci".into()),
            session_timeout: Some(Duration::from_secs(60)),
            resume_window: Some(Duration::ZERO),
            room: Some("Demo Room".into()),
            server_session: Some("2758102933474920".into()),
            own_id: Some("8362730246246576".into()),
        }
    }

    fn flat(rows: &[Row]) -> Vec<String> {
        rows.iter()
            .map(|r| {
                let value: String = r
                    .parts
                    .iter()
                    .map(|p| format!("{}{}", p.lead, p.text))
                    .collect();
                format!("{} {value}", r.label)
            })
            .collect()
    }

    #[test]
    fn janus_facts_merge_into_the_rows_and_add_software_and_limits() {
        let rows = rows(&info("janus"), Some(&janus()));
        assert_eq!(
            flat(&rows),
            vec![
                "session 1234 · Demo Room",
                "user alice  #8362730246246576",
                "server ws://127.0.0.1:8188/",
                "backend janus · session 2758102933474920",
                "software Janus WebRTC Server 1.1.2 (janus-ci)",
                "reclaim 0 s: a drop means a full rejoin · session timeout 60 s",
            ]
        );
        // A zero window is a warning.
        assert_eq!(rows[5].parts[0].meaning, Meaning::Warn);
    }

    #[test]
    fn calltop_shows_its_resume_window_and_nothing_it_was_not_told() {
        let facts = ServerFacts {
            resume_window: Some(Duration::from_secs(30)),
            own_id: Some("alice".into()),
            ..ServerFacts::default()
        };
        let rows = rows(&info("calltop"), Some(&facts));
        assert_eq!(
            flat(&rows),
            vec![
                "session 1234",
                "user alice",
                "server ws://127.0.0.1:8188/",
                "backend calltop",
                "resume within 30 s",
            ]
        );
        assert_eq!(flat(&super::rows(&info("calltop"), None)).len(), 4);
        assert_eq!(
            log_text(&info("calltop"), &facts).as_deref(),
            Some("server: resume window 30 s")
        );
        assert_eq!(log_text(&info("calltop"), &ServerFacts::default()), None);
    }

    #[test]
    fn the_log_line_says_everything_with_the_panels_words_for_reclaim_zero() {
        let text = log_text(&info("janus"), &janus()).unwrap();
        assert_eq!(
            text,
            "server: Janus WebRTC Server 1.1.2 (janus-ci) · session timeout 60 s · \
             reclaim 0 s (a drop means a full rejoin) · room Demo Room · \
             server session 2758102933474920 · our id #8362730246246576"
        );
        assert!(text.contains(FULL_REJOIN));
        let kept = ServerFacts {
            resume_window: Some(Duration::from_secs(120)),
            ..janus()
        };
        let text = log_text(&info("janus"), &kept).unwrap();
        assert!(text.contains("reclaim 120 s ·"), "{text}");
        assert!(!text.contains(FULL_REJOIN), "{text}");
    }
}
