//! A pen's pressure read from the desktop's own input events, for webviews that do not give it.
//!
//! WebKitGTK reports a graphics tablet's pen to the page as a mouse with a fixed pressure of
//! 0.5 (seen on 2.50 with a pen device of X's `inputtest` driver: GDK's event says "pen",
//! pressure 0.1..0.9; the page's `pointerdown` says `mouse`, 0.5), so handwriting would have
//! one width whatever the hand does. Worse, in a class the pen's press and moves reached
//! the page only when the pen was lifted, merged into one move (the same test: WebKit held
//! the press behind the reply to the last hover move), so a word came out as one straight
//! line. On Linux the app therefore reads the pen's events from GTK before WebKit does
//! ([`attach`]) and hands each to the page as a DOM event ([`PEN_EVENT`], detail
//! [`PenSample`]: where, how hard, touching or not) by running a one-line script in the
//! page, which runs at once whatever WebKit does with the pointer events. The page
//! (`ui/src/lib/nativePen.ts`) keeps the samples of each touch and draws the stroke from
//! them when the mouse-typed pointer events come; a webview that reports `pen` itself keeps
//! its own values.
//!
//! The same goes for a mouse's left-button drags: with software rendering under load, WebKit
//! was measured holding a mouse press 1-3 s (the page's main thread idle meanwhile) and then
//! giving the page the whole stroke as one move, so the mouse's samples are sent while its
//! left button is down too (pressure 0.5, `mouse`), and the canvases draw a drag that starts
//! on them from those. Hovering mice send nothing.
//!
//! Tested in a real window with a pen and a mouse of X's `inputtest` driver
//! (`src-tauri/tests/window/pen.rs`).

use serde::Serialize;

/// The DOM event the page receives on `window` with a [`PenSample`] as its `detail`.
pub const PEN_EVENT: &str = "classroom-pen";

/// A pen's state as its latest input event gave it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct PenSample {
    /// Where across, in the page's CSS pixels from the webview's left edge (its client
    /// coordinates).
    pub x: f64,
    /// Where down, in CSS pixels from the webview's top edge.
    pub y: f64,
    /// Pressure, 0 (none) to 1 (the most the pen reports).
    pub pressure: f32,
    /// Whether the pen touches the tablet (its tip pressed).
    pub contact: bool,
    /// Whether it is the pen's eraser end.
    pub eraser: bool,
    /// Whether it is a mouse (or touchpad) with its left button as the tip, pressure 0.5.
    pub mouse: bool,
    /// The input event's time, in milliseconds on the desktop's clock.
    pub time: u32,
}

/// What kind of device an input event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A pen's tip.
    Pen,
    /// A pen's eraser end.
    Eraser,
    /// A mouse, touchpad or trackpoint: its left button pressed is a touch, without pressure.
    Mouse,
    /// A touchscreen or anything else: the webview's own values stand.
    Other,
}

/// Turns a pen's input events into the samples worth sending: every move while the pen
/// touches, a change of touching or of the end used, nothing while it hovers otherwise,
/// nothing for other devices, and nothing for events without a position or a pen's without
/// pressure. A mouse is sent only while its button is down and when it is let go.
#[derive(Debug, Default)]
pub struct PenFilter {
    /// The last sample sent: where, pressure in steps, touching, which device.
    last: Option<((i64, i64), u16, bool, Source)>,
}

impl PenFilter {
    /// Pressure is sent in 1/1024 steps: finer than any width the canvas can show.
    pub const STEPS: f32 = 1024.0;

    /// The sample to send for an event from `source` at `at` (client coordinates) with
    /// `pressure` (the device's pressure axis, 0..1, when it has one) while the tip is
    /// `contact`ing, at `time`; `None` when nothing worth sending changed or the event is not
    /// a pen's.
    pub fn sample(
        &mut self,
        source: Source,
        at: (f64, f64),
        pressure: Option<f64>,
        contact: bool,
        time: u32,
    ) -> Option<PenSample> {
        let pressure = match source {
            Source::Other => return None,
            // A mouse's own "pressure" (some report the button as 0 or 1) is not a hand's.
            Source::Mouse => 0.5,
            Source::Pen | Source::Eraser => pressure.filter(|p| p.is_finite())?.clamp(0.0, 1.0),
        } as f32;
        if !(at.0.is_finite() && at.1.is_finite()) {
            return None;
        }
        // A mouse that hovers, and did not just let go, is the webview's alone.
        let was_down = self
            .last
            .is_some_and(|(_, _, down, from)| down && from == source);
        if source == Source::Mouse && !contact && !was_down {
            return None;
        }
        let steps = (pressure * Self::STEPS).round() as u16;
        // Hundredths of a pixel: a move the page could draw.
        let place = ((at.0 * 100.0).round() as i64, (at.1 * 100.0).round() as i64);
        let state = (place, steps, contact, source);
        let changed = match self.last {
            None => true,
            Some((was, was_steps, was_contact, was_source)) => {
                was_contact != contact
                    || was_source != source
                    || (contact && (was != place || was_steps != steps))
            }
        };
        if !changed {
            return None;
        }
        self.last = Some(state);
        Some(PenSample {
            x: at.0,
            y: at.1,
            pressure: f32::from(steps) / Self::STEPS,
            contact,
            eraser: source == Source::Eraser,
            mouse: source == Source::Mouse,
            time,
        })
    }
}

/// The script that hands `sample` to the page: a [`PEN_EVENT`] on `window` (its detail is the
/// sample as JSON, made here from numbers and booleans only).
pub fn script(sample: &PenSample) -> String {
    let detail = serde_json::to_string(sample).unwrap_or_else(|_| "null".into());
    format!("window.dispatchEvent(new CustomEvent('{PEN_EVENT}',{{detail:{detail}}}));")
}

/// Reads a pen's pressure from the GTK events of `window`'s webview before WebKit sees them,
/// and hands each change to the page ([`script`]).
#[cfg(target_os = "linux")]
pub fn attach(window: &tauri::WebviewWindow) -> tauri::Result<()> {
    window.with_webview(|webview| {
        use gtk::prelude::{DeviceExt, WidgetExt};
        use gtk::{gdk, glib};
        use webkit2gtk::WebViewExt;

        let view = webview.inner();
        let page = view.clone();
        // GTK calls the handler on its main thread only, one event at a time.
        let filter = std::cell::RefCell::new(PenFilter::default());
        // Connected on the view itself, before WebKit's own handlers (they run last), so the
        // script is on its way to the page before the pointer event WebKit makes from this
        // event.
        view.connect_event(move |_, event| {
            let contact = match event.event_type() {
                gdk::EventType::ButtonPress => event.button() == Some(1),
                gdk::EventType::ButtonRelease => false,
                gdk::EventType::MotionNotify => event
                    .state()
                    .is_some_and(|s| s.contains(gdk::ModifierType::BUTTON1_MASK)),
                _ => return glib::Propagation::Proceed,
            };
            let source = match event.source_device().map(|d| d.source()) {
                Some(gdk::InputSource::Pen) => Source::Pen,
                Some(gdk::InputSource::Eraser) => Source::Eraser,
                Some(
                    gdk::InputSource::Mouse
                    | gdk::InputSource::Touchpad
                    | gdk::InputSource::Trackpoint,
                ) => Source::Mouse,
                _ => Source::Other,
            };
            if source == Source::Other {
                return glib::Propagation::Proceed;
            }
            // The view's own coordinates, then CSS pixels at the page's zoom.
            let Some(at) = client_point(&page, event) else {
                return glib::Propagation::Proceed;
            };
            let pressure = event.axis(gdk::AxisUse::Pressure);
            let time = event.time();
            if let Some(sample) = filter
                .borrow_mut()
                .sample(source, at, pressure, contact, time)
            {
                page.evaluate_javascript(
                    &script(&sample),
                    None,
                    None,
                    None::<&gtk::gio::Cancellable>,
                    |_| {},
                );
            }
            glib::Propagation::Proceed
        });
    })
}

/// Where `event` happened in `view`'s client coordinates: the view's own pixels from its
/// top-left corner, divided by the page's zoom. From the event's own coordinates when it
/// came to the view's window (the usual case, and the only one that needs no screen
/// position, which Wayland does not give), else from the screen's.
#[cfg(target_os = "linux")]
fn client_point(view: &webkit2gtk::WebView, event: &gtk::gdk::Event) -> Option<(f64, f64)> {
    use gtk::prelude::WidgetExt;
    use webkit2gtk::WebViewExt;

    let window = view.window()?;
    let (mut x, mut y) = match (event.window(), event.coords()) {
        (Some(own), Some(at)) if own == window => at,
        _ => {
            let (root_x, root_y) = event.root_coords()?;
            let (_, origin_x, origin_y) = window.origin();
            (root_x - f64::from(origin_x), root_y - f64::from(origin_y))
        }
    };
    if !view.has_window() {
        let area = view.allocation();
        x -= f64::from(area.x());
        y -= f64::from(area.y());
    }
    let zoom = view.zoom_level();
    let zoom = if zoom.is_finite() && zoom > 0.0 {
        zoom
    } else {
        1.0
    };
    Some((x / zoom, y / zoom))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: (f64, f64) = (10.0, 20.0);

    #[test]
    fn only_a_pens_events_with_a_place_and_pressure_are_sent() {
        let mut filter = PenFilter::default();
        assert_eq!(filter.sample(Source::Other, AT, Some(0.7), true, 1), None);
        assert_eq!(filter.sample(Source::Pen, AT, None, true, 1), None);
        assert_eq!(
            filter.sample(Source::Pen, AT, Some(f64::NAN), true, 1),
            None
        );
        assert_eq!(
            filter.sample(Source::Pen, (f64::INFINITY, 0.0), Some(0.5), true, 1),
            None
        );
        let first = filter.sample(Source::Pen, AT, Some(0.25), true, 7);
        assert_eq!(
            first,
            Some(PenSample {
                x: 10.0,
                y: 20.0,
                pressure: 0.25,
                contact: true,
                eraser: false,
                mouse: false,
                time: 7,
            })
        );
    }

    #[test]
    fn every_move_while_touching_is_sent_and_hovering_only_when_it_changes() {
        let mut filter = PenFilter::default();
        assert!(
            filter
                .sample(Source::Pen, AT, Some(0.0), false, 1)
                .is_some()
        );
        // Hovering elsewhere at no pressure: nothing new for the page.
        assert_eq!(
            filter.sample(Source::Pen, (50.0, 60.0), Some(0.0), false, 2),
            None
        );
        // The tip touches, then moves: each is sent.
        let down = filter
            .sample(Source::Pen, AT, Some(0.0), true, 3)
            .expect("a sample");
        assert!(down.contact);
        let moved = filter
            .sample(Source::Pen, (11.0, 20.0), Some(0.0), true, 4)
            .expect("a sample");
        assert_eq!((moved.x, moved.y), (11.0, 20.0));
        // The same place and less than a pressure step: the same sample.
        assert_eq!(
            filter.sample(Source::Pen, (11.0, 20.0), Some(0.0004), true, 5),
            None
        );
        let harder = filter
            .sample(Source::Pen, (11.0, 20.0), Some(0.5), true, 6)
            .expect("a sample");
        assert_eq!(harder.pressure, 0.5);
        // Out of range is clamped; the eraser end is told apart; the lift is sent.
        let most = filter
            .sample(Source::Pen, (12.0, 20.0), Some(3.0), true, 7)
            .expect("a sample");
        assert_eq!(most.pressure, 1.0);
        let eraser = filter
            .sample(Source::Eraser, (12.0, 20.0), Some(1.0), true, 8)
            .expect("a sample");
        assert!(eraser.eraser);
        let lifted = filter
            .sample(Source::Eraser, (12.0, 20.0), Some(0.0), false, 9)
            .expect("a sample");
        assert!(!lifted.contact);
    }

    #[test]
    fn the_script_dispatches_the_sample_as_json() {
        let text = script(&PenSample {
            x: 1.5,
            y: 2.0,
            pressure: 0.625,
            contact: true,
            eraser: false,
            mouse: false,
            time: 42,
        });
        assert_eq!(
            text,
            "window.dispatchEvent(new CustomEvent('classroom-pen',{detail:\
             {\"x\":1.5,\"y\":2.0,\"pressure\":0.625,\"contact\":true,\"eraser\":false,\
             \"mouse\":false,\"time\":42}}));"
        );
    }

    #[test]
    fn a_mouse_is_sent_only_while_its_button_is_down_at_half_pressure() {
        let mut filter = PenFilter::default();
        // Hovering: nothing, whatever the device says of pressure.
        assert_eq!(filter.sample(Source::Mouse, AT, None, false, 1), None);
        assert_eq!(
            filter.sample(Source::Mouse, (30.0, 20.0), Some(1.0), false, 2),
            None
        );
        let pressed = filter
            .sample(Source::Mouse, AT, None, true, 3)
            .expect("the press");
        assert_eq!(
            (pressed.pressure, pressed.mouse, pressed.eraser),
            (0.5, true, false)
        );
        let dragged = filter
            .sample(Source::Mouse, (11.0, 20.0), Some(1.0), true, 4)
            .expect("a move while pressed");
        assert_eq!(dragged.pressure, 0.5);
        assert_eq!(
            filter.sample(Source::Mouse, (11.0, 20.0), None, true, 5),
            None
        );
        // Let go: sent once; hovering after it is not.
        let released = filter
            .sample(Source::Mouse, (11.0, 20.0), None, false, 6)
            .expect("the release");
        assert!(!released.contact);
        assert_eq!(
            filter.sample(Source::Mouse, (40.0, 20.0), None, false, 7),
            None
        );
        // A pen after the mouse is sent as a pen.
        let pen = filter
            .sample(Source::Pen, AT, Some(0.3), true, 8)
            .expect("the pen");
        assert!(!pen.mouse);
    }
}
