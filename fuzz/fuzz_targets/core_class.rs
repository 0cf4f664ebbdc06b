//! Any sequence of signaling messages into the SFU core from a class's three kinds of
//! connection: the teacher (1), a student (2) and one that has not joined (3). A line is one
//! message, its first character the connection (`1`, `2` or `3`; anything else is the
//! student) and the rest its JSON; 250 ms pass between lines, so timers, rate limits and the
//! class's clocks (polls, roll calls, timers) move. This reaches joins with any token, room,
//! name or class code, the lobby, and every class request (chat, hands, polls, roll call,
//! stage, annotation, roster, reports) through the server's enforcement, from the right and
//! the wrong role. Never a panic, and when everyone has gone the server holds no room and no
//! participant. Seeds: `fuzz/seeds/core_class` (the protocol's golden messages).
#![no_main]

use std::time::{Duration, Instant};

use classroom_fuzz::class_core;
use classroom_protocol::ClientMessage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let mut sfu = class_core(start);
    let text = String::from_utf8_lossy(data);
    let mut now = start;
    for line in text.lines().take(64) {
        let (conn, json) = match line.as_bytes().first() {
            Some(b'1') => (1, &line[1..]),
            Some(b'2') => (2, &line[1..]),
            Some(b'3') => (3, &line[1..]),
            _ => (2, line),
        };
        now += Duration::from_millis(250);
        if let Ok(msg) = ClientMessage::decode(json) {
            sfu.handle_signal(now, conn, msg);
        }
        sfu.handle_timeout(now);
        while sfu.poll_output().is_some() {}
    }
    now += Duration::from_millis(250);
    for conn in 1..=3 {
        sfu.disconnect(now, conn);
    }
    sfu.handle_timeout(now + Duration::from_secs(120));
    while sfu.poll_output().is_some() {}
    let left = sfu.metrics().snapshot();
    assert_eq!((left.rooms, left.participants), (0, 0), "everyone left");
});
