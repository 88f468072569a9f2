//! The Graph emulator's identity endpoints, bearer checks and injected faults.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use calbridge_testkit::graph::{GraphEmulator, GraphFault};
use serde_json::Value;

const USER: &str = "adele@contoso.com";
const CLIENT: &str = "11111111-2222-3333-4444-555555555555";

async fn emulator() -> GraphEmulator {
    let graph = GraphEmulator::start().await.unwrap();
    graph.add_user(USER);
    graph.register_client(CLIENT, None);
    graph
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn token_url(g: &GraphEmulator) -> String {
    format!("{}/organizations/oauth2/v2.0/token", g.authority())
}

async fn post_form(url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = http().post(url).form(form).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn get_calendar(g: &GraphEmulator, token: &str) -> (u16, Value) {
    let resp = http()
        .get(format!("{}/me/calendar", g.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn missing_or_unknown_tokens_are_401() {
    let g = emulator().await;
    let resp = http()
        .get(format!("{}/me/calendar", g.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(get_calendar(&g, "nonsense").await.0, 401);
}

#[tokio::test]
async fn expired_tokens_are_401_and_refresh_gives_new_ones() {
    let g = emulator().await;
    let tokens = g.issue_token(USER, Duration::from_secs(3600));
    assert_eq!(get_calendar(&g, &tokens.access_token).await.0, 200);
    g.inject(GraphFault::ExpireTokens);
    let (status, body) = get_calendar(&g, &tokens.access_token).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    let (status, fresh) = post_form(
        &token_url(&g),
        &[
            ("client_id", CLIENT),
            ("grant_type", "refresh_token"),
            ("refresh_token", &tokens.refresh_token),
            ("scope", "Calendars.ReadWrite offline_access"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(fresh["token_type"], "Bearer");
    assert!(fresh["expires_in"].is_u64());
    assert_ne!(fresh["refresh_token"], tokens.refresh_token.as_str());
    assert_eq!(
        get_calendar(&g, fresh["access_token"].as_str().unwrap())
            .await
            .0,
        200
    );

    g.inject(GraphFault::RevokeRefreshTokens);
    let (status, err) = post_form(
        &token_url(&g),
        &[
            ("client_id", CLIENT),
            ("grant_type", "refresh_token"),
            ("refresh_token", fresh["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        err["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS")
    );
    assert!(
        err["error_codes"].is_array()
            && err["trace_id"].is_string()
            && err["correlation_id"].is_string()
    );
}

#[tokio::test]
async fn device_code_flow_is_pending_then_succeeds() {
    let g = emulator().await;
    let (status, dc) = post_form(
        &format!("{}/common/oauth2/v2.0/devicecode", g.authority()),
        &[
            ("client_id", CLIENT),
            ("scope", "Calendars.ReadWrite offline_access"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    for key in [
        "device_code",
        "user_code",
        "verification_uri",
        "interval",
        "expires_in",
        "message",
    ] {
        assert!(!dc[key].is_null(), "{key}");
    }
    let device_code = dc["device_code"].as_str().unwrap();
    let poll = [
        ("client_id", CLIENT),
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", device_code),
    ];
    let (status, pending) = post_form(&token_url(&g), &poll).await;
    assert_eq!(
        (status, pending["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    let (status, ok) = post_form(&token_url(&g), &poll).await;
    assert_eq!(status, 200, "{ok}");
    assert!(ok["refresh_token"].is_string(), "offline_access was asked");
    assert_eq!(
        get_calendar(&g, ok["access_token"].as_str().unwrap())
            .await
            .0,
        200
    );
    let (_, reused) = post_form(&token_url(&g), &poll).await;
    assert_eq!(reused["error"], "bad_verification_code");
}

async fn authorize(g: &GraphEmulator, challenge: &str) -> String {
    let resp = http()
        .get(format!("{}/common/oauth2/v2.0/authorize", g.authority()))
        .query(&[
            ("client_id", CLIENT),
            ("response_type", "code"),
            ("redirect_uri", "http://localhost:8400/callback"),
            ("scope", "Calendars.ReadWrite offline_access"),
            ("state", "xyz"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.path(), "/callback");
    let pairs: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    assert!(pairs.contains(&("state".into(), "xyz".into())));
    pairs.into_iter().find(|(k, _)| k == "code").unwrap().1
}

#[tokio::test]
async fn authorization_code_with_pkce_checks_the_verifier() {
    let g = emulator().await;
    // RFC 7636-style pair: challenge = BASE64URL(SHA256(verifier)).
    let verifier = "dBjftJeZ4CVP-mJ92K9UQQpB9zhzjpxA8cVpbCMq_1w";
    let challenge = "9vQ7S16RfPSiu95Hr-TFbLQPRRcfRhOLPkQiUgvUg8c";
    let redeem = |code: String, verifier: &'static str| {
        let g = g.clone();
        async move {
            post_form(
                &token_url(&g),
                &[
                    ("client_id", CLIENT),
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", "http://localhost:8400/callback"),
                    ("code_verifier", verifier),
                    ("scope", "Calendars.ReadWrite offline_access"),
                ],
            )
            .await
        }
    };
    let (status, err) = redeem(
        authorize(&g, challenge).await,
        "wrong-verifier-wrong-verifier-wrong-verifier",
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let code = authorize(&g, challenge).await;
    let (status, ok) = redeem(code.clone(), verifier).await;
    assert_eq!(status, 200, "{ok}");
    assert!(ok["refresh_token"].is_string());
    assert_eq!(
        get_calendar(&g, ok["access_token"].as_str().unwrap())
            .await
            .0,
        200
    );
    let (status, again) = redeem(code, verifier).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant")),
        "codes are single use"
    );
}

#[tokio::test]
async fn client_credentials_give_an_app_token_for_users_paths() {
    let g = emulator().await;
    g.register_client("daemon", Some("s3cret"));
    let form = |secret: &'static str| {
        vec![
            ("client_id", "daemon"),
            ("client_secret", secret),
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ]
    };
    let (status, err) = post_form(&token_url(&g), &form("wrong")).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_client"))
    );
    let (status, ok) = post_form(&token_url(&g), &form("s3cret")).await;
    assert_eq!(status, 200, "{ok}");
    assert!(
        ok.get("refresh_token").is_none(),
        "no refresh token for app-only"
    );
    let token = ok["access_token"].as_str().unwrap();
    let resp = http()
        .get(format!("{}/users/{USER}/calendars", g.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, body) = get_calendar(&g, token).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("BadRequest")),
        "/me needs a delegated token"
    );
    let (status, err) = post_form(
        &token_url(&g),
        &[
            ("client_id", "daemon"),
            ("client_secret", "s3cret"),
            ("grant_type", "client_credentials"),
            ("scope", "Calendars.Read"),
        ],
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_scope"))
    );
}

#[tokio::test]
async fn throttle_fault_answers_429_with_retry_after_then_recovers() {
    let g = emulator().await;
    let token = g.issue_token(USER, Duration::from_secs(600)).access_token;
    g.inject(GraphFault::Throttle {
        retry_after: Duration::from_secs(3),
        times: 2,
        path: Some("/calendar".into()),
    });
    let url = format!("{}/me/calendar", g.base_url());
    for _ in 0..2 {
        let resp = http().get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "3");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "TooManyRequests");
    }
    assert_eq!(
        http()
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    g.inject(GraphFault::Unavailable {
        status: 503,
        times: 1,
        path: None,
    });
    let resp = http().get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    let statuses: Vec<Option<u16>> = g.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![Some(429), Some(429), Some(200), Some(503)]);
}

#[tokio::test]
async fn drop_connection_fault_is_a_connection_error() {
    let g = emulator().await;
    let token = g.issue_token(USER, Duration::from_secs(600)).access_token;
    g.inject(GraphFault::DropConnection {
        times: 1,
        path: Some("calendarView".into()),
    });
    let url = format!(
        "{}/me/calendarView?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-04-01T00:00:00Z",
        g.base_url()
    );
    let err = http()
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect_err("the socket is closed without an answer");
    assert!(err.status().is_none());
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    // The next request is served normally.
    assert_eq!(
        http()
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn slow_fault_delays_the_answer() {
    let g = emulator().await;
    let token = g.issue_token(USER, Duration::from_secs(600)).access_token;
    g.inject(GraphFault::Slow {
        delay: Duration::from_millis(400),
        times: 1,
        path: None,
    });
    let started = Instant::now();
    assert_eq!(get_calendar(&g, &token).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(400));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    g.inject(GraphFault::Slow {
        delay: Duration::from_millis(500),
        times: 1,
        path: None,
    });
    let err = client
        .get(format!("{}/me/calendar", g.base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
}

#[tokio::test]
async fn requests_are_recorded_without_credentials() {
    let g = emulator().await;
    let token = g.issue_token(USER, Duration::from_secs(600)).access_token;
    http()
        .get(format!("{}/me/calendar", g.base_url()))
        .bearer_auth(&token)
        .header("Prefer", "IdType=\"ImmutableId\"")
        .send()
        .await
        .unwrap();
    let recorded = g.requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        (
            recorded[0].method.as_str(),
            recorded[0].path_and_query.as_str()
        ),
        ("GET", "/v1.0/me/calendar")
    );
    assert_eq!(recorded[0].header("prefer"), Some("IdType=\"ImmutableId\""));
    assert_eq!(
        recorded[0].header("authorization"),
        Some("Bearer [redacted]")
    );
    assert!(!format!("{recorded:?}").contains(&token));
    g.reset_requests();
    assert_eq!(g.request_count(), 0);
}
