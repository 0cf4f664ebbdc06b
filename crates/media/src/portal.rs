//! Screen sharing on Wayland through the desktop portal.
//!
//! A Wayland app cannot read the screen. It asks `xdg-desktop-portal`'s ScreenCast interface
//! (CreateSession, SelectSources, Start, OpenPipeWireRemote); the desktop shows its own dialog
//! where the person picks a screen or a window (or cancels), and the answer is a PipeWire node
//! plus a file descriptor to a PipeWire connection that may see only that node. GStreamer's
//! `pipewiresrc fd=… path=<node>` captures it ([`crate::VideoInput::Portal`]).
//!
//! The session lives in a task on the caller's tokio runtime (zbus runs on it: no second
//! runtime). It ends when the last clone of the [`PortalStream`] is dropped (the portal is told,
//! so the desktop's "sharing" indicator goes away) or when the desktop ends it — the person
//! pressed "stop sharing", the output went away — which [`PortalStream::on_closed`] reports,
//! so the screen track fails over like an unplugged camera.

use std::fmt;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ashpd::desktop::screencast::{
    CursorMode, Screencast, SelectSourcesOptions, SourceType, Stream,
};
use ashpd::desktop::{PersistMode, ResponseError, Session};
use ashpd::enumflags2::BitFlags;
use futures_util::StreamExt;
use gstreamer as gst;
use gstreamer::prelude::*;
use tokio::sync::oneshot;
use tracing::{info, warn};

use crate::MediaError;

/// What the person may pick in the portal's dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ShareChoice {
    /// A whole screen (monitor).
    Screen,
    /// One window.
    Window,
    /// Either; the dialog offers both where the desktop can share both.
    #[default]
    ScreenOrWindow,
}

/// How to ask the portal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortalRequest {
    /// What the dialog offers.
    pub choice: ShareChoice,
    /// The D-Bus address of the session bus the portal is on; `None` for this session's bus
    /// (`DBUS_SESSION_BUS_ADDRESS`). Tests run a private desktop with a bus of its own.
    pub bus_address: Option<String>,
}

/// Why the session ended, for people.
const STOPPED: &str = "screen sharing was stopped from the desktop";

type ClosedCallback = Box<dyn FnOnce(&str) + Send>;

enum Watch {
    Open(Vec<ClosedCallback>),
    Closed(String),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Inner {
    fd: OwnedFd,
    node_id: u32,
    size: Option<(u32, u32)>,
    watch: Arc<Mutex<Watch>>,
    /// Dropped with the last clone: the session task then closes the portal session.
    _stop: oneshot::Sender<()>,
}

/// A running portal screen cast: the PipeWire node the person chose and a connection that can
/// see it. Clones share one session; it is closed when the last clone is dropped.
#[derive(Clone)]
pub struct PortalStream {
    inner: Arc<Inner>,
}

impl PartialEq for PortalStream {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl fmt::Debug for PortalStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortalStream")
            .field("node_id", &self.inner.node_id)
            .field("size", &self.inner.size)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl PortalStream {
    /// The PipeWire node to capture.
    pub fn node_id(&self) -> u32 {
        self.inner.node_id
    }

    /// The shared surface's size in pixels, when the portal says.
    pub fn size(&self) -> Option<(u32, u32)> {
        self.inner.size
    }

    /// Tells this share from others without holding it (the same while any clone lives).
    pub(crate) fn key(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// True once the desktop has ended the session.
    pub fn is_closed(&self) -> bool {
        matches!(*lock(&self.inner.watch), Watch::Closed(_))
    }

    /// Calls `f` (with the reason, for people) when the desktop ends the session: at once if it
    /// already has. Runs on a thread of its own, so `f` may block and take locks.
    pub fn on_closed(&self, f: impl FnOnce(&str) + Send + 'static) {
        let mut watch = lock(&self.inner.watch);
        match &mut *watch {
            Watch::Open(callbacks) => callbacks.push(Box::new(f)),
            Watch::Closed(reason) => {
                let reason = reason.clone();
                drop(watch);
                run_callbacks(vec![Box::new(f)], reason);
            }
        }
    }

    /// The capture's gst-launch description, scaled and converted by the caller. The
    /// PipeWire connection is this stream's file descriptor, which pipewiresrc duplicates, so
    /// the stream must outlive the element (the input keeps it). `keepalive_ms` repeats the
    /// last frame while the screen is still: compositors send frames only on change, and an
    /// encoder with no input cannot answer a new student's keyframe request.
    pub(crate) fn describe(&self, keepalive_ms: u32) -> String {
        format!(
            "pipewiresrc fd={} path={} always-copy=true keepalive-time={keepalive_ms}",
            self.inner.fd.as_raw_fd(),
            self.inner.node_id
        )
    }

    /// The screen track's `(width, height, fps)` for this stream: its own size when it fits in
    /// `max`, else scaled down into `max` keeping its shape (even sizes, as encoders want).
    /// `max` when the size is unknown.
    pub fn fitting_mode(&self, max: (u32, u32), fps: u32) -> (u32, u32, u32) {
        let (w, h) = fit(self.inner.size, max);
        (w, h, fps)
    }
}

/// When frames leave a portal capture's pipewiresrc (keepalive repeats included).
pub(crate) struct CaptureActivity {
    started: Instant,
    /// Milliseconds after `started` of the latest frame, plus one; 0 before the first.
    last: AtomicU64,
}

impl CaptureActivity {
    /// How long since the latest frame; `None` before the first.
    pub(crate) fn quiet_for(&self) -> Option<Duration> {
        match self.last.load(Ordering::Relaxed) {
            0 => None,
            at => Some(
                self.started
                    .elapsed()
                    .saturating_sub(Duration::from_millis(at - 1)),
            ),
        }
    }

    /// How long since the capture was set up.
    pub(crate) fn since_start(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Prepares the pipewiresrc inside a portal input `bin`: every frame is stamped with the
/// pipeline's running time as it leaves, and noted. pipewiresrc 0.3.65 stamps stream frames
/// with PipeWire's clock (hours since boot) but its keepalive repeats with the pipeline's;
/// mixed, videorate filled the hours between them with copies and stalled the capture.
pub(crate) fn watch_capture(bin: &gst::Element) -> Option<Arc<CaptureActivity>> {
    let source = bin
        .downcast_ref::<gst::Bin>()?
        .iterate_recurse()
        .into_iter()
        .flatten()
        .find(|e| e.factory().is_some_and(|f| f.name() == "pipewiresrc"))?;
    let activity = Arc::new(CaptureActivity {
        started: Instant::now(),
        last: AtomicU64::new(0),
    });
    let (seen, element) = (activity.clone(), source.downgrade());
    source
        .static_pad("src")?
        .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            let now = element.upgrade().and_then(|e| e.current_running_time());
            if let Some(buffer) = info.buffer_mut() {
                let buffer = buffer.make_mut();
                buffer.set_pts(now);
                buffer.set_dts(now);
            }
            seen.last.store(
                seen.started.elapsed().as_millis() as u64 + 1,
                Ordering::Relaxed,
            );
            gst::PadProbeReturn::Ok
        });
    Some(activity)
}

/// `size` scaled down to fit in `max`, keeping its aspect; even numbers, at least 2x2.
pub fn fit(size: Option<(u32, u32)>, max: (u32, u32)) -> (u32, u32) {
    let Some((w, h)) = size.filter(|&(w, h)| w > 0 && h > 0) else {
        return max;
    };
    let scale = f64::min(
        1.0,
        f64::min(max.0 as f64 / w as f64, max.1 as f64 / h as f64),
    );
    let even = |v: f64| ((v.round() as u32) & !1).max(2);
    (even(w as f64 * scale), even(h as f64 * scale))
}

fn run_callbacks(callbacks: Vec<ClosedCallback>, reason: String) {
    if callbacks.is_empty() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("portal-closed".into())
        .spawn(move || {
            for f in callbacks {
                f(&reason);
            }
        });
    if let Err(e) = spawned {
        warn!("cannot report the end of the screen share: {e}");
    }
}

fn portal_error(step: &str, e: ashpd::Error) -> MediaError {
    match e {
        ashpd::Error::Response(ResponseError::Cancelled) => MediaError::ShareCancelled,
        ashpd::Error::PortalNotFound(_) => MediaError::Device(
            "no desktop portal with screen sharing is running (xdg-desktop-portal with a \
             ScreenCast backend: -gnome, -kde or -wlr)"
                .into(),
        ),
        e => MediaError::Device(format!("desktop portal ({step}): {e}")),
    }
}

/// What a successful start hands back to [`request_screen`].
struct Started {
    fd: OwnedFd,
    node_id: u32,
    size: Option<(u32, u32)>,
}

/// Asks the desktop to share a screen or window: the desktop's own dialog appears and this
/// waits until the person chooses (no time limit: the person decides). Cancelling is
/// [`MediaError::ShareCancelled`]; no portal, or one that fails, is [`MediaError::Device`].
/// Must be called within a tokio runtime, which then carries the session.
pub async fn request_screen(request: &PortalRequest) -> Result<PortalStream, MediaError> {
    let (result_tx, result_rx) = oneshot::channel();
    let (stop_tx, stop_rx) = oneshot::channel();
    let watch = Arc::new(Mutex::new(Watch::Open(Vec::new())));
    tokio::spawn(run_session(
        request.clone(),
        result_tx,
        stop_rx,
        watch.clone(),
    ));
    let started = result_rx
        .await
        .map_err(|_| MediaError::Device("the desktop portal session ended early".into()))??;
    info!(
        node = started.node_id,
        size = ?started.size,
        "screen shared through the desktop portal"
    );
    Ok(PortalStream {
        inner: Arc::new(Inner {
            fd: started.fd,
            node_id: started.node_id,
            size: started.size,
            watch,
            _stop: stop_tx,
        }),
    })
}

async fn connect(request: &PortalRequest) -> Result<Screencast, MediaError> {
    let bus_error = |e: ashpd::zbus::Error| MediaError::Device(format!("session bus: {e}"));
    let connection = match &request.bus_address {
        Some(address) => {
            ashpd::zbus::connection::Builder::address(address.as_str())
                .map_err(bus_error)?
                .build()
                .await
        }
        None => ashpd::zbus::Connection::session().await,
    }
    .map_err(bus_error)?;
    Screencast::with_connection(connection)
        .await
        .map_err(|e| portal_error("connect", e))
}

/// The portal session from start to end, on the runtime.
async fn run_session(
    request: PortalRequest,
    mut result_tx: oneshot::Sender<Result<Started, MediaError>>,
    stop_rx: oneshot::Receiver<()>,
    watch: Arc<Mutex<Watch>>,
) {
    let proxy = match connect(&request).await {
        Ok(p) => p,
        Err(e) => {
            let _ = result_tx.send(Err(e));
            return;
        }
    };
    let session = match proxy.create_session(Default::default()).await {
        Ok(s) => s,
        Err(e) => {
            let _ = result_tx.send(Err(portal_error("create session", e)));
            return;
        }
    };
    // Listen for the end before starting, so an early end is not missed.
    let closed = match session.receive_closed().await {
        Ok(stream) => Some(stream),
        Err(e) => {
            warn!("cannot watch the screen share's session: {e}");
            None
        }
    };
    let started = tokio::select! {
        r = start(&proxy, &session, request.choice) => r,
        // Nobody waits for the answer any more: take the dialog down.
        () = result_tx.closed() => Err(MediaError::ShareCancelled),
    };
    let ok = started.is_ok();
    if result_tx.send(started).is_err() || !ok {
        let _ = session.close().await;
        return;
    }
    let ended = async {
        match closed {
            Some(mut closed) => {
                closed.next().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = ended => {
            info!("{STOPPED}");
            let callbacks = match std::mem::replace(&mut *lock(&watch), Watch::Closed(STOPPED.into())) {
                Watch::Open(callbacks) => callbacks,
                Watch::Closed(_) => Vec::new(),
            };
            run_callbacks(callbacks, STOPPED.into());
        }
        _ = stop_rx => {
            if let Err(e) = session.close().await {
                warn!("closing the screen share's portal session: {e}");
            }
        }
    }
}

async fn start(
    proxy: &Screencast,
    session: &Session<Screencast>,
    choice: ShareChoice,
) -> Result<Started, MediaError> {
    let wanted: BitFlags<SourceType> = match choice {
        ShareChoice::Screen => SourceType::Monitor.into(),
        ShareChoice::Window => SourceType::Window.into(),
        ShareChoice::ScreenOrWindow => SourceType::Monitor | SourceType::Window,
    };
    let available = proxy
        .available_source_types()
        .await
        .map_err(|e| portal_error("source types", e))?;
    // Asking for a kind the desktop cannot share is an error from the portal; offer what it
    // has (xdg-desktop-portal-wlr 0.7 shares screens only).
    let types = wanted & available;
    if types.is_empty() {
        return Err(MediaError::Device(format!(
            "this desktop cannot share {} (it offers {available:?})",
            match choice {
                ShareChoice::Window => "a window",
                _ => "a screen",
            }
        )));
    }
    // The pointer is part of what a teacher shows; leave it out only where it cannot be in.
    let cursor = proxy
        .available_cursor_modes()
        .await
        .unwrap_or_else(|_| BitFlags::empty());
    let cursor = if cursor.contains(CursorMode::Embedded) {
        CursorMode::Embedded
    } else {
        CursorMode::Hidden
    };
    proxy
        .select_sources(
            session,
            SelectSourcesOptions::default()
                .set_cursor_mode(cursor)
                .set_sources(types)
                .set_multiple(false)
                .set_persist_mode(PersistMode::DoNot),
        )
        .await
        .and_then(|r| r.response())
        .map_err(|e| portal_error("select sources", e))?;
    let streams = proxy
        .start(session, None, Default::default())
        .await
        .and_then(|r| r.response())
        .map_err(|e| portal_error("start", e))?;
    let stream: &Stream = streams
        .streams()
        .first()
        .ok_or_else(|| MediaError::Device("the desktop portal shared nothing".into()))?;
    let fd = proxy
        .open_pipe_wire_remote(session, Default::default())
        .await
        .map_err(|e| portal_error("PipeWire remote", e))?;
    let size = stream
        .size()
        .and_then(|(w, h)| Some((u32::try_from(w).ok()?, u32::try_from(h).ok()?)));
    // `stream.source_type()` is not trusted: xdg-desktop-portal-wlr 0.7 reports its monitor
    // streams as windows (2), and nothing here depends on it.
    Ok(Started {
        fd,
        node_id: stream.pipe_wire_node_id(),
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_fit_the_track_keeping_their_shape() {
        let max = (1920, 1080);
        assert_eq!(fit(Some((1280, 720)), max), (1280, 720));
        assert_eq!(fit(Some((2560, 1440)), max), (1920, 1080));
        // A tall window: height limits, width follows, both even.
        assert_eq!(fit(Some((1001, 2000)), max), (540, 1080));
        assert_eq!(fit(Some((3840, 1200)), max), (1920, 600));
        assert_eq!(fit(None, max), max);
        assert_eq!(fit(Some((0, 10)), max), max);
        assert_eq!(fit(Some((1, 1)), max), (2, 2));
    }
}
