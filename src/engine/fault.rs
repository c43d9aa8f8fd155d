//! Failures provoked on purpose (docs/EVENTS.md, "Fault injection"), so the
//! reconnect, resume, give-up and idle paths can be watched on demand instead
//! of waited for. Each one is carried out by the engine itself, so it works
//! the same on every backend and ends up in the event stream like a real one.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A fault to inject. Its serde form is the `fault` field and its value on
/// `fault_injected` / `fault_ended` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Fault {
    /// Drop the connection without a close frame, as a cut cable does.
    Drop,
    /// Stop reading and stop sending heartbeats for `duration`, with the
    /// socket open: both ends have to notice on their own.
    Stall {
        /// How long the stall lasts (0.1 s to an hour; whole milliseconds on the
        /// line: `duration_ms`).
        #[serde(rename = "duration_ms", with = "crate::event::ms")]
        duration: Duration,
    },
    /// Forget the resume token: the next reconnect is a full rejoin.
    ForgetResume,
    /// Refuse the next `attempts` connection attempts before they reach the network.
    Refuse {
        /// How many attempts to refuse (1 to [`Fault::MAX_REFUSE`]).
        attempts: u32,
    },
    /// The idle timeout is `timeout` for the rest of this join.
    Idle {
        /// The idle timeout to use (1 s to a day, whole seconds; `idle_timeout_s`
        /// on the line).
        #[serde(rename = "idle_timeout_s", with = "crate::event::secs")]
        timeout: Duration,
    },
}

impl Fault {
    /// How long `stall` lasts when no length is given: ten seconds.
    pub const DEFAULT_STALL: Duration = Duration::from_secs(10);
    /// How many attempts `refuse` refuses when no number is given: three.
    pub const DEFAULT_REFUSE: u32 = 3;
    /// The idle timeout `idle` sets when none is given: ten seconds.
    pub const DEFAULT_IDLE: Duration = Duration::from_secs(10);
    /// The shortest and longest stall. These bounds keep a fault a test, not a
    /// second way to configure calltop.
    pub const STALL_RANGE: (Duration, Duration) =
        (Duration::from_millis(100), Duration::from_secs(3600));
    /// The most attempts one `refuse` may refuse.
    pub const MAX_REFUSE: u32 = 1000;
    /// The shortest and longest idle timeout `idle` may set (whole seconds).
    pub const IDLE_RANGE: (Duration, Duration) =
        (Duration::from_secs(1), Duration::from_secs(24 * 3600));

    /// The word that names it on stdin and in `fault_injected` lines.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Drop => "drop",
            Fault::Stall { .. } => "stall",
            Fault::ForgetResume => "forget-resume",
            Fault::Refuse { .. } => "refuse",
            Fault::Idle { .. } => "idle",
        }
    }

    /// Cut to what its line holds (milliseconds, whole seconds).
    pub fn quantized(self) -> Fault {
        match self {
            Fault::Stall { duration } => Fault::Stall {
                duration: Duration::from_millis(duration.as_millis() as u64),
            },
            Fault::Idle { timeout } => Fault::Idle {
                timeout: Duration::from_secs(timeout.as_secs()),
            },
            other => other,
        }
    }

    /// Whether the values are within the bounds above.
    pub fn in_range(&self) -> bool {
        match *self {
            Fault::Stall { duration } => {
                (Self::STALL_RANGE.0..=Self::STALL_RANGE.1).contains(&duration)
            }
            Fault::Refuse { attempts } => (1..=Self::MAX_REFUSE).contains(&attempts),
            Fault::Idle { timeout } => {
                (Self::IDLE_RANGE.0..=Self::IDLE_RANGE.1).contains(&timeout)
                    && timeout.subsec_nanos() == 0
            }
            Fault::Drop | Fault::ForgetResume => true,
        }
    }

    /// Reads the words after `fault` on headless stdin: `drop`, `stall [SECS]`,
    /// `forget-resume`, `refuse [N]`, `idle [SECS]`.
    pub fn parse(words: &str) -> Result<Fault, String> {
        let mut it = words.split_whitespace();
        let what = it.next().unwrap_or("");
        let arg = it.next();
        if let Some(extra) = it.next() {
            return Err(format!("fault {what}: unexpected {extra:?}"));
        }
        let secs = |default: Duration| -> Result<Duration, String> {
            match arg {
                None => Ok(default),
                Some(a) => a
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 1e9)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| format!("fault {what}: {a:?} is not a number of seconds")),
            }
        };
        let no_arg = |f: Fault| match arg {
            None => Ok(f),
            Some(a) => Err(format!("fault {what} takes no value (got {a:?})")),
        };
        let fault = match what {
            "drop" => no_arg(Fault::Drop)?,
            "forget-resume" => no_arg(Fault::ForgetResume)?,
            // Lines carry milliseconds; what is injected is what they say.
            "stall" => Fault::Stall {
                duration: Duration::from_millis(
                    secs(Self::DEFAULT_STALL)?
                        .as_secs_f64()
                        .mul_add(1000.0, 0.5) as u64,
                ),
            },
            "idle" => Fault::Idle {
                timeout: secs(Self::DEFAULT_IDLE)?,
            },
            "refuse" => Fault::Refuse {
                attempts: match arg {
                    None => Self::DEFAULT_REFUSE,
                    Some(a) => a
                        .parse()
                        .map_err(|_| format!("fault refuse: {a:?} is not a whole number"))?,
                },
            },
            "" => return Err(Self::USAGE.to_owned()),
            other => return Err(format!("unknown fault {other:?}: {}", Self::USAGE)),
        };
        if !fault.in_range() {
            return Err(format!("fault {what}: {}", Self::RANGES));
        }
        Ok(fault)
    }

    /// What the stdin `fault` commands look like, for a message about a bad one.
    pub const USAGE: &'static str = "expected fault drop, fault stall [SECS], fault forget-resume, fault refuse [N] or fault idle [SECS]";
    /// The bounds of the faults' values in words, for a message about a value
    /// out of range.
    pub const RANGES: &'static str = "a stall lasts 0.1 to 3600 s, refuse takes 1 to 1000 attempts, \
         an idle timeout is 1 to 86400 whole seconds";
}

/// The stdin form: `drop`, `stall 10`, `forget-resume`, `refuse 3`, `idle 10`.
impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Fault::Stall { duration } => write!(f, "stall {}", duration.as_secs_f64()),
            Fault::Refuse { attempts } => write!(f, "refuse {attempts}"),
            Fault::Idle { timeout } => write!(f, "idle {}", timeout.as_secs()),
            other => f.write_str(other.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_words_read_back_from_their_display() {
        for f in [
            Fault::Drop,
            Fault::Stall {
                duration: Duration::from_millis(2500),
            },
            Fault::ForgetResume,
            Fault::Refuse { attempts: 7 },
            Fault::Idle {
                timeout: Duration::from_secs(12),
            },
        ] {
            assert_eq!(Fault::parse(&f.to_string()), Ok(f));
        }
    }

    #[test]
    fn defaults_apply_without_a_value() {
        assert_eq!(
            Fault::parse("stall"),
            Ok(Fault::Stall {
                duration: Duration::from_secs(10)
            })
        );
        assert_eq!(Fault::parse("refuse"), Ok(Fault::Refuse { attempts: 3 }));
        assert_eq!(
            Fault::parse("idle"),
            Ok(Fault::Idle {
                timeout: Duration::from_secs(10)
            })
        );
    }

    #[test]
    fn bad_values_say_what_is_accepted() {
        assert!(
            Fault::parse("stall forever")
                .unwrap_err()
                .contains("seconds")
        );
        assert!(Fault::parse("stall 0").unwrap_err().contains("0.1 to 3600"));
        assert!(Fault::parse("refuse 0").unwrap_err().contains("1 to 1000"));
        assert!(
            Fault::parse("refuse -1")
                .unwrap_err()
                .contains("whole number")
        );
        assert!(
            Fault::parse("idle 2.5")
                .unwrap_err()
                .contains("whole seconds")
        );
        assert!(
            Fault::parse("drop 3")
                .unwrap_err()
                .contains("takes no value")
        );
        assert!(Fault::parse("melt").unwrap_err().contains("unknown fault"));
        assert!(Fault::parse("").unwrap_err().contains("fault drop"));
        assert!(
            Fault::parse("stall 1 2")
                .unwrap_err()
                .contains("unexpected")
        );
        assert!(Fault::parse("stall NaN").is_err());
        assert!(Fault::parse("stall inf").is_err());
    }
}
