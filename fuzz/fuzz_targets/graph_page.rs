//! A Graph collection page: every item accounted for once, links kept, events round-trip (`calbridge_fuzz_checks::graph_page`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| calbridge_fuzz_checks::graph_page(data));
