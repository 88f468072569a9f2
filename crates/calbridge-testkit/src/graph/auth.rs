//! Tokens and grants of the emulated identity platform, and the bearer check every
//! `/v1.0` call goes through. The endpoints themselves are in `oauth.rs`.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::json::ApiError;
use super::state::State;

/// Who a bearer token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    /// Delegated: a user (id).
    User(String),
    /// App-only: a client id.
    App(String),
}

/// An issued access token.
#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    principal: Principal,
    expires_at: DateTime<Utc>,
}

/// What a refresh token stands for.
#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub(crate) user: String,
    pub(crate) client_id: Option<String>,
    pub(crate) scope: String,
}

/// An authorization code waiting to be redeemed.
#[derive(Debug, Clone)]
pub(crate) struct CodeGrant {
    pub(crate) client_id: String,
    /// As sent to the authorize endpoint; the token request must repeat it exactly.
    pub(crate) redirect_uri: String,
    /// `(code_challenge, code_challenge_method)`.
    pub(crate) challenge: Option<(String, String)>,
    pub(crate) user: String,
    pub(crate) scope: String,
    pub(crate) expires_at: DateTime<Utc>,
}

/// A device code being polled.
#[derive(Debug, Clone)]
pub(crate) struct DeviceGrant {
    pub(crate) client_id: String,
    pub(crate) scope: String,
    pub(crate) polls: u32,
    pub(crate) expires_at: DateTime<Utc>,
}

/// Clients, grants and tokens.
#[derive(Debug)]
pub(crate) struct AuthState {
    /// client id → secret (`None` for a public client).
    pub(crate) clients: HashMap<String, Option<String>>,
    access: HashMap<String, AccessToken>,
    pub(crate) refresh: HashMap<String, RefreshGrant>,
    pub(crate) codes: HashMap<String, CodeGrant>,
    pub(crate) devices: HashMap<String, DeviceGrant>,
    /// The user interactive flows sign in as (the first user added, unless set).
    pub(crate) signed_in: Option<String>,
    pub(crate) token_ttl: Duration,
    /// Device-flow polls answered `authorization_pending` before success.
    pub(crate) device_pending_polls: u32,
    pub(crate) device_interval: u64,
}

impl Default for AuthState {
    fn default() -> Self {
        Self {
            clients: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            codes: HashMap::new(),
            devices: HashMap::new(),
            signed_in: None,
            token_ttl: Duration::from_secs(3599),
            device_pending_polls: 1,
            device_interval: 1,
        }
    }
}

impl AuthState {
    /// Fault `ExpireTokens`: every access token is now expired (refresh tokens still work).
    pub(crate) fn expire_access_tokens(&mut self, now: DateTime<Utc>) {
        for t in self.access.values_mut() {
            t.expires_at = now - chrono::Duration::seconds(1);
        }
    }

    /// Fault `RevokeRefreshTokens`: refreshing then answers `invalid_grant`.
    pub(crate) fn revoke_refresh_tokens(&mut self) {
        self.refresh.clear();
    }
}

fn ttl(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(3650))
}

/// Issues an access token (and a refresh token for delegated grants when asked).
pub(crate) fn issue(
    state: &mut State,
    principal: Principal,
    client_id: Option<&str>,
    scope: &str,
    with_refresh: bool,
    lifetime: Duration,
) -> Value {
    let access = format!(
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{}.{}",
        state.ids.token(48),
        state.ids.token(32)
    );
    let expires_at = state.now() + ttl(lifetime);
    state.auth.access.insert(
        access.clone(),
        AccessToken {
            principal: principal.clone(),
            expires_at,
        },
    );
    let mut body = json!({
        "token_type": "Bearer", "scope": scope, "expires_in": lifetime.as_secs(), "ext_expires_in": lifetime.as_secs(),
        "access_token": access,
    });
    if let (true, Principal::User(user), Some(obj)) =
        (with_refresh, &principal, body.as_object_mut())
    {
        let refresh = format!("0.AXkA{}", state.ids.token(96));
        state.auth.refresh.insert(
            refresh.clone(),
            RefreshGrant {
                user: user.clone(),
                client_id: client_id.map(str::to_owned),
                scope: scope.to_owned(),
            },
        );
        obj.insert("refresh_token".into(), json!(refresh));
    }
    body
}

/// Checks `Authorization: Bearer` for a `/v1.0` call.
pub(crate) fn authenticate(state: &State, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let unauthorized = |msg: &str| {
        ApiError::new(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", msg).with_header(
            "WWW-Authenticate",
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
        )
    };
    let raw = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let token = raw
        .strip_prefix("Bearer ")
        .or_else(|| raw.strip_prefix("bearer "))
        .map(str::trim)
        .unwrap_or_default();
    if token.is_empty() {
        return Err(unauthorized("Access token is empty."));
    }
    let t = state
        .auth
        .access
        .get(token)
        .ok_or_else(|| unauthorized("CompactToken parsing failed with error code: 80049217"))?;
    if t.expires_at <= state.now() {
        return Err(unauthorized(
            "Access token has expired or is not yet valid.",
        ));
    }
    Ok(t.principal.clone())
}
