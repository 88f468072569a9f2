//! Shared set-up for the connector's tests: an emulated org with a user, a connected app and
//! custom fields, and providers signed in to it.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::sync::Arc;
use std::time::Duration;

use calbridge_http::{
    MemoryTokenCache, SecretString, TokenCache, TokenFetcher, TokenSet, TokenSource,
};
use calbridge_model::{Event, EventTime};
use calbridge_provider::{CalendarProvider, Write, WriteResult};
use calbridge_salesforce::{SalesforceProvider, SalesforceProviderBuilder, SalesforceTokenFetcher};
use calbridge_testkit::salesforce::{CustomFieldKind, SalesforceEmulator};
use chrono::{DateTime, Duration as Days, NaiveTime, Utc};

pub const CLIENT_ID: &str = "3MVG9-calbridge-tests";
pub const CLIENT_SECRET: &str = "calbridge-test-secret";
pub const USER: &str = "ada@calbridge.test";
pub const KEY_FIELD: &str = "Calbridge_Key__c";

/// An emulated org.
pub struct Org {
    pub sf: SalesforceEmulator,
    pub owner: String,
}

/// Starts an emulator with the test user, the connected app and the custom fields the tests
/// use: the external-id key, a number, a picklist.
pub async fn org() -> Org {
    let sf = SalesforceEmulator::start().await.unwrap();
    let owner = sf.add_user(USER);
    sf.register_client(CLIENT_ID, Some(CLIENT_SECRET), None);
    sf.add_custom_field(
        KEY_FIELD,
        CustomFieldKind::Text {
            max_len: 255,
            external_id: true,
        },
    );
    sf.add_custom_field("Score__c", CustomFieldKind::Number);
    sf.add_custom_field(
        "Outcome__c",
        CustomFieldKind::Picklist(vec!["Won".into(), "Lost".into()]),
    );
    Org { sf, owner }
}

impl Org {
    /// A token source holding a fresh session and refresh token, refreshing with the
    /// refresh-token grant.
    pub async fn tokens(&self) -> Arc<TokenSource> {
        let issued = self.sf.issue_token(USER, Duration::from_secs(3600));
        let cache = Arc::new(MemoryTokenCache::default());
        cache
            .store(
                "sf",
                &TokenSet {
                    access_token: SecretString::from(issued.access_token),
                    refresh_token: Some(SecretString::from(issued.refresh_token)),
                    expires_at: None,
                    instance_url: Some(self.sf.instance_url()),
                },
            )
            .await
            .unwrap();
        let fetcher = SalesforceTokenFetcher::refresh_token(
            &self.sf.login_url(),
            CLIENT_ID,
            Some(SecretString::from(CLIENT_SECRET.to_owned())),
        )
        .unwrap();
        Arc::new(TokenSource::new(
            Arc::new(fetcher) as Arc<dyn TokenFetcher>,
            cache as Arc<dyn TokenCache>,
            "sf",
        ))
    }

    /// A builder signed in as the test user, owner set, snap fields allowed.
    pub async fn builder(&self) -> SalesforceProviderBuilder {
        SalesforceProvider::builder()
            .login_url(self.sf.login_url())
            .api_version(self.sf.api_version())
            .token_source(self.tokens().await)
            .owner(self.owner.clone())
            .snap_fields(["Type", "Score__c", "Outcome__c"])
    }

    /// A provider with (`true`) or without the external-id field.
    pub async fn provider(&self, external_id: bool) -> SalesforceProvider {
        let b = self.builder().await;
        let b = if external_id {
            b.external_id_field(KEY_FIELD)
        } else {
            b
        };
        b.build().unwrap()
    }

    /// Count of live events.
    pub fn live(&self) -> usize {
        self.sf.events().len()
    }

    /// Requests whose path contains `needle`.
    pub fn requests_to(&self, needle: &str) -> usize {
        self.sf
            .requests()
            .iter()
            .filter(|r| r.path_and_query.contains(needle))
            .count()
    }
}

/// Today at 00:00 UTC plus `days` and `minutes`.
pub fn at(days: i64, minutes: i64) -> DateTime<Utc> {
    (Utc::now().date_naive() + Days::days(days))
        .and_time(NaiveTime::MIN)
        .and_utc()
        + Days::minutes(minutes)
}

pub fn meeting(subject: &str, days: i64) -> Event {
    let start = at(days, 9 * 60);
    Event::new("", subject, EventTime::timed(start, start + Days::hours(1)))
}

pub fn create(event: Event, key: &str) -> Write {
    Write::Create {
        event,
        idempotency_key: key.to_owned(),
    }
}

/// Creates events and returns them as stored.
pub async fn create_all(p: &SalesforceProvider, events: Vec<Event>) -> Vec<Event> {
    let writes = events
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            create(
                e,
                &format!("test-key-{i}-{}", Utc::now().timestamp_micros()),
            )
        })
        .collect();
    p.apply(writes)
        .await
        .into_iter()
        .map(|r| match r {
            Ok(WriteResult::Created(e)) => e,
            other => panic!("create failed: {other:?}"),
        })
        .collect()
}

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}
