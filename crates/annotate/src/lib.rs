//! The annotation model: a document of pages, each with a background and items (ink kept as
//! every sample the pen gave, highlighter, shapes, text, stamps), changed only by
//! operations. Pure: no IO, no clock, no threads.
//!
//! - [`Op`]: a change by one author. The class server gives each one a place in one order
//!   ([`Sequencer`]); every participant applies them in that order ([`Replica`]), whatever
//!   order the network delivered them in, and asks for what it missed ([`Replica::missing`]),
//!   so everyone who has the same operations has the same pages.
//! - A stroke streams while it is drawn: [`Op::BeginStroke`], [`Op::ExtendStroke`] (batches
//!   of samples, numbered so a repeat is harmless; [`coalesce`] merges a receiver's backlog),
//!   then [`Op::EndStroke`] at pen-up commits it.
//! - [`History`]: undo and redo of one author's own changes, as new operations.
//! - [`Document::from_json`]: the stored form, with its schema version checked and migrated.

mod model;
mod ops;
mod sync;
mod undo;

pub use model::*;
pub use ops::*;
pub use sync::*;
pub use undo::*;
