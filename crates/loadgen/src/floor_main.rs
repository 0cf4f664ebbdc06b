//! `classroom-send-floor`: what this machine takes to send an SFU's copies with nothing of an
//! SFU around them, the floor under `bench sfu`'s "server CPU µs per video packet".
//!
//! One thread (the sender, as the server's) seals RTP-sized datagrams with the server's own
//! SRTP cipher (AES-128-GCM through [`classroom_sfu::crypto::provider`], a key per student as
//! each student's connection has) and sends them to `--students` UDP sockets with `sendmmsg`,
//! a student's datagrams of a turn in one UDP GSO message when there are several, up to 64
//! messages a call: the system calls the server's driver makes. Another thread (the load
//! generator's side) drains the students' sockets, with receive timestamps on as the load
//! generator's students have them. Between turns the sender sleeps `--idle-us`, as a server
//! waits for a stream's next packet. The sender's CPU time (user and system, `getrusage` of
//! the thread: on one local address the students' side of the kernel's delivery runs in the
//! sender's system call too, as it does on `bench sfu`'s local route; with the students in
//! their own network namespace behind a veth pair whose receives are steered to their CPU,
//! `--students-netns`, it does not, as on the bench's hosts route) per datagram is the floor:
//! what any SFU on this machine pays per copy over this route before doing anything of its own.
//! Prints `BENCH sendfloor {json}` last.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use classroom_loadgen::host::{self, RTP_HEADER, TAG};
use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg, setsockopt, sockopt,
};
use std::io::IoSlice;
use str0m::crypto::AeadAes128GcmCipher;

/// The send floor (see the module docs).
#[derive(Debug, Parser)]
struct Cli {
    /// Students receiving every datagram.
    #[arg(long, default_value_t = 200)]
    students: usize,
    /// The address the sender binds (the server's on the route `bench sfu`'s media takes).
    #[arg(long, default_value = "127.0.0.1")]
    ip: IpAddr,
    /// The address the students' sockets bind (default: `--ip`).
    #[arg(long)]
    students_ip: Option<IpAddr>,
    /// The network namespace (`ip netns` name) the students' sockets are made in, as the load
    /// generator's are on `bench sfu`'s hosts route.
    #[arg(long)]
    students_netns: Option<String>,
    /// Datagrams per student per turn: 1 as packets arriving one by one, 5 as a camera
    /// frame's packets arriving together (one GSO message per student).
    #[arg(long, default_value_t = 1)]
    burst: usize,
    /// Bytes per datagram, sealed (an RTP header, payload and the 16-byte GCM tag).
    #[arg(long, default_value_t = 1200)]
    size: usize,
    /// Timed turns (after 20 untimed ones).
    #[arg(long, default_value_t = 400)]
    turns: u32,
    /// Microseconds the sender sleeps between turns.
    #[arg(long, default_value_t = 5000)]
    idle_us: u64,
    /// Each datagram its own message, never a GSO message.
    #[arg(long)]
    no_gso: bool,
    /// Send the datagrams unsealed (the kernel's part alone).
    #[arg(long)]
    no_seal: bool,
    /// CPU the sender runs on.
    #[arg(long)]
    sender_cpu: Option<usize>,
    /// CPU the students' receiving thread runs on.
    #[arg(long)]
    receiver_cpu: Option<usize>,
}

/// `sendmmsg` messages per call, as the server's driver.
const BATCH: usize = 64;
/// Untimed turns first (sockets, caches, the cipher's keys).
const WARM_UP: u32 = 20;

/// The calling thread's user and system CPU time.
fn thread_cpu() -> anyhow::Result<(Duration, Duration)> {
    let u = getrusage(UsageWho::RUSAGE_THREAD).context("getrusage")?;
    let d = |t: nix::sys::time::TimeVal| {
        Duration::new(t.tv_sec().max(0) as u64, (t.tv_usec().max(0) as u32) * 1000)
    };
    Ok((d(u.user_time()), d(u.system_time())))
}

/// The students' sockets, drained on their own thread until `stop`.
fn students(
    cli: &Cli,
    received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<(Vec<SocketAddr>, std::thread::JoinHandle<anyhow::Result<()>>)> {
    let (ip, count) = (cli.students_ip.unwrap_or(cli.ip), cli.students);
    let bind = move || -> anyhow::Result<Vec<UdpSocket>> {
        let mut sockets = Vec::with_capacity(count);
        for _ in 0..count {
            let s = UdpSocket::bind((ip, 0)).context("binding a student's socket")?;
            setsockopt(&s, sockopt::ReceiveTimestampns, &true).context("SO_TIMESTAMPNS")?;
            setsockopt(&s, sockopt::RcvBuf, &(1 << 20)).context("SO_RCVBUF")?;
            s.set_nonblocking(true)?;
            sockets.push(s);
        }
        Ok(sockets)
    };
    let sockets = match &cli.students_netns {
        None => bind()?,
        // A socket stays in the namespace it was made in: made on a thread that entered the
        // students' namespace (a thread may change its own network namespace).
        Some(ns) => {
            let ns = ns.clone();
            std::thread::spawn(move || -> anyhow::Result<Vec<UdpSocket>> {
                host::enter_netns(&ns)?;
                bind()
            })
            .join()
            .map_err(|_| anyhow::anyhow!("the thread binding the students' sockets panicked"))??
        }
    };
    let addrs = sockets
        .iter()
        .map(UdpSocket::local_addr)
        .collect::<Result<Vec<_>, _>>()?;
    let cpu = cli.receiver_cpu;
    let handle = std::thread::spawn(move || -> anyhow::Result<()> {
        host::pin(cpu)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        rt.block_on(async move {
            let mut tasks = Vec::new();
            for s in sockets {
                let s = tokio::net::UdpSocket::from_std(s)?;
                let received = received.clone();
                tasks.push(tokio::spawn(async move {
                    let mut buf = vec![0u8; 2048];
                    while s.recv(&mut buf).await.is_ok() {
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                }));
            }
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            for t in tasks {
                t.abort();
            }
            Ok(())
        })
    });
    Ok((addrs, handle))
}

/// Waits (up to 2 s) until the students have received `count` datagrams in all; what they
/// have received then.
fn wait_for(received: &AtomicU64, count: u64) -> u64 {
    let waiting = Instant::now();
    while received.load(Ordering::Relaxed) < count && waiting.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(2));
    }
    received.load(Ordering::Relaxed)
}

/// One student's cipher and packet numbers.
struct Student {
    addr: SocketAddr,
    cipher: Box<dyn AeadAes128GcmCipher>,
    seq: u16,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.students == 0 || cli.burst == 0 || cli.turns == 0 {
        bail!("--students, --burst and --turns must be at least 1");
    }
    if !(RTP_HEADER + TAG + 1..=1472).contains(&cli.size) {
        bail!("--size must be {} to 1472", RTP_HEADER + TAG + 1);
    }
    let received = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (addrs, drain) = students(&cli, received.clone(), stop.clone())?;
    host::pin(cli.sender_cpu)?;

    let gcm = classroom_sfu::crypto::provider()
        .srtp_provider
        .aead_aes_128_gcm();
    let mut class: Vec<Student> = addrs
        .iter()
        .enumerate()
        .map(|(i, &addr)| {
            let mut key = [0u8; 16];
            key[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            Student {
                addr,
                cipher: gcm.create_cipher(key, true),
                seq: 0,
            }
        })
        .collect();
    let socket = UdpSocket::bind((cli.ip, 0)).context("binding the sender")?;
    setsockopt(&socket, sockopt::SndBuf, &(4 << 20)).context("SO_SNDBUF")?;
    let gso = !cli.no_gso
        && cli.burst > 1
        && nix::sys::socket::getsockopt(&socket, sockopt::UdpGsoSegment).is_ok();
    if gso && cli.burst * cli.size > 65_507 {
        bail!(
            "a GSO message of --burst x --size bytes must fit in 65,507 (a UDP datagram's limit)"
        );
    }

    // A turn's datagrams, student by student, reused from turn to turn.
    let payload: Vec<u8> = (0..cli.size - RTP_HEADER - TAG).map(|i| i as u8).collect();
    let mut out = vec![vec![0u8; cli.size]; cli.students * cli.burst];
    let mut seal_time = Duration::ZERO;
    let mut start = None;
    for turn in 0..WARM_UP + cli.turns {
        if turn == WARM_UP {
            // The warm-up's datagrams all in first, so none is counted as a timed one.
            let warm = u64::from(WARM_UP) * (cli.students * cli.burst) as u64;
            let warmed = wait_for(&received, warm);
            start = Some((thread_cpu()?, Instant::now(), warmed));
            seal_time = Duration::ZERO;
        }
        let sealing = Instant::now();
        for (s, student) in class.iter_mut().enumerate() {
            for k in 0..cli.burst {
                let d = &mut out[s * cli.burst + k];
                student.seq = student.seq.wrapping_add(1);
                d[0] = 0x80;
                d[1] = 96;
                d[2..4].copy_from_slice(&student.seq.to_be_bytes());
                d[4..8].copy_from_slice(&turn.to_be_bytes());
                d[8..12].copy_from_slice(&(s as u32).to_be_bytes());
                if cli.no_seal {
                    d[RTP_HEADER..cli.size - TAG].copy_from_slice(&payload);
                } else {
                    let mut iv = [0u8; 12];
                    iv[10..12].copy_from_slice(&student.seq.to_be_bytes());
                    let (header, body) = d.split_at_mut(RTP_HEADER);
                    student
                        .cipher
                        .encrypt(&iv, header, &payload, body)
                        .map_err(|e| anyhow::anyhow!("sealing: {e}"))?;
                }
            }
        }
        seal_time += sealing.elapsed();
        send_turn(&socket, &class, &out, cli.burst, gso)?;
        if cli.idle_us > 0 {
            std::thread::sleep(Duration::from_micros(cli.idle_us));
        }
    }
    let ((user0, sys0), wall0, received0) = start.context("no timed turn")?;
    let (user1, sys1) = thread_cpu()?;
    let wall = wall0.elapsed();
    // Let the students take what is still queued (a datagram the kernel dropped never comes).
    let sent = u64::from(cli.turns) * (cli.students * cli.burst) as u64;
    let got = wait_for(&received, received0 + sent) - received0;
    stop.store(true, Ordering::Relaxed);
    drain
        .join()
        .map_err(|_| anyhow::anyhow!("the students' thread panicked"))??;

    let per = |d: Duration| d.as_nanos() as f64 / sent as f64;
    let (user, sys) = (user1 - user0, sys1 - sys0);
    let received_pct = 100.0 * got as f64 / sent as f64;
    println!(
        "send floor: {} students, {} datagram(s) of {} bytes each a turn{}, {} turns {} µs apart, \
         {}: {:.0} ns a datagram ({:.0} user, of which sealing {:.0}; {:.0} system), {:.1} % \
         received, {:.1} s",
        cli.students,
        cli.burst,
        cli.size,
        if gso { " in one GSO message" } else { "" },
        cli.turns,
        cli.idle_us,
        if cli.no_seal {
            "unsealed"
        } else {
            "AES-128-GCM"
        },
        per(user + sys),
        per(user),
        per(seal_time),
        per(sys),
        received_pct,
        wall.as_secs_f64()
    );
    println!(
        "BENCH sendfloor {{\"students\":{},\"burst\":{},\"size\":{},\"gso\":{gso},\"sealed\":{},\
         \"ns_per_datagram\":{:.0},\"ns_user_per_datagram\":{:.0},\"ns_seal_per_datagram\":{:.0},\
         \"ns_sys_per_datagram\":{:.0},\"received_pct\":{:.2}}}",
        cli.students,
        cli.burst,
        cli.size,
        !cli.no_seal,
        per(user + sys),
        per(user),
        per(seal_time),
        per(sys),
        received_pct
    );
    Ok(())
}

/// Sends a turn's datagrams: each student's `burst` as one GSO message (`gso`) or one message
/// each, up to [`BATCH`] messages a `sendmmsg` call, waiting when the send buffer is full.
fn send_turn(
    socket: &UdpSocket,
    class: &[Student],
    out: &[Vec<u8>],
    burst: usize,
    gso: bool,
) -> anyhow::Result<()> {
    use std::os::fd::AsRawFd;
    // (destination, datagrams) per message.
    let messages: Vec<(SocketAddr, &[Vec<u8>])> = if gso {
        class
            .iter()
            .zip(out.chunks(burst))
            .map(|(s, d)| (s.addr, d))
            .collect()
    } else {
        class
            .iter()
            .zip(out.chunks(burst))
            .flat_map(|(s, d)| d.chunks(1).map(move |one| (s.addr, one)))
            .collect()
    };
    let segment = u16::try_from(out[0].len()).context("datagram size")?;
    for chunk in messages.chunks(BATCH) {
        let slices: Vec<Vec<IoSlice<'_>>> = chunk
            .iter()
            .map(|(_, d)| d.iter().map(|b| IoSlice::new(b)).collect())
            .collect();
        let addrs: Vec<Option<SockaddrStorage>> = chunk
            .iter()
            .map(|(a, _)| Some(SockaddrStorage::from(*a)))
            .collect();
        let mut done = 0;
        while done < chunk.len() {
            let space = gso.then(|| nix::cmsg_space!(u16));
            let mut headers =
                MultiHeaders::<SockaddrStorage>::preallocate(chunk.len() - done, space);
            let cmsgs = [ControlMessage::UdpGsoSegments(&segment)];
            let r = sendmmsg(
                socket.as_raw_fd(),
                &mut headers,
                &slices[done..],
                &addrs[done..],
                if gso { &cmsgs[..] } else { &[] },
                MsgFlags::empty(),
            );
            match r {
                Ok(results) => done += results.count().max(1),
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => bail!("sendmmsg: {e}"),
            }
        }
    }
    Ok(())
}
