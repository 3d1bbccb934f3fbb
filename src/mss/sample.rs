//! The sample PPS of `segur cda pps --sample` (ADRUN ZOE, QUAL) with fixed identifiers and times, packaged for
//! MSSanté: used by `segur mss xdm|message --sample`, the tests and the benchmark.

use crate::cda::{self, Body, Cda, CdaError, DocumentIds, PpsDocument, Xmllint};
use crate::xds::Submission;
use crate::xds::pps::{SubmissionIds, submission};
use time::macros::datetime;

/// A built sample: the plan, its validated CDA and its submission metadata.
#[derive(Debug, Clone)]
pub struct SamplePps {
    /// The plan.
    pub doc: PpsDocument,
    /// The CDA (validated against the CDA schema).
    pub cda: Cda,
    /// The XDS submission of the CDA.
    pub submission: Submission,
}

/// Builds the sample; with `pdf` the document is N1 (the PDF in its body), else N3.
pub fn sample_pps(pdf: Option<&[u8]>) -> Result<SamplePps, CdaError> {
    let doc = cda::sample::adrun_zoe();
    let ids = DocumentIds::first(uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2));
    let now = datetime!(2026-12-02 10:30:00 +01:00);
    let body = match pdf {
        Some(pdf) => Body::N1 { pdf },
        None => Body::N3,
    };
    let cda = cda::build(&doc, &ids, body, now, &Xmllint::cda())?;
    let sub_ids = SubmissionIds {
        set_entry: uuid::Uuid::from_u128(10),
        document_entry: uuid::Uuid::from_u128(11),
        set_unique: uuid::Uuid::from_u128(12),
        source_id: "1.2.250.1.999.2".into(),
        submission_time: now,
        replaces: None,
    };
    let submission = submission(&doc, &cda, &sub_ids);
    Ok(SamplePps {
        doc,
        cda,
        submission,
    })
}
