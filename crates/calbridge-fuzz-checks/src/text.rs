//! Checks of text inputs: settings files, HTML bodies, Salesforce ids.

use calbridge_core::SyncSettings;
use calbridge_model::SalesforceId;

/// Settings parsing never panics; settings that parse survive a round trip unchanged.
///
/// # Panics
/// When parsed settings do not serialise, or do not parse back equal.
pub fn settings_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(settings) = SyncSettings::from_toml_str(text) {
        let again = match settings.to_toml_string() {
            Ok(again) => again,
            Err(e) => panic!("valid settings do not serialise: {e}"),
        };
        match SyncSettings::from_toml_str(&again) {
            Ok(back) => assert_eq!(back, settings, "settings changed through TOML:\n{again}"),
            Err(e) => panic!("serialised settings do not parse back: {e}\n{again}"),
        }
    }
}

/// HTML → text never panics, the text stays within a generous bound of its source, and
/// whether the body is rich is decidable for anything.
///
/// # Panics
/// When the text is out of bounds.
pub fn html_to_text(data: &[u8]) {
    let html = String::from_utf8_lossy(data);
    let text = calbridge_model::html_to_text(&html);
    assert!(
        text.len() <= html.len() * 4 + 64,
        "{} bytes of text from {} bytes of HTML",
        text.len(),
        html.len()
    );
    let _ = calbridge_model::html_is_rich(&html);
}

/// Salesforce ids: parsing never panics; a parsed id is 18 characters and parses back to
/// itself from both its 18- and 15-character forms.
///
/// # Panics
/// When a parsed id does not parse back to itself.
pub fn salesforce_id(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = text.parse::<SalesforceId>() {
        assert_eq!(id.as_str().len(), 18, "{text:?}");
        assert_eq!(
            id.as_str().parse::<SalesforceId>().ok().as_ref(),
            Some(&id),
            "18 form of {text:?}"
        );
        assert_eq!(
            id.to_15().parse::<SalesforceId>().ok().as_ref(),
            Some(&id),
            "15 form of {text:?}"
        );
    }
}
