//! ITI-41 `RegistryResponse` parser (DMP answers): any bytes → a result or a typed error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = segur_gateway::xds::response::parse_registry_response(data);
});
