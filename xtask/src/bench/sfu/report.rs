//! `bench sfu`'s report: the table of ours against Janus (and on more threads, with AES-CM,
//! over the send floor) and the `BENCH sfu {json}` line whose fields CI and the issue read.

use std::time::Duration;

use super::janus::Route;
use super::{Pinning, Summary};

pub(super) fn num(s: Option<&Summary>, key: &str) -> Option<f64> {
    s?.get(key)?.parse().ok()
}

/// `cpu_by_subs=1:1.4,2:2.0,...` as (subscribers, CPU %) pairs.
pub(super) fn cpu_by_subs(s: Option<&Summary>) -> Vec<(u64, f64)> {
    s.and_then(|s| s.get("cpu_by_subs"))
        .map(|v| {
            v.split(',')
                .filter_map(|p| p.split_once(':'))
                .filter_map(|(n, c)| Some((n.parse().ok()?, c.parse().ok()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// The largest subscriber count both runs reached within limits, with each server's CPU there.
pub(super) fn common_step(a: &[(u64, f64)], b: &[(u64, f64)]) -> Option<(u64, f64, f64)> {
    a.iter()
        .filter_map(|&(n, ca)| b.iter().find(|&&(m, _)| m == n).map(|&(_, cb)| (n, ca, cb)))
        .max_by_key(|&(n, _, _)| n)
}

pub(super) fn json_num(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.3}"),
        _ => "null".into(),
    }
}

pub(super) fn json_str(v: Option<&String>) -> String {
    match v {
        Some(s) => format!(
            "\"{}\"",
            s.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('_', " ")
        ),
        None => "null".into(),
    }
}

/// Our server on more than one thread: the load run and the core alone.
pub(super) struct Scaling {
    pub threads: u64,
    pub ours: Summary,
    pub core: Summary,
}

pub(super) fn print_report(
    ours: &Summary,
    janus: Option<&Summary>,
    scaling: &Scaling,
    aes_cm: &Summary,
    floor: &Summary,
    route: Route,
    took: Duration,
) {
    let o = Some(ours);
    let cell = |v: Option<f64>, prec: usize| match v {
        Some(x) => format!("{x:.prec$}"),
        None => "-".into(),
    };
    let ratio = match (
        num(o, "subs_per_core"),
        num(janus, "subs_per_core").filter(|&j| j > 0.0),
    ) {
        (Some(a), Some(b)) => Some(a / b),
        _ => None,
    };
    println!("\n== bench sfu: ours vs Janus, same load, same machine ==");
    println!(
        "{:<34} {:>12} {:>12} {:>16}",
        "figure (at the last step within limits)", "ours", "janus", "target (ours)"
    );
    let rows: [(&str, &str, usize, &str); 13] = [
        ("subscribers reached", "last_good_subs", 0, ""),
        ("server CPU, % of one core", "cpu_pct", 1, ""),
        ("server CPU us per video pkt out", "us_per_pkt", 2, "<= 3"),
        ("subscribers per core", "subs_per_core", 1, ">= 5x janus"),
        ("added latency p50, ms", "p50_ms", 3, ""),
        ("added latency p99, ms", "p99_ms", 3, "<= 10 at 200"),
        ("  of large frames' packets", "p99_ms_large_frames", 3, ""),
        ("  of the other packets", "p99_ms_other", 3, ""),
        (
            "  large frames' share of copies, %",
            "large_frame_copies_pct",
            2,
            "",
        ),
        ("added latency p50, ms, 1 sub", "p50_ms_1sub", 3, "<= 0.2"),
        ("added latency p99, ms, 1 sub", "p99_ms_1sub", 3, "<= 1"),
        ("loss, %", "loss_pct", 3, ""),
        (
            "server RSS per subscriber, KiB",
            "rss_kb_per_sub",
            1,
            "<= 100",
        ),
    ];
    for (label, key, prec, target) in rows {
        println!(
            "{:<34} {:>12} {:>12} {:>16}",
            label,
            cell(num(o, key), prec),
            cell(num(janus, key), prec),
            target
        );
    }
    let common = common_step(&cpu_by_subs(o), &cpu_by_subs(janus));
    if let Some((n, a, b)) = common {
        println!(
            "{:<34} {:>12.1} {:>12.1}    (janus/ours: {:.2}x)",
            format!("server CPU % at {n} subscribers"),
            a,
            b,
            if a > 0.0 { b / a } else { 0.0 }
        );
    }
    println!(
        "{:<34} {:>12} {:>12}",
        "load generator CPU, % of one core",
        cell(num(o, "loadgen_cpu_pct"), 1),
        cell(num(janus, "loadgen_cpu_pct"), 1)
    );
    println!(
        "{:<34} {:>12} {:>12}",
        "run stopped by",
        ours.get("stop").map_or("-".into(), |s| s.replace('_', " ")),
        janus
            .and_then(|j| j.get("stop"))
            .map_or("-".into(), |s| s.replace('_', " "))
    );
    let t = scaling.threads;
    let o2 = Some(&scaling.ours);
    let core = Some(&scaling.core);
    println!("\n== ours on {t} threads ==");
    println!(
        "{:<34} {:>12} {:>12}",
        "figure",
        "1 thread",
        format!("{t} threads")
    );
    for (label, one, many, prec) in [
        (
            "core alone: ns per copy, 200 subs",
            num(core, "core_ns_per_copy_1_threads"),
            num(core, &format!("core_ns_per_copy_{t}_threads")),
            0,
        ),
        (
            "core alone: ns/copy, bursts of 8",
            num(core, "burst8_core_ns_per_copy_1_threads"),
            num(core, &format!("burst8_core_ns_per_copy_{t}_threads")),
            0,
        ),
        (
            "load run: subscribers per core",
            num(o, "subs_per_core"),
            num(o2, "subs_per_core"),
            1,
        ),
        (
            "load run: subscribers reached",
            num(o, "last_good_subs"),
            num(o2, "last_good_subs"),
            0,
        ),
        (
            "load run: latency p99, ms",
            num(o, "p99_ms"),
            num(o2, "p99_ms"),
            3,
        ),
    ] {
        println!(
            "{:<34} {:>12} {:>12}",
            label,
            cell(one, prec),
            cell(many, prec)
        );
    }
    println!(
        "core speed-up on {t} threads: {} (the same work, wall time; the load run shares \
         the machine's 2 cores with the load generator, which receives every copy)",
        cell(num(core, &format!("core_speedup_{t}_threads")), 2)
    );
    println!(
        "core alone, 1 thread, asleep 5 ms between turns: {} ns per copy (the state a stream's \
         next packet finds left in the caches, as in the load run at 200)",
        cell(num(core, "idle5ms_core_ns_per_copy_1_threads"), 0)
    );
    let cm = Some(aes_cm);
    println!(
        "\n== ours, 1 thread: SRTP as browsers (AES-GCM) and as the app's students (AES-CM) =="
    );
    for (label, key, prec) in [
        ("server CPU us per video pkt out", "us_per_pkt", 2),
        ("subscribers per core", "subs_per_core", 1),
        ("latency p99, ms", "p99_ms", 3),
    ] {
        println!(
            "{:<34} {:>12} {:>12}",
            label,
            cell(num(o, key), prec),
            cell(num(cm, key), prec)
        );
    }
    let fl = Some(floor);
    let floor_us = |prefix: &str| num(fl, &format!("{prefix}ns_per_datagram")).map(|n| n / 1000.0);
    println!(
        "\n== the send floor: 200 students' copies sealed (AES-GCM) and sent, nothing else, asleep \
         5 ms between turns =="
    );
    for (label, prefix) in [
        ("one datagram per student a turn", "burst1_"),
        ("five in one GSO message each", "burst5_"),
        ("an audio packet (160 B) alone", "audio_"),
    ] {
        println!(
            "{:<34} {:>8} us per datagram (system {} us)",
            label,
            cell(floor_us(prefix), 2),
            cell(
                num(fl, &format!("{prefix}ns_sys_per_datagram")).map(|n| n / 1000.0),
                2
            )
        );
    }
    // The load run's mix: its video copies go in GSO messages of a frame's packets, its
    // audio copies alone, and `us_per_pkt` divides the CPU of both by the video packets.
    let floor_mix = floor_us("burst5_")
        .zip(floor_us("audio_"))
        .zip(num(o, "audio_per_video"))
        .map(|((video, audio), per)| video + per * audio);
    println!(
        "{:<34} {:>8} us per video packet (five per GSO message, plus {} audio copies alone \
         per video copy)",
        "the load run's mix",
        cell(floor_mix, 2),
        cell(num(o, "audio_per_video"), 3)
    );
    println!(
        "ours, 1 thread, load run: {} us per video packet, {} us of it above the floor",
        cell(num(o, "us_per_pkt"), 2),
        cell(num(o, "us_per_pkt").zip(floor_mix).map(|(a, b)| a - b), 2)
    );
    println!(
        "one packet relayed by a bare thread   p50 {} / p99 {} ms added (the floor under one \
         subscriber's delay: system calls, route, two idle CPUs woken; ours {} / {})",
        cell(num(fl, "delay_p50_ms"), 3),
        cell(num(fl, "delay_p99_ms"), 3),
        cell(num(o, "p50_ms_1sub"), 3),
        cell(num(o, "p99_ms_1sub"), 3)
    );
    println!(
        "subscribers per core = subscribers reached / server CPU fraction at that step (extrapolated \
         when the run ended at --max-subs before 85%); us per packet = all server CPU in the \
         window / video packets subscribers received (audio, RTCP and ingest included, so an upper \
         bound); latency = publisher socket send to subscriber socket receive of the same payload, \
         both in the load generator, on the same machine. Route: {}. Took {:.0} s.",
        match route {
            Route::Hosts =>
                "as between hosts (the load generator in its own network namespace, \
                             each side's receives on its own CPUs)",
            Route::Local => "one local address (the students' receives charged to the server)",
        },
        took.as_secs_f64()
    );
    let json = format!(
        "{{\"us_per_pkt_ours\":{},\"us_per_pkt_janus\":{},\"subs_per_core_ours\":{},\
         \"subs_per_core_janus\":{},\"subs_per_core_ratio\":{},\"added_latency_p50_ms\":{},\
         \"added_latency_p99_ms\":{},\"loss_pct\":{},\"rss_kb_per_sub\":{},\
         \"added_latency_p50_ms_janus\":{},\"added_latency_p99_ms_janus\":{},\"loss_pct_janus\":{},\
         \"rss_kb_per_sub_janus\":{},\"subs_reached_ours\":{},\"subs_reached_janus\":{},\
         \"cpu_pct_ours\":{},\"cpu_pct_janus\":{},\"common_subs\":{},\"cpu_pct_common_ours\":{},\
         \"cpu_pct_common_janus\":{},\"stop_ours\":{},\"stop_janus\":{},\
         \"added_latency_p50_ms_1sub\":{},\"added_latency_p99_ms_1sub\":{},\
         \"added_latency_p50_ms_1sub_janus\":{},\"added_latency_p99_ms_1sub_janus\":{},\
         \"threads\":{},\"subs_per_core_2_threads\":{},\"subs_reached_2_threads\":{},\
         \"added_latency_p50_ms_2_threads\":{},\"added_latency_p99_ms_2_threads\":{},\
         \"core_ns_per_copy_1_thread\":{},\"core_ns_per_copy_2_threads\":{},\
         \"core_speedup_2_threads\":{},\"us_per_pkt_ours_aes_cm\":{},\
         \"subs_per_core_ours_aes_cm\":{},\"added_latency_p99_ms_aes_cm\":{},\
         \"core_ns_per_copy_burst8_1_thread\":{},\"core_ns_per_copy_burst8_2_threads\":{},\
         \"core_ns_per_copy_idle5ms_1_thread\":{},\"send_floor_us_per_pkt_1by1\":{},\
         \"send_floor_us_per_pkt_gso5\":{},\"send_floor_us_per_video_pkt_mix\":{},\
         \"loadgen_shares_machine\":true,\"pinned_1_thread\":{},\"route\":\"{}\",\
         \"added_latency_p99_ms_large_frames\":{},\"added_latency_p99_ms_other\":{},\
         \"large_frame_copies_pct\":{},\"delay_floor_p50_ms\":{},\"delay_floor_p99_ms\":{}}}",
        json_num(num(o, "us_per_pkt")),
        json_num(num(janus, "us_per_pkt")),
        json_num(num(o, "subs_per_core")),
        json_num(num(janus, "subs_per_core")),
        json_num(ratio),
        json_num(num(o, "p50_ms")),
        json_num(num(o, "p99_ms")),
        json_num(num(o, "loss_pct")),
        json_num(num(o, "rss_kb_per_sub")),
        json_num(num(janus, "p50_ms")),
        json_num(num(janus, "p99_ms")),
        json_num(num(janus, "loss_pct")),
        json_num(num(janus, "rss_kb_per_sub")),
        json_num(num(o, "last_good_subs")),
        json_num(num(janus, "last_good_subs")),
        json_num(num(o, "cpu_pct")),
        json_num(num(janus, "cpu_pct")),
        json_num(common.map(|c| c.0 as f64)),
        json_num(common.map(|c| c.1)),
        json_num(common.map(|c| c.2)),
        json_str(ours.get("stop")),
        json_str(janus.and_then(|j| j.get("stop"))),
        json_num(num(o, "p50_ms_1sub")),
        json_num(num(o, "p99_ms_1sub")),
        json_num(num(janus, "p50_ms_1sub")),
        json_num(num(janus, "p99_ms_1sub")),
        t,
        json_num(num(o2, "subs_per_core")),
        json_num(num(o2, "last_good_subs")),
        json_num(num(o2, "p50_ms")),
        json_num(num(o2, "p99_ms")),
        json_num(num(core, "core_ns_per_copy_1_threads")),
        json_num(num(core, &format!("core_ns_per_copy_{t}_threads"))),
        json_num(num(core, &format!("core_speedup_{t}_threads"))),
        json_num(num(cm, "us_per_pkt")),
        json_num(num(cm, "subs_per_core")),
        json_num(num(cm, "p99_ms")),
        json_num(num(core, "burst8_core_ns_per_copy_1_threads")),
        json_num(num(core, &format!("burst8_core_ns_per_copy_{t}_threads"))),
        json_num(num(core, "idle5ms_core_ns_per_copy_1_threads")),
        json_num(floor_us("burst1_")),
        json_num(floor_us("burst5_")),
        json_num(floor_mix),
        Pinning::for_threads(1).server.is_some(),
        route.name(),
        json_num(num(o, "p99_ms_large_frames")),
        json_num(num(o, "p99_ms_other")),
        json_num(num(o, "large_frame_copies_pct")),
        json_num(num(fl, "delay_p50_ms")),
        json_num(num(fl, "delay_p99_ms")),
    );
    println!("BENCH sfu {json}");
}
