//! The evidence report: `report.json` (machine readable, [`RunReport`]) and `report.html` (one self-contained
//! page: inline style, no script, no external resource). Everything in it was masked when recorded
//! ([`super::mask`]).

use crate::exchange::Exchange;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;
use time::OffsetDateTime;

/// Characters of a body shown in the HTML page (the JSON report keeps the recorded excerpt).
pub const HTML_EXCERPT: usize = 6000;

/// Result of a scenario or a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every expectation held.
    Passed,
    /// An expectation failed (the reason says which).
    Failed,
    /// Not run (a required capability is absent, or an earlier step failed).
    Skipped,
}

impl Outcome {
    /// `passed`, `failed`, `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
        }
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// `segur-gateway <version>`.
    pub tool: String,
    /// `sandbox (in-process)` or the configuration file used.
    pub environment: String,
    /// Start.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Whole duration, gateway start included.
    pub duration_ms: f64,
    /// Counts.
    pub summary: Summary,
    /// Each scenario.
    pub scenarios: Vec<ScenarioReport>,
}

/// Counts by outcome.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Skipped.
    pub skipped: usize,
}

/// One scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Requirement ids covered.
    pub requirements: Vec<String>,
    /// Outcome.
    pub outcome: Outcome,
    /// Why it failed or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Start.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Duration.
    pub duration_ms: f64,
    /// Steps.
    pub steps: Vec<StepReport>,
}

/// One step.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// What the step shows.
    pub name: String,
    /// Outcome.
    pub outcome: Outcome,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Start.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Duration.
    pub duration_ms: f64,
    /// `METHOD /path` sent to the gateway.
    pub request: String,
    /// Body sent (masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    /// HTTP status of the gateway's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The gateway's answer (masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    /// What the gateway exchanged with the national services meanwhile (masked).
    pub exchanges: Vec<Exchange>,
}

impl RunReport {
    /// Counts outcomes.
    pub fn summarise(&mut self) {
        let mut s = Summary::default();
        for sc in &self.scenarios {
            match sc.outcome {
                Outcome::Passed => s.passed += 1,
                Outcome::Failed => s.failed += 1,
                Outcome::Skipped => s.skipped += 1,
            }
        }
        self.summary = s;
    }

    /// Writes `report.json` and `report.html` into `dir` (created).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("report.json"), json)?;
        std::fs::write(dir.join("report.html"), self.html())
    }

    /// The HTML page.
    pub fn html(&self) -> String {
        let mut h = String::with_capacity(64 * 1024);
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">\
             <title>DSR MS1 evidence report</title><style>{STYLE}</style></head><body>\
             <h1>DSR MS1 evidence report</h1><p class=\"meta\">{} · {} · started {} · {:.0} ms · \
             <b>{}</b> passed, <b>{}</b> failed, <b>{}</b> skipped</p>",
            esc(&self.tool),
            esc(&self.environment),
            rfc3339(self.started_at),
            self.duration_ms,
            self.summary.passed,
            self.summary.failed,
            self.summary.skipped
        );
        h.push_str(
            "<table id=\"summary\"><thead><tr><th>Scenario</th><th>Title</th><th>Requirements</th>\
             <th>Result</th><th>Duration</th><th>Reason</th></tr></thead><tbody>",
        );
        for s in &self.scenarios {
            let _ = write!(
                h,
                "<tr class=\"{o}\"><td><a href=\"#{id}\">{id}</a></td><td>{t}</td><td>{r}</td>\
                 <td class=\"outcome\">{o}</td><td>{d:.0} ms</td><td>{why}</td></tr>",
                o = s.outcome.as_str(),
                id = esc(&s.id),
                t = esc(&s.title),
                r = esc(&s.requirements.join(", ")),
                d = s.duration_ms,
                why = esc(s.reason.as_deref().unwrap_or("")),
            );
        }
        h.push_str("</tbody></table>");
        for s in &self.scenarios {
            scenario_html(&mut h, s);
        }
        h.push_str("</body></html>\n");
        h
    }
}

fn scenario_html(h: &mut String, s: &ScenarioReport) {
    let _ = write!(
        h,
        "<section id=\"{id}\"><h2>{id} — {t} <span class=\"{o}\">{o}</span></h2>\
         <p class=\"meta\">requirements: {r} · started {at} · {d:.0} ms</p>",
        id = esc(&s.id),
        t = esc(&s.title),
        o = s.outcome.as_str(),
        r = esc(&s.requirements.join(", ")),
        at = rfc3339(s.started_at),
        d = s.duration_ms
    );
    if let Some(r) = &s.reason {
        let _ = write!(h, "<p class=\"reason\">{}</p>", esc(r));
    }
    h.push_str("<ol class=\"steps\">");
    for st in &s.steps {
        let _ = write!(
            h,
            "<li class=\"{o}\"><div class=\"step\"><b>{n}</b> <span class=\"{o}\">{o}</span> \
             <code>{req}</code> → {status} · {at} · {d:.1} ms</div>",
            o = st.outcome.as_str(),
            n = esc(&st.name),
            req = esc(&st.request),
            status = st.status.map_or("—".to_string(), |s| format!("HTTP {s}")),
            at = rfc3339(st.started_at),
            d = st.duration_ms
        );
        if let Some(r) = &st.reason {
            let _ = write!(h, "<p class=\"reason\">{}</p>", esc(r));
        }
        if let Some(b) = &st.request_body {
            body_html(h, "gateway request", b);
        }
        if let Some(b) = &st.response_body {
            body_html(h, "gateway answer", b);
        }
        for x in &st.exchanges {
            let title = format!(
                "{} {} {} → {} ({:.1} ms, {})",
                x.service,
                x.method,
                x.url,
                x.status.map_or_else(
                    || format!("failed: {}", x.error.as_deref().unwrap_or("")),
                    |s| format!("HTTP {s}")
                ),
                x.duration_ms,
                rfc3339(x.started_at)
            );
            let _ = write!(
                h,
                "<details class=\"exchange\"><summary>{}</summary>",
                esc(&title)
            );
            body_html(
                h,
                &format!(
                    "request {}",
                    x.request_content_type.as_deref().unwrap_or("")
                ),
                &x.request_body,
            );
            body_html(
                h,
                &format!(
                    "answer {}",
                    x.response_content_type.as_deref().unwrap_or("")
                ),
                &x.response_body,
            );
            h.push_str("</details>");
        }
        h.push_str("</li>");
    }
    h.push_str("</ol></section>");
}

fn body_html(h: &mut String, label: &str, body: &str) {
    if body.is_empty() {
        return;
    }
    let shown: String = body.chars().take(HTML_EXCERPT).collect();
    let more = if shown.len() < body.len() {
        format!("\n… ({} characters in report.json)", body.chars().count())
    } else {
        String::new()
    };
    let _ = write!(
        h,
        "<details><summary>{}</summary><pre>{}{}</pre></details>",
        esc(label),
        esc(&shown),
        esc(&more)
    );
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// HTML text escaping.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;\
vertical-align:top}th{background:#eee}.passed{color:#11702b}.failed{color:#b00020;font-weight:bold}\
.skipped{color:#8a6d00}.meta{color:#555}.reason{color:#b00020}pre{background:#f6f6f6;padding:.5em;\
white-space:pre-wrap;word-break:break-all;max-height:30em;overflow:auto}ol.steps li{margin:.4em 0}\
details.exchange{margin-left:1.5em}summary{cursor:pointer}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_and_lists_scenarios() {
        let now = OffsetDateTime::now_utc();
        let mut r = RunReport {
            tool: "t".into(),
            environment: "sandbox".into(),
            started_at: now,
            duration_ms: 1.0,
            summary: Summary::default(),
            scenarios: vec![ScenarioReport {
                id: "a".into(),
                title: "<script>x</script>".into(),
                requirements: vec!["INS/va1.62.01".into()],
                outcome: Outcome::Failed,
                reason: Some("HTTP 409".into()),
                started_at: now,
                duration_ms: 2.0,
                steps: vec![],
            }],
        };
        r.summarise();
        assert_eq!(r.summary.failed, 1);
        let h = r.html();
        assert!(
            h.contains("&lt;script&gt;") && !h.contains("<script>"),
            "{h}"
        );
        assert!(h.contains("<table id=\"summary\">") && h.contains("INS/va1.62.01"));
    }
}
