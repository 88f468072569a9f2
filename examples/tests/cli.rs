//! The `calbridge` binary, run as a user would: `init`, offline `plan` from the exports under
//! `tests/data/`, configuration and input errors with their exit codes. The `--emulate`
//! commands are in `cli_emulated.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use std::path::{Path, PathBuf};

use calbridge::model::Side;
use calbridge::provider::InMemoryProvider;
use calbridge::store::SqliteStore;
use calbridge::{ManualClock, SyncEngine, SyncSettings};
use calbridge_salesforce::{Mapping, Row};
use cli_support::{calbridge, json, ops, path, stderr, stdout};
use serde_json::Value;

const NOW: &str = "2026-12-01T09:00:00Z";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn init_writes_settings_that_parse_back_to_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let out = calbridge(dir.path(), &["init"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("calbridge.toml")).unwrap();
    assert!(text.contains("# "), "the file explains its settings");
    assert_eq!(
        SyncSettings::from_toml_str(&text).unwrap(),
        SyncSettings::default()
    );
    // Every later command reads it.
    let out = calbridge(dir.path(), &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("Mode: manual"), "{}", stdout(&out));
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mine.toml");
    std::fs::write(&config, "related_only = true\n").unwrap();
    let out = calbridge(dir.path(), &["--config", path(&config), "init"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "related_only = true\n"
    );
    let out = calbridge(dir.path(), &["--config", path(&config), "init", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&config).unwrap();
    assert_eq!(
        SyncSettings::from_toml_str(&text).unwrap(),
        SyncSettings::default()
    );
}

/// The state the last sync left: the base exports synced once, which links the pipeline
/// review on both sides.
async fn state_from_base_exports(state: &Path) {
    let outlook_body = std::fs::read(data("outlook-base.json")).unwrap();
    let outlook_events = calbridge_outlook::mapping::map_page(&outlook_body)
        .unwrap()
        .events;
    let salesforce_body: Value =
        serde_json::from_slice(&std::fs::read(data("salesforce-base.json")).unwrap()).unwrap();
    let mapping = Mapping::new(Vec::new(), None).unwrap();
    let salesforce_events: Vec<_> = salesforce_body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| match mapping.read(r.as_object().unwrap()).unwrap() {
            Row::Event(e) => *e,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    let outlook = InMemoryProvider::new(Side::Outlook);
    outlook.seed(outlook_events);
    let salesforce = InMemoryProvider::new(Side::Salesforce);
    salesforce.seed(salesforce_events);
    let settings = SyncSettings {
        time_zone: Some(chrono_tz::UTC),
        ..SyncSettings::default()
    };
    let engine = SyncEngine::builder(outlook, salesforce, SqliteStore::open(state).unwrap())
        .settings(settings)
        .clock(ManualClock::new(NOW.parse().unwrap()))
        .build()
        .unwrap();
    let report = engine.sync().await.unwrap();
    assert_eq!(report.writes(), 0, "the base pair is found, not copied");
    assert_eq!(engine.store().load().await.unwrap().pairs.len(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn plan_json_from_exports_gives_the_expected_plan() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite");
    state_from_base_exports(&state).await;
    let out = calbridge(
        dir.path(),
        &[
            "--state",
            path(&state),
            "plan",
            "--outlook",
            path(&data("outlook.json")),
            "--salesforce",
            path(&data("salesforce.json")),
            "--now",
            NOW,
            "--tz",
            "UTC",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan = json(&out);

    // A create each way.
    let to_sf = ops(&plan, "salesforce", "create");
    assert_eq!(to_sf.len(), 1, "{plan:#}");
    assert_eq!(to_sf[0]["source_id"], "AAMkAGI2-pricing-call");
    assert!(to_sf[0]["target_id"].is_null());
    assert!(
        to_sf[0]["fields"]
            .as_array()
            .unwrap()
            .contains(&Value::from("subject"))
    );
    let to_outlook = ops(&plan, "outlook", "create");
    assert_eq!(to_outlook.len(), 1, "{plan:#}");
    assert_eq!(to_outlook[0]["source_id"], "00U000000000001EAA");

    // The meeting already on both sides is paired, not copied.
    assert_eq!(
        plan["paired"],
        serde_json::json!([{"outlook_id": "AAMkAGI2-qbr", "salesforce_id": "00U000000000003EAA"}])
    );
    for op in plan["operations"].as_array().unwrap() {
        assert_ne!(op["source_id"], "AAMkAGI2-qbr");
        assert_ne!(op["source_id"], "00U000000000003EAA");
    }

    // The private appointment stays in Outlook.
    let skipped = plan["skipped"].as_array().unwrap();
    assert!(
        skipped.iter().any(|s| s["side"] == "outlook"
            && s["id"] == "AAMkAGI2-dentist"
            && s["reason"] == "private"),
        "{plan:#}"
    );

    // The subject of the linked pipeline review changed on both sides: a conflict, settled
    // for the newer side (Salesforce, modified last), written to Outlook.
    assert_eq!(
        plan["conflicts"],
        serde_json::json!([{
            "outlook_id": "AAMkAGI2-pipeline",
            "salesforce_id": "00U000000000004EAA",
            "field": "subject",
            "winner": "salesforce",
        }]),
        "{plan:#}"
    );
    let updates = ops(&plan, "outlook", "update");
    assert_eq!(updates.len(), 1, "{plan:#}");
    assert_eq!(updates[0]["target_id"], "AAMkAGI2-pipeline");
    assert_eq!(updates[0]["fields"], serde_json::json!(["subject"]));
    assert!(ops(&plan, "salesforce", "update").is_empty(), "{plan:#}");
    assert!(
        plan["operations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|op| op["action"] != "delete")
    );
}

#[test]
fn malformed_items_are_named_and_the_rest_is_planned() {
    let dir = tempfile::tempdir().unwrap();
    let outlook = data("outlook-malformed.json");
    let salesforce = data("salesforce-malformed.json");
    let out = calbridge(
        dir.path(),
        &[
            "plan",
            "--outlook",
            path(&outlook),
            "--salesforce",
            path(&salesforce),
            "--now",
            NOW,
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("outlook-malformed.json")
            && err.contains("item 1 (id AAMkAGI2-bad-start)")
            && err.contains("field `start.dateTime`"),
        "{err}"
    );
    assert!(
        err.contains("salesforce-malformed.json")
            && err.contains("item 1 (id 00U000000000009EAA)")
            && err.contains("field `EndDateTime`"),
        "{err}"
    );
    let plan = json(&out);
    assert_eq!(ops(&plan, "salesforce", "create").len(), 1, "{plan:#}");
    assert_eq!(ops(&plan, "outlook", "create").len(), 1, "{plan:#}");
    let skipped = plan["skipped"].as_array().unwrap();
    for (side, id) in [
        ("outlook", "AAMkAGI2-bad-start"),
        ("salesforce", "00U000000000009EAA"),
    ] {
        assert!(
            skipped
                .iter()
                .any(|s| s["side"] == side && s["id"] == id && s["reason"] == "invalid"),
            "{plan:#}"
        );
    }
}

#[test]
fn a_bad_settings_file_exits_2_naming_the_line_and_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out = calbridge(
        dir.path(),
        &["--config", path(&data("bad-settings.toml")), "status"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("bad-settings.toml"), "{err}");
    assert!(err.contains("line 5"), "{err}");
    assert!(err.contains("range.future_dayz"), "{err}");

    // A wrong type is named too.
    let config = dir.path().join("typed.toml");
    std::fs::write(&config, "[delete_guard]\nmax_deletes = \"ten\"\n").unwrap();
    let out = calbridge(dir.path(), &["--config", path(&config), "preview"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("line 2") && err.contains("delete_guard.max_deletes"),
        "{err}"
    );
}

#[test]
fn unknown_or_unreadable_input_exits_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-export.json");
    let out = calbridge(
        dir.path(),
        &[
            "plan",
            "--outlook",
            path(&missing),
            "--salesforce",
            path(&data("salesforce.json")),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no-such-export.json"),
        "{}",
        stderr(&out)
    );

    let out = calbridge(
        dir.path(),
        &[
            "plan",
            "--outlook",
            path(&data("outlook.json")),
            "--salesforce",
            path(&data("not-json.json")),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not-json.json"), "{}", stderr(&out));

    let out = calbridge(
        dir.path(),
        &["--config", path(&dir.path().join("absent.toml")), "status"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("absent.toml"), "{}", stderr(&out));

    let out = calbridge(dir.path(), &["no-such-command"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn commands_that_need_a_service_exit_3_until_signed_in() {
    let dir = tempfile::tempdir().unwrap();
    for command in [
        &["sync"][..],
        &["preview"],
        &["calendars"],
        &["snap", "some-id"],
    ] {
        let out = calbridge(dir.path(), command);
        assert_eq!(out.status.code(), Some(3), "{command:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("calbridge login outlook"),
            "{command:?}: {}",
            stderr(&out)
        );
    }
    // Nothing was created on the way: no state, no token cache.
    assert!(!dir.path().join("calbridge-state.sqlite").exists());
    assert!(!dir.path().join("calbridge-tokens.json").exists());
}
