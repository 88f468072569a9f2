//! Salesforce ids: parsing never panics; a parsed id parses back to itself in both forms.
#![no_main]

use calbridge_model::SalesforceId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(id) = text.parse::<SalesforceId>() {
        assert_eq!(id.as_str().len(), 18);
        assert_eq!(id.as_str().parse::<SalesforceId>().expect("18 form"), id);
        assert_eq!(id.to_15().parse::<SalesforceId>().expect("15 form"), id);
    }
});
