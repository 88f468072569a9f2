//! [`SalesforceTokenFetcher`]: new tokens for `calbridge_http::TokenSource`, from the
//! refresh-token grant (through `oauth2`) or the JWT bearer grant (RS256 assertions signed
//! with `jsonwebtoken`, sent as a plain form POST: `oauth2` 5 has no such grant).

use std::fmt;

use async_trait::async_trait;
use chrono::Utc;
use oauth2::RefreshToken;
use serde::Serialize;
use url::Url;

use calbridge_http::{ExposeSecret, SecretString, TokenFetcher, TokenSet, body_snippet};
use calbridge_model::SalesforceId;
use calbridge_provider::ProviderError;

use crate::auth::{SfClient, endpoint, login_host, oauth_client, owned_http, token_error};
use crate::error::ConfigError;
use crate::wire::{OAuthErrorBody, TokenResponse, user_from_identity};

/// The JWT bearer grant type.
const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// How long a JWT assertion is valid: Salesforce takes at most three minutes.
const JWT_LIFETIME_SECS: i64 = 180;

/// How a [`SalesforceTokenFetcher`] gets tokens.
enum Grant {
    /// `grant_type=refresh_token` with the refresh token the source holds.
    Refresh(Box<SfClient>),
    /// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with a fresh assertion.
    Jwt {
        client_id: String,
        username: String,
        key: jsonwebtoken::EncodingKey,
        /// The `aud` claim: the login host unless set otherwise.
        audience: Option<String>,
    },
}

/// Gets new tokens from Salesforce's token endpoint, with the refresh-token grant or the
/// JWT bearer grant. `Debug` shows the client id and user, never a secret or key.
pub struct SalesforceTokenFetcher {
    login: Url,
    token_url: Url,
    http: reqwest::Client,
    grant: Grant,
    /// The user the last token answer named (its identity URL).
    user: std::sync::Mutex<Option<SalesforceId>>,
}

impl fmt::Debug for SalesforceTokenFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SalesforceTokenFetcher");
        d.field("login", &self.login.as_str());
        match &self.grant {
            Grant::Refresh(client) => d
                .field("grant", &"refresh_token")
                .field("client_id", &client.client_id().as_str()),
            Grant::Jwt {
                client_id,
                username,
                ..
            } => d
                .field("grant", &"jwt_bearer")
                .field("client_id", client_id)
                .field("username", username),
        };
        d.finish_non_exhaustive()
    }
}

impl SalesforceTokenFetcher {
    fn new(
        login_url: &str,
        grant: impl FnOnce(&Url) -> Result<Grant, ConfigError>,
    ) -> Result<Self, ConfigError> {
        let login = login_host(login_url)?;
        let token_url = endpoint(&login, "/services/oauth2/token")?;
        let http = calbridge_http::build_client(&calbridge_http::ClientOptions::default())
            .map_err(|e| ConfigError::Client(e.to_string()))?;
        let grant = grant(&login)?;
        Ok(Self {
            login,
            token_url,
            http,
            grant,
            user: std::sync::Mutex::new(None),
        })
    }

    /// The refresh-token grant for the connected app `client_id` (with its secret, unless
    /// public) at `login_url`. The refresh token comes from the token source's current
    /// tokens (seed the cache with [`TokenSet`]s from [`WebServerFlow::exchange_code`](crate::WebServerFlow::exchange_code)).
    ///
    /// # Errors
    /// [`ConfigError`] for an insecure login host.
    pub fn refresh_token(
        login_url: &str,
        client_id: &str,
        client_secret: Option<SecretString>,
    ) -> Result<Self, ConfigError> {
        Self::new(login_url, |login| {
            let client = oauth_client(login, client_id, client_secret.as_ref())?;
            Ok(Grant::Refresh(Box::new(client)))
        })
    }

    /// The JWT bearer grant: assertions signed with `private_key_pem` (RSA, PEM) whose
    /// certificate is uploaded to the connected app `client_id`, for `username`.
    ///
    /// # Errors
    /// [`ConfigError`] for an insecure login host or a key that is not RSA PEM.
    pub fn jwt_bearer(
        login_url: &str,
        client_id: &str,
        username: &str,
        private_key_pem: &[u8],
    ) -> Result<Self, ConfigError> {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(private_key_pem)
            .map_err(|e| ConfigError::SigningKey(e.to_string()))?;
        Self::new(login_url, |_| {
            Ok(Grant::Jwt {
                client_id: client_id.to_owned(),
                username: username.to_owned(),
                key,
                audience: None,
            })
        })
    }

    /// Uses this HTTP client (it should not follow redirects).
    #[must_use]
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// The JWT `aud` claim when it is not the login host: Salesforce expects
    /// `https://login.salesforce.com` (or `https://test.salesforce.com` for sandboxes) even
    /// when tokens are requested from a My Domain host. No effect on the refresh grant.
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        if let Grant::Jwt { audience: aud, .. } = &mut self.grant {
            *aud = Some(audience.into());
        }
        self
    }

    /// The signed-in user, as the last token answer's identity URL named it (`None` before
    /// the first fetch).
    #[must_use]
    pub fn user_id(&self) -> Option<SalesforceId> {
        self.user
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn note_identity(&self, identity: Option<&str>) {
        if let Some(user) = identity.and_then(user_from_identity) {
            *self
                .user
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(user);
        }
    }

    /// The signed assertion for the JWT bearer grant.
    fn assertion(
        &self,
        client_id: &str,
        username: &str,
        key: &jsonwebtoken::EncodingKey,
        audience: Option<&str>,
    ) -> Result<String, ProviderError> {
        #[derive(Serialize)]
        struct Claims<'a> {
            iss: &'a str,
            sub: &'a str,
            aud: &'a str,
            exp: i64,
        }
        let claims = Claims {
            iss: client_id,
            sub: username,
            aud: audience.unwrap_or_else(|| self.login.as_str().trim_end_matches('/')),
            exp: Utc::now().timestamp() + JWT_LIFETIME_SECS,
        };
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        jsonwebtoken::encode(&header, &claims, key).map_err(|e| ProviderError::Auth {
            message: format!("the JWT assertion could not be signed: {e}"),
        })
    }

    async fn jwt(
        &self,
        client_id: &str,
        username: &str,
        key: &jsonwebtoken::EncodingKey,
        audience: Option<&str>,
    ) -> Result<TokenSet, ProviderError> {
        let assertion = self.assertion(client_id, username, key, audience)?;
        let response = self
            .http
            .post(self.token_url.clone())
            .form(&[("grant_type", JWT_GRANT), ("assertion", assertion.as_str())])
            .send()
            .await
            .map_err(|e| crate::error::transport("token endpoint", e))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| crate::error::transport("token endpoint", e))?;
        if status.is_success() {
            let answer: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
                ProviderError::transient(format!(
                    "the token endpoint sent an unreadable answer: {}",
                    body_snippet(&body)
                ))
            })?;
            self.note_identity(answer.id.as_deref());
            return Ok(TokenSet {
                access_token: SecretString::from(answer.access_token),
                refresh_token: answer.refresh_token.map(SecretString::from),
                expires_at: None,
                instance_url: Some(answer.instance_url),
            });
        }
        match serde_json::from_slice::<OAuthErrorBody>(&body) {
            Ok(e) if status.is_client_error() => Err(ProviderError::Auth {
                message: format!(
                    "the token endpoint refused the JWT bearer grant: {}{}",
                    e.error,
                    e.error_description
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                ),
            }),
            _ if status.is_server_error() => Err(ProviderError::transient(format!(
                "token endpoint HTTP {}: {}",
                status.as_u16(),
                body_snippet(&body)
            ))),
            _ => Err(ProviderError::Auth {
                message: format!(
                    "token endpoint HTTP {}: {}",
                    status.as_u16(),
                    body_snippet(&body)
                ),
            }),
        }
    }
}

#[async_trait]
impl TokenFetcher for SalesforceTokenFetcher {
    async fn fetch(&self, current: Option<&TokenSet>) -> Result<TokenSet, ProviderError> {
        match &self.grant {
            Grant::Refresh(client) => {
                let Some(refresh) = current.and_then(|t| t.refresh_token.as_ref()) else {
                    return Err(ProviderError::Auth {
                        message: "no refresh token: sign in again".into(),
                    });
                };
                let refresh = RefreshToken::new(refresh.expose_secret().to_owned());
                let http = owned_http(&self.http);
                let answer = client
                    .exchange_refresh_token(&refresh)
                    .request_async(&http)
                    .await
                    .map_err(token_error)?;
                tracing::debug!(login = %self.login, "access token refreshed");
                self.note_identity(answer.id.as_deref());
                Ok(answer.into_tokens())
            }
            Grant::Jwt {
                client_id,
                username,
                key,
                audience,
            } => {
                let tokens = self
                    .jwt(client_id, username, key, audience.as_deref())
                    .await?;
                tracing::debug!(login = %self.login, "access token from a JWT bearer assertion");
                Ok(tokens)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::PRODUCTION_LOGIN;

    #[test]
    fn assertions_carry_the_claims_salesforce_checks() {
        let key = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../calbridge-testkit/tests/data/jwt_test_key.pem"),
        )
        .unwrap();
        let fetcher = SalesforceTokenFetcher::jwt_bearer(
            "https://acme.my.salesforce.com/",
            "3MVG9-app",
            "ada@acme.example",
            &key,
        )
        .unwrap();
        let Grant::Jwt { key, .. } = &fetcher.grant else {
            panic!("not a JWT grant");
        };
        let claims = |audience: Option<&str>| {
            let jwt = fetcher
                .assertion("3MVG9-app", "ada@acme.example", key, audience)
                .unwrap();
            assert!(jwt.starts_with("eyJ"), "{jwt}");
            jsonwebtoken::dangerous::insecure_decode_claims::<serde_json::Value>(&jwt).unwrap()
        };
        let c = claims(None);
        assert_eq!(c["iss"], "3MVG9-app");
        assert_eq!(c["sub"], "ada@acme.example");
        assert_eq!(c["aud"], "https://acme.my.salesforce.com");
        let exp = c["exp"].as_i64().unwrap();
        let now = Utc::now().timestamp();
        assert!(exp > now && exp <= now + 180, "{exp} vs {now}");
        assert_eq!(
            claims(Some("https://login.salesforce.com"))["aud"],
            "https://login.salesforce.com"
        );
        assert!(!format!("{fetcher:?}").contains("PRIVATE"));
    }

    #[test]
    fn a_bad_key_is_a_config_error() {
        let err = SalesforceTokenFetcher::jwt_bearer(PRODUCTION_LOGIN, "c", "u", b"not a key")
            .unwrap_err();
        assert!(matches!(err, ConfigError::SigningKey(_)));
    }
}
