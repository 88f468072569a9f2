//! HTML → text never panics; the text stays bounded by its source (`calbridge_fuzz_checks::html_to_text`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| calbridge_fuzz_checks::html_to_text(data));
