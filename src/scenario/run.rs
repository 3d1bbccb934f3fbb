//! Runs scenarios against a [`Target`]: each step calls the gateway API (or drives the PSC login form), checks
//! the answer, captures values, and keeps — masked — what the gateway exchanged with the national services.

use super::expect::{self, Vars};
use super::mask::mask;
use super::model::{Fixture, Scenario, Step, StepKind, split_request};
use super::report::{Outcome, RunReport, ScenarioReport, StepReport};
use super::target::Target;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Where the PSC login sends the browser back (never contacted: the runner's browser stops there).
pub const RETURN_TO: &str = "http://127.0.0.1:9/dui/done";

/// Called as steps progress (the command line shows a progress bar).
pub trait Progress: Send + Sync {
    /// A step starts.
    fn step(&self, scenario: &str, step: &str);
    /// A step ended.
    fn done(&self, outcome: Outcome);
}

/// No progress display.
#[derive(Debug, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn step(&self, _: &str, _: &str) {}
    fn done(&self, _: Outcome) {}
}

/// What one HTTP step got back.
struct Answer {
    request: String,
    request_body: Option<String>,
    status: u16,
    text: String,
    json: Option<Value>,
}

/// Runs `scenarios` in order and builds the report.
pub async fn run_all(
    scenarios: &[Scenario],
    target: &Target,
    progress: &dyn Progress,
    started: Instant,
) -> RunReport {
    let started_at = OffsetDateTime::now_utc() - started.elapsed();
    let routes = openapi_routes(target).await;
    let mut out = Vec::new();
    for s in scenarios {
        out.push(run_one(s, target, &routes, progress).await);
    }
    let mut report = RunReport {
        tool: format!("segur-gateway {}", env!("CARGO_PKG_VERSION")),
        environment: target.environment.clone(),
        started_at,
        duration_ms: started.elapsed().as_secs_f64() * 1e3,
        summary: Default::default(),
        scenarios: out,
    };
    report.summarise();
    report
}

/// `(METHOD, /path)` pairs of the gateway's `/openapi.json`.
async fn openapi_routes(target: &Target) -> Vec<(String, String)> {
    let doc: Value = match target
        .http
        .get(format!("{}/openapi.json", target.api))
        .send()
        .await
    {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    let mut routes = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, ops) in paths {
            for method in ops.as_object().into_iter().flat_map(|o| o.keys()) {
                routes.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

/// The first capability of `s` the gateway lacks, as a skip reason.
fn missing_capability(s: &Scenario, routes: &[(String, String)]) -> Option<String> {
    s.requires.iter().find_map(|(name, route)| {
        let (m, p) = split_request(route).ok()?;
        let present = routes.iter().any(|(rm, rp)| rm == m.as_str() && rp == p);
        (!present).then(|| format!("requires {name} ({route} absent from /openapi.json)"))
    })
}

async fn run_one(
    s: &Scenario,
    target: &Target,
    routes: &[(String, String)],
    progress: &dyn Progress,
) -> ScenarioReport {
    let started_at = OffsetDateTime::now_utc();
    let start = Instant::now();
    let mut report = ScenarioReport {
        id: s.id.clone(),
        title: s.title.clone(),
        requirements: s.all_requirements(),
        outcome: Outcome::Passed,
        reason: None,
        started_at,
        duration_ms: 0.0,
        steps: Vec::new(),
    };
    let skip_all = |report: &mut ScenarioReport, from: usize, why: &str| {
        for st in &s.steps[from..] {
            progress.step(&s.id, &st.name);
            progress.done(Outcome::Skipped);
            report.steps.push(StepReport {
                name: st.name.clone(),
                outcome: Outcome::Skipped,
                reason: Some(why.to_string()),
                started_at: OffsetDateTime::now_utc(),
                duration_ms: 0.0,
                request: st.request.clone().unwrap_or_default(),
                request_body: None,
                status: None,
                response_body: None,
                exchanges: Vec::new(),
            });
        }
    };
    if let Some(why) = missing_capability(s, routes) {
        report.outcome = Outcome::Skipped;
        skip_all(&mut report, 0, &why);
        report.reason = Some(why);
        return report;
    }
    let mut vars = Vars::new();
    if let Err(e) = fixtures(s, &mut vars) {
        report.outcome = Outcome::Failed;
        report.reason = Some(format!("fixtures: {e}"));
        skip_all(&mut report, 0, "fixtures failed");
        return report;
    }
    target.recorder.drain();
    for (n, step) in s.steps.iter().enumerate() {
        progress.step(&s.id, &step.name);
        let st = run_step(s, step, target, &mut vars).await;
        progress.done(st.outcome);
        let failed = st.outcome == Outcome::Failed;
        if failed {
            report.outcome = Outcome::Failed;
            report.reason = Some(format!(
                "step {} \"{}\": {}",
                n + 1,
                step.name,
                st.reason.as_deref().unwrap_or("failed")
            ));
        }
        report.steps.push(st);
        if failed {
            skip_all(&mut report, n + 1, "an earlier step failed");
            break;
        }
    }
    report.duration_ms = start.elapsed().as_secs_f64() * 1e3;
    report
}

fn fixtures(s: &Scenario, vars: &mut Vars) -> Result<(), String> {
    for (name, f) in &s.fixtures {
        let value = match f {
            Fixture::Certificate { days_left } => expiring_certificate(*days_left)?,
        };
        vars.insert(name.clone(), value);
    }
    Ok(())
}

/// A self-signed PEM certificate, CN `AUTH_CLI`, structure `1630790004`, ending `days_left` days (and an hour)
/// from now.
pub fn expiring_certificate(days_left: i64) -> Result<String, String> {
    use rcgen::{CertificateParams, DnType, KeyPair};
    let now = OffsetDateTime::now_utc();
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, "AUTH_CLI");
    p.distinguished_name
        .push(DnType::OrganizationalUnitName, "1630790004");
    p.distinguished_name
        .push(DnType::OrganizationName, "EHPAD LES TILLEULS (TEST)");
    p.not_before = now - time::Duration::days(1);
    p.not_after = now + time::Duration::days(days_left) + time::Duration::hours(1);
    let cert = p.self_signed(&key).map_err(|e| e.to_string())?;
    Ok(cert.pem())
}

async fn run_step(s: &Scenario, step: &Step, target: &Target, vars: &mut Vars) -> StepReport {
    let started_at = OffsetDateTime::now_utc();
    let start = Instant::now();
    let answer = match step.kind {
        StepKind::Http => http_step(s, step, target, vars).await,
        StepKind::PscLogin => psc_login(step, target).await,
    };
    let mut secrets: Vec<String> = vec![target.key.expose().to_string()];
    let (outcome, reason, answer) = match answer {
        Err((request, e)) => (Outcome::Failed, Some(e), Err(request)),
        Ok(a) => {
            let checked = expect::check(&step.expect, a.status, &a.text, a.json.as_ref(), vars)
                .and_then(|()| expect::capture(&step.capture, a.json.as_ref(), vars));
            match checked {
                Ok(()) => (Outcome::Passed, None, Ok(a)),
                Err(e) => (Outcome::Failed, Some(e), Ok(a)),
            }
        }
    };
    secrets.extend(s.secrets.iter().filter_map(|n| vars.get(n).cloned()));
    let m = |t: &str| mask(t, &secrets);
    let exchanges = target
        .recorder
        .drain()
        .into_iter()
        .map(|mut x| {
            x.url = m(&x.url);
            x.request_body = m(&x.request_body);
            x.response_body = m(&x.response_body);
            x.error = x.error.as_deref().map(m);
            x
        })
        .collect();
    let (request, request_body, status, response_body) = match answer {
        Ok(a) => (a.request, a.request_body, Some(a.status), Some(a.text)),
        Err(request) => (request, None, None, None),
    };
    StepReport {
        name: step.name.clone(),
        outcome,
        reason: reason.map(|r| m(&r)),
        started_at,
        duration_ms: start.elapsed().as_secs_f64() * 1e3,
        request: m(&request),
        request_body: request_body.as_deref().map(m),
        status,
        response_body: response_body.as_deref().map(m),
        exchanges,
    }
}

type StepResult = Result<Answer, (String, String)>;

fn step_body(s: &Scenario, step: &Step, vars: &Vars) -> Result<Option<Value>, String> {
    let inline = step
        .body
        .as_ref()
        .map(|b| expect::to_json(b, vars))
        .transpose()?;
    let Some(f) = &step.body_file else {
        return Ok(inline);
    };
    let path = s.file.parent().unwrap_or(std::path::Path::new(".")).join(f);
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("body_file {}: {e}", path.display()))?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("body_file {}: {e}", path.display()))?;
    let mut v = expect::substitute_json(v, vars)?;
    match (inline, v.as_object_mut()) {
        (Some(Value::Object(extra)), Some(base)) => base.extend(extra),
        (Some(_), _) => return Err("body and body_file must both be JSON objects to merge".into()),
        (None, _) => {}
    }
    Ok(Some(v))
}

async fn http_step(s: &Scenario, step: &Step, target: &Target, vars: &Vars) -> StepResult {
    let raw = step.request.as_deref().unwrap_or_default();
    let request = expect::substitute(raw, vars).map_err(|e| (raw.to_string(), e))?;
    let (method, path) = split_request(&request).map_err(|e| (request.clone(), e))?;
    let body = step_body(s, step, vars).map_err(|e| (request.clone(), e))?;
    let deadline =
        Instant::now() + Duration::from_millis(step.poll.as_ref().map_or(0, |p| p.timeout_ms));
    loop {
        let mut r = target
            .http
            .request(method.clone(), format!("{}{path}", target.api))
            .bearer_auth(target.key.expose());
        if let Some(b) = &body {
            r = r.json(b);
        }
        let resp = r
            .send()
            .await
            .map_err(|e| (request.clone(), format!("the gateway did not answer: {e}")))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| (request.clone(), format!("the gateway's answer broke: {e}")))?;
        let json: Option<Value> = serde_json::from_str(&text).ok();
        if let Some(p) = &step.poll {
            let now = json.as_ref().and_then(|j| j.pointer(&p.pointer)).cloned();
            let done = p
                .until
                .iter()
                .any(|u| expect::to_json(u, vars).ok().as_ref() == now.as_ref());
            if !done && (200..300).contains(&status) {
                if Instant::now() >= deadline {
                    return Err((
                        request.clone(),
                        format!(
                            "{} still {} after {} ms",
                            p.pointer,
                            now.unwrap_or(Value::Null),
                            p.timeout_ms
                        ),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        }
        let request_body = body
            .as_ref()
            .map(|b| serde_json::to_string_pretty(b).unwrap_or_default());
        let text = match &json {
            Some(j) => serde_json::to_string_pretty(j).unwrap_or(text),
            None => text,
        };
        return Ok(Answer {
            request: request.clone(),
            request_body,
            status,
            text,
            json,
        });
    }
}

/// Drives the PSC login as a browser would: `/v1/psc/login`, the provider's form approved as `professional`,
/// back to [`RETURN_TO`] with the session handle.
async fn psc_login(step: &Step, target: &Target) -> StepResult {
    let who = step.professional.clone().unwrap_or_default();
    let request = format!("GET /v1/psc/login (browser; e-CPS approval as {who})");
    let fail = |e: String| (request.clone(), e);
    let r = target
        .browser
        .get(format!("{}/v1/psc/login", target.api))
        .query(&[("return_to", RETURN_TO)])
        .send()
        .await
        .map_err(|e| fail(format!("login page: {e}")))?;
    let status = r.status().as_u16();
    let page = r.url().clone();
    let html = r.text().await.map_err(|e| fail(e.to_string()))?;
    if status != 200 {
        return Ok(answer_of(&request, status, html));
    }
    let mut fields = hidden_fields(&html);
    if fields.is_empty() {
        return Err(fail(format!(
            "no login form at {} (only the sandbox provider's form can be driven)",
            page.path()
        )));
    }
    fields.push(("professional".into(), who.clone()));
    fields.push(("decision".into(), "approve".into()));
    let form = serde_urlencoded::to_string(&fields).map_err(|e| fail(e.to_string()))?;
    let action = page.join("/auth").map_err(|e| fail(e.to_string()))?;
    let r = target
        .browser
        .post(action)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .map_err(|e| fail(format!("form post: {e}")))?;
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_string);
    if let Some(loc) = location.filter(|l| l.starts_with(RETURN_TO)) {
        let url = reqwest::Url::parse(&loc).map_err(|e| fail(e.to_string()))?;
        if let Some((_, handle)) = url.query_pairs().find(|(k, _)| k == "session") {
            let body = json!({"session": handle});
            return Ok(Answer {
                request,
                request_body: None,
                status: 200,
                text: body.to_string(),
                json: Some(body),
            });
        }
    }
    let text = r.text().await.unwrap_or_default();
    Ok(answer_of(&request, status, text))
}

fn answer_of(request: &str, status: u16, text: String) -> Answer {
    Answer {
        request: request.to_string(),
        request_body: None,
        status,
        json: serde_json::from_str(&text).ok(),
        text,
    }
}

/// The hidden inputs of the provider's authorize form.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|chunk| {
            let name = chunk.split("name=\"").nth(1)?.split('"').next()?;
            let value = chunk.split("value=\"").nth(1)?.split('"').next()?;
            let value = value
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&");
            Some((name.to_string(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_capabilities_skip() {
        let s = Scenario::parse(
            "id = \"m\"\ntitle = \"t\"\n[requires]\nmss = \"POST /v1/mss/messages\"\n[[steps]]\nname = \"x\"\nrequest = \"GET /health\"\n",
            std::path::Path::new("m.toml"),
        )
        .unwrap();
        let none = vec![("GET".to_string(), "/health".to_string())];
        assert_eq!(
            missing_capability(&s, &none).unwrap(),
            "requires mss (POST /v1/mss/messages absent from /openapi.json)"
        );
        let some = vec![("POST".to_string(), "/v1/mss/messages".to_string())];
        assert!(missing_capability(&s, &some).is_none());
    }

    #[test]
    fn certificate_fixture_expires_when_asked() {
        let pem = expiring_certificate(30).unwrap();
        let der = crate::pki::identity::parse_pem_certs(pem.as_bytes(), "f").unwrap();
        let info = crate::pki::CertInfo::from_der(&der[0]).unwrap();
        let e = info.expiry(OffsetDateTime::now_utc(), 60, 15);
        assert_eq!(e, crate::pki::Expiry::Warning { days_left: 30 });
    }
}
