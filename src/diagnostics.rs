//! Where diagnostics (`tracing` records, filtered by `RUST_LOG`) go: stderr
//! for `serve` and headless mode, the dashboard's event log while it runs,
//! and `--log-file FILE` beside (dashboard) or instead of (the others)
//! either. The subscriber is process-wide, and so is the file.

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

static FILE: OnceLock<Arc<File>> = OnceLock::new();

/// What the file gets without `RUST_LOG`: every session event at info (the
/// dashboard's own log leaves them out, it shows them already), warnings
/// from the rest.
const FILE_DEFAULT: &str = "warn,calltop=info";

/// Opens `path` for diagnostics, appending (a second run adds to what the
/// first wrote). Called once, before anything logs.
pub fn open_file(path: &Path) -> Result<(), String> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open log file {}: {e}", path.display()))?;
    let _ = FILE.set(Arc::new(file));
    Ok(())
}

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default))
}

/// A layer writing to the `--log-file`, if one was opened.
pub fn file_layer<S>() -> Option<impl tracing_subscriber::Layer<S>>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let file = FILE.get()?.clone();
    Some(
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(file)
            .log_internal_errors(false)
            .with_filter(filter(FILE_DEFAULT)),
    )
}

/// Diagnostics for `serve` and headless mode: to the `--log-file` if one
/// was opened, else to stderr, in colour only if `colour` (see
/// [`crate::color::for_stderr`]). `default` is the filter without `RUST_LOG`.
pub fn to_stderr(default: &str, colour: bool) {
    let stderr = FILE.get().is_none().then(|| {
        tracing_subscriber::fmt::layer()
            .with_ansi(colour)
            .with_writer(std::io::stderr)
            // Its own report of a failed write is an `eprintln!`: a panic on a closed stderr.
            .log_internal_errors(false)
            .with_filter(filter(default))
    });
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file_layer())
        .try_init();
}
