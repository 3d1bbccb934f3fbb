use super::*;
use crate::cda::validate::schemas_dir;
use crate::cda::{SchemaValidator, Xmllint};
use crate::mss::sample::sample_pps;
use std::io::{Cursor, Read};

fn sender() -> Sender {
    Sender {
        software: "segur-gateway test".into(),
        contact: "ehpad@test.mssante.fr".into(),
    }
}

fn entry(zip: &[u8], name: &str) -> Vec<u8> {
    let mut z = zip::ZipArchive::new(Cursor::new(zip)).expect("zip");
    let mut f = z.by_name(name).expect(name);
    let mut out = Vec::new();
    f.read_to_end(&mut out).expect("read");
    out
}

#[test]
fn package_layout_is_fixed_and_deterministic() {
    let s = sample_pps(None).expect("sample");
    let a = build_package(&s.submission, s.cda.xml().as_bytes(), &sender()).expect("zip");
    let b = build_package(&s.submission, s.cda.xml().as_bytes(), &sender()).expect("zip");
    assert_eq!(a, b, "same input, same bytes");
    let z = zip::ZipArchive::new(Cursor::new(&a[..])).expect("zip");
    let names: Vec<String> = (0..z.len())
        .map(|i| {
            z.name_for_index(i)
                .expect("entry")
                .expect("name")
                .into_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "INDEX.HTM",
            "README.TXT",
            "IHE_XDM/SUBSET01/METADATA.XML",
            "IHE_XDM/SUBSET01/DOC0001.XML"
        ]
    );
    assert_eq!(
        entry(&a, "IHE_XDM/SUBSET01/DOC0001.XML"),
        s.cda.xml().as_bytes()
    );
    let readme = String::from_utf8(entry(&a, "README.TXT")).expect("utf-8");
    assert!(readme.contains("segur-gateway test") && readme.contains("ehpad@test.mssante.fr"));
    let index = String::from_utf8(entry(&a, "INDEX.HTM")).expect("utf-8");
    assert!(index.contains("IHE_XDM/SUBSET01/DOC0001.XML"));
}

#[test]
fn metadata_passes_the_ebrs_schema_with_uri_size_and_hash() {
    let s = sample_pps(None).expect("sample");
    let cda = s.cda.xml().as_bytes();
    let zip = build_package(&s.submission, cda, &sender()).expect("zip");
    let meta = entry(&zip, "IHE_XDM/SUBSET01/METADATA.XML");
    Xmllint::new(schemas_dir().join("xds").join("ebRS").join("lcm.xsd"))
        .validate(&meta)
        .expect("METADATA.XML valid against lcm.xsd");
    let text = String::from_utf8(meta).expect("utf-8");
    assert!(text.starts_with("<?xml"));
    for (slot, value) in [
        ("URI", "DOC0001.XML".to_owned()),
        ("size", cda.len().to_string()),
        ("hash", sha1_hex(cda)),
    ] {
        let needle = format!(
            "<rim:Slot name=\"{slot}\">\n        <rim:ValueList>\n          <rim:Value>{value}</rim:Value>"
        );
        assert!(text.contains(&needle), "slot {slot} = {value} in {text}");
    }
}

#[test]
fn sha1_is_the_xds_hash() {
    // FIPS 180 test vector.
    assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

#[test]
fn a_built_package_reads_back() {
    let s = sample_pps(None).expect("sample");
    let zip = build_package(&s.submission, s.cda.xml().as_bytes(), &sender()).expect("zip");
    let docs = read_package(&zip, &ReadLimits::default()).expect("read");
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].path, "IHE_XDM/SUBSET01/DOC0001.XML");
    assert_eq!(docs[0].mime_type, "text/xml");
    assert_eq!(docs[0].hash_ok, Some(true));
    assert_eq!(docs[0].unique_id.as_deref(), Some(s.cda.ids().id.as_str()));
    assert_eq!(docs[0].title, s.submission.document.title);
    assert_eq!(docs[0].bytes, s.cda.xml().as_bytes());
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (n, b) in entries {
        z.start_file(*n, o).expect("start");
        std::io::Write::write_all(&mut z, b).expect("write");
    }
    z.finish().expect("finish").into_inner()
}

fn metadata_naming(uri: &str) -> Vec<u8> {
    format!(
        "<lcm:SubmitObjectsRequest xmlns:lcm=\"{}\" xmlns:rim=\"{}\"><rim:RegistryObjectList>\
         <rim:ExtrinsicObject id=\"urn:uuid:0\" mimeType=\"text/xml\"><rim:Slot name=\"URI\"><rim:ValueList>\
         <rim:Value>{uri}</rim:Value></rim:ValueList></rim:Slot></rim:ExtrinsicObject>\
         </rim:RegistryObjectList></lcm:SubmitObjectsRequest>",
        crate::xds::ns::LCM,
        crate::xds::ns::RIM
    )
    .into_bytes()
}

#[test]
fn zip_bombs_and_oversized_entries_are_refused() {
    let zeros = vec![0u8; 5_000_000];
    let bomb = zip_of(&[
        (
            "IHE_XDM/SUBSET01/METADATA.XML",
            &metadata_naming("DOC0001.XML"),
        ),
        ("IHE_XDM/SUBSET01/DOC0001.XML", &zeros),
    ]);
    assert!(
        bomb.len() < 50_000,
        "deflated zeros are small: {}",
        bomb.len()
    );
    let err = read_package(&bomb, &ReadLimits::default()).expect_err("ratio");
    assert!(matches!(err, XdmError::TooLarge(_)), "{err}");
    let small = ReadLimits {
        max_entry_bytes: 1000,
        max_ratio: u64::MAX,
        ..ReadLimits::default()
    };
    let err = read_package(&bomb, &small).expect_err("size");
    assert!(matches!(err, XdmError::TooLarge(_)), "{err}");
    let many: Vec<(String, Vec<u8>)> = (0..300).map(|i| (format!("F{i}"), vec![1u8])).collect();
    let refs: Vec<(&str, &[u8])> = many.iter().map(|(n, b)| (n.as_str(), &b[..])).collect();
    let err = read_package(&zip_of(&refs), &ReadLimits::default()).expect_err("entries");
    assert!(matches!(err, XdmError::TooLarge(_)), "{err}");
}

#[test]
fn unsafe_names_dtds_and_garbage_are_refused() {
    let traversal = zip_of(&[
        (
            "IHE_XDM/SUBSET01/METADATA.XML",
            &metadata_naming("../../etc/passwd"),
        ),
        ("etc/passwd", b"x"),
    ]);
    assert!(matches!(
        read_package(&traversal, &ReadLimits::default()),
        Err(XdmError::BadFile(_))
    ));
    let missing = zip_of(&[(
        "IHE_XDM/SUBSET01/METADATA.XML",
        &metadata_naming("DOC0009.XML"),
    )]);
    assert!(matches!(
        read_package(&missing, &ReadLimits::default()),
        Err(XdmError::BadFile(_))
    ));
    let dtd = zip_of(&[(
        "IHE_XDM/SUBSET01/METADATA.XML",
        b"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>",
    )]);
    assert!(matches!(
        read_package(&dtd, &ReadLimits::default()),
        Err(XdmError::NoMetadata(_))
    ));
    let none = zip_of(&[("README.TXT", b"hello")]);
    assert!(matches!(
        read_package(&none, &ReadLimits::default()),
        Err(XdmError::NoMetadata(_))
    ));
    assert!(matches!(
        read_package(b"PK\x03\x04 not a zip", &ReadLimits::default()),
        Err(XdmError::Zip(_))
    ));
}
