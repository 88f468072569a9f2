//! Salesforce ids: a parsed id parses back to itself from both forms (`calbridge_fuzz_checks::salesforce_id`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| calbridge_fuzz_checks::salesforce_id(data));
