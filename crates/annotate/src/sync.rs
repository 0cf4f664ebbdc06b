//! One order for everyone: the server's [`Sequencer`] and each participant's [`Replica`].

use std::collections::BTreeMap;

use crate::model::{Author, Document};
use crate::ops::{Op, Refused, Stamped};

/// The class server's copy: checks each operation against its own document, gives the ones
/// it takes their place in the order, and keeps them for participants who missed some.
#[derive(Debug, Default, Clone)]
pub struct Sequencer {
    doc: Document,
    log: Vec<Stamped>,
}

impl Sequencer {
    /// A sequencer over an empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes `op` by `author`: its place in the order, or why it is refused (nothing is
    /// kept then). The laser pointer gets place 0: shown, never kept.
    pub fn stamp(&mut self, author: &str, op: Op) -> Result<Stamped, Refused> {
        if !op.is_kept() {
            return Ok(Stamped {
                seq: 0,
                span: 0,
                author: author.to_owned(),
                op,
            });
        }
        let stamped = Stamped {
            seq: self.doc.applied + 1,
            span: 0,
            author: author.to_owned(),
            op,
        };
        // In place: a refused change changes nothing (`Document::apply_or_refuse`), so the
        // document is never copied (that made each change cost the whole lesson so far).
        self.doc.apply_or_refuse(&stamped)?;
        self.log.push(stamped.clone());
        Ok(stamped)
    }

    /// Every kept operation after `seq`, in order (what a participant who has up to `seq`
    /// lacks).
    pub fn since(&self, seq: u64) -> &[Stamped] {
        let start = self.log.partition_point(|s| s.seq <= seq);
        &self.log[start..]
    }

    /// The document as the server has it.
    pub fn document(&self) -> &Document {
        &self.doc
    }
}

/// A participant's copy: applies operations in the server's order however the network
/// delivers them (late, twice, out of order), and says what it lacks.
#[derive(Debug, Default, Clone)]
pub struct Replica {
    doc: Document,
    waiting: BTreeMap<u64, Stamped>,
}

/// What a participant does with an operation it received.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// Applied (with any that waited for it): how many.
    Applied(usize),
    /// Kept until the ones before it arrive.
    Waiting,
    /// Had it already.
    Duplicate,
    /// Shown now, never kept (the laser pointer).
    Ephemeral {
        /// Whose pointer.
        author: Author,
        /// The operation.
        op: Op,
    },
}

impl Replica {
    /// An empty copy.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy that starts from a document (the server's, sent to a late joiner).
    pub fn from_document(doc: Document) -> Self {
        Self {
            doc,
            waiting: BTreeMap::new(),
        }
    }

    /// The document as this participant has it.
    pub fn document(&self) -> &Document {
        &self.doc
    }

    /// Takes one operation from the server.
    pub fn receive(&mut self, stamped: Stamped) -> Received {
        if stamped.seq == 0 {
            return Received::Ephemeral {
                author: stamped.author,
                op: stamped.op,
            };
        }
        if stamped.last() <= self.doc.applied || self.waiting.contains_key(&stamped.seq) {
            return Received::Duplicate;
        }
        self.waiting.insert(stamped.seq, stamped);
        let mut applied = 0;
        loop {
            let next = self.doc.applied + 1;
            // One that starts at or before the next place and reaches past what we have.
            let Some((&seq, _)) = self.waiting.range(..=next).next_back() else {
                break;
            };
            let Some(stamped) = self.waiting.remove(&seq) else {
                break;
            };
            if stamped.last() < next {
                continue;
            }
            // The server took it, so it applies here as it did there.
            let _ = self.doc.apply(&stamped);
            applied += 1;
        }
        // Anything now wholly behind is a duplicate.
        let have = self.doc.applied;
        self.waiting.retain(|_, s| s.last() > have);
        if applied == 0 {
            Received::Waiting
        } else {
            Received::Applied(applied)
        }
    }

    /// The places in the order this copy lacks before the operations it holds, as
    /// `(from, to)`: ask the server for `since(from - 1)`.
    pub fn missing(&self) -> Option<(u64, u64)> {
        let first = *self.waiting.keys().next()?;
        let from = self.doc.applied + 1;
        (first > from).then_some((from, first - 1))
    }
}
