//! Quickstart: a sales rep's week in Outlook and their Salesforce calendar, kept in step by
//! the calbridge engine with durable SQLite state.
//!
//! It previews the first sync as a table, applies it, prints the run's report, then edits
//! both sides (the same field on both) and syncs again to show an incremental run and its
//! conflict resolution. The calendars are in-memory; the Graph and Salesforce connectors
//! plug in the same way.

use calbridge::core::{Action, Plan};
use calbridge::model::{Body, Event, EventTime, Sensitivity, Side};
use calbridge::provider::InMemoryProvider;
use calbridge::store::SqliteStore;
use calbridge::{EngineError, ManualClock, SyncEngine, SyncSettings};
use chrono::{DateTime, Duration, TimeZone, Utc};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), EngineError> {
    // A fixed "now" keeps the output the same on every machine.
    let now = Utc
        .with_ymd_and_hms(2026, 11, 23, 13, 0, 0)
        .single()
        .unwrap_or_default();
    let zone = chrono_tz::America::New_York;
    let outlook = InMemoryProvider::new(Side::Outlook).with_start_time(now - Duration::days(7));
    // Each in-memory calendar keeps its own modification clock; Salesforce's runs a day
    // ahead here, so its edits count as the newer ones.
    let salesforce =
        InMemoryProvider::new(Side::Salesforce).with_start_time(now - Duration::days(6));
    outlook.seed(week_in_outlook(now));
    salesforce.seed(week_in_salesforce(now));

    let dir = tempfile::tempdir().map_err(|source| calbridge::store::StoreError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let state = dir.path().join("calbridge-state.sqlite");
    let engine = SyncEngine::builder(
        outlook.clone(),
        salesforce.clone(),
        SqliteStore::open(&state)?,
    )
    .settings(SyncSettings {
        time_zone: Some(zone),
        ..SyncSettings::default()
    })
    .clock(ManualClock::new(now))
    .build()?;

    println!(
        "calbridge quickstart — Outlook ⇄ Salesforce in {zone}, state in {}\n",
        state.display()
    );
    let preview = engine.preview().await?;
    print_plan(
        "Preview of the first sync (nothing written yet)",
        &preview.plan,
    );

    let report = engine.sync().await?;
    println!("{report}");

    // Both sides edit the pricing call; Salesforce edits last, so under the default
    // "newest" policy its subject wins, while Outlook's location still reaches Salesforce.
    let pricing = find(&outlook, "Pricing call");
    outlook.user_edit(&pricing, |e| {
        e.subject = "Pricing call — final numbers".into();
        e.location = "Zoom".into();
    });
    let copy = find(&salesforce, "Pricing call");
    salesforce.user_edit(&copy, |e| {
        e.subject = "Pricing call (moved to Thursday)".into()
    });

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

fn find(calendar: &InMemoryProvider, subject: &str) -> calbridge::model::ItemId {
    calendar
        .events()
        .into_iter()
        .find(|e| e.subject == subject)
        .map(|e| e.id)
        .unwrap_or_else(|| calbridge::model::ItemId::new(""))
}

fn day(now: DateTime<Utc>, days: i64, hour: u32) -> DateTime<Utc> {
    let d = now.date_naive() + Duration::days(days);
    Utc.from_utc_datetime(&d.and_hms_opt(hour, 0, 0).unwrap_or_default())
}

fn meeting(subject: &str, start: DateTime<Utc>, minutes: i64) -> Event {
    Event::new(
        "",
        subject,
        EventTime::timed(start, start + Duration::minutes(minutes)),
    )
}

fn week_in_outlook(now: DateTime<Utc>) -> Vec<Event> {
    let mut pricing = meeting("Pricing call", day(now, 1, 15), 30);
    pricing.link.what = "006A0000006Vm9r".parse().ok();
    let mut kickoff = meeting("Acme kick-off", day(now, 2, 14), 60);
    kickoff.body = Body::html(
        "<html><body><p><b>Agenda</b></p><ul><li>Scope</li><li>Team</li></ul></body></html>",
        true,
    );
    let mut dentist = meeting("Dentist", day(now, 2, 12), 60);
    dentist.sensitivity = Sensitivity::Private;
    let start = (now + Duration::days(3)).date_naive();
    let conference = Event::new(
        "",
        "Sales summit",
        EventTime::all_day(start, start + Duration::days(2)),
    );
    let review = meeting("Quarterly business review", day(now, 4, 16), 90);
    let old = meeting("Last year's review", day(now, -400, 16), 60);
    vec![pricing, kickoff, dentist, conference, review, old]
}

fn week_in_salesforce(now: DateTime<Utc>) -> Vec<Event> {
    let review = meeting("Quarterly Business Review", day(now, 4, 16), 90);
    let mut globex = meeting("Call with Globex CFO", day(now, 1, 18), 30);
    globex.link.who = "003A0000006Vm9r".parse().ok();
    vec![review, globex]
}

fn print_plan(title: &str, plan: &Plan) {
    println!("== {title}");
    println!("{:<10} {:<7} {:<16} what", "target", "action", "item");
    for op in &plan.operations {
        let (item, what) = match &op.action {
            Action::Create { event, .. } => (
                op.source_id.to_string(),
                format!("copy of {:?}", event.subject),
            ),
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
            "{:<10} {:<7} {:<16} {}",
            op.target.as_str(),
            op.action.name(),
            item,
            what
        );
    }
    for skip in &plan.skipped {
        let field = skip.field.map(|f| format!(" ({f})")).unwrap_or_default();
        println!(
            "{:<10} {:<7} {:<16} {}{}",
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
