//! A recording as a dashboard model that can be moved to any event: the
//! first pass folds every event (the last state shows at once) and keeps an
//! index (where each line is, its offset, where the losses are) and copies
//! of the model every so many events, so a jump anywhere refolds only a few
//! thousand events. Only the index stays in memory, never the events.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::engine::{ContractChecker, Rule, Violation};
use crate::event::{EventKind, SessionEvent};
use crate::record::{Damage, OpenError, Reader};
use crate::ui::log::LogLine;
use crate::ui::model::{Effect, Model, Msg, update};

/// Events between two copies of the model, at the least.
const SPACING: usize = 4096;
/// Copies kept at most; past this, every other one goes and the spacing doubles.
const MAX_CHECKPOINTS: usize = 256;
/// A jump refolds at least this many events before its target, so the log
/// shows what led there.
const LOOKBACK: usize = 4096;
/// A step forward of at most this many events folds on from where we are.
const FORWARD: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Entry {
    byte: u64,
    offset_us: u64,
    line: u32,
}

/// What a move changed in the log.
#[derive(Debug, Default, PartialEq)]
pub struct LogChange {
    /// The log is to be emptied before `lines` go in.
    pub reset: bool,
    pub lines: Vec<LogLine>,
}

/// The contract checked over a replay. A break the run's own check
/// recorded comes right after the event that made it, which this check has
/// just found too: it is shown once.
#[derive(Debug, Clone, Default)]
struct Check {
    checker: ContractChecker,
    /// The breaks found lately, by rule and the first event's offset.
    found: VecDeque<(Rule, Option<Duration>)>,
}

impl Check {
    fn of(run: Option<&crate::event::RunInfo>) -> Check {
        Check {
            checker: ContractChecker::for_run(run),
            found: VecDeque::new(),
        }
    }

    fn feed(&mut self, kind: &EventKind, at: Duration) -> Vec<Violation> {
        let found = self.checker.feed(kind, at);
        for v in &found {
            if self.found.len() == 8 {
                self.found.pop_front();
            }
            self.found.push_back(v.key());
        }
        found
    }

    /// Whether a recorded break is news (not one this check just found).
    fn first_time(&mut self, v: &Violation) -> bool {
        match self.found.iter().position(|k| *k == v.key()) {
            Some(i) => {
                self.found.remove(i);
                false
            }
            None => true,
        }
    }
}

/// A recording, open at some event.
pub struct Player {
    reader: Reader<BufReader<File>>,
    entries: Vec<Entry>,
    losses: Vec<usize>,
    checkpoints: Vec<(usize, Model, Check)>,
    /// The contract checked as the events are folded, as a live run does.
    check: Check,
    spacing: usize,
    model: Model,
    /// Events applied to `model`.
    pos: usize,
    /// Where the reader stands: the next event it gives is this one.
    reader_at: usize,
    /// The wall-clock time of offset zero.
    wall_zero: SystemTime,
    log_capacity: usize,
    damage: Option<Damage>,
}

impl std::fmt::Debug for Player {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Player")
            .field("events", &self.entries.len())
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

fn us(d: Duration) -> u64 {
    d.as_micros() as u64
}

impl Player {
    /// Opens `path` and folds all of it: the player stands at the end, and
    /// the log change holds the last `log_capacity` lines. `model` makes the
    /// model before the first event from what the file says of its run.
    pub fn open(
        path: &Path,
        model: impl FnOnce(&Reader<BufReader<File>>) -> Model,
        log_capacity: usize,
    ) -> Result<(Player, LogChange), OpenError> {
        let reader = Reader::open(path)?;
        let model = model(&reader);
        let check = Check::of(reader.run());
        let mut p = Player {
            reader,
            entries: Vec::new(),
            losses: Vec::new(),
            checkpoints: Vec::new(),
            check,
            spacing: SPACING,
            model,
            pos: 0,
            reader_at: 0,
            wall_zero: SystemTime::UNIX_EPOCH,
            log_capacity: log_capacity.max(1),
            damage: None,
        };
        let mut ring = VecDeque::new();
        while let Some(rec) = p.reader.next_event() {
            let i = p.entries.len();
            if i == 0 {
                p.wall_zero = rec
                    .event
                    .ts
                    .checked_sub(rec.event.offset)
                    .unwrap_or(rec.event.ts);
            }
            if i.is_multiple_of(p.spacing) {
                p.checkpoint(i);
            }
            p.entries.push(Entry {
                byte: rec.byte,
                offset_us: us(rec.event.offset),
                line: u32::try_from(rec.line).unwrap_or(u32::MAX),
            });
            if matches!(rec.event.kind, EventKind::ConnectionLost { .. }) {
                p.losses.push(i);
            }
            p.apply(rec.event, &mut ring);
        }
        p.reader_at = p.entries.len();
        p.damage = p.reader.damage().cloned();
        Ok((
            p,
            LogChange {
                reset: true,
                lines: ring.into(),
            },
        ))
    }

    fn checkpoint(&mut self, i: usize) {
        self.checkpoints
            .push((i, self.model.clone(), self.check.clone()));
        if self.checkpoints.len() > MAX_CHECKPOINTS {
            // Keep the first and every other one after it.
            let mut n = 0;
            self.checkpoints.retain(|_| {
                n += 1;
                n % 2 == 1
            });
            self.spacing *= 2;
        }
    }

    fn apply(&mut self, ev: SessionEvent, ring: &mut VecDeque<LogLine>) {
        let now = ev.offset;
        let wall = self.wall(now);
        update(&mut self.model, Msg::Tick { now, wall });
        let (ts, offset) = (ev.ts, ev.offset);
        let found = self.check.feed(&ev.kind, offset);
        let recorded_again =
            matches!(&ev.kind, EventKind::ContractViolation(v) if !self.check.first_time(v));
        if !recorded_again {
            self.show(ev, ring);
        }
        for v in found {
            let kind = EventKind::ContractViolation(v);
            self.show(SessionEvent { ts, offset, kind }, ring);
        }
        self.pos += 1;
    }

    fn show(&mut self, ev: SessionEvent, ring: &mut VecDeque<LogLine>) {
        let u = update(&mut self.model, Msg::Event(ev));
        for e in u.effects {
            if let Effect::Log(line) = e {
                if ring.len() == self.log_capacity {
                    ring.pop_front();
                }
                ring.push_back(line);
            }
        }
    }

    /// What the recording's first line said about the run, if it was `run_started`.
    pub fn run(&self) -> Option<&crate::event::RunInfo> {
        self.reader.run()
    }

    /// Our session and user in the recording.
    pub fn identity(&self) -> (String, String) {
        self.reader.identity()
    }

    /// The model as of the current event.
    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn model_mut(&mut self) -> &mut Model {
        &mut self.model
    }

    /// Events in the recording (up to any damage).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Events applied: 0 is before the first, [`Player::len`] after the last.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Where reading stopped before the end of the file, if it did.
    pub fn damage(&self) -> Option<&Damage> {
        self.damage.as_ref()
    }

    /// The offset of event `i`.
    pub fn offset_of(&self, i: usize) -> Duration {
        self.entries
            .get(i)
            .map(|e| Duration::from_micros(e.offset_us))
            .unwrap_or_default()
    }

    /// How long the recording runs (the last event's offset).
    pub fn duration(&self) -> Duration {
        self.entries
            .last()
            .map(|e| Duration::from_micros(e.offset_us))
            .unwrap_or_default()
    }

    /// The offsets of the connection losses, for the timeline.
    pub fn loss_offsets(&self) -> impl Iterator<Item = Duration> + '_ {
        self.losses.iter().map(|&i| self.offset_of(i))
    }

    /// The wall-clock time of an offset.
    pub fn wall(&self, offset: Duration) -> SystemTime {
        crate::event::wall_ms(self.wall_zero + offset)
    }

    /// The first loss after the current event, as the position just past it
    /// (the loss shown).
    pub fn next_loss(&self) -> Option<usize> {
        let k = self.losses.partition_point(|&i| i < self.pos);
        self.losses.get(k).map(|&i| i + 1)
    }

    /// The last loss before the one shown now.
    pub fn previous_loss(&self) -> Option<usize> {
        let current = self.pos.checked_sub(1)?;
        let k = self.losses.partition_point(|&i| i < current);
        k.checked_sub(1).map(|k| self.losses[k] + 1)
    }

    /// The number of events at or before `offset`.
    pub fn position_at(&self, offset: Duration) -> usize {
        let t = us(offset);
        self.entries.partition_point(|e| e.offset_us <= t)
    }

    /// Moves the model so that exactly `target` events are applied. Reading
    /// errors (the file changed under us) end the move early and are
    /// reported as damage.
    pub fn seek(&mut self, target: usize) -> LogChange {
        let target = target.min(self.entries.len());
        // Folding on from here, when that is no longer than from a copy.
        if target >= self.pos && target - self.pos <= (LOOKBACK + self.spacing).min(FORWARD) {
            let mut ring = VecDeque::new();
            self.fold_to(target, &mut ring);
            return LogChange {
                reset: false,
                lines: ring.into(),
            };
        }
        let from = target.saturating_sub(LOOKBACK);
        let k = self.checkpoints.partition_point(|(i, ..)| *i <= from);
        let (at, model, check) = match k.checked_sub(1).map(|k| &self.checkpoints[k]) {
            Some((at, model, check)) => (*at, model.clone(), check.clone()),
            None => unreachable!("checkpoint 0 is taken before the first event"),
        };
        self.check = check;
        // What the screen shows stays as it is: size, help, key feedback.
        let size = self.model.size;
        let help = self.model.help;
        self.model = model;
        self.model.size = size;
        self.model.help = help;
        self.pos = at;
        let mut ring = VecDeque::new();
        self.fold_to(target, &mut ring);
        LogChange {
            reset: true,
            lines: ring.into(),
        }
    }

    /// Moves the model's clock to `offset` without passing another event
    /// (for countdowns between two events while playing).
    pub fn tick(&mut self, offset: Duration) {
        let wall = self.wall(offset);
        update(&mut self.model, Msg::Tick { now: offset, wall });
    }

    fn fold_to(&mut self, target: usize, ring: &mut VecDeque<LogLine>) {
        if self.pos < target && self.reader_at != self.pos {
            let entry = self.entries[self.pos];
            if let Err(err) = self.reader.seek(entry.byte, entry.line as usize) {
                self.damage = Some(Damage {
                    line: entry.line as usize,
                    byte: entry.byte,
                    reason: format!("cannot read the recording again: {err}"),
                });
                return;
            }
            self.reader_at = self.pos;
        }
        while self.pos < target {
            let Some(mut rec) = self.reader.next_event() else {
                self.damage = Some(Damage {
                    line: self.entries[self.pos].line as usize,
                    byte: self.entries[self.pos].byte,
                    reason: "the recording changed while it was being replayed".into(),
                });
                self.entries.truncate(self.pos);
                self.reader_at = self.pos;
                return;
            };
            rec.event.offset = self.offset_of(self.pos);
            self.reader_at += 1;
            self.apply(rec.event, ring);
        }
    }
}
