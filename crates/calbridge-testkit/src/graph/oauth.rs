//! The Microsoft identity platform v2.0 endpoints a connector uses (graph.md §9): token
//! (refresh, client credentials, authorization code + PKCE, device code), device code and
//! an authorize endpoint that consents at once (there is no browser in a test).

use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::auth::{CodeGrant, DeviceGrant, Principal, issue};
use super::ids::{b64, b64_decode_any, sha256};
use super::json::{ApiResponse, RequestCtx};
use super::state::State;

/// A token-endpoint failure: OAuth error code, AADSTS number, message.
#[derive(Debug)]
struct OAuthError(&'static str, u32, String);

fn fail<T>(error: &'static str, aadsts: u32, message: impl Into<String>) -> Result<T, OAuthError> {
    Err(OAuthError(error, aadsts, message.into()))
}

/// The §9.7 error body. graph.md records HTTP 400 for every token error.
fn oauth_error(state: &State, ctx: &RequestCtx, e: &OAuthError) -> ApiResponse {
    let OAuthError(error, aadsts, message) = e;
    let ts = state.now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    let description = format!(
        "AADSTS{aadsts}: {message}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {ts}",
        ctx.request_id, ctx.client_request_id
    );
    ApiResponse::json(
        StatusCode::BAD_REQUEST,
        json!({
            "error": error, "error_description": description, "error_codes": [aadsts], "timestamp": ts,
            "trace_id": ctx.request_id, "correlation_id": ctx.client_request_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={aadsts}"),
        }),
    )
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn has_offline(scope: &str) -> bool {
    scope
        .split_whitespace()
        .any(|s| s.eq_ignore_ascii_case("offline_access"))
}

fn unknown_client(client_id: &str) -> OAuthError {
    OAuthError(
        "unauthorized_client",
        700_016,
        format!("Application with identifier '{client_id}' was not found in the directory."),
    )
}

/// Client id and secret from the body or from HTTP Basic (both are accepted, §9.3).
fn client_credentials(
    form: &[(String, String)],
    headers: &HeaderMap,
) -> (Option<String>, Option<String>) {
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(b64_decode_any)
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())));
    let id = field(form, "client_id")
        .map(str::to_owned)
        .or_else(|| basic.as_ref().map(|b| b.0.clone()));
    let secret = field(form, "client_secret")
        .map(str::to_owned)
        .or_else(|| basic.map(|b| b.1));
    (id, secret)
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) fn token(
    state: &mut State,
    ctx: &RequestCtx,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> ApiResponse {
    match grant(state, headers, form) {
        Ok(body) => ApiResponse::json(StatusCode::OK, body),
        Err(e) => {
            tracing::debug!(error = e.0, "graph emulator: token request refused");
            oauth_error(state, ctx, &e)
        }
    }
}

fn grant(
    state: &mut State,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<Value, OAuthError> {
    let (client_id, secret) = client_credentials(form, headers);
    let Some(client_id) = client_id else {
        return fail(
            "invalid_request",
            900_144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let registered = state
        .auth
        .clients
        .get(&client_id)
        .cloned()
        .ok_or_else(|| unknown_client(&client_id))?;
    if let (Some(expected), Some(given)) = (&registered, &secret)
        && expected != given
    {
        return fail(
            "invalid_client",
            7_000_215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        );
    }
    let scope = field(form, "scope").unwrap_or_default().to_owned();
    match field(form, "grant_type").unwrap_or_default() {
        "client_credentials" => {
            if registered.is_none() || secret.is_none() {
                return fail(
                    "invalid_client",
                    7_000_218,
                    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                );
            }
            if !scope.ends_with("/.default") {
                return fail(
                    "invalid_scope",
                    1_002_012,
                    format!(
                        "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                    ),
                );
            }
            // App-only tokens carry no refresh token (§9.5).
            let ttl = state.auth.token_ttl;
            Ok(issue(
                state,
                Principal::App(client_id.clone()),
                Some(&client_id),
                &scope,
                false,
                ttl,
            ))
        }
        "refresh_token" => refresh(state, &client_id, form, scope),
        "authorization_code" => redeem_code(state, &client_id, form, scope),
        "urn:ietf:params:oauth:grant-type:device_code" => poll_device(state, &client_id, form),
        other => fail(
            "unsupported_grant_type",
            70_003,
            format!("The app requested an unsupported grant type '{other}'."),
        ),
    }
}

fn refresh(
    state: &mut State,
    client_id: &str,
    form: &[(String, String)],
    scope: String,
) -> Result<Value, OAuthError> {
    let presented = field(form, "refresh_token").unwrap_or_default();
    let Some(g) = state.auth.refresh.get(presented).cloned() else {
        return fail(
            "invalid_grant",
            70_000,
            "The provided value for the 'refresh_token' is not valid or has been revoked.",
        );
    };
    if g.client_id.as_deref().is_some_and(|c| c != client_id) {
        return fail(
            "invalid_grant",
            70_000,
            "The refresh token was issued to a different client.",
        );
    }
    let scope = if scope.is_empty() { g.scope } else { scope };
    // A refresh always rotates the refresh token; the old one stays valid (§9.6).
    let ttl = state.auth.token_ttl;
    Ok(issue(
        state,
        Principal::User(g.user),
        Some(client_id),
        &scope,
        true,
        ttl,
    ))
}

fn redeem_code(
    state: &mut State,
    client_id: &str,
    form: &[(String, String)],
    scope: String,
) -> Result<Value, OAuthError> {
    let code = field(form, "code").unwrap_or_default();
    // Codes are single use: removed whether or not the redemption succeeds.
    let Some(g) = state.auth.codes.remove(code) else {
        return fail(
            "invalid_grant",
            54_005,
            "OAuth2 Authorization code was already redeemed or is not valid.",
        );
    };
    if g.expires_at <= state.now() {
        return fail(
            "invalid_grant",
            70_008,
            "The provided authorization code or refresh token has expired due to inactivity.",
        );
    }
    if g.client_id != client_id || field(form, "redirect_uri") != Some(g.redirect_uri.as_str()) {
        return fail(
            "invalid_grant",
            70_000,
            "The code was issued to another client or redirect URI.",
        );
    }
    if let Some((challenge, method)) = &g.challenge {
        let verifier = field(form, "code_verifier").unwrap_or_default();
        let computed = if method.eq_ignore_ascii_case("S256") {
            b64(&sha256(verifier.as_bytes()), true, false)
        } else {
            verifier.to_owned()
        };
        if verifier.is_empty() || computed != *challenge {
            return fail(
                "invalid_grant",
                50_148,
                "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.",
            );
        }
    }
    let scope = if scope.is_empty() { g.scope } else { scope };
    let ttl = state.auth.token_ttl;
    Ok(issue(
        state,
        Principal::User(g.user),
        Some(client_id),
        &scope,
        has_offline(&scope),
        ttl,
    ))
}

fn poll_device(
    state: &mut State,
    client_id: &str,
    form: &[(String, String)],
) -> Result<Value, OAuthError> {
    let code = field(form, "device_code").unwrap_or_default().to_owned();
    let pending = state.auth.device_pending_polls;
    let now = state.now();
    let Some(g) = state
        .auth
        .devices
        .get_mut(&code)
        .filter(|g| g.client_id == client_id)
    else {
        return fail(
            "bad_verification_code",
            70_019,
            "Verification code is not valid.",
        );
    };
    if g.expires_at <= now {
        return fail(
            "expired_token",
            70_020,
            "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
        );
    }
    if g.polls < pending {
        g.polls += 1;
        return fail(
            "authorization_pending",
            70_016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        );
    }
    let scope = g.scope.clone();
    state.auth.devices.remove(&code);
    let Some(user) = state.auth.signed_in.clone() else {
        return fail(
            "authorization_declined",
            70_018,
            "The user declined the sign-in (no user is signed in to the emulator).",
        );
    };
    let ttl = state.auth.token_ttl;
    Ok(issue(
        state,
        Principal::User(user),
        Some(client_id),
        &scope,
        has_offline(&scope),
        ttl,
    ))
}

/// `POST /{tenant}/oauth2/v2.0/devicecode` (v2 shape: `verification_uri`, §9.4).
pub(crate) fn device_code(
    state: &mut State,
    ctx: &RequestCtx,
    form: &[(String, String)],
) -> ApiResponse {
    let client_id = field(form, "client_id").unwrap_or_default().to_owned();
    if !state.auth.clients.contains_key(&client_id) {
        return oauth_error(state, ctx, &unknown_client(&client_id));
    }
    let device_code = state.ids.token(48);
    let user_code: String = state
        .ids
        .bytes(9)
        .iter()
        .map(|b| char::from(b'A' + b % 26))
        .collect();
    let expires_at = state.now() + chrono::Duration::seconds(900);
    let scope = field(form, "scope").unwrap_or_default().to_owned();
    state.auth.devices.insert(
        device_code.clone(),
        DeviceGrant {
            client_id,
            scope,
            polls: 0,
            expires_at,
        },
    );
    let uri = "https://microsoft.com/devicelogin";
    ApiResponse::json(
        StatusCode::OK,
        json!({
            "user_code": user_code, "device_code": device_code, "verification_uri": uri, "expires_in": 900,
            "interval": state.auth.device_interval,
            "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
        }),
    )
}

/// `GET /{tenant}/oauth2/v2.0/authorize`: consents at once and redirects (302) to
/// `redirect_uri` with `code` and `state`, or with `error` (§9.3).
pub(crate) fn authorize(
    state: &mut State,
    ctx: &RequestCtx,
    query: &[(String, String)],
) -> ApiResponse {
    let client_id = field(query, "client_id").unwrap_or_default().to_owned();
    let raw_redirect = field(query, "redirect_uri").unwrap_or_default().to_owned();
    let Ok(mut target) = url::Url::parse(&raw_redirect) else {
        let e = OAuthError(
            "invalid_request",
            900_144,
            "The request must contain a valid 'redirect_uri'.".into(),
        );
        return oauth_error(state, ctx, &e);
    };
    // An unknown app gets an error page, not a redirect, as Entra does.
    if !state.auth.clients.contains_key(&client_id) {
        return oauth_error(state, ctx, &unknown_client(&client_id));
    }
    let user = field(query, "login_hint")
        .and_then(|h| state.find_user(h))
        .map(|u| u.id.clone())
        .or_else(|| state.auth.signed_in.clone());
    let method = field(query, "code_challenge_method")
        .unwrap_or("plain")
        .to_owned();
    let outcome = if field(query, "response_type") != Some("code") {
        Err((
            "unsupported_response_type",
            "The provided value for the input parameter 'response_type' is not allowed for this request.",
        ))
    } else if !(method.eq_ignore_ascii_case("S256") || method.eq_ignore_ascii_case("plain")) {
        Err(("invalid_request", "Invalid code_challenge_method."))
    } else if let Some(user) = user {
        let code = format!("0.AXkA{}", state.ids.token(64));
        let grant = CodeGrant {
            client_id,
            redirect_uri: raw_redirect,
            challenge: field(query, "code_challenge").map(|c| (c.to_owned(), method)),
            user,
            scope: field(query, "scope").unwrap_or_default().to_owned(),
            // Entra codes live about 10 minutes.
            expires_at: state.now() + chrono::Duration::minutes(10),
        };
        state.auth.codes.insert(code.clone(), grant);
        Ok(code)
    } else {
        Err(("login_required", "No user is signed in to the emulator."))
    };
    {
        let mut pairs = target.query_pairs_mut();
        match &outcome {
            Ok(code) => {
                pairs.append_pair("code", code);
            }
            Err((error, description)) => {
                pairs.append_pair("error", error);
                pairs.append_pair("error_description", description);
            }
        }
        if let Some(s) = field(query, "state") {
            pairs.append_pair("state", s);
        }
        pairs.append_pair("session_state", &ctx.request_id);
    }
    ApiResponse::empty(StatusCode::FOUND).with_header("Location", target.to_string())
}
