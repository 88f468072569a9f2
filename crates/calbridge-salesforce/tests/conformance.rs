//! The provider conformance suite against the connector, over real HTTP to the emulator,
//! with and without an external-id field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use calbridge_provider::conformance::{self, Context};
use chrono::Utc;

async fn run(external_id: bool) {
    support::init_tracing();
    let org = support::org().await;
    // Pages of 100 make the 250-event listing behaviour follow nextRecordsUrl.
    org.sf.set_page_size(100);
    let provider = org.provider(external_id).await;
    let outcomes = conformance::run_each(&provider, &Context::new(Utc::now())).await;
    let failures: Vec<String> = outcomes
        .iter()
        .filter_map(|(name, outcome)| outcome.as_ref().err().map(|e| format!("{name}: {e}")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every behaviour cleans up after itself.
    assert_eq!(org.live(), 0, "events left behind: {:#?}", org.sf.events());
}

#[tokio::test]
async fn conformance_with_external_id_upserts() {
    run(true).await;
}

#[tokio::test]
async fn conformance_with_plain_creates() {
    run(false).await;
}
