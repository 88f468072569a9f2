//! One Graph event resource → canonical event: the two mapping entry points agree and a mapped event round-trips through Graph JSON (`calbridge_fuzz_checks::graph_event`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| calbridge_fuzz_checks::graph_event(data));
