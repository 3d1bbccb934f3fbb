//! DMP TD0.2 answer and SOAP fault parsers.
#![no_main]
use libfuzzer_sys::fuzz_target;
use segur_gateway::ins::{Ins, InsOid};

fuzz_target!(|data: &[u8]| {
    let _ = segur_gateway::dmp::answer::parse_fault(data);
    if let Ok(oid) = "1.2.250.1.213.1.4.10".parse::<InsOid>()
        && let Ok(ins) = Ins::parse("275126322074974", oid)
    {
        let _ = segur_gateway::dmp::answer::parse_td02(data, &ins);
    }
});
