//! Quickstart: plans a sync between a sales rep's Outlook week and their Salesforce calendar,
//! prints the preview, records it as if every write succeeded, then plans again after edits
//! on both sides.
//!
//! This version exercises the reconcile core only (no network); the engine and the
//! emulator-backed connectors build on the same plans.

use calbridge_core::{
    Action, Plan, Planner, Snapshot, StateChange, SyncSettings, SyncState, WriteOutcome,
};
use calbridge_model::{Body, Event, EventTime, FieldHashes, ItemId, Sensitivity, Side, VersionTag};
use chrono::{DateTime, Duration, TimeZone, Utc};

fn main() {
    let now = Utc
        .with_ymd_and_hms(2026, 11, 23, 8, 0, 0)
        .single()
        .unwrap_or_default();
    let zone = chrono_tz::America::New_York;
    let settings = SyncSettings {
        time_zone: Some(zone),
        ..SyncSettings::default()
    };
    let planner = Planner::new(&settings);

    let mut outlook = week_in_outlook(now);
    let mut salesforce = week_in_salesforce(now);
    let mut state = SyncState::default();

    println!(
        "calbridge quickstart — Outlook ⇄ Salesforce, {} (window {} .. {})\n",
        zone,
        planner.window(now).first_day,
        planner.window(now).end_day
    );
    let plan = planner.plan(
        now,
        &Snapshot::complete(outlook.clone()),
        &Snapshot::complete(salesforce.clone()),
        &state,
    );
    print_plan("First sync (preview)", &plan);
    record(&plan, &mut outlook, &mut salesforce, &mut state);

    // Edits on both sides, including the same field.
    edit(&mut outlook, "AAMk-pricing", now, |e| {
        e.subject = "Pricing call — final numbers".into()
    });
    let copy = copy_of(&state, "AAMk-pricing");
    edit(&mut salesforce, &copy, now + Duration::minutes(5), |e| {
        e.subject = "Pricing call (moved to Thursday)".into();
        e.location = "Zoom".into();
    });
    let plan = planner.plan(
        now,
        &Snapshot::complete(outlook.clone()),
        &Snapshot::complete(salesforce.clone()),
        &state,
    );
    print_plan("Second sync after edits on both sides", &plan);
    record(&plan, &mut outlook, &mut salesforce, &mut state);

    let plan = planner.plan(
        now,
        &Snapshot::complete(outlook),
        &Snapshot::complete(salesforce),
        &state,
    );
    println!(
        "Third sync: {} writes, {} pairs in step.",
        plan.operations.len(),
        plan.unchanged
    );
}

/// The Salesforce id linked to an Outlook id.
fn copy_of(state: &SyncState, outlook_id: &str) -> String {
    state
        .pairs
        .iter()
        .find(|p| p.outlook.id.as_str() == outlook_id)
        .map(|p| p.salesforce.id.to_string())
        .unwrap_or_default()
}

fn day(now: DateTime<Utc>, days: i64, hour: u32) -> DateTime<Utc> {
    let d = now.date_naive() + Duration::days(days);
    Utc.from_utc_datetime(&d.and_hms_opt(hour, 0, 0).unwrap_or_default())
}

fn meeting(id: &str, subject: &str, start: DateTime<Utc>, minutes: i64) -> Event {
    let mut e = Event::new(
        id,
        subject,
        EventTime::timed(start, start + Duration::minutes(minutes)),
    );
    e.version = Some(VersionTag::new("1"));
    e.last_modified = Some(start - Duration::days(3));
    e
}

fn week_in_outlook(now: DateTime<Utc>) -> Vec<Event> {
    let mut pricing = meeting("AAMk-pricing", "Pricing call", day(now, 1, 15), 30);
    pricing.link.what = "006A0000006Vm9r".parse().ok();
    let mut kickoff = meeting("AAMk-kickoff", "Acme kick-off", day(now, 2, 14), 60);
    kickoff.body = Body::html(
        "<html><body><p><b>Agenda</b></p><ul><li>Scope</li><li>Team</li></ul></body></html>",
        true,
    );
    let mut dentist = meeting("AAMk-dentist", "Dentist", day(now, 2, 8), 60);
    dentist.sensitivity = Sensitivity::Private;
    let start = (now + Duration::days(3)).date_naive();
    let conference = Event::new(
        "AAMk-summit",
        "Sales summit",
        EventTime::all_day(start, start + Duration::days(2)),
    );
    let shared = meeting("AAMk-qbr", "Quarterly business review", day(now, 4, 16), 90);
    let old = meeting("AAMk-old", "Last year's review", day(now, -400, 16), 60);
    vec![pricing, kickoff, dentist, conference, shared, old]
}

fn week_in_salesforce(now: DateTime<Utc>) -> Vec<Event> {
    let shared = meeting(
        "00U0000000000QB",
        "Quarterly Business Review",
        day(now, 4, 16),
        90,
    );
    let mut only_sf = meeting(
        "00U0000000000SF",
        "Call with Globex CFO",
        day(now, 1, 18),
        30,
    );
    only_sf.link.who = "003A0000006Vm9r".parse().ok();
    vec![shared, only_sf]
}

fn edit(events: &mut [Event], id: &str, at: DateTime<Utc>, f: impl FnOnce(&mut Event)) {
    if let Some(e) = events.iter_mut().find(|e| e.id.as_str() == id) {
        f(e);
        e.version = Some(VersionTag::new(format!("edited-{}", at.timestamp())));
        e.last_modified = Some(at);
    }
}

fn print_plan(title: &str, plan: &Plan) {
    println!("== {title}");
    println!("{:<10} {:<7} {:<18} what", "target", "action", "item");
    for op in &plan.operations {
        let (item, what) = match &op.action {
            Action::Create { event, .. } => (op.source_id.to_string(), event.subject.clone()),
            Action::Update {
                target_id, changes, ..
            } => (
                target_id.to_string(),
                changes
                    .iter()
                    .map(|c| c.field().as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            Action::Delete { target_id, .. } => {
                (target_id.to_string(), "deleted on the other side".into())
            }
        };
        println!(
            "{:<10} {:<7} {:<18} {}",
            op.target.as_str(),
            op.action.name(),
            item,
            what
        );
    }
    for skip in &plan.skipped {
        let field = skip.field.map(|f| format!(" ({f})")).unwrap_or_default();
        println!(
            "{:<10} {:<7} {:<18} {}{}",
            skip.side.as_str(),
            "skip",
            skip.id.as_str(),
            skip.reason,
            field
        );
    }
    for c in &plan.conflicts {
        println!(
            "conflict on {} of {}/{}: {} kept ({:?} policy)",
            c.field, c.outlook_id, c.salesforce_id, c.winner, c.policy
        );
    }
    println!("{} pairs already in step.\n", plan.unchanged);
}

/// Applies the plan to the in-memory calendars as a provider would, and records the state.
fn record(
    plan: &Plan,
    outlook: &mut Vec<Event>,
    salesforce: &mut Vec<Event>,
    state: &mut SyncState,
) {
    state.apply(plan.state_changes.iter().cloned());
    for (n, op) in plan.operations.iter().enumerate() {
        let side = if op.target == Side::Outlook {
            &mut *outlook
        } else {
            &mut *salesforce
        };
        let version = Some(VersionTag::new(format!("w{n}")));
        let outcome = match &op.action {
            Action::Create { event, .. } => {
                let mut copy = (**event).clone();
                copy.id = ItemId::new(format!(
                    "{}-{n}",
                    if op.target == Side::Outlook {
                        "AAMk-new"
                    } else {
                        "00U-new"
                    }
                ));
                copy.version.clone_from(&version);
                let stored = Some(FieldHashes::of(&copy));
                let id = copy.id.clone();
                side.push(copy);
                WriteOutcome::Created {
                    id,
                    version,
                    stored,
                }
            }
            Action::Update {
                target_id, changes, ..
            } => {
                let Some(e) = side.iter_mut().find(|e| &e.id == target_id) else {
                    continue;
                };
                for change in changes {
                    e.set(change.clone());
                }
                e.version.clone_from(&version);
                WriteOutcome::Updated {
                    version,
                    stored: Some(FieldHashes::of(e)),
                }
            }
            Action::Delete { target_id, .. } => {
                side.retain(|e| &e.id != target_id);
                WriteOutcome::Deleted
            }
        };
        if let Ok(changes) = op.confirm(outcome) {
            state.apply(changes.into_iter().collect::<Vec<StateChange>>());
        }
    }
}
