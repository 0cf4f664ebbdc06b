//! A load run: one publisher, then subscribers added step by step; after each step a
//! measurement window of the server's CPU and memory and the subscribers' reception.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use classroom_protocol::Role as ClassRole;
use classroom_sfu::{AccessKey, Claims};
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::LoadError;
use crate::clip::{AudioClip, VideoClip};
use crate::peer::{self, Peer, Role};
use crate::procfs;
use crate::signal::{self, Signaling};
use crate::stats::{Stats, WindowRx};

/// Which server the peers talk to.
#[derive(Clone)]
pub enum Target {
    /// Our server: websocket URL, the key tokens are minted with, and the room.
    Ours {
        /// `ws://host:port/ws`.
        url: String,
        /// The server's token key.
        key: AccessKey,
        /// Room name.
        room: String,
    },
    /// Janus: websocket transport URL and VideoRoom room number.
    Janus {
        /// `ws://host:8188`.
        url: String,
        /// Room number (created if missing).
        room: u64,
    },
}

impl Target {
    /// `ours` or `janus`.
    pub fn name(&self) -> &'static str {
        match self {
            Target::Ours { .. } => "ours",
            Target::Janus { .. } => "janus",
        }
    }
}

/// How to step the load.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Subscriber counts to measure at, ascending.
    pub steps: Vec<usize>,
    /// Length of each measurement window.
    pub window: Duration,
    /// Wait after subscribers joined before measuring.
    pub settle: Duration,
    /// The server process whose /proc accounting is read (`None`: no server figures).
    pub server_pid: Option<u32>,
    /// Stop once the server uses more than this fraction of one core.
    pub cpu_limit: f64,
    /// Stop at the first window with any loss.
    pub stop_on_loss: bool,
    /// Local address the peers bind to.
    pub bind_ip: IpAddr,
    /// Peers offer only AES128_CM_SHA1_80 for SRTP, as the app's GStreamer clients do
    /// (otherwise AES-GCM is negotiated, as with a browser).
    pub srtp_aes_cm: bool,
}

/// The steps 1, 2, 5, 10, 20, 50, ... up to `max`.
pub fn default_steps(max: usize) -> Vec<usize> {
    let mut steps = Vec::new();
    let mut decade = 1;
    'outer: loop {
        for m in [1, 2, 5] {
            let n = m * decade;
            if n > max {
                break 'outer;
            }
            steps.push(n);
        }
        decade *= 10;
    }
    if steps.last() != Some(&max) && max > 0 {
        steps.push(max);
    }
    steps
}

/// Figures of one step.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Subscribers connected.
    pub subscribers: usize,
    /// Subscribers that failed to join.
    pub failed_joins: usize,
    /// Window length, seconds.
    pub window_s: f64,
    /// Server CPU over the window, percent of one core.
    pub server_cpu_pct: f64,
    /// Server resident memory at the end of the window, KiB.
    pub server_rss_kb: u64,
    /// The load generator's own CPU, percent of one core.
    pub loadgen_cpu_pct: f64,
    /// Server CPU microseconds per video packet delivered to a subscriber (audio, RTCP and
    /// ingest are charged to them too, so this is an upper bound).
    pub us_per_pkt: f64,
    /// Lost packets as a percentage of those expected.
    pub loss_pct: f64,
    /// UDP datagrams the kernel dropped on full receive buffers during the window (any
    /// socket on the machine: the server's or the load generator's).
    pub udp_rcvbuf_drops: u64,
    /// Client-side detail.
    pub rx: WindowRx,
    /// Why the run stops after this step, if it does.
    pub limit: Option<String>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// `ours` or `janus`.
    pub server: String,
    /// Server RSS with only the publisher, KiB.
    pub baseline_rss_kb: u64,
    /// Server CPU with only the publisher, percent of one core.
    pub baseline_cpu_pct: f64,
    /// Every step measured.
    pub steps: Vec<Step>,
}

impl Outcome {
    /// The last step within limits (CPU and loss), if any.
    pub fn last_good(&self) -> Option<&Step> {
        self.steps.iter().rev().find(|s| s.limit.is_none())
    }

    /// Subscribers one core could serve, from the last good step: subscribers divided by the
    /// fraction of a core used. Extrapolated when the run ended before the CPU limit.
    pub fn subs_per_core(&self) -> f64 {
        self.last_good()
            .filter(|s| s.server_cpu_pct > 0.0)
            .map_or(0.0, |s| s.subscribers as f64 / (s.server_cpu_pct / 100.0))
    }

    /// Server memory per subscriber at the last good step, KiB.
    pub fn rss_kb_per_sub(&self) -> f64 {
        self.last_good().map_or(0.0, |s| {
            (s.server_rss_kb as f64 - self.baseline_rss_kb as f64) / s.subscribers.max(1) as f64
        })
    }

    /// One line of `key=value` pairs for scripts that have no JSON parser (xtask).
    pub fn summary_line(&self) -> String {
        let good = self.last_good();
        let one = self
            .steps
            .iter()
            .find(|s| s.subscribers == 1 && s.limit.is_none());
        let reason = self
            .steps
            .iter()
            .find_map(|s| s.limit.clone())
            .unwrap_or_else(|| "max-subs".into());
        format!(
            "SUMMARY server={} last_good_subs={} cpu_pct={:.1} us_per_pkt={:.2} subs_per_core={:.1} \
             p50_ms={:.3} p99_ms={:.3} loss_pct={:.3} rss_kb_per_sub={:.1} loadgen_cpu_pct={:.1} \
             steps={} cpu_by_subs={} p50_ms_1sub={} p99_ms_1sub={} audio_per_video={:.3} \
             p99_ms_large_frames={:.3} p99_ms_other={:.3} large_frame_copies_pct={:.2} stop={}",
            self.server,
            good.map_or(0, |s| s.subscribers),
            good.map_or(0.0, |s| s.server_cpu_pct),
            good.map_or(0.0, |s| s.us_per_pkt),
            self.subs_per_core(),
            good.map_or(0.0, |s| s.rx.delay_p50_ms),
            good.map_or(0.0, |s| s.rx.delay_p99_ms),
            good.map_or(0.0, |s| s.loss_pct),
            self.rss_kb_per_sub(),
            good.map_or(0.0, |s| s.loadgen_cpu_pct),
            self.steps.len(),
            // Only steps within limits: a server that stalls uses little CPU for little work.
            self.steps
                .iter()
                .filter(|s| s.limit.is_none())
                .map(|s| format!("{}:{:.1}", s.subscribers, s.server_cpu_pct))
                .collect::<Vec<_>>()
                .join(","),
            // The first step (one subscriber): the delay forwarding itself adds, without a
            // fan-out in front of the packet.
            one.map_or("-".into(), |s| format!("{:.3}", s.rx.delay_p50_ms)),
            one.map_or("-".into(), |s| format!("{:.3}", s.rx.delay_p99_ms)),
            // Audio copies per video copy received at the last good step: their CPU is in
            // `us_per_pkt`, which divides by video packets only.
            good.map_or(0.0, |s| {
                s.rx.audio_received as f64 / s.rx.video_received.max(1) as f64
            }),
            // At the last good step, large frames' copies and the rest apart: the tail is a
            // large frame's fan-out or it is not.
            good.map_or(0.0, |s| s.rx.delay_p99_ms_large_frames),
            good.map_or(0.0, |s| s.rx.delay_p99_ms_other),
            good.map_or(0.0, |s| s.rx.large_frame_copies_pct),
            reason.replace(' ', "_"),
        )
    }
}

/// Subscribers that join at the same moment. A hundred DTLS handshakes at once overflow the
/// server's UDP receive buffer (see the report of `bench sfu`); a class does not join in one
/// millisecond either.
const JOIN_BATCH: usize = 25;

/// Running peers of a run.
struct Swarm {
    target: Target,
    video: Arc<VideoClip>,
    audio: Arc<AudioClip>,
    stats: Arc<Mutex<Stats>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    failed: Arc<AtomicUsize>,
    feed: u64,
    bind_ip: IpAddr,
    aes_cm: bool,
}

fn token(
    key: &AccessKey,
    room: &str,
    identity: &str,
    role: ClassRole,
) -> Result<String, LoadError> {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    key.mint(&Claims::new(
        room,
        identity,
        role,
        Duration::from_secs(3600),
        unix,
    ))
    .map_err(|e| LoadError::Signaling(format!("minting a token: {e}")))
}

impl Swarm {
    async fn start_publisher(&mut self) -> Result<(), LoadError> {
        let mut peer = Peer::bind(self.bind_ip, self.aes_cm).await?;
        let (sig, role) = match &self.target {
            Target::Ours { url, key, room } => {
                let t = token(key, room, "load-publisher", ClassRole::Teacher)?;
                signal::ours_publish(
                    url,
                    &t,
                    room,
                    &mut peer,
                    self.video.clone(),
                    self.audio.clone(),
                )
                .await?
            }
            Target::Janus { url, room } => {
                let (sig, role, feed) = signal::janus_publish(
                    url,
                    *room,
                    &mut peer,
                    self.video.clone(),
                    self.audio.clone(),
                )
                .await?;
                self.feed = feed;
                (sig, role)
            }
        };
        self.spawn(peer, role, sig, "publisher".into());
        Ok(())
    }

    fn spawn(&mut self, peer: Peer, role: Role, sig: Signaling, name: String) {
        let stats = self.stats.clone();
        let stop = self.stop.subscribe();
        let failed = self.failed.clone();
        self.tasks.push(tokio::spawn(async move {
            if let Err(e) = peer::run(peer, role, sig, stats, stop).await {
                tracing::warn!("{name}: {e}");
                failed.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    /// Adds subscribers until there are `n`, joining them concurrently in batches.
    async fn grow_to(&mut self, n: usize) -> Result<(), LoadError> {
        let have = self.stats.lock().map(|s| s.subs.len()).unwrap_or(0);
        let mut batch_start = have;
        while batch_start < n {
            let batch_end = (batch_start + JOIN_BATCH).min(n);
            self.join_batch(batch_start, batch_end)?;
            self.wait_flowing(Duration::from_secs(10)).await;
            batch_start = batch_end;
        }
        // Wait until media flows to all of them (signaling, ICE, DTLS), or give up.
        self.wait_flowing(Duration::from_secs(20)).await;
        if let Ok(s) = self.stats.lock() {
            let silent: Vec<usize> = (0..s.subs.len()).filter(|&i| !s.subs[i].flowing).collect();
            if !silent.is_empty() {
                tracing::warn!("subscribers without media after 20 s: {silent:?}");
            }
        }
        Ok(())
    }

    /// Waits until every subscriber that has not failed receives media, or `max`.
    async fn wait_flowing(&self, max: Duration) {
        let until = Instant::now() + max;
        while Instant::now() < until {
            let silent = self
                .stats
                .lock()
                .map(|s| s.subs.iter().filter(|r| !r.flowing).count())
                .unwrap_or(0);
            if silent <= self.failed.load(Ordering::Relaxed) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts subscribers `from..to` concurrently.
    fn join_batch(&mut self, from: usize, to: usize) -> Result<(), LoadError> {
        for _ in from..to {
            let index = match self.stats.lock() {
                Ok(mut s) => s.add_sub(),
                Err(_) => return Err(LoadError::Run("stats poisoned".into())),
            };
            let target = self.target.clone();
            let feed = self.feed;
            let (ip, aes_cm) = (self.bind_ip, self.aes_cm);
            let stats = self.stats.clone();
            let stop = self.stop.subscribe();
            let failed = self.failed.clone();
            // Signaling and then media in one task, so the peer is driven the moment its
            // negotiation ends, however long the others take.
            self.tasks.push(tokio::spawn(async move {
                let result = async {
                    let mut peer = Peer::bind(ip, aes_cm).await?;
                    let name = format!("load-sub-{index}");
                    let sig = match &target {
                        Target::Ours { url, key, room } => {
                            let t = token(key, room, &name, ClassRole::Student)?;
                            signal::ours_subscribe(url, &t, room, &name, &mut peer).await?
                        }
                        Target::Janus { url, room } => {
                            signal::janus_subscribe(url, *room, feed, &mut peer).await?
                        }
                    };
                    let role = Role::Subscriber {
                        index,
                        kinds: Default::default(),
                    };
                    peer::run(peer, role, sig, stats, stop).await
                }
                .await;
                if let Err(e) = result {
                    tracing::warn!("subscriber {index}: {e}");
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        Ok(())
    }

    async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
    }
}

/// Runs the plan against `target`; `report` sees each step as it is measured.
pub async fn run(
    target: Target,
    plan: &Plan,
    video: Arc<VideoClip>,
    audio: Arc<AudioClip>,
    mut report: impl FnMut(&Step),
) -> Result<Outcome, LoadError> {
    let ticks = procfs::clock_ticks();
    let (stop, _) = watch::channel(false);
    let mut swarm = Swarm {
        target: target.clone(),
        video,
        audio,
        stats: Arc::new(Mutex::new(Stats::default())),
        stop,
        tasks: Vec::new(),
        failed: Arc::new(AtomicUsize::new(0)),
        feed: 0,
        bind_ip: plan.bind_ip,
        aes_cm: plan.srtp_aes_cm,
    };
    let result = async {
        swarm.start_publisher().await?;
        // Let the publisher connect and its stream settle before the baseline.
        let until = Instant::now() + Duration::from_secs(10);
        while swarm.stats.lock().map(|s| s.sent.video_sent).unwrap_or(0) == 0 {
            if Instant::now() > until {
                return Err(LoadError::Run(
                    "the publisher never connected (no packet sent in 10 s)".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(plan.settle).await;
        let (base_rss, base_cpu) = measure_idle(plan, ticks).await?;
        let mut outcome = Outcome {
            server: target.name().into(),
            baseline_rss_kb: base_rss,
            baseline_cpu_pct: base_cpu,
            steps: Vec::new(),
        };
        for &n in &plan.steps {
            swarm.grow_to(n).await?;
            tokio::time::sleep(plan.settle).await;
            let step = measure(&swarm, plan, ticks).await?;
            report(&step);
            let stop = step.limit.is_some();
            outcome.steps.push(step);
            if stop {
                break;
            }
        }
        Ok(outcome)
    }
    .await;
    swarm.shutdown().await;
    result
}

async fn measure_idle(plan: &Plan, ticks: u64) -> Result<(u64, f64), LoadError> {
    let Some(pid) = plan.server_pid else {
        tokio::time::sleep(Duration::from_secs(1)).await;
        return Ok((0, 0.0));
    };
    let a = procfs::sample(pid, ticks)?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let b = procfs::sample(pid, ticks)?;
    let secs = b.at.duration_since(a.at).as_secs_f64();
    Ok((b.rss_kb, (b.cpu_us - a.cpu_us) as f64 / 1e4 / secs))
}

async fn measure(swarm: &Swarm, plan: &Plan, ticks: u64) -> Result<Step, LoadError> {
    let server = |pid: Option<u32>| pid.map(|p| procfs::sample(p, ticks)).transpose();
    if let Ok(mut s) = swarm.stats.lock() {
        s.reset_window();
    }
    let s0 = server(plan.server_pid)?;
    let l0 = procfs::sample(0, ticks)?;
    let drops0 = procfs::udp_rcvbuf_errors();
    tokio::time::sleep(plan.window).await;
    let s1 = server(plan.server_pid)?;
    let l1 = procfs::sample(0, ticks)?;
    let udp_rcvbuf_drops = match (drops0, procfs::udp_rcvbuf_errors()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => 0,
    };
    let rx = swarm
        .stats
        .lock()
        .map(|s| s.window())
        .map_err(|_| LoadError::Run("stats poisoned".into()))?;
    let secs = l1.at.duration_since(l0.at).as_secs_f64();
    let pct = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / 1e4 / secs;
    let (server_cpu_pct, server_rss_kb, server_cpu_us) = match (s0, s1) {
        (Some(a), Some(b)) => (pct(a.cpu_us, b.cpu_us), b.rss_kb, b.cpu_us - a.cpu_us),
        _ => (0.0, 0, 0),
    };
    let loss_pct = if rx.expected > 0 {
        rx.lost as f64 * 100.0 / rx.expected as f64
    } else {
        0.0
    };
    let failed = swarm.failed.load(Ordering::Relaxed);
    let loadgen_cpu_pct = pct(l0.cpu_us, l1.cpu_us);
    let limit = if loadgen_cpu_pct > 90.0 {
        Some(format!(
            "load generator saturated ({loadgen_cpu_pct:.0}% of a core): beyond here it, not the \
             server, is the limit"
        ))
    } else if server_cpu_pct > plan.cpu_limit * 100.0 {
        Some(format!(
            "server CPU {server_cpu_pct:.0}% > {:.0}% of a core",
            plan.cpu_limit * 100.0
        ))
    } else if plan.stop_on_loss && (rx.lost > 0 || rx.silent_subscribers > 0 || failed > 0) {
        Some(format!(
            "loss: {} packets lost, {} silent subscribers, {} failed peers",
            rx.lost, rx.silent_subscribers, failed
        ))
    } else {
        None
    };
    Ok(Step {
        subscribers: rx.subscribers,
        failed_joins: failed,
        window_s: secs,
        server_cpu_pct,
        server_rss_kb,
        loadgen_cpu_pct,
        udp_rcvbuf_drops,
        us_per_pkt: if rx.video_received > 0 {
            server_cpu_us as f64 / rx.video_received as f64
        } else {
            0.0
        },
        loss_pct,
        rx,
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_grow_by_one_two_five() {
        assert_eq!(default_steps(100), vec![1, 2, 5, 10, 20, 50, 100]);
        assert_eq!(default_steps(30), vec![1, 2, 5, 10, 20, 30]);
        assert_eq!(default_steps(0), Vec::<usize>::new());
    }
}
