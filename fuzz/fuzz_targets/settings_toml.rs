//! Settings parsing never panics; settings that parse survive a round trip unchanged.
#![no_main]

use calbridge_core::SyncSettings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(settings) = SyncSettings::from_toml_str(text) {
        let again = settings.to_toml_string().expect("valid settings serialise");
        assert_eq!(SyncSettings::from_toml_str(&again).expect("and parse back"), settings);
    }
});
