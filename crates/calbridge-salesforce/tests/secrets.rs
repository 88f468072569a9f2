//! No secret reaches the logs or any `Debug` output: a full sync through the engine, with a
//! session that expires mid-run (so the refresh token and the client secret travel), is
//! traced at TRACE level for every crate, and the captured text is searched for each secret.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use calbridge::{ManualClock, SyncEngine, SyncSettings};
use calbridge_http::{
    MemoryTokenCache, SecretString, TokenCache, TokenFetcher, TokenSet, TokenSource,
};
use calbridge_model::Side;
use calbridge_provider::InMemoryProvider;
use calbridge_salesforce::{SalesforceProvider, SalesforceTokenFetcher};
use calbridge_store::MemoryStore;
use calbridge_testkit::salesforce::SalesforceFault;
use support::*;

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

#[test]
fn no_secret_reaches_the_logs_or_debug_output() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let mut secrets: Vec<String> = vec![CLIENT_SECRET.to_owned()];
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let org = org().await;
            let issued = org.sf.issue_token(USER, Duration::from_secs(3600));
            secrets.push(issued.access_token.clone());
            secrets.push(issued.refresh_token.clone());
            let cache = Arc::new(MemoryTokenCache::default());
            cache
                .store(
                    "sf",
                    &TokenSet {
                        access_token: SecretString::from(issued.access_token.clone()),
                        refresh_token: Some(SecretString::from(issued.refresh_token.clone())),
                        expires_at: None,
                        instance_url: Some(org.sf.instance_url()),
                    },
                )
                .await
                .unwrap();
            let fetcher = SalesforceTokenFetcher::refresh_token(
                &org.sf.login_url(),
                CLIENT_ID,
                Some(SecretString::from(CLIENT_SECRET.to_owned())),
            )
            .unwrap();
            let source = Arc::new(TokenSource::new(
                Arc::new(fetcher) as Arc<dyn TokenFetcher>,
                Arc::clone(&cache) as Arc<dyn TokenCache>,
                "sf",
            ));
            let provider: SalesforceProvider = SalesforceProvider::builder()
                .login_url(org.sf.login_url())
                .api_version(org.sf.api_version())
                .token_source(Arc::clone(&source))
                .owner(org.owner.clone())
                .build()
                .unwrap();
            let outlook = InMemoryProvider::new(Side::Outlook);
            outlook.seed([meeting("Board call", 3), meeting("Pricing call", 4)]);
            // The session dies: the next call is refused, refreshed once, and replayed.
            org.sf.inject(SalesforceFault::ExpireSessions);
            let engine = SyncEngine::builder(outlook, provider, MemoryStore::new())
                .settings(SyncSettings {
                    time_zone: Some(calbridge_model::Tz::UTC),
                    ..SyncSettings::default()
                })
                .clock(ManualClock::new(chrono::Utc::now()))
                .build()
                .unwrap();
            let report = engine.sync().await.unwrap();
            assert_eq!(report.salesforce.created, 2, "{report}");
            // The refreshed token is a secret too, and so is everything the cache holds.
            let fresh = cache.load("sf").await.unwrap().unwrap();
            use calbridge_http::ExposeSecret as _;
            secrets.push(fresh.access_token.expose_secret().to_owned());
            assert_ne!(
                fresh.access_token.expose_secret(),
                issued.access_token,
                "the session was refreshed"
            );
            // Debug and Display of everything a program might print.
            let mut out = captured.clone();
            writeln!(
                out,
                "{engine:?}\n{source:?}\n{fresh:?}\n{report}\n{report:?}\n{}",
                report.to_json()
            )
            .unwrap();
        });
    });
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("TRACE") || text.contains("DEBUG"),
        "the subscriber captured nothing"
    );
    for secret in &secrets {
        assert!(
            secret.len() >= 8,
            "a secret too short to search for: {secret:?}"
        );
        assert!(
            !text.contains(secret.as_str()),
            "a secret leaked into the output"
        );
    }
}
