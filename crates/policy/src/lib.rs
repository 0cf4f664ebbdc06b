//! School policy: settings a school recommends or locks, read from each platform's policy
//! store, layered over the user's own.
//!
//! - [`PolicyKey`]: the settings a school can set, each with what it accepts
//!   ([`PolicyKey::check`]).
//! - The readers, each turning a store into a [`PolicySet`] (locked values, recommended
//!   values, and a [`Problem`] for everything ignored, never a panic):
//!   [`linux::read_policy_dir`] (`/etc/classroom/policies/{managed,recommended}/*.json`),
//!   [`windows::policy_from_registry`] (`HKLM\SOFTWARE\Policies\Classroom\Classroom` and its
//!   `Recommended` subkey; [`parse_reg_export`] reads `.reg` files), and
//!   [`macos::policy_from_plists`] (managed preferences). [`read_system_policy`] reads this
//!   computer's.
//! - [`resolve`]: each setting's value in effect, built-in default < school recommended <
//!   user < school mandatory, with whether it is locked and where the school set it;
//!   [`Resolved::may_change`] refuses a change to a locked setting.
//!
//! Pure but for the readers of real files and the registry.

mod fsread;
pub mod linux;
pub mod macos;
mod model;
mod reg_export;
mod resolve;
pub mod windows;

pub use model::*;
pub use reg_export::*;
pub use resolve::*;

/// The largest policy file read (JSON or plist); a larger one is refused with a problem.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// This computer's policy: `/etc/classroom/policies` on Linux, the registry on Windows, the
/// managed preferences of the computer and the signed-in user on macOS; none elsewhere.
pub fn read_system_policy() -> PolicySet {
    #[cfg(target_os = "linux")]
    {
        linux::read_policy_dir(std::path::Path::new(linux::POLICY_DIR))
    }
    #[cfg(windows)]
    {
        windows::read_registry()
    }
    #[cfg(target_os = "macos")]
    {
        // The real uid's name, not $USER: the user could point $USER at someone whose
        // managed preferences lock less.
        match nix::unistd::User::from_uid(nix::unistd::Uid::current()) {
            Ok(Some(user)) => macos::read_managed_preferences(Some(&user.name)),
            other => {
                let mut set = macos::read_managed_preferences(None);
                let why = match other {
                    Err(e) => e.to_string(),
                    _ => "no such user".to_owned(),
                };
                set.problem(
                    "/Library/Managed Preferences",
                    None,
                    ProblemKind::Unreadable,
                    format!("the signed-in user's managed preferences were not read: {why}"),
                );
                set
            }
        }
    }
    #[cfg(not(any(target_os = "linux", windows, target_os = "macos")))]
    {
        PolicySet::default()
    }
}
