//! A received MSSanté message: MIME, then the IHE XDM zip it carries, with the gateway's default limits.
#![no_main]
use libfuzzer_sys::fuzz_target;
use segur_gateway::mss::incoming::parse_incoming;
use segur_gateway::mss::xdm::ReadLimits;

fuzz_target!(|data: &[u8]| {
    let _ = parse_incoming(data, 4 << 20, &ReadLimits::default());
});
