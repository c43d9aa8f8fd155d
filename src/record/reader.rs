//! Reads a recording (or any NDJSON in the contract's shape) back, one event
//! at a time. A damaged line stops the reading there and says where; a file
//! that does not start like a stream of events is refused up front.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::event::{EventKind, Parsed, RunInfo, SessionEvent};

/// No line of a recording is longer (a server's longest frame is far less);
/// a longer one is damage, not something to buffer without end.
pub const MAX_LINE: usize = 1 << 20;

/// An event and where it was in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The event the line holds (lines without `t_ms` timed from the first
    /// line's `ts`).
    pub event: SessionEvent,
    /// 1-based line number.
    pub line: usize,
    /// Where the line starts.
    pub byte: u64,
}

/// Where and why reading stopped before the end of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} (byte {byte}): {reason}")]
pub struct Damage {
    /// The damaged line's number, from 1.
    pub line: usize,
    /// Where that line starts, in bytes from the start of the file.
    pub byte: u64,
    /// What is wrong with it, in words (a cut-off line, not an event, not
    /// UTF-8, over [`MAX_LINE`] bytes, a read error).
    pub reason: String,
}

/// Why a file cannot be read as a recording at all.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The file cannot be opened.
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file holds no line but blank ones.
    #[error("{} is empty: not a recording", .0.display())]
    Empty(PathBuf),
    /// The first line is not an event (or is damaged): the file is not a
    /// recording.
    #[error(
        "{} is not a calltop recording: {damage} (expected NDJSON events such as \
         `calltop --headless` prints or `--record` writes)",
        .path.display()
    )]
    NotARecording {
        /// The file.
        path: PathBuf,
        /// What is wrong with its first line.
        damage: Damage,
    },
}

/// A recording being read.
pub struct Reader<R> {
    src: R,
    path: PathBuf,
    /// Lines read so far, and bytes.
    line: usize,
    byte: u64,
    buf: Vec<u8>,
    /// Lines without `t_ms` are timed from the first line's `ts`.
    first_ts: Option<SystemTime>,
    last_offset: Duration,
    run: Option<RunInfo>,
    session: Option<String>,
    user: Option<String>,
    /// The first event, read to check the file, not handed out yet.
    first: Option<Recorded>,
    damage: Option<Damage>,
}

impl<R> std::fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("path", &self.path)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

impl Reader<BufReader<File>> {
    /// Opens a recording and reads its first line, to check that it is a
    /// stream of events.
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        let file = File::open(path).map_err(|source| OpenError::Io {
            path: path.to_owned(),
            source,
        })?;
        Reader::new(BufReader::with_capacity(1 << 16, file), path)
    }

    /// Goes back to a line read before (its `byte` and `line` from a
    /// [`Recorded`]), to read on from there. Offsets read from then on are
    /// not clamped against what came before it.
    pub fn seek(&mut self, byte: u64, line: usize) -> io::Result<()> {
        self.src.seek(SeekFrom::Start(byte))?;
        self.byte = byte;
        self.line = line.saturating_sub(1);
        self.first = None;
        self.damage = None;
        self.last_offset = Duration::ZERO;
        Ok(())
    }
}

#[derive(Deserialize)]
struct Who {
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    user: Option<String>,
}

impl<R: BufRead> Reader<R> {
    /// Reads the first event to check that this is a stream of events.
    pub fn new(src: R, path: &Path) -> Result<Self, OpenError> {
        let mut r = Reader {
            src,
            path: path.to_owned(),
            line: 0,
            byte: 0,
            buf: Vec::new(),
            first_ts: None,
            last_offset: Duration::ZERO,
            run: None,
            session: None,
            user: None,
            first: None,
            damage: None,
        };
        match r.read() {
            None => Err(OpenError::Empty(path.to_owned())),
            Some(Err(damage)) => Err(OpenError::NotARecording {
                path: path.to_owned(),
                damage,
            }),
            Some(Ok(first)) => {
                if let EventKind::RunStarted { run } = &first.event.kind {
                    r.run = Some(run.clone());
                }
                r.first = Some(first);
                Ok(r)
            }
        }
    }

    /// What the first line said about the run, if it was `run_started`.
    pub fn run(&self) -> Option<&RunInfo> {
        self.run.as_ref()
    }

    /// Our session and user: from `run_started`, else from the first line.
    pub fn identity(&self) -> (String, String) {
        match &self.run {
            Some(run) => (run.session.clone(), run.user.clone()),
            None => (
                self.session.clone().unwrap_or_default(),
                self.user.clone().unwrap_or_default(),
            ),
        }
    }

    /// The file being read, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where reading stopped early, once it has.
    pub fn damage(&self) -> Option<&Damage> {
        self.damage.as_ref()
    }

    /// The next event; `None` at the end of the file or after damage (see
    /// [`Reader::damage`]).
    pub fn next_event(&mut self) -> Option<Recorded> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        if self.damage.is_some() {
            return None;
        }
        match self.read()? {
            Ok(r) => Some(r),
            Err(d) => {
                self.damage = Some(d);
                None
            }
        }
    }

    fn read(&mut self) -> Option<Result<Recorded, Damage>> {
        loop {
            let start = self.byte;
            self.buf.clear();
            let mut limited = io::Read::take(&mut self.src, MAX_LINE as u64 + 1);
            let n = match limited.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(n) => n,
                Err(e) => return Some(Err(self.damage_at(start, format!("read error: {e}")))),
            };
            self.line += 1;
            self.byte += n as u64;
            let complete = self.buf.last() == Some(&b'\n');
            if !complete && n > MAX_LINE {
                return Some(Err(
                    self.damage_at(start, format!("longer than {} KiB", MAX_LINE / 1024))
                ));
            }
            let buf = std::mem::take(&mut self.buf);
            let result = self.parse(&buf, start, complete);
            self.buf = buf;
            match result {
                Some(r) => return Some(r),
                None => continue,
            }
        }
    }

    /// One line's event; `None` for a blank line.
    fn parse(
        &mut self,
        buf: &[u8],
        start: u64,
        complete: bool,
    ) -> Option<Result<Recorded, Damage>> {
        {
            let text = match std::str::from_utf8(buf) {
                Ok(t) => t.trim(),
                Err(_) => return Some(Err(self.damage_at(start, "not UTF-8 text".into()))),
            };
            if text.is_empty() {
                return None;
            }
            Some(match SessionEvent::from_ndjson(text) {
                Ok(parsed) => Ok(self.place(parsed, text, start)),
                Err(e) if !complete && e.is_eof() => Err(self.damage_at(
                    start,
                    "the last line is cut off (the recording was interrupted)".into(),
                )),
                Err(e) => Err(self.damage_at(start, format!("not an event line: {e}"))),
            })
        }
    }

    fn damage_at(&self, byte: u64, reason: String) -> Damage {
        Damage {
            line: self.line.max(1),
            byte,
            reason,
        }
    }

    /// Gives the event its offset: `t_ms` if the line had one, else the time
    /// since the first line; never earlier than the event before.
    fn place(&mut self, parsed: Parsed, text: &str, byte: u64) -> Recorded {
        let Parsed {
            mut event,
            no_offset,
            session,
        } = parsed;
        let first_ts = *self.first_ts.get_or_insert(event.ts);
        if no_offset {
            event.offset = event.ts.duration_since(first_ts).unwrap_or_default();
        }
        event.offset = event.offset.max(self.last_offset);
        self.last_offset = event.offset;
        if self.session.is_none() && session.is_some() {
            self.session = session;
        }
        if self.user.is_none()
            && !event.kind.is_participant()
            && let Ok(who) = serde_json::from_str::<Who>(text)
        {
            self.user = who.user;
            if self.session.is_none() {
                self.session = who.session;
            }
        }
        Recorded {
            event,
            line: self.line,
            byte,
        }
    }
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = Recorded;

    fn next(&mut self) -> Option<Recorded> {
        self.next_event()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(text: &str) -> Result<Reader<&[u8]>, OpenError> {
        Reader::new(text.as_bytes(), Path::new("rec.ndjson"))
    }

    const JOINED: &str = r#"{"ts":"2026-11-25T04:30:00.123Z","t_ms":5,"event":"session_joined","participants":0,"session":"demo","user":"alice"}"#;

    #[test]
    fn reads_up_to_damage_and_says_where_it_is() {
        let text = format!("{JOINED}\n\n{JOINED}\n{{\"ts\": 12}}\n{JOINED}\n");
        let mut r = reader(&text).unwrap();
        assert_eq!(r.identity(), ("demo".into(), "alice".into()));
        let got: Vec<usize> = r.by_ref().map(|e| e.line).collect();
        assert_eq!(got, vec![1, 3]);
        let d = r.damage().unwrap();
        assert_eq!((d.line, d.byte), (4, 2 * JOINED.len() as u64 + 3));
        assert!(d.reason.starts_with("not an event line"), "{d}");
    }

    #[test]
    fn a_cut_off_last_line_is_called_that() {
        let text = format!("{JOINED}\n{}", &JOINED[..40]);
        let mut r = reader(&text).unwrap();
        assert_eq!(r.by_ref().count(), 1);
        assert!(
            r.damage().unwrap().reason.contains("cut off"),
            "{:?}",
            r.damage()
        );
    }

    #[test]
    fn files_that_are_not_recordings_are_refused_with_the_reason() {
        assert!(matches!(reader(""), Err(OpenError::Empty(_))));
        assert!(matches!(reader("\n \n"), Err(OpenError::Empty(_))));
        for bad in ["hello\n", "{\"a\":1}\n", "\u{0}\u{1}PNG\n", "[1,2]\n"] {
            let e = reader(bad).unwrap_err().to_string();
            assert!(e.contains("is not a calltop recording: line 1"), "{e}");
        }
        let e = Reader::new(&b"\xff\xfe\n"[..], Path::new("x")).unwrap_err();
        assert!(e.to_string().contains("not UTF-8"), "{e}");
        let long = "x".repeat(MAX_LINE + 10);
        let e = reader(&long).unwrap_err().to_string();
        assert!(e.contains("longer than 1024 KiB"), "{e}");
    }

    #[test]
    fn lines_without_offsets_are_timed_from_the_first_and_never_go_back() {
        let text = concat!(
            r#"{"ts":"2026-11-25T04:30:00.000Z","event":"connecting","attempt":1,"session":"s","user":"u"}"#,
            "\n",
            r#"{"ts":"2026-11-25T04:30:02.500Z","event":"session_joined","participants":0}"#,
            "\n",
            r#"{"ts":"2026-11-25T04:30:01.000Z","event":"idle_countdown_cancelled"}"#,
            "\n",
        );
        let offsets: Vec<u128> = reader(text)
            .unwrap()
            .map(|e| e.event.offset.as_millis())
            .collect();
        assert_eq!(offsets, vec![0, 2500, 2500]);
    }
}
