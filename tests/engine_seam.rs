//! The engine behind the backend seam, against a protocol-neutral test
//! backend: what the engine does with members keyed by id, our own id, server
//! facts, renames, roster resyncs, multi-step handshakes and sessions the
//! server drops, whatever wire protocol brings them. Virtual clock; nothing
//! sleeps. (`engine_core.rs` drives the engine through calltop's own backend.)

use std::time::Instant;

use calltop::Command;
use calltop::backend::{
    Backend, BackendKind, ClientMsg, Decoded, Member, ProtocolError, ServerMsg,
};
use calltop::engine::{ContractChecker, Engine, Input, Output, Phase};
use calltop::event::{EventKind, ServerFacts};
use calltop::settings::SessionSettings;

/// Frames are a line of words: the first names the message.
///   `hello`                      handshake step 1: the backend replies `step2`
///   `joined <own> [id:name ...]` joined (after a `hello`, resumed if `resume=` was sent)
///   `join <id>:<name>` / `left <id>` / `rename <id>:<name>` / `roster [id:name ...]`
///   `lost <why>` / `facts <room>`  (the next `joined` carries room <room>)
struct Neutral {
    resuming: bool,
    room: String,
}

fn members(words: &[&str]) -> Vec<Member> {
    words
        .iter()
        .map(|w| {
            let (id, name) = w.split_once(':').unwrap_or((w, ""));
            Member {
                id: id.into(),
                display: name.into(),
                joined_at: None,
            }
        })
        .collect()
}

impl Backend for Neutral {
    fn kind(&self) -> BackendKind {
        BackendKind::Calltop
    }
    fn subprotocol(&self) -> Option<&'static str> {
        Some("neutral-test")
    }
    fn encode(&mut self, msg: ClientMsg, out: &mut Vec<String>) {
        out.push(match msg {
            ClientMsg::Join { resume } => {
                self.resuming = resume.is_some();
                format!("join resume={}", resume.unwrap_or_default())
            }
            ClientMsg::Leave => "leave".into(),
            ClientMsg::Ping { seq } => format!("ping {seq}"),
        });
    }
    fn decode(&mut self, frame: &str, out: &mut Decoded) -> Result<(), ProtocolError> {
        let words: Vec<&str> = frame.split(' ').collect();
        match words[..] {
            ["hello"] => out.replies.push("step2".into()),
            ["joined", own, ref rest @ ..] => out.msgs.push(ServerMsg::Joined {
                resumed: self.resuming,
                resume_token: Some("tok".into()),
                own_id: own.into(),
                participants: members(rest),
                facts: ServerFacts {
                    room: Some(self.room.clone()),
                    ..ServerFacts::default()
                },
            }),
            ["join", m] => out
                .msgs
                .push(ServerMsg::ParticipantJoined(members(&[m]).remove(0))),
            ["left", id] => out.msgs.push(ServerMsg::ParticipantLeft { id: id.into() }),
            ["rename", m] => {
                let m = members(&[m]).remove(0);
                out.msgs.push(ServerMsg::ParticipantRenamed {
                    id: m.id,
                    display: m.display,
                });
            }
            ["roster", ref rest @ ..] => out.msgs.push(ServerMsg::Roster(members(rest))),
            ["lost", ref why @ ..] => out.msgs.push(ServerMsg::SessionLost {
                reason: why.join(" "),
            }),
            ["facts", room] => self.room = room.into(),
            ["pong", seq] => out.msgs.push(ServerMsg::Pong {
                seq: seq.parse().unwrap(),
            }),
            _ => {
                return Err(ProtocolError::UnknownType(frame.into()));
            }
        }
        Ok(())
    }
    fn on_close(&mut self, _code: Option<u16>, _reason: &str) -> Option<ServerMsg> {
        None
    }
}

struct Harness {
    engine: Engine,
    now: Instant,
    checker: ContractChecker,
}

impl Harness {
    fn new() -> Harness {
        let settings = SessionSettings::builder("ws://127.0.0.1:9/ws", "room", "me")
            .build()
            .unwrap();
        let backend = Neutral {
            resuming: false,
            room: "first".into(),
        };
        Harness {
            engine: Engine::with_backend(settings, Box::new(backend), 7),
            now: Instant::now(),
            checker: ContractChecker::new(),
        }
    }

    fn drain(&mut self) -> Vec<Output> {
        let outs: Vec<Output> = std::iter::from_fn(|| self.engine.poll_output()).collect();
        for o in &outs {
            if let Output::Event(_, k) = o {
                self.checker.observe(k).unwrap_or_else(|v| panic!("{v}"));
            }
        }
        outs
    }

    fn input(&mut self, i: Input) -> Vec<Output> {
        self.engine.handle_input(i, self.now);
        self.drain()
    }

    fn frame(&mut self, f: &str) -> Vec<Output> {
        self.input(Input::Frame(f.into()))
    }

    /// Joined as `me` (id `own`) with `others` present.
    fn joined(own: &str, others: &str) -> Harness {
        let mut h = Harness::new();
        h.engine.handle_command(Command::Join, h.now).unwrap();
        h.drain();
        h.input(Input::TransportUp);
        h.frame(&format!("joined {own} {others}").trim().replace("  ", " "));
        h
    }
}

fn events(outs: &[Output]) -> Vec<EventKind> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Event(_, k) => Some(k.clone()),
            _ => None,
        })
        .collect()
}

fn names(outs: &[Output]) -> Vec<&'static str> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Event(_, k) => Some(k.name()),
            _ => None,
        })
        .collect()
}

fn joined_ev(id: &str, user: &str) -> EventKind {
    EventKind::ParticipantJoined {
        id: id.into(),
        user: user.into(),
        joined_at: None,
    }
}

fn left_ev(id: &str, user: &str) -> EventKind {
    EventKind::ParticipantLeft {
        id: id.into(),
        user: user.into(),
    }
}

#[test]
fn the_subprotocol_and_handshake_replies_go_out_and_our_own_id_is_never_another() {
    let mut h = Harness::new();
    h.engine.handle_command(Command::Join, h.now).unwrap();
    let outs = h.drain();
    assert!(outs.contains(&Output::Connect {
        subprotocol: Some("neutral-test")
    }));
    let outs = h.input(Input::TransportUp);
    assert_eq!(outs, [Output::Send("join resume=".into())]);
    let outs = h.frame("hello");
    assert_eq!(
        outs,
        [Output::Send("step2".into())],
        "a handshake step, no event"
    );
    assert_eq!(h.engine.phase(), Phase::Connecting);
    let outs = h.frame("joined 17 17:me 3:ann 4:ann");
    assert_eq!(
        events(&outs),
        [
            EventKind::SessionJoined { participants: 2 },
            EventKind::ServerInfo(ServerFacts {
                room: Some("first".into()),
                ..ServerFacts::default()
            }),
            joined_ev("3", "ann"),
            joined_ev("4", "ann"),
        ]
    );
    let ids: Vec<&String> = h.engine.participants().keys().collect();
    assert_eq!(
        ids,
        ["3", "4"],
        "namesakes are two people; we are not listed"
    );
    let outs = h.frame("join 17:me");
    assert!(
        matches!(&events(&outs)[..], [EventKind::Error { message }] if message.contains("our own join"))
    );
}

#[test]
fn a_leave_names_who_left_by_id_and_display() {
    let mut h = Harness::joined("1", "3:ann 4:ann");
    let outs = h.frame("left 4");
    assert_eq!(events(&outs), [left_ev("4", "ann")]);
    assert!(h.engine.participants().contains_key("3"));
    let outs = h.frame("left 4");
    assert!(
        matches!(&events(&outs)[..], [EventKind::Error { .. }]),
        "not here any more"
    );
}

#[test]
fn renames_report_the_previous_name_once_and_unknown_ids_are_errors() {
    let mut h = Harness::joined("1", "3:ann");
    let outs = h.frame("rename 3:anna");
    assert_eq!(
        events(&outs),
        [EventKind::ParticipantRenamed {
            id: "3".into(),
            user: "anna".into(),
            previous: "ann".into()
        }]
    );
    assert_eq!(h.engine.participants()["3"].display, "anna");
    assert!(
        events(&h.frame("rename 3:anna")).is_empty(),
        "no change, no event"
    );
    let outs = h.frame("rename 9:zed");
    assert!(matches!(&events(&outs)[..], [EventKind::Error { .. }]));
    assert_eq!(h.engine.participants().len(), 1);
}

#[test]
fn a_roster_resync_reports_every_difference_and_restarts_the_idle_countdown() {
    let mut h = Harness::joined("1", "3:ann 4:bo");
    let outs = h.frame("roster 1:me 4:bob 5:cy 5:cy");
    assert_eq!(
        names(&outs),
        [
            "error",
            "participant_left",
            "participant_renamed",
            "participant_joined"
        ]
    );
    assert_eq!(events(&outs)[1], left_ev("3", "ann"));
    let ids: Vec<&String> = h.engine.participants().keys().collect();
    assert_eq!(ids, ["4", "5"]);
    let outs = h.frame("roster");
    assert_eq!(
        names(&outs),
        [
            "participant_left",
            "participant_left",
            "idle_countdown_started"
        ]
    );
}

#[test]
fn a_session_the_server_drops_is_a_loss_and_the_restore_resyncs() {
    let mut h = Harness::joined("1", "3:ann");
    let outs = h.frame("lost server forgot us");
    assert_eq!(
        events(&outs)[0],
        EventKind::ConnectionLost {
            reason: "server forgot us".into(),
            injected: false,
        }
    );
    assert!(outs.contains(&Output::Disconnect));
    assert_eq!(h.engine.phase(), Phase::Reconnecting);
    let outs = h.input(Input::TransportUp);
    assert_eq!(outs, [Output::Send("join resume=tok".into())]);
    // Same facts: no server_info again; who came and went is reported.
    let outs = h.frame("joined 1 4:bo");
    assert_eq!(
        names(&outs),
        [
            "connection_restored",
            "participant_left",
            "participant_joined"
        ]
    );
    // After a full rejoin the facts differ: server_info again, once.
    h.frame("facts second");
    h.frame("lost again");
    h.input(Input::TransportUp);
    let outs = h.frame("joined 2 4:bo");
    assert_eq!(names(&outs), ["connection_restored", "server_info"]);
}

#[test]
fn a_roster_that_lists_someone_twice_counts_them_once_everywhere() {
    let mut h = Harness::new();
    h.engine.handle_command(Command::Join, h.now).unwrap();
    h.drain();
    h.input(Input::TransportUp);
    let outs = h.frame("joined 1 3:ann 3:ann 1:me");
    assert_eq!(names(&outs)[..2], ["error", "session_joined"]);
    assert_eq!(
        events(&outs)[1],
        EventKind::SessionJoined { participants: 1 }
    );
    assert_eq!(h.engine.participants().len(), 1);
}
