//! Named scenarios of DESIGN §3, each with a snapshot of its plan and assertions on the
//! world after applying it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use calbridge_core::{
    Action, ConflictPolicy, Direction, Planner, Prevent, SkipReason, Snapshot, SyncMode,
    SyncSettings,
};
use calbridge_model::{Body, Event, EventTime, Field, ItemId, Sensitivity, Side};
use chrono::{Duration, TimeZone, Utc};
use support::*;

fn settings() -> SyncSettings {
    SyncSettings::default()
}

/// A world where `o1`..`o3` were created in Outlook and synced once.
fn synced_world() -> World {
    let mut w = World::default();
    w.outlook.add(event("o1", "Pricing call", timed(1, 10, 1)));
    let mut review = event("o2", "Pipeline review", timed(2, 14, 1));
    review.location = "Room 4".into();
    w.outlook.add(review);
    w.outlook
        .add(event("o3", "Quarterly planning", timed(3, 9, 2)));
    let plan = w.sync(&settings());
    assert_eq!(plan.operations.len(), 3);
    w
}

/// The Salesforce id paired with an Outlook id.
fn sf_of(w: &World, outlook: &str) -> String {
    w.state
        .pairs
        .iter()
        .find(|p| p.outlook.id.as_str() == outlook)
        .map(|p| p.salesforce.id.as_str().to_owned())
        .expect("paired")
}

#[test]
fn first_sync_pairs_meetings_already_on_both_sides() {
    let mut w = World::default();
    w.outlook.add(event("o1", "Pricing call", timed(1, 10, 1)));
    w.outlook
        .add(event("o2", "Only in Outlook", timed(2, 10, 1)));
    let mut sf = event("s1", "  pricing   CALL ", timed(1, 10, 1));
    sf.body = Body::text("Bring the price list");
    w.salesforce.add(sf);
    w.salesforce
        .add(event("s2", "Only in Salesforce", all_day(4, 1)));
    let plan = w.sync(&settings());
    insta::assert_snapshot!(render(&plan));
    assert_eq!(w.outlook.events.len(), 3);
    assert_eq!(w.salesforce.events.len(), 3);
    // The shared meeting got Salesforce's description (Outlook's was empty), no copy.
    assert_eq!(
        w.outlook.get(&"o1".into()).unwrap().body.plain_text(),
        "Bring the price list"
    );
    assert!(w.plan(&settings()).operations.is_empty());
}

#[test]
fn second_run_plans_nothing() {
    let w = synced_world();
    let plan = w.plan(&settings());
    assert!(plan.is_empty(), "{}", render(&plan));
    assert_eq!(plan.unchanged, 3);
}

#[test]
fn private_events_are_excluded_both_ways() {
    let mut w = synced_world();
    let mut private = event("o9", "Doctor", timed(1, 15, 1));
    private.sensitivity = Sensitivity::Private;
    w.outlook.add(private);
    let mut sf_private = event("s9", "Salary talk", timed(2, 15, 1));
    sf_private.sensitivity = Sensitivity::Private;
    w.salesforce.add(sf_private);
    // An event that became private after syncing is no longer written either way.
    w.outlook.edit("o1", |e| {
        e.sensitivity = Sensitivity::Confidential;
        e.subject = "Secret pricing".into();
    });
    let plan = w.sync(&settings());
    insta::assert_snapshot!(render(&plan));
    assert!(plan.operations.is_empty());
    assert!(
        w.salesforce
            .events
            .values()
            .all(|e| e.subject != "Doctor" && e.subject != "Secret pricing")
    );
    assert!(
        w.outlook
            .events
            .values()
            .all(|e| e.subject != "Salary talk")
    );
}

#[test]
fn one_way_outlook_to_salesforce() {
    let mut w = synced_world();
    let s1 = sf_of(&w, "o1");
    w.outlook
        .edit("o2", |e| e.subject = "Pipeline review (moved)".into());
    w.salesforce.edit(&s1, |e| e.location = "Zoom".into());
    w.salesforce.add(event("s9", "SF only", timed(5, 9, 1)));
    w.outlook.remove("o3");
    let s = SyncSettings {
        direction: Direction::outlook_to_salesforce(),
        ..settings()
    };
    let plan = w.sync(&s);
    insta::assert_snapshot!(render(&plan));
    assert!(
        plan.operations
            .iter()
            .all(|op| op.target == Side::Salesforce)
    );
    assert_eq!(w.outlook.get(&"o1".into()).unwrap().location, "");
    assert_eq!(w.salesforce.events.len(), 3); // s9 stays, o3's copy deleted
}

#[test]
fn one_way_salesforce_to_outlook() {
    let mut w = synced_world();
    let s1 = sf_of(&w, "o1");
    w.outlook
        .edit("o2", |e| e.subject = "Pipeline review (moved)".into());
    w.salesforce.edit(&s1, |e| e.location = "Zoom".into());
    w.outlook.add(event("o9", "Outlook only", timed(5, 9, 1)));
    let s = SyncSettings {
        direction: Direction::salesforce_to_outlook(),
        ..settings()
    };
    let plan = w.sync(&s);
    insta::assert_snapshot!(render(&plan));
    assert!(plan.operations.iter().all(|op| op.target == Side::Outlook));
    assert_eq!(w.outlook.get(&"o1".into()).unwrap().location, "Zoom");
}

#[test]
fn prevent_delete_on_salesforce_only() {
    let mut w = synced_world();
    let s3 = sf_of(&w, "o3");
    w.outlook.remove("o1");
    w.salesforce.remove(&s3);
    let mut s = settings();
    s.direction.salesforce = Prevent {
        delete: true,
        ..Prevent::default()
    };
    let plan = w.sync(&s);
    insta::assert_snapshot!(render(&plan));
    assert!(
        w.salesforce.get(&sf_of(&w, "o1").as_str().into()).is_some(),
        "o1's copy kept"
    );
    assert!(
        w.outlook.get(&"o3".into()).is_none(),
        "o3 deleted in Outlook"
    );
    // Still held back next time, not forgotten.
    let again = w.plan(&s);
    assert_eq!(again.skipped.len(), 1);
    assert_eq!(again.skipped[0].reason, SkipReason::Prevented);
}

#[test]
fn preserve_formatting_keeps_a_rich_outlook_body() {
    let mut w = World::default();
    let mut rich = event("o1", "Kick-off", timed(1, 10, 1));
    rich.body = rich_body();
    w.outlook.add(rich);
    let s = SyncSettings {
        preserve_formatting: true,
        ..settings()
    };
    w.sync(&s);
    let s1 = sf_of(&w, "o1");
    w.salesforce.edit(&s1, |e| {
        e.body = Body::text("Agenda (edited in Salesforce)");
        e.time = timed(1, 11, 1);
    });
    let plan = w.sync(&s);
    insta::assert_snapshot!(render(&plan));
    let o1 = w.outlook.get(&"o1".into()).unwrap();
    assert!(o1.body.is_rich(), "rich body kept");
    assert_eq!(o1.time, timed(1, 11, 1), "time still updated");
}

#[test]
fn event_moved_out_of_the_window_is_neither_updated_nor_deleted() {
    let mut w = synced_world();
    w.outlook.edit("o1", |e| e.time = timed(-45, 10, 1));
    let plan = w.sync(&settings());
    insta::assert_snapshot!(render(&plan));
    assert!(plan.operations.is_empty());
    let s1 = sf_of(&w, "o1");
    assert_eq!(
        w.salesforce.get(&s1.as_str().into()).unwrap().time,
        timed(1, 10, 1)
    );
}

#[test]
fn deleted_on_one_side_while_edited_on_the_other() {
    let mut w = synced_world();
    let s2 = sf_of(&w, "o2");
    w.outlook.remove("o2");
    w.salesforce
        .edit(&s2, |e| e.subject = "Pipeline review — keep!".into());
    let plan = w.sync(&settings());
    insta::assert_snapshot!(render(&plan));
    assert!(matches!(plan.operations[0].action, Action::Create { .. }));
    assert!(
        w.outlook
            .events
            .values()
            .any(|e| e.subject == "Pipeline review — keep!")
    );
    assert!(w.plan(&settings()).operations.is_empty());
}

#[test]
fn all_day_events_created_on_each_side() {
    let mut w = World::default();
    w.outlook.add(event("o1", "Conference", all_day(7, 3)));
    w.salesforce.add(event("s1", "Offsite", all_day(10, 1)));
    let plan = w.sync(&settings());
    insta::assert_snapshot!(render(&plan));
    assert!(
        w.salesforce
            .events
            .values()
            .any(|e| e.time == all_day(7, 3))
    );
    assert!(w.outlook.events.values().any(|e| e.time == all_day(10, 1)));
}

#[test]
fn timed_event_across_a_dst_change_keeps_its_instants() {
    let ny = chrono_tz::America::New_York;
    // 1 November 2026: 00:30 EDT to 02:30 EST spans the fall-back hour (3 real hours).
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 4, 30, 0).unwrap();
    let end = Utc.with_ymd_and_hms(2026, 11, 1, 7, 30, 0).unwrap();
    let mut w = World::default();
    w.outlook.add(event(
        "o1",
        "Night deploy",
        EventTime::Timed {
            start,
            end,
            zone: Some(ny),
        },
    ));
    let s = SyncSettings {
        time_zone: Some(ny),
        ..settings()
    };
    let plan = w.sync(&s);
    insta::assert_snapshot!(render(&plan));
    let copy = w.salesforce.events.values().next().unwrap();
    assert_eq!(copy.time.instant_range(ny), (start, end));
}

fn same_field_both_sides(policy: ConflictPolicy) -> (String, World) {
    let mut w = synced_world();
    let s1 = sf_of(&w, "o1");
    w.outlook
        .edit("o1", |e| e.subject = "Pricing call (Outlook)".into());
    w.salesforce
        .edit(&s1, |e| e.subject = "Pricing call (Salesforce)".into());
    let s = SyncSettings {
        conflict_policy: policy,
        ..settings()
    };
    let plan = w.sync(&s);
    assert_eq!(plan.conflicts.len(), 1);
    (render(&plan), w)
}

#[test]
fn same_field_changed_on_both_sides_newest_wins() {
    let (plan, w) = same_field_both_sides(ConflictPolicy::Newest);
    insta::assert_snapshot!(plan);
    // Salesforce's edit came last in this world.
    assert_eq!(
        w.outlook.get(&"o1".into()).unwrap().subject,
        "Pricing call (Salesforce)"
    );
}

#[test]
fn same_field_changed_on_both_sides_outlook_wins() {
    let (plan, w) = same_field_both_sides(ConflictPolicy::Outlook);
    insta::assert_snapshot!(plan);
    let s1 = sf_of(&w, "o1");
    assert_eq!(
        w.salesforce.get(&s1.as_str().into()).unwrap().subject,
        "Pricing call (Outlook)"
    );
}

#[test]
fn same_field_changed_on_both_sides_salesforce_wins() {
    let (plan, w) = same_field_both_sides(ConflictPolicy::Salesforce);
    insta::assert_snapshot!(plan);
    assert_eq!(
        w.outlook.get(&"o1".into()).unwrap().subject,
        "Pricing call (Salesforce)"
    );
}

#[test]
fn different_fields_changed_on_both_sides_are_merged() {
    let mut w = synced_world();
    let s2 = sf_of(&w, "o2");
    w.outlook
        .edit("o2", |e| e.subject = "Pipeline review (Q4)".into());
    w.salesforce.edit(&s2, |e| e.location = "Board room".into());
    let plan = w.sync(&settings());
    insta::assert_snapshot!(render(&plan));
    assert!(plan.conflicts.is_empty());
    let (o, s) = (
        w.outlook.get(&"o2".into()).unwrap().clone(),
        w.salesforce.get(&s2.as_str().into()).unwrap().clone(),
    );
    assert_eq!(
        (o.subject.as_str(), o.location.as_str()),
        ("Pipeline review (Q4)", "Board room")
    );
    assert_eq!(
        (s.subject.as_str(), s.location.as_str()),
        ("Pipeline review (Q4)", "Board room")
    );
    assert!(w.plan(&settings()).operations.is_empty());
}

#[test]
fn related_only_syncs_related_events() {
    let mut w = World::default();
    let mut related = event("o1", "Acme renewal", timed(1, 10, 1));
    related.link.what = Some("006A0000006Vm9r".parse().unwrap());
    w.outlook.add(related);
    w.outlook.add(event("o2", "Lunch", timed(1, 12, 1)));
    let s = SyncSettings {
        related_only: true,
        ..settings()
    };
    let plan = w.sync(&s);
    insta::assert_snapshot!(render(&plan));
    assert_eq!(w.salesforce.events.len(), 1);
    assert!(w.salesforce.events.values().all(|e| e.link.is_related()));
}

#[test]
fn delete_guard_holds_a_mass_delete_until_confirmed() {
    let mut w = World::default();
    for i in 0..15 {
        w.outlook.add(event(
            &format!("o{i:02}"),
            &format!("Meeting {i}"),
            timed(1 + i, 10, 1),
        ));
    }
    w.sync(&settings());
    for i in 0..12 {
        w.outlook.remove(&format!("o{i:02}"));
    }
    let plan = w.plan(&settings());
    insta::assert_snapshot!(render(&plan));
    assert!(plan.is_held());
    assert!(
        plan.operations
            .iter()
            .all(|op| !matches!(op.action, Action::Delete { .. }))
    );
    let confirmed = w.plan_with(Planner::new(&settings()).confirm_deletes(true));
    assert!(!confirmed.is_held());
    w.apply(&confirmed, None);
    assert_eq!(w.salesforce.events.len(), 3);
}

#[test]
fn snap_record_pushes_only_recorded_events() {
    let mut w = World::default();
    w.outlook.add(event("o1", "Recorded call", timed(1, 10, 1)));
    w.outlook.add(event("o2", "Not recorded", timed(1, 12, 1)));
    w.salesforce.add(event("s1", "SF meeting", timed(2, 12, 1)));
    w.state.snapped.insert(ItemId::new("o1"));
    let s = SyncSettings {
        mode: SyncMode::SnapRecord,
        ..settings()
    };
    let plan = w.sync(&s);
    insta::assert_snapshot!(render(&plan));
    assert_eq!(w.salesforce.events.len(), 2);
    assert_eq!(w.outlook.events.len(), 2);
    // Later Outlook edits follow; Salesforce edits never flow back.
    let s1 = sf_of(&w, "o1");
    w.outlook.edit("o1", |e| e.location = "Zoom".into());
    w.salesforce
        .edit(&s1, |e| e.subject = "Renamed in SF".into());
    let plan = w.sync(&s);
    assert!(
        plan.operations
            .iter()
            .all(|op| op.target == Side::Salesforce)
    );
    assert_eq!(
        w.outlook.get(&"o1".into()).unwrap().subject,
        "Recorded call"
    );
}

#[test]
fn bad_input_is_an_error_for_that_event_and_the_rest_still_plans() {
    let mut w = World::default();
    w.outlook.add(event("o1", "Fine", timed(1, 10, 1)));
    let mut reversed = event("o2", "Ends before it starts", timed(1, 10, 1));
    reversed.time = EventTime::timed(at(1, 11), at(1, 10));
    w.outlook.add(reversed);
    let mut long = event("o3", &"x".repeat(300), timed(1, 10, 1));
    long.subject.truncate(254);
    long.subject.push_str("yy");
    w.outlook.add(long);
    let plan = w.plan(&settings());
    insta::assert_snapshot!(render(&plan));
    assert_eq!(plan.operations.len(), 1);
    assert_eq!(plan.errors.len(), 2);
    assert_eq!(plan.errors[0].error.field(), "time");
    assert_eq!(plan.errors[1].error.field(), "subject");
}

#[test]
fn linked_item_missing_from_a_listing_is_not_deleted_without_confirmation() {
    let w = synced_world();
    let mut outlook = w.outlook.snapshot(&w.state);
    outlook.events.retain(|e| e.id.as_str() != "o1");
    outlook.gone.clear();
    let salesforce = w.salesforce.snapshot(&w.state);
    let defaults = SyncSettings::default();
    let planner = Planner::new(&defaults);
    assert_eq!(
        planner.ids_to_confirm(&outlook, &salesforce, &w.state),
        vec![(Side::Outlook, ItemId::new("o1"))]
    );
    let plan = planner.plan(now(), &outlook, &salesforce, &w.state);
    insta::assert_snapshot!(render(&plan));
    assert!(plan.operations.is_empty());
}

#[test]
fn incremental_snapshots_touch_only_what_changed() {
    let mut w = synced_world();
    w.outlook.edit("o2", |e| e.location = "Room 5".into());
    let s2 = sf_of(&w, "o2");
    let changed = w.outlook.get(&"o2".into()).unwrap().clone();
    let counterpart = w.salesforce.get(&s2.as_str().into()).unwrap().clone();
    let outlook = Snapshot::changes(vec![changed], vec![]);
    let defaults = SyncSettings::default();
    let planner = Planner::new(&defaults);
    // Without the counterpart read, nothing is written; with it, one update.
    let without = planner.plan(
        now(),
        &outlook,
        &Snapshot::changes(vec![], vec![]),
        &w.state,
    );
    assert!(without.operations.is_empty());
    assert_eq!(
        planner.ids_to_confirm(&outlook, &Snapshot::changes(vec![], vec![]), &w.state),
        vec![(Side::Salesforce, ItemId::new(s2.as_str()))]
    );
    let plan = planner.plan(
        now(),
        &outlook,
        &Snapshot::changes(vec![counterpart], vec![]),
        &w.state,
    );
    insta::assert_snapshot!(render(&plan));
    assert_eq!(plan.unchanged, 2);
    assert_eq!(plan.operations[0].fields(), vec![Field::Location]);
}

#[test]
fn interrupted_run_creates_no_duplicate_on_rerun() {
    let mut w = World::default();
    for i in 0..5 {
        w.outlook.add(event(
            &format!("o{i}"),
            &format!("M{i}"),
            timed(1, 8 + i as u32, 1),
        ));
    }
    let plan = w.plan(&settings());
    w.apply(&plan, Some(3)); // third create written, never recorded
    let rerun = w.sync(&settings());
    // The unrecorded copy is found again by pairing (same subject and time), so only the two
    // creates never attempted remain; a repeated create would also be deduplicated by its key.
    assert_eq!(rerun.operations.len(), 2);
    assert_eq!(w.salesforce.events.len(), 5, "no duplicate");
    assert!(w.plan(&settings()).operations.is_empty());
}

#[test]
fn a_stamped_counterpart_survives_lost_state_but_a_pasted_copy_does_not_steal_it() {
    let mut w = synced_world();
    let s1 = sf_of(&w, "o1");
    // State lost; Outlook keeps the stamp; a copy-paste cloned the stamp onto o1-copy.
    w.state = Default::default();
    w.outlook
        .edit("o1", |e| e.counterpart = Some(s1.as_str().into()));
    let mut pasted = w.outlook.get(&"o1".into()).unwrap().clone();
    pasted.id = "o1-copy".into();
    pasted.time = timed(6, 10, 1);
    w.outlook.add(pasted);
    w.salesforce
        .edit(&s1, |e| e.counterpart = Some("o1".into()));
    let plan = w.sync(&settings());
    assert!(
        plan.operations
            .iter()
            .all(|op| !matches!(op.action, Action::Delete { .. }))
    );
    let key_pair = w
        .state
        .pairs
        .iter()
        .find(|p| p.salesforce.id.as_str() == s1)
        .unwrap();
    assert_eq!(key_pair.outlook.id.as_str(), "o1");
    assert_eq!(
        w.salesforce.events.len(),
        4,
        "the pasted copy was created, nothing duplicated"
    );
    let _ = Event::new("x", "y", timed(0, 0, 0));
    let _ = Duration::zero();
}

#[test]
fn an_echo_of_our_own_write_needs_no_counterpart_read() {
    let w = synced_world();
    // An incremental read returns o1 at the version recorded for it (our own write's echo).
    let echo = w.outlook.get(&"o1".into()).unwrap().clone();
    let defaults = SyncSettings::default();
    let planner = Planner::new(&defaults);
    let outlook = Snapshot::changes(vec![echo], vec![]);
    let salesforce = Snapshot::changes(vec![], vec![]);
    assert!(
        planner
            .ids_to_confirm(&outlook, &salesforce, &w.state)
            .is_empty()
    );
    let plan = planner.plan(now(), &outlook, &salesforce, &w.state);
    assert!(plan.is_empty());
    assert_eq!(plan.unchanged, 3);
}

#[test]
fn the_same_meeting_private_on_one_side_is_not_copied_next_to_itself() {
    let mut w = World::default();
    w.outlook.add(event("o1", "Board meeting", timed(1, 10, 1)));
    let mut private_copy = event("s1", "Board meeting", timed(1, 10, 1));
    private_copy.sensitivity = Sensitivity::Private;
    w.salesforce.add(private_copy);
    let plan = w.sync(&settings());
    insta::assert_snapshot!(render(&plan));
    assert!(
        plan.operations.is_empty(),
        "no copy next to the private twin"
    );
    assert_eq!(w.salesforce.events.len(), 1);
}

#[test]
fn an_outcome_of_the_wrong_kind_is_refused_not_recorded() {
    let mut w = World::default();
    w.outlook.add(event("o1", "Pricing call", timed(1, 10, 1)));
    let plan = w.plan(&settings());
    let create = &plan.operations[0];
    let err = create
        .confirm(calbridge_core::WriteOutcome::Deleted)
        .unwrap_err();
    assert_eq!((err.action, err.outcome), ("create", "deleted"));
    let err = create
        .confirm(calbridge_core::WriteOutcome::Updated {
            version: None,
            stored: None,
        })
        .unwrap_err();
    assert_eq!(err.outcome, "updated");
    // The right kind confirms into a stored pair with the new id.
    let changes = create
        .confirm(calbridge_core::WriteOutcome::Created {
            id: "S-9".into(),
            version: None,
            stored: None,
        })
        .unwrap();
    assert!(
        matches!(&changes[..], [calbridge_core::StateChange::Put { pair, .. }] if pair.salesforce.id.as_str() == "S-9")
    );
}
