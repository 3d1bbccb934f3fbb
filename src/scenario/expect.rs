//! Pure parts of a step: `${var}` substitution, expectation checks with readable reasons, captures.

use super::model::Expect;
use serde_json::Value;
use std::collections::BTreeMap;

/// Variables of a running scenario.
pub type Vars = BTreeMap<String, String>;

/// Replaces every `${name}` of `text`; an unknown name is an error naming it.
pub fn substitute(text: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("${") {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos + 2..];
        let end = tail
            .find('}')
            .ok_or_else(|| format!("unclosed ${{ in {text:?}"))?;
        let name = &tail[..end];
        let value = vars.get(name).ok_or_else(|| {
            format!("unknown variable ${{{name}}} (not captured by an earlier step)")
        })?;
        out.push_str(value);
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A TOML value as JSON, with `${var}` substituted in every string.
pub fn to_json(value: &toml::Value, vars: &Vars) -> Result<Value, String> {
    let json = serde_json::to_value(value).map_err(|e| e.to_string())?;
    substitute_json(json, vars)
}

/// `${var}` substituted in every string of `value`.
pub fn substitute_json(value: Value, vars: &Vars) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => Value::String(substitute(&s, vars)?),
        Value::Array(a) => Value::Array(
            a.into_iter()
                .map(|v| substitute_json(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| Ok((k, substitute_json(v, vars)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other,
    })
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}

/// Checks an answer against `expect`; the first mismatch, in words, as the error.
pub fn check(
    expect: &Expect,
    status: u16,
    body: &str,
    json: Option<&Value>,
    vars: &Vars,
) -> Result<(), String> {
    let error_hint = || {
        json.and_then(|j| {
            let code = j.get("code")?.as_str()?;
            let message = j.get("message").and_then(Value::as_str).unwrap_or("");
            Some(format!(": {code}: {message}"))
        })
        .unwrap_or_default()
    };
    match expect.status {
        Some(want) if want != status => {
            return Err(format!("HTTP {status}, expected {want}{}", error_hint()));
        }
        None if !(200..300).contains(&status) => {
            return Err(format!("HTTP {status}, expected a success{}", error_hint()));
        }
        _ => {}
    }
    let need_json = !expect.json.is_empty()
        || !expect.one_of.is_empty()
        || !expect.present.is_empty()
        || !expect.absent.is_empty();
    let null = Value::Null;
    let doc = match (json, need_json) {
        (Some(j), _) => j,
        (None, true) => return Err("the answer is not JSON".into()),
        (None, false) => &null,
    };
    for (pointer, want) in &expect.json {
        let want = to_json(want, vars)?;
        match doc.pointer(pointer) {
            Some(got) if got == &want => {}
            Some(got) => {
                return Err(format!(
                    "{pointer} is {}, expected {}",
                    short(got),
                    short(&want)
                ));
            }
            None => return Err(format!("{pointer} is missing, expected {}", short(&want))),
        }
    }
    for (pointer, accepted) in &expect.one_of {
        let accepted = accepted
            .iter()
            .map(|v| to_json(v, vars))
            .collect::<Result<Vec<_>, _>>()?;
        let got = doc.pointer(pointer);
        if !got.is_some_and(|g| accepted.contains(g)) {
            let list: Vec<String> = accepted.iter().map(short).collect();
            return Err(format!(
                "{pointer} is {}, expected one of {}",
                got.map_or("missing".to_string(), short),
                list.join(", ")
            ));
        }
    }
    for pointer in &expect.present {
        if doc.pointer(pointer).is_none_or(Value::is_null) {
            return Err(format!("{pointer} is missing"));
        }
    }
    for pointer in &expect.absent {
        if let Some(got) = doc.pointer(pointer).filter(|v| !v.is_null()) {
            return Err(format!("{pointer} should be absent, is {}", short(got)));
        }
    }
    for text in &expect.contains {
        let text = substitute(text, vars)?;
        if !body.contains(&text) {
            return Err(format!("the answer does not contain {text:?}"));
        }
    }
    Ok(())
}

/// Takes `name → pointer` values out of `json` into `vars` (strings as they are, other values as JSON text).
pub fn capture(
    capture: &BTreeMap<String, String>,
    json: Option<&Value>,
    vars: &mut Vars,
) -> Result<(), String> {
    for (name, pointer) in capture {
        let v = json
            .and_then(|j| j.pointer(pointer))
            .filter(|v| !v.is_null())
            .ok_or_else(|| {
                format!("cannot capture {name}: {pointer} is missing from the answer")
            })?;
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        vars.insert(name.clone(), text);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expect(toml_text: &str) -> Expect {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn substitution() {
        let vars = Vars::from([("id".to_string(), "p1".to_string())]);
        assert_eq!(
            substitute("/v1/persons/${id}/insi", &vars).unwrap(),
            "/v1/persons/p1/insi"
        );
        assert!(
            substitute("${nope}", &vars)
                .unwrap_err()
                .contains("${nope}")
        );
        let v = to_json(&toml::Value::Array(vec!["${id}".into(), 3.into()]), &vars).unwrap();
        assert_eq!(v, json!(["p1", 3]));
    }

    #[test]
    fn readable_reasons() {
        let vars = Vars::new();
        let body = json!({"outcome": "not_found", "attempts": [1]});
        let e = expect("status = 200\njson = { \"/outcome\" = \"found\" }");
        let r = check(&e, 200, "", Some(&body), &vars).unwrap_err();
        assert_eq!(r, "/outcome is \"not_found\", expected \"found\"");
        let err = json!({"code": "identity.insi_forbidden", "message": "doubtful"});
        let r = check(&e, 409, "", Some(&err), &vars).unwrap_err();
        assert_eq!(
            r,
            "HTTP 409, expected 200: identity.insi_forbidden: doubtful"
        );
        let e = expect("one_of = { \"/outcome\" = [\"found\", \"multiple\"] }");
        assert_eq!(
            check(&e, 200, "", Some(&body), &vars).unwrap_err(),
            "/outcome is \"not_found\", expected one of \"found\", \"multiple\""
        );
        let e = expect("present = [\"/ins\"]");
        assert_eq!(
            check(&e, 200, "", Some(&body), &vars).unwrap_err(),
            "/ins is missing"
        );
        let e = expect("absent = [\"/attempts\"]\ncontains = [\"x\"]");
        assert!(
            check(&e, 200, "", Some(&body), &vars)
                .unwrap_err()
                .contains("absent")
        );
        let e = expect("contains = [\"segur_certificate\"]");
        assert!(check(&e, 200, "# segur_certificate_days_left", None, &vars).is_ok());
        assert!(check(&e, 200, "nothing", None, &vars).is_err());
        assert!(check(&Expect::default(), 500, "", None, &vars).is_err());
    }

    #[test]
    fn captures() {
        let mut vars = Vars::new();
        let body = json!({"id": "p1", "version": 2});
        let c = BTreeMap::from([
            ("p".to_string(), "/id".to_string()),
            ("v".to_string(), "/version".to_string()),
        ]);
        capture(&c, Some(&body), &mut vars).unwrap();
        assert_eq!((vars["p"].as_str(), vars["v"].as_str()), ("p1", "2"));
        let c = BTreeMap::from([("x".to_string(), "/nope".to_string())]);
        assert!(
            capture(&c, Some(&body), &mut vars)
                .unwrap_err()
                .contains("/nope")
        );
    }
}
