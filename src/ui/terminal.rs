//! The terminal: into raw mode and the alternate screen, and always back out
//! again (on drop, on a panic, after a signal). Also the signals that end the
//! dashboard: SIGTERM, SIGHUP (the ssh connection died) and SIGINT.

use std::io::{self, BufWriter, IsTerminal, Stdout, stdout};
use std::mem::ManuallyDrop;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::{Hide, Show};
use ratatui::crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// The terminal is in dashboard mode and must be restored.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// A panic happened somewhere in the process.
static PANICKED: AtomicBool = AtomicBool::new(false);

/// A frame goes out in one write, not in line-buffered pieces.
pub type Term = Terminal<CrosstermBackend<BufWriter<Stdout>>>;

const OUT_BUFFER: usize = 256 * 1024;

/// The terminal in dashboard mode; dropping it restores the terminal.
pub struct Tui {
    /// Never dropped: ratatui's drop shows the cursor again and, when that
    /// fails (the terminal is gone), reports it with `eprintln!`, which
    /// panics on a dead stderr. [`restore`] has done that job already.
    pub terminal: ManuallyDrop<Term>,
}

impl Tui {
    /// Raw mode, alternate screen, hidden cursor, bracketed paste (pasted
    /// text arrives as one paste, not as keys: a paste holding `l` or `q`
    /// must not leave or quit), and a panic hook that undoes them.
    pub fn enter() -> io::Result<Tui> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        if let Err(e) = execute!(stdout(), EnterAlternateScreen, Hide, EnableBracketedPaste) {
            restore();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(BufWriter::with_capacity(
            OUT_BUFFER,
            stdout(),
        ))) {
            Ok(terminal) => Ok(Tui {
                terminal: ManuallyDrop::new(terminal),
            }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        // Anything a frame left in the buffer goes out before the restore;
        // the buffer itself is left to the process exit (see `terminal`).
        let _ = io::Write::flush(self.terminal.backend_mut());
        restore();
    }
}

/// Whether the terminal is still there. A hung-up terminal fails
/// `tcgetattr` (which `isatty` is made of) with EIO.
pub fn alive() -> bool {
    io::stdin().is_terminal()
}

/// Puts the terminal back as it was. Safe to call more than once and from a
/// panic hook; errors are ignored (after a hangup there is no terminal left).
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(stdout(), DisableBracketedPaste, LeaveAlternateScreen, Show);
    }
}

/// Whether any thread has panicked since the dashboard started.
pub fn panicked() -> bool {
    PANICKED.load(Ordering::SeqCst)
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICKED.store(true, Ordering::SeqCst);
            // Restore first, so the panic message lands on a normal screen.
            restore();
            previous(info);
        }));
    });
}

/// The signals that end the dashboard.
pub struct Signals {
    term: Signal,
    hup: Signal,
    int: Signal,
}

impl Signals {
    pub fn new() -> io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// The next signal's name.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
