//! Changes, and how a document takes them.

use serde::{Deserialize, Serialize};

use crate::model::*;

/// One change by one author.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", tag = "op")]
pub enum Op {
    /// A new page at the end.
    #[serde(rename_all = "camelCase")]
    AddPage {
        /// Its id.
        page: PageId,
        /// What is under its items.
        background: Background,
    },
    /// A stroke begins (pen down) with its first samples.
    #[serde(rename_all = "camelCase")]
    BeginStroke {
        /// The page.
        page: PageId,
        /// The new stroke's id.
        item: ItemId,
        /// Pen, pencil, highlighter.
        tool: Tool,
        /// Colour and width.
        style: Style,
        /// The first samples.
        samples: Vec<Sample>,
    },
    /// More samples of a stroke being drawn: `samples` are its samples from index `from` on
    /// (a repeat, or an overlap after a coalesce, changes nothing).
    #[serde(rename_all = "camelCase")]
    ExtendStroke {
        /// The page.
        page: PageId,
        /// The stroke.
        item: ItemId,
        /// The index of the first sample here.
        from: u32,
        /// The samples.
        samples: Vec<Sample>,
    },
    /// Pen up: the stroke is finished with `count` samples (a receiver that has fewer asks
    /// for what it missed).
    #[serde(rename_all = "camelCase")]
    EndStroke {
        /// The page.
        page: PageId,
        /// The stroke.
        item: ItemId,
        /// Samples in all.
        count: u32,
    },
    /// A finished item at once (a shape, text, a stamp, or a whole stroke).
    #[serde(rename_all = "camelCase")]
    AddItem {
        /// The page.
        page: PageId,
        /// The new item's id.
        item: ItemId,
        /// What it is.
        kind: ItemKind,
    },
    /// Erases an item (the eraser takes whole strokes).
    #[serde(rename_all = "camelCase")]
    Erase {
        /// The page.
        page: PageId,
        /// The item.
        item: ItemId,
    },
    /// Brings an erased item back (an undo of an erase).
    #[serde(rename_all = "camelCase")]
    Restore {
        /// The page.
        page: PageId,
        /// The item.
        item: ItemId,
    },
    /// Moves an item by `(dx, dy)`.
    #[serde(rename_all = "camelCase")]
    Move {
        /// The page.
        page: PageId,
        /// The item.
        item: ItemId,
        /// Across.
        dx: f32,
        /// Down.
        dy: f32,
    },
    /// Moves several items by the same `(dx, dy)`: a selection dragged, one change (and one
    /// undo) for all of them.
    #[serde(rename_all = "camelCase")]
    MoveItems {
        /// The page.
        page: PageId,
        /// The items (1 to [`MAX_GROUP_ITEMS`], each once).
        items: Vec<ItemId>,
        /// Across.
        dx: f32,
        /// Down.
        dy: f32,
    },
    /// Erases several items at once (a selection deleted).
    #[serde(rename_all = "camelCase")]
    EraseItems {
        /// The page.
        page: PageId,
        /// The items (1 to [`MAX_GROUP_ITEMS`], each once).
        items: Vec<ItemId>,
    },
    /// Brings several erased items back (an undo of [`Op::EraseItems`]).
    #[serde(rename_all = "camelCase")]
    RestoreItems {
        /// The page.
        page: PageId,
        /// The items (1 to [`MAX_GROUP_ITEMS`], each once).
        items: Vec<ItemId>,
    },
    /// The staff show the class `page` (everyone who follows the teacher turns to it).
    #[serde(rename_all = "camelCase")]
    ShowPage {
        /// The page.
        page: PageId,
    },
    /// A change this participant may not see (on another student's private page): it keeps
    /// its place in the order and changes nothing. Only the server sends it.
    Withheld,
    /// The laser pointer: shown for a moment, never kept.
    #[serde(rename_all = "camelCase")]
    Laser {
        /// The page.
        page: PageId,
        /// Where.
        at: [f32; 2],
    },
}

impl Op {
    /// The page it changes.
    pub fn page(&self) -> &str {
        match self {
            Op::AddPage { page, .. }
            | Op::BeginStroke { page, .. }
            | Op::ExtendStroke { page, .. }
            | Op::EndStroke { page, .. }
            | Op::AddItem { page, .. }
            | Op::Erase { page, .. }
            | Op::Restore { page, .. }
            | Op::Move { page, .. }
            | Op::MoveItems { page, .. }
            | Op::EraseItems { page, .. }
            | Op::RestoreItems { page, .. }
            | Op::ShowPage { page }
            | Op::Laser { page, .. } => page,
            Op::Withheld => "",
        }
    }

    /// Whether `viewer` may not see this change: it is on another student's private page
    /// ([`private_owner`]). `None`: staff, who see every page.
    pub fn hidden_from(&self, viewer: Option<&str>) -> bool {
        matches!((private_owner(self.page()), viewer), (Some(owner), Some(v)) if owner != v)
    }

    /// The items it changes that are already on the page (an erase, a restore or a move of
    /// one or several; nothing for the rest).
    pub fn existing_items(&self) -> &[ItemId] {
        match self {
            Op::Erase { item, .. } | Op::Restore { item, .. } | Op::Move { item, .. } => {
                std::slice::from_ref(item)
            }
            Op::MoveItems { items, .. }
            | Op::EraseItems { items, .. }
            | Op::RestoreItems { items, .. } => items,
            _ => &[],
        }
    }

    /// Kept in the document's history (everything but the laser pointer).
    pub fn is_kept(&self) -> bool {
        !matches!(self, Op::Laser { .. })
    }
}

/// An operation in the class's one order: its sequence number (from 1; 0 for the laser
/// pointer, which is shown and never kept) and author.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Stamped {
    /// Its place in the order.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seq: u64,
    /// Further places it stands for (a coalesced batch of samples covers
    /// `seq..=seq + span`).
    #[serde(default, skip_serializing_if = "is_zero")]
    #[cfg_attr(feature = "ts", ts(type = "number", optional))]
    pub span: u64,
    /// Who made it.
    pub author: Author,
    /// The change.
    pub op: Op,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Stamped {
    /// The last place in the order it stands for.
    pub fn last(&self) -> u64 {
        self.seq + self.span
    }
}

/// Why an operation changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The page does not exist (or exists already, for `AddPage`).
    #[error("no page {0:?} (or it exists already)")]
    Page(String),
    /// The item does not exist (or exists already, for a new one).
    #[error("no item {0:?} (or it exists already)")]
    Item(String),
    /// Only its author changes a stroke being drawn.
    #[error("the stroke {0:?} is someone else's")]
    NotYours(String),
    /// A value out of range (a non-finite coordinate, a pressure outside 0..=1).
    #[error("{0}")]
    Invalid(String),
}

/// Checks samples: finite coordinates, pressure in 0..=1.
fn check_samples(samples: &[Sample]) -> Result<(), Refused> {
    for s in samples {
        if !(s.x.is_finite() && s.y.is_finite() && (0.0..=1.0).contains(&s.p)) {
            return Err(Refused::Invalid(format!("a sample out of range: {s:?}")));
        }
    }
    Ok(())
}

fn check_style(style: &Style) -> Result<(), Refused> {
    if !(style.width.is_finite() && style.width > 0.0 && style.width <= 200.0) {
        return Err(Refused::Invalid(format!("a width of {}", style.width)));
    }
    Ok(())
}

fn check_point(p: [f32; 2]) -> Result<(), Refused> {
    if !(p[0].is_finite() && p[1].is_finite()) {
        return Err(Refused::Invalid("a point out of range".into()));
    }
    Ok(())
}

/// Checks what an item is, as the server checks a new one: finite points, samples' pressure
/// in 0..=1, widths in 0..=200, text and scores within [`MAX_TEXT_CHARS`],
/// [`MAX_TEXT_SIZE`] and [`MAX_SCORE_CHARS`]. Also for items that come another way (a
/// teacher's marks on a hand-in).
pub fn check_item_kind(kind: &ItemKind) -> Result<(), Refused> {
    match kind {
        ItemKind::Stroke { style, samples, .. } => {
            check_style(style)?;
            check_samples(samples)
        }
        ItemKind::Shape {
            from, to, style, ..
        } => {
            check_style(style)?;
            check_point(*from)?;
            check_point(*to)
        }
        ItemKind::Text { at, text, size, .. } => {
            check_point(*at)?;
            if text.chars().count() > MAX_TEXT_CHARS {
                return Err(Refused::Invalid(format!(
                    "text of more than {MAX_TEXT_CHARS} characters"
                )));
            }
            if !(size.is_finite() && *size > 0.0 && *size <= MAX_TEXT_SIZE) {
                return Err(Refused::Invalid(format!("text of size {size}")));
            }
            Ok(())
        }
        ItemKind::Stamp { at, stamp } => {
            check_point(*at)?;
            if let Stamp::Score(s) = stamp
                && s.chars().count() > MAX_SCORE_CHARS
            {
                return Err(Refused::Invalid(format!(
                    "a score of more than {MAX_SCORE_CHARS} characters"
                )));
            }
            Ok(())
        }
    }
}

/// `ops` as `viewer` may see them (`None`: staff, who see everything): a change on another
/// student's private page keeps its place in the order as [`Op::Withheld`] (so a replica
/// has no gap to wait on), and a laser pointer there is left out.
pub fn seen_by(ops: &[Stamped], viewer: Option<&str>) -> Vec<Stamped> {
    ops.iter()
        .filter_map(|s| {
            if !s.op.hidden_from(viewer) {
                return Some(s.clone());
            }
            (s.seq > 0).then(|| Stamped {
                seq: s.seq,
                span: s.span,
                author: String::new(),
                op: Op::Withheld,
            })
        })
        .collect()
}

/// The prefix of a student's private page's id: `private-{participant}-{n}`.
pub const PRIVATE_PAGE_PREFIX: &str = "private-";

/// The participant whose private page `page` is (`private-{participant}-{n}`, `n` digits),
/// or `None` for a page everyone sees. A private page is seen by its owner and the staff only.
pub fn private_owner(page: &str) -> Option<&str> {
    let (rest, n) = page.strip_prefix(PRIVATE_PAGE_PREFIX)?.rsplit_once('-')?;
    (!rest.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(rest)
}

/// The id of `participant`'s private page number `n`.
pub fn private_page(participant: &str, n: u32) -> PageId {
    format!("{PRIVATE_PAGE_PREFIX}{participant}-{n}")
}

/// Checks the items an erase, restore or move names (one, or several): 1 to
/// [`MAX_GROUP_ITEMS`] of them, each once, each on `page` (so the change is taken whole or
/// not at all).
fn check_group(page: &Page, items: &[ItemId]) -> Result<(), Refused> {
    if items.is_empty() || items.len() > MAX_GROUP_ITEMS {
        return Err(Refused::Invalid(format!(
            "{} items at once (1 to {MAX_GROUP_ITEMS})",
            items.len()
        )));
    }
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    for id in items {
        if !seen.insert(id.as_str()) {
            return Err(Refused::Invalid(format!("{id} named twice")));
        }
        if !page.items.contains_key(id) {
            return Err(Refused::Item(id.clone()));
        }
    }
    Ok(())
}

/// A stroke still being drawn by `author` on `page`: its samples, its live flag and when it
/// was last touched, for the author's next batch or pen-up.
fn live_stroke<'a>(
    page: &'a mut Page,
    item: &str,
    author: &str,
) -> Result<(&'a mut Vec<Sample>, &'a mut bool, &'a mut u64), Refused> {
    let found = page
        .items
        .get_mut(item)
        .ok_or_else(|| Refused::Item(item.to_owned()))?;
    if found.author != author {
        return Err(Refused::NotYours(item.to_owned()));
    }
    match &mut found.kind {
        ItemKind::Stroke { samples, live, .. } if *live => Ok((samples, live, &mut found.touched)),
        _ => Err(Refused::Item(item.to_owned())),
    }
}

impl Document {
    /// Applies one operation in the class's order. A refused operation changes nothing
    /// (every participant refuses it the same way, so pages stay the same everywhere).
    pub fn apply(&mut self, stamped: &Stamped) -> Result<(), Refused> {
        let result = self.apply_op(stamped);
        self.applied = self.applied.max(stamped.last());
        result
    }

    /// Applies `stamped` only if it is valid: refused, the document is left exactly as it
    /// was, its count of applied changes included (every check comes before any change; the
    /// property test `a_refused_change_changes_nothing` holds this).
    pub fn apply_or_refuse(&mut self, stamped: &Stamped) -> Result<(), Refused> {
        self.apply_op(stamped)?;
        self.applied = self.applied.max(stamped.last());
        Ok(())
    }

    fn apply_op(&mut self, stamped: &Stamped) -> Result<(), Refused> {
        let Stamped {
            seq, author, op, ..
        } = stamped;
        if let Op::Withheld = op {
            return Ok(());
        }
        if let Op::AddPage { page, background } = op {
            if self.page(page).is_some() {
                return Err(Refused::Page(page.clone()));
            }
            self.pages
                .push((page.clone(), Page::new(background.clone())));
            return Ok(());
        }
        let page_id = op.page().to_owned();
        let page = self
            .page_mut(&page_id)
            .ok_or_else(|| Refused::Page(page_id.clone()))?;
        match op {
            Op::AddPage { .. } | Op::Laser { .. } | Op::Withheld => Ok(()),
            Op::ShowPage { .. } => {
                self.shown = Some(page_id);
                Ok(())
            }
            Op::BeginStroke {
                item,
                tool,
                style,
                samples,
                ..
            } => {
                check_style(style)?;
                check_samples(samples)?;
                if page.items.contains_key(item) {
                    return Err(Refused::Item(item.clone()));
                }
                page.items.insert(
                    item.clone(),
                    Item {
                        author: author.clone(),
                        kind: ItemKind::Stroke {
                            tool: *tool,
                            style: *style,
                            samples: samples.clone(),
                            live: true,
                        },
                        offset: [0.0, 0.0],
                        erased: false,
                        order: *seq,
                        touched: *seq,
                    },
                );
                Ok(())
            }
            Op::ExtendStroke {
                item,
                from,
                samples: more,
                ..
            } => {
                check_samples(more)?;
                let (samples, _, touched) = live_stroke(page, item, author)?;
                let from = *from as usize;
                if from > samples.len() {
                    // A gap: the samples between were lost; the stroke waits for them.
                    return Err(Refused::Invalid(format!(
                        "samples from {from} after {} received",
                        samples.len()
                    )));
                }
                let skip = samples.len() - from;
                samples.extend(more.iter().skip(skip).copied());
                *touched = stamped.last();
                Ok(())
            }
            Op::EndStroke { item, count, .. } => {
                let (samples, live, touched) = live_stroke(page, item, author)?;
                // Committed with what arrived, cut to what the author drew.
                samples.truncate(*count as usize);
                *live = false;
                *touched = *seq;
                Ok(())
            }
            Op::AddItem { item, kind, .. } => {
                check_item_kind(kind)?;
                if page.items.contains_key(item) {
                    return Err(Refused::Item(item.clone()));
                }
                let mut kind = kind.clone();
                if let ItemKind::Stroke { live, .. } = &mut kind {
                    *live = false;
                }
                page.items.insert(
                    item.clone(),
                    Item {
                        author: author.clone(),
                        kind,
                        offset: [0.0, 0.0],
                        erased: false,
                        order: *seq,
                        touched: *seq,
                    },
                );
                Ok(())
            }
            // One item or several: checked whole (each on the page, each once) before any
            // changes, then changed together.
            Op::Erase { .. }
            | Op::Restore { .. }
            | Op::EraseItems { .. }
            | Op::RestoreItems { .. } => {
                let items = op.existing_items();
                check_group(page, items)?;
                let erased = matches!(op, Op::Erase { .. } | Op::EraseItems { .. });
                for id in items {
                    if let Some(found) = page.items.get_mut(id) {
                        found.erased = erased;
                        found.touched = *seq;
                    }
                }
                Ok(())
            }
            Op::Move { dx, dy, .. } | Op::MoveItems { dx, dy, .. } => {
                check_point([*dx, *dy])?;
                let items = op.existing_items();
                check_group(page, items)?;
                for id in items {
                    if let Some(found) = page.items.get_mut(id) {
                        found.offset[0] += dx;
                        found.offset[1] += dy;
                        found.touched = *seq;
                    }
                }
                Ok(())
            }
        }
    }
}

/// The most samples [`coalesce`] puts in one merged batch (about 20 KB of JSON), so a
/// message stays well under the protocol's size limit.
pub const MAX_MERGED_SAMPLES: usize = 512;
/// The most characters in a text item.
pub const MAX_TEXT_CHARS: usize = 2_000;
/// The largest text, page units (larger would not fit a page).
pub const MAX_TEXT_SIZE: f32 = 2_000.0;
/// The most characters in a score stamp ("8/10", "A+", "95%").
pub const MAX_SCORE_CHARS: usize = 20;
/// The most items one change moves, erases or restores at once.
pub const MAX_GROUP_ITEMS: usize = 500;

/// Merges a backlog of operations for one receiver: consecutive `ExtendStroke`s of the same
/// stroke become one (the receiver gets the same samples in fewer messages). Everything else
/// keeps its place.
pub fn coalesce(ops: Vec<Stamped>) -> Vec<Stamped> {
    let mut out: Vec<Stamped> = Vec::with_capacity(ops.len());
    for next in ops {
        if let (
            Some(Stamped {
                seq,
                span,
                author,
                op:
                    Op::ExtendStroke {
                        page,
                        item,
                        from,
                        samples,
                    },
            }),
            Op::ExtendStroke {
                page: next_page,
                item: next_item,
                from: next_from,
                samples: next_samples,
            },
        ) = (out.last_mut(), &next.op)
            && page == next_page
            && item == next_item
            && *author == next.author
            && next.seq == *seq + *span + 1
            && samples.len() + next_samples.len() <= MAX_MERGED_SAMPLES
            && (*from as usize + samples.len()) >= *next_from as usize
        {
            // Overlapping or adjacent: append what is new.
            let have = *from as usize + samples.len();
            let skip = have - *next_from as usize;
            samples.extend(next_samples.iter().skip(skip).copied());
            *span = next.last() - *seq;
            continue;
        }
        out.push(next);
    }
    out
}
