//! Prints what a class of N students costs the class's rules alone: memory per student
//! (resident set growth, Linux), outputs and deliveries for the joins and a roll call, and
//! the time the state machine spent. A figure printer, not a test:
//!
//!     cargo run --release -p classroom-classroom --example class_scale -- 10000
//!
//! Last line: `SCALE {json}`.

use std::time::Instant;

use classroom::{
    ClassRequest, Classroom, Config, Entry, EntryVia, Output, Role, SeededRandom, Source,
};

/// Resident set size in KiB, from `/proc/self/status` (0 where there is none).
fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn entry(identity: &str, role: Role, now: u64) -> Entry {
    Entry {
        room: "bench".into(),
        identity: Some(identity.into()),
        display_name: format!("Student {identity}"),
        role,
        via: EntryVia::Token,
        expires_ms: now + 6 * 3_600_000,
        subscribe: true,
        publish: vec![Source::Camera, Source::Microphone],
        companion_of: None,
    }
}

/// Drains outputs, counting them and their deliveries.
fn drain(c: &mut Classroom, counts: &mut (u64, u64)) {
    while let Some(o) = c.poll_output() {
        counts.0 += 1;
        counts.1 += match o {
            Output::Send { .. } => 1,
            Output::Broadcast { to, .. } => to.len() as u64,
            _ => 0,
        };
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let mut now = 1_700_000_000_000u64;
    let mut c = Classroom::new(Config::default(), Box::new(SeededRandom::new(1)));
    let mut joins = (0, 0);
    c.join(now, 0, entry("teacher", Role::Teacher, now))
        .expect("teacher joins");
    drain(&mut c, &mut joins);
    let before = rss_kb();
    let started = Instant::now();
    for i in 0..n {
        c.join(
            now,
            1 + i as u64,
            entry(&format!("s{i}"), Role::Student, now),
        )
        .expect("student joins");
        drain(&mut c, &mut joins);
    }
    while c.stats().waiting > 0 {
        now += 100;
        c.tick(now);
        drain(&mut c, &mut joins);
    }
    now += 2_000;
    c.tick(now);
    drain(&mut c, &mut joins);
    let join_ms = started.elapsed().as_secs_f64() * 1e3;
    let after = rss_kb();

    let mut roll = (0, 0);
    let started = Instant::now();
    c.handle(now, 0, ClassRequest::StartRollCall { seconds: 60 });
    c.tick(now);
    drain(&mut c, &mut roll);
    for i in 0..n {
        c.handle(
            now,
            1 + i as u64,
            ClassRequest::AnswerRollCall { roll_call_id: 1 },
        );
        drain(&mut c, &mut roll);
    }
    now += 1_000;
    c.tick(now);
    drain(&mut c, &mut roll);
    let roll_ms = started.elapsed().as_secs_f64() * 1e3;

    let per_student = (after.saturating_sub(before) * 1024) as f64 / n as f64;
    println!("students {n}: joined in {join_ms:.0} ms of state machine time");
    println!("  memory: {per_student:.0} bytes per student (resident set growth)");
    println!("  joins: {} outputs, {} deliveries", joins.0, joins.1);
    println!(
        "  roll call: {} outputs, {} deliveries, {roll_ms:.1} ms",
        roll.0, roll.1
    );
    println!(
        "SCALE {{\"students\":{n},\"bytes_per_student\":{per_student:.0},\"join_outputs\":{},\"join_deliveries\":{},\"roll_outputs\":{},\"roll_deliveries\":{},\"join_ms\":{join_ms:.1},\"roll_ms\":{roll_ms:.1}}}",
        joins.0, joins.1, roll.0, roll.1
    );
}
