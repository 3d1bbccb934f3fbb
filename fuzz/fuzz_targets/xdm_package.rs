//! The IHE XDM zip reader on its own (zip entries, METADATA.XML, document bytes), with small limits so that
//! inflation bombs are cut short.
#![no_main]
use libfuzzer_sys::fuzz_target;
use segur_gateway::mss::xdm::{ReadLimits, read_package};

fuzz_target!(|data: &[u8]| {
    let limits = ReadLimits {
        max_entries: 16,
        max_entry_bytes: 1 << 20,
        max_total_bytes: 2 << 20,
        max_ratio: 200,
    };
    let _ = read_package(data, &limits);
});
