//! FINESS national file import (its line parser runs on every line of the input).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = segur_gateway::finess::csv_import::import_csv(data);
});
