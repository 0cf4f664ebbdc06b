//! `classroom-delay-floor`: the delay this machine adds to one packet relayed by a server with
//! nothing of an SFU, the floor under `bench sfu`'s "added latency, 1 sub".
//!
//! A publisher and a student (one thread, in the load generator's network namespace and on
//! its CPU, as the load generator's peers are) and a relay (one thread on the server's CPU,
//! asleep in `recv` between packets as a server's thread is in `epoll`). Every `--interval-ms`
//! the publisher stamps a datagram, seals it with AES-128-GCM and sends it to the relay, as
//! the load generator's publisher stamps a packet before str0m seals and sends it; the relay opens it, seals it
//! again under the student's key (as an SFU re-encrypts each copy) and sends it to the
//! student; the student's socket gives the kernel's arrival time (`SO_TIMESTAMPNS`, as the
//! load generator's students do). Arrival minus send is the floor: the system calls, the
//! route, and waking two idle CPUs, which every server on this machine pays per packet before
//! doing anything of its own. Prints `BENCH delayfloor {json}` last.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use classroom_loadgen::host::{self, RTP_HEADER, TAG};
use nix::sys::socket::{MsgFlags, setsockopt, sockopt};
use str0m::crypto::AeadAes128GcmCipher;

/// The delay floor (see the module docs).
#[derive(Debug, Clone, Parser)]
struct Cli {
    /// The address the relay binds (the server's on the route `bench sfu`'s media takes).
    #[arg(long, default_value = "127.0.0.1")]
    ip: IpAddr,
    /// The address the publisher's and the student's sockets bind (default: `--ip`).
    #[arg(long)]
    peers_ip: Option<IpAddr>,
    /// The network namespace (`ip netns` name) the publisher and the student run in, as the
    /// load generator does on `bench sfu`'s hosts route.
    #[arg(long)]
    peers_netns: Option<String>,
    /// Packets timed (after 20 untimed ones).
    #[arg(long, default_value_t = 400)]
    packets: u32,
    /// Milliseconds between packets (a camera's frames at 30 fps: 33).
    #[arg(long, default_value_t = 33)]
    interval_ms: u64,
    /// Bytes per datagram, sealed (an RTP header, payload and the 16-byte GCM tag).
    #[arg(long, default_value_t = 1200)]
    size: usize,
    /// CPU the relay runs on.
    #[arg(long)]
    relay_cpu: Option<usize>,
    /// CPU the publisher and the student run on.
    #[arg(long)]
    peers_cpu: Option<usize>,
}

/// Untimed packets first (sockets, caches, the ciphers' keys).
const WARM_UP: u32 = 20;

fn cipher(seed: u64, encrypt: bool) -> Box<dyn AeadAes128GcmCipher> {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    classroom_sfu::crypto::provider()
        .srtp_provider
        .aead_aes_128_gcm()
        .create_cipher(key, encrypt)
}

/// The 12-byte nonce for packet `seq`.
fn iv(seq: u32) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[8..12].copy_from_slice(&seq.to_be_bytes());
    iv
}

/// Seals `payload` behind an RTP-like header carrying `seq` into `out`.
fn seal(
    c: &mut dyn AeadAes128GcmCipher,
    seq: u32,
    payload: &[u8],
    out: &mut [u8],
) -> anyhow::Result<()> {
    out[0] = 0x80;
    out[1] = 96;
    out[2..4].copy_from_slice(&(seq as u16).to_be_bytes());
    out[4..8].copy_from_slice(&seq.to_be_bytes());
    out[8..12].copy_from_slice(&[0, 0, 0, 1]);
    let (header, body) = out.split_at_mut(RTP_HEADER);
    c.encrypt(&iv(seq), header, payload, body)
        .map_err(|e| anyhow::anyhow!("sealing: {e}"))
}

/// The relay: each datagram from the publisher opened and sealed again for the student.
fn relay(socket: UdpSocket, student: SocketAddr, size: usize) -> anyhow::Result<()> {
    let mut open = cipher(1, false);
    let mut reseal = cipher(2, true);
    let (mut buf, mut plain, mut out) = (vec![0u8; 2048], vec![0u8; 2048], vec![0u8; size]);
    loop {
        let (n, _) = socket.recv_from(&mut buf).context("relay recv")?;
        if n == 1 {
            return Ok(()); // the end
        }
        if n != size {
            bail!("the relay got {n} bytes, not {size}");
        }
        let seq = u32::from_be_bytes(buf[4..8].try_into().context("header")?);
        let len = open
            .decrypt(
                &iv(seq),
                &[&buf[..RTP_HEADER]],
                &buf[RTP_HEADER..n],
                &mut plain,
            )
            .map_err(|e| anyhow::anyhow!("opening: {e}"))?;
        seal(reseal.as_mut(), seq, &plain[..len], &mut out)?;
        socket.send_to(&out, student).context("relay send")?;
    }
}

/// The publisher and the student: `packets` (after the warm-up) relayed, each one's delay in
/// microseconds.
fn peers(
    cli: &Cli,
    relay_addr: SocketAddr,
    ip: IpAddr,
) -> anyhow::Result<(SocketAddr, impl FnOnce() -> anyhow::Result<Vec<f64>>)> {
    let publisher = UdpSocket::bind((ip, 0)).context("binding the publisher")?;
    let student = UdpSocket::bind((ip, 0)).context("binding the student")?;
    setsockopt(&student, sockopt::ReceiveTimestampns, &true).context("SO_TIMESTAMPNS")?;
    student.set_read_timeout(Some(Duration::from_secs(2)))?;
    let student_addr = student.local_addr()?;
    let (packets, interval, size) = (
        cli.packets,
        Duration::from_millis(cli.interval_ms),
        cli.size,
    );
    let run = move || -> anyhow::Result<Vec<f64>> {
        let mut sealer = cipher(1, true);
        let payload: Vec<u8> = (0..size - RTP_HEADER - TAG).map(|i| i as u8).collect();
        let (mut out, mut buf) = (vec![0u8; size], vec![0u8; 2048]);
        let mut delays = Vec::with_capacity(packets as usize);
        let mut next = Instant::now();
        for seq in 0..WARM_UP + packets {
            next += interval;
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
            // Stamped before it is sealed and sent, as the load generator's publisher stamps
            // a packet before str0m seals and sends it.
            let sent = Instant::now();
            seal(sealer.as_mut(), seq, &payload, &mut out)?;
            publisher
                .send_to(&out, relay_addr)
                .context("publisher send")?;
            let (n, _, at) = host::recv_stamped(&student, &mut buf, MsgFlags::empty())
                .context("the student's recv (timed out?)")?;
            let got = u32::from_be_bytes(buf[4..8].try_into().context("header")?);
            if n != size || got != seq {
                bail!("the student got {n} bytes of packet {got}, not {size} of {seq}");
            }
            if seq >= WARM_UP {
                delays.push(at.saturating_duration_since(sent).as_secs_f64() * 1e6);
            }
        }
        publisher
            .send_to(&[0], relay_addr)
            .context("publisher send")?;
        Ok(delays)
    };
    Ok((student_addr, run))
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.packets == 0 || cli.interval_ms == 0 {
        bail!("--packets and --interval-ms must be at least 1");
    }
    if !(RTP_HEADER + TAG + 1..=1472).contains(&cli.size) {
        bail!("--size must be {} to 1472", RTP_HEADER + TAG + 1);
    }
    let relay_socket = UdpSocket::bind((cli.ip, 0)).context("binding the relay")?;
    let relay_addr = relay_socket.local_addr()?;
    let ip = cli.peers_ip.unwrap_or(cli.ip);
    // The peers' thread lives in their namespace (a thread may change its own; its sockets stay
    // in the namespace they were made in).
    let (tx, rx) = std::sync::mpsc::channel();
    let peers_cli = cli.clone();
    let peers_thread = std::thread::spawn(move || -> anyhow::Result<Vec<f64>> {
        if let Some(ns) = &peers_cli.peers_netns {
            host::enter_netns(ns)?;
        }
        host::pin(peers_cli.peers_cpu)?;
        let (student, run) = peers(&peers_cli, relay_addr, ip)?;
        tx.send(student).context("telling the relay")?;
        run()
    });
    let Ok(student) = rx.recv() else {
        return match peers_thread.join() {
            Ok(r) => r.map(|_| ()).context("the publisher and student"),
            Err(_) => bail!("the publisher's and student's thread panicked"),
        };
    };
    let size = cli.size;
    let relay_cpu = cli.relay_cpu;
    let relay_thread = std::thread::spawn(move || -> anyhow::Result<()> {
        host::pin(relay_cpu)?;
        relay(relay_socket, student, size)
    });
    let mut delays = peers_thread
        .join()
        .map_err(|_| anyhow::anyhow!("the publisher's and student's thread panicked"))??;
    relay_thread
        .join()
        .map_err(|_| anyhow::anyhow!("the relay panicked"))??;
    delays.sort_by(f64::total_cmp);
    let (p50, p99, max) = (
        percentile(&delays, 0.5) / 1e3,
        percentile(&delays, 0.99) / 1e3,
        delays.last().copied().unwrap_or(0.0) / 1e3,
    );
    println!(
        "delay floor: {} packets of {} bytes {} ms apart, relayed (opened and sealed again) by a \
         bare thread: p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms",
        cli.packets, cli.size, cli.interval_ms
    );
    println!(
        "BENCH delayfloor {{\"packets\":{},\"size\":{},\"interval_ms\":{},\"p50_ms\":{p50:.3},\
         \"p99_ms\":{p99:.3},\"max_ms\":{max:.3}}}",
        cli.packets, cli.size, cli.interval_ms
    );
    Ok(())
}
