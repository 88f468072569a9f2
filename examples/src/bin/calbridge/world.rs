//! `--emulate`: the in-process Graph and Salesforce emulators, whose calendars are kept in a
//! JSON file beside the emulated sync state, so that successive commands see the same
//! calendars — sync once, edit the file (or relate, snap), sync again.

use std::path::{Path, PathBuf};

use calbridge_examples::emulated::{self, Emulated};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{Value, json};

use crate::CliError;

/// The sync state used with `--emulate` when `--state` is not given (never the real one).
pub(crate) const DEFAULT_EMULATED_STATE: &str = "calbridge-emulated.sqlite";
/// The emulated account events may relate to (`relate --what`).
pub(crate) const EMULATED_ACCOUNT: &str = "001000000000001AAA";
/// The emulated contact events may relate to (`relate --who`).
pub(crate) const EMULATED_CONTACT: &str = "003000000000001AAA";
/// The key naming the file's format and version.
const FORMAT_KEY: &str = "calbridge_emulators";
const FORMAT: u64 = 1;

/// The file holding the emulators' calendars for the state file `state`:
/// `calbridge-emulated.sqlite` → `calbridge-emulated.emulators.json`.
pub(crate) fn file_for(state: &Path) -> PathBuf {
    state.with_extension("emulators.json")
}

fn bad_file(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::usage(format!("bad emulators file {}: {e}", path.display()))
}

fn setup_error(e: emulated::SetupError) -> CliError {
    CliError::usage(format!("cannot start the emulators: {e}"))
}

/// Starts the emulators: with the calendars saved in `file`, or, on the first run, seeded
/// with a few events. A state without its emulators' file is refused: its links would name
/// events that no longer exist.
pub(crate) async fn open(file: &Path, state: &Path) -> Result<Emulated, CliError> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(bad_file(file, e)),
    };
    let Some(text) = text else {
        if state.exists() {
            return Err(CliError::usage(format!(
                "the emulated sync state {} has no emulators' file {}; delete the state to \
                 start over",
                state.display(),
                file.display()
            )));
        }
        return seeded().await;
    };
    let saved: Value = serde_json::from_str(&text).map_err(|e| bad_file(file, e))?;
    if saved.get(FORMAT_KEY).and_then(Value::as_u64) != Some(FORMAT) {
        return Err(bad_file(
            file,
            format!("`{FORMAT_KEY}` is not {FORMAT} (not a file this version wrote)"),
        ));
    }
    let list = |key: &str| -> Result<Vec<Value>, CliError> {
        match saved.get(key) {
            Some(Value::Array(items)) => Ok(items.clone()),
            _ => Err(bad_file(file, format!("`{key}` is not a list"))),
        }
    };
    let (outlook, salesforce) = (list("outlook")?, list("salesforce")?);
    let world = started().await?;
    world
        .graph
        .restore_events(emulated::OUTLOOK_USER, None, &outlook)
        .map_err(|e| bad_file(file, format!("outlook: {e}")))?;
    world
        .salesforce
        .restore_events(&salesforce)
        .map_err(|e| bad_file(file, format!("salesforce: {e}")))?;
    Ok(world)
}

/// Saves the emulators' calendars to `file` (through a temporary file and a rename, so that
/// a crash leaves the old file or the new one).
pub(crate) fn save(world: &Emulated, file: &Path) -> Result<(), CliError> {
    let saved = json!({
        FORMAT_KEY: FORMAT,
        "outlook": world.graph.snapshot_events(emulated::OUTLOOK_USER, None),
        "salesforce": world.salesforce.snapshot_events(),
    });
    let text = serde_json::to_string_pretty(&saved)
        .map_err(|e| CliError::failed(format!("cannot save the emulators: {e}")))?;
    let tmp = file.with_extension("json.tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, file))
        .map_err(|e| {
            CliError::failed(format!(
                "cannot save the emulators to {}: {e}",
                file.display()
            ))
        })
}

/// Both emulators, empty, with the records events may relate to.
async fn started() -> Result<Emulated, CliError> {
    let world = Emulated::start().await.map_err(setup_error)?;
    // Fixed ids, so that `relate --what/--who` can name them in every run.
    let _account = world.record(EMULATED_ACCOUNT);
    let _contact = world.record(EMULATED_CONTACT);
    Ok(world)
}

/// Both emulators with a few events: one only in Outlook, one only in Salesforce, one on
/// both sides (paired on the first sync), and a private appointment (never copied).
async fn seeded() -> Result<Emulated, CliError> {
    let world = started().await?;
    let day = Utc::now()
        .duration_trunc(Duration::days(1))
        .unwrap_or_else(|_| Utc::now());
    let at = |days: i64, hour: i64| day + Duration::days(days) + Duration::hours(hour);
    let graph_time = |t: DateTime<Utc>| json!({"dateTime": t.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"});
    let sf_time = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let outlook_events = [
        ("Pricing call with Contoso", at(1, 10), 30, "normal"),
        ("Dentist", at(2, 15), 60, "private"),
        ("Quarterly business review", at(3, 14), 60, "normal"),
    ];
    for (subject, start, minutes, sensitivity) in outlook_events {
        world
            .graph
            .try_seed_event(
                emulated::OUTLOOK_USER,
                None,
                json!({
                    "subject": subject,
                    "start": graph_time(start),
                    "end": graph_time(start + Duration::minutes(minutes)),
                    "sensitivity": sensitivity,
                }),
            )
            .map_err(|e| CliError::usage(format!("cannot seed the Graph emulator: {e}")))?;
    }
    for (subject, start, minutes, what) in [
        (
            "Call with Acme procurement",
            at(2, 11),
            30,
            Some(EMULATED_ACCOUNT),
        ),
        ("Quarterly business review", at(3, 14), 60, None),
    ] {
        let mut fields = json!({
            "Subject": subject,
            "StartDateTime": sf_time(start),
            "EndDateTime": sf_time(start + Duration::minutes(minutes)),
            "OwnerId": world.owner,
        });
        if let (Some(what), Some(map)) = (what, fields.as_object_mut()) {
            map.insert("WhatId".into(), json!(what));
        }
        world.salesforce.seed_event(fields);
    }
    Ok(world)
}

/// With `--emulate`, an Outlook event may be named by its subject; otherwise the id is
/// taken as given.
pub(crate) fn resolve_outlook_id(world: Option<&Emulated>, id_or_subject: &str) -> String {
    let Some(world) = world else {
        return id_or_subject.to_owned();
    };
    let events = world.graph.events(emulated::OUTLOOK_USER, None);
    let by_id = events
        .iter()
        .any(|e| e.get("id").and_then(|v| v.as_str()) == Some(id_or_subject));
    if by_id {
        return id_or_subject.to_owned();
    }
    events
        .iter()
        .find(|e| {
            e.get("subject")
                .and_then(|v| v.as_str())
                .is_some_and(|s| s.eq_ignore_ascii_case(id_or_subject))
        })
        .and_then(|e| e.get("id").and_then(|v| v.as_str()))
        .unwrap_or(id_or_subject)
        .to_owned()
}
