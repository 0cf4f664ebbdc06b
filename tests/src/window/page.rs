//! Scripts run in the page, and what they return.

use serde::Deserialize;

/// Finds the elements a person could operate by their accessible name (a simplified form of
/// the W3C accessible-name computation: `aria-labelledby`, `aria-label`, the `<label>` of a
/// form field, a button's or link's text, `title`). Arguments: the name, and whether only
/// enabled, visible elements count. Returns the elements whose name equals it (whitespace
/// collapsed), and every name seen, for the error message.
pub const FIND_BY_NAME: &str = r#"
const [wanted, usable] = arguments;
const squash = (s) => (s || '').replace(/\s+/g, ' ').trim();
const textOf = (el) => squash(el.innerText !== undefined ? el.innerText : el.textContent);
function nameOf(el) {
  const by = el.getAttribute('aria-labelledby');
  if (by) {
    return squash(by.split(/\s+/).map((id) => {
      const ref = document.getElementById(id);
      return ref ? textOf(ref) : '';
    }).join(' '));
  }
  const label = el.getAttribute('aria-label');
  if (label) return squash(label);
  if (el.labels && el.labels.length > 0) {
    return squash(Array.from(el.labels).map(textOf).join(' '));
  }
  if (el instanceof HTMLInputElement && ['submit', 'button', 'reset'].includes(el.type)) {
    return squash(el.value);
  }
  const text = textOf(el);
  if (text) return text;
  return squash(el.getAttribute('title') || el.getAttribute('placeholder') || '');
}
const operable = 'button, a[href], input:not([type=hidden]), select, textarea, summary, ' +
  '[role=button], [role=link], [role=tab], [role=radio], [role=checkbox], [role=switch], ' +
  '[role=menuitem], [role=option], [tabindex]:not([tabindex="-1"])';
const seen = [];
const found = [];
for (const el of document.querySelectorAll(operable)) {
  const name = nameOf(el);
  const visible = el.getClientRects().length > 0 || (el.labels && Array.from(el.labels)
    .some((l) => l.getClientRects().length > 0));
  if (usable && (!visible || el.disabled)) continue;
  seen.push(name);
  if (name !== squash(wanted)) continue;
  // A visually hidden radio or checkbox is operated through its label, as a person does.
  const hidden = (el.type === 'radio' || el.type === 'checkbox') &&
    (getComputedStyle(el).opacity === '0' || getComputedStyle(el).pointerEvents === 'none');
  found.push(hidden && el.labels && el.labels.length ? el.labels[0] : el);
}
return { found, seen };
"#;

/// Whether the page's visible text contains the argument, ignoring case (the visible text has
/// CSS `text-transform` applied: a label styled in capitals reads "YOUR CLASS IS LIVE").
pub const HAS_TEXT: &str = r#"
const squash = (s) => (s || '').replace(/\s+/g, ' ').toLocaleLowerCase();
return squash(document.body.innerText).includes(squash(arguments[0]));
"#;

/// Samples the pixels inside a `<canvas>` or `<video>` (argument 0, a CSS selector), scaled
/// to a grid of argument 1 x argument 2 samples, as RGBA bytes.
pub const ELEMENT_PIXELS: &str = r#"
const [selector, gw, gh] = arguments;
const el = document.querySelector(selector);
if (!el) return { error: 'no element matches ' + selector };
let width = 0, height = 0;
if (el instanceof HTMLCanvasElement) { width = el.width; height = el.height; }
else if (el instanceof HTMLVideoElement) { width = el.videoWidth; height = el.videoHeight; }
else return { error: selector + ' is a ' + el.tagName + ', not a canvas or video' };
if (width === 0 || height === 0) return { width, height, rgba: [] };
const sample = document.createElement('canvas');
sample.width = gw;
sample.height = gh;
const ctx = sample.getContext('2d', { willReadFrequently: true });
ctx.drawImage(el, 0, 0, width, height, 0, 0, gw, gh);
return { width, height, rgba: Array.from(ctx.getImageData(0, 0, gw, gh).data) };
"#;

/// Where an element is and whether it fits the viewport (argument: CSS selector).
pub const GEOMETRY: &str = r#"
const el = document.querySelector(arguments[0]);
if (!el) return null;
const r = el.getBoundingClientRect();
return {
  left: r.left, top: r.top, right: r.right, bottom: r.bottom,
  viewportWidth: document.documentElement.clientWidth,
  viewportHeight: document.documentElement.clientHeight,
  scrollWidth: document.documentElement.scrollWidth,
  bodyScrollWidth: document.body.scrollWidth,
};
"#;

/// Describes the focused element: its tag, accessible-ish name and focus ring.
pub const FOCUSED: &str = r#"
const el = document.activeElement;
if (!el || el === document.body) return null;
const squash = (s) => (s || '').replace(/\s+/g, ' ').trim();
const style = getComputedStyle(el);
let name = el.getAttribute('aria-label') || '';
if (!name && el.getAttribute('aria-labelledby')) {
  name = el.getAttribute('aria-labelledby').split(/\s+/)
    .map((id) => (document.getElementById(id) || {}).innerText || '').join(' ');
}
if (!name && el.labels && el.labels.length) name = Array.from(el.labels).map((l) => l.innerText).join(' ');
if (!name) name = el.innerText || el.value || el.getAttribute('title') || '';
const ring = (s) => s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
let withRing = ring(style);
// A visually hidden radio shows its ring on its card (:focus-within).
for (let p = el.parentElement; !withRing && p && p !== document.body; p = p.parentElement) {
  if (p.matches(':focus-within') && ring(getComputedStyle(p)) && p.contains(el)) withRing = true;
}
const r = el.getBoundingClientRect();
return {
  tag: el.tagName.toLowerCase(),
  type: el.getAttribute('type'),
  name: squash(name),
  ring: withRing,
  outline: style.outlineStyle + ' ' + style.outlineWidth + ' ' + style.outlineColor,
  boxShadow: style.boxShadow,
  inViewport: r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth,
};
"#;

/// The pixels inside a canvas or video element, sampled on a small grid.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Pixels {
    /// The element's own picture width (not its size on screen).
    pub width: u32,
    /// The element's own picture height.
    pub height: u32,
    /// RGBA samples, row by row.
    pub rgba: Vec<u8>,
}

impl Pixels {
    /// True when the element has a picture at all.
    pub fn has_picture(&self) -> bool {
        self.width > 0 && self.height > 0 && !self.rgba.is_empty()
    }

    /// Mean absolute difference per colour channel against `other` (0..=255); 255 when the
    /// two cannot be compared.
    pub fn difference(&self, other: &Pixels) -> f64 {
        if self.rgba.len() != other.rgba.len() || self.rgba.is_empty() {
            return 255.0;
        }
        let (mut sum, mut n) = (0u64, 0u64);
        for (i, (a, b)) in self.rgba.iter().zip(&other.rgba).enumerate() {
            if i % 4 == 3 {
                continue; // alpha
            }
            sum += u64::from(a.abs_diff(*b));
            n += 1;
        }
        sum as f64 / n as f64
    }

    /// Standard deviation of the samples' brightness: near 0 for a blank or single-colour
    /// picture.
    pub fn spread(&self) -> f64 {
        let lum: Vec<f64> = self
            .rgba
            .chunks_exact(4)
            .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
            .collect();
        if lum.is_empty() {
            return 0.0;
        }
        let mean = lum.iter().sum::<f64>() / lum.len() as f64;
        (lum.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / lum.len() as f64).sqrt()
    }
}

/// An element's box and the viewport's size, in CSS pixels.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Geometry {
    /// Left edge.
    pub left: f64,
    /// Top edge.
    pub top: f64,
    /// Right edge.
    pub right: f64,
    /// Bottom edge.
    pub bottom: f64,
    /// The viewport's width without a scroll bar.
    pub viewport_width: f64,
    /// The viewport's height.
    pub viewport_height: f64,
    /// The document's scrollable width: more than the viewport means horizontal scrolling.
    pub scroll_width: f64,
    /// The body's scrollable width.
    pub body_scroll_width: f64,
}

impl Geometry {
    /// True when the whole box lies inside the viewport's width (a control cut off at the
    /// side would need horizontal scrolling).
    pub fn fits_horizontally(&self) -> bool {
        self.left >= -0.5 && self.right <= self.viewport_width + 0.5
    }
}

/// The element that has the keyboard focus.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Focused {
    /// Tag name, lower case.
    pub tag: String,
    /// Its `type` attribute, if any.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Its name as a person would hear it (simplified).
    pub name: String,
    /// It, or the card around a hidden radio, shows a focus ring of at least 2 px.
    pub ring: bool,
    /// Its computed outline, for messages.
    pub outline: String,
    /// Its computed box shadow, for messages.
    pub box_shadow: String,
    /// It is at least partly inside the viewport.
    pub in_viewport: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_differences_and_spread() {
        let grey = Pixels {
            width: 2,
            height: 1,
            rgba: vec![100, 100, 100, 255, 100, 100, 100, 255],
        };
        let mixed = Pixels {
            width: 2,
            height: 1,
            rgba: vec![0, 0, 0, 255, 200, 200, 200, 255],
        };
        assert_eq!(grey.difference(&grey), 0.0);
        assert_eq!(grey.difference(&mixed), 100.0);
        assert!(grey.spread() < 0.01);
        assert!(mixed.spread() > 90.0);
        let empty = Pixels {
            width: 0,
            height: 0,
            rgba: vec![],
        };
        assert!(!empty.has_picture());
        assert_eq!(empty.difference(&grey), 255.0);
    }
}
