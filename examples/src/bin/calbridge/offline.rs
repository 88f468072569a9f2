//! `calbridge plan`: the plan the engine would make, offline, from API exports.

use std::path::{Path, PathBuf};

use calbridge::core::{BrokenItem, Planner, Snapshot, SyncState};
use calbridge::model::{ItemId, ModelError, Side};
use calbridge::store::{SqliteStore, StateStore};
use calbridge_outlook::mapping::{GraphItem, map_item};
use calbridge_salesforce::{Mapping, Row};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use crate::output::{self, ExtraInvalid};
use crate::{Cli, CliError, Outcome, setup};

/// The arguments of `calbridge plan`.
#[derive(Debug, clap::Args)]
pub(crate) struct PlanArgs {
    /// A Graph calendarView/events response body (`{"value": [...]}`).
    #[arg(long)]
    outlook: PathBuf,
    /// A SOQL query response body on Event (`{"totalSize":…,"done":…,"records":[...]}`).
    #[arg(long)]
    salesforce: PathBuf,
    /// The settings to plan with (default: `--config`, or every default).
    #[arg(long)]
    settings: Option<PathBuf>,
    /// The instant to plan at (RFC 3339; default: now).
    #[arg(long, value_parser = parse_now)]
    now: Option<DateTime<Utc>>,
    /// The user's IANA zone for day boundaries (default: the settings', else UTC).
    #[arg(long)]
    tz: Option<Tz>,
    /// Print the plan as one JSON object.
    #[arg(long)]
    json: bool,
}

fn parse_now(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 instant: {e}"))
}

/// One side read from an export: the events, the broken items, and the messages naming
/// the file, item and field of each broken one.
#[derive(Debug, Default)]
struct Export {
    snapshot: Snapshot,
    messages: Vec<String>,
}

impl Export {
    fn broken(&mut self, file: &Path, index: usize, id: &str, error: ModelError) {
        let shown = if id.is_empty() || id == "<no id>" {
            format!("item {index}")
        } else {
            format!("item {index} (id {id})")
        };
        let field = error.field();
        let text = error.to_string();
        let what = text
            .strip_prefix(&format!("`{field}`: "))
            .unwrap_or(&text)
            .to_owned();
        self.messages.push(format!(
            "{}: {shown}: field `{field}`: {what}",
            file.display()
        ));
        let id = if id.is_empty() {
            format!("<item {index}>")
        } else {
            id.to_owned()
        };
        self.snapshot.broken.push(BrokenItem {
            id: ItemId::new(id),
            error: Some(error),
        });
    }
}

/// Reads a file as JSON; exit 2 naming the file when it cannot be read or is not JSON.
fn read_json(path: &Path) -> Result<Value, CliError> {
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| CliError::usage(format!("{} is not JSON: {e}", path.display())))
}

fn items<'a>(path: &Path, body: &'a Value, key: &str, what: &str) -> Result<&'a [Value], CliError> {
    body.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .ok_or_else(|| {
            CliError::usage(format!(
                "{} is not {what}: it has no `{key}` array",
                path.display()
            ))
        })
}

fn read_outlook(path: &Path) -> Result<Export, CliError> {
    let body = read_json(path)?;
    let mut export = Export::default();
    export.snapshot.complete = true;
    for (index, value) in items(path, &body, "value", "a Graph events body")?
        .iter()
        .enumerate()
    {
        match map_item(value) {
            Ok(GraphItem::Event(event)) => export.snapshot.events.push(*event),
            Ok(_) => {}
            Err(broken) => {
                let error = broken
                    .error
                    .unwrap_or(ModelError::Missing { field: "event" });
                export.broken(path, index, broken.id.as_str(), error);
            }
        }
    }
    Ok(export)
}

fn read_salesforce(path: &Path) -> Result<Export, CliError> {
    let body = read_json(path)?;
    let mapping = Mapping::new(Vec::new(), None).map_err(|e| CliError::usage(e.to_string()))?;
    let mut export = Export::default();
    export.snapshot.complete = true;
    for (index, value) in items(path, &body, "records", "a SOQL query body")?
        .iter()
        .enumerate()
    {
        let Some(record) = value.as_object() else {
            let error = ModelError::unparsable("record", &value.to_string(), "a JSON object");
            export.broken(path, index, "", error);
            continue;
        };
        match mapping.read(record) {
            Ok(Row::Event(event)) => export.snapshot.events.push(*event),
            Ok(Row::Deleted(id)) => export.snapshot.gone.push(id),
            Ok(_) => {}
            Err(broken) => {
                let id = broken.id.as_str().to_owned();
                export.broken(path, index, &id, broken.error);
            }
        }
    }
    Ok(export)
}

/// The stored state of `--state`, when given and present; else an empty state.
async fn load_state(cli: &Cli) -> Result<SyncState, CliError> {
    let Some(path) = cli.state.as_ref().filter(|p| p.exists()) else {
        return Ok(SyncState::default());
    };
    let store = SqliteStore::open(path)
        .map_err(|e| CliError::usage(format!("cannot open the state {}: {e}", path.display())))?;
    store
        .load()
        .await
        .map_err(|e| CliError::usage(format!("cannot read the state {}: {e}", path.display())))
}

/// Runs `calbridge plan`.
pub(crate) async fn run(cli: &Cli, args: &PlanArgs) -> Outcome {
    let settings = match &args.settings {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CliError::usage(format!(
                    "cannot read the settings file {}: {e}",
                    path.display()
                ))
            })?;
            setup::parse_settings(path, &text)?
        }
        None => setup::load_settings(cli)?,
    };
    let outlook = read_outlook(&args.outlook)?;
    let salesforce = read_salesforce(&args.salesforce)?;
    let state = load_state(cli).await?;
    let now = args.now.unwrap_or_else(Utc::now);
    let mut planner = Planner::new(&settings);
    if let Some(tz) = args.tz {
        planner = planner.zone(tz);
    }
    let plan = planner.plan(now, &outlook.snapshot, &salesforce.snapshot, &state);
    for message in outlook.messages.iter().chain(&salesforce.messages) {
        eprintln!("invalid item: {message}");
    }
    let mut extra: Vec<ExtraInvalid> = Vec::new();
    for (side, export) in [(Side::Outlook, &outlook), (Side::Salesforce, &salesforce)] {
        for item in &export.snapshot.broken {
            let listed = plan
                .skipped
                .iter()
                .any(|s| s.side == side && s.id == item.id);
            if !listed {
                extra.push((side, item.id.clone()));
            }
        }
    }
    if args.json {
        let text = serde_json::to_string_pretty(&output::plan_json(&plan, &extra))
            .map_err(|e| CliError::failed(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", output::plan_table(&plan, &extra));
    }
    Ok(0)
}
