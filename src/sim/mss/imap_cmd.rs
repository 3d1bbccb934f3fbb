//! Pure parts of the IMAP simulator: command lines and UID sets (RFC 3501 §9 grammar, the subset the gateway's
//! client sends: atoms, quoted strings, parenthesised lists; no literals).

/// One argument of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arg {
    /// An atom (or a sequence set, a flag…), as written.
    Atom(String),
    /// A quoted string, unescaped.
    Quoted(String),
    /// A parenthesised list, its items.
    List(Vec<Arg>),
}

impl Arg {
    /// The text of an atom or a quoted string.
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Arg::Atom(s) | Arg::Quoted(s) => Some(s),
            Arg::List(_) => None,
        }
    }
}

/// `tag SP command *(SP arg)`: the tag, the upper-case command and its arguments; `None` when unreadable.
pub(crate) fn parse_line(line: &str) -> Option<(String, String, Vec<Arg>)> {
    let (tag, rest) = line.split_once(' ')?;
    if tag.is_empty() || tag.contains(['*', '+', '(', ')', '"']) {
        return None;
    }
    let (cmd, rest) = match rest.split_once(' ') {
        Some((c, r)) => (c, r),
        None => (rest, ""),
    };
    let mut chars = rest.chars().peekable();
    let args = parse_args(&mut chars, false)?;
    Some((tag.to_owned(), cmd.to_ascii_uppercase(), args))
}

fn parse_args(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    nested: bool,
) -> Option<Vec<Arg>> {
    let mut out = Vec::new();
    loop {
        match chars.peek().copied() {
            None => return (!nested).then_some(out),
            Some(' ') => {
                chars.next();
            }
            Some(')') => {
                chars.next();
                return nested.then_some(out);
            }
            Some('(') => {
                chars.next();
                out.push(Arg::List(parse_args(chars, true)?));
            }
            Some('"') => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => s.push(chars.next()?),
                        c => s.push(c),
                    }
                }
                out.push(Arg::Quoted(s));
            }
            Some(_) => {
                let mut s = String::new();
                // `BODY.PEEK[]` and `BODY[HEADER.FIELDS (A B)]` keep their brackets' content in one atom.
                let mut depth = 0usize;
                while let Some(&c) = chars.peek() {
                    if depth == 0 && (c == ' ' || c == '(' || c == ')') {
                        break;
                    }
                    match c {
                        '[' => depth += 1,
                        ']' => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                    s.push(c);
                    chars.next();
                }
                out.push(Arg::Atom(s));
            }
        }
    }
}

/// Whether `n` is in the sequence set `set` (`1,3:5,7:*`); `max` is the value of `*`.
pub(crate) fn in_set(set: &str, n: u32, max: u32) -> Option<bool> {
    let value = |s: &str| -> Option<u32> {
        if s == "*" {
            Some(max)
        } else {
            s.parse().ok().filter(|v| *v > 0)
        }
    };
    let mut hit = false;
    for part in set.split(',') {
        let (lo, hi) = match part.split_once(':') {
            Some((a, b)) => (value(a)?, value(b)?),
            None => {
                let v = value(part)?;
                (v, v)
            }
        };
        hit |= (lo.min(hi)..=lo.max(hi)).contains(&n);
    }
    Some(hit)
}

/// `"name"` quoted for a response.
pub(crate) fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `*`/`%` pattern of `LIST` (flat namespace: `%` and `*` both match any run of characters).
pub(crate) fn list_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*' | '%', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines() {
        let (tag, cmd, args) =
            parse_line(r#"a1 UID FETCH 1:* (UID FLAGS BODY.PEEK[] RFC822.SIZE)"#).unwrap();
        assert_eq!((tag.as_str(), cmd.as_str()), ("a1", "UID"));
        assert_eq!(args[0], Arg::Atom("FETCH".into()));
        assert_eq!(args[1], Arg::Atom("1:*".into()));
        let Arg::List(items) = &args[2] else {
            panic!("{args:?}")
        };
        assert_eq!(items.len(), 4);
        assert_eq!(items[2], Arg::Atom("BODY.PEEK[]".into()));
        let (_, cmd, args) = parse_line(r#"a2 create "Trait\"es""#).unwrap();
        assert_eq!(cmd, "CREATE");
        assert_eq!(args, vec![Arg::Quoted("Trait\"es".into())]);
        assert!(parse_line(r#"a3 SELECT "INBOX"#).is_none());
        assert!(parse_line("a4 STORE (1").is_none());
        assert!(parse_line("nospace").is_none());
        assert!(parse_line("* NOOP").is_none());
    }

    #[test]
    fn sets_and_patterns() {
        assert_eq!(in_set("1,3:5", 4, 9), Some(true));
        assert_eq!(in_set("1,3:5", 2, 9), Some(false));
        assert_eq!(in_set("7:*", 9, 9), Some(true));
        assert_eq!(in_set("*:7", 8, 9), Some(true));
        assert_eq!(in_set("0", 1, 9), None);
        assert_eq!(in_set("x", 1, 9), None);
        assert!(list_match("*", "Traites"));
        assert!(list_match("Tr%", "Traites"));
        assert!(!list_match("INBOX", "Traites"));
        assert_eq!(quote(r#"a"b"#), r#""a\"b""#);
    }
}
