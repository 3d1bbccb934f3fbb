//! IHE XDM packages (IHE ITI TF-1 §16, `spec/mssante.md` "The message"): the `IHE_XDM.ZIP` of a message.
//!
//! Layout written, always in this order so the same input gives the same bytes:
//! `INDEX.HTM`, `README.TXT`, `IHE_XDM/SUBSET01/METADATA.XML`, `IHE_XDM/SUBSET01/DOC0001.XML`.
//! Entries are deflated and dated with the submission time (UTC), permissions `0644`.
//!
//! Choices where the spec is silent: the package carries the CDA only (one document entry, as the `src/xds`
//! submission describes one document); the human-readable PDF travels as its own MIME part of the message.
//! `METADATA.XML` is the ITI-41 `SubmitObjectsRequest` plus the `URI`, `size` and `hash` (SHA-1) slots.
//!
//! Reading ([`read_package`]) is defensive: the archive and every entry are bounded by [`ReadLimits`] while
//! inflating (declared sizes are not trusted), the compression ratio is bounded (zip bombs), file names from
//! `METADATA.XML` must be plain names inside the subset folder (no `..`, no `/`), and `METADATA.XML` with a DTD
//! is refused.

use crate::xds::{PackagedFile, Submission, XdsError, write_xdm_metadata};
use std::io::{Cursor, Read, Write};
use zip::write::SimpleFileOptions;

/// Folder of the one submission set.
pub const SUBSET: &str = "IHE_XDM/SUBSET01";
/// File name of the CDA inside [`SUBSET`].
pub const CDA_FILE: &str = "DOC0001.XML";
/// Name of the package in a message.
pub const ZIP_NAME: &str = "IHE_XDM.ZIP";

/// Who sends the package (written to `README.TXT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// Sending software and version.
    pub software: String,
    /// Contact of the sender (structure name, mailbox).
    pub contact: String,
}

/// Why a package cannot be built or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum XdmError {
    /// The submission metadata is invalid.
    #[error("XDM metadata: {0}")]
    Metadata(#[from] XdsError),
    /// The zip library failed (writing), or the archive is not a readable zip (reading).
    #[error("XDM zip: {0}")]
    Zip(String),
    /// The archive or an entry is over a [`ReadLimits`] bound.
    #[error("XDM package too large: {0}")]
    TooLarge(String),
    /// The package has no `IHE_XDM/<subset>/METADATA.XML`, or it cannot be read.
    #[error("XDM package has no usable METADATA.XML: {0}")]
    NoMetadata(String),
    /// A file named by the metadata is missing or has an unsafe name.
    #[error("XDM file {0:?} is missing or has an unsafe name")]
    BadFile(String),
}

impl XdmError {
    /// Stable error code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            XdmError::Metadata(_) => "mss.xdm_metadata",
            XdmError::Zip(_) => "mss.xdm_not_zip",
            XdmError::TooLarge(_) => "mss.xdm_too_large",
            XdmError::NoMetadata(_) => "mss.xdm_no_metadata",
            XdmError::BadFile(_) => "mss.xdm_bad_file",
        }
    }
}

fn zerr(e: zip::result::ZipError) -> XdmError {
    XdmError::Zip(e.to_string())
}

/// SHA-1 of `bytes`, lower-case hex (the XDS `hash` slot; SHA-1 is what IHE XDS defines).
pub fn sha1_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        bytes,
    ))
}

fn index_htm(sub: &Submission) -> String {
    let d = &sub.document;
    let esc = crate::xmlw::escape;
    format!(
        "<!DOCTYPE html>\r\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>IHE XDM</title></head><body>\r\n\
         <h1>Documents transmis</h1>\r\n<ul>\r\n<li><a href=\"{SUBSET}/{CDA_FILE}\">{}</a> &#8212; {} {} ({})</li>\r\n</ul>\r\n\
         <p>Métadonnées : <a href=\"{SUBSET}/METADATA.XML\">{SUBSET}/METADATA.XML</a></p>\r\n</body></html>\r\n",
        esc(&d.title),
        esc(&d.patient_info.birth_name),
        esc(&d.patient_info.given),
        esc(&d.author.institution_name),
    )
}

fn readme(sender: &Sender) -> String {
    format!(
        "Paquet IHE XDM (IHE ITI TF-1 16) produit par {}.\r\nContact : {}\r\n\
         Documents et métadonnées : {SUBSET}/ (METADATA.XML).\r\n",
        sender.software, sender.contact
    )
}

/// Builds the `IHE_XDM.ZIP` of `sub` holding `cda`.
pub fn build_package(sub: &Submission, cda: &[u8], sender: &Sender) -> Result<Vec<u8>, XdmError> {
    let file = PackagedFile {
        uri: CDA_FILE.into(),
        size: cda.len() as u64,
        sha1_hex: sha1_hex(cda),
    };
    let metadata = write_xdm_metadata(sub, &file)?;
    let t = sub.set.submission_time.to_offset(time::UtcOffset::UTC);
    // Zip dates start in 1980: earlier times (never expected) fall back to the zip epoch.
    let when = zip::DateTime::from_date_and_time(
        u16::try_from(t.year()).unwrap_or(1980).max(1980),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
    )
    .unwrap_or_default();
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(when)
        .unix_permissions(0o644);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::with_capacity(cda.len() / 2 + 8192)));
    let (index, readme) = (index_htm(sub), readme(sender));
    let entries: [(String, &[u8]); 4] = [
        ("INDEX.HTM".into(), index.as_bytes()),
        ("README.TXT".into(), readme.as_bytes()),
        (format!("{SUBSET}/METADATA.XML"), metadata.as_bytes()),
        (format!("{SUBSET}/{CDA_FILE}"), cda),
    ];
    for (name, bytes) in entries {
        zip.start_file(name, options).map_err(zerr)?;
        zip.write_all(bytes)
            .map_err(|e| XdmError::Zip(e.to_string()))?;
    }
    Ok(zip.finish().map_err(zerr)?.into_inner())
}

/// Bounds applied while reading a received package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Most entries in the archive.
    pub max_entries: usize,
    /// Largest inflated entry, bytes.
    pub max_entry_bytes: u64,
    /// Largest inflated total, bytes.
    pub max_total_bytes: u64,
    /// Largest inflated/compressed ratio of an entry over 64 KiB.
    pub max_ratio: u64,
}

impl Default for ReadLimits {
    /// 200 entries, 25 MB per entry and in total, ratio 200.
    fn default() -> Self {
        ReadLimits {
            max_entries: 200,
            max_entry_bytes: 25_000_000,
            max_total_bytes: 25_000_000,
            max_ratio: 200,
        }
    }
}

/// A document read from a received package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackagedDocument {
    /// Path in the archive.
    pub path: String,
    /// `mimeType` of the document entry.
    pub mime_type: String,
    /// Title (`Name`) of the document entry.
    pub title: String,
    /// `uniqueId` of the document entry, when given.
    pub unique_id: Option<String>,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Whether the SHA-1 of the bytes matches the `hash` slot (`None`: no slot).
    pub hash_ok: Option<bool>,
}

/// What `METADATA.XML` says of one document entry.
#[derive(Debug, Default, Clone)]
struct Entry {
    mime_type: String,
    title: String,
    uri: Option<String>,
    hash: Option<String>,
    unique_id: Option<String>,
}

/// Reads the document entries of a `METADATA.XML` (the project's bounded, DTD-refusing XML reader; namespaces
/// checked: ebRIM 3.0).
fn parse_metadata(xml: &[u8]) -> Result<Vec<Entry>, XdmError> {
    use crate::ins::soap::{XmlLimits, parse_xml};
    let rim = crate::xds::ns::RIM;
    let limits = XmlLimits {
        max_bytes: 4_000_000,
        max_depth: 32,
        max_elements: 100_000,
    };
    let root = parse_xml(xml, &limits).map_err(|e| XdmError::NoMetadata(e.to_string()))?;
    let list = root
        .find(rim, "RegistryObjectList")
        .ok_or_else(|| XdmError::NoMetadata("no rim:RegistryObjectList".into()))?;
    let entries = list
        .children_in(rim, "ExtrinsicObject")
        .map(|e| {
            let slot = |name: &str| {
                e.children_in(rim, "Slot")
                    .find(|s| s.attr("name") == Some(name))
                    .and_then(|s| s.find(rim, "Value"))
                    .map(|v| v.text().to_owned())
            };
            Entry {
                mime_type: e.attr("mimeType").unwrap_or_default().to_owned(),
                title: e
                    .child(rim, "Name")
                    .and_then(|n| n.child(rim, "LocalizedString"))
                    .and_then(|l| l.attr("value"))
                    .unwrap_or_default()
                    .to_owned(),
                uri: slot("URI"),
                hash: slot("hash").map(|h| h.to_ascii_lowercase()),
                unique_id: e
                    .children_in(rim, "ExternalIdentifier")
                    .find(|x| {
                        x.attr("identificationScheme")
                            == Some(crate::xds::scheme::DOCUMENT_UNIQUE_ID)
                    })
                    .and_then(|x| x.attr("value"))
                    .map(str::to_owned),
            }
        })
        .collect();
    Ok(entries)
}

/// A plain file name (no folder, no parent reference, printable ASCII).
fn plain_name(uri: &str) -> bool {
    !uri.is_empty()
        && uri.len() <= 128
        && uri != "."
        && uri != ".."
        && uri
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Reads a received package: every document entry of the first `IHE_XDM/<subset>/METADATA.XML` with its bytes.
pub fn read_package(bytes: &[u8], limits: &ReadLimits) -> Result<Vec<PackagedDocument>, XdmError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(zerr)?;
    if zip.len() > limits.max_entries {
        return Err(XdmError::TooLarge(format!("{} entries", zip.len())));
    }
    let mut total = 0u64;
    let mut read_entry =
        |zip: &mut zip::ZipArchive<Cursor<&[u8]>>, index: usize| -> Result<Vec<u8>, XdmError> {
            let f = zip.by_index(index).map_err(zerr)?;
            let compressed = f.compressed_size().max(1);
            let name = f.name().map(|n| n.into_owned()).unwrap_or_default();
            let cap = limits.max_entry_bytes.min(limits.max_total_bytes - total);
            let mut out = Vec::new();
            // Read at most one byte past the bound: the declared size is not trusted.
            f.take(cap + 1)
                .read_to_end(&mut out)
                .map_err(|e| XdmError::Zip(format!("{name}: {e}")))?;
            let n = out.len() as u64;
            if n > cap {
                return Err(XdmError::TooLarge(format!("{name}: over {cap} bytes")));
            }
            if n > 65_536 && n / compressed > limits.max_ratio {
                return Err(XdmError::TooLarge(format!(
                    "{name}: compression ratio {} over {}",
                    n / compressed,
                    limits.max_ratio
                )));
            }
            total += n;
            Ok(out)
        };
    let names: Vec<String> = (0..zip.len())
        .map(|i| {
            zip.name_for_index(i)
                .and_then(|r| r.ok())
                .map(|n| n.into_owned())
                .unwrap_or_default()
        })
        .collect();
    let (meta_index, subset) = names
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let rest = n.strip_prefix("IHE_XDM/")?;
            let subset = rest.strip_suffix("/METADATA.XML")?;
            plain_name(subset).then(|| (i, format!("IHE_XDM/{subset}")))
        })
        .min_by(|a, b| a.1.cmp(&b.1))
        .ok_or_else(|| XdmError::NoMetadata("no IHE_XDM/<subset>/METADATA.XML".into()))?;
    let metadata = read_entry(&mut zip, meta_index)?;
    let mut out = Vec::new();
    for e in parse_metadata(&metadata)? {
        let uri = e.uri.clone().unwrap_or_default();
        if !plain_name(&uri) {
            return Err(XdmError::BadFile(uri.chars().take(80).collect()));
        }
        let path = format!("{subset}/{uri}");
        let index = names
            .iter()
            .position(|n| *n == path)
            .ok_or_else(|| XdmError::BadFile(uri.clone()))?;
        let bytes = read_entry(&mut zip, index)?;
        let hash_ok = e.hash.as_ref().map(|h| *h == sha1_hex(&bytes));
        out.push(PackagedDocument {
            path,
            mime_type: e.mime_type,
            title: e.title,
            unique_id: e.unique_id,
            bytes,
            hash_ok,
        });
    }
    Ok(out)
}

#[cfg(test)]
#[path = "xdm_tests.rs"]
mod tests;
