//! `classroom-control-load`: a whole class over the real signaling protocol, for the
//! control-plane targets (roll call, teacher actions, chat bytes, server CPU and memory).
//!
//! One teacher and many students connect to a running server over real websockets. The
//! students are run many to a task ([`crowd`]) and read every message they are sent. The
//! run goes through phases, each measured on its own:
//! 1. **join**: every student connects with a personal token and joins; the server's RSS
//!    before and after gives memory per student;
//! 2. **notify**: the teacher makes actions everyone sees (class timer on and off, chat
//!    paused and resumed); each student notes when it saw each one;
//! 3. **roll call**: the teacher starts one, each student answers the moment its prompt
//!    arrives, the teacher watches the tally until it shows every answer;
//! 4. **chat**: students send chat to everyone at a fixed rate while every student's bytes
//!    in and out are counted.
//!
//! The load generator shares the machine with the server: it runs on one thread and its
//! own CPU is reported next to the server's.

pub mod crowd;
pub mod teacher;
pub mod traffic;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use classroom_protocol::{ClassRequest, Role};
use classroom_sfu::{AccessKey, Claims};
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::LoadError;
use crate::procfs::{self, Sample};
use crowd::{Cmd, Report, Shared};
use teacher::{Teacher, TeacherReport};
use traffic::Traffic;

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The server's signaling address.
    pub addr: SocketAddr,
    /// The websocket URL (`ws://addr/ws`).
    pub url: String,
    /// Mints the personal tokens (the server's secret).
    pub key: AccessKey,
    /// The class.
    pub room: String,
    /// Students to connect.
    pub students: usize,
    /// Students per task.
    pub per_task: usize,
    /// Connections being opened at once.
    pub connect_parallel: usize,
    /// Teacher actions to time (rounded up to a whole cycle of four).
    pub actions: usize,
    /// Chat messages per second sent to everyone during the chat phase.
    pub chat_per_sec: f64,
    /// Length of the chat window.
    pub chat_window: Duration,
    /// The server process, for its CPU and memory.
    pub server_pid: Option<u32>,
    /// Longest the joins may go on without progress.
    pub stall_timeout: Duration,
}

/// Figures of one teacher action.
#[derive(Debug, Clone, Serialize)]
pub struct ActionFigures {
    /// What the teacher did.
    pub action: &'static str,
    /// Sent to every student notified, ms (`None`: not every student was).
    pub all_ms: Option<f64>,
    /// Median and 95th percentile of sent-to-seen over the students, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// Students that did not see it within the wait.
    pub missing: usize,
}

/// CPU of the server and of the load generator over a phase.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct PhaseCpu {
    /// Wall time, seconds.
    pub seconds: f64,
    /// Server CPU, % of one core.
    pub server_pct: Option<f64>,
    /// Load generator CPU, % of one core.
    pub loadgen_pct: Option<f64>,
    /// The machine's 1-minute load average at the end of the phase.
    pub load_avg: Option<f64>,
}

/// Everything a run measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    /// Students asked for.
    pub students_target: usize,
    /// Students that joined.
    pub students: usize,
    /// Student connections that could not be opened.
    pub connect_failed: usize,
    /// Student connections that ended during the run.
    pub closed: usize,
    /// `error` messages the students received.
    pub errors: usize,
    /// The first problems seen, in words.
    pub problems: Vec<String>,
    /// The soft limit on open files the load generator runs with.
    pub nofile_limit: u64,
    /// First connection started to the last student's `joined`, ms.
    pub join_all_ms: f64,
    /// Connection start to `joined` per student: median, ms.
    pub join_p50_ms: f64,
    /// And 95th percentile, ms.
    pub join_p95_ms: f64,
    /// Teacher action sent to seen by a student, over all actions and students: median, ms.
    pub notify_p50_ms: f64,
    /// 95th percentile, ms.
    pub notify_p95_ms: f64,
    /// 99th percentile, ms.
    pub notify_p99_ms: f64,
    /// Largest, ms.
    pub notify_max_ms: f64,
    /// Per action.
    pub actions: Vec<ActionFigures>,
    /// Roll call: the last answer sent to the teacher seeing every answer counted, ms.
    pub rollcall_all_ms: Option<f64>,
    /// Roll call: the teacher's start to the teacher seeing every answer counted, ms.
    pub rollcall_from_start_ms: Option<f64>,
    /// Roll call: the start to the last answer sent, ms.
    pub rollcall_answers_ms: Option<f64>,
    /// Roll call: the start to every student holding the prompt, ms.
    pub rollcall_prompt_all_ms: Option<f64>,
    /// Roll-call answers sent.
    pub rollcall_answers: usize,
    /// The highest count the teacher was shown.
    pub rollcall_answered_seen: u32,
    /// Tallies the teacher received during the roll call.
    pub rollcall_tallies: u32,
    /// Chat window: wire bytes (payload, websocket headers, per frame a TCP/IP segment and
    /// an ACK) per student, kbit/s. The figure for the target.
    pub kbps_per_student: f64,
    /// Chat window: payload bytes only, per student, kbit/s.
    pub kbps_payload_per_student: f64,
    /// Chat window: the busiest student's wire kbit/s.
    pub kbps_per_student_max: f64,
    /// Chat window: chat messages each student received per second (batches only).
    pub chat_received_per_student_per_sec: f64,
    /// Chat window: messages the students sent per second.
    pub chat_sent_per_sec: f64,
    /// Chat window: websocket frames each student received per second.
    pub frames_per_student_per_sec: f64,
    /// Chat window length, s.
    pub chat_seconds: f64,
    /// Average length of the chat texts sent, characters.
    pub chat_text_chars: f64,
    /// Server CPU, % of one core, over the notify, roll-call and chat phases together.
    pub server_cpu_pct: Option<f64>,
    /// Load generator CPU over the same phases.
    pub loadgen_cpu_pct: Option<f64>,
    /// Per phase.
    pub cpu_join: PhaseCpu,
    /// Notify phase.
    pub cpu_notify: PhaseCpu,
    /// Roll-call phase.
    pub cpu_rollcall: PhaseCpu,
    /// Chat phase.
    pub cpu_chat: PhaseCpu,
    /// Server RSS before anyone connected, KiB.
    pub rss_kb_before: Option<u64>,
    /// Server RSS with every student joined (after a settle), KiB.
    pub rss_kb_connected: Option<u64>,
    /// Server RSS at the end (chat history and buffers used), KiB.
    pub rss_kb_end: Option<u64>,
    /// (the larger of connected and end − before) / students, KiB.
    pub rss_kb_per_student: Option<f64>,
}

/// Chat texts of the kind a big class sends (mean about 22 characters).
const CHAT_TEXTS: &[&str] = &[
    "yes",
    "I can hear you",
    "thank you!",
    "Could you repeat the last part please?",
    "ok",
    "What page are we on?",
    "Is this going to be on the test?",
    "my video froze for a second",
    "got it",
    "Can you share the slides after class?",
    "no questions",
    "here",
    "The sound is a bit low",
    "Which exercise is homework?",
    "makes sense now",
    "hi everyone",
];

/// Raises this process's soft limit on open files to the hard limit; returns it.
pub fn raise_nofile_limit() -> Result<u64, LoadError> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)
        .map_err(|e| LoadError::Run(format!("getrlimit: {e}")))?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
            .map_err(|e| LoadError::Run(format!("setrlimit: {e}")))?;
    }
    Ok(hard)
}

/// The 1-minute load average.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The value at quantile `q` of ascending `sorted` (nearest rank); 0 when empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// CPU readings at the start of a phase.
struct Mark {
    at: Instant,
    server: Option<Sample>,
    me: Option<Sample>,
}

struct Meter {
    ticks: u64,
    pid: Option<u32>,
}

impl Meter {
    fn mark(&self) -> Mark {
        Mark {
            at: Instant::now(),
            server: self.pid.and_then(|p| procfs::sample(p, self.ticks).ok()),
            me: procfs::sample(0, self.ticks).ok(),
        }
    }

    fn phase(&self, start: &Mark) -> PhaseCpu {
        let end = self.mark();
        let secs = end.at.duration_since(start.at).as_secs_f64().max(1e-6);
        let pct = |a: Option<Sample>, b: Option<Sample>| {
            Some((b?.cpu_us.saturating_sub(a?.cpu_us)) as f64 / 1e6 / secs * 100.0)
        };
        PhaseCpu {
            seconds: secs,
            server_pct: pct(start.server, end.server),
            loadgen_pct: pct(start.me, end.me),
            load_avg: load_average(),
        }
    }

    fn rss(&self) -> Option<u64> {
        self.pid
            .and_then(|p| procfs::sample(p, self.ticks).ok())
            .map(|s| s.rss_kb)
    }
}

/// CPU over several phases together, weighted by their length.
fn combined(phases: &[PhaseCpu], pick: fn(&PhaseCpu) -> Option<f64>) -> Option<f64> {
    let mut busy = 0.0;
    let mut wall = 0.0;
    for p in phases {
        busy += pick(p)? * p.seconds;
        wall += p.seconds;
    }
    (wall > 0.0).then(|| busy / wall)
}

/// The four teacher actions the notify phase cycles through: each reaches everyone as one
/// broadcast (`timer` or `settings`), and a cycle leaves the class as it was.
fn action(k: usize) -> (&'static str, ClassRequest) {
    match k % 4 {
        0 => ("startTimer", ClassRequest::StartTimer { seconds: 300 }),
        1 => ("pauseChat", ClassRequest::PauseChat { paused: true }),
        2 => ("resumeChat", ClassRequest::PauseChat { paused: false }),
        _ => ("stopTimer", ClassRequest::StopTimer),
    }
}

/// The students' groups.
struct Crowd {
    shared: Arc<Shared>,
    groups: Vec<mpsc::UnboundedSender<Cmd>>,
    per_task: usize,
}

impl Crowd {
    fn group_of(&self, student: usize) -> (&mpsc::UnboundedSender<Cmd>, u32) {
        let g = student / self.per_task;
        (&self.groups[g], (student % self.per_task) as u32)
    }

    async fn reset(&self) {
        let mut waits = Vec::new();
        for g in &self.groups {
            let (tx, rx) = oneshot::channel();
            if g.send(Cmd::Reset(tx)).is_ok() {
                waits.push(rx);
            }
        }
        for w in waits {
            let _ = w.await;
        }
    }

    async fn reports(&self) -> Vec<Report> {
        let mut waits = Vec::new();
        for g in &self.groups {
            let (tx, rx) = oneshot::channel();
            if g.send(Cmd::Report(tx)).is_ok() {
                waits.push(rx);
            }
        }
        let mut out = Vec::new();
        for w in waits {
            if let Ok(r) = w.await {
                out.push(r);
            }
        }
        out
    }

    /// Waits until `done()` or `limit` passed, checking every few milliseconds.
    async fn wait_for(&self, limit: Duration, done: impl Fn(&Shared) -> bool) -> bool {
        let until = Instant::now() + limit;
        while !done(&self.shared) {
            if Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        true
    }
}

fn mint(plan: &Plan, identity: &str, role: Role) -> Result<String, LoadError> {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    plan.key
        .mint(&Claims::new(
            &plan.room,
            identity,
            role,
            Duration::from_secs(4 * 3600),
            unix,
        ))
        .map_err(|e| LoadError::Run(format!("minting a token: {e}")))
}

/// Runs the whole class; `say` gets progress lines.
pub async fn run(plan: &Plan, mut say: impl FnMut(&str)) -> Result<Outcome, LoadError> {
    let meter = Meter {
        ticks: procfs::clock_ticks(),
        pid: plan.server_pid,
    };
    let mut out = Outcome {
        students_target: plan.students,
        nofile_limit: raise_nofile_limit()?,
        ..Outcome::default()
    };
    out.rss_kb_before = meter.rss();

    // Tokens first, so minting is not timed.
    let teacher_token = mint(plan, "teacher", Role::Teacher)?;
    let mut joins = Vec::with_capacity(plan.students);
    for i in 0..plan.students {
        let token = mint(plan, &format!("student-{i}"), Role::Student)?;
        joins.push(crowd::join_message(
            &token,
            &plan.room,
            &format!("Student {i}"),
            Role::Student,
        ));
    }
    let teacher = Teacher::join(plan.addr, &plan.url, &teacher_token, &plan.room).await?;
    say("teacher joined");

    // Phase 1: joins.
    let shared = Arc::new(Shared::new());
    let per_task = plan.per_task.max(1);
    let mut groups = Vec::new();
    for _ in 0..plan.students.div_ceil(per_task) {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(crowd::run_group(shared.clone(), rx));
        groups.push(tx);
    }
    let crowd = Crowd {
        shared: shared.clone(),
        groups,
        per_task,
    };
    let join_mark = meter.mark();
    let started = Instant::now();
    let url: Arc<str> = plan.url.as_str().into();
    let gate = Arc::new(Semaphore::new(plan.connect_parallel.max(1)));
    let spawner = {
        let shared = shared.clone();
        let groups = crowd.groups.clone();
        let addr = plan.addr;
        tokio::spawn(async move {
            for (i, join) in joins.into_iter().enumerate() {
                let Ok(permit) = gate.clone().acquire_owned().await else {
                    return;
                };
                let group = groups[i / per_task].clone();
                let (url, shared) = (url.clone(), shared.clone());
                tokio::spawn(async move {
                    let local = (i % per_task) as u32;
                    crowd::connect_student(addr, url, join, local, group, shared).await;
                    drop(permit);
                });
            }
        })
    };
    let mut last = (0usize, Instant::now());
    let mut next_say = Instant::now() + Duration::from_secs(2);
    loop {
        let joined = shared.joined.load(Ordering::Relaxed);
        let failed = shared.connect_failed.load(Ordering::Relaxed);
        let closed = shared.closed.load(Ordering::Relaxed);
        if joined + failed >= plan.students {
            break;
        }
        if joined > last.0 {
            last = (joined, Instant::now());
        } else if last.1.elapsed() > plan.stall_timeout {
            say(&format!(
                "joins stalled at {joined} for {:.0} s ({failed} connections failed, {closed} closed); going on with {joined}",
                plan.stall_timeout.as_secs_f64()
            ));
            break;
        }
        if Instant::now() >= next_say {
            next_say += Duration::from_secs(2);
            say(&format!(
                "joined {joined}/{} after {:.1} s (failed {failed}, closed {closed})",
                plan.students,
                started.elapsed().as_secs_f64()
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    out.join_all_ms = ms(started.elapsed());
    let _ = spawner.await;
    out.cpu_join = meter.phase(&join_mark);
    out.students = shared.joined.load(Ordering::Relaxed);
    let n = out.students;
    if n == 0 {
        return Err(LoadError::Run(format!(
            "no student joined: {:?}",
            shared
                .problems
                .lock()
                .map(|p| p.clone())
                .unwrap_or_default()
        )));
    }
    say(&format!(
        "{n} students joined in {:.1} s; settling",
        out.join_all_ms / 1000.0
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    out.rss_kb_connected = meter.rss();

    // Phase 2: teacher actions everyone sees.
    let notify_mark = meter.mark();
    let cycles = plan.actions.div_ceil(4).max(1);
    let mut sent_at = Vec::new();
    let wait = Duration::from_secs(10);
    for k in 0..cycles * 4 {
        let (name, req) = action(k);
        let id = (k + 1) as u32;
        shared.notified.store(0, Ordering::Relaxed);
        shared.action.store(id, Ordering::Relaxed);
        let at = teacher.request(req).await?;
        sent_at.push((id, name, at));
        if !crowd
            .wait_for(wait, |s| s.notified.load(Ordering::Relaxed) >= n)
            .await
        {
            say(&format!(
                "{name}: only {} of {n} students notified within {} s",
                shared.notified.load(Ordering::Relaxed),
                wait.as_secs()
            ));
        }
        // Let the batch that follows (counts) pass before the next action.
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    out.cpu_notify = meter.phase(&notify_mark);
    say("notify phase done");

    // Phase 3: roll call.
    let roll_mark = meter.mark();
    let roll_id = (cycles * 4 + 1) as u32;
    shared.notified.store(0, Ordering::Relaxed);
    shared.action.store(roll_id, Ordering::Relaxed);
    let mut tally = teacher.tally.clone();
    let tallies_before = tally.borrow().count;
    let roll_start = teacher
        .request(ClassRequest::StartRollCall { seconds: 120 })
        .await?;
    let target = n as u32;
    // `wait_for` hands back a read guard of the tally: dropped at once, since the teacher's
    // task on this same thread must write the next one.
    let seen = tokio::time::timeout(
        Duration::from_secs(60),
        tally.wait_for(|t| t.answered >= target && t.at.is_some_and(|at| at > roll_start)),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    let final_tally = *teacher.tally.borrow();
    let answers_done = shared.last_answer();
    match seen {
        true => {
            let at = final_tally.at.unwrap_or(roll_start);
            out.rollcall_from_start_ms = Some(ms(at.duration_since(roll_start)));
            out.rollcall_all_ms = answers_done.map(|last| ms(at.saturating_duration_since(last)));
        }
        false => say(&format!(
            "roll call: the teacher saw {} of {target} answers within 60 s",
            final_tally.answered
        )),
    }
    out.rollcall_answers_ms =
        answers_done.map(|last| ms(last.saturating_duration_since(roll_start)));
    out.rollcall_answers = shared.answers_sent.load(Ordering::Relaxed);
    out.rollcall_answered_seen = final_tally.answered;
    out.rollcall_tallies = final_tally.count.saturating_sub(tallies_before);
    sent_at.push((roll_id, "startRollCall", roll_start));
    teacher.request(ClassRequest::EndRollCall).await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    out.cpu_rollcall = meter.phase(&roll_mark);
    say("roll-call phase done");

    // Phase 4: chat at a fixed rate, every byte counted.
    shared.action.store(0, Ordering::Relaxed);
    crowd.reset().await;
    let chat_mark = meter.mark();
    let chat_start = Instant::now();
    let period = Duration::from_secs_f64(1.0 / plan.chat_per_sec.max(0.1));
    let mut ticker = tokio::time::interval(period);
    let mut sent = 0usize;
    let mut chars = 0usize;
    // Spread the senders: each student stays far within its own chat rate limit.
    let stride = if n > 1 { pick_stride(n) } else { 1 };
    loop {
        ticker.tick().await;
        if chat_start.elapsed() >= plan.chat_window {
            break;
        }
        let student = (sent * stride) % n;
        let text = CHAT_TEXTS[sent % CHAT_TEXTS.len()];
        chars += text.chars().count();
        let (group, local) = crowd.group_of(student);
        let _ = group.send(Cmd::Chat {
            local,
            text: text.into(),
        });
        sent += 1;
    }
    let window = chat_start.elapsed().as_secs_f64();
    let reports = crowd.reports().await;
    out.cpu_chat = meter.phase(&chat_mark);
    let mut traffic = Traffic::default();
    let mut chat_received = 0u64;
    let mut wire_max = 0u64;
    for r in &reports {
        traffic.add(&r.traffic);
        chat_received += r.chat_messages;
        wire_max = wire_max.max(r.wire_per_student.iter().copied().max().unwrap_or(0));
    }
    let kbps = |bytes: u64| bytes as f64 * 8.0 / 1000.0 / window / n as f64;
    out.kbps_per_student = kbps(traffic.wire());
    out.kbps_payload_per_student = kbps(traffic.payload());
    out.kbps_per_student_max = wire_max as f64 * 8.0 / 1000.0 / window;
    out.chat_received_per_student_per_sec = chat_received as f64 / window / n as f64;
    out.frames_per_student_per_sec = traffic.rx_frames as f64 / window / n as f64;
    out.chat_sent_per_sec = sent as f64 / window;
    out.chat_seconds = window;
    out.chat_text_chars = if sent > 0 {
        chars as f64 / sent as f64
    } else {
        0.0
    };
    out.rss_kb_end = meter.rss();
    say("chat phase done");

    // Figures.
    let phases = [out.cpu_notify, out.cpu_rollcall, out.cpu_chat];
    out.server_cpu_pct = combined(&phases, |p| p.server_pct);
    out.loadgen_cpu_pct = combined(&phases, |p| p.loadgen_pct);
    if let (Some(before), Some(a), Some(b)) =
        (out.rss_kb_before, out.rss_kb_connected, out.rss_kb_end)
    {
        out.rss_kb_per_student = Some(a.max(b).saturating_sub(before) as f64 / n as f64);
    }
    let mut join_ms: Vec<f64> = reports
        .iter()
        .flat_map(|r| r.join_ms.iter().copied())
        .collect();
    join_ms.sort_by(f64::total_cmp);
    out.join_p50_ms = quantile(&join_ms, 0.5);
    out.join_p95_ms = quantile(&join_ms, 0.95);
    let mut all = Vec::new();
    for (id, name, at) in &sent_at {
        let mut lat: Vec<f64> = reports
            .iter()
            .flat_map(|r| r.arrivals.iter())
            .filter(|(a, _)| a == id)
            .map(|(_, t)| ms(t.saturating_duration_since(*at)))
            .collect();
        lat.sort_by(f64::total_cmp);
        let missing = n.saturating_sub(lat.len());
        let figures = ActionFigures {
            action: name,
            all_ms: (missing == 0).then(|| lat.last().copied().unwrap_or(0.0)),
            p50_ms: quantile(&lat, 0.5),
            p95_ms: quantile(&lat, 0.95),
            missing,
        };
        if *name == "startRollCall" {
            out.rollcall_prompt_all_ms = figures.all_ms;
        } else {
            all.extend(lat);
        }
        out.actions.push(figures);
    }
    all.sort_by(f64::total_cmp);
    out.notify_p50_ms = quantile(&all, 0.5);
    out.notify_p95_ms = quantile(&all, 0.95);
    out.notify_p99_ms = quantile(&all, 0.99);
    out.notify_max_ms = all.last().copied().unwrap_or(0.0);
    out.connect_failed = shared.connect_failed.load(Ordering::Relaxed);
    out.closed = shared.closed.load(Ordering::Relaxed);
    out.errors = shared.errors.load(Ordering::Relaxed);
    out.problems = shared
        .problems
        .lock()
        .map(|p| p.clone())
        .unwrap_or_default();
    let t: TeacherReport = teacher.report().await;
    out.problems.extend(t.errors.into_iter().take(5));
    Ok(out)
}

/// A step through the students that visits each once before repeating: coprime with `n`,
/// near `n / 200` so consecutive senders sit in different groups.
fn pick_stride(n: usize) -> usize {
    let gcd = |mut a: usize, mut b: usize| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    let mut s = (n / 200).max(1) * 7 + 1;
    while gcd(s, n) != 1 {
        s += 1;
    }
    s % n.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_take_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.95), 95.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
        assert_eq!(quantile(&[3.0], 0.01), 3.0);
    }

    #[test]
    fn the_sender_stride_visits_every_student() {
        for n in [2usize, 7, 40, 200, 1000, 10_000] {
            let s = pick_stride(n);
            let mut seen = vec![false; n];
            for k in 0..n {
                seen[(k * s) % n] = true;
            }
            assert!(seen.iter().all(|x| *x), "n={n} stride={s}");
        }
    }

    #[test]
    fn a_cycle_of_actions_leaves_the_class_as_it_was() {
        let names: Vec<&str> = (0..4).map(|k| action(k).0).collect();
        assert_eq!(
            names,
            ["startTimer", "pauseChat", "resumeChat", "stopTimer"]
        );
        let mean = CHAT_TEXTS.iter().map(|t| t.chars().count()).sum::<usize>() as f64
            / CHAT_TEXTS.len() as f64;
        assert!((15.0..30.0).contains(&mean), "{mean}");
    }
}
