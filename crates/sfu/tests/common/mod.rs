//! Shared harness for the core's virtual-time tests: str0m peers, tokens, and a simulated
//! network between them and the core (delay, jitter that reorders, random loss).
#![allow(dead_code)] // each test binary uses a different part

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use classroom_protocol::{
    ClientMessage, IceCandidate, PROTOCOL_VERSION, Role, ServerMessage, Transport,
};
use classroom_sfu::core::{ConnId, CoreConfig, Output, Sfu};
use classroom_sfu::{AccessKey, Claims, Metrics};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output as RtcOutput, Rtc, RtcConfig};

pub const SERVER: &str = "127.0.0.1:5000";

pub struct Peer {
    pub conn: ConnId,
    pub addr: SocketAddr,
    pub rtc: Rtc,
    pub inbox: VecDeque<ServerMessage>,
    pub media_in: Vec<(Mid, usize)>,
    /// Payloads of received frames, by mid, when `keep_payloads` is set.
    pub payloads: Vec<(Mid, Vec<u8>)>,
    pub keep_payloads: bool,
    /// The audio level header extension of each received frame that carried one.
    pub audio_levels: Vec<i8>,
    /// Each received frame's m-line and whether it carried the MID header extension.
    pub mid_ext: Vec<(Mid, bool)>,
    pub keyframe_requests: usize,
    pub connected: bool,
    /// Data channels that opened.
    pub channels_open: usize,
}

impl Peer {
    pub fn new(conn: ConnId, addr: &str, now: Instant) -> Peer {
        Peer::with_config(conn, addr, now, Rtc::builder())
    }

    /// A peer built from `config` (its codecs, payload types and extension ids).
    pub fn with_config(conn: ConnId, addr: &str, now: Instant, config: RtcConfig) -> Peer {
        let mut rtc = config
            .set_crypto_provider(Arc::new(classroom_sfu::crypto::provider()))
            .build(now);
        let addr: SocketAddr = addr.parse().expect("addr");
        rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
        Peer {
            conn,
            addr,
            rtc,
            inbox: VecDeque::new(),
            media_in: Vec::new(),
            payloads: Vec::new(),
            keep_payloads: false,
            audio_levels: Vec::new(),
            mid_ext: Vec::new(),
            keyframe_requests: 0,
            connected: false,
            channels_open: 0,
        }
    }

    pub fn candidate(&self, transport: Transport) -> ClientMessage {
        ClientMessage::IceCandidate(IceCandidate {
            transport,
            candidate: Candidate::host(self.addr, "udp")
                .expect("candidate")
                .to_sdp_string(),
            sdp_m_line_index: 0,
        })
    }
}

/// Unix time the virtual clock starts at.
pub const EPOCH: u64 = 1_800_000_000;

pub fn key() -> AccessKey {
    AccessKey::from_secret(&[42u8; 32]).expect("key")
}

pub fn core_config(now: Instant) -> CoreConfig {
    CoreConfig {
        udp_addr: SERVER.parse().expect("addr"),
        access: key(),
        clock_origin: (now, EPOCH),
        simulcast: Vec::new(),
        class: classroom::Config::default(),
        limits: Default::default(),
    }
}

pub fn token(name: &str, role: Role) -> String {
    key()
        .mint(&Claims::new(
            "r",
            name,
            role,
            Duration::from_secs(600),
            EPOCH,
        ))
        .expect("mint")
}

pub fn join(name: &str, role: Role, subscribe: bool) -> ClientMessage {
    ClientMessage::Join {
        token: token(name, role),
        room: "r".into(),
        display_name: name.into(),
        role,
        protocol_version: PROTOCOL_VERSION,
        subscribe,
    }
}

/// A simulated network between the peers and the core. Impairments apply to RTP and RTCP
/// (first byte 128..=191) only, so ICE and DTLS set-up stays deterministic and the test
/// measures media recovery, not handshake retries.
#[derive(Debug, Default)]
pub struct Net {
    /// Probability that a media datagram is lost.
    pub loss: f64,
    /// One-way delay.
    pub delay: Duration,
    /// Extra random delay, 0..jitter; larger than the packet spacing, it reorders packets.
    pub jitter: Duration,
    /// Media datagrams lost so far.
    pub lost: usize,
    /// Media datagrams delivered out of order so far (overtaken by a later one).
    pub reordered: usize,
    /// Hand the core each datagram on its own (`handle_udp`) instead of what arrived
    /// together in batches as the driver does (`handle_udp_batch`, up to 16).
    pub one_by_one: bool,
    /// The most datagrams handed to the core together so far.
    pub largest_batch: usize,
    /// SRTP protection profiles chosen in DTLS ServerHellos seen on the wire (RFC 5764
    /// ids: 0x0001 AES128_CM_SHA1_80, 0x0007 AEAD_AES_128_GCM, 0x0008 AEAD_AES_256_GCM).
    pub srtp_profiles: Vec<u16>,
    /// DTLS application data (records of content type 23: a data channel's SCTP) sent
    /// before this time is lost, both ways; counted in `app_data_lost`.
    pub app_data_lost_until: Option<Instant>,
    pub app_data_lost: usize,
    rng: u64,
    queue: Vec<(Instant, u64, bool, SocketAddr, SocketAddr, Vec<u8>)>,
    sent: u64,
    delivered_max: u64,
}

impl Net {
    /// A network that loses `loss` of media packets and delays them by `delay` plus up to
    /// `jitter`.
    pub fn impaired(loss: f64, delay: Duration, jitter: Duration) -> Net {
        Net {
            loss,
            delay,
            jitter,
            rng: 0x9e37_79b9_7f4a_7c15,
            ..Net::default()
        }
    }

    /// A perfect network whose datagrams reach the core one by one (`handle_udp`).
    pub fn one_by_one() -> Net {
        Net {
            one_by_one: true,
            ..Net::default()
        }
    }

    fn random(&mut self) -> f64 {
        // xorshift64*: deterministic, so a failure reproduces.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn send(
        &mut self,
        now: Instant,
        to_sfu: bool,
        src: SocketAddr,
        dst: SocketAddr,
        data: Vec<u8>,
    ) {
        if let Some(profile) = server_hello_srtp_profile(&data) {
            self.srtp_profiles.push(profile);
        }
        if data.first() == Some(&23) && self.app_data_lost_until.is_some_and(|t| now < t) {
            self.app_data_lost += 1;
            return;
        }
        let media = matches!(data.first(), Some(128..=191));
        let mut at = now;
        if media && self.rng != 0 {
            if self.random() < self.loss {
                self.lost += 1;
                return;
            }
            at += self.delay + self.jitter.mul_f64(self.random());
        }
        self.sent += 1;
        self.queue.push((at, self.sent, to_sfu, src, dst, data));
    }

    fn due(&mut self, now: Instant) -> Vec<(bool, SocketAddr, SocketAddr, Vec<u8>)> {
        self.queue.sort_by_key(|q| (q.0, q.1));
        let n = self.queue.partition_point(|q| q.0 <= now);
        let mut out = Vec::with_capacity(n);
        for (_, seq, to_sfu, src, dst, data) in self.queue.drain(..n) {
            if seq < self.delivered_max {
                self.reordered += 1;
            }
            self.delivered_max = self.delivered_max.max(seq);
            out.push((to_sfu, src, dst, data));
        }
        out
    }
}

/// The SRTP profile a DTLS 1.2 ServerHello (sent in the clear) picks in its `use_srtp`
/// extension, if `datagram` starts with one.
fn server_hello_srtp_profile(datagram: &[u8]) -> Option<u16> {
    let u16_at = |b: &[u8], i: usize| Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]));
    // Record header (13 bytes): content type 22 = handshake; handshake header (12 bytes):
    // type 2 = ServerHello.
    if datagram.first() != Some(&22) || datagram.get(13) != Some(&2) {
        return None;
    }
    let body = datagram.get(25..)?;
    let sid_len = usize::from(*body.get(34)?);
    let mut at = 35 + sid_len + 2 + 1; // cipher suite, compression
    let ext_end = at + 2 + usize::from(u16_at(body, at)?);
    at += 2;
    while at + 4 <= ext_end {
        let (kind, len) = (u16_at(body, at)?, usize::from(u16_at(body, at + 2)?));
        if kind == 14 {
            // use_srtp: profiles length (2), the chosen profile (2), MKI length.
            return u16_at(body, at + 6);
        }
        at += 4 + len;
    }
    None
}

/// Runs the world for `dur` of virtual time in 1 ms steps over a perfect network.
pub fn run(
    sfu: &mut Sfu,
    peers: &mut [&mut Peer],
    now: &mut Instant,
    dur: Duration,
    each_ms: impl FnMut(Instant, &mut [&mut Peer]),
) {
    run_net(sfu, peers, now, dur, &mut Net::default(), each_ms)
}

/// Runs the world for `dur` of virtual time in 1 ms steps, moving datagrams between the core
/// and the peers through `net` and collecting signaling for the peers.
pub fn run_net(
    sfu: &mut Sfu,
    peers: &mut [&mut Peer],
    now: &mut Instant,
    dur: Duration,
    net: &mut Net,
    mut each_ms: impl FnMut(Instant, &mut [&mut Peer]),
) {
    let server: SocketAddr = SERVER.parse().expect("addr");
    let end = *now + dur;
    while *now < end {
        *now += Duration::from_millis(1);
        each_ms(*now, peers);
        sfu.handle_timeout(*now);
        for p in peers.iter_mut() {
            p.rtc
                .handle_input(Input::Timeout(*now))
                .expect("peer timeout");
        }
        loop {
            let mut moved = false;
            let mut arrived = Vec::new();
            for (to_sfu, source, destination, contents) in net.due(*now) {
                moved = true;
                if to_sfu {
                    arrived.push((source, destination, contents));
                } else if let Some(p) = peers.iter_mut().find(|p| p.addr == destination) {
                    let input = Input::Receive(
                        *now,
                        Receive {
                            proto: Protocol::Udp,
                            source,
                            destination,
                            contents: contents.as_slice().try_into().expect("datagram"),
                        },
                    );
                    p.rtc.handle_input(input).expect("peer input");
                }
            }
            let largest = hand_to_core(sfu, *now, &arrived, net.one_by_one);
            net.largest_batch = net.largest_batch.max(largest);
            while let Some(out) = sfu.poll_output() {
                moved = true;
                match out {
                    Output::Transmit {
                        source,
                        destination,
                        contents,
                    } => net.send(*now, false, source, destination, contents),
                    Output::Signal { to, msg } => {
                        if let Some(p) = peers.iter_mut().find(|p| p.conn == to) {
                            p.inbox.push_back(*msg);
                        }
                    }
                    Output::Broadcast { to, msg } => {
                        for p in peers.iter_mut().filter(|p| to.contains(&p.conn)) {
                            p.inbox.push_back((*msg).clone());
                        }
                    }
                    Output::Close { .. } | Output::ClassEnded { .. } => {}
                }
            }
            for p in peers.iter_mut() {
                loop {
                    match p.rtc.poll_output().expect("peer output") {
                        RtcOutput::Timeout(_) => break,
                        RtcOutput::Transmit(t) => {
                            moved = true;
                            net.send(*now, true, t.source, server, t.contents.to_vec());
                        }
                        RtcOutput::Event(Event::MediaData(d)) => {
                            p.media_in.push((d.mid, d.data.len()));
                            p.mid_ext.push((d.mid, d.ext_vals.mid.is_some()));
                            if p.keep_payloads {
                                p.payloads.push((d.mid, d.data.to_vec()));
                            }
                            if let Some(level) = d.ext_vals.audio_level {
                                p.audio_levels.push(level);
                            }
                        }
                        RtcOutput::Event(Event::KeyframeRequest(_)) => p.keyframe_requests += 1,
                        RtcOutput::Event(Event::Connected) => p.connected = true,
                        RtcOutput::Event(Event::ChannelOpen(..)) => p.channels_open += 1,
                        RtcOutput::Event(_) => {}
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }
}

/// Datagrams that reached the core's addresses in one round: one by one, or as the driver
/// hands them in (`Sfu::handle_udp_arrived`). The largest part handed in.
fn hand_to_core(
    sfu: &mut Sfu,
    now: Instant,
    arrived: &[(SocketAddr, SocketAddr, Vec<u8>)],
    one_by_one: bool,
) -> usize {
    if one_by_one {
        for (source, destination, contents) in arrived {
            sfu.handle_udp(now, *source, *destination, contents);
        }
        return arrived.len().min(1);
    }
    sfu.handle_udp_arrived(now, arrived)
}

/// A publish offer of a camera (`cam`) and a microphone (`mic`).
pub fn camera_and_mic_offer(offer: &SdpOffer, cam: Mid, mic: Mid) -> ClientMessage {
    ClientMessage::Offer {
        sdp: offer.to_sdp_string(),
        tracks: vec![
            classroom_protocol::PublishTrack::new(
                cam.to_string(),
                classroom_protocol::Source::Camera,
            ),
            classroom_protocol::PublishTrack::new(
                mic.to_string(),
                classroom_protocol::Source::Microphone,
            ),
        ],
    }
}

/// The payload type `rtc` gives `codec`.
pub fn pt_of(rtc: &Rtc, codec: str0m::format::Codec) -> str0m::media::Pt {
    rtc.codec_config()
        .find(|p| p.spec().codec == codec)
        .map(|p| p.pt())
        .unwrap_or_else(|| panic!("no {codec:?} payload type"))
}

pub fn take_offer(p: &mut Peer) -> Option<(String, Vec<classroom_protocol::SubscribedTrack>)> {
    let i = p
        .inbox
        .iter()
        .position(|m| matches!(m, ServerMessage::Offer { .. }))?;
    match p.inbox.remove(i) {
        Some(ServerMessage::Offer { sdp, tracks }) => Some((sdp, tracks)),
        _ => None,
    }
}

/// The peer accepts the server's subscribe offer and sends its answer back.
pub fn answer_subscribe_offer(sfu: &mut Sfu, now: Instant, peer: &mut Peer, sdp: &str) {
    let offer = SdpOffer::from_sdp_string(sdp).expect("sdp");
    let answer = peer.rtc.sdp_api().accept_offer(offer).expect("accept");
    sfu.handle_signal(
        now,
        peer.conn,
        ClientMessage::Answer {
            sdp: answer.to_sdp_string(),
        },
    );
}

/// `peer` takes the server's subscribe offer waiting in its inbox (`what` names it if it is
/// missing), answers it and sends its candidate; the tracks the offer carried.
pub fn accept_subscribe_offer(
    sfu: &mut Sfu,
    now: Instant,
    peer: &mut Peer,
    what: &str,
) -> Vec<classroom_protocol::SubscribedTrack> {
    let (sdp, tracks) = take_offer(peer).expect(what);
    answer_subscribe_offer(sfu, now, peer, &sdp);
    sfu.handle_signal(now, peer.conn, peer.candidate(Transport::Subscribe));
    tracks
}

pub fn take_answer(p: &mut Peer) -> Option<String> {
    let i = p
        .inbox
        .iter()
        .position(|m| matches!(m, ServerMessage::Answer { .. }))?;
    match p.inbox.remove(i) {
        Some(ServerMessage::Answer { sdp }) => Some(sdp),
        _ => None,
    }
}

/// `player` offers receive-only audio and video over WHEP as `token` (room "r") and accepts
/// the server's answer.
pub fn whep_watch(sfu: &mut Sfu, now: Instant, player: &mut Peer, token: &str) {
    let mut api = player.rtc.sdp_api();
    api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
    api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
    let (offer, pending) = api.apply().expect("offer");
    let answer = sfu
        .whep_subscribe(now, player.conn, token, "r", &offer.to_sdp_string())
        .expect("WHEP answer");
    player
        .rtc
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).expect("sdp"))
        .expect("accept");
}

/// A fresh core with a teacher publishing a camera and a microphone and a student who
/// joined to receive them.
pub struct TwoPeers {
    pub sfu: Sfu,
    pub metrics: Arc<Metrics>,
    pub teacher: Peer,
    pub student: Peer,
    pub cam: Mid,
    pub mic: Mid,
}

/// Sets up [`TwoPeers`]: the teacher's publish offer answered and connected, and the
/// student's subscribe offer waiting in their inbox; `now` moves on ~0.5 s.
pub fn teacher_and_student(now: &mut Instant) -> TwoPeers {
    teacher_and_student_with(now, false, &mut Net::default())
}

/// [`teacher_and_student`], the teacher's offer also carrying a data channel when
/// `data_channel` is set, over `net`.
pub fn teacher_and_student_with(now: &mut Instant, data_channel: bool, net: &mut Net) -> TwoPeers {
    let metrics = Arc::new(Metrics::default());
    let mut sfu = Sfu::new(core_config(*now), metrics.clone());
    let mut teacher = Peer::new(1, "127.0.0.1:6001", *now);
    let mut student = Peer::new(2, "127.0.0.1:6002", *now);
    sfu.connect(*now, 1);
    sfu.connect(*now, 2);
    sfu.handle_signal(*now, 1, join("teacher", Role::Teacher, false));
    sfu.handle_signal(*now, 2, join("student", Role::Student, true));
    let mut api = teacher.rtc.sdp_api();
    let stream = Some("teacher".into());
    let cam = api.add_media(
        MediaKind::Video,
        Direction::SendOnly,
        stream.clone(),
        None,
        None,
    );
    let mic = api.add_media(MediaKind::Audio, Direction::SendOnly, stream, None, None);
    if data_channel {
        api.add_channel("chat".into());
    }
    let (offer, pending) = api.apply().expect("offer");
    sfu.handle_signal(*now, 1, camera_and_mic_offer(&offer, cam, mic));
    sfu.handle_signal(*now, 1, teacher.candidate(Transport::Publish));
    let peers = &mut [&mut teacher, &mut student];
    run_net(
        &mut sfu,
        peers,
        now,
        Duration::from_millis(5),
        net,
        |_, _| {},
    );
    let answer = take_answer(peers[0]).expect("server answers the publish offer");
    peers[0]
        .rtc
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).expect("sdp"))
        .expect("accept");
    run_net(
        &mut sfu,
        peers,
        now,
        Duration::from_millis(500),
        net,
        |_, _| {},
    );
    TwoPeers {
        sfu,
        metrics,
        teacher,
        student,
        cam,
        mic,
    }
}
