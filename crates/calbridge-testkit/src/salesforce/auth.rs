//! OAuth 2.0 as Salesforce serves it (reference §4): the token endpoint with the
//! refresh-token, authorization-code (+PKCE) and JWT-bearer grants, an auto-consenting
//! authorize endpoint, revocation, and bearer checking for the REST API.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, header};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::{OAuthError, RestError};
use super::state::{AuthCode, SESSION_TTL, State};
use crate::crypto::{base64_decode, base64_std, base64_url, hmac_sha256, sha256};

/// Lifetime of an authorization code.
const CODE_TTL: Duration = Duration::from_secs(15 * 60);

/// Form or query parameters.
pub(crate) type Params = HashMap<String, String>;

pub(crate) fn parse_params(text: &str) -> Params {
    url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

/// Client credentials from the form body, or from HTTP Basic (what the `oauth2` crate sends
/// by default).
fn client_credentials(form: &Params, headers: &HeaderMap) -> (Option<String>, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64_decode(b.trim()))
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let decode = |s: &str| parse_params(&format!("v={s}")).remove("v");
            Some((decode(id)?, decode(secret)?))
        });
    match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (
            form.get("client_id").cloned(),
            form.get("client_secret").cloned(),
        ),
    }
}

/// Checks a presented secret against the connected app; `require` when the flow needs one.
fn check_secret(
    state: &State,
    client_id: &str,
    secret: Option<&str>,
    require: bool,
) -> Result<(), OAuthError> {
    let Some(client) = state.clients.get(client_id) else {
        return Err(OAuthError::new(
            "invalid_client_id",
            "client identifier invalid",
        ));
    };
    match (&client.secret, secret) {
        (Some(expected), Some(given)) if expected == given => Ok(()),
        (Some(_), None) if !require => Ok(()),
        (None, _) => Ok(()),
        _ => Err(OAuthError {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_client",
            description: "invalid client credentials".to_owned(),
        }),
    }
}

/// The §4.3 success body.
fn token_response(
    state: &mut State,
    client_id: Option<&str>,
    user_id: &str,
    refresh: Option<String>,
    scope: &str,
) -> Value {
    let access = state.new_session(user_id, SESSION_TTL);
    let issued_at = chrono::Utc::now().timestamp_millis().to_string();
    let id_url = format!("{}/id/{}/{}", state.base_url, state.org_id, user_id);
    let key = client_id
        .and_then(|c| state.clients.get(c))
        .and_then(|c| c.secret.clone())
        .unwrap_or_default();
    let signature = base64_std(&hmac_sha256(
        key.as_bytes(),
        format!("{id_url}{issued_at}").as_bytes(),
    ));
    let mut body = json!({
        "access_token": access,
        "signature": signature,
        "scope": scope,
        "instance_url": state.base_url,
        "id": id_url,
        "token_type": "Bearer",
        "issued_at": issued_at,
    });
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    body
}

/// `POST /services/oauth2/token`.
pub(crate) fn token(
    state: &mut State,
    form: &Params,
    headers: &HeaderMap,
) -> Result<Value, OAuthError> {
    match form.get("grant_type").map(String::as_str) {
        Some("refresh_token") => refresh_grant(state, form, headers),
        Some("authorization_code") => code_grant(state, form, headers),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => jwt_grant(state, form),
        Some(_) => Err(OAuthError::new(
            "unsupported_grant_type",
            "grant type not supported",
        )),
        None => Err(OAuthError::new("invalid_request", "grant_type is required")),
    }
}

fn refresh_grant(
    state: &mut State,
    form: &Params,
    headers: &HeaderMap,
) -> Result<Value, OAuthError> {
    let (client_id, secret) = client_credentials(form, headers);
    let grant = form
        .get("refresh_token")
        .and_then(|t| state.refresh_tokens.get(t))
        .cloned()
        .ok_or_else(|| OAuthError::invalid_grant("expired access/refresh token"))?;
    let client_id = client_id
        .ok_or_else(|| OAuthError::new("invalid_client_id", "client identifier invalid"))?;
    match &grant.client_id {
        Some(bound) if *bound != client_id => {
            return Err(OAuthError::invalid_grant("expired access/refresh token"));
        }
        Some(_) => check_secret(state, &client_id, secret.as_deref(), false)?,
        // Tokens from `issue_token` belong to no app: any client id may redeem them, but a
        // registered app's secret, when sent, must still be right.
        None if state.clients.contains_key(&client_id) => {
            check_secret(state, &client_id, secret.as_deref(), false)?;
        }
        None => {}
    }
    // No refresh_token in the answer: Salesforce does not rotate by default.
    Ok(token_response(
        state,
        Some(&client_id),
        &grant.user_id,
        None,
        "api refresh_token",
    ))
}

fn code_grant(state: &mut State, form: &Params, headers: &HeaderMap) -> Result<Value, OAuthError> {
    let (client_id, secret) = client_credentials(form, headers);
    let client_id = client_id
        .ok_or_else(|| OAuthError::new("invalid_client_id", "client identifier invalid"))?;
    let code = form
        .get("code")
        .and_then(|c| state.auth_codes.remove(c))
        .filter(|c| c.expires > Instant::now())
        .ok_or_else(|| OAuthError::invalid_grant("expired authorization code"))?;
    if code.client_id != client_id {
        return Err(OAuthError::invalid_grant("authentication failure"));
    }
    check_secret(state, &client_id, secret.as_deref(), true)?;
    if form.get("redirect_uri") != Some(&code.redirect_uri) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri must match configuration",
        ));
    }
    if let Some((method, challenge)) = &code.challenge {
        let verifier = form
            .get("code_verifier")
            .ok_or_else(|| OAuthError::invalid_grant("invalid code verifier"))?;
        let computed = if method == "plain" {
            verifier.clone()
        } else {
            base64_url(&sha256(verifier.as_bytes()))
        };
        if computed != *challenge {
            return Err(OAuthError::new("invalid_request", "invalid code verifier"));
        }
    }
    let wants_refresh = code.scope.is_empty()
        || code
            .scope
            .split_whitespace()
            .any(|s| s == "refresh_token" || s == "offline_access");
    let refresh = wants_refresh.then(|| state.new_refresh_token(&code.user_id, Some(&client_id)));
    let scope = if code.scope.is_empty() {
        "api refresh_token".to_owned()
    } else {
        code.scope.clone()
    };
    Ok(token_response(
        state,
        Some(&client_id),
        &code.user_id,
        refresh,
        &scope,
    ))
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
}

fn jwt_grant(state: &mut State, form: &Params) -> Result<Value, OAuthError> {
    let assertion = form
        .get("assertion")
        .ok_or_else(|| OAuthError::new("invalid_request", "assertion is required"))?;
    let invalid = |why: &str| {
        tracing::debug!(why, "salesforce emulator: JWT assertion refused");
        OAuthError::invalid_grant("invalid assertion")
    };
    // The issuer names the app whose certificate verifies the signature, so it is read
    // before verification and trusted only after.
    let unverified: Claims = jsonwebtoken::dangerous::insecure_decode_claims(assertion)
        .map_err(|e| invalid(&e.to_string()))?;
    let client = state
        .clients
        .get(&unverified.iss)
        .ok_or_else(|| OAuthError::new("invalid_client_id", "client identifier invalid"))?;
    let pem = client
        .certificate_pem
        .as_deref()
        .ok_or_else(|| invalid("the connected app has no certificate"))?;
    let key = DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| invalid(&e.to_string()))?;
    let mut validation = Validation::new(Algorithm::RS256);
    let audience = state.base_url.clone();
    validation.set_audience(&[audience.clone(), format!("{audience}/")]);
    validation.set_issuer(std::slice::from_ref(&unverified.iss));
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    validation.leeway = 0;
    let data = jsonwebtoken::decode::<Claims>(assertion, &key, &validation).map_err(|e| match e
        .kind()
    {
        ErrorKind::InvalidAudience => OAuthError::invalid_grant("audience is invalid"),
        _ => invalid(&e.to_string()),
    })?;
    let user_id = state
        .user_by_name(&data.claims.sub)
        .map(|u| u.id.clone())
        .ok_or_else(|| OAuthError::invalid_grant("user hasn't approved this consumer"))?;
    // The JWT flow never returns a refresh token: clients mint a new assertion instead.
    Ok(token_response(
        state,
        Some(&data.claims.iss),
        &user_id,
        None,
        "api",
    ))
}

/// `GET /services/oauth2/authorize`: consents at once as the `login_hint` user (else the
/// first user) and redirects to `redirect_uri` with `code` and `state`.
pub(crate) fn authorize(state: &mut State, query: &Params) -> Result<String, OAuthError> {
    if query.get("response_type").map(String::as_str) != Some("code") {
        return Err(OAuthError::new(
            "unsupported_response_type",
            "response type not supported",
        ));
    }
    let client_id = query
        .get("client_id")
        .filter(|c| state.clients.contains_key(*c))
        .cloned()
        .ok_or_else(|| OAuthError::new("invalid_client_id", "client identifier invalid"))?;
    let redirect_uri = query
        .get("redirect_uri")
        .cloned()
        .ok_or_else(|| OAuthError::new("redirect_uri_mismatch", "redirect_uri is required"))?;
    let mut location = url::Url::parse(&redirect_uri)
        .map_err(|_| OAuthError::new("redirect_uri_mismatch", "redirect_uri is not a URL"))?;
    let user_id = match query.get("login_hint").and_then(|h| state.user_by_name(h)) {
        Some(u) => u.id.clone(),
        None => state.default_user(),
    };
    // Salesforce hashes the verifier with SHA-256 unless told `plain`.
    let challenge = query.get("code_challenge").map(|c| {
        let method = query
            .get("code_challenge_method")
            .cloned()
            .unwrap_or_else(|| "S256".to_owned());
        (method, c.clone())
    });
    let code = format!("aPrx{}", state.mint_secret("code"));
    state.auth_codes.insert(
        code.clone(),
        AuthCode {
            client_id,
            redirect_uri,
            challenge,
            user_id,
            scope: query.get("scope").cloned().unwrap_or_default(),
            expires: Instant::now() + CODE_TTL,
        },
    );
    {
        let mut pairs = location.query_pairs_mut();
        pairs.append_pair("code", &code);
        if let Some(s) = query.get("state") {
            pairs.append_pair("state", s);
        }
    }
    Ok(location.to_string())
}

/// `POST /services/oauth2/revoke`: forgets an access or refresh token.
pub(crate) fn revoke(state: &mut State, form: &Params) -> Result<(), OAuthError> {
    let token = form.get("token").map(String::as_str).unwrap_or_default();
    let known =
        state.sessions.remove(token).is_some() | state.refresh_tokens.remove(token).is_some();
    if known {
        Ok(())
    } else {
        Err(OAuthError::new("invalid_token", "invalid token"))
    }
}

/// The user behind a REST request's bearer token.
pub(crate) fn bearer(state: &mut State, headers: &HeaderMap) -> Result<String, RestError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("OAuth "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            RestError::bare(
                StatusCode::UNAUTHORIZED,
                "INVALID_AUTH_HEADER",
                "INVALID_HEADER_TYPE",
            )
        })?;
    state.authenticate(token).ok_or_else(|| {
        RestError::bare(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        )
    })
}
