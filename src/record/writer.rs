//! `--record FILE`: every event of a run, written as it happens.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::event::SessionEvent;
use crate::session::{CallSession, Subscription};

/// Why a recording could not be started.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file exists and replacing it was not allowed (`force`).
    #[error("{} already exists: pass --force to overwrite it", .0.display())]
    Exists(PathBuf),
    /// The file cannot be created or written.
    #[error("cannot write the recording {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// An open recording file. [`Recorder::start`] hands it a subscription and
/// a thread of its own, so a slow disk never holds up the session.
#[derive(Debug)]
pub struct Recorder {
    file: File,
    path: PathBuf,
    session: String,
    user: String,
    /// The lines of one write, kept between writes.
    buf: String,
}

impl Recorder {
    /// Creates the file (refusing to replace one unless `force`) and writes
    /// the first line, `first` (the run's `run_started`).
    pub fn create(path: &Path, force: bool, first: &SessionEvent) -> Result<Recorder, RecordError> {
        let mut open = OpenOptions::new();
        open.write(true);
        if force {
            open.create(true).truncate(true);
        } else {
            open.create_new(true);
        }
        let io = |source| RecordError::Io {
            path: path.to_owned(),
            source,
        };
        let file = open.open(path).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => RecordError::Exists(path.to_owned()),
            _ => io(e),
        })?;
        let (session, user) = match &first.kind {
            crate::EventKind::RunStarted { run } => (run.session.clone(), run.user.clone()),
            _ => (String::new(), String::new()),
        };
        let mut r = Recorder {
            file,
            path: path.to_owned(),
            session,
            user,
            buf: String::new(),
        };
        r.write(std::slice::from_ref(first)).map_err(io)?;
        Ok(r)
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes whole lines in one write: a kill between two writes leaves a
    /// file that ends with a complete line.
    pub fn write(&mut self, events: &[SessionEvent]) -> io::Result<()> {
        self.buf.clear();
        for ev in events {
            self.buf.push_str(&ev.to_ndjson(&self.session, &self.user));
            self.buf.push('\n');
        }
        self.file.write_all(self.buf.as_bytes())
    }

    /// Records everything `events` delivers until the session stops. The
    /// thread ends then, with the first write error if there was one.
    ///
    /// After the first event of a batch the thread sleeps [`GATHER`], then
    /// writes everything that came meanwhile in one write: waking up and
    /// writing once per event would cost more CPU than the session that
    /// makes the events.
    pub fn start(mut self, mut events: Subscription) -> JoinHandle<io::Result<()>> {
        std::thread::Builder::new()
            .name("calltop-record".into())
            .spawn(move || {
                let mut batch = Vec::new();
                while let Some(ev) = events.blocking_recv() {
                    batch.push(ev);
                    std::thread::sleep(GATHER);
                    // Closed or empty alike: what came is written below.
                    while let Ok(ev) = events.try_recv() {
                        batch.push(ev);
                        if batch.len() == BATCH {
                            self.write(&batch)?;
                            batch.clear();
                        }
                    }
                    self.write(&batch)?;
                    batch.clear();
                }
                Ok(())
            })
            .expect("a thread for the recorder")
    }
}

/// The longest an event waits to be written, gathering others for the same
/// write; a killed calltop loses at most this much of the end of its run.
pub const GATHER: Duration = Duration::from_millis(10);
/// Events in one write at most.
const BATCH: usize = 4096;

/// Where `--record` writes.
#[derive(Debug, Clone)]
pub struct RecordTo {
    /// The file to write.
    pub path: PathBuf,
    /// Replace the file if it exists.
    pub force: bool,
}

/// A recording under way.
#[derive(Debug)]
pub struct Recording {
    path: PathBuf,
    thread: JoinHandle<io::Result<()>>,
}

impl RecordTo {
    /// Records `session` from now on (call it before the join, so nothing
    /// is missed). The recording ends when the session stops.
    pub async fn start(&self, session: &CallSession) -> Result<Recording, RecordError> {
        let recorder = Recorder::create(&self.path, self.force, &session.run_started())?;
        let events = session.subscribe().await.map_err(|e| RecordError::Io {
            path: self.path.clone(),
            source: io::Error::other(e),
        })?;
        Ok(Recording {
            path: self.path.clone(),
            thread: recorder.start(events),
        })
    }
}

/// Starts `record`, if there is one, on `session`.
pub async fn start(
    record: Option<&RecordTo>,
    session: &CallSession,
) -> Result<Option<Recording>, RecordError> {
    match record {
        Some(to) => to.start(session).await.map(Some),
        None => Ok(None),
    }
}

impl Recording {
    /// Waits for the last lines (call it after the session has stopped) and
    /// says on stderr if the recording is incomplete.
    pub fn finish(self) {
        match self.thread.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!(
                "calltop: the recording {} is incomplete: {e}",
                self.path.display()
            ),
            Err(_) => eprintln!(
                "calltop: the recording {} stopped early",
                self.path.display()
            ),
        }
    }
}
