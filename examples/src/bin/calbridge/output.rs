//! How plans and reports are shown: a plain table for people, one JSON object for programs.

use std::fmt::Write as _;

use calbridge::core::{Action, Plan, StateChange};
use calbridge::model::{ItemId, Side};
use serde_json::{Value, json};

/// An item skipped as invalid that the plan does not list itself (an unpaired item that
/// could not be read), with the side it is on.
pub(crate) type ExtraInvalid = (Side, ItemId);

/// The plan as one JSON object: `operations`, `skipped`, `conflicts` (plus `paired`, the
/// pairs found on both sides, and `errors`, the malformed items with the field at fault).
pub(crate) fn plan_json(plan: &Plan, extra_invalid: &[ExtraInvalid]) -> Value {
    let operations: Vec<Value> = plan
        .operations
        .iter()
        .map(|op| {
            json!({
                "target": op.target.as_str(),
                "action": op.action.name(),
                "source_id": op.source_id.as_str(),
                "target_id": op.target_id().map(ItemId::as_str),
                "fields": op.fields().iter().map(|f| f.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut skipped: Vec<Value> = plan
        .skipped
        .iter()
        .map(|s| {
            let mut v = json!({
                "side": s.side.as_str(),
                "id": s.id.as_str(),
                "reason": s.reason.as_str(),
            });
            if let (Some(field), Some(map)) = (s.field, v.as_object_mut()) {
                map.insert("field".into(), json!(field.as_str()));
            }
            v
        })
        .collect();
    for (side, id) in extra_invalid {
        skipped.push(json!({"side": side.as_str(), "id": id.as_str(), "reason": "invalid"}));
    }
    let conflicts: Vec<Value> = plan
        .conflicts
        .iter()
        .map(|c| {
            json!({
                "outlook_id": c.outlook_id.as_str(),
                "salesforce_id": c.salesforce_id.as_str(),
                "field": c.field.as_str(),
                "winner": c.winner.as_str(),
            })
        })
        .collect();
    let errors: Vec<Value> = plan
        .errors
        .iter()
        .map(|e| {
            json!({
                "side": e.side.as_str(),
                "id": e.id.as_str(),
                "field": e.error.field(),
                "message": e.error.to_string(),
            })
        })
        .collect();
    // Pairs found on both sides (equal unpaired events linked, no write needed).
    let paired: Vec<Value> = plan
        .state_changes
        .iter()
        .filter_map(|change| match change {
            StateChange::Put { pair, .. } => Some(json!({
                "outlook_id": pair.outlook.id.as_str(),
                "salesforce_id": pair.salesforce.id.as_str(),
            })),
            _ => None,
        })
        .collect();
    json!({
        "operations": operations,
        "skipped": skipped,
        "conflicts": conflicts,
        "paired": paired,
        "errors": errors,
    })
}

/// The plan as a table: the writes per side, what is skipped and why, the conflicts.
pub(crate) fn plan_table(plan: &Plan, extra_invalid: &[ExtraInvalid]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Window: {} .. {}",
        plan.window.start.format("%Y-%m-%d %H:%M UTC"),
        plan.window.end.format("%Y-%m-%d %H:%M UTC")
    );
    for side in Side::BOTH {
        let ops: Vec<_> = plan.operations_on(side).collect();
        let _ = writeln!(out, "\nWrites to {} ({}):", side.as_str(), ops.len());
        if ops.is_empty() {
            let _ = writeln!(out, "  (none)");
        }
        for op in ops {
            let what = match &op.action {
                Action::Create { event, .. } => format!("{:?}", event.subject),
                Action::Update { changes, .. } => {
                    let names: Vec<_> = changes.iter().map(|c| c.field().as_str()).collect();
                    names.join(", ")
                }
                Action::Delete { .. } => "(its counterpart was deleted)".to_owned(),
            };
            let _ = writeln!(
                out,
                "  {:<7} {:<28} from {:<28} {what}",
                op.action.name(),
                op.target_id().map_or("(new)", ItemId::as_str),
                op.source_id.as_str(),
            );
        }
    }
    let skipped = plan.skipped.len() + extra_invalid.len();
    let _ = writeln!(out, "\nSkipped ({skipped}):");
    if skipped == 0 {
        let _ = writeln!(out, "  (none)");
    }
    for s in &plan.skipped {
        let field = s.field.map(|f| format!(" ({})", f.as_str()));
        let _ = writeln!(
            out,
            "  {:<10} {:<28} {}{}",
            s.side.as_str(),
            s.id.as_str(),
            s.reason.as_str(),
            field.unwrap_or_default()
        );
    }
    for (side, id) in extra_invalid {
        let _ = writeln!(out, "  {:<10} {:<28} invalid", side.as_str(), id.as_str());
    }
    if !plan.conflicts.is_empty() {
        let _ = writeln!(out, "\nConflicts ({}):", plan.conflicts.len());
        for c in &plan.conflicts {
            let _ = writeln!(
                out,
                "  {} of {} / {}: {} wins",
                c.field.as_str(),
                c.outlook_id.as_str(),
                c.salesforce_id.as_str(),
                c.winner.as_str()
            );
        }
    }
    if !plan.errors.is_empty() {
        let _ = writeln!(out, "\nInvalid items ({}):", plan.errors.len());
        for e in &plan.errors {
            let _ = writeln!(out, "  {} {}: {}", e.side.as_str(), e.id.as_str(), e.error);
        }
    }
    for trip in &plan.delete_guard {
        let _ = writeln!(out, "\nHELD: {trip}");
    }
    let _ = writeln!(out, "\nUnchanged pairs: {}", plan.unchanged);
    out
}
