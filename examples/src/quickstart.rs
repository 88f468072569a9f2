//! Quickstart: a sales rep's week in Outlook and their Salesforce calendar, kept in step by
//! calbridge through the real Microsoft Graph and Salesforce connectors, talking over HTTP to
//! the built-in emulators (no credentials, no network), with durable SQLite state.
//!
//! It previews the first sync as a table, applies it with progress, prints the report, then
//! edits both sides — the same field on both — and syncs again incrementally to show the
//! conflict resolution.

use std::io::Write as _;

use calbridge::core::{Action, Plan};
use calbridge::model::{ItemId, RecordLink};
use calbridge::store::SqliteStore;
use calbridge::{SyncEngine, SyncObserver, SyncSettings};
use calbridge_examples::emulated::{Emulated, OUTCOME_FIELD, OUTLOOK_USER, SetupError};
use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};

/// Prints progress on one line.
struct Progress;

impl SyncObserver for Progress {
    fn progress(&self, done: usize, total: usize) {
        let width = 30;
        let filled = (done * width).checked_div(total).unwrap_or(width);
        print!(
            "\r  applying [{}{}] {done}/{total}",
            "#".repeat(filled),
            ".".repeat(width - filled)
        );
        let _ = std::io::stdout().flush();
        if done == total {
            println!();
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), SetupError> {
    let world = Emulated::start().await?;
    let today = Utc::now().date_naive();
    seed_the_week(&world, today);

    let dir = tempfile::tempdir()?;
    let state = dir.path().join("calbridge-state.sqlite");
    let settings = SyncSettings {
        time_zone: Some(chrono_tz::America::New_York),
        ..SyncSettings::default()
    };
    let engine = SyncEngine::builder(
        world.outlook().await?,
        world.salesforce().await?,
        SqliteStore::open(&state)?,
    )
    .settings(settings)
    .observer(Progress)
    .build()?;

    println!(
        "calbridge quickstart — Outlook (Graph emulator) ⇄ Salesforce (emulator), America/New_York"
    );
    println!("state: {}\n", state.display());
    let preview = engine.preview().await?;
    print_plan(
        "Preview of the first sync (nothing written yet)",
        &preview.plan,
    );

    let report = engine.sync().await?;
    println!("{report}");

    // Relate the kick-off to an opportunity and record its outcome: the next sync carries
    // both to Salesforce.
    let opportunity = world.record("006");
    let kickoff = outlook_id(&world, "Acme kick-off");
    let mut snap = calbridge::model::SnapFields::new();
    snap.insert(OUTCOME_FIELD.into(), json!("Scope agreed"));
    let link = RecordLink {
        what: opportunity.parse().ok(),
        who: None,
    };
    engine.relate(&kickoff, link, snap).await?;

    // Both sides edit the pricing call: Outlook its subject and location, Salesforce its
    // subject a moment later — under the default "newest" policy Salesforce's subject wins and
    // Outlook's location still travels.
    let pricing = outlook_id(&world, "Pricing call");
    world.graph.user_edit(
        OUTLOOK_USER,
        pricing.as_str(),
        json!({"subject": "Pricing call — final numbers", "location": {"displayName": "Zoom"}}),
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    if let Some(copy) = salesforce_id(&world, "Pricing call") {
        world.salesforce.user_edit(
            &copy,
            json!({"Subject": "Pricing call (moved to Thursday)"}),
        );
    }

    let preview = engine.preview().await?;
    print_plan("Preview after edits on both sides", &preview.plan);
    let report = engine.sync().await?;
    println!("{report}");

    let third = engine.sync().await?;
    println!(
        "Third sync: {} writes, {} pairs in step.",
        third.writes(),
        third.unchanged
    );
    Ok(())
}

fn at(day: NaiveDate, days: i64, hour: u32, minute: u32) -> String {
    let d = day + Duration::days(days);
    format!("{}T{hour:02}:{minute:02}:00", d.format("%Y-%m-%d"))
}

fn sf_time(day: NaiveDate, days: i64, hour: u32) -> String {
    let d = day + Duration::days(days);
    format!("{}T{hour:02}:00:00.000+0000", d.format("%Y-%m-%d"))
}

fn graph_event(subject: &str, start: String, end: String, zone: &str) -> Value {
    json!({
        "subject": subject,
        "start": {"dateTime": start, "timeZone": zone},
        "end": {"dateTime": end, "timeZone": zone},
    })
}

/// A realistic week: meetings, a private appointment, an all-day conference, a weekly
/// pipeline review, a meeting only in Salesforce, one already on both sides, one far in the
/// past, and a richly formatted invitation.
fn seed_the_week(world: &Emulated, today: NaiveDate) {
    let zone = "Eastern Standard Time";
    let g = &world.graph;
    let mut pricing = graph_event(
        "Pricing call",
        at(today, 1, 10, 0),
        at(today, 1, 10, 30),
        zone,
    );
    pricing["location"] = json!({"displayName": "Room 4"});
    g.seed_event(OUTLOOK_USER, None, pricing);
    let mut kickoff = graph_event(
        "Acme kick-off",
        at(today, 2, 14, 0),
        at(today, 2, 15, 0),
        zone,
    );
    kickoff["body"] = json!({"contentType": "html", "content": "<html><body><p><b>Agenda</b></p><ul><li>Scope</li><li>Team</li></ul><img src=\"cid:logo\"></body></html>"});
    kickoff["hasAttachments"] = json!(true);
    g.seed_event(OUTLOOK_USER, None, kickoff);
    let mut dentist = graph_event("Dentist", at(today, 2, 8, 0), at(today, 2, 9, 0), zone);
    dentist["sensitivity"] = json!("private");
    g.seed_event(OUTLOOK_USER, None, dentist);
    let start = (today + Duration::days(3)).format("%Y-%m-%d").to_string();
    let end = (today + Duration::days(5)).format("%Y-%m-%d").to_string();
    let mut summit = graph_event(
        "Sales summit",
        format!("{start}T00:00:00"),
        format!("{end}T00:00:00"),
        zone,
    );
    summit["isAllDay"] = json!(true);
    g.seed_event(OUTLOOK_USER, None, summit);
    let mut review = graph_event(
        "Weekly pipeline review",
        at(today, 1, 9, 0),
        at(today, 1, 9, 30),
        zone,
    );
    let first = (today + Duration::days(1)).format("%Y-%m-%d").to_string();
    let last = (today + Duration::days(22)).format("%Y-%m-%d").to_string();
    let weekday = (today + Duration::days(1))
        .format("%A")
        .to_string()
        .to_lowercase();
    review["recurrence"] = json!({
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [weekday]},
        "range": {"type": "endDate", "startDate": first, "endDate": last}
    });
    g.seed_event(OUTLOOK_USER, None, review);
    g.seed_event(
        OUTLOOK_USER,
        None,
        graph_event(
            "Quarterly business review",
            at(today, 4, 16, 0),
            at(today, 4, 17, 30),
            "UTC",
        ),
    );
    g.seed_event(
        OUTLOOK_USER,
        None,
        graph_event(
            "Last year's kick-off",
            at(today, -400, 9, 0),
            at(today, -400, 10, 0),
            zone,
        ),
    );

    let account = world.record("001");
    let contact = world.record("003");
    world.salesforce.seed_event(json!({
        "Subject": "Call with Globex CFO", "StartDateTime": sf_time(today, 1, 18), "EndDateTime": sf_time(today, 1, 19),
        "DurationInMinutes": 60, "WhatId": account, "WhoId": contact, "Location": "Phone"
    }));
    world.salesforce.seed_event(json!({
        "Subject": "Quarterly Business Review", "StartDateTime": sf_time(today, 4, 16), "EndDateTime": format!("{}T17:30:00.000+0000", (today + Duration::days(4)).format("%Y-%m-%d")),
        "DurationInMinutes": 90, "WhatId": account
    }));
}

fn outlook_id(world: &Emulated, subject: &str) -> ItemId {
    world
        .graph
        .events(OUTLOOK_USER, None)
        .into_iter()
        .find(|e| e["subject"] == subject)
        .and_then(|e| e["id"].as_str().map(ItemId::new))
        .unwrap_or_else(|| ItemId::new(""))
}

fn salesforce_id(world: &Emulated, subject: &str) -> Option<String> {
    world
        .salesforce
        .events()
        .into_iter()
        .find(|e| e["Subject"] == subject)
        .and_then(|e| e["Id"].as_str().map(str::to_owned))
}

fn short(id: &str) -> String {
    if id.chars().count() > 14 {
        format!("…{}", &id[id.len().saturating_sub(12)..])
    } else {
        id.to_owned()
    }
}

fn print_plan(title: &str, plan: &Plan) {
    println!("== {title}");
    println!("{:<10} {:<7} {:<14} what", "target", "action", "item");
    for op in &plan.operations {
        let (item, what) = match &op.action {
            Action::Create { event, .. } => (
                short(op.source_id.as_str()),
                format!("copy of {:?}", event.subject),
            ),
            Action::Update {
                target_id, changes, ..
            } => (
                short(target_id.as_str()),
                changes
                    .iter()
                    .map(|c| c.field().as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            Action::Delete { target_id, .. } => (
                short(target_id.as_str()),
                "deleted on the other side".into(),
            ),
        };
        println!(
            "{:<10} {:<7} {:<14} {}",
            op.target.as_str(),
            op.action.name(),
            item,
            what
        );
    }
    for skip in &plan.skipped {
        let field = skip.field.map(|f| format!(" ({f})")).unwrap_or_default();
        println!(
            "{:<10} {:<7} {:<14} {}{}",
            skip.side.as_str(),
            "skip",
            short(skip.id.as_str()),
            skip.reason,
            field
        );
    }
    for c in &plan.conflicts {
        println!(
            "conflict on {}: {} kept ({:?} policy)",
            c.field, c.winner, c.policy
        );
    }
    println!("{} pairs already in step.\n", plan.unchanged);
}
