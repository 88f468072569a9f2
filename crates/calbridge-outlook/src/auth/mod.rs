//! Signing in to Microsoft Graph through the Microsoft identity platform (v2.0 endpoints),
//! with the `oauth2` crate: authorization code with PKCE and device code for a user,
//! client credentials for app-only access to `/users/{id}`, and a [`GraphTokenFetcher`] that
//! lets [`TokenSource`](calbridge_http::TokenSource) refresh tokens.
//!
//! Secrets (client secret, tokens, PKCE verifier, device code) are [`SecretString`]s or
//! `oauth2` secret types: they never appear in `Debug` output or logs.

use std::time::Duration;

use chrono::Utc;
use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    DeviceAuthorizationResponse, DeviceAuthorizationUrl, EndpointNotSet, EndpointSet,
    ErrorResponse, ExtraDeviceAuthorizationFields, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use url::Url;

use calbridge_http::{
    ClientOptions, OAuthHttpError, TokenSet, build_client, oauth_http, require_secure_endpoint,
};
use calbridge_provider::ProviderError;

/// The public Microsoft identity platform.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// The delegated scopes calbridge asks a user for: own and shared calendars, and a refresh
/// token (`offline_access`).
pub const DELEGATED_SCOPES: [&str; 3] = [
    "Calendars.ReadWrite",
    "Calendars.ReadWrite.Shared",
    "offline_access",
];

/// The app-only scope: the application permissions an admin granted.
pub const APP_ONLY_SCOPE: &str = "https://graph.microsoft.com/.default";

/// Why signing in failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The configuration cannot work (a bad URL, a missing redirect URI or secret).
    #[error("invalid sign-in configuration: {0}")]
    Config(String),
    /// The identity platform refused (`invalid_grant`, `expired_token`,
    /// `authorization_declined`, …): sign in again.
    #[error("the identity platform refused: {code}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Refused {
        /// The OAuth error code.
        code: String,
        /// Its description, when given.
        description: Option<String>,
    },
    /// The identity platform could not be reached.
    #[error("cannot reach the identity platform: {0}")]
    Transport(String),
    /// The identity platform answered something that is not a token response.
    #[error("unexpected answer from the identity platform: {0}")]
    Unexpected(String),
}

impl From<AuthError> for ProviderError {
    fn from(error: AuthError) -> Self {
        match &error {
            AuthError::Refused { code, .. } if code == "temporarily_unavailable" => {
                Self::transient(error.to_string())
            }
            AuthError::Transport(_) | AuthError::Unexpected(_) => {
                Self::transient(error.to_string())
            }
            AuthError::Config(_) | AuthError::Refused { .. } => Self::Auth {
                message: error.to_string(),
            },
        }
    }
}

fn request_error<T>(error: RequestTokenError<OAuthHttpError, T>) -> AuthError
where
    T: ErrorResponse + ErrorParts + 'static,
{
    match error {
        RequestTokenError::ServerResponse(response) => {
            let (code, description) = response.parts();
            AuthError::Refused { code, description }
        }
        RequestTokenError::Request(e) => AuthError::Transport(e.to_string()),
        RequestTokenError::Parse(e, body) => AuthError::Unexpected(format!(
            "{e}; body: {}",
            calbridge_http::body_snippet(&body)
        )),
        RequestTokenError::Other(message) => AuthError::Unexpected(message),
    }
}

/// The code and description of an OAuth error response, whatever its code type.
trait ErrorParts {
    fn parts(&self) -> (String, Option<String>);
}

impl<T> ErrorParts for oauth2::StandardErrorResponse<T>
where
    T: oauth2::ErrorResponseType + AsRef<str>,
{
    fn parts(&self) -> (String, Option<String>) {
        (
            self.error().as_ref().to_owned(),
            self.error_description().cloned(),
        )
    }
}

type CodeClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;
type DeviceClient =
    BasicClient<EndpointNotSet, EndpointSet, EndpointNotSet, EndpointNotSet, EndpointSet>;
type TokenClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The `oauth2` crate's view of our HTTP client. A named type rather than a closure: the
/// futures of a closure borrowing the client are not `Send` for every lifetime, which
/// `TokenFetcher` (an `async_trait`) needs.
struct OAuthClient<'a>(&'a reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for OAuthClient<'_> {
    type Error = OAuthHttpError;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<oauth2::HttpResponse, OAuthHttpError>>
                + Send
                + 'c,
        >,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(oauth_http(self.0, request))
    }
}

/// Microsoft's extra device-authorization field: a message to show the user.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct MicrosoftDeviceFields {
    #[serde(default)]
    message: Option<String>,
}

impl ExtraDeviceAuthorizationFields for MicrosoftDeviceFields {}

/// A started authorization-code sign-in: send the user's browser to `url`, then give the
/// `code` it comes back with, after checking `state`, to [`GraphAuth::exchange_code`]
/// together with `pkce_verifier`.
#[derive(Debug)]
pub struct AuthorizeRequest {
    /// Where the browser goes.
    pub url: Url,
    /// The anti-CSRF state the redirect must carry back (it is in `url` too).
    pub state: String,
    /// The PKCE verifier for the code exchange.
    pub pkce_verifier: SecretString,
}

/// A started device-code sign-in: show the user `user_code` and `verification_uri` (or
/// `message`), then call [`GraphAuth::finish_device_flow`].
pub struct DeviceCode {
    /// The code the user types.
    pub user_code: String,
    /// Where the user types it.
    pub verification_uri: String,
    /// Microsoft's ready-made instruction for the user, when given.
    pub message: Option<String>,
    /// How long the codes stay valid.
    pub expires_in: Duration,
    /// How long to wait between polls (the platform may ask for more with `slow_down`).
    pub interval: Duration,
    details: DeviceAuthorizationResponse<MicrosoftDeviceFields>,
}

impl std::fmt::Debug for DeviceCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The device code itself is a bearer secret until it is redeemed.
        f.debug_struct("DeviceCode")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// An application registered with the Microsoft identity platform, and where it signs in.
#[derive(Clone)]
pub struct GraphAuth {
    authority: Url,
    tenant: String,
    client_id: String,
    client_secret: Option<SecretString>,
    redirect_uri: Option<String>,
    scopes: Vec<String>,
    http: reqwest::Client,
}

impl std::fmt::Debug for GraphAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphAuth")
            .field("authority", &self.authority.as_str())
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl GraphAuth {
    /// A public client (no secret) `client_id`, on the public authority, tenant `common`,
    /// asking for [`DELEGATED_SCOPES`].
    ///
    /// # Errors
    /// [`AuthError::Config`] when the HTTP client cannot be built.
    pub fn new(client_id: impl Into<String>) -> Result<Self, AuthError> {
        let http = build_client(&ClientOptions::default())
            .map_err(|e| AuthError::Config(e.to_string()))?;
        Ok(Self {
            authority: Url::parse(DEFAULT_AUTHORITY)
                .map_err(|e| AuthError::Config(e.to_string()))?,
            tenant: "common".into(),
            client_id: client_id.into(),
            client_secret: None,
            redirect_uri: None,
            scopes: DELEGATED_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            http,
        })
    }

    /// Another authority (a national cloud, or an emulator on loopback). Must be `https`,
    /// or `http` on loopback.
    ///
    /// # Errors
    /// [`AuthError::Config`] for an insecure or invalid URL.
    pub fn with_authority(mut self, authority: &str) -> Result<Self, AuthError> {
        self.authority =
            require_secure_endpoint(authority).map_err(|e| AuthError::Config(e.to_string()))?;
        Ok(self)
    }

    /// The tenant: its id or domain, `common`, `organizations` or `consumers`. Client
    /// credentials need a real tenant.
    #[must_use]
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = tenant.into();
        self
    }

    /// A confidential client's secret (web apps, client credentials).
    #[must_use]
    pub fn with_client_secret(mut self, secret: SecretString) -> Self {
        self.client_secret = Some(secret);
        self
    }

    /// The redirect URI registered for the authorization-code flow.
    #[must_use]
    pub fn with_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }

    /// Other scopes than [`DELEGATED_SCOPES`].
    #[must_use]
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The HTTP client for the token endpoints (it should not follow redirects).
    #[must_use]
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    fn endpoint(&self, leaf: &str) -> String {
        format!(
            "{}/{}/oauth2/v2.0/{leaf}",
            self.authority.as_str().trim_end_matches('/'),
            self.tenant
        )
    }

    fn token_url(&self) -> Result<TokenUrl, AuthError> {
        TokenUrl::new(self.endpoint("token")).map_err(|e| AuthError::Config(e.to_string()))
    }

    fn base_client(&self) -> Result<TokenClient, AuthError> {
        let mut client = BasicClient::new(ClientId::new(self.client_id.clone()))
            // Microsoft accepts credentials in the body for every flow; public clients send
            // only `client_id` there.
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(self.token_url()?);
        if let Some(secret) = &self.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()));
        }
        Ok(client)
    }

    fn code_client(&self) -> Result<CodeClient, AuthError> {
        let redirect = self.redirect_uri.clone().ok_or_else(|| {
            AuthError::Config("the authorization-code flow needs a redirect URI".into())
        })?;
        let auth_url = AuthUrl::new(self.endpoint("authorize"))
            .map_err(|e| AuthError::Config(e.to_string()))?;
        let redirect = RedirectUrl::new(redirect).map_err(|e| AuthError::Config(e.to_string()))?;
        Ok(self
            .base_client()?
            .set_auth_uri(auth_url)
            .set_redirect_uri(redirect))
    }

    fn device_client(&self) -> Result<DeviceClient, AuthError> {
        let url = DeviceAuthorizationUrl::new(self.endpoint("devicecode"))
            .map_err(|e| AuthError::Config(e.to_string()))?;
        Ok(self.base_client()?.set_device_authorization_url(url))
    }

    fn scopes(&self) -> impl Iterator<Item = Scope> + '_ {
        self.scopes.iter().map(|s| Scope::new(s.clone()))
    }

    /// Starts the authorization-code flow with PKCE (S256).
    ///
    /// # Errors
    /// [`AuthError::Config`] without a redirect URI or with bad URLs.
    pub fn authorize_url(&self) -> Result<AuthorizeRequest, AuthError> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .code_client()?
            .authorize_url(CsrfToken::new_random)
            .add_scopes(self.scopes())
            .set_pkce_challenge(challenge)
            .url();
        Ok(AuthorizeRequest {
            url,
            state: state.secret().clone(),
            pkce_verifier: SecretString::from(verifier.secret().clone()),
        })
    }

    /// Redeems an authorization code.
    ///
    /// # Errors
    /// [`AuthError::Refused`] (`invalid_grant`: the code or verifier is wrong or expired),
    /// or another [`AuthError`].
    pub async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &SecretString,
    ) -> Result<TokenSet, AuthError> {
        let http = OAuthClient(&self.http);
        let scope = self.scopes.join(" ");
        let response = self
            .code_client()?
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(
                pkce_verifier.expose_secret().to_owned(),
            ))
            // Microsoft wants the scopes again when redeeming the code.
            .add_extra_param("scope", scope)
            .request_async(&http)
            .await
            .map_err(request_error)?;
        Ok(token_set(&response))
    }

    /// Starts the device-code flow.
    ///
    /// # Errors
    /// An [`AuthError`].
    pub async fn start_device_flow(&self) -> Result<DeviceCode, AuthError> {
        let http = OAuthClient(&self.http);
        let details: DeviceAuthorizationResponse<MicrosoftDeviceFields> = self
            .device_client()?
            .exchange_device_code()
            .add_scopes(self.scopes())
            .request_async(&http)
            .await
            .map_err(request_error)?;
        Ok(DeviceCode {
            user_code: details.user_code().secret().clone(),
            verification_uri: details.verification_uri().to_string(),
            message: details.extra_fields().message.clone(),
            expires_in: details.expires_in(),
            interval: details.interval(),
            details,
        })
    }

    /// Polls until the user finished the device-code sign-in: waits `interval` between
    /// polls, keeps polling on `authorization_pending`, waits longer on `slow_down`, and
    /// stops on `authorization_declined`, `expired_token` or when the codes expire.
    ///
    /// # Errors
    /// [`AuthError::Refused`] when the user declined or the code expired; another
    /// [`AuthError`].
    pub async fn finish_device_flow(&self, device: &DeviceCode) -> Result<TokenSet, AuthError> {
        let http = OAuthClient(&self.http);
        let client = self.device_client()?;
        let response = client
            .exchange_device_access_token(&device.details)
            .request_async(&http, tokio::time::sleep, Some(device.expires_in))
            .await
            .map_err(request_error)?;
        Ok(token_set(&response))
    }

    /// Gets an app-only token (client credentials) for [`APP_ONLY_SCOPE`], whatever scopes
    /// were configured for users.
    ///
    /// # Errors
    /// [`AuthError::Config`] without a client secret; another [`AuthError`].
    pub async fn client_credentials(&self) -> Result<TokenSet, AuthError> {
        if self.client_secret.is_none() {
            return Err(AuthError::Config(
                "client credentials need a client secret".into(),
            ));
        }
        let http = OAuthClient(&self.http);
        let response = self
            .base_client()?
            .exchange_client_credentials()
            .add_scope(Scope::new(APP_ONLY_SCOPE.to_owned()))
            .request_async(&http)
            .await
            .map_err(request_error)?;
        Ok(token_set(&response))
    }

    /// Exchanges a refresh token for new tokens. The scopes are always sent: without them
    /// some tenants answer AADSTS90009.
    ///
    /// # Errors
    /// [`AuthError::Refused`] (`invalid_grant`: sign in again), or another [`AuthError`].
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenSet, AuthError> {
        let http = OAuthClient(&self.http);
        let token = RefreshToken::new(refresh_token.expose_secret().to_owned());
        let response = self
            .base_client()?
            .exchange_refresh_token(&token)
            .add_scopes(self.scopes())
            .request_async(&http)
            .await
            .map_err(request_error)?;
        Ok(token_set(&response))
    }
}

fn token_set(response: &BasicTokenResponse) -> TokenSet {
    TokenSet {
        access_token: SecretString::from(response.access_token().secret().clone()),
        refresh_token: response
            .refresh_token()
            .map(|t| SecretString::from(t.secret().clone())),
        expires_at: response
            .expires_in()
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .map(|d| Utc::now() + d),
        instance_url: None,
    }
}

mod fetcher;

pub use fetcher::{Grant, GraphTokenFetcher};

#[cfg(test)]
mod tests;
