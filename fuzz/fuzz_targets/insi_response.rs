//! INSi SOAP response parser.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = segur_gateway::ins::soap::parse_response(data);
});
