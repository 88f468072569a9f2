//! The provider conformance suite, run against the connector talking to the Graph emulator
//! over real HTTP: the user's primary calendar, and calendars another user shared.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use calbridge_outlook::CalendarSelector;
use calbridge_provider::conformance::{Context, run_each};
use calbridge_testkit::graph::IdStyle;
use support::*;

async fn run(provider: &calbridge_outlook::OutlookProvider) {
    let ctx = Context::new(chrono::Utc::now());
    let failures: Vec<String> = run_each(provider, &ctx)
        .await
        .into_iter()
        .filter_map(|(_, outcome)| outcome.err().map(|e| e.to_string()))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn primary_calendar_passes_the_suite() {
    let graph = emulator().await;
    run(&provider(&graph).await).await;
}

#[tokio::test]
async fn ids_holding_slashes_plus_and_equals_pass_the_suite() {
    let graph = emulator().await;
    graph.set_id_style(IdStyle::Mixed);
    run(&provider(&graph).await).await;
    let odd = graph.events(USER, None).len();
    assert_eq!(odd, 0, "the suite cleans up after itself");
}

#[tokio::test]
async fn own_secondary_calendar_by_name_passes_the_suite() {
    let graph = emulator().await;
    graph.add_calendar(USER, "Sales");
    let sales = provider_with(&graph, USER, CalendarSelector::Named("Sales".into()), 50).await;
    run(&sales).await;
}

#[tokio::test]
async fn calendar_shared_by_another_user_passes_the_suite() {
    let graph = emulator().await;
    let owner = "ada@contoso.com";
    let team = graph.add_calendar(owner, "Team");
    graph.share_calendar(owner, &team, USER);
    let shared = provider_with(
        &graph,
        USER,
        CalendarSelector::Shared {
            owner: owner.into(),
            calendar: Some(team.clone()),
        },
        50,
    )
    .await;
    run(&shared).await;
}

#[tokio::test]
async fn shared_calendar_in_the_users_own_list_passes_the_suite() {
    let graph = emulator().await;
    let owner = "ada@contoso.com";
    let team = graph.add_calendar(owner, "Team");
    graph.share_calendar(owner, &team, USER);
    let me = provider(&graph).await;
    let listed = me.list_calendars().await.unwrap();
    let info = listed
        .iter()
        .find(|c| c.id == team)
        .expect("the shared calendar is in the user's list");
    assert_eq!(info.owner_address.as_deref(), Some(owner));
    let shared = provider_with(&graph, USER, info.selector.clone(), 50).await;
    run(&shared).await;
}

#[tokio::test]
async fn another_users_primary_calendar_shared_with_the_user_passes_the_suite() {
    let graph = emulator().await;
    let owner = "ada@contoso.com";
    graph.add_user(owner);
    let as_owner = provider_with(&graph, owner, CalendarSelector::Primary, 50).await;
    let primary = as_owner
        .list_calendars()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.is_default)
        .expect("a primary calendar");
    graph.share_calendar(owner, &primary.id, USER);
    let shared = provider_with(
        &graph,
        USER,
        CalendarSelector::Shared {
            owner: owner.into(),
            calendar: None,
        },
        50,
    )
    .await;
    let offered = shared.list_shared_calendars(owner).await.unwrap();
    assert!(
        offered.iter().any(|c| c.id == primary.id && c.shared),
        "{offered:?}"
    );
    run(&shared).await;
}
