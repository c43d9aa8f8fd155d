//! Recordings: a run's events as NDJSON, one line per event as it happens,
//! the same lines headless mode prints, beginning with `run_started`
//! (docs/EVENTS.md, "Recordings").
//!
//! - [`writer`]: `--record FILE`, on a thread of its own, a write per batch
//!   of whole lines, so a killed process loses at most what it had not written
//! - [`reader`]: reads one back line by line, and says where damage stops it
//! - [`summary`]: what `calltop replay --headless` prints

pub mod reader;
pub mod summary;
pub mod writer;

pub use reader::{Damage, OpenError, Reader, Recorded};
pub use summary::Summary;
pub use writer::{RecordError, RecordTo, Recorder, Recording, start};
