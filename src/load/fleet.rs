//! The participants of a load run, each a real [`CallSession`], and the one
//! collector that reads them all: no task per participant beyond the
//! session's own, every [`Subscription`] drained with `try_recv` on the
//! caller's tick. What each participant's events say is folded here into a
//! small state (its phase, its own id, its roster) and into [`Stats`].

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use super::check::{Mismatch, Seen, compare};
use super::plan::Plan;
use super::stats::Stats;
use crate::backend::BackendKind;
use crate::clock::Clock;
use crate::engine::{Command, CommandError, Fault};
use crate::event::{EventKind, LeftReason, SessionEvent};
use crate::session::{CallSession, Subscription, TryRecvError};
use crate::settings::SessionSettings;
use crate::top::source::Snapshot;

/// How many violations and early endings the summary names; the rest are counted.
pub const NAMED: usize = 5;
/// Random picks tried per churn or fault before that one is skipped (a
/// fleet with few joined participants has little to strike).
const PICKS: usize = 16;
/// A burst of churn or faults after a stall of the caller is capped: the
/// plan is a rate, not a debt.
const MAX_CREDIT: f64 = 1000.0;

/// Where a participant is, from its own events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Join sent, not acknowledged yet (retries included).
    Connecting,
    Joined,
    /// In the session with its connection lost: reconnecting.
    Reconnecting,
    /// Leaving on purpose (churn, or the end of the run).
    Leaving,
    /// Its join attempt ended (`session_left`, `session_timed_out`,
    /// `connection_closed`) and it will not join again.
    Closed,
}

/// How many participants are where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Counts {
    pub planned: usize,
    pub started: usize,
    pub connecting: usize,
    pub joined: usize,
    pub reconnecting: usize,
    pub leaving: usize,
    pub closed: usize,
}

/// A participant named with what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Named {
    pub participant: String,
    pub what: String,
}

/// What every participant shares: where and how to join.
#[derive(Debug, Clone)]
pub struct Target {
    /// Settings every participant starts from; session and user are set per participant.
    pub template: SessionSettings,
    /// Session ids on calltop's protocol are `{prefix}-{n}`.
    pub prefix: String,
    /// Janus rooms are numbers: `first_room + n`.
    pub first_room: u64,
}

impl Target {
    pub fn session_id(&self, room: usize) -> String {
        session_id(self.template.backend, &self.prefix, self.first_room, room)
    }
}

/// Session `room`'s id: `{prefix}-{room}` on calltop's protocol, the room
/// number `first_room + room` on Janus.
pub fn session_id(backend: BackendKind, prefix: &str, first_room: u64, room: usize) -> String {
    match backend {
        BackendKind::Calltop => format!("{prefix}-{room}"),
        BackendKind::Janus => first_room.saturating_add(room as u64).to_string(),
    }
}

pub fn user(place: usize) -> String {
    format!("p{place}")
}

struct Participant {
    session: CallSession,
    events: Subscription,
    phase: Phase,
    /// Leaving to rejoin (churn): the `session_left` is followed by a join.
    rejoin: bool,
    /// A drop or stall was sent and has not shown yet (a stall takes the
    /// heartbeat's time to be noticed): not settled, though still "joined".
    faulted: bool,
    /// When the join went out, on the fleet's clock.
    join_sent: Duration,
    own_id: Option<Box<str>>,
    /// The others, by id, sorted: what its events announced.
    roster: Vec<Box<str>>,
}

/// Every participant, and what their events add up to.
pub struct Fleet {
    plan: Plan,
    target: Target,
    clock: Clock,
    participants: Vec<Participant>,
    pub stats: Stats,
    pub violations: Vec<Named>,
    pub closed: Vec<Named>,
    rng: SmallRng,
    credit: [f64; 3],
    faults: bool,
    ending: bool,
    stall: Duration,
}

impl Fleet {
    pub fn new(plan: Plan, target: Target, clock: Clock, seed: u64) -> Fleet {
        // Longer than the heartbeat takes to notice it: every stall is a loss
        // and a reconnect, the path worth loading.
        let stall = target.template.stall_detection_bound() + Duration::from_millis(500);
        Fleet {
            participants: Vec::with_capacity(plan.participants()),
            plan,
            target,
            clock,
            stats: Stats::default(),
            violations: Vec::new(),
            closed: Vec::new(),
            rng: SmallRng::seed_from_u64(seed),
            credit: [0.0; 3],
            faults: true,
            ending: false,
            stall,
        }
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    fn name(&self, i: usize) -> String {
        let (room, place) = self.plan.place(i);
        format!("{}/{}", self.target.session_id(room), user(place))
    }

    /// Starts participants until `due` are started: each subscribes, then joins.
    pub async fn launch(&mut self, due: usize) -> Result<(), CommandError> {
        let due = due.min(self.plan.participants());
        while self.participants.len() < due {
            let (room, place) = self.plan.place(self.participants.len());
            let mut settings = self.target.template.clone();
            settings.session = self.target.session_id(room);
            settings.user = user(place);
            let own_id = match settings.backend {
                BackendKind::Calltop => Some(settings.user.clone().into_boxed_str()),
                // Janus tells it in `server_info` after the join.
                BackendKind::Janus => None,
            };
            let session = CallSession::with_clock(settings, self.clock);
            let events = session.subscribe().await?;
            let join_sent = self.clock.elapsed();
            session.send(Command::Join)?;
            self.participants.push(Participant {
                session,
                events,
                phase: Phase::Connecting,
                rejoin: false,
                faulted: false,
                join_sent,
                own_id,
                roster: Vec::new(),
            });
        }
        Ok(())
    }

    /// Every participant started.
    pub fn launched(&self) -> bool {
        self.participants.len() == self.plan.participants()
    }

    /// Reads every event waiting, from every participant.
    pub fn drain(&mut self) {
        for i in 0..self.participants.len() {
            loop {
                match self.participants[i].events.try_recv() {
                    Ok(ev) => self.fold(i, ev),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Closed) => {
                        self.participants[i].phase = Phase::Closed;
                        break;
                    }
                }
            }
        }
    }

    fn fold(&mut self, i: usize, ev: SessionEvent) {
        self.stats.events += 1;
        let p = &mut self.participants[i];
        match ev.kind {
            EventKind::Connecting { .. } => p.phase = Phase::Connecting,
            EventKind::SessionJoined { .. } => {
                p.phase = Phase::Joined;
                // The participants there now follow, one event each.
                p.roster.clear();
                self.stats
                    .join
                    .record(ev.offset.saturating_sub(p.join_sent));
            }
            EventKind::ParticipantJoined { id, .. } => {
                if let Err(at) = p.roster.binary_search_by(|x| (**x).cmp(id.as_str())) {
                    p.roster.insert(at, id.into_boxed_str());
                }
            }
            EventKind::ParticipantLeft { id, .. } => {
                if let Ok(at) = p.roster.binary_search_by(|x| (**x).cmp(id.as_str())) {
                    p.roster.remove(at);
                }
            }
            EventKind::ServerInfo(facts) => {
                if let Some(own) = facts.own_id {
                    p.own_id = Some(own.into_boxed_str());
                }
            }
            EventKind::ConnectionLost { .. } => {
                p.phase = Phase::Reconnecting;
                p.faulted = false;
            }
            EventKind::FaultEnded { .. } => p.faulted = false,
            EventKind::ConnectionRestored { .. } => p.phase = Phase::Joined,
            EventKind::Leaving { .. } => p.phase = Phase::Leaving,
            EventKind::Heartbeat { rtt } => self.stats.rtt.record(rtt),
            EventKind::CommandRefused { .. } => {
                self.stats.refused += 1;
                p.faulted = false;
            }
            EventKind::SessionLeft {
                reason: LeftReason::User,
            } if p.rejoin && !self.ending => {
                p.rejoin = false;
                p.roster.clear();
                p.join_sent = self.clock.elapsed();
                p.phase = match p.session.send(Command::Join) {
                    Ok(()) => Phase::Connecting,
                    Err(_) => Phase::Closed,
                };
            }
            ref k @ (EventKind::SessionLeft { .. }
            | EventKind::SessionTimedOut { .. }
            | EventKind::ConnectionClosed { .. }) => {
                p.phase = Phase::Closed;
                p.rejoin = false;
                p.faulted = false;
                if !self.ending && self.closed.len() < NAMED {
                    let what = ending_words(k);
                    let participant = self.name(i);
                    self.closed.push(Named { participant, what });
                }
            }
            EventKind::ContractViolation(v) => {
                self.stats.violations += 1;
                if self.violations.len() < NAMED {
                    let participant = self.name(i);
                    self.violations.push(Named {
                        participant,
                        what: v.to_string(),
                    });
                }
            }
            _ => {}
        }
    }

    /// Churn and faults for `dt` of the plan's rates, on random joined participants.
    pub fn strike(&mut self, dt: Duration) {
        if !self.faults {
            return;
        }
        let rates = [self.plan.churn, self.plan.drop, self.plan.stall];
        for (k, rate) in rates.iter().enumerate() {
            self.credit[k] = (self.credit[k] + rate.per_sec() * dt.as_secs_f64()).min(MAX_CREDIT);
            while self.credit[k] >= 1.0 {
                self.credit[k] -= 1.0;
                let Some(i) = self.pick_joined() else {
                    break;
                };
                let p = &mut self.participants[i];
                let sent = match k {
                    0 => {
                        p.rejoin = true;
                        p.phase = Phase::Leaving;
                        self.stats.churned += 1;
                        p.session.send(Command::Leave)
                    }
                    1 => {
                        self.stats.drops += 1;
                        p.faulted = true;
                        p.session.send(Command::Fault(Fault::Drop))
                    }
                    _ => {
                        self.stats.stalls += 1;
                        p.faulted = true;
                        p.session.send(Command::Fault(Fault::Stall {
                            duration: self.stall,
                        }))
                    }
                };
                if sent.is_err() {
                    p.phase = Phase::Closed;
                }
            }
        }
    }

    fn pick_joined(&mut self) -> Option<usize> {
        let n = self.participants.len();
        if n == 0 {
            return None;
        }
        (0..PICKS).map(|_| self.rng.random_range(0..n)).find(|&i| {
            let p = &self.participants[i];
            p.phase == Phase::Joined && !p.faulted
        })
    }

    /// No more churn or faults (the run is settling).
    pub fn calm(&mut self) {
        self.faults = false;
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            planned: self.plan.participants(),
            started: self.participants.len(),
            ..Counts::default()
        };
        for p in &self.participants {
            match p.phase {
                Phase::Connecting => c.connecting += 1,
                Phase::Joined => c.joined += 1,
                Phase::Reconnecting => c.reconnecting += 1,
                Phase::Leaving => c.leaving += 1,
                Phase::Closed => c.closed += 1,
            }
        }
        c
    }

    /// Nobody on the way anywhere: each is in its session or done for good.
    pub fn settled(&self) -> bool {
        self.launched()
            && self
                .participants
                .iter()
                .all(|p| !p.faulted && matches!(p.phase, Phase::Joined | Phase::Closed))
    }

    /// Every joined participant's roster against the server's list.
    pub fn mismatches(&self, server: &Snapshot) -> Vec<Mismatch> {
        let joined: Vec<(String, String, &Participant)> = self
            .participants
            .iter()
            .enumerate()
            .filter(|(_, p)| p.phase == Phase::Joined)
            .map(|(i, p)| {
                (
                    self.name(i),
                    self.target.session_id(self.plan.place(i).0),
                    p,
                )
            })
            .collect();
        compare(
            joined.iter().map(|(name, session, p)| Seen {
                name,
                session,
                own_id: p.own_id.as_deref(),
                roster: &p.roster,
            }),
            server,
        )
    }

    /// Everyone leaves; what follows is the run's end, not churn.
    pub fn leave_all(&mut self) {
        self.ending = true;
        for p in &mut self.participants {
            if p.phase != Phase::Closed {
                // A stopped engine has left already.
                let _ = p.session.send(Command::Leave);
            }
        }
    }

    pub fn all_closed(&self) -> bool {
        self.participants.iter().all(|p| p.phase == Phase::Closed)
    }
}

fn ending_words(k: &EventKind) -> String {
    match k {
        EventKind::SessionLeft { reason } => format!("session_left ({reason:?})").to_lowercase(),
        EventKind::SessionTimedOut { .. } => "session_timed_out".into(),
        EventKind::ConnectionClosed { reason } => format!("connection_closed: {reason}"),
        other => other.name().into(),
    }
}
