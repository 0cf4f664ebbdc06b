//! The class's whiteboard in the app: this participant's copy of the board (an
//! [`annotate::Replica`]: the server's order, gaps held and healed by asking), the author's
//! undo and redo, and what the page redraws.
//!
//! The page draws and sends its changes (`class_request` with `annotate`); what the server
//! took comes back to everyone as `annotation` events, which the session's event task hands
//! to [`BoardController::receive`]. The page gets `board-changed` with the pages and items
//! that changed ([`BoardUpdate`]), never the operations: it keeps a map and redraws.

use std::sync::{Arc, Mutex};

use annotate::{Background, History, Item, Op, Received, Replica, Stamped};
use classroom_client::ClassSender;
use classroom_protocol::ClassRequest;
use serde::Serialize;
use ts_rs::TS;

use crate::AppError;

/// A page of the board, as the page draws it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PageView {
    /// Its id.
    pub id: String,
    /// What is under its items.
    pub background: Background,
}

/// An item that changed (erased ones say so; the page drops them).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ItemView {
    /// Its page.
    pub page: String,
    /// Its id.
    pub id: String,
    /// It, now.
    pub item: Item,
}

/// Someone's laser pointer, for a moment.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct LaserView {
    /// Whose.
    pub author: String,
    /// On which page.
    pub page: String,
    /// Where.
    pub at: [f32; 2],
}

/// What the page redraws: the `board-changed` event's payload, and `board_view`'s answer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct BoardUpdate {
    /// Everything is here: forget what was drawn before (a new class, or the whole board).
    pub reset: bool,
    /// Pages new since the last update (all of them on a reset), in order.
    pub pages: Vec<PageView>,
    /// Items that changed (all of them on a reset).
    pub items: Vec<ItemView>,
    /// Laser pointers.
    pub lasers: Vec<LaserView>,
    /// This participant's participant id (item ids start with it).
    pub me: Option<String>,
    /// There is a change of one's own to undo / to redo.
    pub can_undo: bool,
    /// See `can_undo`.
    pub can_redo: bool,
    /// Which class's board (a new class starts a new generation).
    #[ts(type = "number")]
    pub generation: u64,
    /// The last change in the server's order this update includes: a page drops an update
    /// older than what it has (a snapshot asked for before a change, answered after it).
    #[ts(type = "number")]
    pub applied: u64,
    /// The page the staff show the class (none before the board has a page).
    pub shown: Option<String>,
}

/// The pages after the first `skip`, as the page draws them.
fn pages_after(doc: &annotate::Document, skip: usize) -> Vec<PageView> {
    doc.pages
        .iter()
        .skip(skip)
        .map(|(id, p)| PageView {
            id: id.clone(),
            background: p.background.clone(),
        })
        .collect()
}

/// Every item for which `keep` holds, with its page.
fn items_where(doc: &annotate::Document, keep: impl Fn(&Item) -> bool) -> Vec<ItemView> {
    doc.pages
        .iter()
        .flat_map(|(page, p)| {
            p.items
                .iter()
                .filter(|(_, i)| keep(i))
                .map(|(id, item)| ItemView {
                    page: page.clone(),
                    id: id.clone(),
                    item: item.clone(),
                })
        })
        .collect()
}

/// The size a whiteboard page is saved at as PNG (16:9, as the page).
pub const SAVED_PNG_SIZE: (u32, u32) = (2560, 1440);

/// The whiteboard as a file to save, and its extension: `page` (the one the person looks at;
/// none: the one shown to the class) as a PNG of [`SAVED_PNG_SIZE`], or as a PDF the class's
/// pages and `me`'s own private pages, never a student's private page someone else (staff)
/// can see (a teacher's PDF is the lesson's board, which is handed on; a student's page is
/// saved from itself, as PNG); drawn as the canvas draws them (`homework::render`,
/// `homework::export`).
pub fn export(
    doc: &annotate::Document,
    format: crate::saved::SaveFormat,
    page: Option<&str>,
    me: Option<&str>,
) -> Result<(Vec<u8>, &'static str), AppError> {
    let failed =
        |e: &dyn std::fmt::Display| AppError::Internal(format!("drawing the whiteboard: {e}"));
    let Some(id) = page.or(doc.shown_page().map(String::as_str)) else {
        return Err(AppError::Invalid("The whiteboard has no page yet.".into()));
    };
    let Some(page) = doc.page(id) else {
        return Err(AppError::Invalid(format!(
            "The whiteboard has no page {id}."
        )));
    };
    match format {
        crate::saved::SaveFormat::Png => {
            let (w, h) = SAVED_PNG_SIZE;
            let png = homework::render_page(page, None, w, h).map_err(|e| failed(&e))?;
            Ok((png, "png"))
        }
        crate::saved::SaveFormat::Pdf => {
            let pages: Vec<&annotate::Page> = doc
                .pages
                .iter()
                .filter(|(id, _)| annotate::private_owner(id).is_none_or(|o| Some(o) == me))
                .map(|(_, p)| p)
                .collect();
            let pdf = homework::board_pdf(&pages, "Whiteboard").map_err(|e| failed(&e))?;
            Ok((pdf, "pdf"))
        }
    }
}

/// Called with each [`BoardUpdate`], from the session's event task.
pub type BoardNotifier = Arc<dyn Fn(&BoardUpdate) + Send + Sync>;

#[derive(Default)]
struct Inner {
    replica: Replica,
    history: History,
    me: Option<String>,
    sender: Option<ClassSender>,
    /// Undo and redo changes sent and not back yet: not recorded as new changes.
    echoes: Vec<Op>,
    generation: u64,
}

/// This app's copy of the class's whiteboard.
#[derive(Default)]
pub struct BoardController {
    inner: Mutex<Inner>,
    notify: Mutex<Option<BoardNotifier>>,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl BoardController {
    /// Calls `notify` with every update (the app sends them to the page).
    pub fn on_update(&self, notify: BoardNotifier) {
        *locked(&self.notify) = Some(notify);
    }

    fn emit(&self, update: &BoardUpdate) {
        if let Some(notify) = locked(&self.notify).clone() {
            notify(update);
        }
    }

    /// A class began: an empty board, asked of the server from the start.
    pub fn start(&self, me: Option<String>, sender: ClassSender) {
        sender.class(ClassRequest::AnnotationSince { seq: 0 });
        let update = {
            let mut inner = locked(&self.inner);
            *inner = Inner {
                me,
                sender: Some(sender),
                generation: inner.generation + 1,
                ..Inner::default()
            };
            Self::everything(&inner)
        };
        self.emit(&update);
    }

    /// The class ended: nothing more is sent (the board stays to look at).
    pub fn stop(&self) {
        locked(&self.inner).sender = None;
    }

    /// Our participant id, once let in (from a lobby, or again after a reconnect): the board
    /// is asked for what came after what we have.
    pub fn set_me(&self, me: String) {
        let mut inner = locked(&self.inner);
        inner.me = Some(me);
        let have = inner.replica.document().applied;
        if let Some(sender) = &inner.sender {
            sender.class(ClassRequest::AnnotationSince { seq: have });
        }
    }

    /// A copy of the board as it is now and our participant id (to save it).
    pub fn document(&self) -> (annotate::Document, Option<String>) {
        let inner = locked(&self.inner);
        (inner.replica.document().clone(), inner.me.clone())
    }

    /// The whole board, for a page that (re)mounts.
    pub fn view(&self) -> BoardUpdate {
        Self::everything(&locked(&self.inner))
    }

    fn everything(inner: &Inner) -> BoardUpdate {
        let doc = inner.replica.document();
        Self::update(
            inner,
            true,
            pages_after(doc, 0),
            items_where(doc, |_| true),
            Vec::new(),
        )
    }

    fn update(
        inner: &Inner,
        reset: bool,
        pages: Vec<PageView>,
        items: Vec<ItemView>,
        lasers: Vec<LaserView>,
    ) -> BoardUpdate {
        let (can_undo, can_redo) = inner.history.can();
        BoardUpdate {
            reset,
            pages,
            items,
            lasers,
            me: inner.me.clone(),
            can_undo,
            can_redo,
            generation: inner.generation,
            applied: inner.replica.document().applied,
            shown: inner.replica.document().shown_page().cloned(),
        }
    }

    /// Changes from the server, in its order (late, repeated or out of order is fine: held
    /// until the gap fills, and the missing ones asked for).
    pub fn receive(&self, ops: Vec<Stamped>) {
        let (update, shown_before) = {
            let mut inner = locked(&self.inner);
            let before = inner.replica.document().applied;
            let pages_before = inner.replica.document().pages.len();
            let shown_before = inner.replica.document().shown_page().cloned();
            let mut lasers = Vec::new();
            for stamped in ops {
                let mine = inner.me.as_deref() == Some(stamped.author.as_str());
                let fresh = stamped.seq > before;
                let op = mine.then(|| stamped.op.clone());
                match inner.replica.receive(stamped) {
                    Received::Ephemeral {
                        author,
                        op: Op::Laser { page, at },
                    } => lasers.push(LaserView { author, page, at }),
                    Received::Applied(_) | Received::Waiting if fresh => {
                        // One's own change, back from the server: undoable (an undo or a
                        // redo coming back is not a new change).
                        if let Some(op) = op {
                            if let Some(i) = inner.echoes.iter().position(|e| *e == op) {
                                inner.echoes.remove(i);
                            } else {
                                inner.history.record(&op);
                            }
                        }
                    }
                    _ => {}
                }
            }
            if let (Some((from, _)), Some(sender)) = (inner.replica.missing(), &inner.sender) {
                sender.class(ClassRequest::AnnotationSince { seq: from - 1 });
            }
            let doc = inner.replica.document();
            let (pages, items) = (
                pages_after(doc, pages_before),
                items_where(doc, |i| i.touched > before),
            );
            (
                Self::update(&inner, false, pages, items, lasers),
                shown_before,
            )
        };
        if !update.pages.is_empty()
            || !update.items.is_empty()
            || !update.lasers.is_empty()
            || update.shown != shown_before
        {
            self.emit(&update);
        }
    }

    /// Sends a change the page made (a stroke's batches, an eraser's pick, a page).
    pub fn send(&self, op: Op) -> Result<(), AppError> {
        let inner = locked(&self.inner);
        let sender = inner
            .sender
            .as_ref()
            .ok_or_else(|| AppError::NotInClass("Join a class first.".into()))?;
        sender.class(ClassRequest::Annotate { op });
        Ok(())
    }

    /// Undoes (or redoes) this participant's latest change that still stands; false when
    /// there is none.
    pub fn undo(&self, redo: bool) -> Result<bool, AppError> {
        let mut inner = locked(&self.inner);
        let Inner {
            replica,
            history,
            sender,
            echoes,
            ..
        } = &mut *inner;
        let sender = sender
            .as_ref()
            .ok_or_else(|| AppError::NotInClass("Join a class first.".into()))?;
        let op = if redo {
            history.redo(replica.document())
        } else {
            history.undo(replica.document())
        };
        Ok(match op {
            Some(op) => {
                echoes.push(op.clone());
                sender.class(ClassRequest::Annotate { op });
                true
            }
            None => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use annotate::{ItemKind, Sequencer, Stamp};

    /// Two pages, a tick on the second; the second shown when `show` says so.
    fn two_pages(show: bool) -> annotate::Document {
        let mut server = Sequencer::new();
        for page in ["board-1", "board-2"] {
            server
                .stamp(
                    "t",
                    Op::AddPage {
                        page: page.into(),
                        background: Background::Blank,
                    },
                )
                .expect("a page");
        }
        server
            .stamp(
                "t",
                Op::AddItem {
                    page: "board-2".into(),
                    item: "t-1".into(),
                    kind: ItemKind::Stamp {
                        at: [800.0, 450.0],
                        stamp: Stamp::Cross,
                    },
                },
            )
            .expect("a cross");
        if show {
            server
                .stamp(
                    "t",
                    Op::ShowPage {
                        page: "board-2".into(),
                    },
                )
                .expect("shown");
        }
        server.document().clone()
    }

    /// Whether the saved PNG is red in its middle (the cross).
    fn crossed(png: &[u8]) -> bool {
        let picture = homework::image::load_from_memory(png)
            .expect("a PNG")
            .to_rgba8();
        let (w, h) = picture.dimensions();
        let p = picture.get_pixel(w / 2, h / 2).0;
        p[0] > 150 && p[1] < 90
    }

    #[test]
    fn a_pdf_holds_the_class_pages_and_only_the_saver_s_own_private_pages() {
        let mut server = Sequencer::new();
        for (author, page) in [
            ("t", "board-1"),
            ("s1", "private-s1-1"),
            ("s2", "private-s2-1"),
            ("t", "board-2"),
        ] {
            server
                .stamp(
                    author,
                    Op::AddPage {
                        page: page.into(),
                        background: Background::Blank,
                    },
                )
                .expect("a page");
        }
        let doc = server.document().clone();
        let pages = |me: Option<&str>| {
            let (pdf, ext) = export(&doc, crate::saved::SaveFormat::Pdf, None, me).expect("saved");
            assert_eq!(ext, "pdf");
            homework::check_pdf(&pdf, &homework::PdfLimits::default())
                .expect("a PDF")
                .pages
        };
        assert_eq!(pages(None), 2, "staff: the class's pages, no student's own");
        assert_eq!(pages(Some("t")), 2, "the teacher has no private page");
        assert_eq!(pages(Some("s1")), 3, "a student: the class's and their own");
    }

    #[test]
    fn a_png_is_of_the_page_asked_for_or_the_one_shown() {
        let png = crate::saved::SaveFormat::Png;
        let (bytes, ext) = export(&two_pages(false), png, None, None).expect("saved");
        assert_eq!(ext, "png");
        assert!(!crossed(&bytes), "nothing shown yet: the first page");
        let (bytes, _) = export(&two_pages(true), png, None, None).expect("saved");
        assert!(crossed(&bytes), "the page shown");
        let (bytes, _) = export(&two_pages(true), png, Some("board-1"), None).expect("saved");
        assert!(!crossed(&bytes), "the page asked for");
        let missing =
            export(&two_pages(true), png, Some("board-9"), None).expect_err("no such page");
        assert_eq!(missing.kind(), "invalid");
        let empty = export(&annotate::Document::default(), png, None, None).expect_err("no page");
        assert_eq!(empty.kind(), "invalid");
    }
}
