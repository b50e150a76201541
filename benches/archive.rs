//! Phone lookup (the screen pop's question) on a SQLite archive of
//! `HOTLINE_BENCH_PEOPLE` people (default 100,000), built by importing a
//! generated CSV through the library. Prints p50/p99 over a fixed sample of
//! lookups, then lets criterion measure the same lookup.
//!
//! `HOTLINE_BENCH_PEOPLE=1000000 cargo bench --bench archive -- --quick`

use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use hotline::desk::archive::{ImportOptions, by_phone, import_file};
use hotline::store::{Store, StoreConfig};

const DEFAULT_PEOPLE: u64 = 100_000;
/// Lookups timed one by one for the percentiles.
const SAMPLES: usize = 10_000;
/// Rows per room: an owner and two household members.
const PER_ROOM: u64 = 3;
/// A fixed multiplier (coprime with any power of ten) to spread lookups.
const SPREAD: u64 = 7_919;

/// Archive size when the bench only runs as a smoke test (`cargo test
/// --all-targets` runs it without `--bench`).
const SMOKE_PEOPLE: u64 = 1_000;

fn people() -> u64 {
    let default = if std::env::args().any(|arg| arg == "--bench") {
        DEFAULT_PEOPLE
    } else {
        SMOKE_PEOPLE
    };
    std::env::var("HOTLINE_BENCH_PEOPLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn mobile(i: u64) -> String {
    format!("13{i:09}")
}

/// Writes the CSV: person i has mobile 13 + i (9 digits); every room also
/// has a shared landline.
fn write_csv(path: &std::path::Path, people: u64) {
    let file = std::fs::File::create(path).expect("create csv");
    let mut out = std::io::BufWriter::new(file);
    writeln!(out, "小区,楼栋,单元,房号,姓名,身份,手机,电话,备注").expect("write");
    for i in 0..people {
        let room = i / PER_ROOM;
        let (building, rest) = (room / 500 + 1, room % 500);
        let role = if i % PER_ROOM == 0 {
            "业主"
        } else {
            "家属"
        };
        writeln!(
            out,
            "金福花园,{building},{},{}{:02},住户{i},{role},{},0871-6{:07},",
            rest / 100 + 1,
            rest % 100 / 4 + 1,
            rest % 4 + 1,
            mobile(i),
            room % 10_000_000
        )
        .expect("write");
    }
    out.flush().expect("flush");
}

fn archive(c: &mut Criterion) {
    let people = people();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("archive.csv");
    write_csv(&csv, people);
    let store = runtime.block_on(async {
        let store = Store::open(&StoreConfig::default(), dir.path())
            .await
            .expect("open");
        let started = Instant::now();
        let options = ImportOptions {
            dry_run: false,
            default_area_code: None,
            community: None,
            now: SystemTime::now(),
            progress: |_| {},
        };
        let report = import_file(&store, &csv, options).await.expect("import");
        eprintln!(
            "archive of {people} people: {} in {:.1} s",
            report.summary,
            started.elapsed().as_secs_f64()
        );
        store
    });
    let numbers: Vec<String> = (0..SAMPLES as u64)
        .map(|k| mobile(k * SPREAD % people))
        .collect();
    let mut times: Vec<Duration> = runtime.block_on(async {
        let mut times = Vec::with_capacity(SAMPLES);
        for number in &numbers {
            let started = Instant::now();
            let found = by_phone(&store, number, None).await.expect("lookup");
            times.push(started.elapsed());
            assert_eq!(found.len(), 1, "{number}");
        }
        times
    });
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    eprintln!(
        "by_phone over {people} people, {SAMPLES} lookups: p50 {:?}, p99 {:?}, max {:?}",
        at(0.50),
        at(0.99),
        at(1.0)
    );
    let mut next = 0usize;
    c.bench_function("archive/by_phone", |b| {
        b.iter(|| {
            next = (next + 1) % numbers.len();
            runtime
                .block_on(by_phone(&store, &numbers[next], None))
                .expect("lookup")
        })
    });
}

criterion_group!(benches, archive);
criterion_main!(benches);
