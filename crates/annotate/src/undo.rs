//! Undo and redo of one author's own changes, as new operations everyone receives.

use crate::model::Document;
use crate::ops::Op;

/// `op` cut to what it would still change in `doc`, or `None` when that is nothing: an erase
/// of an item someone already erased, or a move of one that is gone, would not; a group
/// erase or restore keeps the items it would change (someone else may have erased or brought
/// back some of them meanwhile: those are theirs now).
fn narrow(op: &Op, doc: &Document) -> Option<Op> {
    let item = |page: &str, item: &str| doc.page(page).and_then(|p| p.items.get(item));
    let keep = |page: &str, items: &[String], erased: bool| -> Vec<String> {
        items
            .iter()
            .filter(|id| item(page, id).is_some_and(|i| i.erased == erased))
            .cloned()
            .collect()
    };
    let changes = match op {
        Op::Erase { page, item: id } => item(page, id).is_some_and(|i| !i.erased),
        Op::Restore { page, item: id } => item(page, id).is_some_and(|i| i.erased),
        Op::Move { page, item: id, .. } => item(page, id).is_some(),
        Op::MoveItems { page, items, .. } => items.iter().all(|id| item(page, id).is_some()),
        Op::EraseItems { page, items } => {
            let items = keep(page, items, false);
            return (!items.is_empty()).then(|| Op::EraseItems {
                page: page.clone(),
                items,
            });
        }
        Op::RestoreItems { page, items } => {
            let items = keep(page, items, true);
            return (!items.is_empty()).then(|| Op::RestoreItems {
                page: page.clone(),
                items,
            });
        }
        _ => true,
    };
    changes.then(|| op.clone())
}

/// `op` (a redo, or an undo) for the items of `like` only, when both name several items.
fn same_items(op: Op, like: &Op) -> Op {
    let items = like.existing_items().to_vec();
    match op {
        Op::EraseItems { page, .. } => Op::EraseItems { page, items },
        Op::RestoreItems { page, .. } => Op::RestoreItems { page, items },
        other => other,
    }
}

/// One author's undo and redo stacks.
#[derive(Debug, Default, Clone)]
pub struct History {
    undo: Vec<(Op, Op)>,
    redo: Vec<(Op, Op)>,
}

/// The operation that takes `op` back, for the changes that can be undone: a finished
/// stroke, an item, an erase, a restore, a move. Pages, samples in flight and the laser
/// pointer are not undone.
pub fn inverse(op: &Op) -> Option<Op> {
    Some(match op {
        Op::EndStroke { page, item, .. }
        | Op::AddItem { page, item, .. }
        | Op::Restore { page, item } => Op::Erase {
            page: page.clone(),
            item: item.clone(),
        },
        Op::Erase { page, item } => Op::Restore {
            page: page.clone(),
            item: item.clone(),
        },
        Op::Move { page, item, dx, dy } => Op::Move {
            page: page.clone(),
            item: item.clone(),
            dx: -dx,
            dy: -dy,
        },
        Op::MoveItems {
            page,
            items,
            dx,
            dy,
        } => Op::MoveItems {
            page: page.clone(),
            items: items.clone(),
            dx: -dx,
            dy: -dy,
        },
        Op::EraseItems { page, items } => Op::RestoreItems {
            page: page.clone(),
            items: items.clone(),
        },
        Op::RestoreItems { page, items } => Op::EraseItems {
            page: page.clone(),
            items: items.clone(),
        },
        Op::AddPage { .. }
        | Op::BeginStroke { .. }
        | Op::ExtendStroke { .. }
        | Op::ShowPage { .. }
        | Op::Withheld
        | Op::Laser { .. } => {
            return None;
        }
    })
}

/// What redoing an undone change sends: the change again, except that an item made and
/// then erased by the undo comes back by a restore.
fn again(op: &Op) -> Op {
    match op {
        Op::EndStroke { page, item, .. } | Op::AddItem { page, item, .. } => Op::Restore {
            page: page.clone(),
            item: item.clone(),
        },
        other => other.clone(),
    }
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Remembers a change this author made (the server took it); a new change forgets what
    /// could be redone.
    pub fn record(&mut self, op: &Op) {
        if let Some(back) = inverse(op) {
            self.undo.push((back, again(op)));
            self.redo.clear();
        }
    }

    /// The operation that undoes this author's latest change that still stands in `doc`
    /// (one someone else already took back, by erasing the item, is skipped), if any.
    pub fn undo(&mut self, doc: &Document) -> Option<Op> {
        while let Some((back, forth)) = self.undo.pop() {
            if let Some(back) = narrow(&back, doc) {
                // A redo brings back what this undo took, not more.
                let forth = same_items(forth, &back);
                self.redo.push((back.clone(), forth));
                return Some(back);
            }
        }
        None
    }

    /// The operation that redoes the latest undone change that can still be redone in
    /// `doc`, if any.
    pub fn redo(&mut self, doc: &Document) -> Option<Op> {
        while let Some((back, forth)) = self.redo.pop() {
            if let Some(forth) = narrow(&forth, doc) {
                let back = same_items(back, &forth);
                self.undo.push((back, forth.clone()));
                return Some(forth);
            }
        }
        None
    }

    /// Whether there is something to undo / redo.
    pub fn can(&self) -> (bool, bool) {
        (!self.undo.is_empty(), !self.redo.is_empty())
    }
}
