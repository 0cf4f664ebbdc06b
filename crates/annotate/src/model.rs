//! Pages and what is on them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The schema version this build writes; [`Document::from_json`] reads it and older ones.
pub const SCHEMA_VERSION: u32 = 2;

/// Who made a change (a participant id).
pub type Author = String;

/// A page's id (unique in its document).
pub type PageId = String;

/// An item's id (unique in its page; made by its author, e.g. `"<author>-<n>"`).
pub type ItemId = String;

/// One pen sample, as the platform delivered it: page coordinates, pressure 0..=1, and
/// milliseconds since the stroke began.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Sample {
    /// Across the page.
    pub x: f32,
    /// Down the page.
    pub y: f32,
    /// 0 (none) to 1 (full).
    pub p: f32,
    /// Since the stroke began.
    pub t: u32,
}

/// What draws a stroke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum Tool {
    /// Ink whose width follows pressure.
    Pen,
    /// Thin grey-ish ink with texture (kept in exports).
    Pencil,
    /// Wide, see-through, under other ink.
    Highlighter,
}

/// Colour (RGBA) and width (page units at full pressure).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Style {
    /// Red, green, blue, alpha.
    pub color: [u8; 4],
    /// Width at full pressure.
    pub width: f32,
}

/// A shape dragged from one point to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum ShapeKind {
    /// A straight line.
    Line,
    /// A line with a head at its end.
    Arrow,
    /// A rectangle across the two points.
    Rectangle,
    /// An ellipse inside that rectangle.
    Ellipse,
}

/// A teacher's quick mark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", tag = "kind", content = "text")]
pub enum Stamp {
    /// Right.
    Tick,
    /// Wrong.
    Cross,
    /// A score, e.g. "8/10".
    Score(String),
}

/// What an item is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum ItemKind {
    /// Ink: every sample, in order.
    #[serde(rename_all = "camelCase")]
    Stroke {
        /// Pen, pencil or highlighter.
        tool: Tool,
        /// Colour and width.
        style: Style,
        /// The samples.
        samples: Vec<Sample>,
        /// Still being drawn (not committed by pen-up yet).
        live: bool,
    },
    /// A shape.
    #[serde(rename_all = "camelCase")]
    Shape {
        /// Which.
        shape: ShapeKind,
        /// Where the drag began.
        from: [f32; 2],
        /// Where it ended.
        to: [f32; 2],
        /// Colour and width.
        style: Style,
    },
    /// Typed text.
    #[serde(rename_all = "camelCase")]
    Text {
        /// Its top-left corner.
        at: [f32; 2],
        /// The text.
        text: String,
        /// Its size, page units.
        size: f32,
        /// Its colour.
        color: [u8; 4],
    },
    /// A stamp.
    #[serde(rename_all = "camelCase")]
    Stamp {
        /// Its centre.
        at: [f32; 2],
        /// Which.
        stamp: Stamp,
    },
}

/// Something on a page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Item {
    /// Who made it.
    pub author: Author,
    /// What it is.
    pub kind: ItemKind,
    /// Moved by this much since it was made.
    pub offset: [f32; 2],
    /// Erased (kept so an undo can bring it back; not drawn, not exported).
    pub erased: bool,
    /// Its place in drawing order: the sequence number of the operation that made it.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub order: u64,
    /// The sequence number of the last operation that changed it (what a view redraws).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub touched: u64,
}

/// What is under a page's items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum Background {
    /// Nothing.
    Blank,
    /// Lines `spacing` apart.
    Ruled {
        /// Between lines.
        spacing: f32,
    },
    /// Squares `spacing` wide.
    Grid {
        /// Between lines.
        spacing: f32,
    },
    /// A picture (a homework photo): the file's content hash and its size in pixels.
    Image {
        /// SHA-256 of the file.
        hash: String,
        /// Pixels across.
        width: u32,
        /// Pixels down.
        height: u32,
    },
    /// One page of a PDF.
    Pdf {
        /// SHA-256 of the file.
        hash: String,
        /// Which page (from 0).
        page: u32,
    },
    /// A frozen frame of a screen share.
    Frame {
        /// SHA-256 of the picture.
        hash: String,
        /// Pixels across.
        width: u32,
        /// Pixels down.
        height: u32,
    },
}

/// One page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Page {
    /// What is under the items.
    pub background: Background,
    /// Its items by id.
    pub items: BTreeMap<ItemId, Item>,
}

impl Page {
    /// A page with `background` and nothing on it.
    pub fn new(background: Background) -> Self {
        Self {
            background,
            items: BTreeMap::new(),
        }
    }

    /// The items to draw, in drawing order (highlighter under the rest, then by order).
    pub fn visible(&self) -> Vec<(&ItemId, &Item)> {
        let mut items: Vec<_> = self.items.iter().filter(|(_, i)| !i.erased).collect();
        items.sort_by_key(|(id, i)| {
            let under = matches!(
                i.kind,
                ItemKind::Stroke {
                    tool: Tool::Highlighter,
                    ..
                }
            );
            (!under, i.order, (*id).clone())
        });
        items
    }
}

/// A document: pages in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Document {
    /// The schema version it was written in.
    pub schema: u32,
    /// The pages, in the order they were added.
    pub pages: Vec<(PageId, Page)>,
    /// The sequence number of the last operation applied (0: none).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub applied: u64,
    /// The page the staff show the class ([`crate::Op::ShowPage`]; none yet: the first).
    /// Since schema 2.
    pub shown: Option<PageId>,
}

impl Default for Document {
    fn default() -> Self {
        Self {
            schema: SCHEMA_VERSION,
            pages: Vec::new(),
            applied: 0,
            shown: None,
        }
    }
}

/// Why a stored document cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SchemaError {
    /// Not a document at all.
    #[error("not an annotation document: {0}")]
    Malformed(String),
    /// Written by a newer version of the app.
    #[error(
        "this annotation was saved by a newer version of the app (schema {0}); update the app to open it"
    )]
    Newer(u32),
}

impl Document {
    /// The page shown to the class: the one the staff chose, or the first.
    pub fn shown_page(&self) -> Option<&PageId> {
        self.shown
            .as_ref()
            .filter(|id| self.page(id).is_some())
            .or_else(|| self.pages.first().map(|(id, _)| id))
    }

    /// The page with `id`.
    pub fn page(&self, id: &str) -> Option<&Page> {
        self.pages.iter().find(|(p, _)| p == id).map(|(_, p)| p)
    }

    pub(crate) fn page_mut(&mut self, id: &str) -> Option<&mut Page> {
        self.pages.iter_mut().find(|(p, _)| p == id).map(|(_, p)| p)
    }

    /// The stored form (JSON, with its schema version).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a stored document, migrating older schemas to this one; a newer schema is
    /// refused in words (nothing is guessed).
    pub fn from_json(bytes: &[u8]) -> Result<Self, SchemaError> {
        let mut value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| SchemaError::Malformed(e.to_string()))?;
        let schema = value
            .get("schema")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| SchemaError::Malformed("no schema version".into()))?;
        let schema = u32::try_from(schema).map_err(|_| SchemaError::Newer(u32::MAX))?;
        if schema > SCHEMA_VERSION {
            return Err(SchemaError::Newer(schema));
        }
        // Each step brings a document one version on; schema 1 is the first.
        for from in schema..SCHEMA_VERSION {
            value = migrate_from(from, value)?;
        }
        serde_json::from_value(value).map_err(|e| SchemaError::Malformed(e.to_string()))
    }
}

/// Migrates a document from schema `from` to `from + 1`.
/// - 1 to 2: the page shown to the class (`shown`) is new; a schema-1 board showed its first
///   page, which is what no page shown means.
fn migrate_from(from: u32, mut value: serde_json::Value) -> Result<serde_json::Value, SchemaError> {
    match from {
        1 => {
            let doc = value
                .as_object_mut()
                .ok_or_else(|| SchemaError::Malformed("not an object".into()))?;
            doc.insert("shown".into(), serde_json::Value::Null);
            doc.insert("schema".into(), 2.into());
            Ok(value)
        }
        _ => Err(SchemaError::Malformed(format!(
            "no migration from schema {from}"
        ))),
    }
}
