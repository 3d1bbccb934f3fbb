//! DSR MS1 scenario suite benchmark (issue #10, target ≤ 10 s): the whole `scenarios/` suite on the in-process
//! sandbox, gateway start (simulators, FINESS setup import) included, as `segur scenario run --all` does; then the
//! report written (JSON + HTML). Several runs, min / median / max.
//!
//! The gateway, its simulators and the runner share this machine's cores. Run: `cargo bench --bench scenarios`
//! (release), or `cargo bench --bench scenarios --profile dev` to reuse the debug build (an upper bound).

use segur_gateway::scenario::{self, Outcome, Quiet, Target};
use std::path::Path;
use std::time::Instant;

const RUNS: usize = 5;

#[tokio::main]
async fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let all = scenario::load_dir(&dir).unwrap();
    let steps: usize = all.iter().map(|s| s.steps.len()).sum();
    let out = tempfile::tempdir().unwrap();
    let (mut whole, mut start_ms, mut report_ms) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let t = Instant::now();
        let target = Target::start(None, &all).await.unwrap();
        start_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let report = scenario::run_all(&all, &target, &Quiet, t).await;
        target.stop().await;
        let w = Instant::now();
        report.write(out.path()).unwrap();
        report_ms.push(w.elapsed().as_secs_f64() * 1e3);
        whole.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(report.summary.failed, 0, "a scenario failed");
        assert!(
            report
                .scenarios
                .iter()
                .all(|s| s.outcome != Outcome::Failed)
        );
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        format!(
            "min {:.0} ms, median {:.0} ms, max {:.0} ms",
            v[0],
            v[v.len() / 2],
            v[v.len() - 1]
        )
    };
    println!(
        "scenario suite: {} scenarios, {steps} steps, {RUNS} runs (start + run + stop + report)",
        all.len()
    );
    println!("  whole run      {}", stats(&mut whole));
    println!("  gateway start  {}", stats(&mut start_ms));
    println!("  report write   {}", stats(&mut report_ms));
    println!(
        "  target ≤ 10 000 ms: {}",
        if whole[RUNS - 1] <= 10_000.0 {
            "met"
        } else {
            "NOT met"
        }
    );
}
