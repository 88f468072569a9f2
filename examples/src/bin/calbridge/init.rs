//! `calbridge init`: a commented settings file holding every default.

use std::io::Write;
use std::path::Path;

use crate::{CliError, Outcome};

/// The settings file `init` writes: every setting at its default (DESIGN §1), explained.
/// Parsing it gives `SyncSettings::default()`.
pub(crate) const TEMPLATE: &str = r#"# calbridge settings: which Outlook calendar and which Salesforce user's calendar are kept
# in step, and by which rules. Every setting below is at its default; delete a line to keep
# the default, change it to change the rule. Unknown keys are refused with their line.

# Only events related to a Salesforce record (WhatId / WhoId) sync.
related_only = false

# Never overwrite a rich Outlook body (formatting, images, attachments) with Salesforce's
# plain text; the other fields of the event still update.
preserve_formatting = false

# Private events (Outlook private/confidential, Salesforce IsPrivate):
# "exclude" (never copied to the other side) or "include" (copied, and kept private).
private_events = "exclude"

# What wins when the same field changed differently on both sides since the last sync:
# "newest" (the side modified last; ties go to Outlook), "outlook" or "salesforce".
conflict_policy = "newest"

# The IANA time zone used for day boundaries and active hours, e.g. "Europe/London".
# Left out: the machine's zone.
# time_zone = "Europe/London"

# The sync range, in whole days around today (in the user's zone). Events outside do not
# sync, and are never deleted for leaving the range.
[range]
past_days = 30
future_days = 365

# Prevent switches: which writes *to* each side are never made. All false is bidirectional;
# every switch of [direction.outlook] true makes the sync one-way, Outlook -> Salesforce.
[direction.outlook]
create = false
update = false
delete = false

[direction.salesforce]
create = false
update = false
delete = false

# The mass-delete guard: a run that would delete more than max_deletes events on one side
# AND more than max_percent % of that side's events in range is held until confirmed
# (`calbridge sync --yes`).
[delete_guard]
enabled = true
max_deletes = 10
max_percent = 20

# Which calendars sync. The Outlook calendar is one of:
#   { kind = "primary" }
#   { kind = "named", name = "Work" }
#   { kind = "id", id = "AAMkAD..." }            (`calbridge calendars` lists the ids)
#   { kind = "shared", owner = "boss@contoso.com", name = "Team" }
# salesforce_owner is the Salesforce user (005...) whose events sync; left out: the
# signed-in user.
[calendars]
outlook = { kind = "primary" }
# salesforce_owner = "005000000000001AAA"

# How syncs start: { kind = "manual" } (when you run `calbridge sync`),
# { kind = "snap_record" } (one-way Outlook -> Salesforce, only events pushed with
# `calbridge snap`), or automatic sync on a schedule (`calbridge auto`), which turns
# SnapRecord off:
#   mode = { kind = "auto", every_minutes = 30, active_from = "08:00", active_until = "18:00", weekdays = ["mon", "tue", "wed", "thu", "fri"] }
[mode]
kind = "manual"

# What is reported to the program running calbridge: per-item errors, each conflict and how
# it was settled, and a summary of every run.
[notifications]
errors = true
conflicts = false
summary = true
"#;

/// Writes the template to `path`, refusing to overwrite an existing file unless `force`.
pub(crate) fn run(path: &Path, force: bool) -> Outcome {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::usage(format!(
                "{} already exists; use `calbridge init --force` to overwrite it",
                path.display()
            ))
        } else {
            CliError::usage(format!("cannot write {}: {e}", path.display()))
        }
    })?;
    file.write_all(TEMPLATE.as_bytes())
        .map_err(|e| CliError::usage(format!("cannot write {}: {e}", path.display())))?;
    println!("wrote the default settings to {}", path.display());
    Ok(0)
}
