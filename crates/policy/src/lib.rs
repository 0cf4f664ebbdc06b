//! School policy: settings a school recommends or locks, read from each platform's policy
//! store, layered over the user's own.
//!
//! - [`PolicyKey`]: the settings a school can set, each with what it accepts
//!   ([`PolicyKey::check`]); a [`PolicySet`] holds what the stores gave (locked values,
//!   recommended values, and a [`Problem`] for everything ignored, never a panic).
//! - [`resolve`]: each setting's value in effect, built-in default < school recommended <
//!   user < school mandatory, with whether it is locked and where the school set it;
//!   [`Resolved::may_change`] refuses a change to a locked setting.

mod model;
mod resolve;

pub use model::*;
pub use resolve::*;

/// The largest policy file read (JSON or plist); a larger one is refused with a problem.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
