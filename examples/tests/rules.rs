//! End-to-end rule tests: both emulators over HTTP, the real connectors, the engine on a
//! manual clock and SQLite state. Each test asserts what both emulators store afterwards,
//! and that one more sync writes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod rules_support;

use calbridge::core::{ConflictPolicy, Direction, PrivateEvents, SkipReason};
use calbridge::model::{ItemId, RecordLink, SnapFields};
use calbridge_examples::emulated::OUTCOME_FIELD;
use chrono::Duration;
use rules_support::*;
use serde_json::json;

#[tokio::test]
async fn default_range_syncs_inside_and_never_deletes_what_leaves_it() {
    let w = World::new().await;
    let inside = at(2, 10);
    w.seed_outlook(graph_event("Outlook inside", inside, 30));
    w.seed_outlook(graph_event("Outlook far past", at(-40, 10), 30));
    w.seed_outlook(graph_event("Outlook far future", at(400, 10), 30));
    w.seed_salesforce(sf_event("Salesforce inside", at(-20, 15), 60));
    w.seed_salesforce(sf_event("Salesforce far future", at(370, 9), 60));
    let engine = w.engine(settings()).await;

    w.sync(&engine).await;
    assert_eq!(
        w.outlook_subjects(),
        [
            "Outlook far future",
            "Outlook far past",
            "Outlook inside",
            "Salesforce inside"
        ]
    );
    assert_eq!(
        w.salesforce_subjects(),
        [
            "Outlook inside",
            "Salesforce far future",
            "Salesforce inside"
        ]
    );
    let copy = w.salesforce("Outlook inside");
    assert_eq!(sf_instant(&copy["StartDateTime"]), inside);
    assert_eq!(
        sf_instant(&copy["EndDateTime"]),
        inside + Duration::minutes(30)
    );
    let copy = w.outlook("Salesforce inside");
    assert_eq!(graph_instant(&copy["start"]), at(-20, 15));
    w.assert_quiet(&engine).await;

    // Moved out of range in Outlook: its copy is neither moved nor deleted.
    let moved = w.outlook("Outlook inside");
    let far = at(500, 10);
    w.edit_outlook(
        moved["id"].as_str().unwrap(),
        with(
            graph_times(far, 30),
            json!({ "subject": "Outlook moved away" }),
        ),
    );
    // Moved out of range in Salesforce: likewise.
    let sf_moved = w.salesforce("Salesforce inside");
    w.edit_salesforce(
        sf_moved["Id"].as_str().unwrap(),
        with(
            sf_times(at(-60, 15), 60),
            json!({ "Subject": "Salesforce moved away" }),
        ),
    );
    let report = w.sync(&engine).await;
    assert_eq!(report.writes(), 0, "{report}");
    let copy = w.salesforce("Outlook inside");
    assert_eq!(sf_instant(&copy["StartDateTime"]), inside);
    let copy = w.outlook("Salesforce inside");
    assert_eq!(graph_instant(&copy["start"]), at(-20, 15));
    assert_eq!(
        graph_instant(&w.outlook("Outlook moved away")["start"]),
        far
    );
    assert_eq!(
        sf_instant(&w.salesforce("Salesforce moved away")["StartDateTime"]),
        at(-60, 15)
    );
    assert_eq!(w.outlook_events().len(), 4);
    assert_eq!(w.salesforce_events().len(), 3);
    w.assert_quiet(&engine).await;
}

#[tokio::test]
async fn bidirectional_creates_edits_and_deletes_flow_both_ways() {
    let w = World::new().await;
    let o_edit = w.seed_outlook(graph_event("Pricing call", at(1, 10), 30));
    let o_gone = w.seed_outlook(graph_event("Acme kick-off", at(2, 9), 60));
    let s_edit = w.seed_salesforce(sf_event("Globex CFO call", at(1, 18), 30));
    let s_gone = w.seed_salesforce(sf_event("Initech demo", at(3, 14), 45));
    w.seed_outlook(graph_event("Stays put O", at(4, 9), 30));
    w.seed_salesforce(sf_event("Stays put S", at(4, 11), 30));
    let engine = w.engine(settings()).await;

    let first = w.sync(&engine).await;
    assert_eq!(
        (first.salesforce.created, first.outlook.created),
        (3, 3),
        "{first}"
    );
    let all = [
        "Acme kick-off",
        "Globex CFO call",
        "Initech demo",
        "Pricing call",
        "Stays put O",
        "Stays put S",
    ];
    assert_eq!(w.outlook_subjects(), all);
    assert_eq!(w.salesforce_subjects(), all);
    assert_eq!(
        graph_instant(&w.outlook("Initech demo")["end"]),
        at(3, 14) + Duration::minutes(45)
    );
    w.assert_quiet(&engine).await;

    // Edits: Outlook renames and moves; Salesforce changes the location.
    w.edit_outlook(
        &o_edit,
        with(
            graph_times(at(1, 11), 30),
            json!({ "subject": "Pricing call (moved)" }),
        ),
    );
    w.edit_salesforce(&s_edit, json!({ "Location": "Globex HQ" }));
    // Deletes on each side.
    w.delete_outlook(&o_gone);
    w.delete_salesforce(&s_gone);
    let report = w.sync(&engine).await;
    assert_eq!(
        (
            report.salesforce.updated,
            report.salesforce.deleted,
            report.outlook.updated,
            report.outlook.deleted
        ),
        (1, 1, 1, 1),
        "{report}"
    );
    let after = [
        "Globex CFO call",
        "Pricing call (moved)",
        "Stays put O",
        "Stays put S",
    ];
    assert_eq!(w.outlook_subjects(), after);
    assert_eq!(w.salesforce_subjects(), after);
    let moved = w.salesforce("Pricing call (moved)");
    assert_eq!(sf_instant(&moved["StartDateTime"]), at(1, 11));
    assert_eq!(
        w.outlook("Globex CFO call")["location"]["displayName"],
        "Globex HQ"
    );
    w.assert_quiet(&engine).await;
}

/// Outlook → Salesforce only: the Graph emulator is never written to.
#[tokio::test]
async fn outlook_to_salesforce_only_never_writes_to_outlook() {
    let w = World::new().await;
    let o = w.seed_outlook(graph_event("Pricing call", at(1, 10), 30));
    let s = w.seed_salesforce(sf_event("Globex CFO call", at(1, 18), 30));
    let before = w.outlook_events();
    let engine = w
        .engine(calbridge::SyncSettings {
            direction: Direction::outlook_to_salesforce(),
            ..settings()
        })
        .await;

    w.reset_logs();
    let report = w.sync(&engine).await;
    assert_eq!(report.salesforce.created, 1, "{report}");
    assert_eq!(w.salesforce_subjects(), ["Globex CFO call", "Pricing call"]);
    assert_eq!(w.outlook_events(), before, "Outlook untouched");

    // An Outlook edit flows; a Salesforce edit does not come back.
    w.edit_outlook(&o, json!({ "subject": "Pricing call v2" }));
    w.edit_salesforce(&s, json!({ "Subject": "Globex CFO call v2" }));
    let copy = w.salesforce("Pricing call")["Id"].clone();
    w.edit_salesforce(copy.as_str().unwrap(), json!({ "Location": "Room 4" }));
    let before = w.outlook_events();
    let report = w.sync(&engine).await;
    assert_eq!(report.salesforce.updated, 1, "{report}");
    assert_eq!(report.outlook.updated + report.outlook.created, 0);
    assert_eq!(
        w.salesforce_subjects(),
        ["Globex CFO call v2", "Pricing call v2"]
    );
    assert_eq!(w.outlook_events(), before, "Outlook untouched");
    assert_eq!(w.outlook_subjects(), ["Pricing call v2"]);
    assert_eq!(
        w.graph_writes(),
        Vec::<String>::new(),
        "no write ever reached Graph"
    );
    w.assert_quiet(&engine).await;
    assert_eq!(w.outlook_events(), before);
}

/// Salesforce → Outlook only: the Salesforce emulator is never written to.
#[tokio::test]
async fn salesforce_to_outlook_only_never_writes_to_salesforce() {
    let w = World::new().await;
    let o = w.seed_outlook(graph_event("Pricing call", at(1, 10), 30));
    let s = w.seed_salesforce(sf_event("Globex CFO call", at(1, 18), 30));
    let before = w.salesforce_events();
    let engine = w
        .engine(calbridge::SyncSettings {
            direction: Direction::salesforce_to_outlook(),
            ..settings()
        })
        .await;

    w.reset_logs();
    let report = w.sync(&engine).await;
    assert_eq!(report.outlook.created, 1, "{report}");
    assert_eq!(w.outlook_subjects(), ["Globex CFO call", "Pricing call"]);
    assert_eq!(w.salesforce_events(), before, "Salesforce untouched");

    w.edit_salesforce(&s, json!({ "Subject": "Globex CFO call v2" }));
    w.edit_outlook(&o, json!({ "subject": "Pricing call v2" }));
    let copy = w.outlook("Globex CFO call")["id"].clone();
    w.edit_outlook(
        copy.as_str().unwrap(),
        json!({ "location": { "displayName": "Room 4" } }),
    );
    let before = w.salesforce_events();
    let report = w.sync(&engine).await;
    assert_eq!(report.outlook.updated, 1, "{report}");
    assert_eq!(report.salesforce.updated + report.salesforce.created, 0);
    assert_eq!(
        w.outlook_subjects(),
        ["Globex CFO call v2", "Pricing call v2"]
    );
    assert_eq!(w.salesforce_events(), before, "Salesforce untouched");
    assert_eq!(
        w.salesforce_writes(),
        Vec::<String>::new(),
        "no write ever reached Salesforce"
    );
    w.assert_quiet(&engine).await;
    assert_eq!(w.salesforce_events(), before);
}

/// Deletes prevented to Salesforce only: an Outlook delete leaves the Salesforce copy; a
/// Salesforce delete still removes the Outlook copy.
#[tokio::test]
async fn prevent_delete_on_salesforce_only() {
    let w = World::new().await;
    let o = w.seed_outlook(graph_event("Pricing call", at(1, 10), 30));
    let s = w.seed_salesforce(sf_event("Globex CFO call", at(1, 18), 30));
    w.seed_outlook(graph_event("Keeper 1", at(2, 10), 30));
    w.seed_outlook(graph_event("Keeper 2", at(3, 10), 30));
    let mut s_settings = settings();
    s_settings.direction.salesforce.delete = true;
    let engine = w.engine(s_settings).await;
    w.sync(&engine).await;
    let all = ["Globex CFO call", "Keeper 1", "Keeper 2", "Pricing call"];
    assert_eq!(w.outlook_subjects(), all);
    assert_eq!(w.salesforce_subjects(), all);

    w.delete_outlook(&o);
    w.delete_salesforce(&s);
    let report = w.sync(&engine).await;
    assert_eq!(
        (report.salesforce.deleted, report.outlook.deleted),
        (0, 1),
        "{report}"
    );
    assert_eq!(
        report.salesforce.skipped.get(&SkipReason::Prevented),
        Some(&1),
        "{report}"
    );
    assert_eq!(w.outlook_subjects(), ["Keeper 1", "Keeper 2"]);
    assert_eq!(
        w.salesforce_subjects(),
        ["Keeper 1", "Keeper 2", "Pricing call"],
        "the Salesforce copy survives the Outlook delete"
    );
    w.assert_quiet(&engine).await;
    assert_eq!(
        w.outlook_subjects(),
        ["Keeper 1", "Keeper 2"],
        "not re-created"
    );
}

#[tokio::test]
async fn private_events_are_excluded_both_ways_and_stop_syncing_once_private() {
    let w = World::new().await;
    w.seed_outlook(with(
        graph_event("Doctor", at(1, 8), 60),
        json!({ "sensitivity": "private" }),
    ));
    w.seed_outlook(with(
        graph_event("Board secret", at(1, 12), 60),
        json!({ "sensitivity": "confidential" }),
    ));
    w.seed_salesforce(with(
        sf_event("Salary review", at(2, 8), 60),
        json!({ "IsPrivate": true }),
    ));
    let o = w.seed_outlook(graph_event("Pricing call", at(1, 10), 30));
    let s = w.seed_salesforce(sf_event("Globex CFO call", at(1, 18), 30));
    let engine = w.engine(settings()).await;
    assert_eq!(engine.settings().private_events, PrivateEvents::Exclude);

    let report = w.sync(&engine).await;
    assert_eq!(
        (report.salesforce.created, report.outlook.created),
        (1, 1),
        "{report}"
    );
    assert_eq!(
        w.outlook_subjects(),
        ["Board secret", "Doctor", "Globex CFO call", "Pricing call"]
    );
    assert_eq!(
        w.salesforce_subjects(),
        ["Globex CFO call", "Pricing call", "Salary review"]
    );
    w.assert_quiet(&engine).await;

    // Made private after syncing, with new content: the copies keep the old content.
    w.edit_outlook(
        &o,
        json!({ "sensitivity": "private", "subject": "Pricing call (private)" }),
    );
    w.edit_salesforce(
        &s,
        json!({ "IsPrivate": true, "Subject": "Globex CFO call (private)" }),
    );
    let report = w.sync(&engine).await;
    assert_eq!(report.writes(), 0, "{report}");
    let copy = w.salesforce("Pricing call");
    assert_eq!(copy["IsPrivate"], false);
    assert_eq!(sf_instant(&copy["StartDateTime"]), at(1, 10));
    let copy = w.outlook("Globex CFO call");
    assert_eq!(copy["sensitivity"], "normal");
    assert_eq!(
        w.outlook_subjects(),
        [
            "Board secret",
            "Doctor",
            "Globex CFO call",
            "Pricing call (private)"
        ]
    );
    assert_eq!(
        w.salesforce_subjects(),
        ["Globex CFO call (private)", "Pricing call", "Salary review"]
    );
    w.assert_quiet(&engine).await;
}

#[tokio::test]
async fn related_only_syncs_only_related_events() {
    let w = World::new().await;
    let account = w.emu.record("001");
    let contact = w.emu.record("003");
    w.seed_salesforce(with(
        sf_event("Account review", at(1, 9), 30),
        json!({ "WhatId": account }),
    ));
    w.seed_salesforce(with(
        sf_event("Contact lunch", at(1, 12), 60),
        json!({ "WhoId": contact }),
    ));
    w.seed_salesforce(sf_event("Internal sync S", at(1, 15), 30));
    let related = w.seed_outlook(graph_event("Opportunity call", at(2, 10), 30));
    w.seed_outlook(graph_event("Internal sync O", at(2, 14), 30));
    let engine = w
        .engine(calbridge::SyncSettings {
            related_only: true,
            ..settings()
        })
        .await;
    let link = RecordLink {
        what: Some(account.parse().unwrap()),
        who: None,
    };
    engine
        .relate(&ItemId::from(related.as_str()), link, SnapFields::new())
        .await
        .unwrap();

    let report = w.sync(&engine).await;
    assert_eq!(
        (report.salesforce.created, report.outlook.created),
        (1, 2),
        "{report}"
    );
    assert_eq!(
        w.outlook_subjects(),
        [
            "Account review",
            "Contact lunch",
            "Internal sync O",
            "Opportunity call"
        ]
    );
    assert_eq!(
        w.salesforce_subjects(),
        [
            "Account review",
            "Contact lunch",
            "Internal sync S",
            "Opportunity call"
        ]
    );
    assert_eq!(w.salesforce("Opportunity call")["WhatId"], account.as_str());
    w.assert_quiet(&engine).await;
}

#[tokio::test]
async fn preserve_formatting_keeps_a_rich_outlook_body_while_the_time_moves() {
    let w = World::new().await;
    let html = "<html><body><p>Agenda: <b>pricing</b></p><img src=\"cid:logo@acme\" alt=\"logo\"></body></html>";
    let o = w.seed_outlook(with(
        graph_event("Pricing call", at(1, 10), 30),
        json!({
            "body": { "contentType": "html", "content": html },
            "hasAttachments": true,
        }),
    ));
    let engine = w
        .engine(calbridge::SyncSettings {
            preserve_formatting: true,
            ..settings()
        })
        .await;
    w.sync(&engine).await;
    let copy = w.salesforce("Pricing call");
    let text = copy["Description"].as_str().unwrap();
    assert!(text.contains("pricing") && !text.contains("<b>"), "{text}");
    w.assert_quiet(&engine).await;

    // Salesforce moves the meeting and rewrites the description in plain text.
    w.edit_salesforce(
        copy["Id"].as_str().unwrap(),
        with(
            sf_times(at(1, 13), 45),
            json!({ "Description": "Agenda: pricing and terms" }),
        ),
    );
    let report = w.sync(&engine).await;
    assert_eq!(report.outlook.updated, 1, "{report}");
    let event = w
        .emu
        .graph
        .event(calbridge_examples::emulated::OUTLOOK_USER, &o)
        .unwrap();
    assert_eq!(graph_instant(&event["start"]), at(1, 13));
    assert_eq!(
        graph_instant(&event["end"]),
        at(1, 13) + Duration::minutes(45)
    );
    assert_eq!(event["body"]["contentType"], "html");
    let content = event["body"]["content"].as_str().unwrap();
    assert!(content.contains("<b>pricing</b>"), "{content}");
    assert!(content.contains("<img"), "{content}");
    assert_eq!(event["hasAttachments"], true);
    assert_eq!(
        w.salesforce("Pricing call")["Description"],
        "Agenda: pricing and terms"
    );
    w.assert_quiet(&engine).await;
}

#[tokio::test]
async fn relate_sets_what_who_and_snap_fields_on_salesforce() {
    let w = World::new().await;
    let opportunity = w.emu.record("006");
    let contact = w.emu.record("003");
    let o = w.seed_outlook(graph_event("Negotiation", at(1, 10), 60));
    let engine = w.engine(settings()).await;
    let mut snap = SnapFields::new();
    snap.insert(OUTCOME_FIELD.into(), json!("Verbal yes"));
    engine
        .relate(
            &ItemId::from(o.as_str()),
            RecordLink {
                what: Some(opportunity.parse().unwrap()),
                who: Some(contact.parse().unwrap()),
            },
            snap,
        )
        .await
        .unwrap();
    w.sync(&engine).await;
    let copy = w.salesforce("Negotiation");
    assert_eq!(copy["WhatId"], opportunity.as_str());
    assert_eq!(copy["WhoId"], contact.as_str());
    assert_eq!(copy[OUTCOME_FIELD], "Verbal yes");
    assert_eq!(sf_instant(&copy["StartDateTime"]), at(1, 10));
    assert_eq!(w.outlook_subjects(), ["Negotiation"]);
    w.assert_quiet(&engine).await;

    // Relating again with a new outcome reaches Salesforce on the next sync.
    let mut snap = SnapFields::new();
    snap.insert(OUTCOME_FIELD.into(), json!("Signed"));
    engine
        .relate(
            &ItemId::from(o.as_str()),
            RecordLink {
                what: Some(opportunity.parse().unwrap()),
                who: Some(contact.parse().unwrap()),
            },
            snap,
        )
        .await
        .unwrap();
    let report = w.sync(&engine).await;
    assert_eq!(report.salesforce.updated, 1, "{report}");
    assert_eq!(w.salesforce("Negotiation")[OUTCOME_FIELD], "Signed");
    assert_eq!(w.salesforce_events().len(), 1);
    w.assert_quiet(&engine).await;
}

#[tokio::test]
async fn snap_record_pushes_only_snapped_events_and_auto_mode_turns_it_off() {
    use calbridge::core::{Schedule, SyncMode};
    let w = World::new().await;
    let snapped = w.seed_outlook(graph_event("Recorded call", at(1, 10), 30));
    w.seed_outlook(graph_event("Not recorded", at(1, 12), 30));
    w.seed_salesforce(sf_event("Salesforce only", at(1, 15), 30));
    let before_outlook = w.outlook_events();
    let engine = w
        .engine(calbridge::SyncSettings {
            mode: SyncMode::SnapRecord,
            ..settings()
        })
        .await;

    let preview = engine.preview().await.unwrap();
    assert_eq!(
        preview.report.writes(),
        0,
        "nothing snapped yet: {}",
        preview.report
    );
    let report = engine.snap(&ItemId::from(snapped.as_str())).await.unwrap();
    assert_eq!(report.salesforce.created, 1, "{report}");
    assert_eq!(
        w.salesforce_subjects(),
        ["Recorded call", "Salesforce only"]
    );
    assert_eq!(
        w.outlook_events(),
        before_outlook,
        "SnapRecord writes only to Salesforce"
    );

    // The copy follows Outlook edits; Salesforce edits never flow back.
    w.edit_outlook(&snapped, json!({ "subject": "Recorded call v2" }));
    let copy = w.salesforce("Recorded call")["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    w.reset_logs();
    let report = w.sync(&engine).await;
    assert_eq!(report.salesforce.updated, 1, "{report}");
    assert_eq!(
        w.salesforce_subjects(),
        ["Recorded call v2", "Salesforce only"]
    );
    w.edit_salesforce(&copy, json!({ "Location": "Room 9" }));
    let before_outlook = w.outlook_events();
    w.sync(&engine).await;
    assert_eq!(w.outlook_events(), before_outlook);
    assert_eq!(w.graph_writes(), Vec::<String>::new());
    w.assert_quiet(&engine).await;
    drop(engine);

    // Auto mode: SnapRecord is off by construction, every event syncs, `snap` is refused.
    let w = World::new().await;
    let o = w.seed_outlook(graph_event("Recorded call", at(1, 10), 30));
    w.seed_outlook(graph_event("Not recorded", at(1, 12), 30));
    w.seed_salesforce(sf_event("Salesforce only", at(1, 15), 30));
    let auto = calbridge::SyncSettings {
        mode: SyncMode::Auto(Schedule::default()),
        ..settings()
    };
    assert!(!auto.mode.is_snap_record());
    let engine = w.engine(auto).await;
    let err = engine.snap(&ItemId::from(o.as_str())).await.unwrap_err();
    assert!(matches!(err, calbridge::EngineError::Mode(_)), "{err}");
    let report = w.sync(&engine).await;
    assert_eq!(
        (report.salesforce.created, report.outlook.created),
        (2, 1),
        "{report}"
    );
    let all = ["Not recorded", "Recorded call", "Salesforce only"];
    assert_eq!(w.outlook_subjects(), all);
    assert_eq!(w.salesforce_subjects(), all);
    w.assert_quiet(&engine).await;
}

#[tokio::test]
async fn new_york_zone_with_active_hours_honoured_by_run_auto() {
    use calbridge::Clock;
    use calbridge::core::{Schedule, SyncMode, TimeOfDay, Weekdays};
    use chrono::Timelike;
    use std::sync::{Arc, Mutex};

    let ny = chrono_tz::America::New_York;
    let w = World::new().await;
    // 09:30 New York time, given in the Windows zone as Outlook does.
    let local = (chrono::Utc::now().with_timezone(&ny).date_naive() + Duration::days(2))
        .and_hms_opt(9, 30, 0)
        .unwrap();
    let start = local
        .and_local_timezone(ny)
        .single()
        .unwrap()
        .with_timezone(&chrono::Utc);
    let o = w.seed_outlook(json!({
        "subject": "East coast standup",
        "start": { "dateTime": local.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "Eastern Standard Time" },
        "end": { "dateTime": (local + Duration::minutes(15)).format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "Eastern Standard Time" },
    }));
    w.seed_salesforce(sf_event("Globex CFO call", at(3, 18), 30));
    let schedule = Schedule {
        every_minutes: 60,
        active_from: TimeOfDay::from_hm(9, 0).unwrap(),
        active_until: TimeOfDay::from_hm(12, 0).unwrap(),
        weekdays: Weekdays::all(),
    };
    let engine = w
        .engine(calbridge::SyncSettings {
            time_zone: Some(ny),
            mode: SyncMode::Auto(schedule.clone()),
            ..settings()
        })
        .await;
    assert_eq!(engine.zone(), ny);

    let begin = w.clock.now();
    let end = begin + Duration::days(2);
    let fired = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(tokio::sync::Notify::new());
    let (f, s, c, graph) = (
        Arc::clone(&fired),
        Arc::clone(&stop),
        w.clock.clone(),
        w.emu.graph.clone(),
    );
    let o_id = o.clone();
    let runs = engine
        .run_auto(&schedule, async move { s.notified().await }, move |run| {
            let report = run.outcome.as_ref().unwrap();
            assert!(report.errors.is_empty(), "{report}");
            let mut fired = f.lock().unwrap();
            fired.push(run.scheduled_for);
            if fired.len() == 1 {
                // Edited between the first and second runs.
                assert!(graph.user_edit(
                    calbridge_examples::emulated::OUTLOOK_USER,
                    &o_id,
                    json!({ "subject": "East coast standup (moved)" })
                ));
            }
            if c.now() >= end {
                stop.notify_one();
            }
        })
        .await
        .unwrap();

    let fired = fired.lock().unwrap().clone();
    let expected = schedule.runs_between(ny, begin, end);
    assert!(fired.len() >= expected.len(), "{fired:?} vs {expected:?}");
    assert_eq!(&fired[..expected.len()], &expected[..]);
    assert_eq!(runs, fired.len());
    assert!(expected.len() >= 4, "{expected:?}");
    for t in &fired {
        let local = t.with_timezone(&ny);
        assert!(
            schedule.is_active(ny, *t) && (9..12).contains(&local.hour()) && local.minute() == 0,
            "{t} ({local}) is outside 09:00–12:00 New York"
        );
    }

    let copy = w.salesforce("East coast standup (moved)");
    assert_eq!(sf_instant(&copy["StartDateTime"]), start);
    assert_eq!(
        sf_instant(&copy["EndDateTime"]),
        start + Duration::minutes(15)
    );
    assert_eq!(
        graph_instant(&w.outlook("Globex CFO call")["start"]),
        at(3, 18)
    );
    assert_eq!(w.salesforce_events().len(), 2);
    assert_eq!(w.outlook_events().len(), 2);
    w.assert_quiet(&engine).await;
}

#[tokio::test]
async fn a_meeting_on_both_sides_is_paired_not_duplicated() {
    let w = World::new().await;
    let o = w.seed_outlook(graph_event("Quarterly business review", at(3, 16), 60));
    let s = w.seed_salesforce(sf_event("  quarterly   Business review ", at(3, 16), 60));
    w.seed_outlook(graph_event("Pricing call", at(1, 10), 30));
    let engine = w.engine(settings()).await;
    let report = w.sync(&engine).await;
    assert_eq!(
        (report.salesforce.created, report.outlook.created),
        (1, 0),
        "{report}"
    );
    assert_eq!(w.outlook_events().len(), 2);
    assert_eq!(w.salesforce_events().len(), 2);
    assert_eq!(
        w.outlook_subjects(),
        ["Pricing call", "Quarterly business review"]
    );
    // Whichever spelling is kept, the pair agrees (case and whitespace were folded to match).
    assert_eq!(w.salesforce_subjects(), w.outlook_subjects());
    assert_eq!(
        sf_instant(&w.emu.salesforce.event(&s).unwrap()["StartDateTime"]),
        at(3, 16)
    );
    w.assert_quiet(&engine).await;

    // Paired: an edit on one side updates the other, still no copy.
    w.edit_outlook(&o, json!({ "location": { "displayName": "Board room" } }));
    let report = w.sync(&engine).await;
    assert_eq!(
        (report.salesforce.updated, report.salesforce.created),
        (1, 0),
        "{report}"
    );
    assert_eq!(
        w.emu.salesforce.event(&s).unwrap()["Location"],
        "Board room"
    );
    assert_eq!(w.outlook_events().len(), 2);
    assert_eq!(w.salesforce_events().len(), 2);
    w.assert_quiet(&engine).await;
}

#[tokio::test]
async fn conflict_on_the_same_field_under_each_policy() {
    // (policy, which side edits last, the winner's side)
    let cases = [
        (ConflictPolicy::Newest, "salesforce", "salesforce"),
        (ConflictPolicy::Newest, "outlook", "outlook"),
        (ConflictPolicy::Outlook, "salesforce", "outlook"),
        (ConflictPolicy::Salesforce, "outlook", "salesforce"),
    ];
    for (policy, last, winner) in cases {
        let w = World::new().await;
        let o = w.seed_outlook(graph_event("Pricing call", at(1, 10), 30));
        let engine = w
            .engine(calbridge::SyncSettings {
                conflict_policy: policy,
                ..settings()
            })
            .await;
        w.sync(&engine).await;
        let s = w.salesforce("Pricing call")["Id"]
            .as_str()
            .unwrap()
            .to_owned();
        let edit_o = || w.edit_outlook(&o, json!({ "subject": "Pricing call (Outlook)" }));
        let edit_s = || w.edit_salesforce(&s, json!({ "Subject": "Pricing call (Salesforce)" }));
        // Both emulators stamp modifications with the wall clock: the later edit is
        // made well after the other, so "newest" has a clear winner.
        if last == "salesforce" {
            edit_o();
            std::thread::sleep(std::time::Duration::from_millis(1100));
            edit_s();
        } else {
            edit_s();
            std::thread::sleep(std::time::Duration::from_millis(1100));
            edit_o();
        }
        let o_mod = w.outlook("Pricing call (Outlook)")["lastModifiedDateTime"].clone();
        let s_mod = w.salesforce("Pricing call (Salesforce)")["LastModifiedDate"].clone();
        let o_mod = chrono::DateTime::parse_from_rfc3339(o_mod.as_str().unwrap()).unwrap();
        let s_mod = sf_instant(&s_mod);
        assert_eq!(
            o_mod > s_mod,
            last == "outlook",
            "{policy:?}: outlook {o_mod}, salesforce {s_mod}"
        );

        let report = w.sync(&engine).await;
        assert_eq!(report.conflicts.len(), 1, "{policy:?}: {report}");
        let want = if winner == "outlook" {
            "Pricing call (Outlook)"
        } else {
            "Pricing call (Salesforce)"
        };
        assert_eq!(w.outlook_subjects(), [want], "{policy:?} last={last}");
        assert_eq!(w.salesforce_subjects(), [want], "{policy:?} last={last}");
        let (o_w, s_w) = if winner == "outlook" { (0, 1) } else { (1, 0) };
        assert_eq!(
            (report.outlook.updated, report.salesforce.updated),
            (o_w, s_w),
            "{policy:?}: {report}"
        );
        // Times untouched by the conflict.
        assert_eq!(graph_instant(&w.outlook(want)["start"]), at(1, 10));
        assert_eq!(sf_instant(&w.salesforce(want)["StartDateTime"]), at(1, 10));
        w.assert_quiet(&engine).await;
    }
}

/// `snap` on an event an earlier run already listed: the run `snap` starts reads Outlook
/// incrementally, the event has not changed, so it is never planned and nothing reaches
/// Salesforce.
#[tokio::test]
async fn snap_after_an_earlier_sync_pushes_the_event() {
    use calbridge::core::SyncMode;
    let w = World::new().await;
    let snapped = w.seed_outlook(graph_event("Recorded call", at(1, 10), 30));
    w.seed_outlook(graph_event("Not recorded", at(1, 12), 30));
    let engine = w
        .engine(calbridge::SyncSettings {
            mode: SyncMode::SnapRecord,
            ..settings()
        })
        .await;
    let report = w.sync(&engine).await;
    assert_eq!(report.writes(), 0, "nothing snapped yet: {report}");
    assert_eq!(w.salesforce_events().len(), 0);

    let report = engine.snap(&ItemId::from(snapped.as_str())).await.unwrap();
    assert_eq!(report.salesforce.created, 1, "{report}");
    assert_eq!(w.salesforce_subjects(), ["Recorded call"]);
    w.assert_quiet(&engine).await;
}
