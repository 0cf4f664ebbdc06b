//! WHIP and WHEP peers built on str0m over a real UDP socket, with payload types and header
//! extension ids of the test's choosing: a third stack next to the browser and GStreamer.
//!
//! The publisher loops the committed VP8 clip and Opus packets (`assets/`, read with the load
//! generator's readers), so a browser watching it decodes real frames.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use classroom_loadgen::clip::{AudioClip, VideoClip};
use str0m::change::SdpAnswer;
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::watch;

/// What a peer saw so far.
#[derive(Debug, Default, Clone)]
pub struct Received {
    /// Video frames received (str0m reassembles them).
    pub video_frames: u64,
    /// Audio frames received.
    pub audio_frames: u64,
    /// The payload types frames arrived with. (A packet whose payload type the peer did not
    /// negotiate never shows up: str0m drops it.)
    pub payload_types: Vec<u8>,
    /// ICE and DTLS are up.
    pub connected: bool,
    /// Video frames sent (a publisher).
    pub video_sent: u64,
    /// Keyframe requests that reached a publisher.
    pub keyframe_requests: u64,
}

/// A running peer; dropping it stops it.
pub struct Str0mPeer {
    received: Arc<Mutex<Received>>,
    stop: watch::Sender<bool>,
    /// The peer's offer, as sent.
    pub offer: String,
    /// The server's answer.
    pub answer: String,
}

/// The clip a publisher sends, and where it is in it.
struct Sending {
    video: VideoClip,
    audio: AudioClip,
    video_mid: Mid,
    audio_mid: Mid,
    next_video: usize,
    next_audio: usize,
    started: Instant,
    sent_video: u64,
    sent_audio: u64,
}

impl Sending {
    /// When the next frame of either kind is due.
    fn due(&self) -> Instant {
        let video = self.started + Duration::from_secs_f64(self.sent_video as f64 / 30.0);
        let audio = self.started + Duration::from_millis(20 * self.sent_audio);
        video.min(audio)
    }

    /// Writes every frame that is due by `now`.
    fn write(&mut self, rtc: &mut Rtc, now: Instant) {
        let pt = |rtc: &Rtc, codec: Codec| {
            rtc.codec_config()
                .find(|p| p.spec().codec == codec)
                .map(|p| p.pt())
        };
        while self.started + Duration::from_secs_f64(self.sent_video as f64 / 30.0) <= now {
            let frame = &self.video.frames[self.next_video % self.video.frames.len()];
            let time = MediaTime::new(self.sent_video * 3000, Frequency::NINETY_KHZ);
            if let (Some(pt), Some(w)) = (pt(rtc, Codec::Vp8), rtc.writer(self.video_mid)) {
                let _ = w.write(pt, now, time, frame.data.clone());
            }
            self.next_video += 1;
            self.sent_video += 1;
        }
        while self.started + Duration::from_millis(20 * self.sent_audio) <= now {
            let packet = &self.audio.packets[self.next_audio % self.audio.packets.len()];
            let time = MediaTime::new(self.sent_audio * 960, Frequency::FORTY_EIGHT_KHZ);
            if let (Some(pt), Some(w)) = (pt(rtc, Codec::Opus), rtc.writer(self.audio_mid)) {
                let _ = w.write(pt, now, time, packet.clone());
            }
            self.next_audio += 1;
            self.sent_audio += 1;
        }
    }

    /// Starts the clip again at its first frame, a keyframe (asked for by a new viewer).
    fn restart_at_keyframe(&mut self) {
        self.next_video = 0;
    }
}

impl Str0mPeer {
    /// Offers receive-only audio and video to `http://{server}/whep/{room}` with `token`,
    /// numbered by `config`.
    pub async fn whep(
        server: SocketAddr,
        room: &str,
        token: &str,
        config: RtcConfig,
    ) -> Result<Str0mPeer> {
        Self::start(
            server,
            &format!("/whep/{room}"),
            token,
            config,
            Direction::RecvOnly,
        )
        .await
    }

    /// Publishes the committed VP8 clip and Opus audio to `http://{server}/whip/{room}` with
    /// `token`, numbered by `config` (which must carry VP8 and Opus).
    pub async fn whip(
        server: SocketAddr,
        room: &str,
        token: &str,
        config: RtcConfig,
    ) -> Result<Str0mPeer> {
        Self::start(
            server,
            &format!("/whip/{room}"),
            token,
            config,
            Direction::SendOnly,
        )
        .await
    }

    async fn start(
        server: SocketAddr,
        path: &str,
        token: &str,
        config: RtcConfig,
        direction: Direction,
    ) -> Result<Str0mPeer> {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let local = socket.local_addr()?;
        let mut rtc = config
            .set_crypto_provider(Arc::new(classroom_sfu::crypto::provider()))
            .build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp").map_err(|e| anyhow!("{e}"))?);
        let mut api = rtc.sdp_api();
        let audio_mid = api.add_media(MediaKind::Audio, direction, None, None, None);
        let video_mid = api.add_media(MediaKind::Video, direction, None, None, None);
        let (offer, pending) = api.apply().ok_or_else(|| anyhow!("no offer"))?;
        let offer = offer.to_sdp_string();
        let answer = post_sdp(server, path, token, &offer).await?;
        rtc.sdp_api()
            .accept_answer(
                pending,
                SdpAnswer::from_sdp_string(&answer).context("answer")?,
            )
            .context("accepting the answer")?;
        let mut sending = if direction == Direction::SendOnly {
            let asset = |name| classroom_loadgen::default_asset(name);
            Some(Sending {
                video: VideoClip::load(&asset(classroom_loadgen::VIDEO_ASSET))?,
                audio: AudioClip::load(&asset("clip-opus.ogg"))?,
                video_mid,
                audio_mid,
                next_video: 0,
                next_audio: 0,
                started: Instant::now(),
                sent_video: 0,
                sent_audio: 0,
            })
        } else {
            None
        };
        let received = Arc::new(Mutex::new(Received::default()));
        let (stop, mut stopped) = watch::channel(false);
        let counts = received.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2000];
            loop {
                let mut deadline = loop {
                    match rtc.poll_output() {
                        Ok(Output::Timeout(t)) => break t,
                        Ok(Output::Transmit(t)) => {
                            let _ = socket.send_to(&t.contents, t.destination).await;
                        }
                        Ok(Output::Event(event)) => {
                            let mut c = counts.lock().expect("lock");
                            match event {
                                Event::Connected => {
                                    c.connected = true;
                                    if let Some(s) = sending.as_mut() {
                                        s.started = Instant::now();
                                    }
                                }
                                Event::MediaData(d) => {
                                    match rtc.media(d.mid).map(|m| m.kind()) {
                                        Some(MediaKind::Video) => c.video_frames += 1,
                                        Some(MediaKind::Audio) => c.audio_frames += 1,
                                        None => {}
                                    }
                                    if !c.payload_types.contains(&*d.pt) {
                                        c.payload_types.push(*d.pt);
                                    }
                                }
                                Event::KeyframeRequest(_) => {
                                    c.keyframe_requests += 1;
                                    if let Some(s) = sending.as_mut() {
                                        s.restart_at_keyframe();
                                    }
                                }
                                _ => {}
                            }
                        }
                        Err(_) => return,
                    }
                };
                let live = counts.lock().expect("lock").connected;
                if let Some(s) = sending.as_ref().filter(|_| live) {
                    deadline = deadline.min(s.due());
                }
                tokio::select! {
                    r = socket.recv_from(&mut buf) => {
                        let Ok((n, source)) = r else { continue };
                        let Ok(contents) = buf[..n].try_into() else { continue };
                        let input = Input::Receive(Instant::now(), Receive {
                            proto: Protocol::Udp,
                            source,
                            destination: local,
                            contents,
                        });
                        let _ = rtc.handle_input(input);
                    }
                    _ = tokio::time::sleep_until(deadline.into()) => {
                        let now = Instant::now();
                        if let Some(s) = sending.as_mut().filter(|_| live) {
                            s.write(&mut rtc, now);
                            counts.lock().expect("lock").video_sent = s.sent_video;
                        }
                        let _ = rtc.handle_input(Input::Timeout(now));
                    }
                    _ = stopped.changed() => return,
                }
            }
        });
        Ok(Str0mPeer {
            received,
            stop,
            offer,
            answer,
        })
    }

    /// What happened so far.
    pub fn received(&self) -> Received {
        self.received.lock().expect("lock").clone()
    }
}

impl Drop for Str0mPeer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// POSTs `sdp` to `path` on `server` with a bearer token; the answer's body on 201.
pub async fn post_sdp(server: SocketAddr, path: &str, token: &str, sdp: &str) -> Result<String> {
    let mut stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(server))
        .await
        .map_err(|_| anyhow!("connecting to {server} timed out"))??;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {server}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{sdp}",
        sdp.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .map_err(|_| anyhow!("no answer from {server}{path} within 10 s"))??;
    let response = String::from_utf8(response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("not HTTP: {response}"))?;
    if !head.starts_with("HTTP/1.1 201") {
        bail!("{path}: {}", head.lines().next().unwrap_or_default());
    }
    Ok(body.to_owned())
}
