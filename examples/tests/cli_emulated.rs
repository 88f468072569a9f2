//! The `calbridge` binary with `--emulate`, run as a user would: the emulators' calendars
//! are kept in `calbridge-emulated.emulators.json` between commands, so a test syncs, plays a
//! user's changes by editing that file, and syncs again. Covers the delete guard's prompt
//! and every exit code a sync can end with.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::Output;

use cli_support::{calbridge, calbridge_typing, json, ops, path, stderr, stdout};
use serde_json::{Value, json};

const WORLD: &str = "calbridge-emulated.emulators.json";
/// The account the emulated org knows (`relate --what`).
const ACCOUNT: &str = "001000000000001AAA";

fn world_file(dir: &Path) -> PathBuf {
    dir.join(WORLD)
}

fn read_world(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(world_file(dir)).unwrap()).unwrap()
}

fn write_world(dir: &Path, world: &Value) {
    std::fs::write(
        world_file(dir),
        serde_json::to_string_pretty(world).unwrap(),
    )
    .unwrap();
}

fn subjects(world: &Value, side: &str) -> Vec<String> {
    let key = if side == "outlook" {
        "subject"
    } else {
        "Subject"
    };
    let mut list: Vec<String> = world[side]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[key].as_str().unwrap().to_owned())
        .collect();
    list.sort();
    list
}

/// A user's edit in Outlook: a new subject, and, as every Outlook edit, a new change key
/// and modification time (left out, the emulator gives them when it loads the file).
fn rename_in_outlook(world: &mut Value, from: &str, to: &str) {
    let event = world["outlook"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["subject"] == from)
        .unwrap();
    event["subject"] = json!(to);
    let event = event.as_object_mut().unwrap();
    event.remove("changeKey");
    event.remove("lastModifiedDateTime");
}

fn sync_ok(dir: &Path) -> Output {
    let out = calbridge(dir, &["--emulate", "sync"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    out
}

#[test]
fn emulated_preview_json_and_sync_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = calbridge(dir.path(), &["--emulate", "preview", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let preview = json(&out);
    assert_eq!(
        ops(&preview, "salesforce", "create").len(),
        1,
        "{preview:#}"
    );
    assert_eq!(ops(&preview, "outlook", "create").len(), 1, "{preview:#}");
    assert_eq!(preview["report"]["preview"], true);

    let out = sync_ok(dir.path());
    assert!(stdout(&out).contains("Sync of"), "{}", stdout(&out));
    // The emulated state never lands in the real state file.
    assert!(dir.path().join("calbridge-emulated.sqlite").exists());
    assert!(!dir.path().join("calbridge-state.sqlite").exists());
}

#[test]
fn emulated_calendars_and_state_outlive_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let out = calbridge(dir.path(), &["--emulate", "sync", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let first = json(&out);
    assert_eq!(first["outlook"]["created"], 1, "{first:#}");
    assert_eq!(first["salesforce"]["created"], 1, "{first:#}");
    let world = read_world(dir.path());
    assert_eq!(
        subjects(&world, "salesforce"),
        [
            "Call with Acme procurement",
            "Pricing call with Contoso",
            "Quarterly business review"
        ]
    );
    assert_eq!(subjects(&world, "outlook").len(), 4, "{world:#}");

    // Another process sees the same calendars and the links: nothing to write.
    let out = calbridge(
        dir.path(),
        &["--emulate", "sync", "--repeat", "2", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let reports: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 2);
    for report in &reports {
        for side in ["outlook", "salesforce"] {
            for kind in ["created", "updated", "deleted", "failed"] {
                assert_eq!(report[side][kind], 0, "{report:#}");
            }
        }
    }
    assert_eq!(
        read_world(dir.path()),
        world,
        "a no-change sync writes nothing"
    );
    let out = calbridge(dir.path(), &["--emulate", "status"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Linked events: 3"),
        "{}",
        stdout(&out)
    );

    // A user's edit in Outlook, made in the file, reaches Salesforce on the next sync.
    let mut edited = world.clone();
    rename_in_outlook(
        &mut edited,
        "Pricing call with Contoso",
        "Pricing call with Contoso (v2)",
    );
    write_world(dir.path(), &edited);
    sync_ok(dir.path());
    assert!(
        subjects(&read_world(dir.path()), "salesforce")
            .contains(&"Pricing call with Contoso (v2)".to_owned())
    );
}

#[test]
fn relate_is_carried_by_the_next_sync() {
    let dir = tempfile::tempdir().unwrap();
    sync_ok(dir.path());
    let out = calbridge(
        dir.path(),
        &[
            "--emulate",
            "relate",
            "Pricing call with Contoso",
            "--what",
            ACCOUNT,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("next sync"), "{}", stdout(&out));
    sync_ok(dir.path());
    let world = read_world(dir.path());
    let record = world["salesforce"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Subject"] == "Pricing call with Contoso")
        .unwrap();
    assert_eq!(record["WhatId"], ACCOUNT, "{record:#}");
}

#[test]
fn a_failed_item_exits_1_and_the_rest_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    sync_ok(dir.path());
    // An account the emulated org does not have: Salesforce refuses the update.
    let out = calbridge(
        dir.path(),
        &[
            "--emulate",
            "relate",
            "Pricing call with Contoso",
            "--what",
            "001000000000002AAA",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // And a change that can be applied, in the same run.
    let mut world = read_world(dir.path());
    rename_in_outlook(&mut world, "Quarterly business review", "QBR");
    write_world(dir.path(), &world);
    let out = calbridge(dir.path(), &["--emulate", "sync"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("WhatId") && stdout(&out).contains("failed 1"),
        "{}",
        stdout(&out)
    );
    assert!(subjects(&read_world(dir.path()), "salesforce").contains(&"QBR".to_owned()));
}

/// Synced calendars with twelve more meetings made in Salesforce and copied to Outlook,
/// then deleted in Salesforce: the next sync would delete twelve of the sixteen Outlook
/// events, which trips the default guard (more than 10 and more than 20 %).
fn world_with_a_mass_delete(dir: &Path) -> Value {
    sync_ok(dir);
    let mut world = read_world(dir);
    let start = chrono::Utc::now().date_naive() + chrono::Days::new(5);
    for i in 0..12 {
        let at = |h: u32| format!("{start}T{:02}:00:00Z", 6 + h + i);
        world["salesforce"].as_array_mut().unwrap().push(json!({
            "Subject": format!("Account review {i}"),
            "StartDateTime": at(0),
            "EndDateTime": at(1),
        }));
    }
    write_world(dir, &world);
    sync_ok(dir);
    let mut world = read_world(dir);
    assert_eq!(subjects(&world, "outlook").len(), 16, "{world:#}");
    world["salesforce"]
        .as_array_mut()
        .unwrap()
        .retain(|r| !r["Subject"].as_str().unwrap().starts_with("Account review"));
    write_world(dir, &world);
    world
}

fn assert_held(out: &Output, dir: &Path, before: &Value) {
    assert_eq!(out.status.code(), Some(4), "{}", stderr(out));
    let err = stderr(out);
    assert!(err.contains("The delete guard held this run"), "{err}");
    assert!(err.contains("would delete 12"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert!(stdout(out).contains("HELD"), "{}", stdout(out));
    assert_eq!(&read_world(dir), before, "nothing written on either side");
}

#[test]
fn a_held_mass_delete_is_refused_at_the_prompt_and_exits_4() {
    let dir = tempfile::tempdir().unwrap();
    let before = world_with_a_mass_delete(dir.path());

    let out = calbridge_typing(dir.path(), &["--emulate", "sync"], "n\n");
    assert!(stderr(&out).contains("Delete anyway?"), "{}", stderr(&out));
    assert_held(&out, dir.path(), &before);

    // No terminal and no --yes: no answer is no.
    let out = calbridge(dir.path(), &["--emulate", "sync"]);
    assert!(stderr(&out).contains("stdin is closed"), "{}", stderr(&out));
    assert_held(&out, dir.path(), &before);

    // A preview is never held and writes nothing either.
    let out = calbridge(dir.path(), &["--emulate", "preview", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let preview = json(&out);
    let guarded = preview["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["reason"] == "delete_guard")
        .count();
    assert_eq!(guarded, 12, "{preview:#}");
    assert_eq!(read_world(dir.path()), before);

    // Typing yes at the prompt applies the deletes.
    let out = calbridge_typing(dir.path(), &["--emulate", "sync"], "yes\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("Delete anyway?"), "{}", stderr(&out));
    assert!(stdout(&out).contains("deleted 12"), "{}", stdout(&out));
    let after = read_world(dir.path());
    assert_eq!(subjects(&after, "outlook").len(), 4, "{after:#}");
    assert_eq!(
        subjects(&after, "salesforce"),
        subjects(&before, "salesforce")
    );
}

#[test]
fn yes_confirms_a_held_mass_delete_without_asking() {
    let dir = tempfile::tempdir().unwrap();
    let before = world_with_a_mass_delete(dir.path());
    let out = calbridge(dir.path(), &["--emulate", "sync", "--yes", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("Delete anyway?"), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["outlook"]["deleted"], 12, "{report:#}");
    assert_eq!(subjects(&read_world(dir.path()), "outlook").len(), 4);
    assert_eq!(
        subjects(&read_world(dir.path()), "salesforce"),
        subjects(&before, "salesforce")
    );
}

#[test]
fn calendars_lists_a_shared_calendar_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = calbridge(dir.path(), &["--emulate", "calendars"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().filter(|l| l.contains("Sales team")).collect();
    assert_eq!(rows.len(), 1, "{text}");
    assert!(rows[0].contains("grace@contoso.example"), "{text}");
    for name in ["Calendar ", "Customer visits"] {
        assert_eq!(
            text.lines().filter(|l| l.starts_with(name)).count(),
            1,
            "{text}"
        );
    }
}

#[test]
fn a_broken_or_missing_emulators_file_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    sync_ok(dir.path());
    std::fs::write(world_file(dir.path()), "{\"outlook\": [").unwrap();
    let out = calbridge(dir.path(), &["--emulate", "sync"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(WORLD), "{}", stderr(&out));

    // Without its emulators' file the state is refused rather than synced against fresh
    // calendars.
    std::fs::remove_file(world_file(dir.path())).unwrap();
    let out = calbridge(dir.path(), &["--emulate", "preview"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(WORLD) && stderr(&out).contains("start over"),
        "{}",
        stderr(&out)
    );

    // --state moves both files.
    let state = dir.path().join("elsewhere.sqlite");
    let out = calbridge(dir.path(), &["--emulate", "--state", path(&state), "sync"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(dir.path().join("elsewhere.emulators.json").exists());
}
