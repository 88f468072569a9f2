//! Signing in to Salesforce: login hosts, the web-server flow with PKCE through the `oauth2`
//! crate, and the token answer's parsing shared with the grants of
//! [`SalesforceTokenFetcher`](crate::SalesforceTokenFetcher).
//!
//! Salesforce answers without `expires_in`: a token is used until the API refuses it.
//! Every call then goes to the answer's `instance_url`, never to the login host.

use std::fmt;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AccessToken, AuthType, AuthUrl, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EndpointNotSet, EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, TokenUrl,
};
use serde::{Deserialize, Serialize};
use url::Url;

use calbridge_http::{
    ExposeSecret, OAuthHttpError, SecretString, TokenSet, body_snippet, oauth_http,
    require_secure_endpoint,
};
use calbridge_provider::ProviderError;

use crate::error::ConfigError;

/// The production (and Developer Edition) login host.
pub const PRODUCTION_LOGIN: &str = "https://login.salesforce.com";
/// The sandbox login host.
pub const SANDBOX_LOGIN: &str = "https://test.salesforce.com";

/// Checks a login host (production, sandbox or a My Domain URL) and returns it without a
/// trailing slash, as the JWT `aud` claim wants it.
///
/// # Errors
/// [`ConfigError::Endpoint`] unless it is https (or http on loopback).
pub fn login_host(login_url: &str) -> Result<Url, ConfigError> {
    let url = require_secure_endpoint(login_url.trim_end_matches('/')).map_err(|e| {
        ConfigError::Endpoint {
            setting: "login_url",
            reason: e.to_string(),
        }
    })?;
    Ok(url)
}

pub(crate) fn endpoint(login: &Url, path: &str) -> Result<Url, ConfigError> {
    login.join(path).map_err(|e| ConfigError::Endpoint {
        setting: "login_url",
        reason: e.to_string(),
    })
}

/// The token answer as `oauth2` parses it: Salesforce's extra fields kept, and a missing
/// `token_type` (older answers) taken as Bearer.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct SfTokenResponse {
    access_token: AccessToken,
    #[serde(default = "bearer")]
    token_type: BasicTokenType,
    #[serde(default)]
    refresh_token: Option<RefreshToken>,
    instance_url: String,
    #[serde(default)]
    pub(crate) id: Option<String>,
    // Salesforce's `scope` is informational here; not parsed.
    #[serde(skip)]
    scopes: Option<Vec<Scope>>,
}

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

impl oauth2::TokenResponse for SfTokenResponse {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }

    fn expires_in(&self) -> Option<std::time::Duration> {
        None
    }

    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

impl SfTokenResponse {
    pub(crate) fn into_tokens(self) -> TokenSet {
        TokenSet {
            access_token: SecretString::from(self.access_token.secret().clone()),
            refresh_token: self
                .refresh_token
                .map(|t| SecretString::from(t.secret().clone())),
            expires_at: None,
            instance_url: Some(self.instance_url),
        }
    }
}

/// Parses a token endpoint's success body (what the grants here do), keeping
/// `instance_url`; a missing `token_type` is taken as Bearer.
///
/// # Errors
/// [`ProviderError::Permanent`] quoting the start of a body that is not a token answer.
pub fn parse_token_response(body: &[u8]) -> Result<TokenSet, ProviderError> {
    serde_json::from_slice::<SfTokenResponse>(body)
        .map(SfTokenResponse::into_tokens)
        .map_err(|e| {
            ProviderError::permanent(format!("not a token answer ({e}): {}", body_snippet(body)))
        })
}

pub(crate) type SfClient = Client<
    BasicErrorResponse,
    SfTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

pub(crate) fn oauth_client(
    login: &Url,
    client_id: &str,
    client_secret: Option<&SecretString>,
) -> Result<SfClient, ConfigError> {
    let auth = AuthUrl::from_url(endpoint(login, "/services/oauth2/authorize")?);
    let token = TokenUrl::from_url(endpoint(login, "/services/oauth2/token")?);
    let mut client = Client::new(ClientId::new(client_id.to_owned()))
        .set_auth_uri(auth)
        .set_token_uri(token)
        // Salesforce documents the credentials as form fields.
        .set_auth_type(AuthType::RequestBody);
    if let Some(secret) = client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()));
    }
    Ok(client)
}

pub(crate) fn token_error(
    error: RequestTokenError<OAuthHttpError, BasicErrorResponse>,
) -> ProviderError {
    match error {
        RequestTokenError::ServerResponse(e) => ProviderError::Auth {
            message: format!(
                "the token endpoint refused the grant: {}{}",
                e.error().as_ref(),
                e.error_description()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ),
        },
        RequestTokenError::Request(e) => ProviderError::Transient {
            retry_after: None,
            message: "the token endpoint could not be reached".into(),
            source: Some(Box::new(e)),
        },
        // An unreadable answer is usually an HTML error page from a proxy: try again later.
        RequestTokenError::Parse(_, body) => ProviderError::transient(format!(
            "the token endpoint sent an unreadable answer: {}",
            body_snippet(&body)
        )),
        RequestTokenError::Other(message) => {
            ProviderError::transient(format!("token endpoint: {message}"))
        }
    }
}

/// An `oauth2` HTTP client whose futures own their reqwest client (a borrowing closure's
/// future is not `Send` for every lifetime, which `async_trait` needs).
pub(crate) fn owned_http(
    http: &reqwest::Client,
) -> impl Fn(
    oauth2::HttpRequest,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, OAuthHttpError>> + Send>,
> {
    let http = http.clone();
    move |request| {
        let http = http.clone();
        Box::pin(async move { oauth_http(&http, request).await })
    }
}

/// The start of a web-server sign-in: send the user to `url`, keep `state` and `verifier`.
#[derive(Debug)]
pub struct AuthorizationStart {
    /// Where the user signs in.
    pub url: Url,
    /// The CSRF state to compare with the callback's `state`.
    pub state: CsrfToken,
    /// The PKCE verifier to send with the code (`Debug` redacts it).
    pub verifier: PkceCodeVerifier,
}

/// The OAuth 2.0 web-server (authorization code) flow with PKCE (S256).
pub struct WebServerFlow {
    client: SfClient,
    http: reqwest::Client,
}

impl fmt::Debug for WebServerFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebServerFlow")
            .field("client_id", &self.client.client_id().as_str())
            .field("token_url", &self.client.token_uri().as_str())
            .finish_non_exhaustive()
    }
}

impl WebServerFlow {
    /// A flow for the connected app `client_id` (with its secret, unless it is a public
    /// client) at `login_url`, calling back to `redirect_uri`.
    ///
    /// # Errors
    /// [`ConfigError`] for an insecure login host or an invalid redirect URI.
    pub fn new(
        login_url: &str,
        client_id: &str,
        client_secret: Option<SecretString>,
        redirect_uri: &str,
    ) -> Result<Self, ConfigError> {
        let login = login_host(login_url)?;
        let redirect =
            RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| ConfigError::Endpoint {
                setting: "redirect_uri",
                reason: e.to_string(),
            })?;
        let client =
            oauth_client(&login, client_id, client_secret.as_ref())?.set_redirect_uri(redirect);
        let http = calbridge_http::build_client(&calbridge_http::ClientOptions::default())
            .map_err(|e| ConfigError::Client(e.to_string()))?;
        Ok(Self { client, http })
    }

    /// Uses this HTTP client (it should not follow redirects).
    #[must_use]
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// The URL to send the user to, asking for `scopes` (e.g. `api`, `refresh_token`).
    #[must_use]
    pub fn authorize_url(&self, scopes: &[&str]) -> AuthorizationStart {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(scopes.iter().map(|s| Scope::new((*s).to_owned())))
            .set_pkce_challenge(challenge)
            .url();
        AuthorizationStart {
            url,
            state,
            verifier,
        }
    }

    /// Exchanges the callback's `code` (with the verifier of its [`AuthorizationStart`]) for
    /// tokens.
    ///
    /// # Errors
    /// [`ProviderError::Auth`] when refused, [`ProviderError::Transient`] when the endpoint
    /// could not be reached.
    pub async fn exchange_code(
        &self,
        code: &str,
        verifier: PkceCodeVerifier,
    ) -> Result<TokenSet, ProviderError> {
        let http = owned_http(&self.http);
        let answer = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .map_err(token_error)?;
        Ok(answer.into_tokens())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_hosts() {
        assert!(login_host(PRODUCTION_LOGIN).is_ok());
        assert!(login_host(SANDBOX_LOGIN).is_ok());
        assert!(login_host("https://acme.my.salesforce.com/").is_ok());
        assert!(login_host("http://login.salesforce.com").is_err());
        assert!(login_host("login.salesforce.com").is_err());
    }

    #[test]
    fn authorize_url_carries_pkce_and_state() {
        let flow = WebServerFlow::new(
            PRODUCTION_LOGIN,
            "3MVG9-client",
            Some(SecretString::from("shh".to_owned())),
            "https://app.example/callback",
        )
        .unwrap();
        let start = flow.authorize_url(&["api", "refresh_token"]);
        let url = start.url.as_str();
        assert!(url.starts_with("https://login.salesforce.com/services/oauth2/authorize?"));
        assert!(url.contains("code_challenge_method=S256"), "{url}");
        assert!(url.contains("code_challenge="), "{url}");
        assert!(
            url.contains(&format!("state={}", start.state.secret())),
            "{url}"
        );
        assert!(url.contains("scope=api+refresh_token"), "{url}");
        assert!(!format!("{flow:?}").contains("shh"));
    }

    #[test]
    fn old_token_answers_without_token_type_parse() {
        let fixture = r#"{"id":"https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P","issued_at":"1278448832702","instance_url":"https://na1.salesforce.com","signature":"0CmxinZir53Yex7nE0TD+zMpvIWYGb/bdJh6XfOH6EQ=","access_token":"00Dx0000000BV7z!AR8AQAxo"}"#;
        let answer: SfTokenResponse = serde_json::from_str(fixture).unwrap();
        let tokens = answer.into_tokens();
        assert_eq!(
            tokens.instance_url.as_deref(),
            Some("https://na1.salesforce.com")
        );
        assert_eq!(
            tokens.access_token.expose_secret(),
            "00Dx0000000BV7z!AR8AQAxo"
        );
        assert!(!format!("{tokens:?}").contains("AR8AQ"));
    }
}
