//! A Wayland connection relay that stands in for the DMA-BUF half of wlr-screencopy on
//! machines without a GPU.
//!
//! Why: xdg-desktop-portal-wlr 0.7 refuses to start a screen cast unless the compositor
//! offers each screencopy frame as a DMA-BUF as well as in shared memory
//! (`start_screencast`: "unable to receive a valid format from wlr_screencopy"; upstream
//! emersion/xdg-desktop-portal-wlr#289). wlroots' software renderer (pixman, the only one
//! without a GPU) cannot export DMA-BUFs, so on such machines — CI, this one — the portal
//! fails every `Start`. The check is only a gate: the portal then negotiates PipeWire buffers
//! with the consumer, and pipewiresrc (without DMA-BUF caps) takes shared memory, which the
//! portal fills with real screencopy frames.
//!
//! So between the portal and sway this relay passes every byte and file descriptor through
//! and adds one event: before each frame's `buffer_done` it announces `linux_dmabuf` with the
//! shared-memory format and size, which is what a GPU compositor would have said. Nothing
//! else changes; the pixels come from sway through shared memory.

use std::collections::{HashMap, HashSet};
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, recvmsg, sendmsg,
};

const SCREENCOPY_MANAGER: &str = "zwlr_screencopy_manager_v1";
/// Opcodes (wayland.xml, wlr-screencopy-unstable-v1.xml).
const DISPLAY_GET_REGISTRY: u16 = 1;
const DISPLAY_DELETE_ID: u16 = 1;
const REGISTRY_BIND: u16 = 0;
const MANAGER_CAPTURE_OUTPUT: u16 = 0;
const MANAGER_CAPTURE_OUTPUT_REGION: u16 = 1;
const FRAME_DESTROY: u16 = 1;
const FRAME_BUFFER: u16 = 0;
const FRAME_LINUX_DMABUF: u16 = 5;
const FRAME_BUFFER_DONE: u16 = 6;
/// libwayland sends at most 28 descriptors per message.
const MAX_FDS: usize = 28;

/// What one screencopy frame announced so far.
#[derive(Default)]
struct Frame {
    /// (DRM fourcc, width, height) of its shared-memory buffer.
    shm: Option<(u32, u32, u32)>,
    /// The compositor announced a DMA-BUF itself.
    dmabuf: bool,
}

/// Objects of one connection that the relay follows.
#[derive(Default)]
struct Objects {
    registries: HashSet<u32>,
    managers: HashSet<u32>,
    frames: HashMap<u32, Frame>,
}

/// The relay; stops accepting when dropped (open connections end with their peers).
pub struct DmabufShim {
    path: PathBuf,
    stop: Arc<AtomicBool>,
}

impl DmabufShim {
    /// Listens on `listen` and relays each connection to the compositor socket `upstream`.
    pub fn start(upstream: &Path, listen: &Path) -> io::Result<Self> {
        let listener = UnixListener::bind(listen)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (upstream, halt) = (upstream.to_owned(), stop.clone());
        std::thread::Builder::new()
            .name("wayland-shim".into())
            .spawn(move || {
                for client in listener.incoming() {
                    if halt.load(Ordering::Relaxed) {
                        return;
                    }
                    let Ok(client) = client else { continue };
                    if let Err(e) = relay(client, &upstream) {
                        eprintln!("wayland shim: {e}");
                    }
                }
            })?;
        Ok(DmabufShim {
            path: listen.to_owned(),
            stop,
        })
    }
}

impl Drop for DmabufShim {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accept loop so it sees the flag.
        let _ = UnixStream::connect(&self.path);
    }
}

fn relay(client: UnixStream, upstream: &Path) -> io::Result<()> {
    let server = UnixStream::connect(upstream)?;
    let objects = Arc::new(Mutex::new(Objects::default()));
    let (c, s, o) = (client.try_clone()?, server.try_clone()?, objects.clone());
    std::thread::Builder::new()
        .name("wayland-shim-requests".into())
        .spawn(move || pump(&c, &s, &o, Direction::Requests))?;
    std::thread::Builder::new()
        .name("wayland-shim-events".into())
        .spawn(move || pump(&server, &client, &objects, Direction::Events))?;
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Direction {
    /// Client (the portal) to compositor.
    Requests,
    /// Compositor to client.
    Events,
}

/// Relays `from` to `to` message by message. Descriptors received with bytes that complete no
/// message are held until bytes go out: a stream socket sends no descriptors without at least
/// a byte (`sendmsg` of nothing carries nothing), and a peer's write that the full socket cut
/// short arrives as half a message with its descriptors. Dropped, they were the shared-memory
/// pool a screencopy frame is copied into: the portal never got a frame (seen under load as a
/// share whose first frame never came).
fn pump(from: &UnixStream, to: &UnixStream, objects: &Mutex<Objects>, dir: Direction) {
    let mut pending: Vec<u8> = Vec::new();
    let mut held_fds: Vec<OwnedFd> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match receive(from, &mut buf) {
            Ok((n, fds)) if n > 0 => {
                held_fds.extend(fds);
                n
            }
            _ => break,
        };
        pending.extend_from_slice(&buf[..n]);
        let out = {
            let mut objects = objects.lock().unwrap_or_else(|p| p.into_inner());
            take_messages(&mut pending, &mut objects, dir)
        };
        if out.is_empty() {
            continue;
        }
        // At most MAX_FDS a call, as libwayland sends them; the rest with the next bytes.
        let fds: Vec<OwnedFd> = held_fds.drain(..held_fds.len().min(MAX_FDS)).collect();
        if send_all(to, &out, &fds).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// Reads what `from` has into `buf`: how many bytes, and the descriptors that came with them.
fn receive(from: &UnixStream, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = recvmsg(
        from,
        &mut [IoSliceMut::new(buf)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    let fds = control
        .drain()
        .flat_map(|m| match m {
            RecvAncillaryMessage::ScmRights(fds) => fds.collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect();
    Ok((got.bytes, fds))
}

/// Sends `bytes` (not empty: see [`pump`]) with `fds` on the first chunk.
fn send_all(to: &UnixStream, mut bytes: &[u8], fds: &[OwnedFd]) -> io::Result<()> {
    let borrowed: Vec<_> = fds.iter().map(|f| f.as_fd()).collect();
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !borrowed.is_empty() && !control.push(SendAncillaryMessage::ScmRights(&borrowed)) {
        return Err(io::Error::other("too many file descriptors"));
    }
    // The descriptors go with the first chunk: the receiver queues them apart from the bytes
    // and takes them in order, so they only must not arrive after the message that uses them.
    let mut first = true;
    while !bytes.is_empty() {
        let sent = if first {
            sendmsg(
                to,
                &[IoSlice::new(bytes)],
                &mut control,
                SendFlags::NOSIGNAL,
            )?
        } else {
            sendmsg(
                to,
                &[IoSlice::new(bytes)],
                &mut SendAncillaryBuffer::default(),
                SendFlags::NOSIGNAL,
            )?
        };
        first = false;
        bytes = &bytes[sent..];
    }
    Ok(())
}

fn u32_at(msg: &[u8], at: usize) -> Option<u32> {
    msg.get(at..at + 4)
        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// A wire string at `at`: its text and the offset after its padding.
fn string_at(msg: &[u8], at: usize) -> Option<(&str, usize)> {
    let len = u32_at(msg, at)? as usize;
    let text = msg.get(at + 4..at + 4 + len.checked_sub(1)?)?;
    Some((
        std::str::from_utf8(text).ok()?,
        at + 4 + len.div_ceil(4) * 4,
    ))
}

/// wl_shm formats are DRM fourccs except the two oldest.
fn drm_fourcc(shm_format: u32) -> u32 {
    match shm_format {
        0 => u32::from_le_bytes(*b"AR24"),
        1 => u32::from_le_bytes(*b"XR24"),
        other => other,
    }
}

/// Moves every complete message out of `pending`, following the objects and adding the
/// DMA-BUF announcement where it belongs.
fn take_messages(pending: &mut Vec<u8>, objects: &mut Objects, dir: Direction) -> Vec<u8> {
    let mut out = Vec::with_capacity(pending.len() + 20);
    let mut at = 0;
    while let (Some(object), Some(word)) = (u32_at(pending, at), u32_at(pending, at + 4)) {
        let (size, opcode) = ((word >> 16) as usize, (word & 0xffff) as u16);
        if size < 8 || pending.len() < at + size {
            break;
        }
        let msg = &pending[at..at + size];
        match dir {
            Direction::Requests => follow_request(objects, object, opcode, msg),
            Direction::Events => {
                if let Some(extra) = follow_event(objects, object, opcode, msg) {
                    out.extend_from_slice(&extra);
                }
            }
        }
        out.extend_from_slice(msg);
        at += size;
    }
    pending.drain(..at);
    out
}

fn follow_request(objects: &mut Objects, object: u32, opcode: u16, msg: &[u8]) {
    if object == 1 && opcode == DISPLAY_GET_REGISTRY {
        if let Some(id) = u32_at(msg, 8) {
            objects.registries.insert(id);
        }
    } else if objects.registries.contains(&object) && opcode == REGISTRY_BIND {
        // bind(name, new_id as interface string, version, id)
        if let Some((interface, next)) = string_at(msg, 12)
            && interface == SCREENCOPY_MANAGER
            && let Some(id) = u32_at(msg, next + 4)
        {
            objects.managers.insert(id);
        }
    } else if objects.managers.contains(&object)
        && (opcode == MANAGER_CAPTURE_OUTPUT || opcode == MANAGER_CAPTURE_OUTPUT_REGION)
    {
        if let Some(frame) = u32_at(msg, 8) {
            objects.frames.insert(frame, Frame::default());
        }
    } else if opcode == FRAME_DESTROY {
        objects.frames.remove(&object);
    }
}

/// The event to send before this one, if any.
fn follow_event(objects: &mut Objects, object: u32, opcode: u16, msg: &[u8]) -> Option<Vec<u8>> {
    if object == 1 && opcode == DISPLAY_DELETE_ID {
        let id = u32_at(msg, 8)?;
        objects.registries.remove(&id);
        objects.managers.remove(&id);
        objects.frames.remove(&id);
        return None;
    }
    let frame = objects.frames.get_mut(&object)?;
    match opcode {
        FRAME_BUFFER => {
            let (format, width, height) = (u32_at(msg, 8)?, u32_at(msg, 12)?, u32_at(msg, 16)?);
            frame.shm = Some((drm_fourcc(format), width, height));
            None
        }
        FRAME_LINUX_DMABUF => {
            frame.dmabuf = true;
            None
        }
        FRAME_BUFFER_DONE if !frame.dmabuf => {
            let (format, width, height) = frame.shm?;
            let mut event = Vec::with_capacity(20);
            for word in [
                object,
                (20 << 16) | u32::from(FRAME_LINUX_DMABUF),
                format,
                width,
                height,
            ] {
                event.extend_from_slice(&word.to_ne_bytes());
            }
            Some(event)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(object: u32, opcode: u16, args: &[u32]) -> Vec<u8> {
        let size = 8 + 4 * args.len() as u32;
        let mut m = Vec::new();
        for w in [object, (size << 16) | u32::from(opcode)]
            .iter()
            .chain(args)
        {
            m.extend_from_slice(&w.to_ne_bytes());
        }
        m
    }

    fn wire_string(s: &str) -> Vec<u32> {
        let mut bytes = s.as_bytes().to_vec();
        bytes.push(0);
        let len = bytes.len() as u32;
        bytes.resize(bytes.len().div_ceil(4) * 4, 0);
        std::iter::once(len)
            .chain(
                bytes
                    .chunks(4)
                    .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]])),
            )
            .collect()
    }

    #[test]
    fn a_dmabuf_announcement_precedes_each_frames_buffer_done() {
        let mut objects = Objects::default();
        let mut requests = message(1, DISPLAY_GET_REGISTRY, &[2]);
        let mut bind = vec![7];
        bind.extend(wire_string(SCREENCOPY_MANAGER));
        bind.extend([3, 9]);
        requests.extend(message(2, REGISTRY_BIND, &bind));
        requests.extend(message(9, MANAGER_CAPTURE_OUTPUT, &[12, 1, 5]));
        // Half a message stays pending until the rest arrives.
        let split = requests.len() - 3;
        let mut pending = requests[..split].to_vec();
        let out = take_messages(&mut pending, &mut objects, Direction::Requests);
        assert_eq!(out, requests[..split - 17]);
        pending.extend_from_slice(&requests[split..]);
        let rest = take_messages(&mut pending, &mut objects, Direction::Requests);
        assert_eq!([out, rest].concat(), requests, "requests pass unchanged");
        assert!(pending.is_empty());

        let buffer = message(12, FRAME_BUFFER, &[1, 640, 480, 2560]);
        let done = message(12, FRAME_BUFFER_DONE, &[]);
        let mut events = [buffer.clone(), done.clone()].concat();
        let out = take_messages(&mut events, &mut objects, Direction::Events);
        let announced = message(
            12,
            FRAME_LINUX_DMABUF,
            &[u32::from_le_bytes(*b"XR24"), 640, 480],
        );
        assert_eq!(out, [buffer.clone(), announced, done.clone()].concat());

        // A compositor that announces DMA-BUFs itself is left alone; so are other objects.
        let own = message(12, FRAME_LINUX_DMABUF, &[7, 640, 480]);
        let mut events = [buffer.clone(), own, done.clone()].concat();
        let expected = events.clone();
        assert_eq!(
            take_messages(&mut events, &mut objects, Direction::Events),
            expected
        );
        let mut other = message(13, FRAME_BUFFER_DONE, &[]);
        let expected = other.clone();
        assert_eq!(
            take_messages(&mut other, &mut objects, Direction::Events),
            expected
        );
    }

    #[test]
    fn a_descriptor_sent_with_half_a_message_reaches_the_other_side() {
        let (client, relay_in) = UnixStream::pair().expect("pair");
        let (relay_out, server) = UnixStream::pair().expect("pair");
        let objects = Arc::new(Mutex::new(Objects::default()));
        let pumping = std::thread::spawn(move || {
            pump(&relay_in, &relay_out, &objects, Direction::Requests);
        });
        // wl_shm.create_pool(new id, fd, size): the fd travels beside the bytes. The client's
        // write is cut after 5 bytes, as a full socket cuts a non-blocking write.
        let pool = message(4, 0, &[20, 4096]);
        let file = std::fs::File::open("/dev/null").expect("/dev/null");
        let fds = [file.as_fd()];
        let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        assert!(control.push(SendAncillaryMessage::ScmRights(&fds)));
        sendmsg(
            &client,
            &[IoSlice::new(&pool[..5])],
            &mut control,
            SendFlags::empty(),
        )
        .expect("first part");
        // The relay has read the half by now; the rest follows.
        std::thread::sleep(std::time::Duration::from_millis(50));
        send_all(&client, &pool[5..], &[]).expect("rest");
        let mut bytes = vec![0u8; 4096];
        let (n, fds) = receive(&server, &mut bytes).expect("recvmsg");
        assert_eq!(bytes[..n], pool, "the message whole");
        assert_eq!(fds.len(), 1, "with its descriptor");
        drop(client);
        pumping.join().expect("pump");
    }
}
