//! Acknowledgements (`spec/mssante.md` "Acknowledgements"): delivery status notifications (DSN, RFC 3464) and
//! message disposition notifications (MDN, RFC 8098), built and parsed. Pure.
//!
//! Both are `multipart/report` (RFC 6522): a human-readable part, the machine-readable part
//! (`message/delivery-status` or `message/disposition-notification`, groups of header fields separated by blank
//! lines) and the original headers (`text/rfc822-headers`). They are written by hand (lettre has no
//! `multipart/report`) and read with mail-parser plus a small field parser.
//!
//! Linking to the sent message: an MDN by `Original-Message-ID`; a DSN by `Original-Envelope-Id` (the `ENVID` the
//! gateway gives = the message uuid) or, failing that, the `Message-ID` of the returned headers.
//!
//! Status of a sent message ([`MessageStatus::apply`]): `queued → sent → delivered → read`, or `failed`. Choices
//! where the spec is silent: with several recipients, the first failure makes the message `failed` (the DUI must
//! act) and a later success does not undo it; a DSN `delivered`/`relayed`/`expanded` after `read` leaves `read`;
//! `delayed` changes nothing; an MDN `processed/Error` or `failed` is `failed` with its text as the reason.

use mail_parser::{MessageParser, MimeHeaders, PartType};
use time::OffsetDateTime;

/// Status of a sent message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Accepted by the gateway, not yet submitted.
    Queued,
    /// Accepted by the submission server.
    Sent,
    /// A DSN says delivered.
    Delivered,
    /// An MDN says processed (read by the recipient's software or person).
    Read,
    /// Refused, bounced, or an MDN with an error.
    Failed,
}

impl MessageStatus {
    /// Lower-case name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Read => "read",
            MessageStatus::Failed => "failed",
        }
    }

    /// From [`MessageStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => MessageStatus::Queued,
            "sent" => MessageStatus::Sent,
            "delivered" => MessageStatus::Delivered,
            "read" => MessageStatus::Read,
            "failed" => MessageStatus::Failed,
            _ => return None,
        })
    }

    /// The status after `report`.
    pub fn apply(self, report: &Report) -> MessageStatus {
        use MessageStatus::*;
        if self == Failed {
            return Failed;
        }
        match report {
            Report::Dsn(d) => {
                if d.recipients.iter().any(|r| r.action == DsnAction::Failed) {
                    Failed
                } else if d.recipients.iter().any(|r| r.action.is_success()) {
                    match self {
                        Read => Read,
                        _ => Delivered,
                    }
                } else {
                    self
                }
            }
            Report::Mdn(m) => match &m.disposition {
                Disposition::Processed | Disposition::Displayed => Read,
                Disposition::Error(_) | Disposition::Other(_) => Failed,
            },
        }
    }
}

/// `Action` of a DSN recipient (RFC 3464 §2.3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DsnAction {
    /// `failed`.
    Failed,
    /// `delayed`.
    Delayed,
    /// `delivered`.
    Delivered,
    /// `relayed`.
    Relayed,
    /// `expanded`.
    Expanded,
}

impl DsnAction {
    fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "failed" => DsnAction::Failed,
            "delayed" => DsnAction::Delayed,
            "delivered" => DsnAction::Delivered,
            "relayed" => DsnAction::Relayed,
            "expanded" => DsnAction::Expanded,
            _ => return None,
        })
    }

    fn as_str(&self) -> &'static str {
        match self {
            DsnAction::Failed => "failed",
            DsnAction::Delayed => "delayed",
            DsnAction::Delivered => "delivered",
            DsnAction::Relayed => "relayed",
            DsnAction::Expanded => "expanded",
        }
    }

    fn is_success(&self) -> bool {
        matches!(
            self,
            DsnAction::Delivered | DsnAction::Relayed | DsnAction::Expanded
        )
    }
}

/// One recipient of a DSN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsnRecipient {
    /// `Final-Recipient` address (type prefix removed).
    pub final_recipient: String,
    /// `Action`.
    pub action: DsnAction,
    /// `Status`, e.g. `2.0.0`, `5.1.1`.
    pub status: String,
    /// `Diagnostic-Code`, when given.
    pub diagnostic: Option<String>,
}

/// A delivery status notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    /// `Original-Envelope-Id` (xtext decoded).
    pub envelope_id: Option<String>,
    /// `Message-ID` of the returned headers, without brackets.
    pub original_message_id: Option<String>,
    /// Per-recipient fields.
    pub recipients: Vec<DsnRecipient>,
}

/// The disposition of an MDN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// `processed`.
    Processed,
    /// `displayed`.
    Displayed,
    /// `processed/error` (or any `/error` modifier) with the text after `Error:`.
    Error(String),
    /// Anything else (`deleted`, `dispatched`, …), as written.
    Other(String),
}

/// A message disposition notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mdn {
    /// `Original-Message-ID`, without brackets.
    pub original_message_id: Option<String>,
    /// `Final-Recipient` address.
    pub final_recipient: Option<String>,
    /// The disposition.
    pub disposition: Disposition,
}

/// A parsed report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// Delivery status.
    Dsn(Dsn),
    /// Disposition.
    Mdn(Mdn),
}

impl Report {
    /// The id of the sent message it is about (message uuid for a DSN with ENVID, else the Message-ID).
    pub fn reference(&self) -> Option<&str> {
        match self {
            Report::Dsn(d) => d
                .envelope_id
                .as_deref()
                .or(d.original_message_id.as_deref()),
            Report::Mdn(m) => m.original_message_id.as_deref(),
        }
    }
}

/// Why a message is not a usable report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// Not parsable as MIME.
    #[error("malformed MIME message")]
    Malformed,
    /// A message, but not a `multipart/report` of a known type.
    #[error("not a delivery or disposition report")]
    NotAReport,
    /// The machine-readable part lacks a required field.
    #[error("report without {0}")]
    MissingField(&'static str),
}

/// Header fields of a report body, in groups (blank-line separated), names lower-cased, continuations unfolded.
fn field_groups(text: &str) -> Vec<Vec<(String, String)>> {
    let mut groups: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if groups.last().is_some_and(|g| !g.is_empty()) {
                groups.push(Vec::new());
            }
            continue;
        }
        let group = groups.last_mut().expect("never empty");
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = group.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((n, v)) = line.split_once(':') {
            group.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    groups.retain(|g| !g.is_empty());
    groups
}

fn get<'a>(g: &'a [(String, String)], name: &str) -> Option<&'a str> {
    g.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// `rfc822;a@b` → `a@b`.
fn address_field(v: &str) -> String {
    v.split_once(';')
        .map(|(_, a)| a)
        .unwrap_or(v)
        .trim()
        .trim_matches(['<', '>'])
        .to_owned()
}

fn strip_id(v: &str) -> String {
    v.trim().trim_matches(['<', '>']).to_owned()
}

/// Decodes RFC 3461 `xtext` (`+XX`).
pub fn xtext_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let hex = |c: u8| (c as char).to_digit(16);
    while i < b.len() {
        if b[i] == b'+'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a DSN or MDN.
pub fn parse_report(bytes: &[u8]) -> Result<Report, ReportError> {
    let msg = MessageParser::default()
        .parse(bytes)
        .ok_or(ReportError::Malformed)?;
    let ct = msg.content_type().ok_or(ReportError::NotAReport)?;
    let is_report = ct.ctype().eq_ignore_ascii_case("multipart")
        && ct
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"));
    if !is_report {
        return Err(ReportError::NotAReport);
    }
    let mut status_text = None;
    let mut returned_id = None;
    for part in msg.parts.iter() {
        let Some(pct) = part.content_type() else {
            continue;
        };
        let sub = pct.subtype().unwrap_or("").to_ascii_lowercase();
        let text = match &part.body {
            PartType::Text(t) | PartType::Html(t) => t.to_string(),
            PartType::Binary(b) | PartType::InlineBinary(b) => {
                String::from_utf8_lossy(b).into_owned()
            }
            PartType::Message(m) => {
                if sub == "rfc822" || sub == "rfc822-headers" {
                    returned_id = m.message_id().map(str::to_owned);
                }
                String::from_utf8_lossy(m.raw_message()).into_owned()
            }
            PartType::Multipart(_) => continue,
        };
        match (pct.ctype().to_ascii_lowercase().as_str(), sub.as_str()) {
            ("message", "delivery-status") | ("message", "disposition-notification") => {
                status_text = Some((sub, text));
            }
            ("text", "rfc822-headers") => {
                let groups = field_groups(&text);
                returned_id = groups
                    .first()
                    .and_then(|g| get(g, "message-id"))
                    .map(strip_id);
            }
            _ => {}
        }
    }
    let (kind, text) = status_text.ok_or(ReportError::NotAReport)?;
    let groups = field_groups(&text);
    let first = groups.first().ok_or(ReportError::MissingField("fields"))?;
    if kind == "delivery-status" {
        let mut recipients = Vec::new();
        for g in groups.iter().skip(1) {
            let action = get(g, "action")
                .and_then(DsnAction::parse)
                .ok_or(ReportError::MissingField("Action"))?;
            recipients.push(DsnRecipient {
                final_recipient: get(g, "final-recipient")
                    .map(address_field)
                    .ok_or(ReportError::MissingField("Final-Recipient"))?,
                action,
                status: get(g, "status")
                    .ok_or(ReportError::MissingField("Status"))?
                    .to_owned(),
                diagnostic: get(g, "diagnostic-code").map(str::to_owned),
            });
        }
        if recipients.is_empty() {
            return Err(ReportError::MissingField("recipient fields"));
        }
        Ok(Report::Dsn(Dsn {
            envelope_id: get(first, "original-envelope-id").map(xtext_decode),
            original_message_id: returned_id.map(|s| strip_id(&s)),
            recipients,
        }))
    } else {
        let all: Vec<(String, String)> = groups.into_iter().flatten().collect();
        let disp = get(&all, "disposition").ok_or(ReportError::MissingField("Disposition"))?;
        Ok(Report::Mdn(Mdn {
            original_message_id: get(&all, "original-message-id").map(strip_id),
            final_recipient: get(&all, "final-recipient").map(address_field),
            disposition: parse_disposition(disp),
        }))
    }
}

/// `automatic-action/MDN-sent-automatically; processed/error: text` → [`Disposition`].
fn parse_disposition(v: &str) -> Disposition {
    let after = v.split_once(';').map(|(_, d)| d).unwrap_or(v).trim();
    let (kind, text) = match after.split_once(':') {
        Some((k, t)) => (k.trim(), Some(t.trim())),
        None => (after, None),
    };
    let (ty, modifier) = match kind.split_once('/') {
        Some((t, m)) => (
            t.trim().to_ascii_lowercase(),
            Some(m.trim().to_ascii_lowercase()),
        ),
        None => (kind.to_ascii_lowercase(), None),
    };
    if modifier.as_deref() == Some("error") {
        return Disposition::Error(text.unwrap_or("").to_owned());
    }
    match ty.as_str() {
        "processed" => Disposition::Processed,
        "displayed" => Disposition::Displayed,
        _ => Disposition::Other(after.to_owned()),
    }
}

fn rfc2822_date(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default()
}

fn report_envelope(
    from: &str,
    to: &str,
    subject: &str,
    id: &str,
    date: OffsetDateTime,
    report_type: &str,
    boundary: &str,
) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {}\r\nMessage-ID: <{id}>\r\n\
         MIME-Version: 1.0\r\nAuto-Submitted: auto-replied\r\n\
         Content-Type: multipart/report; report-type={report_type};\r\n boundary=\"{boundary}\"\r\n\r\n",
        rfc2822_date(date)
    )
}

/// What an MDN answers.
#[derive(Debug, Clone)]
pub struct MdnInput<'a> {
    /// The acknowledging mailbox (`From`, `Final-Recipient`).
    pub from: &'a str,
    /// Where the original asked the MDN to go (`Disposition-Notification-To`).
    pub to: &'a str,
    /// `Message-ID` of the original, without brackets.
    pub original_message_id: &'a str,
    /// Subject of the original.
    pub original_subject: &'a str,
    /// `processed`, or the error text for `processed/Error`.
    pub error: Option<&'a str>,
    /// Name of the reporting software (`Reporting-UA`).
    pub reporting_ua: &'a str,
    /// Id of the MDN itself (`<id>` without brackets).
    pub id: &'a str,
    /// Date.
    pub date: OffsetDateTime,
}

/// Builds an MDN (RFC 8098) with `automatic-action/MDN-sent-automatically; processed` or `processed/Error`.
pub fn build_mdn(m: &MdnInput<'_>) -> Vec<u8> {
    let boundary = format!("=_mdn_{}", m.id.replace(['@', '.', '<', '>'], "_"));
    let disposition = match m.error {
        None => "automatic-action/MDN-sent-automatically; processed".to_owned(),
        Some(e) => format!(
            "automatic-action/MDN-sent-automatically; processed/Error: {}",
            one_line(e)
        ),
    };
    let human = match m.error {
        None => "Le message a été traité par le logiciel destinataire.".to_owned(),
        Some(e) => format!(
            "Le message n'a pas pu être intégré par le logiciel destinataire : {}",
            one_line(e)
        ),
    };
    let mut out = report_envelope(
        m.from,
        m.to,
        &format!("Accusé de lecture : {}", one_line(m.original_subject)),
        m.id,
        m.date,
        "disposition-notification",
        &boundary,
    );
    // The subject may hold non-ASCII: encode it as RFC 2047 base64.
    out = out.replacen(
        &format!(
            "Subject: Accusé de lecture : {}",
            one_line(m.original_subject)
        ),
        &format!(
            "Subject: =?utf-8?b?{}?=",
            base64_encode(&format!(
                "Accusé de lecture : {}",
                one_line(m.original_subject)
            ))
        ),
        1,
    );
    out.push_str(&format!(
        "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{human}\r\n\r\n\
         --{boundary}\r\nContent-Type: message/disposition-notification\r\n\r\n\
         Reporting-UA: {}\r\nFinal-Recipient: rfc822;{}\r\nOriginal-Message-ID: <{}>\r\nDisposition: {disposition}\r\n\r\n\
         --{boundary}--\r\n",
        one_line(m.reporting_ua),
        m.from,
        m.original_message_id
    ));
    out.into_bytes()
}

/// What a DSN reports.
#[derive(Debug, Clone)]
pub struct DsnInput<'a> {
    /// Reporting MTA name.
    pub reporting_mta: &'a str,
    /// `From` of the DSN (postmaster).
    pub from: &'a str,
    /// The original sender.
    pub to: &'a str,
    /// `ENVID` of the original (xtext as received), if any.
    pub envelope_id: Option<&'a str>,
    /// Headers of the original (`RET=HDRS`).
    pub original_headers: &'a str,
    /// Per recipient: address, action, status, diagnostic.
    pub recipients: &'a [(String, DsnAction, String, Option<String>)],
    /// Id of the DSN.
    pub id: &'a str,
    /// Date.
    pub date: OffsetDateTime,
}

/// Builds a DSN (RFC 3464).
pub fn build_dsn(d: &DsnInput<'_>) -> Vec<u8> {
    let boundary = format!("=_dsn_{}", d.id.replace(['@', '.'], "_"));
    let failed = d.recipients.iter().any(|r| r.1 == DsnAction::Failed);
    let subject = if failed {
        "Undelivered Mail Returned to Sender"
    } else {
        "Successful Mail Delivery Report"
    };
    let mut out = report_envelope(
        d.from,
        d.to,
        subject,
        d.id,
        d.date,
        "delivery-status",
        &boundary,
    );
    out.push_str(&format!(
        "--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{subject}.\r\n\r\n\
         --{boundary}\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns;{}\r\n",
        d.reporting_mta
    ));
    if let Some(e) = d.envelope_id {
        out.push_str(&format!("Original-Envelope-Id: {e}\r\n"));
    }
    for (addr, action, status, diag) in d.recipients {
        out.push_str(&format!(
            "\r\nFinal-Recipient: rfc822;{addr}\r\nAction: {}\r\nStatus: {status}\r\n",
            action.as_str()
        ));
        if let Some(diag) = diag {
            out.push_str(&format!("Diagnostic-Code: smtp;{}\r\n", one_line(diag)));
        }
    }
    out.push_str(&format!(
        "\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n{}\r\n--{boundary}--\r\n",
        d.original_headers.trim_end()
    ));
    out.into_bytes()
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(500)
        .collect()
}

fn base64_encode(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The header block of a message (up to the first blank line), for `RET=HDRS`.
pub fn header_block(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message);
    match text.find("\r\n\r\n") {
        Some(i) => text[..i].to_owned(),
        None => text
            .lines()
            .take_while(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\r\n"),
    }
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
