//! FINESS benchmark (FINESS issue), on the synthetic national files of 100 000 establishments and 100 000 legal
//! entities (`segur finess synth`): import into the index (parse + build), the same with persistence to the store,
//! Python's `csv` module reading the same file into dicts (same run), lookup and name-search latencies, RSS.
//!
//! Run: `cargo bench --bench finess`.

use segur_gateway::finess::index::{FinessIndex, SearchQuery};
use std::time::{Duration, Instant};

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn best_of<T>(n: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..n {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed());
        out = Some(r);
    }
    (best, out.unwrap())
}

/// The records of a CSV file, imported on every core (the file's bytes are freed before returning).
fn csv_dataset(path: &str) -> segur_gateway::finess::model::Dataset {
    let bytes = std::fs::read(path).unwrap();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    segur_gateway::finess::csv_import::import_csv_bytes(&bytes[..], threads)
        .unwrap()
        .dataset
}

/// The index of a CSV file (see [`csv_dataset`]).
fn csv_index(path: &str) -> FinessIndex {
    FinessIndex::build(csv_dataset(path))
}

/// Child mode (`SEGUR_BENCH_INDEX_RSS=<csv>`): imports the file into an index, keeps only the index (what the
/// daemon keeps), and prints its RSS in MB. Run in a fresh process so the parent's other data does not count.
fn index_rss_child(path: &str) {
    // What `segur serve` does first.
    segur_gateway::finess::load::keep_large_blocks_out_of_the_heap();
    let index = csv_index(path);
    // What the daemon does after a build.
    segur_gateway::finess::load::release_free_memory();
    std::hint::black_box(&index);
    println!("{:.1} {}", rss_mb(), index.len());
}

/// Child mode for profilers (`SEGUR_BENCH_JSON=<json>`): imports the JSON file into an index, prints the times
/// (`SEGUR_BENCH_THREADS`: worker threads, 2 by default; `SEGUR_BENCH_STREAM` set: read as a stream).
fn json_child(path: &str) {
    let bytes = std::fs::read(path).unwrap();
    let threads: usize = std::env::var("SEGUR_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2);
    let stream = std::env::var_os("SEGUR_BENCH_STREAM").is_some();
    let t = Instant::now();
    let outcome = if stream {
        segur_gateway::finess::json_import::import_json_on(&bytes[..], threads)
    } else {
        segur_gateway::finess::json_import::import_json_bytes(&bytes, threads)
    }
    .unwrap();
    let parse = t.elapsed();
    let t = Instant::now();
    let index = FinessIndex::build(outcome.dataset);
    println!(
        "JSON parse on {threads} threads{} {:.0} ms, index build {:.0} ms ({} structures)",
        if stream { " as a stream" } else { "" },
        parse.as_secs_f64() * 1e3,
        t.elapsed().as_secs_f64() * 1e3,
        index.len()
    );
}

/// Child mode (`SEGUR_BENCH_BUILD=<csv>`), in a fresh process: imports the file once, then builds its index
/// 5 times on one thread and 5 times on every core, alternately, and prints the median of each (ms). Each build
/// gets a fresh copy of the records.
fn build_child(path: &str) {
    let data = csv_dataset(path);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..5 {
        for (i, t) in [1, threads].into_iter().enumerate() {
            let copy = data.clone();
            let start = Instant::now();
            let index = FinessIndex::build_on(copy, t);
            times[i].push(start.elapsed());
            drop(std::hint::black_box(index));
        }
    }
    let [mut one, mut all] = times;
    println!(
        "index build, median of 5: {:.0} ms on one thread, {:.0} ms on {threads}",
        pct(&mut one, 0.5).as_secs_f64() * 1e3,
        pct(&mut all, 0.5).as_secs_f64() * 1e3
    );
}

/// Lookup and name-search latencies over `index` (printed).
fn latencies(index: &FinessIndex) {
    // Lookups.
    let ids: Vec<_> = index
        .dataset()
        .establishments
        .iter()
        .map(|e| e.finess)
        .chain(index.dataset().entities.iter().map(|e| e.finess))
        .collect();
    let mut lat = Vec::with_capacity(ids.len());
    let mut found = 0usize;
    for id in ids.iter().step_by(2) {
        let t = Instant::now();
        found += usize::from(std::hint::black_box(index.get(id)).is_some());
        lat.push(t.elapsed());
    }
    println!(
        "lookup by FINESS over {} ids: p50 {:.2} µs, p99 {:.2} µs (found {found})",
        lat.len(),
        pct(&mut lat, 0.5).as_secs_f64() * 1e6,
        pct(&mut lat, 0.99).as_secs_f64() * 1e6
    );

    // Name searches: prefixes of real words of the names, one and two words, some with filters.
    let names: Vec<String> = index
        .dataset()
        .establishments
        .iter()
        .step_by(37)
        .map(|e| e.name().to_string())
        .collect();
    let mut queries = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let words: Vec<&str> = n
            .split_whitespace()
            .filter(|w| w.chars().count() > 2)
            .collect();
        if let Some(w) = words.last() {
            let p: String = w.chars().take(3 + i % 3).collect();
            queries.push(if i % 2 == 0 || words.len() < 2 {
                p
            } else {
                format!("{} {p}", words[0])
            });
        }
    }
    // Five passes over the same queries: a single pass's p99 (its 27th slowest query) moves by up to 1.7× from
    // run to run on a shared 2-core machine; the median pass is reported, with the range.
    let mut p50s = Vec::new();
    let mut p99s = Vec::new();
    let mut hits = 0usize;
    for _ in 0..5 {
        let mut lat = Vec::with_capacity(queries.len());
        hits = 0;
        for (i, q) in queries.iter().enumerate() {
            let mut query = SearchQuery::new(q).limit(20);
            if i % 5 == 0 {
                query = query.department("75");
            }
            let t = Instant::now();
            hits += std::hint::black_box(index.search(&query)).len();
            lat.push(t.elapsed());
        }
        p50s.push(pct(&mut lat, 0.5));
        p99s.push(pct(&mut lat, 0.99));
    }
    let (p50, p99) = (pct(&mut p50s, 0.5), pct(&mut p99s, 0.5));
    println!(
        "name search over {} queries, median of 5 passes: p50 {:.1} µs, p99 {:.1} µs (passes {:.0}–{:.0} µs; {hits} hits)",
        queries.len(),
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        p99s[0].as_secs_f64() * 1e6,
        p99s[4].as_secs_f64() * 1e6
    );
}

/// Child mode (`SEGUR_BENCH_LATENCY=<csv>`): [`latencies`] in a fresh process holding only the index.
fn latency_child(path: &str) {
    segur_gateway::finess::load::keep_large_blocks_out_of_the_heap();
    latencies(&csv_index(path));
}

/// Seconds `benches/finess_csv.py` takes to read `csv_path` (what it prints).
fn python_seconds(csv_path: &std::path::Path) -> Result<f64, String> {
    let out = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/finess_csv.py"
        ))
        .arg(csv_path)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("unexpected output {text:?}"))
}

/// RSS (MB) of a fresh process holding the index of `csv_path`, and its structure count.
fn index_rss(csv_path: &std::path::Path) -> Option<(f64, usize)> {
    let out = std::process::Command::new(std::env::current_exe().ok()?)
        .env("SEGUR_BENCH_INDEX_RSS", csv_path)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
}

/// Starts the release daemon on the store `db`, waits until `GET /v1/finess/{id}` answers, reads its RSS (MB);
/// also returns how long the index took to answer.
async fn daemon_rss(db: &std::path::Path, id: &str) -> Option<(f64, Duration)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_segur"))
        .arg("serve")
        .env_remove("SEGUR_CONFIG")
        .env("SEGUR_API__LISTEN", format!("127.0.0.1:{port}"))
        .env("SEGUR_STORE__PATH", db)
        .env("SEGUR_SANDBOX__PORTS__TLS_CHECK", "0")
        .env("SEGUR_SANDBOX__PORTS__INSI", "0")
        .env("SEGUR_SANDBOX__PORTS__FHIR", "0")
        .env("SEGUR_SANDBOX__PORTS__PSC", "0")
        .env("SEGUR_SANDBOX__PORTS__DMP", "0")
        .env("SEGUR_API_KEY", "sgw_bench")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    segur_gateway::pki::tls::install_default_provider();
    let http = reqwest::Client::builder().no_proxy().build().ok()?;
    let start = Instant::now();
    let mut result = None;
    while start.elapsed() < Duration::from_secs(30) {
        let ok = http
            .get(format!("http://127.0.0.1:{port}/v1/finess/{id}"))
            .bearer_auth("sgw_bench")
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            let waited = start.elapsed();
            let status =
                std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
            result = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                .map(|kb| (kb / 1024.0, waited));
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    result
}

#[tokio::main]
async fn main() {
    if let Ok(path) = std::env::var("SEGUR_BENCH_INDEX_RSS") {
        index_rss_child(&path);
        return;
    }
    if let Ok(path) = std::env::var("SEGUR_BENCH_LATENCY") {
        latency_child(&path);
        return;
    }
    if let Ok(path) = std::env::var("SEGUR_BENCH_JSON") {
        json_child(&path);
        return;
    }
    if let Ok(path) = std::env::var("SEGUR_BENCH_BUILD") {
        build_child(&path);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("finess.csv");
    let json_path = dir.path().join("finess.json");
    segur_gateway::finess::synth::write_csv(
        std::io::BufWriter::new(std::fs::File::create(&csv_path).unwrap()),
        100_000,
        100_000,
        42,
    )
    .unwrap();
    segur_gateway::finess::synth::write_json(
        std::io::BufWriter::new(std::fs::File::create(&json_path).unwrap()),
        100_000,
        100_000,
        42,
    )
    .unwrap();
    let csv = std::fs::read(&csv_path).unwrap();
    let json = std::fs::read(&json_path).unwrap();
    println!(
        "synthetic files: CSV {:.1} MB, JSON {:.1} MB",
        csv.len() as f64 / 1e6,
        json.len() as f64 / 1e6
    );

    // The floor of any CSV reader: check the UTF-8 and find every separator, one thread, nothing kept.
    let (t_floor, separators) = best_of(3, || {
        std::str::from_utf8(&csv).expect("UTF-8 synthetic file");
        memchr::memchr2_iter(b';', b'\n', &csv).count()
    });
    println!(
        "floor: UTF-8 check + every ';' and newline found ({separators} separators, one thread): {:.0} ms",
        t_floor.as_secs_f64() * 1e3
    );
    let (t_stream_csv, outcome) = best_of(3, || {
        segur_gateway::finess::csv_import::import_csv(&csv[..]).unwrap()
    });
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    for t in [threads, 1] {
        let read = segur_gateway::finess::csv_import::import_csv_bytes(&csv[..], t).unwrap();
        assert_eq!(
            read.dataset, outcome.dataset,
            "in-memory read on {t} threads = stream read"
        );
    }
    // The importer in memory on every core and on one thread, then Python's `csv` module on the same file, in 5
    // interleaved rounds: a burst of load from the other tenants of this shared machine then slows both sides
    // alike (one Python run varied from 1.5 to 5.6 s, and the best of 3 Rust runs from 102 to 156 ms between runs
    // of this benchmark). Medians are compared.
    let mut rust_par = Vec::new();
    let mut rust_one = Vec::new();
    let mut python = Vec::new();
    let mut python_error = None;
    for _ in 0..5 {
        for (t, times) in [(threads, &mut rust_par), (1, &mut rust_one)] {
            let start = Instant::now();
            let read = segur_gateway::finess::csv_import::import_csv_bytes(&csv[..], t).unwrap();
            times.push(start.elapsed());
            drop(std::hint::black_box(read));
        }
        if python_error.is_none() {
            match python_seconds(&csv_path) {
                Ok(secs) => python.push(Duration::from_secs_f64(secs)),
                Err(why) => python_error = Some(why),
            }
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (t_par, t_one) = (pct(&mut rust_par, 0.5), pct(&mut rust_one, 0.5));
    println!(
        "CSV parse: as a stream (gzip files) {:.0} ms; in memory, median of 5 (range): on {threads} threads {:.0} ms \
         ({:.0}–{:.0}), on one thread {:.0} ms ({:.0}–{:.0})",
        ms(t_stream_csv),
        ms(t_par),
        ms(rust_par[0]),
        ms(rust_par[4]),
        ms(t_one),
        ms(rust_one[0]),
        ms(rust_one[4])
    );
    let t_csv = t_par;
    let (t_build, index) = best_of(1, || FinessIndex::build(outcome.dataset.clone()));
    println!(
        "CSV parse {:.0} ms + index build {:.0} ms = {:.0} ms into the index ({} ET, {} EJ, {} rejected)",
        t_csv.as_secs_f64() * 1e3,
        t_build.as_secs_f64() * 1e3,
        (t_csv + t_build).as_secs_f64() * 1e3,
        outcome.counts.establishments,
        outcome.counts.entities,
        outcome.rejected.len()
    );
    match std::process::Command::new(std::env::current_exe().unwrap())
        .env("SEGUR_BENCH_BUILD", &csv_path)
        .output()
    {
        Ok(o) => print!("{}", String::from_utf8_lossy(&o.stdout)),
        Err(e) => println!("index build child failed: {e}"),
    }
    // JSON: the file in memory (as `segur finess import` and the daemon read a plain file), parse then build from
    // the parsed records; the best of 2 runs of both.
    let json_threads = threads.min(segur_gateway::finess::json_import::MAX_THREADS);
    let mut best: Option<(Duration, Duration)> = None;
    for _ in 0..2 {
        let t = Instant::now();
        let jout =
            segur_gateway::finess::json_import::import_json_bytes(&json, json_threads).unwrap();
        let parse = t.elapsed();
        let t = Instant::now();
        let index = FinessIndex::build(jout.dataset);
        let build = t.elapsed();
        drop(std::hint::black_box(index));
        if best.is_none_or(|(p, b)| parse + build < p + b) {
            best = Some((parse, build));
        }
    }
    let best = best.unwrap();
    let (t_stream, _) = best_of(1, || {
        segur_gateway::finess::json_import::import_json(&json[..]).unwrap()
    });
    println!(
        "JSON parse {:.0} ms + index build {:.0} ms = {:.0} ms into the index (best of 2); parse as a stream \
         from a reader (gzip files): {:.0} ms",
        best.0.as_secs_f64() * 1e3,
        best.1.as_secs_f64() * 1e3,
        (best.0 + best.1).as_secs_f64() * 1e3,
        t_stream.as_secs_f64() * 1e3
    );
    // What serde_json alone costs to walk the whole document without building anything: through a reader (how
    // the importer read before it cut the file into elements) and from a slice (how its workers parse elements).
    let (t_walk_reader, _) = best_of(2, || {
        let input = std::io::BufReader::with_capacity(1 << 16, &json[..]);
        serde_json::from_reader::<_, serde::de::IgnoredAny>(input).unwrap()
    });
    let (t_walk_slice, _) = best_of(2, || {
        serde_json::from_slice::<serde::de::IgnoredAny>(&json).unwrap()
    });
    println!(
        "JSON walk without building (serde_json, IgnoredAny): through a reader {:.0} ms, from a slice {:.0} ms",
        t_walk_reader.as_secs_f64() * 1e3,
        t_walk_slice.as_secs_f64() * 1e3
    );

    match python_error {
        Some(why) => println!("Python baseline not run: {why}"),
        None => {
            let secs = pct(&mut python, 0.5).as_secs_f64();
            println!(
                "Python csv module into dicts, same rounds, median of 5: {:.0} ms ({:.0}–{:.0}) → Rust parse is \
                 {:.1}× faster ({:.1}× on one thread), parse+index {:.1}× (the floor above is {:.0}× faster)",
                secs * 1e3,
                ms(python[0]),
                ms(python[4]),
                secs / t_csv.as_secs_f64(),
                secs / t_one.as_secs_f64(),
                secs / (t_csv + t_build).as_secs_f64(),
                secs / t_floor.as_secs_f64()
            );
        }
    }

    match index_rss(&csv_path) {
        Some((mb, n)) => println!(
            "RSS of a process holding only the index ({n} structures, as the daemon does): {mb:.0} MB"
        ),
        None => println!("index RSS child failed"),
    }

    // With persistence to the store.
    let first_id = outcome.dataset.establishments[0].finess.to_string();
    let store = segur_gateway::store::Store::open_sqlite(&dir.path().join("s.db"))
        .await
        .unwrap();
    let t = Instant::now();
    let files = vec![segur_gateway::finess::load::InputFile {
        name: "finess.csv".into(),
        bytes: csv.clone(),
    }];
    segur_gateway::finess::load::import(&store, files, None)
        .await
        .unwrap();
    let t_store = t.elapsed();
    let t = Instant::now();
    let (_, reloaded) = segur_gateway::finess::load::load_index(&store)
        .await
        .unwrap()
        .unwrap();
    println!(
        "import with persistence (parse + gzip + SQLite commit): {:.0} ms; daemon start-up reload (read + parse + build): {:.0} ms",
        t_store.as_secs_f64() * 1e3,
        t.elapsed().as_secs_f64() * 1e3
    );
    drop(reloaded);
    store.close().await;
    match daemon_rss(&dir.path().join("s.db"), &first_id).await {
        Some((mb, wait)) => println!(
            "RSS of `segur serve` (sandbox, release) once its index answers ({:.0} ms after start): {mb:.0} MB",
            wait.as_secs_f64() * 1e3
        ),
        None => println!("daemon RSS not measured (daemon did not load the index)"),
    }
    drop(csv);
    drop(json);
    drop(outcome);

    println!("latencies in this process, after everything above:");
    latencies(&index);
    // The daemon serves from a process that holds only its index; this one has been through 350 MB of other
    // work. Both are reported (in session 9 they agreed within the run-to-run spread).
    match std::process::Command::new(std::env::current_exe().unwrap())
        .env("SEGUR_BENCH_LATENCY", &csv_path)
        .output()
    {
        Ok(out) => print!(
            "latencies in a fresh process holding only the index, as the daemon does:\n{}",
            String::from_utf8_lossy(&out.stdout)
        ),
        Err(e) => println!("latency child failed: {e}"),
    }
    println!(
        "RSS of this benchmark process (index + everything above, not returned to the OS): {:.0} MB",
        rss_mb()
    );
}
