//! Reading an etalab CSV held in memory on several threads.
//!
//! The file is cut into parts at line ends that are outside any quoted field (the number of `"` before the cut
//! is even: RFC 4180 doubles quotes inside a field, so parity tells whether a quoted field is open); each part is
//! read by its own [`Importer`] with the file's line numbers, then the parts are joined in file order. The result
//! is the sequential reader's: same records, same rejections with the same lines and reasons, the first of two
//! records with one number kept.
//!
//! Encoding: the sequential reader lets the first field holding a non-ASCII byte decide; here that field is found
//! before the parts are read ([`detect_encoding`]) and every part starts knowing the answer.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use super::super::id::Finess;
use super::super::model::{Dataset, FastHash};
use super::{
    CsvImportError, Duplicate, Encoding, Header, ImportOutcome, Importer, import_csv, is_gzip,
    read_slice, source,
};

/// Inputs smaller than this are read on one thread (starting threads costs more than it saves).
const MIN_PARALLEL: usize = 2 << 20;

/// A part of the input: `bytes[start..end]`, with `lines` line endings before `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Part {
    start: usize,
    end: usize,
    lines: u64,
}

/// Reads an etalab CSV held in memory (plain or gzip-compressed) like [`import_csv`], on up to `threads` threads
/// (plain input of at least 2 MiB; gzip input is read as a stream on one thread).
///
/// Plain input is read with `Records` (private module `records`), which gives the `csv` crate's records with less
/// work per line; the outcome is [`import_csv`]'s.
pub fn import_csv_bytes(bytes: &[u8], threads: usize) -> Result<ImportOutcome, CsvImportError> {
    if is_gzip(bytes) {
        return import_csv(bytes);
    }
    let parts = if threads <= 1 || bytes.len() < MIN_PARALLEL {
        Vec::new()
    } else {
        split(bytes, threads)
    };
    if parts.len() < 2 {
        let mut importer = Importer::default();
        let Some((version, generated)) = read_slice(bytes, &mut importer, true, 0)? else {
            return Err(CsvImportError::MissingHeader);
        };
        return Ok(importer.finish(source(version, generated, false)));
    }
    let encoding = detect_encoding(bytes);
    let results: Vec<Result<(Importer, Option<Header>), CsvImportError>> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .iter()
                .enumerate()
                .map(|(i, part)| {
                    let input = &bytes[part.start..part.end];
                    let lines = part.lines;
                    scope.spawn(move || {
                        let mut importer = Importer::default();
                        importer.decoder.encoding = encoding;
                        let header = read_slice(input, &mut importer, i == 0, lines)?;
                        Ok((importer, header))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
    let mut results = results.into_iter();
    let (mut first, header) = results.next().ok_or(CsvImportError::MissingHeader)??;
    let Some((version, generated)) = header else {
        return Err(CsvImportError::MissingHeader);
    };
    for result in results {
        first.absorb(result?.0);
    }
    Ok(first.finish(source(version, generated, false)))
}

/// Cuts `bytes` into at most `parts` pieces of about equal size, each starting a line outside quotes.
fn split(bytes: &[u8], parts: usize) -> Vec<Part> {
    let mut cuts = vec![0usize];
    let (mut scanned, mut quotes, mut lines) = (0usize, 0usize, 0u64);
    let mut line_counts = vec![0u64];
    for k in 1..parts {
        let target = (bytes.len() / parts * k).max(scanned);
        let mut at = target;
        loop {
            let Some(offset) = bytes
                .get(at..)
                .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
            else {
                at = bytes.len();
                break;
            };
            at += offset + 1;
            let seen = &bytes[scanned..at];
            quotes += count(seen, b'"');
            lines += count(seen, b'\n') as u64;
            scanned = at;
            if quotes % 2 == 0 {
                break;
            }
        }
        if at >= bytes.len() {
            break;
        }
        cuts.push(at);
        line_counts.push(lines);
    }
    cuts.push(bytes.len());
    cuts.windows(2)
        .zip(line_counts)
        .map(|(w, lines)| Part {
            start: w[0],
            end: w[1],
            lines,
        })
        .collect()
}

/// Inserts every entry of `from` into `into` (values mapped by `map`) when none of its keys is there already, and
/// returns `true`; otherwise leaves `into` as it was and returns `false`. One lookup per key in the usual case, where
/// the parts hold different numbers (testing every key first, then inserting, took twice that).
fn insert_new<V: Copy>(
    into: &mut HashMap<Finess, V, FastHash>,
    from: &HashMap<Finess, V, FastHash>,
    map: impl Fn(V) -> V,
) -> bool {
    into.reserve(from.len());
    for (done, (finess, value)) in from.iter().enumerate() {
        match into.entry(*finess) {
            Entry::Vacant(entry) => {
                entry.insert(map(*value));
            }
            Entry::Occupied(_) => {
                // `from` is unchanged, so it lists the same keys in the same order.
                for finess in from.keys().take(done) {
                    into.remove(finess);
                }
                return false;
            }
        }
    }
    true
}

/// How many times `byte` occurs (quotes and line ends are sparse: memchr's vector search skips the rest).
fn count(bytes: &[u8], byte: u8) -> usize {
    memchr::memchr_iter(byte, bytes).count()
}

/// The file's encoding as the sequential reader decides it: a byte order mark means UTF-8; otherwise the first
/// field holding a non-ASCII byte is UTF-8 or not.
fn detect_encoding(bytes: &[u8]) -> Encoding {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        return Encoding::Utf8;
    }
    let Some(at) = bytes.iter().position(|b| !b.is_ascii()) else {
        return Encoding::Ascii;
    };
    let separator = |b: &u8| matches!(b, b';' | b'\n' | b'\r');
    let start = bytes[..at].iter().rposition(separator).map_or(0, |p| p + 1);
    let end = bytes[at..]
        .iter()
        .position(separator)
        .map_or(bytes.len(), |p| at + p);
    match std::str::from_utf8(&bytes[start..end]) {
        Ok(_) => Encoding::Utf8,
        Err(_) => Encoding::Windows1252,
    }
}

impl Importer {
    /// Appends what `later` read from the part of the file after this one's: its records, except numbers this
    /// part already holds (rejected as duplicates, the first kept), its rejections and geolocations.
    fn absorb(&mut self, later: Importer) {
        let Importer {
            mut dataset,
            rejected,
            establishments,
            entities,
            geolocations,
            later_geolocations,
            duplicates,
            decoder: _,
        } = later;
        self.rejected.extend(rejected);
        // Duplicates within the later part: the record kept may be in this one.
        for mut d in duplicates {
            let kept = match d.field {
                "nofinesset" => self.establishments.get(&d.finess).map(|&(_, line)| line),
                _ => self.entities.get(&d.finess).copied(),
            };
            d.first = kept.unwrap_or(d.first);
            self.duplicates.push(d);
        }
        // The usual case: no number in both parts. The later part's records and maps are appended whole (its
        // indexes shifted) instead of record by record, which took 50 ms of the join on the 100k + 100k file.
        let offset = self.dataset.establishments.len();
        let merged = insert_new(
            &mut self.establishments,
            &establishments,
            |(index, line)| (offset + index, line),
        );
        if merged && insert_new(&mut self.entities, &entities, |line| line) {
            self.dataset
                .establishments
                .append(&mut dataset.establishments);
            self.dataset.entities.append(&mut dataset.entities);
            self.later_geolocations.push((Some(offset), geolocations));
            self.later_geolocations.extend(
                later_geolocations
                    .into_iter()
                    .map(|(start, part)| (start.map(|s| s + offset), part)),
            );
        } else {
            // Records move one by one (some are dropped): the join looks these geolocations up again.
            self.later_geolocations.push((None, geolocations));
            self.later_geolocations
                .extend(later_geolocations.into_iter().map(|(_, part)| (None, part)));
            if merged {
                for finess in establishments.keys() {
                    self.establishments.remove(finess);
                }
            }
            self.absorb_one_by_one(dataset, &establishments, &entities);
        }
        // Stable: the rejections of one line keep their order.
        self.rejected.sort_by_key(|r| r.line());
    }

    /// Appends the later part's records one by one, rejecting those whose number this part already holds.
    fn absorb_one_by_one(
        &mut self,
        dataset: Dataset,
        establishments: &HashMap<Finess, (usize, u64), FastHash>,
        entities: &HashMap<Finess, u64, FastHash>,
    ) {
        for establishment in dataset.establishments {
            let Some(&(_, line)) = establishments.get(&establishment.finess) else {
                continue;
            };
            if let Some(&(_, first)) = self.establishments.get(&establishment.finess) {
                self.duplicates.push(Duplicate {
                    line,
                    field: "nofinesset",
                    finess: establishment.finess,
                    first,
                });
                continue;
            }
            self.establishments.insert(
                establishment.finess,
                (self.dataset.establishments.len(), line),
            );
            self.dataset.establishments.push(establishment);
        }
        for entity in dataset.entities {
            let Some(&line) = entities.get(&entity.finess) else {
                continue;
            };
            if let Some(&first) = self.entities.get(&entity.finess) {
                self.duplicates.push(Duplicate {
                    line,
                    field: "nofiness",
                    finess: entity.finess,
                    first,
                });
                continue;
            }
            self.entities.insert(entity.finess, line);
            self.dataset.entities.push(entity);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finess::model::RejectKind;

    const SMALL: &str = include_str!("../../../tests/data/finess/small.csv");

    /// The same outcome, whichever reader.
    fn assert_same(bytes: &[u8], threads: usize) {
        let sequential = import_csv(bytes).unwrap();
        let parts = split(bytes, threads);
        assert!(parts.len() >= 2, "the input is cut");
        let encoding = detect_encoding(bytes);
        let results: Vec<Importer> = parts
            .iter()
            .enumerate()
            .map(|(i, part)| {
                let mut importer = Importer::default();
                importer.decoder.encoding = encoding;
                read_slice(
                    &bytes[part.start..part.end],
                    &mut importer,
                    i == 0,
                    part.lines,
                )
                .unwrap();
                importer
            })
            .collect();
        let mut results = results.into_iter();
        let mut first = results.next().unwrap();
        for r in results {
            first.absorb(r);
        }
        let parallel = first.finish(sequential.source.clone());
        let one_thread = import_csv_bytes(bytes, 1).unwrap();
        assert_eq!(one_thread.dataset, sequential.dataset);
        assert_eq!(one_thread.rejected, sequential.rejected);
        assert_eq!(one_thread.source, sequential.source);
        assert_eq!(parallel.dataset, sequential.dataset);
        assert_eq!(parallel.counts, sequential.counts);
        let show = |o: &ImportOutcome| -> Vec<(Option<u64>, RejectKind, String)> {
            o.rejected
                .iter()
                .map(|r| (r.line(), r.kind, r.reason.clone()))
                .collect()
        };
        assert_eq!(show(&parallel), show(&sequential));
    }

    /// The hand-made file with every tricky line kind, repeated so duplicates cross the cuts (the join appends the
    /// later parts one record at a time).
    #[test]
    fn same_outcome_as_the_sequential_reader() {
        let body: String = SMALL.lines().skip(1).map(|l| format!("{l}\n")).collect();
        let mut text = format!("{}\n", SMALL.lines().next().unwrap());
        for _ in 0..6 {
            text.push_str(&body);
        }
        for threads in [2, 3, 5] {
            assert_same(text.as_bytes(), threads);
        }
    }

    /// No number is in two parts here: the join appends each later part whole, its indexes shifted (a wrong shift
    /// would attach the geolocations of the second part to other establishments).
    #[test]
    fn synthetic_file_latin1_and_utf8() {
        let mut csv = Vec::new();
        crate::finess::synth::write_csv(&mut csv, 3000, 1000, 3).unwrap();
        assert_same(&csv, 2);
        let text = String::from_utf8(csv.clone()).unwrap();
        let (latin1, _, bad) = encoding_rs::WINDOWS_1252.encode(&text);
        assert!(!bad);
        assert_same(&latin1, 2);
        let outcome = import_csv_bytes(&latin1, 1).unwrap();
        assert_eq!(outcome.source.encoding, Some("windows-1252"));
    }

    /// One number in both parts, among thousands that are not: the join has appended part of the later part's
    /// numbers when it meets the clash, and must take them out again before joining record by record.
    #[test]
    fn one_number_in_two_parts() {
        let mut csv = Vec::new();
        crate::finess::synth::write_csv(&mut csv, 3000, 1000, 3).unwrap();
        let text = String::from_utf8(csv).unwrap();
        for kind in ["structureet;", "structureej;"] {
            let first = text.lines().find(|l| l.starts_with(kind)).unwrap();
            let again = format!("{text}{first}\n");
            assert_eq!(split(again.as_bytes(), 2).len(), 2);
            assert_same(again.as_bytes(), 2);
            let outcome = import_csv_bytes(again.as_bytes(), 2).unwrap();
            let last = again.lines().count() as u64;
            let duplicate = outcome.rejected.iter().find(|r| r.line() == Some(last));
            assert_eq!(
                duplicate.map(|r| r.kind),
                Some(RejectKind::Duplicate),
                "{kind}"
            );
        }
    }

    #[test]
    fn cuts_never_fall_inside_a_quoted_field() {
        // A quoted field spanning the middle line ending: the cut must move after it.
        let text = b"a;b\nc;\"x\ny\nz\";d\ne;f\ng;h\n";
        for parts in [2, 3, 4] {
            for part in split(text, parts) {
                let before = &text[..part.start];
                assert_eq!(count(before, b'"') % 2, 0, "{part:?}");
                assert!(part.start == 0 || text[part.start - 1] == b'\n');
                assert_eq!(part.lines, count(before, b'\n') as u64);
            }
        }
    }

    #[test]
    fn encoding_is_decided_by_the_first_non_ascii_field() {
        assert_eq!(detect_encoding(b"a;b\nc;d\n"), Encoding::Ascii);
        assert_eq!(detect_encoding(b"a;\xC3\xA9;\xC3"), Encoding::Utf8);
        assert_eq!(detect_encoding(b"a;\xE9t\xE9;b"), Encoding::Windows1252);
        assert_eq!(detect_encoding(b"\xEF\xBB\xBFa;\xE9"), Encoding::Utf8);
    }
}
