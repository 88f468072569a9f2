//! The commands that run the engine: `preview`, `sync`, `status`, `relate`, `snap`, `auto`.

use std::io::{BufRead, Write};

use calbridge::core::{OutlookCalendar, Schedule, SyncMode};
use calbridge::model::{ItemId, RecordLink, SalesforceId, SnapFields};
use calbridge::store::{SqliteStore, StateStore};
use calbridge::{Report, SyncOptions};
use chrono::Utc;
use serde_json::Value;

use crate::setup::{self, Session};
use crate::{Cli, CliError, EXIT_FAILED_ITEMS, EXIT_HELD, Outcome, output, world};

/// The arguments of `calbridge relate`.
#[derive(Debug, clap::Args)]
pub(crate) struct RelateArgs {
    /// The Outlook event id (with `--emulate`, its subject works too).
    outlook_event_id: String,
    /// The Salesforce record the event is about (`WhatId`: account, opportunity, …).
    #[arg(long)]
    what: Option<String>,
    /// The person the event is with (`WhoId`: contact or lead).
    #[arg(long)]
    who: Option<String>,
    /// A snap field to set on the Salesforce event, `API_NAME=VALUE` (VALUE is JSON when it
    /// parses as JSON, else text). Repeatable.
    #[arg(long = "field", value_parser = parse_field)]
    fields: Vec<(String, Value)>,
}

fn parse_field(text: &str) -> Result<(String, Value), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not API_NAME=VALUE"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("{text:?} has no field name"));
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((name.to_owned(), value))
}

/// The exit code of a finished run: 1 when items failed, else 0.
fn run_code(report: &Report) -> u8 {
    if report.outlook.failed + report.salesforce.failed > 0 || !report.errors.is_empty() {
        EXIT_FAILED_ITEMS
    } else {
        0
    }
}

/// `calbridge preview`.
pub(crate) async fn preview(cli: &Cli, json: bool) -> Outcome {
    let settings = setup::load_settings(cli)?;
    let session = setup::session(cli, settings).await?;
    let outcome = preview_in(&session, json).await;
    session.finish(outcome)
}

async fn preview_in(session: &Session, json: bool) -> Outcome {
    let preview = session.engine.preview().await?;
    if json {
        let mut value = output::plan_json(&preview.plan, &[]);
        if let Some(map) = value.as_object_mut() {
            map.insert("report".into(), preview.report.to_json());
        }
        let text =
            serde_json::to_string_pretty(&value).map_err(|e| CliError::failed(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", output::plan_table(&preview.plan, &[]));
        println!();
        print!("{}", preview.report);
    }
    Ok(0)
}

/// Asks on stdin whether to carry out a held mass delete.
fn confirm_deletes(report: &Report) -> bool {
    for trip in &report.held {
        eprintln!("The delete guard held this run: {trip}.");
    }
    eprint!("Delete anyway? Type `yes` to confirm: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    match std::io::stdin().lock().read_line(&mut answer) {
        Ok(0) | Err(_) => {
            eprintln!("(no answer: stdin is closed)");
            false
        }
        Ok(_) => {
            answer.trim().eq_ignore_ascii_case("yes") || answer.trim().eq_ignore_ascii_case("y")
        }
    }
}

fn print_report(report: &Report, json: bool) -> Result<(), CliError> {
    if json {
        let text = serde_json::to_string(&report.to_json())
            .map_err(|e| CliError::failed(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{report}");
    }
    Ok(())
}

/// `calbridge sync`: when the delete guard holds a run, asks (unless `--yes`) and writes
/// nothing without a yes (exit 4).
pub(crate) async fn sync(cli: &Cli, yes: bool, json: bool, repeat: u32) -> Outcome {
    let settings = setup::load_settings(cli)?;
    let session = setup::session(cli, settings).await?;
    let outcome = sync_in(&session, yes, json, repeat).await;
    session.finish(outcome)
}

async fn sync_in(session: &Session, yes: bool, json: bool, repeat: u32) -> Outcome {
    let mut code = 0;
    for _ in 0..repeat {
        let options = SyncOptions {
            confirm_deletes: yes,
            ..SyncOptions::default()
        };
        let mut report = session.engine.sync_with(options).await?;
        // A yes confirms the deletes shown, no others: should more appear meanwhile, the
        // next run is held again, shows only the new ones and asks again.
        let mut confirmed_deletes = Vec::new();
        while !report.held.is_empty() {
            if confirm_deletes(&report) {
                for trip in &report.held {
                    confirmed_deletes.extend(trip.ids.iter().cloned());
                }
                report = session
                    .engine
                    .sync_with(SyncOptions {
                        confirm_deletes: false,
                        confirmed_deletes: confirmed_deletes.clone(),
                    })
                    .await?;
            } else {
                print_report(&report, json)?;
                eprintln!(
                    "nothing was written: the delete guard held the run; \
                     run `calbridge sync --yes` to confirm the deletes"
                );
                return Ok(EXIT_HELD);
            }
        }
        print_report(&report, json)?;
        code = code.max(run_code(&report));
    }
    Ok(code)
}

fn mode_text(mode: &SyncMode) -> String {
    match mode {
        SyncMode::Manual => "manual (`calbridge sync`)".to_owned(),
        SyncMode::SnapRecord => "SnapRecord (`calbridge snap <id>`)".to_owned(),
        SyncMode::Auto(s) => {
            let days: Vec<String> = s.weekdays.iter().map(|d| d.to_string()).collect();
            format!(
                "auto, every {} minutes from {} to {} on {}",
                s.every_minutes,
                s.active_from,
                s.active_until,
                days.join(", ")
            )
        }
    }
}

fn run_summary(report: &Value) -> String {
    let side = |name: &str| {
        let n = |k: &str| report[name][k].as_u64().unwrap_or(0);
        format!(
            "{name} +{} ~{} -{} failed {}",
            n("created"),
            n("updated"),
            n("deleted"),
            n("failed")
        )
    };
    format!(
        "{}; {}; conflicts {}",
        side("outlook"),
        side("salesforce"),
        report["conflicts"].as_array().map_or(0, Vec::len)
    )
}

/// `calbridge status`: reads the settings and the stored state, contacts no service.
pub(crate) async fn status(cli: &Cli) -> Outcome {
    let settings = setup::load_settings(cli)?;
    let outlook = match &settings.calendars.outlook {
        OutlookCalendar::Primary => "the primary calendar".to_owned(),
        OutlookCalendar::Id { id } => format!("calendar id {id}"),
        OutlookCalendar::Named { name } => format!("calendar {name:?}"),
        OutlookCalendar::Shared { owner, name } => format!("{owner}'s shared calendar {name:?}"),
    };
    let owner = settings
        .calendars
        .salesforce_owner
        .clone()
        .unwrap_or_else(|| "the signed-in user".to_owned());
    println!("Calendar pair: Outlook {outlook} <-> Salesforce events of {owner}");
    println!("Mode: {}", mode_text(&settings.mode));
    let path = cli.state_path();
    let store = path.exists().then(|| SqliteStore::open(&path));
    match store {
        None => println!("No sync yet (no state at {}).", cli.state_path().display()),
        Some(store) => {
            let store =
                store.map_err(|e| CliError::usage(format!("cannot open the state: {e}")))?;
            let state = store
                .load()
                .await
                .map_err(|e| CliError::usage(format!("cannot read the state: {e}")))?;
            println!("Linked events: {}", state.pairs.len());
            let runs = store
                .recent_runs(5)
                .await
                .map_err(|e| CliError::usage(format!("cannot read the history: {e}")))?;
            if runs.is_empty() {
                println!("Last runs: none");
            } else {
                println!("Last runs:");
            }
            for run in runs {
                println!(
                    "  {} {}: {}",
                    run.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                    if run.completed {
                        "done"
                    } else {
                        "held/stopped"
                    },
                    run_summary(&run.report)
                );
            }
        }
    }
    if let Some(schedule) = settings.mode.schedule() {
        let zone = settings.zone();
        match schedule.next_run(zone, Utc::now()) {
            Some(next) => println!(
                "Next automatic run: {} ({})",
                next.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z"),
                zone
            ),
            None => println!("Next automatic run: none (the schedule has no slot)"),
        }
    }
    Ok(0)
}

fn record_id(
    field: &'static str,
    value: Option<&String>,
) -> Result<Option<SalesforceId>, CliError> {
    value
        .map(|v| SalesforceId::parse_field(field, v).map_err(|e| CliError::usage(e.to_string())))
        .transpose()
}

/// `calbridge relate`.
pub(crate) async fn relate(cli: &Cli, args: &RelateArgs) -> Outcome {
    let link = RecordLink {
        what: record_id("--what", args.what.as_ref())?,
        who: record_id("--who", args.who.as_ref())?,
    };
    let snap: SnapFields = args.fields.iter().cloned().collect();
    let settings = setup::load_settings(cli)?;
    let session = setup::session(cli, settings).await?;
    let id = ItemId::new(world::resolve_outlook_id(
        session.emulated(),
        &args.outlook_event_id,
    ));
    let outcome = session
        .engine
        .relate(&id, link, snap)
        .await
        .map_err(CliError::from)
        .map(|()| {
            println!(
                "related {}; the next sync carries it to Salesforce",
                id.as_str()
            );
            0
        });
    session.finish(outcome)
}

/// `calbridge snap`.
pub(crate) async fn snap(cli: &Cli, id: &str) -> Outcome {
    let settings = setup::load_settings(cli)?;
    let session = setup::session(cli, settings).await?;
    let id = ItemId::new(world::resolve_outlook_id(session.emulated(), id));
    let outcome = session.engine.snap(&id).await.map_err(CliError::from);
    let outcome = outcome.map(|report| {
        print!("{report}");
        run_code(&report)
    });
    session.finish(outcome)
}

/// `calbridge auto`: runs the schedule until Ctrl-C.
pub(crate) async fn auto(cli: &Cli) -> Outcome {
    let settings = setup::load_settings(cli)?;
    let Some(schedule) = settings.mode.schedule().cloned() else {
        return Err(CliError::usage(
            "auto sync needs `mode = { kind = \"auto\", ... }` in the settings",
        ));
    };
    let session = setup::session(cli, settings).await?;
    let outcome = auto_in(&session, &schedule).await;
    session.finish(outcome)
}

async fn auto_in(session: &Session, schedule: &Schedule) -> Outcome {
    let engine = &session.engine;
    let zone = engine.zone();
    let say_next = |now| {
        if !schedule.is_active(zone, now)
            && let Some(next) = schedule.next_run(zone, now)
        {
            println!(
                "outside active hours; next run at {}",
                next.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z")
            );
        }
    };
    println!(
        "automatic sync: {}; Ctrl-C stops",
        mode_text(&engine.settings().mode)
    );
    say_next(Utc::now());
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let mut auth_failed = false;
    let runs = engine
        .run_auto(schedule, shutdown, |run| {
            let at = run.scheduled_for.with_timezone(&zone).format("%H:%M");
            match &run.outcome {
                Ok(report) => println!(
                    "[{at}] {} writes, {} conflicts, {} errors",
                    report.writes(),
                    report.conflicts.len(),
                    report.errors.len()
                ),
                Err(e) => {
                    auth_failed |= matches!(e, calbridge::EngineError::Auth { .. });
                    eprintln!("[{at}] run failed: {e}");
                }
            }
            // Emulated: save after every run, not only when Ctrl-C ends the loop.
            if let Some((world, file)) = &session.world
                && let Err(e) = world::save(world, file)
            {
                eprintln!("error: {}", e.message);
            }
            say_next(Utc::now());
        })
        .await?;
    println!("stopped after {runs} runs");
    if auth_failed {
        return Err(CliError::auth(
            "signing in is needed again: run `calbridge login outlook` / `login salesforce`",
        ));
    }
    Ok(0)
}
