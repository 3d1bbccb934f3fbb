//! Helpers of the PSC tests: a browser (cookie store, redirects followed up to the DUI's `return_to`), the
//! simulator's form, its test hooks.
#![allow(dead_code)]

use serde_json::Value;

/// Where the tests ask to be sent back (never contacted: the browser stops there).
pub const RETURN_TO: &str = "http://127.0.0.1:9/dui/done";

/// A browser: cookies, redirects followed except to [`RETURN_TO`], trusts the test roots (the simulator's cert).
pub fn browser() -> reqwest::Client {
    segur_gateway::pki::tls::install_default_provider();
    let tls =
        segur_gateway::pki::tls::client_config(segur_gateway::pki::testpki::roots(), None).unwrap();
    reqwest::Client::builder()
        .no_proxy()
        .cookie_store(true)
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::custom(|a| {
            if a.url().as_str().starts_with(RETURN_TO) || a.previous().len() > 10 {
                a.stop()
            } else {
                a.follow()
            }
        }))
        .build()
        .unwrap()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The hidden fields of the simulator's authorize form.
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|chunk| {
            let name = chunk.split("name=\"").nth(1)?.split('"').next()?;
            let value = chunk.split("value=\"").nth(1)?.split('"').next()?;
            Some((name.to_string(), unescape(value)))
        })
        .collect()
}

/// The outcome of a browser login.
#[derive(Debug)]
pub enum Outcome {
    /// Back at `return_to` with this session handle.
    Session(String),
    /// The callback (or login) answered an error.
    Error(u16, Value),
}

/// Opens the login page, then posts the simulator's form as `professional` after `tweak` edits the fields.
pub async fn login_with(
    api: &str,
    browser: &reqwest::Client,
    professional: &str,
    tweak: impl FnOnce(&mut Vec<(String, String)>),
) -> Outcome {
    let r = browser
        .get(format!("{api}/v1/psc/login"))
        .query(&[("return_to", RETURN_TO)])
        .send()
        .await
        .unwrap();
    if r.status() != 200 {
        let s = r.status().as_u16();
        return Outcome::Error(s, r.json().await.unwrap_or(Value::Null));
    }
    let page = r.url().clone();
    assert_eq!(
        page.host_str(),
        Some("localhost"),
        "authorize endpoint on the wallet host: {page}"
    );
    let html = r.text().await.unwrap();
    assert!(html.contains(professional), "{html}");
    let mut fields = hidden_fields(&html);
    tweak(&mut fields);
    fields.push(("professional".into(), professional.into()));
    fields.push(("decision".into(), "approve".into()));
    let r = browser
        .post(page.join("/auth").unwrap())
        .form(&fields)
        .send()
        .await
        .unwrap();
    finish(r).await
}

/// Reads where the browser ended.
pub async fn finish(r: reqwest::Response) -> Outcome {
    if r.status() == 302 {
        let location = r.headers()["location"].to_str().unwrap().to_string();
        assert!(location.starts_with(RETURN_TO), "{location}");
        let url = reqwest::Url::parse(&location).unwrap();
        let handle = url
            .query_pairs()
            .find(|(k, _)| k == "session")
            .unwrap()
            .1
            .to_string();
        return Outcome::Session(handle);
    }
    let s = r.status().as_u16();
    Outcome::Error(s, r.json().await.unwrap_or(Value::Null))
}

/// Plain login as `professional`.
pub async fn login(api: &str, browser: &reqwest::Client, professional: &str) -> Outcome {
    login_with(api, browser, professional, |_| {}).await
}

/// Replaces the simulator's behaviour.
pub async fn behave(sim: &str, behaviour: Value) {
    let r = browser()
        .put(format!("{sim}sim/behaviour"))
        .json(&behaviour)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// Counters of the simulator.
pub async fn stats(sim: &str) -> Value {
    browser()
        .get(format!("{sim}sim/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
