//! Server-side reading of an MTOM/XOP `multipart/related` message (W3C XOP, SOAP 1.2 MTOM): the `boundary` and
//! `start` parameters of the `Content-Type`, the parts with their headers, the root part (the `start` one, else
//! the first) and the binary parts by `Content-ID`. Bounded: at most [`MAX_PARTS`] parts.

use std::collections::HashMap;

/// Most parts accepted.
pub const MAX_PARTS: usize = 16;

/// A parsed message.
#[derive(Debug, Clone, Default)]
pub struct Mtom {
    /// The root part's body (the SOAP envelope).
    pub root: Vec<u8>,
    /// The root part's `Content-Type`.
    pub root_type: String,
    /// Other parts by `Content-ID` (without angle brackets).
    pub parts: HashMap<String, Vec<u8>>,
}

/// A `Content-Type` parameter (quoted or not, case-insensitive name).
pub fn param(content_type: &str, name: &str) -> Option<String> {
    let mut rest = content_type.split_once(';')?.1;
    loop {
        let (key, after) = rest.split_once('=')?;
        let key = key.trim();
        let after = after.trim_start();
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => out.push(c),
                }
            }
            let next = q[end..].split_once(';').map_or("", |x| x.1);
            (out, next)
        } else {
            let (v, n) = after.split_once(';').unwrap_or((after, ""));
            (v.trim().to_string(), n)
        };
        if key.eq_ignore_ascii_case(name) {
            return Some(value);
        }
        if next.is_empty() {
            return None;
        }
        rest = next;
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    memchr::memmem::find(&hay[from..], needle).map(|p| p + from)
}

fn strip_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

/// Parses `body` sent with `content_type` (`multipart/related`).
pub fn parse(content_type: &str, body: &[u8]) -> Result<Mtom, String> {
    let boundary = param(content_type, "boundary").ok_or("no boundary parameter")?;
    let start = param(content_type, "start").map(|s| strip_id(&s));
    let delimiter = format!("--{boundary}");
    let d = delimiter.as_bytes();
    let mut pos = find(body, d, 0).ok_or("no first boundary")?;
    let mut parsed: Vec<(HashMap<String, String>, Vec<u8>)> = Vec::new();
    loop {
        let after = pos + d.len();
        if body.get(after..after + 2) == Some(b"--") {
            break;
        }
        let head_start = after + 2;
        let head_end = find(body, b"\r\n\r\n", head_start).ok_or("part without headers end")?;
        let headers: HashMap<String, String> =
            String::from_utf8_lossy(body.get(head_start..head_end).ok_or("bad part")?)
                .split("\r\n")
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
        let content_start = head_end + 4;
        let next = find(body, format!("\r\n{delimiter}").as_bytes(), content_start)
            .ok_or("part not closed by a boundary")?;
        parsed.push((headers, body[content_start..next].to_vec()));
        if parsed.len() > MAX_PARTS {
            return Err("too many parts".into());
        }
        pos = next + 2;
    }
    let root_index = match &start {
        Some(s) => parsed
            .iter()
            .position(|(h, _)| h.get("content-id").map(|i| strip_id(i)).as_deref() == Some(s))
            .ok_or("no part has the start Content-ID")?,
        None => 0,
    };
    let mut out = Mtom::default();
    for (i, (h, content)) in parsed.into_iter().enumerate() {
        if i == root_index {
            out.root = content;
            out.root_type = h.get("content-type").cloned().unwrap_or_default();
        } else if let Some(id) = h.get("content-id") {
            out.parts.insert(strip_id(id), content);
        }
    }
    if out.root.is_empty() {
        return Err("empty root part".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_and_parts() {
        let ct = r#"multipart/related; type="application/xop+xml"; boundary="B1"; start="<r@x>"; start-info="application/soap+xml; action=\"urn:a\"""#;
        assert_eq!(param(ct, "boundary").as_deref(), Some("B1"));
        assert_eq!(
            param(ct, "start-info").as_deref(),
            Some("application/soap+xml; action=\"urn:a\"")
        );
        let body = b"--B1\r\nContent-ID: <d@x>\r\n\r\n\x00\x01--B\r\n--B1\r\nContent-Type: application/xop+xml\r\nContent-ID: <r@x>\r\n\r\n<e/>\r\n--B1--\r\n";
        let m = parse(ct, body).expect("parses");
        assert_eq!(m.root, b"<e/>");
        assert_eq!(m.parts["d@x"], b"\x00\x01--B");
        assert!(parse(ct, b"--B1\r\nX: y\r\n\r\nno end").is_err());
    }
}
