//! Delivery and read reports (DSN `multipart/report`, MDN) received by MSSanté.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = segur_gateway::mss::report::parse_report(data);
});
