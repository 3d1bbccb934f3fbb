//! The MIME message of a document exchange (`spec/mssante.md` "The message"; RFC 5322, RFC 2045–2049), built with
//! lettre's message builder. Pure: the caller gives the ids and the date, the same input gives the same bytes.
//!
//! Layout: `multipart/mixed` with the text body (`text/plain`, UTF-8), the PDF for humans when there is one
//! (`application/pdf`), the CDA for software (`text/xml`, named `DOC0001.XML`) and the `IHE_XDM.ZIP`
//! (`application/zip`).
//!
//! Headers: `X-MSS-NIL` on every message (configuration), `X-MSS-CODECDA` (the CDA `code`), `X-MSS-INS` (`O` when
//! the person's identity is QUAL, so the CDA carries a qualified INS, else `N`), `X-MSS-MES: FIN` to a patient
//! mailbox; `Disposition-Notification-To` (RFC 8098) and `Return-Receipt-To` with the sender address when
//! acknowledgements are asked; `Message-ID` = `<message uuid@sender domain>` so a retry sends the same id.
//!
//! Choices where the spec is silent: a message goes either to professionals or to one patient mailbox, never both
//! (`X-MSS-MES: FIN` would otherwise stop professionals from replying too); the allow-list entry `mssante.fr`
//! accepts that domain and its sub-domains (`patient.mssante.fr`, `<operator>.mssante.fr`); the subject label is
//! the document title as written in the metadata.

use super::xdm::{self, Sender};
use crate::cda::{Cda, PpsDocument};
use crate::ins::IdentityStatus;
use crate::xds::Submission;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use time::OffsetDateTime;

/// Domain of the patients' Mon espace santé mailboxes.
pub const PATIENT_DOMAIN: &str = "patient.mssante.fr";
/// Default size limit of a whole message (Mon espace santé: 25 MB).
pub const DEFAULT_MAX_BYTES: usize = 25_000_000;

/// Sending rules from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `X-MSS-NIL`: the product reference registered on the ANS Convergence platform.
    pub nil: String,
    /// Domains recipients must belong to (a domain also admits its sub-domains).
    pub allowed_domains: Vec<String>,
    /// Largest message, bytes.
    pub max_bytes: usize,
    /// Software and contact written to the XDM `README.TXT`.
    pub sender: Sender,
}

/// Who receives the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipients {
    /// Professional or organisational MSSanté addresses.
    Professionals(Vec<String>),
    /// The person's own Mon espace santé mailbox (`<INS>@patient.mssante.fr`), only for a QUAL identity.
    Patient,
}

/// What to send.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// The plan (names and birth date of the subject, identity status).
    pub doc: &'a PpsDocument,
    /// The validated CDA.
    pub cda: &'a Cda,
    /// Its XDS submission (becomes `METADATA.XML`).
    pub submission: &'a Submission,
    /// The PDF for humans, when there is one.
    pub pdf: Option<&'a [u8]>,
    /// Sender address (the application mailbox).
    pub from: &'a str,
    /// Recipients.
    pub to: Recipients,
    /// Text body.
    pub body: &'a str,
    /// Ask for read and delivery receipts.
    pub ack: bool,
    /// Id of this message (stable across retries).
    pub id: uuid::Uuid,
    /// `Date` header.
    pub date: OffsetDateTime,
}

/// A built message. `Debug` shows the id and size only (recipients may hold an INS).
#[derive(Clone, PartialEq, Eq)]
pub struct BuiltMessage {
    /// `Message-ID`, with its angle brackets.
    pub message_id: String,
    /// Envelope sender; empty = the null reverse-path `<>` (automatic replies such as MDNs).
    pub from: String,
    /// Envelope recipients. Sensitive for a patient (holds the INS): do not log.
    pub to: Vec<String>,
    /// The RFC 5322 bytes (CRLF line ends).
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for BuiltMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltMessage")
            .field("message_id", &self.message_id)
            .field("recipients", &self.to.len())
            .field("bytes", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// Why a message cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// An address is not a valid mailbox.
    #[error("not a valid e-mail address: {0:?}")]
    BadAddress(String),
    /// A recipient's domain is outside the configured MSSanté domains.
    #[error("recipient domain {0:?} is not an MSSanté domain of the configuration")]
    DomainNotAllowed(String),
    /// The patient mailbox is only for a QUAL identity.
    #[error("the patient mailbox needs a qualified identity (status {0:?})")]
    NotQualified(IdentityStatus),
    /// A patient address given among the professionals.
    #[error("a patient mailbox cannot be mixed with other recipients; send it alone")]
    MixedRecipients,
    /// No recipient.
    #[error("no recipient")]
    NoRecipient,
    /// The message is over the size limit.
    #[error("the message is {size} bytes, over the limit of {max}")]
    TooLarge {
        /// Size.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// The XDM package could not be built.
    #[error(transparent)]
    Xdm(#[from] xdm::XdmError),
    /// lettre refused the message.
    #[error("MIME: {0}")]
    Mime(String),
}

impl MessageError {
    /// Stable error code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            MessageError::BadAddress(_) => "mss.bad_address",
            MessageError::DomainNotAllowed(_) => "mss.domain_not_allowed",
            MessageError::NotQualified(_) => "mss.identity_not_qualified",
            MessageError::MixedRecipients => "mss.mixed_recipients",
            MessageError::NoRecipient => "mss.no_recipient",
            MessageError::TooLarge { .. } => "mss.too_large",
            MessageError::Xdm(e) => e.code(),
            MessageError::Mime(_) => "mss.mime",
        }
    }
}

fn domain_of(addr: &str) -> &str {
    addr.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

/// Whether `addr` belongs to one of `allowed` (the domain itself or a sub-domain).
pub fn domain_allowed(addr: &str, allowed: &[String]) -> bool {
    let d = domain_of(addr).to_ascii_lowercase();
    allowed.iter().any(|a| {
        let a = a.trim_start_matches('.').to_ascii_lowercase();
        d == a || d.ends_with(&format!(".{a}"))
    })
}

/// The person's Mon espace santé address, only for a QUAL identity. Sensitive (holds the INS).
pub fn patient_address(doc: &PpsDocument, cda: &Cda) -> Result<String, MessageError> {
    match doc.person.identity_status {
        IdentityStatus::Qual => Ok(format!("{}@{PATIENT_DOMAIN}", cda.ins().value())),
        other => Err(MessageError::NotQualified(other)),
    }
}

/// The subject of a document exchange: `XDM/1.0/DDM+<label> <NOM> <prénom> <DD/MM/YYYY>`.
pub fn subject(sub: &Submission, doc: &PpsDocument) -> String {
    let p = &doc.person;
    let b = p.birth_date;
    let given = p.given_names.first().map(String::as_str).unwrap_or("");
    format!(
        "XDM/1.0/DDM+{} {} {} {:02}/{:02}/{:04}",
        sub.document.title,
        p.birth_name.to_uppercase(),
        given,
        b.day(),
        b.month(),
        b.year()
    )
}

fn mailbox(addr: &str) -> Result<Mailbox, MessageError> {
    addr.parse::<Mailbox>()
        .map_err(|_| MessageError::BadAddress(addr.chars().take(80).collect()))
}

fn header(name: &'static str, value: impl Into<String>) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value.into())
}

/// Builds the message.
pub fn build_message(out: &Outgoing<'_>, policy: &Policy) -> Result<BuiltMessage, MessageError> {
    let from = mailbox(out.from)?;
    let (to, to_patient) = match &out.to {
        Recipients::Patient => (vec![patient_address(out.doc, out.cda)?], true),
        Recipients::Professionals(list) if list.is_empty() => {
            return Err(MessageError::NoRecipient);
        }
        Recipients::Professionals(list) => {
            if list
                .iter()
                .any(|a| domain_of(a).eq_ignore_ascii_case(PATIENT_DOMAIN))
            {
                return Err(MessageError::MixedRecipients);
            }
            (list.clone(), false)
        }
    };
    for addr in &to {
        mailbox(addr)?;
        if !domain_allowed(addr, &policy.allowed_domains) {
            return Err(MessageError::DomainNotAllowed(domain_of(addr).to_owned()));
        }
    }
    let zip = xdm::build_package(out.submission, out.cda.xml().as_bytes(), &policy.sender)?;
    let message_id = format!("<{}@{}>", out.id, domain_of(out.from));
    let mut b = lettre::Message::builder()
        .from(from)
        .subject(subject(out.submission, out.doc))
        .message_id(Some(message_id.clone()))
        .date(out.date.into())
        .raw_header(header("X-MSS-NIL", policy.nil.clone()))
        .raw_header(header(
            "X-MSS-CODECDA",
            out.submission.document.type_code.code.clone(),
        ))
        .raw_header(header(
            "X-MSS-INS",
            if out.doc.person.identity_status == IdentityStatus::Qual {
                "O"
            } else {
                "N"
            },
        ));
    for addr in &to {
        b = b.to(mailbox(addr)?);
    }
    if to_patient {
        b = b.raw_header(header("X-MSS-MES", "FIN"));
    }
    if out.ack {
        b = b
            .raw_header(header("Disposition-Notification-To", out.from))
            .raw_header(header("Return-Receipt-To", out.from));
    }
    let mut parts = MultiPart::mixed()
        .boundary(format!("=_mss_{}", out.id.simple()))
        .singlepart(SinglePart::plain(out.body.to_owned()));
    if let Some(pdf) = out.pdf {
        parts = parts.singlepart(Attachment::new("DOC0002.PDF".into()).body(
            pdf.to_vec(),
            ContentType::parse("application/pdf").map_err(mime)?,
        ));
    }
    parts = parts
        .singlepart(Attachment::new(xdm::CDA_FILE.into()).body(
            out.cda.xml().as_bytes().to_vec(),
            ContentType::parse("text/xml; charset=utf-8").map_err(mime)?,
        ))
        .singlepart(
            Attachment::new(xdm::ZIP_NAME.into())
                .body(zip, ContentType::parse("application/zip").map_err(mime)?),
        );
    let message = b.multipart(parts).map_err(mime)?;
    let bytes = message.formatted();
    if bytes.len() > policy.max_bytes {
        return Err(MessageError::TooLarge {
            size: bytes.len(),
            max: policy.max_bytes,
        });
    }
    Ok(BuiltMessage {
        message_id,
        from: out.from.to_owned(),
        to,
        bytes,
    })
}

fn mime(e: impl std::fmt::Display) -> MessageError {
    MessageError::Mime(e.to_string())
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
