//! Shared setup of the connector's integration tests: a Graph emulator, a signed-in user
//! and an [`OutlookProvider`] talking to the emulator over real HTTP.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses part of the support"
)]

use std::sync::Arc;
use std::time::Duration;

use calbridge_http::{MemoryTokenCache, SecretString, TokenCache, TokenSet, TokenSource};
use calbridge_outlook::{CalendarSelector, GraphAuth, GraphTokenFetcher, Mailbox, OutlookProvider};
use calbridge_testkit::graph::GraphEmulator;

/// The app every test signs in with.
pub const CLIENT_ID: &str = "calbridge-tests";

/// The user of most tests.
pub const USER: &str = "adele@contoso.com";

/// An emulator with [`USER`] and the test app registered.
pub async fn emulator() -> GraphEmulator {
    let graph = GraphEmulator::start().await.expect("emulator starts");
    graph.register_client(CLIENT_ID, None);
    graph.add_user(USER);
    graph
}

/// The sign-in configuration pointing at the emulator's identity endpoints.
pub fn auth(graph: &GraphEmulator) -> GraphAuth {
    GraphAuth::new(CLIENT_ID)
        .expect("auth")
        .with_authority(&graph.authority())
        .expect("loopback authority")
        .with_tenant("contoso.onmicrosoft.com")
}

/// A token source for `user`, holding freshly issued tokens and refreshing through the
/// emulator's token endpoint.
pub async fn tokens(graph: &GraphEmulator, user: &str) -> Arc<TokenSource> {
    let issued = graph.issue_token(user, Duration::from_secs(3600));
    let cache = Arc::new(MemoryTokenCache::default());
    cache
        .store(
            "graph",
            &TokenSet {
                access_token: SecretString::from(issued.access_token),
                refresh_token: Some(SecretString::from(issued.refresh_token)),
                expires_at: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
                instance_url: None,
            },
        )
        .await
        .expect("memory cache");
    Arc::new(TokenSource::new(
        Arc::new(GraphTokenFetcher::refresh_token(auth(graph))),
        cache,
        "graph",
    ))
}

/// A provider for `user`'s `calendar`.
pub async fn provider_with(
    graph: &GraphEmulator,
    user: &str,
    calendar: CalendarSelector,
    page_size: usize,
) -> OutlookProvider {
    OutlookProvider::builder()
        .base_url(graph.base_url())
        .mailbox(Mailbox::Me)
        .calendar(calendar)
        .token_source(tokens(graph, user).await)
        .page_size(page_size)
        .build()
        .expect("provider builds")
}

/// A provider for [`USER`]'s primary calendar.
pub async fn provider(graph: &GraphEmulator) -> OutlookProvider {
    provider_with(graph, USER, CalendarSelector::Primary, 50).await
}
