//! One Salesforce Event record → canonical event: ids in 18-character form, refusals only for documented reasons, mapped events round-trip (`calbridge_fuzz_checks::salesforce_record`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| calbridge_fuzz_checks::salesforce_record(data));
