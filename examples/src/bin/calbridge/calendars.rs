//! `calbridge calendars`: the Outlook calendars the user can sync, own and shared.

use calbridge_examples::emulated::{self, Emulated};
use calbridge_outlook::{CalendarInfo, OutlookProvider};

use crate::setup;
use crate::{Cli, CliError, Outcome};

/// The arguments of `calbridge calendars`.
#[derive(Debug, clap::Args)]
pub(crate) struct CalendarsArgs {
    /// Also list the calendars this user (address) shared with you.
    #[arg(long)]
    shared_by: Option<String>,
}

/// The manager whose calendar the emulated user can see.
const EMULATED_BOSS: &str = "grace@contoso.example";

/// `calbridge calendars`.
pub(crate) async fn calendars(cli: &Cli, args: &CalendarsArgs) -> Outcome {
    let (provider, shared_by, _world): (OutlookProvider, Option<String>, Option<Emulated>) =
        if cli.emulate {
            let world = Emulated::start()
                .await
                .map_err(|e| CliError::usage(format!("cannot start the emulators: {e}")))?;
            world
                .graph
                .add_calendar(emulated::OUTLOOK_USER, "Customer visits");
            world.graph.add_user(EMULATED_BOSS);
            let team = world.graph.add_calendar(EMULATED_BOSS, "Sales team");
            world
                .graph
                .share_calendar(EMULATED_BOSS, &team, emulated::OUTLOOK_USER);
            let provider = world
                .outlook()
                .await
                .map_err(|e| CliError::usage(format!("cannot start the emulators: {e}")))?;
            let shared = args
                .shared_by
                .clone()
                .or_else(|| Some(EMULATED_BOSS.to_owned()));
            (provider, shared, Some(world))
        } else {
            let settings = setup::load_settings(cli)?;
            let provider = setup::real_outlook(cli, &settings).await?;
            (provider, args.shared_by.clone(), None)
        };
    let own = provider
        .list_calendars()
        .await
        .map_err(|e| provider_error(&e))?;
    let shared = match &shared_by {
        Some(owner) => provider
            .list_shared_calendars(owner)
            .await
            .map_err(|e| provider_error(&e))?,
        None => Vec::new(),
    };
    let list = merge(own, shared);
    println!("{:<24} {:<30} {:<6} setting", "name", "owner", "edit");
    for c in &list {
        println!(
            "{:<24} {:<30} {:<6} {}",
            c.name,
            c.owner_address.as_deref().unwrap_or("-"),
            if c.can_edit { "yes" } else { "no" },
            setting_line(c)
        );
    }
    println!("\nPut the chosen line under [calendars] in the settings file.");
    Ok(0)
}

/// The user's own list, then what the other user shares that is not in it already.
///
/// A calendar someone shared with the user and that the user added to their list is in
/// both reads: the user's `/me/calendars` lists it with its owner, and the owner's mailbox
/// lists it too (on Microsoft 365 under another id, one per mailbox). It is shown once, as
/// the user's own list has it: that id is the one to use (graph.md §3.5).
fn merge(mut own: Vec<CalendarInfo>, shared: Vec<CalendarInfo>) -> Vec<CalendarInfo> {
    let same_owner = |a: &CalendarInfo, b: &CalendarInfo| match (&a.owner_address, &b.owner_address)
    {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        _ => false,
    };
    for c in shared {
        let listed = own
            .iter()
            .any(|o| o.id == c.id || (same_owner(o, &c) && o.name == c.name));
        if !listed {
            own.push(c);
        }
    }
    own
}

fn provider_error(e: &calbridge::provider::ProviderError) -> CliError {
    if e.kind() == calbridge::provider::ErrorKind::Auth {
        CliError::auth(format!("{e}; run `calbridge login outlook`"))
    } else {
        CliError::failed(e.to_string())
    }
}

/// The `[calendars]` line that selects this calendar.
fn setting_line(c: &CalendarInfo) -> String {
    if c.shared {
        let owner = c.owner_address.as_deref().unwrap_or_default();
        format!(
            "outlook = {{ kind = \"shared\", owner = {owner:?}, name = {:?} }}",
            c.name
        )
    } else if c.is_default {
        "outlook = { kind = \"primary\" }".to_owned()
    } else {
        format!("outlook = {{ kind = \"id\", id = {:?} }}", c.id)
    }
}

#[cfg(test)]
mod tests {
    use calbridge_outlook::CalendarSelector;

    use super::*;

    fn calendar(id: &str, name: &str, owner: &str, shared: bool) -> CalendarInfo {
        CalendarInfo {
            id: id.to_owned(),
            name: name.to_owned(),
            owner_name: None,
            owner_address: Some(owner.to_owned()),
            can_edit: true,
            is_default: false,
            shared,
            selector: CalendarSelector::Id(id.to_owned()),
        }
    }

    #[test]
    fn a_shared_calendar_in_the_users_own_list_is_listed_once_with_the_users_id() {
        let own = vec![
            calendar("mine", "Calendar", "ada@contoso.example", false),
            calendar(
                "team-in-my-mailbox",
                "Sales team",
                "grace@contoso.example",
                false,
            ),
        ];
        let shared = vec![
            // Graph gives the same calendar another id in the owner's mailbox.
            calendar(
                "team-in-grace-mailbox",
                "Sales team",
                "Grace@Contoso.example",
                true,
            ),
            calendar("visits", "Visits", "grace@contoso.example", true),
        ];
        let ids: Vec<String> = merge(own, shared).into_iter().map(|c| c.id).collect();
        assert_eq!(ids, ["mine", "team-in-my-mailbox", "visits"]);
    }

    #[test]
    fn the_same_id_from_both_reads_is_listed_once() {
        let own = vec![calendar(
            "team",
            "Sales team",
            "grace@contoso.example",
            false,
        )];
        let shared = vec![calendar(
            "team",
            "Sales team",
            "grace@contoso.example",
            true,
        )];
        assert_eq!(merge(own, shared).len(), 1);
    }

    #[test]
    fn calendars_of_the_same_name_from_different_owners_are_all_listed() {
        let own = vec![calendar("a", "Team", "ada@contoso.example", false)];
        let shared = vec![calendar("b", "Team", "grace@contoso.example", true)];
        assert_eq!(merge(own, shared).len(), 2);
    }
}
