//! Works the store hard and forever (downloads in chunks, catalog updates, hand-ins, the
//! outbox, eviction) so that the crash test can kill it at any moment with SIGKILL and check
//! what the next open finds. Not part of the product.
//!
//! `classroom-store-torture <dir> <seed>` prints, flushed, one line per event:
//! `file <i> <hash> <size>` (the files it downloads), `begin <i> <offset>` (a download opened
//! at that offset), `got <i> <end>` (bytes up to `end` "arrived from the network", printed
//! before they are written) and `done <i>`.

use std::io::Write;
use std::path::PathBuf;

use classroom_store::*;

const FILES: u64 = 6;
const CHUNK: usize = 32 * 1024;

fn content(i: u64) -> Vec<u8> {
    let size = 150_000 + i as usize * 97_531;
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (i + 1);
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(seed)) = (args.next(), args.next()) else {
        eprintln!("usage: classroom-store-torture <dir> <seed>");
        std::process::exit(2);
    };
    if let Err(e) = run(PathBuf::from(dir), seed.parse().unwrap_or(1)) {
        eprintln!("torture: {e}");
        std::process::exit(1);
    }
}

fn say(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn run(dir: PathBuf, seed: u64) -> Result<()> {
    let mut store = Store::open(&dir, &StoreOptions { reserve_bytes: 0 })?;
    let files: Vec<Vec<u8>> = (0..FILES).map(content).collect();
    for (i, f) in files.iter().enumerate() {
        say(format_args!("file {i} {} {}", ContentHash::of(f), f.len()));
    }
    store.put_course(&Course {
        id: "c".into(),
        title: "Torture".into(),
        teacher: String::new(),
        origin: String::new(),
    })?;
    store.put_assignment(&Assignment {
        id: "hw".into(),
        course_id: "c".into(),
        lesson_id: None,
        title: "Homework".into(),
        instructions: String::new(),
        due_ms: None,
    })?;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut round = 0i64;
    loop {
        round += 1;
        match rng.u8(0..10) {
            0..=4 => {
                let i = rng.u64(0..FILES) as usize;
                let hash = ContentHash::of(&files[i]);
                if store.has_file(&hash)? {
                    continue;
                }
                let mut part = store.begin_download(&hash, files[i].len() as u64)?;
                say(format_args!("begin {i} {}", part.offset()));
                // A few chunks, sometimes to the end, like a download interrupted or not.
                let mut chunks = rng.usize(1..12);
                while part.offset() < part.size() && chunks > 0 {
                    let start = part.offset() as usize;
                    let end = (start + CHUNK).min(files[i].len());
                    say(format_args!("got {i} {end}"));
                    part.write(&files[i][start..end])?;
                    part.sync()?;
                    chunks -= 1;
                }
                if part.offset() == part.size() {
                    store.finish_download(part)?;
                    say(format_args!("done {i}"));
                }
            }
            5 | 6 => {
                // The catalog as a server would send it: lessons and materials in one go.
                let lessons: Vec<(Lesson, Vec<Material>)> = (0..rng.u32(5..40))
                    .map(|n| {
                        let id = format!("l{}", rng.u32(0..200));
                        let f = rng.u64(0..FILES) as usize;
                        (
                            Lesson {
                                id: id.clone(),
                                course_id: "c".into(),
                                title: format!("Lesson {n} of round {round}"),
                                notes: "notes ".repeat(rng.usize(0..50)),
                                position: i64::from(n),
                                updated_ms: round,
                            },
                            vec![Material {
                                id: format!("{id}-m"),
                                lesson_id: id,
                                kind: MaterialKind::Pdf,
                                title: "material".into(),
                                hash: ContentHash::of(&files[f]),
                                size: files[f].len() as u64,
                                mime: "application/pdf".into(),
                                position: 0,
                            }],
                        )
                    })
                    .collect();
                store.put_lessons(&lessons)?;
                store.mark_used(&format!("l{}", rng.u32(0..200)), round)?;
            }
            7 => {
                let body: Vec<u8> = (0..rng.usize(1_000..50_000)).map(|_| rng.u8(..)).collect();
                store.hand_in("hw", "work.bin", &mut &body[..], round)?;
            }
            8 => {
                if let Some(item) = store.outbox_due(i64::MAX, 1)?.into_iter().next() {
                    if rng.bool() {
                        store.outbox_sent(&item.key)?;
                    } else {
                        store.outbox_failed(&item.key, "offline", round)?;
                    }
                }
                store.enqueue("quizAnswer", &format!("{{\"round\":{round}}}"), round)?;
            }
            _ => {
                store.set_quota(Some(rng.u64(500_000..3_000_000)))?;
                store.evict(0)?;
            }
        }
    }
}
