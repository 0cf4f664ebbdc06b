//! A class after a real handshake, for the fuzz targets that reach forwarding, RTP rewriting
//! and simulcast: the SFU core, a teacher (str0m in RTP mode) publishing a camera and a
//! microphone, and two students who answered their subscribe offers, all connected (ICE,
//! DTLS, SRTP) over an in-memory network in virtual time. The targets then have the
//! teacher send arbitrary RTP (RIDs, sequence numbers, times, payload types, extensions,
//! sizes) and the students change their viewports and ask for keyframes.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use classroom_protocol::{
    ClientMessage, IceCandidate, PROTOCOL_VERSION, PublishTrack, Role, ServerMessage,
    SimulcastLayer as Declared, Source, Transport,
};
use classroom_sfu::core::{ConnId, CoreConfig, Output, Sfu};
use classroom_sfu::{AccessKey, Claims, Metrics};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, MediaKind, Mid, Rid, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Input, Output as RtcOutput, Rtc};

use crate::{EPOCH, SERVER};

/// One peer: its connection id, address, peer connection and signaling inbox.
pub struct Peer {
    pub conn: ConnId,
    pub addr: SocketAddr,
    pub rtc: Rtc,
    pub inbox: VecDeque<ServerMessage>,
}

impl Peer {
    fn new(conn: ConnId, port: u16, now: Instant) -> Peer {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut rtc = Rtc::builder()
            .set_crypto_provider(Arc::new(classroom_sfu::crypto::provider()))
            .set_rtp_mode(true)
            .build(now);
        if let Ok(c) = Candidate::host(addr, "udp") {
            rtc.add_local_candidate(c);
        }
        Peer {
            conn,
            addr,
            rtc,
            inbox: VecDeque::new(),
        }
    }

    fn candidate(&self, transport: Transport) -> ClientMessage {
        let candidate = Candidate::host(self.addr, "udp")
            .map(|c| c.to_sdp_string())
            .unwrap_or_default();
        ClientMessage::IceCandidate(IceCandidate {
            transport,
            candidate,
            sdp_m_line_index: 0,
        })
    }
}

/// The class: the core and its three peers, the time, and the teacher's m-lines.
pub struct World {
    pub sfu: Sfu,
    pub metrics: Arc<Metrics>,
    pub now: Instant,
    /// Teacher, then two students.
    pub peers: Vec<Peer>,
    pub camera: Mid,
    pub microphone: Mid,
    /// The camera's declared layers (empty: one encoding).
    pub rids: Vec<String>,
    /// Track ids the students were offered.
    pub track_ids: Vec<String>,
    /// The m-lines each peer receives on (empty for the teacher).
    pub receive_mids: Vec<Vec<Mid>>,
    /// The teacher's next extended sequence number.
    pub seq: u64,
    /// RIDs the teacher invented (declared on its side only), at most 16.
    pub invented: Vec<Rid>,
    /// Fuzz inputs run in this world so far.
    pub uses: u32,
    in_flight: Vec<(bool, SocketAddr, SocketAddr, Vec<u8>)>,
}

fn token(role: Role, name: &str) -> String {
    key()
        .mint(&Claims::new("r", name, role, Duration::from_secs(600), EPOCH))
        .unwrap_or_default()
}

fn key() -> AccessKey {
    match AccessKey::from_secret(&[9u8; 32]) {
        Ok(k) => k,
        Err(e) => panic!("a 32-byte secret is accepted: {e}"),
    }
}

fn join(role: Role, name: &str, subscribe: bool) -> ClientMessage {
    ClientMessage::Join {
        token: token(role, name),
        room: "r".into(),
        display_name: name.into(),
        role,
        protocol_version: PROTOCOL_VERSION,
        subscribe,
    }
}

impl World {
    /// Builds the class and runs it until every transport is connected; `None` if the
    /// handshake did not complete (never expected; the target then does nothing).
    pub fn connected(simulcast: bool) -> Option<World> {
        let now = Instant::now();
        // `..CoreConfig::new`: a field added to the core's settings does not break the fuzz
        // build (it is not part of the main workspace, so nothing else would notice).
        let config = CoreConfig {
            clock_origin: (now, EPOCH),
            ..CoreConfig::new(SERVER.parse().ok()?, key())
        };
        let metrics = Arc::new(Metrics::default());
        let mut sfu = Sfu::new(config, metrics.clone());
        let mut teacher = Peer::new(1, 6001, now);
        let students = [Peer::new(2, 6002, now), Peer::new(3, 6003, now)];
        sfu.connect(now, 1);
        sfu.handle_signal(now, 1, join(Role::Teacher, "teacher", false));
        for s in &students {
            sfu.connect(now, s.conn);
            sfu.handle_signal(now, s.conn, join(Role::Student, "student", true));
        }
        let rids: Vec<String> = if simulcast {
            vec!["l".into(), "m".into(), "h".into()]
        } else {
            Vec::new()
        };
        let mut api = teacher.rtc.sdp_api();
        let microphone = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let sim = simulcast.then(|| {
            let mut s = Simulcast::new();
            for rid in &rids {
                s.add_send_layer(SimulcastLayer::new(rid));
            }
            s
        });
        let camera = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, sim);
        let (offer, pending) = api.apply()?;
        let mut cam = PublishTrack::new(camera.to_string(), Source::Camera);
        cam.layers = rids
            .iter()
            .zip([(320, 180), (640, 360), (1280, 720)])
            .map(|(rid, (width, height))| Declared {
                rid: rid.clone(),
                width,
                height,
            })
            .collect();
        let tracks = vec![PublishTrack::new(microphone.to_string(), Source::Microphone), cam];
        sfu.handle_signal(
            now,
            1,
            ClientMessage::Offer {
                sdp: offer.to_sdp_string(),
                tracks,
            },
        );
        sfu.handle_signal(now, 1, teacher.candidate(Transport::Publish));
        let mut world = World {
            sfu,
            metrics,
            now,
            peers: Vec::new(),
            camera,
            microphone,
            rids,
            track_ids: Vec::new(),
            receive_mids: vec![Vec::new(); 3],
            seq: 1000,
            invented: Vec::new(),
            uses: 0,
            in_flight: Vec::new(),
        };
        world.peers.push(teacher);
        world.peers.extend(students);
        world.run(Duration::from_millis(5));
        let answer = take(&mut world.peers[0].inbox, |m| match m {
            ServerMessage::Answer { sdp } => Some(sdp.clone()),
            _ => None,
        })?;
        world.peers[0]
            .rtc
            .sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).ok()?)
            .ok()?;
        // The teacher's streams, declared as an RTP-mode sender must, video with an RTX SSRC:
        // str0m caches nackable packets whenever an RTX payload type is negotiated and
        // panics on a resend without an RTX SSRC (found by this target in the test peer,
        // not the server, whose streams come from its own SDP with RTX SSRCs).
        let mut direct = world.peers[0].rtc.direct_api();
        let audio_ssrc = direct.new_ssrc();
        direct.declare_stream_tx(audio_ssrc, None, microphone, None);
        if world.rids.is_empty() {
            let (ssrc, rtx) = (direct.new_ssrc(), direct.new_ssrc());
            direct.declare_stream_tx(ssrc, Some(rtx), camera, None);
        }
        for rid in world.rids.clone() {
            let mut direct = world.peers[0].rtc.direct_api();
            let (ssrc, rtx) = (direct.new_ssrc(), direct.new_ssrc());
            direct.declare_stream_tx(ssrc, Some(rtx), camera, Some(Rid::from(rid.as_str())));
        }
        // Until the publish transport is up and the students have offers.
        world.run(Duration::from_millis(600));
        for i in 1..world.peers.len() {
            let (sdp, tracks) = take(&mut world.peers[i].inbox, |m| match m {
                ServerMessage::Offer { sdp, tracks } => Some((sdp.clone(), tracks.clone())),
                _ => None,
            })?;
            for t in tracks {
                world.receive_mids[i].push(Mid::from(t.mid.as_str()));
                if !world.track_ids.contains(&t.track.track_id) {
                    world.track_ids.push(t.track.track_id);
                }
            }
            let offer = SdpOffer::from_sdp_string(&sdp).ok()?;
            let answer = world.peers[i].rtc.sdp_api().accept_offer(offer).ok()?;
            let conn = world.peers[i].conn;
            let now = world.now;
            world.sfu.handle_signal(
                now,
                conn,
                ClientMessage::Answer {
                    sdp: answer.to_sdp_string(),
                },
            );
            let c = world.peers[i].candidate(Transport::Subscribe);
            world.sfu.handle_signal(now, conn, c);
        }
        world.run(Duration::from_millis(600));
        world
            .peers
            .iter()
            .all(|p| p.rtc.is_connected())
            .then_some(world)
    }

    /// The class kept in `slot` for one more input: built anew when there is none, after 500
    /// inputs, or when a transport went down (the handshake costs about a second, so a
    /// target keeps its class between inputs); `None` if building failed.
    pub fn kept(slot: &mut Option<World>, simulcast: bool) -> Option<&mut World> {
        if slot.as_ref().is_none_or(|w| w.uses >= 500 || !w.healthy()) {
            *slot = World::connected(simulcast);
        }
        let w = slot.as_mut()?;
        w.uses += 1;
        Some(w)
    }

    /// Whether every peer connection is still up (else the class is built anew).
    pub fn healthy(&self) -> bool {
        self.peers.iter().all(|p| p.rtc.is_alive() && p.rtc.is_connected())
    }

    /// Runs the class for `dur` of virtual time in 1 ms steps over a perfect network.
    pub fn run(&mut self, dur: Duration) {
        self.run_tampered(dur, &mut |_| {});
    }

    /// Runs the class like [`World::run`], every datagram on its way to the server first
    /// handed to `tamper`, which may change it (a network or an attacker in the path).
    pub fn run_tampered(&mut self, dur: Duration, tamper: &mut dyn FnMut(&mut Vec<u8>)) {
        let server: SocketAddr = match SERVER.parse() {
            Ok(a) => a,
            Err(_) => return,
        };
        let end = self.now + dur;
        while self.now < end {
            self.now += Duration::from_millis(1);
            let now = self.now;
            self.sfu.handle_timeout(now);
            for p in &mut self.peers {
                let _ = p.rtc.handle_input(Input::Timeout(now));
            }
            loop {
                let mut moved = false;
                let mut arrived: Vec<(SocketAddr, SocketAddr, Vec<u8>)> = Vec::new();
                for (to_sfu, source, destination, mut data) in std::mem::take(&mut self.in_flight)
                {
                    moved = true;
                    if to_sfu {
                        tamper(&mut data);
                        arrived.push((source, destination, data));
                    } else if let Some(p) = self.peers.iter_mut().find(|p| p.addr == destination)
                        && let Ok(contents) = data.as_slice().try_into()
                    {
                        let _ = p.rtc.handle_input(Input::Receive(
                            now,
                            Receive {
                                proto: Protocol::Udp,
                                source,
                                destination,
                                contents,
                            },
                        ));
                    }
                }
                // As the driver does: what arrived together, together (one `recvmmsg`).
                self.sfu.handle_udp_arrived(now, &arrived);
                while let Some(out) = self.sfu.poll_output() {
                    moved = true;
                    match out {
                        Output::Transmit {
                            source,
                            destination,
                            contents,
                        } => self.in_flight.push((false, source, destination, contents)),
                        Output::Signal { to, msg } => {
                            if let Some(p) = self.peers.iter_mut().find(|p| p.conn == to)
                                && p.inbox.len() < 1000
                            {
                                p.inbox.push_back(*msg);
                            }
                        }
                        #[allow(unreachable_patterns)] // the core grows new outputs
                        _ => {}
                    }
                }
                for p in &mut self.peers {
                    loop {
                        match p.rtc.poll_output() {
                            Ok(RtcOutput::Timeout(_)) | Err(_) => break,
                            Ok(RtcOutput::Transmit(t)) => {
                                moved = true;
                                self.in_flight
                                    .push((true, t.source, server, t.contents.to_vec()));
                            }
                            Ok(RtcOutput::Event(_)) => {}
                        }
                    }
                }
                if !moved {
                    break;
                }
            }
        }
    }
}

fn take<T>(
    inbox: &mut VecDeque<ServerMessage>,
    pick: impl Fn(&ServerMessage) -> Option<T>,
) -> Option<T> {
    let i = inbox.iter().position(|m| pick(m).is_some())?;
    inbox.remove(i).and_then(|m| pick(&m))
}

/// Reads the fuzz input as small numbers.
pub struct Bytes<'a>(pub &'a [u8]);

impl Bytes<'_> {
    pub fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    pub fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }
    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes([self.u8()?, self.u8()?, self.u8()?, self.u8()?]))
    }
    /// Up to `max` bytes, the count taken from the input.
    pub fn bytes(&mut self, max: usize) -> Option<Vec<u8>> {
        let n = usize::from(self.u16()?) % (max + 1);
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head.to_vec())
    }
}
