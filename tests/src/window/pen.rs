//! A graphics tablet's pen on a real X server, driven through X's `inputtest` input driver
//! (xserver-xorg-core; its protocol is `xf86-input-inputtest-protocol.h`, version 1.1): the
//! test writes events to the driver's socket and X delivers them as a pen's, with pressure,
//! to whatever window is under it. The pen's eraser end is a second device of its own, as a
//! tablet's is, and a mouse a third (the same driver without a pressure axis).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

/// The driver's axes: X and Y 0..=0xffff across the screen, pressure 0..=1000 (axis 4).
const AXIS_MAX: f64 = 65535.0;
const PRESSURE_MAX: f64 = 1000.0;
/// `XF86IT_MAX_VALUATORS`.
const VALUATORS: usize = 64;

// Event and response types (`enum xf86ITEventType`, `enum xf86ITResponseType`).
const EVENT_CLIENT_VERSION: i32 = 0;
const EVENT_WAIT_FOR_SYNC: i32 = 1;
const EVENT_MOTION: i32 = 2;
const EVENT_BUTTON: i32 = 4;
const RESPONSE_SERVER_VERSION: i32 = 0;
const RESPONSE_SYNC_FINISHED: i32 = 1;

/// The X server's pointing devices: a tablet's pen, its tip and its eraser end (GTK takes a
/// device named "... pen" for a pen and "... eraser" for a pen's eraser end), and a mouse.
pub struct Pointers {
    /// The pen's tip.
    pub pen: Pen,
    /// The pen's eraser end.
    pub eraser: Pen,
    /// A mouse: no pressure axis, its left button as the "tip".
    pub mouse: Pen,
}

/// The X server's configuration: the dummy video driver at `width`x`height`, the pen whose
/// driver listens on `pen`, its eraser end listening on `eraser` and a mouse on `mouse`. No
/// hot-plugged devices, so these are the only ones besides X's own test devices (which
/// WebDriver does not need here).
pub fn xorg_pen_config(width: u32, height: u32, pen: &Path, eraser: &Path, mouse: &Path) -> String {
    format!(
        r#"Section "ServerFlags"
  Option "AutoAddDevices" "false"
  Option "DontVTSwitch" "true"
EndSection
Section "Device"
  Identifier "video"
  Driver "dummy"
  VideoRam 65536
EndSection
Section "Monitor"
  Identifier "monitor"
  HorizSync 5.0 - 1000.0
  VertRefresh 5.0 - 200.0
EndSection
Section "Screen"
  Identifier "screen"
  Device "video"
  Monitor "monitor"
  DefaultDepth 24
  SubSection "Display"
    Depth 24
    Virtual {width} {height}
    Modes "{width}x{height}"
  EndSubSection
EndSection
Section "InputDevice"
  Identifier "Test pen"
  Driver "inputtest"
  Option "SocketPath" "{pen}"
  Option "DeviceType" "PointerAbsolute"
  Option "PointerHasPressure" "true"
EndSection
Section "InputDevice"
  Identifier "Test eraser"
  Driver "inputtest"
  Option "SocketPath" "{eraser}"
  Option "DeviceType" "PointerAbsolute"
  Option "PointerHasPressure" "true"
EndSection
Section "InputDevice"
  Identifier "Test mouse"
  Driver "inputtest"
  Option "SocketPath" "{mouse}"
  Option "DeviceType" "PointerAbsolute"
EndSection
Section "ServerLayout"
  Identifier "layout"
  Screen "screen"
  InputDevice "Test pen" "SendCoreEvents"
  InputDevice "Test eraser" "SendCoreEvents"
  InputDevice "Test mouse" "SendCoreEvents"
EndSection
"#,
        pen = pen.display(),
        eraser = eraser.display(),
        mouse = mouse.display()
    )
}

/// A pointing device (a pen's tip or eraser end, or a mouse): one connection to its driver
/// for the server's life (the driver takes a single client and does not listen again once it
/// has gone).
pub struct Pen {
    stream: UnixStream,
    screen: (u32, u32),
    /// Whether the device has a pressure axis (a mouse has none).
    pressure: bool,
}

impl Pen {
    /// Connects to the driver at `socket` (waiting for the server to create it) and agrees on
    /// the protocol's version; `pressure`: whether the device has a pressure axis.
    pub fn connect(socket: &Path, screen: (u32, u32), pressure: bool) -> Result<Self> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let stream = loop {
            match UnixStream::connect(socket) {
                Ok(stream) => break stream,
                Err(e) if Instant::now() > deadline => {
                    return Err(e).with_context(|| format!("connect to {}", socket.display()));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut pen = Self {
            stream,
            screen,
            pressure,
        };
        let mut hello = header(12, EVENT_CLIENT_VERSION);
        hello.extend_from_slice(&1u16.to_ne_bytes());
        hello.extend_from_slice(&1u16.to_ne_bytes());
        pen.stream
            .write_all(&hello)
            .context("send the pen's client version")?;
        let reply = pen.read_response(12).context("the pen driver's version")?;
        ensure!(
            reply.0 == RESPONSE_SERVER_VERSION,
            "the pen driver answered {} to the version",
            reply.0
        );
        Ok(pen)
    }

    /// The screen's size in pixels, as the device's axes span it.
    pub fn screen(&self) -> (u32, u32) {
        self.screen
    }

    /// Moves the pen to screen pixel `(x, y)` at `pressure` (0..1; 0 while hovering; a mouse
    /// ignores it).
    pub fn move_to(&mut self, x: f64, y: f64, pressure: f64) -> Result<()> {
        let mut event = header(16 + valuator_size(), EVENT_MOTION);
        event.extend_from_slice(&1u32.to_ne_bytes()); // absolute
        event.extend_from_slice(&[0; 4]); // padding before the valuators' doubles
        event.extend_from_slice(&self.valuators(x, y, pressure));
        self.stream
            .write_all(&event)
            .context("send the pen's motion")
    }

    /// Puts the tip down (`down`) or lifts it at screen pixel `(x, y)` with `pressure` (a
    /// mouse's left button).
    pub fn tip(&mut self, down: bool, x: f64, y: f64, pressure: f64) -> Result<()> {
        let mut event = header(24 + valuator_size(), EVENT_BUTTON);
        event.extend_from_slice(&1i32.to_ne_bytes()); // absolute
        event.extend_from_slice(&1i32.to_ne_bytes()); // button 1: the tip
        event.extend_from_slice(&u32::from(down).to_ne_bytes());
        event.extend_from_slice(&[0; 4]);
        event.extend_from_slice(&self.valuators(x, y, pressure));
        self.stream.write_all(&event).context("send the pen's tip")
    }

    /// Waits until the X server has handled every event sent so far.
    pub fn sync(&mut self) -> Result<()> {
        self.stream
            .write_all(&header(8, EVENT_WAIT_FOR_SYNC))
            .context("ask the pen driver to sync")?;
        let (kind, _) = self.read_response(8).context("the pen driver's sync")?;
        if kind != RESPONSE_SYNC_FINISHED {
            bail!("the pen driver answered {kind} to a sync");
        }
        Ok(())
    }

    /// `xf86ITValuatorData` with X, Y and pressure set.
    fn valuators(&self, x: f64, y: f64, pressure: f64) -> Vec<u8> {
        let mut values = [0f64; VALUATORS];
        values[0] = (x / f64::from(self.screen.0.max(2) - 1) * AXIS_MAX).clamp(0.0, AXIS_MAX);
        values[1] = (y / f64::from(self.screen.1.max(2) - 1) * AXIS_MAX).clamp(0.0, AXIS_MAX);
        values[4] = (pressure.clamp(0.0, 1.0) * PRESSURE_MAX).round();
        let mut data = Vec::with_capacity(valuator_size());
        data.extend_from_slice(&0u32.to_ne_bytes()); // no unaccelerated values
        let mut mask = [0u8; VALUATORS / 8];
        // Axes 0 and 1, and 4 where the device has it.
        mask[0] = if self.pressure { 0b1_0011 } else { 0b11 };
        data.extend_from_slice(&mask);
        data.extend_from_slice(&[0; 4]); // padding to the doubles
        for v in values {
            data.extend_from_slice(&v.to_ne_bytes());
        }
        data.extend_from_slice(&[0; VALUATORS * 8]); // unaccelerated, unused
        data
    }

    /// Reads one response of `length` bytes: its type and the bytes after the header.
    fn read_response(&mut self, length: usize) -> Result<(i32, Vec<u8>)> {
        let mut reply = vec![0u8; length];
        self.stream.read_exact(&mut reply)?;
        let said = u32::from_ne_bytes(reply[0..4].try_into()?) as usize;
        ensure!(
            said == length,
            "a response of {said} bytes where {length} were due"
        );
        let kind = i32::from_ne_bytes(reply[4..8].try_into()?);
        Ok((kind, reply[8..].to_vec()))
    }
}

/// `xf86ITValuatorData`'s size: a u32, the 8-byte mask, padding to 8, 2 x 64 doubles.
const fn valuator_size() -> usize {
    4 + VALUATORS / 8 + 4 + 2 * VALUATORS * 8
}

/// An event's header: its whole length and its type.
fn header(length: usize, kind: i32) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(length);
    bytes.extend_from_slice(&(length as u32).to_ne_bytes());
    bytes.extend_from_slice(&kind.to_ne_bytes());
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_have_the_sizes_of_the_drivers_structs() {
        // sizeof(xf86ITEventMotion) and sizeof(xf86ITEventButton) on x86_64 and aarch64.
        assert_eq!(valuator_size(), 1040);
        assert_eq!(16 + valuator_size(), 1056);
        assert_eq!(24 + valuator_size(), 1064);
    }
}
