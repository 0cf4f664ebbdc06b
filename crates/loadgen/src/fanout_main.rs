//! `classroom-fanout-bench`: what the SFU core spends per forwarded copy of a packet, on one
//! thread and with the fan-out pool, with no sockets, no kernel and no load generator
//! sharing the cores. A teacher (a str0m peer) and a class of students (str0m peers) join
//! the core in virtual time over an in-memory network; once every student receives the
//! camera, the students stop being fed media (so their decryption is not measured) and the
//! teacher's packets are handed to the core, which is timed until its outputs are drained:
//! `--burst` packets per turn (1, or a keyframe's burst), handed in together as the server's
//! driver hands in what one `recvmmsg` took (`handle_udp_batch`), or `--one-by-one`. Between
//! turns (untimed) it can write memory (`--wash-kib`) or wait (`--idle-us`, asleep or
//! `--idle-spin`), as a server waits for a stream's next packet: on a shared machine the
//! state a turn needs is then no longer in the caches. Prints one `RUN {json}` line per
//! thread count and `BENCH fanout {json}` last.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::Parser;
use classroom_protocol::{
    ClientMessage, IceCandidate, PROTOCOL_VERSION, PublishTrack, Role, ServerMessage, Source,
    Transport,
};
use classroom_sfu::core::{ConnId, CoreConfig, Fanout, Output, Sfu};
use classroom_sfu::{AccessKey, Claims, Metrics};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output as RtcOutput, Rtc};

// The server's allocator (jemalloc), so the core's figures are what `classroom-server` and
// the teacher's app spend: with the system allocator the copies' datagrams, allocated on a
// pool thread and freed on the core's, cost 10-15 % more per copy (burst of 1: 2,412-2,594
// against 2,092-2,174 ns on one thread).
#[global_allocator]
static ALLOCATOR: classroom_sfu::ServerAllocator = classroom_sfu::ServerAllocator;

/// SFU core fan-out benchmark (see the module docs).
#[derive(Debug, Parser)]
struct Cli {
    /// Students receiving the teacher's camera.
    #[arg(long, default_value_t = 200)]
    students: u64,
    /// Camera packets timed per run (in three rounds; the best counts).
    #[arg(long, default_value_t = 900)]
    packets: u32,
    /// Thread counts to compare (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    threads: Vec<usize>,
    /// Camera packets arriving together per turn (a keyframe is a burst of dozens).
    #[arg(long, default_value_t = 1)]
    burst: u32,
    /// Hand a turn's datagrams to the core one by one (`handle_udp`) instead of together
    /// (`handle_udp_batch`, as the server's driver does with what one `recvmmsg` took).
    #[arg(long)]
    one_by_one: bool,
    /// KiB of memory written between turns (untimed), as the kernel's sends of a turn's
    /// datagrams evict the caches in a server: 0 leaves the core's state cached.
    #[arg(long, default_value_t = 0)]
    wash_kib: usize,
    /// Microseconds slept between turns (untimed), as a server's thread idles between the
    /// packets of a stream: 0 runs the turns back to back.
    #[arg(long, default_value_t = 0)]
    idle_us: u64,
    /// Spend `--idle-us` spinning on the CPU instead of sleeping: whether the state is lost
    /// to time (other work on the machine) or to the thread leaving its CPU.
    #[arg(long)]
    idle_spin: bool,
}

const SERVER: &str = "127.0.0.1:5000";
const ROOM: &str = "bench";

struct Peer {
    conn: ConnId,
    addr: SocketAddr,
    rtc: Rtc,
    inbox: VecDeque<ServerMessage>,
    media_in: usize,
}

impl Peer {
    fn new(conn: ConnId, addr: SocketAddr, now: Instant) -> anyhow::Result<Peer> {
        let mut rtc = Rtc::builder()
            .set_crypto_provider(Arc::new(classroom_sfu::crypto::provider()))
            .build(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp")?);
        Ok(Peer {
            conn,
            addr,
            rtc,
            inbox: VecDeque::new(),
            media_in: 0,
        })
    }

    fn candidate(&self, transport: Transport) -> anyhow::Result<ClientMessage> {
        Ok(ClientMessage::IceCandidate(IceCandidate {
            transport,
            candidate: Candidate::host(self.addr, "udp")?.to_sdp_string(),
            sdp_m_line_index: 0,
        }))
    }
}

/// The core and its peers, in virtual time.
struct World {
    sfu: Sfu,
    metrics: Arc<Metrics>,
    peers: Vec<Peer>,
    now: Instant,
    /// Datagrams from the core to the students carry media (RTP/RTCP) to them.
    feed_students: bool,
    /// Wall time spent inside the core's calls (the peers' own work left out).
    core_time: Duration,
}

impl World {
    fn new(threads: usize, key: &AccessKey) -> anyhow::Result<World> {
        let now = Instant::now();
        let unix = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let config = CoreConfig {
            clock_origin: (now, unix),
            ..CoreConfig::new(SERVER.parse()?, key.clone())
        };
        let metrics = Arc::new(Metrics::default());
        let mut sfu = Sfu::new(config, metrics.clone());
        sfu.set_fanout(Fanout::new(threads)?.map(Arc::new));
        Ok(World {
            sfu,
            metrics,
            peers: Vec::new(),
            now,
            feed_students: true,
            core_time: Duration::ZERO,
        })
    }

    /// Runs `f` on the core, adding its time to `core_time`.
    fn core<T>(&mut self, f: impl FnOnce(&mut Sfu, Instant) -> T) -> T {
        let started = Instant::now();
        let out = f(&mut self.sfu, self.now);
        self.core_time += started.elapsed();
        out
    }

    /// Moves datagrams and signaling until nothing moves.
    fn settle(&mut self) -> anyhow::Result<()> {
        let server: SocketAddr = SERVER.parse()?;
        loop {
            let mut moved = false;
            while let Some(out) = self.core(|sfu, _| sfu.poll_output()) {
                moved = true;
                match out {
                    Output::Transmit {
                        source,
                        destination,
                        contents,
                    } => {
                        let media = matches!(contents.first(), Some(128..=191));
                        let Some(p) = self.peers.iter_mut().find(|p| p.addr == destination) else {
                            continue;
                        };
                        if media && p.conn != 1 && !self.feed_students {
                            continue;
                        }
                        let input = Input::Receive(
                            self.now,
                            Receive {
                                proto: Protocol::Udp,
                                source,
                                destination,
                                contents: contents.as_slice().try_into()?,
                            },
                        );
                        let _ = p.rtc.handle_input(input);
                    }
                    Output::Signal { to, msg } => {
                        if let Some(p) = self.peers.iter_mut().find(|p| p.conn == to) {
                            p.inbox.push_back(*msg);
                        }
                    }
                    Output::Broadcast { to, msg } => {
                        for p in self.peers.iter_mut().filter(|p| to.contains(&p.conn)) {
                            p.inbox.push_back((*msg).clone());
                        }
                    }
                    Output::Close { .. } | Output::ClassEnded { .. } => {}
                }
            }
            let mut to_core = Vec::new();
            for p in &mut self.peers {
                loop {
                    match p.rtc.poll_output()? {
                        RtcOutput::Timeout(_) => break,
                        RtcOutput::Transmit(t) => to_core.push((t.source, t.contents.to_vec())),
                        RtcOutput::Event(Event::MediaData(_)) => p.media_in += 1,
                        RtcOutput::Event(_) => {}
                    }
                }
            }
            for (source, contents) in to_core {
                moved = true;
                self.core(|sfu, now| sfu.handle_udp(now, source, server, &contents));
            }
            if !moved {
                return Ok(());
            }
        }
    }

    /// Runs `ms` milliseconds of virtual time, calling `each_ms` at every step.
    fn run(
        &mut self,
        ms: u64,
        mut each_ms: impl FnMut(&mut World) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        for _ in 0..ms {
            self.now += Duration::from_millis(1);
            each_ms(self)?;
            self.core(|sfu, now| sfu.handle_timeout(now));
            for p in &mut self.peers {
                p.rtc.handle_input(Input::Timeout(self.now))?;
            }
            self.settle()?;
        }
        Ok(())
    }
}

fn join(key: &AccessKey, name: &str, role: Role, unix: u64) -> anyhow::Result<ClientMessage> {
    let claims = Claims::new(ROOM, name, role, Duration::from_secs(3600), unix);
    Ok(ClientMessage::Join {
        token: key.mint(&claims)?,
        room: ROOM.into(),
        display_name: name.into(),
        role,
        protocol_version: PROTOCOL_VERSION,
        subscribe: role == Role::Student,
    })
}

/// What one run measured.
struct Figures {
    threads: usize,
    /// Copies in the best round, timed in `wall`.
    copies: u64,
    /// Copies in all timed rounds (what a profiler of [`timed_turn`] saw).
    all_copies: u64,
    wall: Duration,
    /// The core's time to bring the teacher and every student in (joins, offers and
    /// answers, ICE and DTLS), before media.
    join: Duration,
}

fn measure(threads: usize, cli: &Cli) -> anyhow::Result<Figures> {
    let Cli {
        students,
        packets,
        burst,
        one_by_one,
        wash_kib,
        idle_us,
        idle_spin,
        ..
    } = *cli;
    let mut wash = vec![0u8; wash_kib * 1024];
    let key = AccessKey::from_secret(&[7u8; 32])?;
    let unix = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let mut w = World::new(threads, &key)?;
    let now = w.now;
    w.peers.push(Peer::new(1, "127.0.0.1:6000".parse()?, now)?);
    for i in 0..students {
        let port = 10_000 + u16::try_from(i).context("too many students")?;
        w.peers.push(Peer::new(
            10 + i,
            SocketAddr::from(([127, 0, 0, 1], port)),
            now,
        )?);
    }
    for i in 0..w.peers.len() {
        let conn = w.peers[i].conn;
        let (name, role) = if conn == 1 {
            ("teacher".to_owned(), Role::Teacher)
        } else {
            (format!("s{conn}"), Role::Student)
        };
        let join = join(&key, &name, role, unix)?;
        w.core(|sfu, now| {
            sfu.connect(now, conn);
            sfu.handle_signal(now, conn, join);
        });
    }
    let mut api = w.peers[0].rtc.sdp_api();
    let cam = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    let (offer, pending) = api.apply().context("teacher offer")?;
    let offer = ClientMessage::Offer {
        sdp: offer.to_sdp_string(),
        tracks: vec![PublishTrack::new(cam.to_string(), Source::Camera)],
    };
    let candidate = w.peers[0].candidate(Transport::Publish)?;
    w.core(|sfu, now| {
        sfu.handle_signal(now, 1, offer);
        sfu.handle_signal(now, 1, candidate);
    });
    w.run(5, |_| Ok(()))?;
    let answer = w.peers[0]
        .inbox
        .iter()
        .find_map(|m| match m {
            ServerMessage::Answer { sdp } => Some(sdp.clone()),
            _ => None,
        })
        .context("no answer to the teacher's offer")?;
    w.peers[0]
        .rtc
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&answer)?)?;
    w.run(500, |_| Ok(()))?;
    for i in 1..w.peers.len() {
        let p = &mut w.peers[i];
        let sdp = p
            .inbox
            .iter()
            .find_map(|m| match m {
                ServerMessage::Offer { sdp, .. } => Some(sdp.clone()),
                _ => None,
            })
            .with_context(|| format!("student {} got no offer", p.conn))?;
        let answer = p
            .rtc
            .sdp_api()
            .accept_offer(SdpOffer::from_sdp_string(&sdp)?)?;
        let (conn, candidate) = (p.conn, p.candidate(Transport::Subscribe)?);
        let answer = ClientMessage::Answer {
            sdp: answer.to_sdp_string(),
        };
        w.core(|sfu, now| {
            sfu.handle_signal(now, conn, answer);
            sfu.handle_signal(now, conn, candidate);
        });
    }
    // The students' transports come up (ICE, DTLS) before any media is sent: the core's
    // time from the first join to here is what bringing the class in cost it.
    w.run(300, |_| Ok(()))?;
    let join_time = w.core_time;
    let vp8 = w.peers[0]
        .rtc
        .codec_config()
        .find(|p| p.spec().codec == Codec::Vp8)
        .map(|p| p.pt())
        .context("no VP8")?;
    let t0 = w.now;
    let mut frame = 0u8;
    // A camera's keyframes (P bit clear): every student's stream starts at once.
    let mut write = move |w: &mut World, cam: Mid| -> anyhow::Result<()> {
        let elapsed = w.now - t0;
        let mut payload = vec![0x10, 0x02, 0x00, frame];
        payload.resize(1100, 0x5a);
        frame = frame.wrapping_add(1);
        if let Some(writer) = w.peers[0].rtc.writer(cam) {
            writer.write(vp8, w.now, MediaTime::from(elapsed), payload)?;
        }
        Ok(())
    };
    w.run(1500, |w| {
        if (w.now - t0).as_millis().is_multiple_of(33) {
            write(w, cam)?;
        }
        Ok(())
    })?;
    let silent = w.peers[1..].iter().filter(|p| p.media_in == 0).count();
    if silent > 0 {
        bail!("{silent} of {students} students received no video before the timing");
    }
    // Timed: the teacher's packets into the core, its outputs drained, students not fed.
    w.feed_students = false;
    let server: SocketAddr = SERVER.parse()?;
    let teacher_addr = w.peers[0].addr;
    // Rounds of `packets / ROUNDS` each; the best round counts (a shared machine's noise only
    // ever adds time).
    let per_round = (packets / ROUNDS / burst.max(1)).max(1);
    let mut best: Option<(u64, Duration)> = None;
    let mut all_copies = 0;
    for _ in 0..ROUNDS {
        let before = w.metrics.snapshot().media_forwarded;
        let mut wall = Duration::ZERO;
        for _ in 0..per_round {
            w.now += Duration::from_millis(1);
            let mut datagrams = Vec::new();
            for _ in 0..burst.max(1) {
                write(&mut w, cam)?;
                let teacher = &mut w.peers[0].rtc;
                teacher.handle_input(Input::Timeout(w.now))?;
                loop {
                    match teacher.poll_output()? {
                        RtcOutput::Timeout(_) => break,
                        RtcOutput::Transmit(t) => datagrams.push(t.contents.to_vec()),
                        RtcOutput::Event(_) => {}
                    }
                }
            }
            for (i, b) in wash.iter_mut().enumerate() {
                *b = b.wrapping_add(i as u8);
            }
            std::hint::black_box(&mut wash);
            let idle = Duration::from_micros(idle_us);
            if idle_spin {
                let until = Instant::now() + idle;
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
            } else if !idle.is_zero() {
                std::thread::sleep(idle);
            }
            let started = Instant::now();
            let sent = timed_turn(&mut w, server, teacher_addr, &datagrams, one_by_one);
            wall += started.elapsed();
            if sent < u64::from(burst.max(1)) * students {
                bail!("{sent} datagrams out for {burst} packets to {students} students");
            }
        }
        let copies = w.metrics.snapshot().media_forwarded - before;
        all_copies += copies;
        let per_copy = |(c, t): (u64, Duration)| t.as_secs_f64() / c.max(1) as f64;
        if best.is_none_or(|b| per_copy((copies, wall)) < per_copy(b)) {
            best = Some((copies, wall));
        }
    }
    let (copies, wall) = best.context("no round")?;
    Ok(Figures {
        threads,
        copies,
        all_copies,
        wall,
        join: join_time,
    })
}

/// One timed turn: the teacher's `datagrams` into the core and its outputs drained, as the
/// server's driver does; the datagrams out. A function of its own so that a profiler can
/// count this and nothing else (`cargo xtask bench misses` gives it to callgrind's
/// `--toggle-collect`).
#[inline(never)]
fn timed_turn(
    w: &mut World,
    server: SocketAddr,
    teacher_addr: SocketAddr,
    datagrams: &[Vec<u8>],
    one_by_one: bool,
) -> u64 {
    w.sfu.handle_timeout(w.now);
    if one_by_one {
        for d in datagrams {
            w.sfu.handle_udp(w.now, teacher_addr, server, d);
        }
    } else {
        w.sfu.handle_udp_batch(
            w.now,
            server,
            datagrams.iter().map(|d| (teacher_addr, d.as_slice())),
        );
    }
    let mut sent = 0u64;
    while let Some(out) = w.sfu.poll_output() {
        if matches!(out, Output::Transmit { .. }) {
            sent += 1;
        }
    }
    // As the server's driver does once a turn's datagrams are sent.
    if let Some(pool) = w.sfu.fanout() {
        pool.rest();
    }
    sent
}

/// Timed rounds per run.
const ROUNDS: u32 = 3;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.students == 0 || cli.packets == 0 || cli.threads.is_empty() {
        bail!("--students, --packets and --threads must be positive");
    }
    let mut runs = Vec::new();
    for &threads in &cli.threads {
        let f = measure(threads, &cli)?;
        let ns = f.wall.as_nanos() as f64 / f.copies.max(1) as f64;
        let join_us = f.join.as_secs_f64() * 1e6 / (cli.students + 1) as f64;
        println!(
            "RUN {{\"threads\":{},\"students\":{},\"copies\":{},\"copies_all_rounds\":{},\"wall_ms\":{:.1},\"ns_per_copy\":{:.0},\"join_us_per_peer\":{:.0}}}",
            f.threads,
            cli.students,
            f.copies,
            f.all_copies,
            f.wall.as_secs_f64() * 1000.0,
            ns,
            join_us
        );
        runs.push((threads, ns, join_us));
    }
    let base = runs.first().map(|r| r.1).unwrap_or(f64::NAN);
    let mut fields: Vec<String> = runs
        .iter()
        .flat_map(|(t, ns, _)| {
            [
                format!("\"core_ns_per_copy_{t}_threads\":{ns:.0}"),
                format!("\"core_speedup_{t}_threads\":{:.2}", base / ns),
            ]
        })
        .collect();
    if let Some((_, _, join_us)) = runs.first() {
        fields.push(format!("\"core_join_us_per_peer\":{join_us:.0}"));
    }
    println!(
        "BENCH fanout {{\"students\":{},{}}}",
        cli.students,
        fields.join(",")
    );
    Ok(())
}
