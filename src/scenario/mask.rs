//! Masking of what goes into an evidence report: secrets, tokens and full INS never reach `report.json` or
//! `report.html`.
//!
//! # Choices
//!
//! - **Known values first**: the API key and the variables a scenario declares secret (`secrets = [...]`) are
//!   replaced wherever they appear (`***`).
//! - **Token fields by name**, in JSON (`"access_token": "…"`) and in forms or query strings
//!   (`code=…&code_verifier=…`): [`TOKEN_FIELDS`] (in JSON `code` is kept: it is the API's error code). JSON Web Tokens (`eyJ….….…`) anywhere.
//! - **INS**: every run of 13 or 15 letters/digits shaped like a NIR (sex digit, Corsica `2A`/`2B` allowed,
//!   optional key) keeps only its last four characters (`***********4974`), as the audit log does. Over-masking
//!   some other 13-digit number is accepted; missing an INS is not.

/// Field names whose values are secrets.
pub const TOKEN_FIELDS: &[&str] = &[
    "access_token",
    "id_token",
    "refresh_token",
    "id_token_hint",
    "client_secret",
    "code",
    "code_verifier",
    "auth_req_id",
    "password",
    "pkcs12_password",
    "api_key",
];

/// In JSON, `code` is the API's error code (evidence), not an authorization code.
const JSON_KEEP: &[&str] = &["code"];

const MASK: &str = "***";

/// Masks `text` (see the module docs); `secrets` are exact values to hide (empty ones are ignored).
pub fn mask(text: &str, secrets: &[String]) -> String {
    let mut s = text.to_string();
    for secret in secrets.iter().filter(|v| v.len() >= 4) {
        s = s.replace(secret.as_str(), MASK);
    }
    let s = mask_json_fields(&s);
    let s = mask_form_fields(&s);
    let s = mask_jwts(&s);
    mask_ins(&s)
}

fn mask_json_fields(s: &str) -> String {
    let mut out = s.to_string();
    for field in TOKEN_FIELDS.iter().filter(|f| !JSON_KEEP.contains(f)) {
        let needle = format!("\"{field}\"");
        let mut from = 0;
        while let Some(pos) = out[from..].find(&needle) {
            let after = from + pos + needle.len();
            let rest = &out[after..];
            let trimmed = rest.trim_start();
            let Some(colon) = trimmed.strip_prefix(':') else {
                from = after;
                continue;
            };
            let value = colon.trim_start();
            let Some(inner) = value.strip_prefix('"') else {
                from = after;
                continue;
            };
            let start = out.len() - inner.len();
            let end = closing_quote(inner).map_or(out.len(), |e| start + e);
            out.replace_range(start..end, MASK);
            from = start + MASK.len();
        }
    }
    out
}

fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

fn mask_form_fields(s: &str) -> String {
    let mut out = s.to_string();
    for field in TOKEN_FIELDS {
        let needle = format!("{field}=");
        let mut from = 0;
        while let Some(pos) = out[from..].find(&needle) {
            let at = from + pos;
            let start = at + needle.len();
            let boundary = at == 0 || matches!(out.as_bytes()[at - 1], b'&' | b'?' | b'\n' | b' ');
            if !boundary {
                from = start;
                continue;
            }
            let end = out[start..]
                .find(|c: char| c == '&' || c == '"' || c == '<' || c.is_whitespace())
                .map_or(out.len(), |e| start + e);
            out.replace_range(start..end, MASK);
            from = start + MASK.len();
        }
    }
    out
}

fn mask_jwts(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find("eyJ") {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
            .unwrap_or(tail.len());
        let candidate = &tail[..len];
        if candidate.matches('.').count() >= 2 {
            out.push_str("***jwt***");
        } else {
            out.push_str(candidate);
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

/// True for a NIR-shaped run: 13 characters (+ 2-digit key), first digit a sex/NIA digit, `2A`/`2B` allowed at
/// the department.
fn nir_like(run: &[u8]) -> bool {
    if run.len() != 13 && run.len() != 15 {
        return false;
    }
    run.iter().enumerate().all(|(i, b)| match i {
        6 => b.is_ascii_digit() || *b == b'A' || *b == b'B',
        _ => b.is_ascii_digit(),
    }) && matches!(run[0], b'1'..=b'4' | b'7' | b'8')
}

fn mask_ins(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_alphanumeric() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            if nir_like(&bytes[start..i]) {
                out.push_str(&s[copied..start]);
                out.push_str(&"*".repeat(i - start - 4));
                out.push_str(&s[i - 4..i]);
                copied = i;
            }
        } else {
            i += 1;
        }
    }
    out.push_str(&s[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ins_in_every_shape() {
        let s = mask(
            "<NumIdentifiant>2751263220749</NumIdentifiant><Cle>74</Cle> \
             {\"value\":\"275126322074974\"} 275126322074974^^^&1.2.250.1.213.1.4.10&ISO^NH 297022A020778",
            &[],
        );
        assert!(
            !s.contains("2751263220749") && !s.contains("297022A020778"),
            "{s}"
        );
        assert!(
            s.contains("*********0749") && s.contains("***********4974"),
            "{s}"
        );
        assert!(s.contains("1.2.250.1.213.1.4.10"), "OIDs stay: {s}");
        // Not NIR-shaped: timestamps, FINESS, RPPS, ids.
        let keep = "20261202051000 1630790004 899700218943 5123456789012";
        assert_eq!(mask(keep, &[]), keep);
    }

    #[test]
    fn tokens_forms_jwts_and_known_secrets() {
        let s = mask(
            r#"{"access_token": "abc\"def", "token_type":"Bearer", "id_token":"x"} code=AAA&code_verifier=BBB&state=S eyJhbGciOi.eyJzdWIi.sig sgw_secret123"#,
            &["sgw_secret123".into()],
        );
        for leak in ["abc", "AAA", "BBB", "eyJzdWIi", "sgw_secret123"] {
            assert!(!s.contains(leak), "{leak} in {s}");
        }
        assert!(s.contains("Bearer") && s.contains("state=S"), "{s}");
        // `encode=` is not `code=`.
        assert_eq!(mask("encode=1", &[]), "encode=1");
    }
}
