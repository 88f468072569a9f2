//! The checks behind calbridge's fuzz targets, in one place.
//!
//! Each function takes the raw bytes a fuzzer produces and **panics** when an invariant
//! breaks — that is how libFuzzer (the `fuzz/` crate) and the property tests
//! (`tests/properties.rs`, run by `cargo test` on stable) notice a bug. Input that is not
//! what the target is about (bytes that are not JSON for a JSON target) returns quietly.
//!
//! | target | input | checks beyond "no panic" |
//! | --- | --- | --- |
//! | [`graph_event`] | one Graph event resource | `map_item` and `event_from_json` agree; a mapped event written as Graph JSON reads back equal, and writing it again gives the same JSON |
//! | [`graph_page`] | a Graph collection page | every item is accounted for once, in order, as `map_item` maps it alone; links are kept; each event round-trips |
//! | [`salesforce_record`] | one `Event` record | ids come back in their 18-character form; a mapped event written as a record reads back equal, or is refused only for a documented reason |
//! | [`soql_response`] | a SOQL query response body | every record maps as it does alone and round-trips |
//! | [`settings_toml`] | a settings file | settings that parse survive a round trip through TOML |
//! | [`html_to_text`] | an HTML body | the text is bounded by its source; the rich flag is decidable |
//! | [`salesforce_id`] | an id | a parsed id parses back to itself from both forms |
//!
//! [`run`] dispatches by target name, which is how the corpus replay finds them.

mod graph;
mod salesforce;
mod text;

pub use graph::{graph_event, graph_json, graph_page, graph_round_trip};
pub use salesforce::{
    KEY_FIELD, SNAP_FIELDS, salesforce_json, salesforce_record, salesforce_round_trip,
    snap_mapping, soql_response,
};
pub use text::{html_to_text, salesforce_id, settings_toml};

/// Every target, by the name of its fuzz target and of its directory in `fuzz/corpus_seed/`.
pub const TARGETS: [&str; 7] = [
    "graph_event",
    "graph_page",
    "salesforce_record",
    "soql_response",
    "settings_toml",
    "html_to_text",
    "salesforce_id",
];

/// Runs the check of the target named `target` on `data`; `false` for an unknown name.
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "graph_event" => graph_event(data),
        "graph_page" => graph_page(data),
        "salesforce_record" => salesforce_record(data),
        "soql_response" => soql_response(data),
        "settings_toml" => settings_toml(data),
        "html_to_text" => html_to_text(data),
        "salesforce_id" => salesforce_id(data),
        _ => return false,
    }
    true
}
