//! A SOQL query response: every record checked as alone, mapping the same within the page (`calbridge_fuzz_checks::soql_response`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| calbridge_fuzz_checks::soql_response(data));
