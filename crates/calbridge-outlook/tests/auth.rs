//! Signing in through the emulator's identity endpoints: authorization code with PKCE,
//! device code (polling through `authorization_pending`), client credentials for app-only
//! `/users/{id}`; and secrets never showing in `Debug` output or logs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use calbridge_http::{
    ExposeSecret, MemoryTokenCache, SecretString, TokenCache, TokenSet, TokenSource,
};
use calbridge_outlook::{AuthError, GraphAuth, GraphTokenFetcher, Mailbox, OutlookProvider};
use calbridge_provider::{CalendarProvider, ErrorKind, ListWindow};
use calbridge_testkit::graph::{GraphEmulator, GraphFault};
use support::*;

fn window() -> ListWindow {
    let now = chrono::Utc::now();
    ListWindow {
        start: now - chrono::Duration::days(1),
        end: now + chrono::Duration::days(30),
    }
}

async fn source(auth: GraphAuth, tokens: Option<TokenSet>, app: bool) -> Arc<TokenSource> {
    let cache = Arc::new(MemoryTokenCache::default());
    if let Some(tokens) = tokens {
        cache.store("graph", &tokens).await.unwrap();
    }
    let fetcher = if app {
        GraphTokenFetcher::client_credentials(auth)
    } else {
        GraphTokenFetcher::refresh_token(auth)
    };
    Arc::new(TokenSource::new(Arc::new(fetcher), cache, "graph"))
}

fn outlook(graph: &GraphEmulator, tokens: Arc<TokenSource>, mailbox: Mailbox) -> OutlookProvider {
    OutlookProvider::builder()
        .base_url(graph.base_url())
        .mailbox(mailbox)
        .token_source(tokens)
        .build()
        .unwrap()
}

#[tokio::test]
async fn authorization_code_with_pkce_signs_in() {
    let graph = emulator().await;
    let auth = support::auth(&graph).with_redirect_uri("http://localhost:8400/callback");
    let request = auth.authorize_url().unwrap();
    assert!(request.url.as_str().contains("code_challenge_method=S256"));
    // The browser's part: the emulator consents at once and redirects back.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(request.url.clone()).send().await.unwrap();
    assert_eq!(answer.status(), 302);
    let location = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    let param = |k: &str| {
        location
            .query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some(request.state.as_str()));
    let code = param("code").unwrap();

    // A wrong verifier is refused; the right one gives tokens with a refresh token.
    let wrong = auth
        .exchange_code(&code, &SecretString::from("x".repeat(43)))
        .await
        .unwrap_err();
    assert!(
        matches!(&wrong, AuthError::Refused { code, .. } if code == "invalid_grant"),
        "{wrong}"
    );
    let request = auth.authorize_url().unwrap();
    let answer = browser.get(request.url.clone()).send().await.unwrap();
    let location = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(n, _)| n == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens = auth
        .exchange_code(&code, &request.pkce_verifier)
        .await
        .unwrap();
    assert!(tokens.refresh_token.is_some() && tokens.expires_at.is_some());

    let p = outlook(&graph, source(auth, Some(tokens), false).await, Mailbox::Me);
    p.list(&window()).await.unwrap();
}

#[tokio::test]
async fn device_code_polls_until_the_user_signed_in() {
    let graph = emulator().await;
    graph.set_device_flow(2, 1);
    let auth = support::auth(&graph);
    let device = auth.start_device_flow().await.unwrap();
    assert_eq!(device.verification_uri, "https://microsoft.com/devicelogin");
    assert!(!device.user_code.is_empty());
    assert!(
        device
            .message
            .as_deref()
            .unwrap_or_default()
            .contains(&device.user_code)
    );
    assert_eq!(device.interval, Duration::from_secs(1));
    graph.reset_requests();
    let started = Instant::now();
    let tokens = auth.finish_device_flow(&device).await.unwrap();
    // Two `authorization_pending` answers, one interval apart each, then the tokens.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let polls = graph
        .requests()
        .iter()
        .filter(|r| r.path_and_query.contains("/oauth2/v2.0/token"))
        .count();
    assert_eq!(polls, 3);
    let p = outlook(&graph, source(auth, Some(tokens), false).await, Mailbox::Me);
    p.list(&window()).await.unwrap();
}

#[tokio::test]
async fn client_credentials_reach_a_users_mailbox() {
    let graph = emulator().await;
    graph.register_client("daemon", Some("daemon-secret"));
    let auth = GraphAuth::new("daemon")
        .unwrap()
        .with_authority(&graph.authority())
        .unwrap()
        .with_tenant("contoso.onmicrosoft.com")
        .with_client_secret(SecretString::from("daemon-secret".to_owned()));
    let p = outlook(
        &graph,
        source(auth, None, true).await,
        Mailbox::User(USER.into()),
    );
    let start = chrono::Utc::now() + chrono::Duration::days(2);
    let event = calbridge_model::Event::new(
        "",
        "Made by a daemon",
        calbridge_model::EventTime::timed(start, start + chrono::Duration::hours(1)),
    );
    let results = p
        .apply(vec![calbridge_provider::Write::Create {
            event,
            idempotency_key: "daemon-1".into(),
        }])
        .await;
    assert!(results[0].is_ok(), "{results:?}");
    assert_eq!(p.list(&window()).await.unwrap().events.len(), 1);

    let wrong = GraphAuth::new("daemon")
        .unwrap()
        .with_authority(&graph.authority())
        .unwrap()
        .with_tenant("contoso.onmicrosoft.com")
        .with_client_secret(SecretString::from("guess".to_owned()));
    let p = outlook(
        &graph,
        source(wrong, None, true).await,
        Mailbox::User(USER.into()),
    );
    let error = p.list(&window()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Auth, "{error}");
}

/// Collects everything logged while it is the default subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_show_in_debug_output_or_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let graph = emulator().await;
    let issued = graph.issue_token(USER, Duration::from_secs(3600));
    let secret = "client-secret-value";
    let auth = support::auth(&graph).with_client_secret(SecretString::from(secret.to_owned()));
    graph.register_client(CLIENT_ID, Some(secret));
    let tokens = TokenSet {
        access_token: SecretString::from(issued.access_token.clone()),
        refresh_token: Some(SecretString::from(issued.refresh_token.clone())),
        expires_at: None,
        instance_url: None,
    };
    let source = source(auth.clone(), Some(tokens), false).await;
    let p = outlook(&graph, Arc::clone(&source), Mailbox::Me);
    // A refresh mid-run, and an error, so that every path logs.
    graph.inject(GraphFault::ExpireTokens);
    let listing = p.list(&window()).await.unwrap();
    let renewed = source.token().await.unwrap();
    graph.inject(GraphFault::Unavailable {
        status: 503,
        times: 1,
        path: None,
    });
    let _ = p.list(&window()).await;

    let mut text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("refreshing once"),
        "the refresh was logged:\n{text}"
    );
    for debug in [
        format!("{p:?}"),
        format!("{auth:?}"),
        format!("{source:?}"),
        format!("{renewed:?}"),
        format!("{listing:?}"),
    ] {
        text.push_str(&debug);
    }
    assert!(!text.is_empty());
    for secret in [
        issued.access_token.as_str(),
        issued.refresh_token.as_str(),
        secret,
        renewed.access_token.expose_secret(),
        renewed.refresh_token.as_ref().unwrap().expose_secret(),
    ] {
        assert!(!text.contains(secret), "a secret leaked:\n{text}");
    }
}
