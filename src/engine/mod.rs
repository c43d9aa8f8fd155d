//! The session engine: a pure state machine ([`Engine`]) and the contract's
//! ordering invariants as a checker ([`ContractChecker`]).

mod core;
mod fault;
mod invariants;
mod timers;

pub use core::{Command, CommandError, Engine, Input, Output, Phase};
pub use fault::Fault;
pub use invariants::{ContractChecker, EventRef, Rule, Violation};
