//! `cargo xtask bench store`: a library of 10,000 lessons (50 courses, one to three materials
//! each, titles of three subject words in English or Chinese, notes of thirty words from a
//! larger vocabulary), listed and searched: broad queries (a subject word is in about one
//! lesson in five), a rare word, a single Chinese character (any pair starting with it). Prints the figures
//! and ends with `BENCH store {json}`.
//!
//! `download_vs_curl` and `resume_extra_bytes` need the lesson service and the downloader,
//! which are not built yet: they print as null until then.

use std::time::Instant;

use classroom_store::*;

const LESSONS: usize = 10_000;
const RUNS: usize = 30;

const WORDS: &[&str] = &[
    "forces",
    "energy",
    "motion",
    "waves",
    "light",
    "electricity",
    "magnetism",
    "atoms",
    "cells",
    "genetics",
    "evolution",
    "fractions",
    "algebra",
    "geometry",
    "poetry",
    "history",
    "牛顿",
    "运动",
    "能量",
    "电路",
    "光学",
    "细胞",
    "遗传",
    "几何",
    "代数",
    "诗歌",
    "历史",
];

fn main() {
    if let Err(e) = run() {
        eprintln!("bench store: {e}");
        std::process::exit(1);
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn run() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("classroom-store-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut store = Store::open(&dir, &StoreOptions { reserve_bytes: 0 })?;
    let mut rng = fastrand::Rng::with_seed(7);
    // Notes read like notes: mostly words from a larger vocabulary (5,000 made-up words, the
    // common ones far more often), now and then a subject word.
    let syllables = [
        "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "qu", "xi",
    ];
    let vocabulary: Vec<String> = (0..5_000)
        .map(|n| {
            let mut w = String::new();
            let mut k = n + 12;
            while k > 0 {
                w.push_str(syllables[k % syllables.len()]);
                k /= syllables.len();
            }
            w
        })
        .collect();
    let fill = Instant::now();
    for c in 0..50 {
        store.put_course(&Course {
            id: format!("c{c}"),
            title: format!("Course {c}"),
            teacher: format!("Teacher {c}"),
            origin: String::new(),
        })?;
        let lessons: Vec<(Lesson, Vec<Material>)> = (0..LESSONS / 50)
            .map(|i| {
                let id = format!("c{c}-l{i}");
                let title: Vec<&str> = (0..3).map(|_| WORDS[rng.usize(..WORDS.len())]).collect();
                let notes: Vec<&str> = (0..30)
                    .map(|_| {
                        if rng.u8(0..10) == 0 {
                            WORDS[rng.usize(..WORDS.len())]
                        } else {
                            let u = rng.f64();
                            vocabulary[(u * u * vocabulary.len() as f64) as usize].as_str()
                        }
                    })
                    .collect();
                let materials = (0..rng.usize(1..4))
                    .map(|m| Material {
                        id: format!("{id}-m{m}"),
                        lesson_id: id.clone(),
                        kind: MaterialKind::Pdf,
                        title: format!("Material {m}"),
                        hash: ContentHash::of(format!("{id}-{m}").as_bytes()),
                        size: rng.u64(10_000..50_000_000),
                        mime: "application/pdf".into(),
                        position: m as i64,
                    })
                    .collect();
                (
                    Lesson {
                        id: id.clone(),
                        course_id: format!("c{c}"),
                        title: format!("{} {i}", title.join(" ")),
                        notes: notes.join(" "),
                        position: i as i64,
                        updated_ms: 0,
                    },
                    materials,
                )
            })
            .collect();
        store.put_lessons(&lessons)?;
    }
    // A tenth of the materials are on this computer.
    for n in 0..LESSONS / 10 {
        store.save_bytes(format!("offline {n}").as_bytes())?;
    }
    println!(
        "library: {LESSONS} lessons in 50 courses, written in {:.0} ms",
        fill.elapsed().as_secs_f64() * 1000.0
    );

    let mut list = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let all = store.lessons(None)?;
        list.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(all.len(), LESSONS);
    }
    let list_ms = median(list);
    println!("list all {LESSONS} lessons with what is offline: {list_ms:.2} ms (median of {RUNS})");

    let queries = [
        "energy",
        "waves light",
        "牛顿",
        "运动 能量",
        "geometry 12",
        "kalo",
        "电",
    ];
    let mut search = Vec::new();
    for q in queries {
        let mut times = Vec::new();
        let mut found = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            found = store.search(q, 50)?.len();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let m = median(times);
        println!("search {q:?}: {m:.2} ms, {found} hits (first 50)");
        search.push(m);
    }
    let search_ms = search.iter().cloned().fold(0.0, f64::max);
    println!("search (slowest query's median): {search_ms:.2} ms");
    println!("download_vs_curl, resume_extra_bytes: not measured (no lesson service yet)");
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "BENCH store {}",
        serde_json::json!({
            "lessons": LESSONS,
            "list_10k_ms": (list_ms * 100.0).round() / 100.0,
            "search_ms": (search_ms * 100.0).round() / 100.0,
            "download_vs_curl": null,
            "resume_extra_bytes": null,
        })
    );
    Ok(())
}
