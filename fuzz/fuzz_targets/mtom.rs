//! MTOM/XOP `multipart/related` parser of the DMP simulator (first line of the input = the Content-Type).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let content_type = String::from_utf8_lossy(&data[..split]);
    let body = data.get(split + 1..).unwrap_or_default();
    let _ = segur_gateway::sim::dmp::mtom::parse(&content_type, body);
});
