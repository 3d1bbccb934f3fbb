//! Start-up benchmark of the daemon (foundation issue): `segur serve` cold start to the first `200` on `/health`,
//! and the resident memory of an idle daemon, on the embedded sandbox.
//!
//! Run: `cargo bench --bench startup` (release profile). Each run uses a fresh data directory, so the SQLite file is
//! created and migrated every time (the slower case); "warm disk" = the binary is in the page cache after the first
//! run, which is discarded.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 30;

fn health_ok(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if n >= 12 && &buf[9..12] == b"200")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let bin = env!("CARGO_BIN_EXE_segur");
    let mut times = Vec::new();
    let mut rss = Vec::new();
    for run in 0..=RUNS {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let start = Instant::now();
        let mut child = Command::new(bin)
            .arg("serve")
            .env_remove("SEGUR_CONFIG")
            .env("SEGUR_API__LISTEN", format!("127.0.0.1:{port}"))
            .env("SEGUR_STORE__PATH", dir.path().join("segur.db"))
            .env("SEGUR_SANDBOX__PORTS__TLS_CHECK", "0")
            .env("SEGUR_SANDBOX__PORTS__INSI", "0")
            .env("SEGUR_SANDBOX__PORTS__FHIR", "0")
            .env("SEGUR_SANDBOX__PORTS__PSC", "0")
            .env("SEGUR_SANDBOX__PORTS__DMP", "0")
            .env("SEGUR_API_KEY", "sgw_bench")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        while !health_ok(port) {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("daemon exited before answering: {status}");
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                panic!("daemon did not answer within 10 s");
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let elapsed = start.elapsed();
        if run > 0 {
            times.push(elapsed);
        }
        if run % 10 == 1 {
            std::thread::sleep(Duration::from_secs(2));
            rss.push(rss_kib(child.id()));
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let _ = child.wait();
    }
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    println!("segur serve (sandbox) cold start → first 200 on /health, {RUNS} runs:");
    println!(
        "  min {:.1} ms  p50 {:.1} ms  p90 {:.1} ms  max {:.1} ms",
        ms(times[0]),
        ms(pct(0.5)),
        ms(pct(0.9)),
        ms(*times.last().unwrap())
    );
    println!(
        "idle RSS after 2 s: {} (KiB)",
        rss.iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
