//! `classroom-annotate-bench`: the whiteboard's figures for `cargo xtask bench annotate`.
//!
//! - Remote stroke delay: a classroom server on loopback (in this process, its own runtime
//!   threads), a teacher and a student on real websockets speaking the classroom protocol. The
//!   teacher draws strokes as the page does (pen down with the first samples, a batch of new
//!   samples every 33 ms, pen up); each sample's delay is from the moment its batch was sent
//!   to the moment the student's websocket delivered the change holding it (the server puts it
//!   in the one order and sends a receiver's waiting changes merged every 40 ms).
//! - Model throughput: a `Replica` applying stamped changes (the stream a participant
//!   receives: strokes begun, extended one batch at a time, finished, some erased).
//!
//! Prints the figures, then `RESULT {json}` with `stroke_p50_ms`, `stroke_p95_ms`,
//! `stroke_samples`, `ops_per_s`, `ops_applied`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use annotate::{Background, Op, Replica, Sample, Sequencer, Stamped, Style, Tool};
use anyhow::{Context, bail};
use clap::Parser;
use classroom_loadgen::control::crowd::{join_message, open};
use classroom_protocol::{ClassEvent, ClassRequest, ClientMessage, Role, ServerMessage};
use classroom_sfu::{ServerConfig, start};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Strokes the teacher draws.
    #[arg(long, default_value_t = 40)]
    strokes: usize,
    /// Samples per stroke (a pen at about 240 Hz: 4 per millisecond-ish batch of 33 ms gives
    /// 8 per batch).
    #[arg(long, default_value_t = 120)]
    samples: usize,
    /// Samples per 33 ms batch.
    #[arg(long, default_value_t = 8)]
    per_batch: usize,
    /// Changes applied for the model's throughput.
    #[arg(long, default_value_t = 1_000_000)]
    ops: usize,
}

const PAGE: &str = "p1";
const ROOM: &str = "bench-board";
const BATCH: Duration = Duration::from_millis(33);

fn sample(i: usize, stroke: usize) -> Sample {
    Sample {
        x: 100.0 + (i % 600) as f32 * 2.0,
        y: 100.0 + stroke as f32 * 15.0 + (i as f32 * 0.3).sin() * 10.0,
        p: 0.5,
        t: i as u32 * 4,
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// The changes a participant receives while strokes are drawn: each stroke begun, extended a
/// batch at a time, finished; every tenth erased.
fn stamped_stream(ops: usize) -> Vec<Stamped> {
    let mut seq = Sequencer::new();
    let mut out = Vec::with_capacity(ops + 1);
    let push = |seq: &mut Sequencer, out: &mut Vec<Stamped>, op| {
        if let Ok(s) = seq.stamp("teacher", op) {
            out.push(s);
        }
    };
    push(
        &mut seq,
        &mut out,
        Op::AddPage {
            page: PAGE.into(),
            background: Background::Blank,
        },
    );
    let mut stroke = 0usize;
    while out.len() < ops {
        let item = format!("s{stroke}");
        push(
            &mut seq,
            &mut out,
            Op::BeginStroke {
                page: PAGE.into(),
                item: item.clone(),
                tool: Tool::Pen,
                style: Style {
                    color: [20, 40, 200, 255],
                    width: 3.0,
                },
                samples: vec![sample(0, stroke)],
            },
        );
        for b in 0..30u32 {
            let from = 1 + b * 4;
            push(
                &mut seq,
                &mut out,
                Op::ExtendStroke {
                    page: PAGE.into(),
                    item: item.clone(),
                    from,
                    samples: (0..4)
                        .map(|k| sample((from + k) as usize, stroke))
                        .collect(),
                },
            );
        }
        push(
            &mut seq,
            &mut out,
            Op::EndStroke {
                page: PAGE.into(),
                item: item.clone(),
                count: 121,
            },
        );
        if stroke % 10 == 9 {
            push(
                &mut seq,
                &mut out,
                Op::Erase {
                    page: PAGE.into(),
                    item,
                },
            );
        }
        stroke += 1;
    }
    out.truncate(ops);
    out
}

/// Applies the stream to a fresh replica; changes a second, best of three.
fn model_throughput(ops: usize) -> (f64, usize) {
    let stream = stamped_stream(ops);
    let mut best = 0.0f64;
    for _ in 0..3 {
        let copy = stream.clone();
        let mut replica = Replica::new();
        let started = Instant::now();
        for s in copy {
            replica.receive(s);
        }
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(replica.missing(), None, "every change applied in order");
        best = best.max(stream.len() as f64 / secs);
    }
    (best, stream.len())
}

type Sent = Arc<Mutex<HashMap<(String, u32), Instant>>>;

/// The student's side: every sample's delay, from its batch's sending to the change holding
/// it arriving.
async fn watch_board(
    mut ws: classroom_loadgen::control::crowd::Ws,
    sent: Sent,
    expected: usize,
) -> anyhow::Result<Vec<f64>> {
    let mut delays = Vec::with_capacity(expected);
    let mut seen: HashMap<String, u32> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while delays.len() < expected {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = tokio::time::timeout(left, ws.next())
            .await
            .context("the student waited too long for ink")?;
        let Some(Ok(Message::Text(text))) = msg else {
            if matches!(msg, None | Some(Err(_))) {
                bail!("the student's websocket ended");
            }
            continue;
        };
        let now = Instant::now();
        let Ok(ServerMessage::Class(ClassEvent::Annotation { ops })) =
            ServerMessage::decode(text.as_str())
        else {
            continue;
        };
        let sent = sent.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        for stamped in ops {
            let (item, from, n) = match &stamped.op {
                Op::BeginStroke { item, samples, .. } => (item, 0, samples.len() as u32),
                Op::ExtendStroke {
                    item,
                    from,
                    samples,
                    ..
                } => (item, *from, samples.len() as u32),
                _ => continue,
            };
            let have = seen.entry(item.clone()).or_insert(0);
            // Each batch's first sample carries its sending time; samples seen before (an
            // overlap) are not counted twice.
            for index in from.max(*have)..from + n {
                if let Some(at) = sent.get(&(item.clone(), index)) {
                    delays.push(now.duration_since(*at).as_secs_f64() * 1000.0);
                }
            }
            *have = (*have).max(from + n);
        }
    }
    Ok(delays)
}

/// Opens a websocket and joins the class; returns once `joined` arrived.
async fn join(
    addr: std::net::SocketAddr,
    url: &str,
    token: &str,
    name: &str,
    role: Role,
) -> anyhow::Result<classroom_loadgen::control::crowd::Ws> {
    let mut ws = open(addr, url).await?;
    ws.send(Message::text(join_message(token, ROOM, name, role)))
        .await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => match ServerMessage::decode(t.as_str()) {
                Ok(ServerMessage::Joined { .. }) => return Ok(ws),
                Ok(ServerMessage::Error { code, message }) => {
                    bail!("{name} refused: {code:?}: {message}")
                }
                _ => {}
            },
            Some(Ok(_)) => {}
            _ => bail!("{name}'s websocket ended before joining"),
        }
    }
}

async fn stroke_delay(cli: &Cli) -> anyhow::Result<Vec<f64>> {
    let server = start(ServerConfig::loopback())
        .await
        .context("the classroom server starts")?;
    let addr = server.signaling_addr();
    let url = format!("ws://{addr}/ws");
    let token = |who: &str, role| server.mint_token(ROOM, who, role, Duration::from_secs(3600));
    let teacher = join(
        addr,
        &url,
        &token("teacher", Role::Teacher)?,
        "Teacher",
        Role::Teacher,
    )
    .await?;
    let student = join(
        addr,
        &url,
        &token("student", Role::Student)?,
        "Student",
        Role::Student,
    )
    .await?;
    // The teacher reads (and drops) what it is sent, so its socket never backs up.
    let (mut to_server, mut from_server) = teacher.split();
    let drain = tokio::spawn(async move { while from_server.next().await.is_some() {} });
    let send = |op: Op| ClientMessage::Class(ClassRequest::Annotate { op }).encode();
    to_server
        .send(Message::text(send(Op::AddPage {
            page: PAGE.into(),
            background: Background::Blank,
        })))
        .await?;

    let sent: Sent = Arc::default();
    let batches_per_stroke = cli.samples.div_ceil(cli.per_batch);
    let expected = cli.strokes * batches_per_stroke;
    let watcher = tokio::spawn(watch_board(student, sent.clone(), expected));
    let mut tick = tokio::time::interval(BATCH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for stroke in 0..cli.strokes {
        let item = format!("s{stroke}");
        for b in 0..batches_per_stroke {
            tick.tick().await;
            let from = b * cli.per_batch;
            let to = (from + cli.per_batch).min(cli.samples);
            let samples: Vec<Sample> = (from..to).map(|i| sample(i, stroke)).collect();
            let op = if b == 0 {
                Op::BeginStroke {
                    page: PAGE.into(),
                    item: item.clone(),
                    tool: Tool::Pen,
                    style: Style {
                        color: [20, 40, 200, 255],
                        width: 3.0,
                    },
                    samples,
                }
            } else {
                Op::ExtendStroke {
                    page: PAGE.into(),
                    item: item.clone(),
                    from: from as u32,
                    samples,
                }
            };
            let text = send(op);
            sent.lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .insert((item.clone(), from as u32), Instant::now());
            to_server.send(Message::text(text)).await?;
        }
        to_server
            .send(Message::text(send(Op::EndStroke {
                page: PAGE.into(),
                item,
                count: cli.samples as u32,
            })))
            .await?;
    }
    let delays = watcher.await.context("the student's task")??;
    drain.abort();
    server.shutdown().await;
    Ok(delays)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.strokes == 0 || cli.samples == 0 || cli.per_batch == 0 || cli.ops < 100 {
        bail!("--strokes, --samples and --per-batch must be positive, --ops at least 100");
    }
    let (ops_per_s, ops_applied) = model_throughput(cli.ops);
    println!("model: {ops_applied} changes applied at {ops_per_s:.0} changes/s (best of 3)");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let mut delays = rt.block_on(stroke_delay(&cli))?;
    delays.sort_by(f64::total_cmp);
    let (p50, p95) = (percentile(&delays, 0.5), percentile(&delays, 0.95));
    println!(
        "remote stroke: {} batches of {} samples, teacher to student through the server on \
         loopback: p50 {p50:.1} ms, p95 {p95:.1} ms, max {:.1} ms",
        delays.len(),
        cli.per_batch,
        delays.last().copied().unwrap_or(f64::NAN)
    );
    let result = serde_json::json!({
        "stroke_p50_ms": (p50 * 10.0).round() / 10.0,
        "stroke_p95_ms": (p95 * 10.0).round() / 10.0,
        "stroke_batches": delays.len(),
        "ops_per_s": ops_per_s.round(),
        "ops_applied": ops_applied,
    });
    println!("RESULT {result}");
    Ok(())
}
