//! Shared helpers of the end-to-end rule tests: both emulators, the engine on a manual clock
//! with SQLite state, vendor-JSON event builders and readers of what each emulator stores.

#![allow(dead_code)]

use calbridge::store::SqliteStore;
use calbridge::{ManualClock, Report, SyncEngine, SyncSettings};
use calbridge_examples::emulated::{Emulated, OUTLOOK_USER};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde_json::{Value, json};

/// Both emulators, a state directory and the engine's clock.
pub(crate) struct World {
    pub(crate) emu: Emulated,
    pub(crate) clock: ManualClock,
    dir: tempfile::TempDir,
}

/// Settings with the user's zone pinned to UTC (the machine's zone must not matter).
pub(crate) fn settings() -> SyncSettings {
    SyncSettings {
        time_zone: Some(chrono_tz::UTC),
        ..SyncSettings::default()
    }
}

/// `days` from today (UTC) at `hour`:00 UTC.
pub(crate) fn at(days: i64, hour: u32) -> DateTime<Utc> {
    let today = Utc::now().date_naive();
    (today + Duration::days(days))
        .and_hms_opt(hour, 0, 0)
        .unwrap()
        .and_utc()
}

/// A Graph event as a POST body, in UTC.
pub(crate) fn graph_event(subject: &str, start: DateTime<Utc>, minutes: i64) -> Value {
    let end = start + Duration::minutes(minutes);
    json!({
        "subject": subject,
        "start": { "dateTime": start.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC" },
        "end": { "dateTime": end.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC" },
        "body": { "contentType": "text", "content": format!("Notes for {subject}") },
        "showAs": "busy",
        "sensitivity": "normal",
    })
}

/// Graph `start`/`end` for a patch.
pub(crate) fn graph_times(start: DateTime<Utc>, minutes: i64) -> Value {
    let end = start + Duration::minutes(minutes);
    json!({
        "start": { "dateTime": start.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC" },
        "end": { "dateTime": end.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC" },
    })
}

/// Salesforce `StartDateTime`/`EndDateTime` for a seed or an edit.
pub(crate) fn sf_times(start: DateTime<Utc>, minutes: i64) -> Value {
    let end = start + Duration::minutes(minutes);
    json!({
        "StartDateTime": start.format("%Y-%m-%dT%H:%M:%S.000Z").to_string(),
        "EndDateTime": end.format("%Y-%m-%dT%H:%M:%S.000Z").to_string(),
        "DurationInMinutes": minutes,
    })
}

/// A Salesforce Event as seeded through the UI, in API names.
pub(crate) fn sf_event(subject: &str, start: DateTime<Utc>, minutes: i64) -> Value {
    let mut v = sf_times(start, minutes);
    let obj = v.as_object_mut().unwrap();
    obj.insert("Subject".into(), json!(subject));
    obj.insert("Description".into(), json!(format!("Notes for {subject}")));
    v
}

/// Merges `extra` into the object `base`.
pub(crate) fn with(mut base: Value, extra: Value) -> Value {
    let obj = base.as_object_mut().unwrap();
    for (k, v) in extra.as_object().unwrap() {
        obj.insert(k.clone(), v.clone());
    }
    base
}

/// A Graph `start`/`end` (`dateTime` + `timeZone: UTC` as `events()` renders them).
pub(crate) fn graph_instant(v: &Value) -> DateTime<Utc> {
    assert_eq!(v["timeZone"], "UTC", "{v}");
    let text = v["dateTime"].as_str().unwrap();
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .unwrap()
        .and_utc()
}

/// A Salesforce dateTime (`2025-09-24T16:00:00.000+0000`).
pub(crate) fn sf_instant(v: &Value) -> DateTime<Utc> {
    let text = v.as_str().unwrap_or_else(|| panic!("not a dateTime: {v}"));
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.3f%z")
        .unwrap()
        .with_timezone(&Utc)
}

impl World {
    /// Both emulators started, the clock at the emulators' "now".
    pub(crate) async fn new() -> Self {
        Self {
            emu: Emulated::start().await.unwrap(),
            clock: ManualClock::new(Utc::now()),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The engine over both connectors, SQLite state in this world's directory.
    pub(crate) async fn engine(&self, settings: SyncSettings) -> SyncEngine {
        let store = SqliteStore::open(self.dir.path().join("state.sqlite")).unwrap();
        SyncEngine::builder(
            self.emu.outlook().await.unwrap(),
            self.emu.salesforce().await.unwrap(),
            store,
        )
        .settings(settings)
        .clock(self.clock.clone())
        .build()
        .unwrap()
    }

    pub(crate) fn seed_outlook(&self, event: Value) -> String {
        self.emu.graph.seed_event(OUTLOOK_USER, None, event)
    }

    pub(crate) fn seed_salesforce(&self, event: Value) -> String {
        self.emu.salesforce.seed_event(event)
    }

    pub(crate) fn edit_outlook(&self, id: &str, patch: Value) {
        assert!(
            self.emu.graph.user_edit(OUTLOOK_USER, id, patch),
            "outlook edit refused"
        );
    }

    pub(crate) fn edit_salesforce(&self, id: &str, fields: Value) {
        assert!(self.emu.salesforce.user_edit(id, fields));
    }

    pub(crate) fn delete_outlook(&self, id: &str) {
        assert!(self.emu.graph.user_delete(OUTLOOK_USER, id));
    }

    pub(crate) fn delete_salesforce(&self, id: &str) {
        assert!(self.emu.salesforce.user_delete(id));
    }

    /// The Outlook calendar as the Graph emulator stores it.
    pub(crate) fn outlook_events(&self) -> Vec<Value> {
        self.emu.graph.events(OUTLOOK_USER, None)
    }

    /// The user's Salesforce events as the Salesforce emulator stores them.
    pub(crate) fn salesforce_events(&self) -> Vec<Value> {
        self.emu.salesforce.events()
    }

    /// Sorted Outlook subjects.
    pub(crate) fn outlook_subjects(&self) -> Vec<String> {
        let mut s: Vec<String> = self
            .outlook_events()
            .iter()
            .map(|e| e["subject"].as_str().unwrap_or_default().to_owned())
            .collect();
        s.sort();
        s
    }

    /// Sorted Salesforce subjects.
    pub(crate) fn salesforce_subjects(&self) -> Vec<String> {
        let mut s: Vec<String> = self
            .salesforce_events()
            .iter()
            .map(|e| e["Subject"].as_str().unwrap_or_default().to_owned())
            .collect();
        s.sort();
        s
    }

    /// The one Outlook event with this subject.
    pub(crate) fn outlook(&self, subject: &str) -> Value {
        let found: Vec<Value> = self
            .outlook_events()
            .into_iter()
            .filter(|e| e["subject"] == subject)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "Outlook events titled {subject:?}: {:?}",
            self.outlook_subjects()
        );
        found.into_iter().next().unwrap()
    }

    /// The one Salesforce event with this subject.
    pub(crate) fn salesforce(&self, subject: &str) -> Value {
        let found: Vec<Value> = self
            .salesforce_events()
            .into_iter()
            .filter(|e| e["Subject"] == subject)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "Salesforce events titled {subject:?}: {:?}",
            self.salesforce_subjects()
        );
        found.into_iter().next().unwrap()
    }

    /// Writes to events the Graph emulator received since its log was last reset: direct
    /// POST/PATCH/DELETE and the write items inside `$batch`es (token calls excluded).
    pub(crate) fn graph_writes(&self) -> Vec<String> {
        let mut writes = Vec::new();
        for r in self.emu.graph.requests() {
            if r.path_and_query.contains("oauth2") {
                continue;
            }
            if r.path_and_query.contains("batch") {
                let body: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
                for item in body["requests"].as_array().into_iter().flatten() {
                    let method = item["method"].as_str().unwrap_or_default().to_uppercase();
                    if method != "GET" {
                        writes.push(format!("$batch {method} {}", item["url"]));
                    }
                }
            } else if r.method != "GET" {
                writes.push(format!("{} {}", r.method, r.path_and_query));
            }
        }
        writes
    }

    /// Writes the Salesforce emulator received since its log was last reset (OAuth excluded).
    pub(crate) fn salesforce_writes(&self) -> Vec<String> {
        self.emu
            .salesforce
            .requests()
            .into_iter()
            .filter(|r| !r.path_and_query.contains("oauth2") && r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path_and_query))
            .collect()
    }

    pub(crate) fn reset_logs(&self) {
        self.emu.graph.reset_requests();
        self.emu.salesforce.reset_requests();
    }

    /// Syncs once, asserting it made no error.
    pub(crate) async fn sync(&self, engine: &SyncEngine) -> Report {
        let report = engine.sync().await.unwrap();
        assert!(report.errors.is_empty(), "{report}");
        assert!(report.is_clean(), "{report}");
        report
    }

    /// Another sync writes nothing: neither the report nor either emulator's request log.
    pub(crate) async fn assert_quiet(&self, engine: &SyncEngine) {
        let before = (self.outlook_events(), self.salesforce_events());
        self.reset_logs();
        let report = self.sync(engine).await;
        assert_eq!(report.writes(), 0, "a second sync wrote: {report}");
        assert_eq!(self.graph_writes(), Vec::<String>::new());
        assert_eq!(self.salesforce_writes(), Vec::<String>::new());
        assert_eq!(
            (self.outlook_events(), self.salesforce_events()),
            before,
            "a second sync changed an emulator's events"
        );
    }
}
