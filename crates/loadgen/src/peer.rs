//! One synthetic WebRTC peer: a str0m `Rtc` in RTP mode, its own UDP socket on loopback and
//! its signaling connection, all driven by one task. Publishers send the clip packet by packet
//! (so each packet's send time is known); subscribers record every RTP packet they get.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::socket::{MsgFlags, setsockopt, sockopt};

use str0m::format::Codec;
use str0m::media::{MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpPacket, RtpWrite, SeqNo, Ssrc};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::watch;

use crate::LoadError;
use crate::clip::{AudioClip, VideoClip, packet_key, packetize_vp8};
use crate::signal::Signaling;
use crate::stats::{Kind, Stats};

/// A str0m peer bound to a loopback UDP port.
pub struct Peer {
    /// The WebRTC state machine.
    pub rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    connected: bool,
}

impl Peer {
    /// A peer in RTP mode with one host candidate on `ip`; with `aes_cm`, its DTLS offers
    /// only AES128_CM_SHA1_80 for SRTP, as the app's GStreamer clients do.
    pub async fn bind(ip: std::net::IpAddr, aes_cm: bool) -> Result<Self, LoadError> {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
        let local = socket.local_addr()?;
        // The kernel stamps each datagram on arrival, so the delay measured is the server's
        // and the network's, not the time this busy thread took to get to the socket.
        setsockopt(&socket, sockopt::ReceiveTimestampns, &true).map_err(std::io::Error::from)?;
        // Room for a burst while the thread serves other peers (the kernel caps it at
        // net.core.rmem_max).
        let _ = setsockopt(&socket, sockopt::RcvBuf, &(1 << 20));
        let mut rtc = Rtc::builder()
            .set_rtp_mode(true)
            .set_crypto_provider(Arc::new(if aes_cm {
                classroom_sfu::crypto::aes_cm_client_provider()
            } else {
                classroom_sfu::crypto::provider()
            }))
            .build(Instant::now());
        let cand = Candidate::host(local, "udp").map_err(|e| LoadError::Rtc(e.to_string()))?;
        rtc.add_local_candidate(cand);
        Ok(Peer {
            rtc,
            socket,
            local,
            connected: false,
        })
    }

    /// Our host candidate as an SDP attribute value.
    pub fn candidate_sdp(&self) -> String {
        Candidate::host(self.local, "udp")
            .map(|c| c.to_sdp_string())
            .unwrap_or_default()
    }

    /// The payload type the remote agreed for `codec` on `mid`.
    pub fn pt_for(&self, mid: Mid, codec: Codec) -> Option<str0m::format::PayloadParams> {
        let media = self.rtc.media(mid)?;
        let cfg = self.rtc.codec_config();
        media
            .remote_pts()
            .iter()
            .find_map(|pt| {
                cfg.iter()
                    .find(|p| p.pt() == *pt && p.spec().codec == codec)
                    .copied()
            })
            .or_else(|| cfg.iter().find(|p| p.spec().codec == codec).copied())
    }
}

/// What the peer does with media.
pub enum Role {
    /// Sends the clip.
    Publisher(Box<Publisher>),
    /// Receives and records; index into [`Stats::subs`].
    Subscriber {
        /// Index of this subscriber in the stats.
        index: usize,
        /// Kind of each incoming SSRC, learnt from its mid.
        kinds: HashMap<Ssrc, Kind>,
    },
}

/// Publisher state: where in the clip, and the RTP numbering that continues across loops.
pub struct Publisher {
    video: Arc<VideoClip>,
    audio: Arc<AudioClip>,
    video_mid: Mid,
    audio_mid: Mid,
    video_pt: Option<str0m::media::Pt>,
    audio_pt: Option<str0m::media::Pt>,
    frame: u64,
    audio_packet: u64,
    video_seq: u64,
    audio_seq: u64,
    start: Option<Instant>,
    parts: Vec<Vec<u8>>,
}

impl Publisher {
    /// A publisher of `video` on `video_mid` and `audio` on `audio_mid`.
    pub fn new(
        video: Arc<VideoClip>,
        audio: Arc<AudioClip>,
        video_mid: Mid,
        audio_mid: Mid,
    ) -> Self {
        Publisher {
            video,
            audio,
            video_mid,
            audio_mid,
            video_pt: None,
            audio_pt: None,
            frame: 0,
            audio_packet: 0,
            video_seq: 1000,
            audio_seq: 5000,
            start: None,
            parts: Vec::new(),
        }
    }

    /// The mid of the video or audio m-line.
    pub fn mid(&self, kind: MediaKind) -> Mid {
        match kind {
            MediaKind::Video => self.video_mid,
            MediaKind::Audio => self.audio_mid,
        }
    }

    fn frame_interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.video.fps)
    }

    fn next_video(&self) -> Option<Instant> {
        self.start
            .map(|s| s + self.frame_interval().mul_f64(self.frame as f64))
    }

    fn next_audio(&self) -> Option<Instant> {
        self.start
            .map(|s| s + Duration::from_millis(20 * self.audio_packet))
    }
}

/// Runs `peer` until `stop` turns true, the signaling ends or the connection fails.
pub async fn run(
    mut peer: Peer,
    mut role: Role,
    mut sig: Signaling,
    stats: Arc<Mutex<Stats>>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), LoadError> {
    let mut buf = vec![0u8; 2048];
    // RTP/RTCP datagrams that reached the socket, to tell a server that sends nothing from
    // packets this side could not use.
    let mut rtp_datagrams = 0u64;
    loop {
        let timeout = drain(&mut peer, &mut role, &stats).await?;
        if !peer.rtc.is_alive() {
            return Err(LoadError::Rtc("peer connection closed".into()));
        }
        let mut deadline = timeout;
        if let Role::Publisher(p) = &role {
            for t in [p.next_video(), p.next_audio()].into_iter().flatten() {
                deadline = deadline.min(t);
            }
        }
        if let Some(t) = sig.next_timer() {
            deadline = deadline.min(t);
        }
        tokio::select! {
            r = recv_stamped(&peer.socket, &mut buf) => {
                match r {
                    Ok((n, source, now)) => {
                        if (128..=191).contains(&buf[0]) {
                            rtp_datagrams += 1;
                        }
                        if let Ok(contents) = buf[..n].try_into() {
                            let input = Input::Receive(now, Receive {
                                proto: Protocol::Udp,
                                source,
                                destination: peer.local,
                                contents,
                            });
                            if let Err(e) = peer.rtc.handle_input(input) {
                                tracing::debug!("input refused: {e}");
                            }
                        }
                    }
                    // ICMP port unreachable from a peer that went away.
                    Err(e) => tracing::debug!("udp receive: {e}"),
                }
            }
            msg = sig.recv() => {
                if !sig.handle(msg?, &mut peer).await? {
                    return Ok(());
                }
            }
            _ = tokio::time::sleep_until(deadline.into()) => {
                let now = Instant::now();
                peer.rtc.handle_input(Input::Timeout(now)).map_err(rtc_err)?;
                sig.on_timer(now).await?;
                if let Role::Publisher(p) = &mut role {
                    publish_due(&mut peer, p, &stats, now).await?;
                }
            }
            _ = stop.changed() => {
                if let Role::Subscriber { index, kinds } = &role
                    && kinds.is_empty()
                {
                    tracing::warn!(
                        index,
                        rtp_datagrams,
                        connected = peer.connected,
                        local = %peer.local,
                        "subscriber ends without a single RTP packet"
                    );
                }
                sig.leave().await;
                peer.rtc.disconnect();
                let _ = drain(&mut peer, &mut role, &stats).await;
                return Ok(());
            }
        }
    }
}

/// Receives one datagram with the kernel's arrival time, as an `Instant`.
async fn recv_stamped(
    socket: &UdpSocket,
    buf: &mut [u8],
) -> std::io::Result<(usize, SocketAddr, Instant)> {
    socket
        .async_io(Interest::READABLE, || {
            let (n, source, at) = crate::host::recv_stamped(socket, buf, MsgFlags::MSG_DONTWAIT)?;
            let source =
                source.ok_or_else(|| std::io::Error::other("datagram without a source address"))?;
            Ok((n, source, at))
        })
        .await
}

fn rtc_err(e: str0m::RtcError) -> LoadError {
    LoadError::Rtc(e.to_string())
}

/// Sends what str0m wants sent and handles its events; returns its next timeout.
async fn drain(
    peer: &mut Peer,
    role: &mut Role,
    stats: &Arc<Mutex<Stats>>,
) -> Result<Instant, LoadError> {
    loop {
        match peer.rtc.poll_output().map_err(rtc_err)? {
            Output::Timeout(t) => return Ok(t),
            Output::Transmit(t) => {
                if let Err(e) = peer.socket.send_to(&t.contents, t.destination).await {
                    tracing::debug!("udp send: {e}");
                }
            }
            Output::Event(e) => on_event(peer, role, stats, e),
        }
    }
}

fn on_event(peer: &mut Peer, role: &mut Role, stats: &Arc<Mutex<Stats>>, e: Event) {
    match e {
        Event::Connected => {
            peer.connected = true;
            if let Role::Subscriber { index, .. } = role {
                tracing::debug!(index, local = %peer.local, "subscriber connected (DTLS up)");
            }
        }
        Event::IceConnectionStateChange(state) => {
            if let Role::Subscriber { index, .. } = role {
                tracing::debug!(index, ?state, "subscriber ICE");
            }
        }
        Event::KeyframeRequest(_) => {
            if let Ok(mut s) = stats.lock() {
                s.keyframe_requests += 1;
            }
        }
        Event::RtpPacket(p) => {
            if let Role::Subscriber { index, kinds } = role {
                if kinds.is_empty() {
                    tracing::debug!(index, ssrc = ?p.header.ssrc, "subscriber first packet");
                }
                record(peer, *index, kinds, stats, &p);
            }
        }
        _ => {}
    }
}

fn record(
    peer: &mut Peer,
    index: usize,
    kinds: &mut HashMap<Ssrc, Kind>,
    stats: &Arc<Mutex<Stats>>,
    p: &RtpPacket,
) {
    let ssrc = p.header.ssrc;
    let kind = match kinds.get(&ssrc) {
        Some(k) => *k,
        None => {
            let mid = peer.rtc.direct_api().stream_rx(&ssrc).map(|s| s.mid());
            let Some(kind) = mid.and_then(|m| peer.rtc.media(m)).map(|m| match m.kind() {
                MediaKind::Audio => Kind::Audio,
                MediaKind::Video => Kind::Video,
            }) else {
                return;
            };
            kinds.insert(ssrc, kind);
            kind
        }
    };
    if p.payload.is_empty() {
        return; // padding probes carry no media
    }
    if let Ok(mut s) = stats.lock() {
        s.received(index, kind, *p.seq_no, packet_key(&p.payload), p.timestamp);
    }
}

/// Sends every frame and audio packet that is due.
async fn publish_due(
    peer: &mut Peer,
    p: &mut Publisher,
    stats: &Arc<Mutex<Stats>>,
    now: Instant,
) -> Result<(), LoadError> {
    if !peer.connected {
        return Ok(());
    }
    if p.video_pt.is_none() {
        p.video_pt = peer.pt_for(p.video_mid, Codec::Vp8).map(|x| x.pt());
        p.audio_pt = peer.pt_for(p.audio_mid, Codec::Opus).map(|x| x.pt());
        p.start = Some(now);
    }
    let mut role = Role::Subscriber {
        index: usize::MAX,
        kinds: HashMap::new(),
    };
    while p.next_video().is_some_and(|t| t <= now) {
        let n = p.video.frames.len() as u64;
        let frame = &p.video.frames[(p.frame % n) as usize];
        let ts = (p.frame as f64 * 90_000.0 / p.video.fps).round() as u64 as u32;
        packetize_vp8(&frame.data, (p.frame & 0x7fff) as u16, &mut p.parts);
        let last = p.parts.len().saturating_sub(1);
        let parts = std::mem::take(&mut p.parts);
        let large = parts.len() >= crate::stats::LARGE_FRAME;
        for (i, part) in parts.iter().enumerate() {
            let key = packet_key(part);
            let seq = p.video_seq;
            p.video_seq += 1;
            if let (Some(pt), Some(tx)) = (
                p.video_pt,
                peer.rtc.direct_api().stream_tx_by_mid(p.video_mid, None),
            ) {
                tx.write_rtp(
                    RtpWrite::new(pt, SeqNo::from(seq), ts, now, part.clone())
                        .marker(i == last)
                        .nackable(true),
                );
            }
            // Stamped when the packet is handed to the socket, not when it was due; the
            // timeout input makes str0m release the queued packet now.
            let at = Instant::now();
            peer.rtc.handle_input(Input::Timeout(at)).map_err(rtc_err)?;
            drain(peer, &mut role, stats).await?;
            if let Ok(mut s) = stats.lock() {
                s.sent.sent(key, Kind::Video, at, large);
            }
        }
        p.parts = parts;
        if let Ok(mut s) = stats.lock() {
            s.sent.frames_sent += 1;
        }
        p.frame += 1;
    }
    while p.next_audio().is_some_and(|t| t <= now) {
        let n = p.audio.packets.len() as u64;
        let data = p.audio.packets[(p.audio_packet % n) as usize].clone();
        let ts = (p.audio_packet * 960) as u32;
        let key = packet_key(&data);
        let seq = p.audio_seq;
        p.audio_seq += 1;
        if let (Some(pt), Some(tx)) = (
            p.audio_pt,
            peer.rtc.direct_api().stream_tx_by_mid(p.audio_mid, None),
        ) {
            tx.write_rtp(RtpWrite::new(pt, SeqNo::from(seq), ts, now, data).marker(true));
        }
        let at = Instant::now();
        peer.rtc.handle_input(Input::Timeout(at)).map_err(rtc_err)?;
        drain(peer, &mut role, stats).await?;
        if let Ok(mut s) = stats.lock() {
            s.sent.sent(key, Kind::Audio, at, false);
        }
        p.audio_packet += 1;
    }
    Ok(())
}
