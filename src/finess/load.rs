//! Importing national files into the store and loading the in-memory index from it.
//!
//! `segur finess import FILE…` parses every file first (CSV or JSON, gzipped or not, detected from the content);
//! a fatal error in any of them stops the import before the store is touched. The files are then stored (gzip)
//! as the new generation in one transaction, replacing the previous one, so a failed or interrupted import leaves
//! the previous data intact, and re-importing the same files changes nothing (same hashes → no new generation).
//! Daemons rebuild their index from the stored files at start-up and when the generation changes, and swap it
//! atomically (`Arc`), so lookups never see a half-built index.
//!
//! Choice: the store keeps the files as imported rather than one row per structure. The national file is the
//! unit of truth (one generation = one set of files), the index is rebuilt from it in about a second, and storing
//! 200 000 rows per import would cost more than it gives while nothing else queries them.

use super::csv_import::{CsvImportError, import_csv, import_csv_bytes, is_gzip};
use super::index::FinessIndex;
use super::json_import::{self, JsonImportError, import_json, import_json_bytes};
use super::model::{Dataset, ImportOutcome};
use crate::store::finess::StoredFile;
use crate::store::{Store, StoreError};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};

/// Import failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read {name}: {source}")]
    Read {
        /// File.
        name: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A CSV file is unusable as a whole.
    #[error("{name}: {source}")]
    Csv {
        /// File.
        name: String,
        /// Cause.
        source: CsvImportError,
    },
    /// A JSON file is unusable as a whole.
    #[error("{name}: {source}")]
    Json {
        /// File.
        name: String,
        /// Cause.
        source: JsonImportError,
    },
    /// Storage failed (the previous generation is kept).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Legacy etalab CSV.
    Csv,
    /// FiNESS+ JSON.
    Json,
}

fn gunzip_head(bytes: &[u8]) -> Vec<u8> {
    if is_gzip(bytes) {
        let mut head = vec![0u8; 64];
        let mut d = flate2::read::MultiGzDecoder::new(bytes);
        let n = d.read(&mut head).unwrap_or(0);
        head.truncate(n);
        head
    } else {
        bytes.iter().take(64).copied().collect()
    }
}

/// CSV or JSON, from the first bytes (after gzip).
pub fn detect(bytes: &[u8]) -> Format {
    let head = gunzip_head(bytes);
    let first = head
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace() && *b != 0xEF && *b != 0xBB && *b != 0xBF);
    if first == Some(b'{') {
        Format::Json
    } else {
        Format::Csv
    }
}

/// Threads for parsing: the machine's cores.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Parses one file (any format); `progress` follows the bytes read. A plain CSV or JSON file is read where it
/// lies, on every core ([`import_csv_bytes`], [`import_json_bytes`]); gzip input is decompressed first (CSV) or
/// as a stream (JSON).
pub fn parse(
    name: &str,
    bytes: &[u8],
    progress: Option<&indicatif::ProgressBar>,
) -> Result<(Format, ImportOutcome), LoadError> {
    let format = detect(bytes);
    let csv_error = |e| LoadError::Csv {
        name: name.to_string(),
        source: e,
    };
    let json_error = |e| LoadError::Json {
        name: name.to_string(),
        source: e,
    };
    let gzip = is_gzip(bytes);
    let outcome = match (format, progress) {
        // With a progress bar, gzip input is read as a stream: the bar follows the compressed bytes.
        (Format::Csv, Some(pb)) if gzip => import_csv(pb.wrap_read(bytes)).map_err(csv_error)?,
        (Format::Json, Some(pb)) if gzip => import_json(pb.wrap_read(bytes)).map_err(json_error)?,
        (Format::Csv, _) if gzip => {
            // Stored files are gzipped: unpacked first, the parse then uses every core.
            let mut plain = Vec::with_capacity(bytes.len() * 4);
            flate2::read::MultiGzDecoder::new(bytes)
                .read_to_end(&mut plain)
                .map_err(|e| csv_error(CsvImportError::Io(e)))?;
            import_csv_bytes(&plain, threads()).map_err(csv_error)?
        }
        (Format::Csv, _) => import_csv_bytes(bytes, threads()).map_err(csv_error)?,
        // Gzip (stored files): decompressed as a stream, while the workers parse.
        (Format::Json, _) => {
            import_json_bytes(bytes, threads().min(json_import::MAX_THREADS)).map_err(json_error)?
        }
    };
    if !gzip && let Some(pb) = progress {
        pb.inc(bytes.len() as u64);
    }
    Ok((format, outcome))
}

/// The result of an import.
#[derive(Debug)]
pub struct ImportReport {
    /// Per file: name, format, outcome.
    pub files: Vec<(String, Format, ImportOutcome)>,
    /// New generation, or `None` when the same files were already imported.
    pub generation: Option<i64>,
}

/// A file read into memory.
#[derive(Debug)]
pub struct InputFile {
    /// Name shown and stored.
    pub name: String,
    /// Bytes.
    pub bytes: Vec<u8>,
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    if is_gzip(bytes) {
        return bytes.to_vec();
    }
    let mut enc = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

/// Parses every file, then stores them as the new generation (unless identical to the current one).
/// `progress` (a progress bar, hidden off a terminal) follows the bytes parsed.
pub async fn import(
    store: &Store,
    files: Vec<InputFile>,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<ImportReport, LoadError> {
    let mut parsed = Vec::new();
    for f in &files {
        if let Some(pb) = progress {
            pb.set_message(f.name.clone());
        }
        let (format, outcome) = parse(&f.name, &f.bytes, progress)?;
        parsed.push((f.name.clone(), format, outcome));
    }
    let hashes: Vec<String> = files.iter().map(|f| sha256(&f.bytes)).collect();
    if store.finess_hashes().await? == hashes {
        return Ok(ImportReport {
            files: parsed,
            generation: None,
        });
    }
    let stored: Vec<StoredFile> = files
        .iter()
        .zip(&parsed)
        .zip(hashes)
        .map(|((f, (_, format, outcome)), sha)| StoredFile {
            name: f.name.clone(),
            sha256: sha,
            summary: json!({
                "format": if *format == Format::Csv { "csv" } else { "json" },
                "counts": outcome.counts,
                "rejected": outcome.rejected.len(),
            }),
            content: gzip(&f.bytes),
        })
        .collect();
    let generation = store.finess_replace(&stored).await?;
    Ok(ImportReport {
        files: parsed,
        generation: Some(generation),
    })
}

/// Builds the index from the stored files; `None` when nothing was imported.
pub async fn load_index(store: &Store) -> Result<Option<(i64, FinessIndex)>, LoadError> {
    let (generation, files) = store.finess_files().await?;
    let Some(generation) = generation else {
        return Ok(None);
    };
    let index = tokio::task::spawn_blocking(move || -> Result<FinessIndex, LoadError> {
        let mut data = Dataset::default();
        for f in &files {
            let (_, outcome) = parse(&f.name, &f.content, None)?;
            data.merge(outcome.dataset);
        }
        let index = FinessIndex::build(data);
        release_free_memory();
        Ok(index)
    })
    .await
    .map_err(|e| LoadError::Store(StoreError::Corrupt(format!("index build task: {e}"))))??;
    Ok(Some((generation, index)))
}

/// Hands the allocator's free pages back to the system.
///
/// Building the index frees the unpacked files and the import's temporary vectors; glibc keeps most of that memory
/// (its threshold for giving large blocks back grows with each one freed, and worker arenas keep theirs), so a
/// daemon would otherwise hold 20–40 MB it no longer uses for its whole life (measured: `segur serve` on the
/// 100k + 100k synthetic file, 160–180 MB instead of 180–199 MB; [`keep_large_blocks_out_of_the_heap`] later
/// took it to 147–155 MB). The daemon calls it again after swapping in a new index, once the old one is dropped.
/// A program that builds an index itself ([`FinessIndex::build`](crate::finess::index::FinessIndex::build)) can
/// call it after the build.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` has no preconditions; it only returns pages of free chunks to the kernel.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Largest allocation glibc serves from its heaps once [`keep_large_blocks_out_of_the_heap`] ran: anything bigger
/// is mapped on its own and unmapped when freed.
pub const MMAP_THRESHOLD: usize = 4 << 20;

/// Makes glibc map every allocation above [`MMAP_THRESHOLD`] on its own, for the life of the process; `segur serve`
/// calls it first thing.
///
/// glibc starts by mapping blocks above 128 KiB, but each such block freed raises that threshold (up to 32 MiB).
/// After the first import, the record vectors and the index build's temporary vectors (several MB to 40 MB) are
/// then carved from the heaps, between blocks that stay alive, and the holes they leave cannot be handed back,
/// even by [`release_free_memory`]. Measured on the 100k + 100k synthetic file, `segur serve` once its index
/// answers: 163–198 MB depending on the run (three modes: which blocks land where), 147–155 MB in every run with
/// the threshold fixed (at 128 KiB, 1 MiB or 4 MiB alike), start-up time unchanged (1.1–1.3 s either way).
///
/// It costs time where a process allocates and frees big vectors again and again: five imports in a row in one
/// process ran up to 15% slower for the CSV, about 3% for the JSON. A daemon imports once at start and then
/// rarely, so `segur serve` takes the memory; the one-shot commands keep glibc's default. 4 MiB rather than
/// 128 KiB keeps request bodies of a few MB (CDA documents, MSSanté attachments) in the heap. Does nothing on
/// other allocators or systems.
pub fn keep_large_blocks_out_of_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes a setting of the allocator; M_MMAP_THRESHOLD takes any value up to 32 MiB
    // (`MMAP_THRESHOLD` is 4 MiB, so the cast is lossless) and glibc refuses other values itself.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
    }
}
