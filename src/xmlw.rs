//! A minimal, allocation-light XML writer shared by the document and message builders (CDA, XDS, VIHF).
//!
//! Builders write their wire format element by element rather than through a serde mapping, because the formats
//! they follow fix element order, namespaces and prefixes precisely (CDA schema order, SAML schema order, ebRS).
//!
//! Choices:
//!
//! - Text and attribute values are escaped (`&`, `<`, `>`, `"`; `'` is left as is inside double quotes).
//! - Characters XML 1.0 forbids (C0 controls other than tab, line feed and carriage return, U+FFFE, U+FFFF) are
//!   dropped rather than written: they cannot appear in a well-formed document, even escaped, and no value the
//!   builders carry (names, labels, codes) needs them. Carriage returns are written as `&#13;` so they survive
//!   end-of-line normalisation.
//! - Optional indentation (two spaces per level) for documents people read (`segur cda pps`); elements holding text
//!   keep the text on the same line so narrative content is not padded with white space. Signed messages are
//!   written without indentation.

/// Builds an XML document into a `String`.
#[derive(Debug)]
pub struct XmlWriter {
    buf: String,
    stack: Vec<String>,
    indent: bool,
    /// Whether the innermost open element already holds a child element (its end tag then goes on a new line).
    has_children: Vec<bool>,
}

impl XmlWriter {
    /// A writer starting with the XML declaration (UTF-8).
    pub fn new(indent: bool) -> Self {
        let mut w = Self::fragment(indent);
        w.buf.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        if indent {
            w.buf.push('\n');
        }
        w
    }

    /// A writer with no XML declaration (for fragments placed inside another document).
    pub fn fragment(indent: bool) -> Self {
        XmlWriter {
            buf: String::with_capacity(4096),
            stack: Vec::new(),
            indent,
            has_children: Vec::new(),
        }
    }

    fn newline(&mut self) {
        if let Some(last) = self.has_children.last_mut() {
            *last = true;
        }
        if self.indent
            && !(self.buf.is_empty() || self.buf.ends_with('\n') && self.stack.is_empty())
        {
            self.buf.push('\n');
            for _ in 0..self.stack.len() {
                self.buf.push_str("  ");
            }
        }
    }

    fn open_tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.newline();
        self.buf.push('<');
        self.buf.push_str(name);
        for (k, v) in attrs {
            self.buf.push(' ');
            self.buf.push_str(k);
            self.buf.push_str("=\"");
            escape_into(&mut self.buf, v);
            self.buf.push('"');
        }
    }

    /// Opens an element; close it with [`XmlWriter::end`].
    pub fn start(&mut self, name: &str, attrs: &[(&str, &str)]) -> &mut Self {
        self.open_tag(name, attrs);
        self.buf.push('>');
        self.stack.push(name.to_owned());
        self.has_children.push(false);
        self
    }

    /// Closes the innermost open element.
    pub fn end(&mut self) -> &mut Self {
        if let Some(name) = self.stack.pop() {
            let children = self.has_children.pop().unwrap_or(false);
            if children && self.indent {
                self.buf.push('\n');
                for _ in 0..self.stack.len() {
                    self.buf.push_str("  ");
                }
            }
            self.buf.push_str("</");
            self.buf.push_str(&name);
            self.buf.push('>');
        }
        self
    }

    /// Writes an empty element.
    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) -> &mut Self {
        self.open_tag(name, attrs);
        self.buf.push_str("/>");
        self
    }

    /// Writes an element holding only text.
    pub fn text_elem(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) -> &mut Self {
        self.open_tag(name, attrs);
        self.buf.push('>');
        escape_into(&mut self.buf, text);
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
        self
    }

    /// Writes escaped text inside the open element.
    pub fn text(&mut self, text: &str) -> &mut Self {
        escape_into(&mut self.buf, text);
        self
    }

    /// Inserts an already serialised XML fragment as is (no escaping): a signed element whose bytes must not change,
    /// or the output of another builder. The caller guarantees it is one well-formed element.
    pub fn raw_xml(&mut self, fragment: &str) -> &mut Self {
        self.newline();
        self.buf.push_str(fragment);
        self
    }

    /// Writes bytes as base64 text inside the open element, in lines of 76 characters.
    pub fn base64(&mut self, bytes: &[u8]) -> &mut Self {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        for (i, chunk) in encoded.as_bytes().chunks(76).enumerate() {
            if i > 0 {
                self.buf.push('\n');
            }
            // Base64 output is ASCII.
            self.buf
                .push_str(std::str::from_utf8(chunk).unwrap_or_default());
        }
        self
    }

    /// Closes every open element and returns the document.
    pub fn finish(mut self) -> String {
        while !self.stack.is_empty() {
            self.end();
        }
        if self.indent {
            self.buf.push('\n');
        }
        self.buf
    }
}

/// Whether XML 1.0 allows the character in a document.
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Appends `s` escaped for text or a double-quoted attribute value.
pub fn escape_into(buf: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => buf.push_str("&amp;"),
            '<' => buf.push_str("&lt;"),
            '>' => buf.push_str("&gt;"),
            '"' => buf.push_str("&quot;"),
            '\r' => buf.push_str("&#13;"),
            c if allowed(c) => buf.push(c),
            _ => {}
        }
    }
}

/// `s` escaped for text or a double-quoted attribute value.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_drops_forbidden_characters() {
        assert_eq!(
            escape("a<b>&\"c'\u{1}\u{FFFF}\r"),
            "a&lt;b&gt;&amp;&quot;c'&#13;"
        );
    }

    #[test]
    fn nests_and_indents() {
        let mut w = XmlWriter::fragment(true);
        w.start("a", &[("x", "1")]);
        w.text_elem("b", &[], "t");
        w.empty("c", &[]);
        w.end();
        assert_eq!(w.finish(), "<a x=\"1\">\n  <b>t</b>\n  <c/>\n</a>\n");
        let mut w = XmlWriter::fragment(false);
        w.start("a", &[]).text_elem("b", &[], "t").end();
        assert_eq!(w.finish(), "<a><b>t</b></a>");
    }
}
