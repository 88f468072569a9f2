//! Settings parsing never panics; settings that parse survive a TOML round trip (`calbridge_fuzz_checks::settings_toml`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| calbridge_fuzz_checks::settings_toml(data));
