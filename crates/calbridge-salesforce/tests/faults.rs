//! Faults from the emulator: request limits, 503s, row locks, dropped connections, slow
//! answers, expired sessions and old watermarks; and signing in with the JWT bearer and
//! web-server (PKCE) flows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use calbridge_http::{MemoryTokenCache, SecretString, TokenCache, TokenSet};
use calbridge_model::FieldValue;
use calbridge_provider::{
    CalendarProvider, Cursor, ErrorKind, ListWindow, ProviderError, Write, WriteResult,
};
use calbridge_salesforce::{SalesforceProvider, WebServerFlow};
use calbridge_testkit::salesforce::SalesforceFault;
use chrono::Utc;
use support::*;

fn window() -> ListWindow {
    ListWindow {
        start: Utc::now() - chrono::Duration::days(1),
        end: Utc::now() + chrono::Duration::days(30),
    }
}

fn kind<T: std::fmt::Debug>(r: &Result<T, ProviderError>) -> ErrorKind {
    match r {
        Err(e) => e.kind(),
        Ok(v) => panic!("want an error, got {v:?}"),
    }
}

#[tokio::test]
async fn request_limit_exceeded_then_cleared_is_throttling_not_auth() {
    let org = org().await;
    let p = org.provider(false).await;
    create_all(&p, vec![meeting("a", 2)]).await;
    org.sf
        .inject(SalesforceFault::RequestLimitExceeded { times: 2 });
    assert_eq!(kind(&p.list(&window()).await), ErrorKind::Throttled);
    assert_eq!(kind(&p.list(&window()).await), ErrorKind::Throttled);
    assert_eq!(p.list(&window()).await.unwrap().events.len(), 1);
    // A limit is not an expired session: no token was refreshed.
    assert_eq!(org.requests_to("/services/oauth2/token"), 0);
    let usage = p.api_usage().unwrap();
    assert!(usage.used > 0 && usage.max > usage.used, "{usage:?}");
}

#[tokio::test]
async fn unavailable_and_slow_answers_are_transient() {
    let org = org().await;
    let http = calbridge_http::build_client(&calbridge_http::ClientOptions {
        request_timeout: Duration::from_millis(300),
        ..calbridge_http::ClientOptions::default()
    })
    .unwrap();
    let p = org.builder().await.with_http_client(http).build().unwrap();
    org.sf.inject(SalesforceFault::Unavailable { times: 1 });
    assert_eq!(kind(&p.list(&window()).await), ErrorKind::Transient);
    org.sf.inject(SalesforceFault::Slow {
        delay: Duration::from_secs(2),
        times: 1,
    });
    assert_eq!(kind(&p.list(&window()).await), ErrorKind::Transient);
    assert!(p.list(&window()).await.is_ok());
}

#[tokio::test]
async fn a_locked_record_fails_alone_and_succeeds_on_retry() {
    let org = org().await;
    let p = org.provider(false).await;
    let created = create_all(&p, vec![meeting("a", 2), meeting("b", 3), meeting("c", 4)]).await;
    org.sf.inject(SalesforceFault::LockRow {
        id: created[1].id.to_string(),
        times: 1,
    });
    let rename = |i: usize| Write::Update {
        id: created[i].id.clone(),
        expected_version: created[i].version.clone(),
        changes: vec![FieldValue::Subject(format!("renamed {i}"))],
    };
    let results = p.apply(vec![rename(0), rename(1), rename(2)]).await;
    assert!(matches!(results[0], Ok(WriteResult::Updated(_))));
    assert_eq!(kind(&results[1]), ErrorKind::Transient);
    assert!(results[1].as_ref().unwrap_err().is_retryable());
    assert!(matches!(results[2], Ok(WriteResult::Updated(_))));
    // The engine retries only the failed item; here, by hand.
    let again = p.apply(vec![rename(1)]).await;
    match &again[0] {
        Ok(WriteResult::Updated(e)) => assert_eq!(e.subject, "renamed 1"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_connection_dropped_after_the_write_creates_once_with_upserts() {
    let org = org().await;
    let p = org.provider(true).await;
    let writes: Vec<Write> = (0..5)
        .map(|i| {
            create(
                meeting(&format!("m{i}"), 2 + i),
                &format!("calbridge-key-{i}"),
            )
        })
        .collect();
    org.sf.inject(SalesforceFault::DropAfterWrite { times: 1 });
    let first = p.apply(writes.clone()).await;
    assert!(
        first
            .iter()
            .all(|r| r.as_ref().is_err_and(ProviderError::is_retryable)),
        "{first:?}"
    );
    assert_eq!(
        org.live(),
        5,
        "the writes landed although the answer was lost"
    );
    let second = p.apply(writes).await;
    assert!(
        second
            .iter()
            .all(|r| matches!(r, Ok(WriteResult::Created(_)))),
        "{second:?}"
    );
    assert_eq!(
        org.live(),
        5,
        "the retry matched the first attempt's records"
    );
}

#[tokio::test]
async fn a_lost_answer_to_plain_creates_is_not_retried_blindly() {
    let org = org().await;
    let p = org.provider(false).await;
    assert!(!p.capabilities().idempotent_creates);
    org.sf.inject(SalesforceFault::DropAfterWrite { times: 1 });
    let results = p.apply(vec![create(meeting("once", 2), "k1")]).await;
    // Retrying could duplicate: the outcome is reported as unknown, not transient.
    assert_eq!(kind(&results[0]), ErrorKind::Permanent);
    assert_eq!(org.live(), 1);
    // A connection dropped before anything was sent... is indistinguishable for a create;
    // for a read it is simply transient.
    org.sf.inject(SalesforceFault::DropConnection {
        times: 1,
        path: Some("/query".into()),
    });
    assert_eq!(kind(&p.list(&window()).await), ErrorKind::Transient);
}

#[tokio::test]
async fn an_expired_session_is_refreshed_once_and_the_call_replayed() {
    let org = org().await;
    let p = org.provider(true).await;
    create_all(&p, vec![meeting("before", 2)]).await;
    org.sf.inject(SalesforceFault::ExpireSessions);
    // A create mid-run: refused with 401, refreshed, replayed; exactly one record.
    let r = p
        .apply(vec![create(meeting("after", 3), "after-expiry")])
        .await;
    assert!(matches!(r[0], Ok(WriteResult::Created(_))), "{r:?}");
    assert_eq!(org.live(), 2);
    assert_eq!(p.list(&window()).await.unwrap().events.len(), 2);
    assert_eq!(org.requests_to("/services/oauth2/token"), 1, "one refresh");
}

#[tokio::test]
async fn a_refused_refresh_is_an_auth_error() {
    let org = org().await;
    let cache = Arc::new(MemoryTokenCache::default());
    cache
        .store(
            "sf",
            &TokenSet {
                access_token: SecretString::from("00Dbogus!token".to_owned()),
                refresh_token: Some(SecretString::from("not-a-refresh-token".to_owned())),
                expires_at: None,
                instance_url: Some(org.sf.instance_url()),
            },
        )
        .await
        .unwrap();
    let p = SalesforceProvider::builder()
        .login_url(org.sf.login_url())
        .refresh_token(CLIENT_ID, None, cache as Arc<dyn TokenCache>, "sf")
        .unwrap()
        .owner(org.owner.clone())
        .build()
        .unwrap();
    let err = p.list(&window()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(!format!("{p:?}").contains("not-a-refresh-token"));
}

#[tokio::test]
async fn an_old_watermark_is_an_expired_cursor() {
    let org = org().await;
    let p = org.provider(false).await;
    let listing = p.list(&window()).await.unwrap();
    assert!(
        p.changes(listing.cursor.as_ref().unwrap(), &window())
            .await
            .is_ok()
    );
    let sixteen_days_ago = (Utc::now() - chrono::Duration::days(16)).timestamp_millis();
    let old = Cursor(format!("sf1:{sixteen_days_ago}:"));
    assert_eq!(
        kind(&p.changes(&old, &window()).await),
        ErrorKind::CursorExpired
    );
    assert_eq!(
        kind(&p.changes(&Cursor("seq:1".into()), &window()).await),
        ErrorKind::CursorExpired
    );
}

fn test_key(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../calbridge-testkit/tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn jwt_bearer_login_finds_the_owner_and_refuses_a_wrong_key() {
    let org = org().await;
    let cert = String::from_utf8(test_key("jwt_test_cert.pem")).unwrap();
    org.sf.register_client("jwt-app", None, Some(&cert));
    let p = SalesforceProvider::builder()
        .login_url(org.sf.login_url())
        .jwt_bearer("jwt-app", USER, &test_key("jwt_test_key.pem"))
        .unwrap()
        .build()
        .unwrap();
    create_all(&p, vec![meeting("signed with a key", 2)]).await;
    assert_eq!(p.owner().await.unwrap().as_str(), org.owner);
    assert_eq!(p.list(&window()).await.unwrap().events.len(), 1);
    // An expired session: a new assertion, not a refresh token.
    org.sf.inject(SalesforceFault::ExpireSessions);
    assert_eq!(p.list(&window()).await.unwrap().events.len(), 1);
    assert!(!format!("{p:?}").contains("PRIVATE"));

    let wrong = SalesforceProvider::builder()
        .login_url(org.sf.login_url())
        .jwt_bearer("jwt-app", USER, &test_key("jwt_other_key.pem"))
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(kind(&wrong.list(&window()).await), ErrorKind::Auth);
}

#[tokio::test]
async fn web_server_flow_with_pkce_signs_in() {
    let org = org().await;
    let redirect = "http://127.0.0.1:9/callback";
    let flow = WebServerFlow::new(
        &org.sf.login_url(),
        CLIENT_ID,
        Some(SecretString::from(CLIENT_SECRET.to_owned())),
        redirect,
    )
    .unwrap();
    let start = flow.authorize_url(&["api", "refresh_token"]);
    // The emulator consents at once and redirects to the callback with the code.
    let http = calbridge_http::build_client(&calbridge_http::ClientOptions::default()).unwrap();
    let answer = http.get(start.url.clone()).send().await.unwrap();
    let location = answer.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let callback = url::Url::parse(&location).unwrap();
    let param = |k: &str| {
        callback
            .query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(
        param("state").as_deref(),
        Some(start.state.secret().as_str())
    );
    let tokens = flow
        .exchange_code(&param("code").unwrap(), start.verifier)
        .await
        .unwrap();
    assert!(tokens.refresh_token.is_some());
    assert_eq!(
        tokens.instance_url.as_deref(),
        Some(org.sf.instance_url().as_str())
    );

    let cache = Arc::new(MemoryTokenCache::default());
    cache.store("sf", &tokens).await.unwrap();
    let p = SalesforceProvider::builder()
        .login_url(org.sf.login_url())
        .refresh_token(
            CLIENT_ID,
            Some(SecretString::from(CLIENT_SECRET.to_owned())),
            cache as Arc<dyn TokenCache>,
            "sf",
        )
        .unwrap()
        .owner(org.owner.clone())
        .build()
        .unwrap();
    org.sf.inject(SalesforceFault::ExpireSessions);
    assert!(p.list(&window()).await.is_ok());
    // The code exchange, then one refresh.
    assert_eq!(org.requests_to("/services/oauth2/token"), 2);
}
