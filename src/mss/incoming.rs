//! Received messages (`spec/mssante.md` "Receiving"): a MIME message with an `IHE_XDM.ZIP` becomes metadata and
//! documents the DUI can list and fetch. Pure; bounded.
//!
//! The message is parsed with mail-parser (which never panics on bad input, but accepts almost anything): the
//! gateway then requires a `From` address and a `Message-ID`, refuses messages over the size limit before parsing,
//! and reads every attachment named `*.ZIP` of type `application/zip` or `application/octet-stream` (case
//! ignored) as an XDM package with the [`ReadLimits`] of [`super::xdm`]. A message without any XDM package, or
//! with a package that cannot be read, is refused with a typed error (the caller moves it aside, never deletes it).

use super::xdm::{PackagedDocument, ReadLimits, XdmError, read_package};
use mail_parser::{MessageParser, MimeHeaders};

/// A received message with its documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// `Message-ID`, without brackets.
    pub message_id: String,
    /// Sender address.
    pub from: String,
    /// Subject.
    pub subject: String,
    /// Where the sender wants the MDN (`Disposition-Notification-To`), when asked.
    pub disposition_notification_to: Option<String>,
    /// The documents of every XDM package, in order.
    pub documents: Vec<PackagedDocument>,
}

/// Why a received message is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IncomingError {
    /// Over the size limit.
    #[error("message of {0} bytes is over the limit")]
    TooLarge(usize),
    /// Not a usable MIME message (no headers, no `From`, no `Message-ID`).
    #[error("malformed MIME message: {0}")]
    Malformed(&'static str),
    /// No `IHE_XDM.ZIP` attached.
    #[error("no IHE XDM package in the message")]
    NoXdm,
    /// The package is unreadable, unsafe or too large.
    #[error(transparent)]
    Xdm(#[from] XdmError),
}

impl IncomingError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            IncomingError::TooLarge(_) => "mss.incoming_too_large",
            IncomingError::Malformed(_) => "mss.incoming_malformed",
            IncomingError::NoXdm => "mss.incoming_no_xdm",
            IncomingError::Xdm(e) => e.code(),
        }
    }
}

/// Reads a received message.
pub fn parse_incoming(
    bytes: &[u8],
    max_bytes: usize,
    limits: &ReadLimits,
) -> Result<Incoming, IncomingError> {
    if bytes.len() > max_bytes {
        return Err(IncomingError::TooLarge(bytes.len()));
    }
    let msg = MessageParser::default()
        .parse(bytes)
        .ok_or(IncomingError::Malformed("not a MIME message"))?;
    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .ok_or(IncomingError::Malformed("no From address"))?
        .to_owned();
    let message_id = msg
        .message_id()
        .ok_or(IncomingError::Malformed("no Message-ID"))?
        .to_owned();
    let dnt = msg
        .header_raw("Disposition-Notification-To")
        .map(|v| v.trim().trim_matches(['<', '>']).to_owned())
        .filter(|v| v.contains('@'));
    let mut documents = Vec::new();
    let mut packages = 0;
    for part in msg.attachments() {
        let name = part.attachment_name().unwrap_or("").to_ascii_uppercase();
        let zip_type = part.content_type().is_some_and(|ct| {
            let full = format!(
                "{}/{}",
                ct.ctype().to_ascii_lowercase(),
                ct.subtype().unwrap_or("").to_ascii_lowercase()
            );
            full == "application/zip" || full == "application/octet-stream"
        });
        if name.ends_with(".ZIP") && zip_type {
            packages += 1;
            documents.extend(read_package(part.contents(), limits)?);
        }
    }
    if packages == 0 {
        return Err(IncomingError::NoXdm);
    }
    Ok(Incoming {
        message_id,
        from,
        subject: msg.subject().unwrap_or("").to_owned(),
        disposition_notification_to: dnt,
        documents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mss::message::{Outgoing, Policy, Recipients, build_message};
    use crate::mss::sample::sample_pps;
    use crate::mss::xdm::Sender;

    fn sent() -> Vec<u8> {
        let s = sample_pps(None).expect("sample");
        build_message(
            &Outgoing {
                doc: &s.doc,
                cda: &s.cda,
                submission: &s.submission,
                pdf: Some(crate::cda::sample::SAMPLE_PDF),
                from: "dr.martin@medecin.test.mssante.fr",
                to: Recipients::Professionals(vec!["ehpad@ehpad.test.mssante.fr".into()]),
                body: "PPS",
                ack: true,
                id: uuid::Uuid::from_u128(7),
                date: time::OffsetDateTime::UNIX_EPOCH,
            },
            &Policy {
                nil: "X".into(),
                allowed_domains: vec!["mssante.fr".into()],
                max_bytes: 25_000_000,
                sender: Sender {
                    software: "t".into(),
                    contact: "t".into(),
                },
            },
        )
        .expect("message")
        .bytes
    }

    #[test]
    fn a_message_with_an_xdm_package_gives_its_documents() {
        let s = sample_pps(None).expect("sample");
        let got = parse_incoming(&sent(), 25_000_000, &ReadLimits::default()).expect("incoming");
        assert_eq!(got.from, "dr.martin@medecin.test.mssante.fr");
        assert_eq!(
            got.message_id,
            "00000000-0000-0000-0000-000000000007@medecin.test.mssante.fr"
        );
        assert_eq!(
            got.disposition_notification_to.as_deref(),
            Some("dr.martin@medecin.test.mssante.fr")
        );
        assert!(got.subject.starts_with("XDM/1.0/DDM+"));
        assert_eq!(got.documents.len(), 1);
        assert_eq!(got.documents[0].bytes, s.cda.xml().as_bytes());
        assert_eq!(got.documents[0].hash_ok, Some(true));
    }

    #[test]
    fn malformed_mime_is_refused_without_a_crash() {
        let l = ReadLimits::default();
        let full = sent();
        assert!(matches!(
            parse_incoming(&full, 1000, &l),
            Err(IncomingError::TooLarge(_))
        ));
        for junk in [
            &b""[..],
            b"\x00\x01\x02\xff",
            b"Subject: no from\r\n\r\nbody",
            b"From: a@b.fr\r\nSubject: no id\r\n\r\nbody",
            b"From: a@b.fr\r\nMessage-ID: <x@y>\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: application/zip; name=IHE_XDM.ZIP\r\nContent-Disposition: attachment; filename=IHE_XDM.ZIP\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!",
        ] {
            assert!(parse_incoming(junk, 25_000_000, &l).is_err(), "{junk:?}");
        }
        // Truncated anywhere: an error or a parse, never a panic.
        for cut in (0..full.len()).step_by(997) {
            let _ = parse_incoming(&full[..cut], 25_000_000, &l);
        }
        let plain = b"From: a@b.fr\r\nMessage-ID: <x@y>\r\nSubject: hello\r\n\r\nno attachment\r\n";
        assert!(matches!(
            parse_incoming(plain, 25_000_000, &l),
            Err(IncomingError::NoXdm)
        ));
    }

    #[test]
    fn a_zip_bomb_attachment_is_refused() {
        use base64::Engine as _;
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("IHE_XDM/SUBSET01/METADATA.XML", o)
            .expect("start");
        std::io::Write::write_all(&mut z, &vec![b' '; 30_000_000]).expect("write");
        let bomb = z.finish().expect("zip").into_inner();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bomb);
        let msg = format!(
            "From: a@b.fr\r\nMessage-ID: <x@y>\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\n\
             Content-Type: application/zip\r\nContent-Disposition: attachment; filename=\"IHE_XDM.ZIP\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--B--\r\n"
        );
        let err =
            parse_incoming(msg.as_bytes(), 25_000_000, &ReadLimits::default()).expect_err("bomb");
        assert!(
            matches!(err, IncomingError::Xdm(XdmError::TooLarge(_))),
            "{err}"
        );
    }
}
