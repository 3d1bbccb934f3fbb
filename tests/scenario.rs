//! The DSR MS1 scenario runner on the sandbox: every shipped scenario passes, a wrong expectation fails with a
//! readable reason, the reports hold no secret and no full INS of the test identities, the HTML report renders in
//! headless Chromium, and the command line lists and runs scenarios.

use segur_gateway::scenario::{self, Outcome, Quiet, RunReport, Scenario, Target};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn shipped() -> Vec<Scenario> {
    scenario::load_dir(&scenarios_dir()).expect("the shipped scenarios load")
}

async fn run(chosen: &[Scenario]) -> (RunReport, String) {
    let start = Instant::now();
    let target = Target::start(None, chosen).await.expect("sandbox starts");
    let key = target.key.expose().to_string();
    let report = scenario::run_all(chosen, &target, &Quiet, start).await;
    target.stop().await;
    (report, key)
}

/// Every full INS (15 characters) and matricule (13) of the simulator's test identities.
fn test_identity_numbers() -> Vec<String> {
    let text = include_str!("../src/sim/insi/identities.toml");
    let mut out = Vec::new();
    for line in text.lines().filter(|l| l.trim_start().starts_with("ins =")) {
        let ins = line.split('"').nth(1).unwrap().to_string();
        assert_eq!(ins.len(), 15, "{line}");
        out.push(ins[..13].to_string());
        out.push(ins);
    }
    assert!(out.len() > 10, "identities found: {}", out.len());
    out
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

#[tokio::test]
async fn shipped_scenarios_pass_on_the_sandbox_with_a_clean_readable_report() {
    let all = shipped();
    assert!(all.len() >= 7, "{} scenarios", all.len());
    let (report, key) = run(&all).await;

    for s in &report.scenarios {
        // MSSanté exists now: its scenario runs like the others.
        assert_eq!(s.outcome, Outcome::Passed, "{}: {:?}", s.id, s.reason);
        assert!(s.steps.iter().all(|st| st.outcome == Outcome::Passed));
    }
    assert_eq!(report.summary.failed, 0);

    // Evidence: what went over the wire to INSi, the DMP and Pro Santé Connect, under the step that caused it.
    let step = |id: &str, n: usize| &report.scenarios.iter().find(|s| s.id == id).unwrap().steps[n];
    let insi = &step("ins-search", 0).exchanges;
    assert_eq!(insi.len(), 1);
    assert!(
        insi[0]
            .request_body
            .contains("rechercherInsAvecTraitsIdentite")
            || insi[0]
                .request_content_type
                .as_deref()
                .unwrap()
                .contains("rechercherInsAvecTraitsIdentite"),
        "{:?}",
        insi[0]
    );
    assert!(
        insi[0].response_body.contains("<CodeCR>00</CodeCR>"),
        "{}",
        insi[0].response_body
    );
    let dmp: Vec<_> = report
        .scenarios
        .iter()
        .find(|s| s.id == "dmp-pps")
        .unwrap()
        .steps
        .iter()
        .flat_map(|s| &s.exchanges)
        .filter(|x| x.service == "dmp")
        .collect();
    assert!(dmp.iter().any(|x| x.url.ends_with("/patients")), "TD0.2");
    assert_eq!(
        dmp.iter()
            .filter(|x| x.url.ends_with("/repository"))
            .count(),
        2,
        "two ITI-41"
    );
    assert!(dmp.iter().all(|x| x.status == Some(200)));
    let fhir = &step("structure-identity", 3).exchanges;
    assert_eq!(fhir.len(), 1, "Annuaire Santé lookup recorded");
    assert!(
        fhir[0].url.contains("/fhir/v2/Organization?identifier="),
        "{}",
        fhir[0].url
    );
    assert!(
        fhir[0]
            .response_body
            .contains("\"resourceType\":\"Bundle\"")
    );
    let smtp: Vec<_> = report
        .scenarios
        .iter()
        .find(|s| s.id == "mss-pps")
        .unwrap()
        .steps
        .iter()
        .flat_map(|s| &s.exchanges)
        .filter(|x| x.service == "mss")
        .collect();
    assert_eq!(
        smtp.len(),
        2,
        "two SMTP submissions (professional, patient)"
    );
    for x in &smtp {
        assert_eq!((x.method.as_str(), x.status), ("SMTP", Some(250)), "{x:?}");
        assert!(
            x.request_body.starts_with("MAIL FROM:<"),
            "{}",
            x.request_body
        );
        assert!(
            x.request_body.contains("X-MSS-NIL"),
            "MSSanté headers shown"
        );
    }
    assert!(
        smtp.iter()
            .any(|x| x.request_body.contains("@patient.mssante.fr")),
        "the patient mailbox (INS masked)"
    );
    let psc = &step("psc-login", 0).exchanges;
    let token = psc
        .iter()
        .find(|x| x.url.ends_with("/token"))
        .expect("token exchange");
    assert!(
        token.request_body.contains("code=***"),
        "{}",
        token.request_body
    );
    assert!(
        token.response_body.contains("\"access_token\":\"***\""),
        "{}",
        token.response_body
    );

    let dir = tempfile::tempdir().unwrap();
    report.write(dir.path()).unwrap();
    let json = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    for text in [&json, &html] {
        for ins in test_identity_numbers() {
            assert!(!text.contains(&ins), "full INS {ins} in a report");
        }
        assert!(!text.contains(&key), "API key in a report");
        assert!(!text.contains("sgw_"), "an API key in a report");
        assert!(
            !text.contains(segur_gateway::sim::psc::CLIENT_SECRET),
            "client secret"
        );
        assert!(!text.contains("eyJhbGci"), "a JWT in a report");
    }
    // The masked forms are there: the INS was shown, not dropped.
    assert!(json.contains("***********4974"));

    // The page renders in a headless browser and shows the scenario table.
    let Some(browser) = chromium() else {
        let required = std::env::var_os("CI").is_some()
            || std::env::var_os("SEGUR_REQUIRE_CHROMIUM").is_some();
        assert!(
            !required,
            "chromium is required (CI or SEGUR_REQUIRE_CHROMIUM) but not installed"
        );
        eprintln!(
            "SKIPPED: chromium not installed, the HTML report was not rendered (apt-get install chromium)"
        );
        return;
    };
    // The page has no script; a copy with one reports what the browser parsed: rows of the summary table and the
    // ids in their first cells (a malformed table would not give them back).
    let probe = dir.path().join("probe.html");
    let script = "<script>const rows=[...document.querySelectorAll('#summary tbody tr')];\
        document.body.setAttribute('data-rows', rows.length);\
        document.body.setAttribute('data-ids', rows.map(r => r.cells[0].textContent).join(','));</script></body>";
    std::fs::write(&probe, html.replace("</body>", script)).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let headless = |extra: &[String], page: &Path| {
        Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(format!("file://{}", page.display()))
            .output()
            .expect("chromium runs")
    };
    let out = headless(&["--dump-dom".into()], &probe);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<&str> = report.scenarios.iter().map(|s| s.id.as_str()).collect();
    assert!(
        dom.contains(&format!("data-rows=\"{}\"", ids.len())),
        "{dom}"
    );
    assert!(
        dom.contains(&format!("data-ids=\"{}\"", ids.join(","))),
        "{dom}"
    );
    // And a screenshot of the real page.
    let shot = dir.path().join("report.png");
    let out = headless(
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,900".into(),
        ],
        &dir.path().join("report.html"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
}

#[tokio::test]
async fn a_wrong_expectation_fails_with_a_readable_reason() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(scenarios_dir().join("ins_search.toml"))
        .unwrap()
        .replace("\"/outcome\" = \"multiple\"", "\"/outcome\" = \"found\"");
    let file = dir.path().join("ins_search.toml");
    std::fs::write(&file, text).unwrap();
    let s = Scenario::parse(&std::fs::read_to_string(&file).unwrap(), &file).unwrap();
    let (report, _) = run(std::slice::from_ref(&s)).await;
    let r = &report.scenarios[0];
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(
        r.reason.as_deref().unwrap(),
        "step 3 \"Homonyms: several matches, no INS chosen\": /outcome is \"multiple\", expected \"found\""
    );
    assert_eq!(r.steps[2].outcome, Outcome::Failed);
    assert!(r.steps[3..].iter().all(|s| s.outcome == Outcome::Skipped));
    assert_eq!(report.summary.failed, 1);
    assert!(report.html().contains("expected &quot;found&quot;"));
}

fn segur(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_segur"))
        .args(args)
        .env_remove("SEGUR_CONFIG")
        .env("SEGUR_SCENARIOS", scenarios_dir())
        .output()
        .unwrap()
}

#[test]
fn command_line_lists_and_runs() {
    let out = segur(&["scenario", "list"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let mss = text.lines().find(|l| l.starts_with("mss-pps")).unwrap();
    assert!(mss.contains("(requires mss)"), "{mss}");
    assert!(text.contains("ins-qualification") && text.contains("INS/va1.62.01"));

    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("rep");
    let out = segur(&[
        "scenario",
        "run",
        "cert-expiry",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 passed, 0 failed, 0 skipped"), "{text}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["scenarios"][0]["outcome"], "passed");

    // A configured environment (`--config`): here a file that turns the sandbox on, as a test site would point
    // at the ANS test platforms instead.
    let config = dir.path().join("segur.toml");
    std::fs::write(&config, "[sandbox]\nenabled = true\n").unwrap();
    let report = dir.path().join("configured");
    let out = segur(&[
        "--config",
        config.to_str().unwrap(),
        "scenario",
        "run",
        "ins-search",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["scenarios"][0]["outcome"], "passed");
    let env = json["environment"].as_str().unwrap();
    assert!(
        env.starts_with("configured (") && env.contains("segur.toml"),
        "{env}"
    );

    let out = segur(&["scenario", "run", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scenario \"nope\""));
    let out = segur(&["scenario", "run"]);
    assert_eq!(out.status.code(), Some(1));
}
