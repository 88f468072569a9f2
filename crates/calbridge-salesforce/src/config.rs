//! [`SalesforceProviderBuilder`]: everything a [`SalesforceProvider`] is configured with.

use std::sync::Arc;
use std::time::Duration;

use calbridge_http::{MemoryTokenCache, TokenCache, TokenFetcher, TokenSource};
use calbridge_model::SalesforceId;

use crate::auth::{PRODUCTION_LOGIN, SANDBOX_LOGIN, login_host};
use crate::client::Api;
use crate::error::ConfigError;
use crate::fetcher::SalesforceTokenFetcher;
use crate::mapping::Mapping;
use crate::provider::SalesforceProvider;

/// The API version used unless another is set (Winter '25; sObject Collections need 42.0,
/// collection upsert 46.0).
pub const DEFAULT_API_VERSION: &str = "v62.0";
/// The most records one sObject Collections request takes.
pub const MAX_BATCH: usize = 200;
/// How far before the last watermark an incremental read starts again: a transaction that
/// commits late can carry a `SystemModstamp` a little in the past.
pub const DEFAULT_WATERMARK_OVERLAP: Duration = Duration::from_secs(5 * 60);

/// Builds a [`SalesforceProvider`].
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use calbridge_salesforce::SalesforceProvider;
/// let key = std::fs::read("connected-app-key.pem")?;
/// let provider = SalesforceProvider::builder()
///     .login_url("https://acme.my.salesforce.com")
///     .jwt_bearer("3MVG9-consumer-key", "sync.user@acme.example", &key)?
///     .external_id_field("Calbridge_Key__c")
///     .snap_fields(["Type", "Meeting_Outcome__c"])
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SalesforceProviderBuilder {
    login_url: String,
    api_version: String,
    owner: Option<String>,
    external_id_field: Option<String>,
    snap_fields: Vec<String>,
    tokens: Option<Arc<TokenSource>>,
    identity: Option<Arc<SalesforceTokenFetcher>>,
    http: Option<reqwest::Client>,
    batch_size: usize,
    overlap: Duration,
}

impl Default for SalesforceProviderBuilder {
    fn default() -> Self {
        Self {
            login_url: PRODUCTION_LOGIN.to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            owner: None,
            external_id_field: None,
            snap_fields: Vec::new(),
            tokens: None,
            identity: None,
            http: None,
            batch_size: MAX_BATCH,
            overlap: DEFAULT_WATERMARK_OVERLAP,
        }
    }
}

impl SalesforceProviderBuilder {
    /// The login host: [`PRODUCTION_LOGIN`] (the default), [`SANDBOX_LOGIN`] or a My Domain
    /// URL. Used by the grants set up here ([`Self::jwt_bearer`], [`Self::refresh_token`]);
    /// API calls go to the token's `instance_url`.
    #[must_use]
    pub fn login_url(mut self, url: impl Into<String>) -> Self {
        self.login_url = url.into();
        self
    }

    /// Sign in to a sandbox ([`SANDBOX_LOGIN`]).
    #[must_use]
    pub fn sandbox(self) -> Self {
        self.login_url(SANDBOX_LOGIN)
    }

    /// The REST API version, `vNN.N` (default [`DEFAULT_API_VERSION`]).
    #[must_use]
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }

    /// The user (005…) or public calendar (023…) whose events sync. Default: the signed-in
    /// user, from the identity URL of the token answer when this builder set up the grant
    /// (or [`Self::identity_from`]), else read once from `/services/oauth2/userinfo`.
    #[must_use]
    pub fn owner(mut self, id: impl Into<String>) -> Self {
        self.owner = Some(id.into());
        self
    }

    /// A custom text field marked External ID + Unique (e.g. `Calbridge_Key__c`) that holds
    /// each create's idempotency key: creates become upserts, so a retried create never
    /// makes a second event. Without it creates are plain, and the engine's intent records
    /// cover crash recovery.
    #[must_use]
    pub fn external_id_field(mut self, name: impl Into<String>) -> Self {
        self.external_id_field = Some(name.into());
        self
    }

    /// The Event fields users may set as snap fields (API names, e.g. `Type`,
    /// `Meeting_Outcome__c`). Others are refused before anything is sent.
    #[must_use]
    pub fn snap_fields<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.snap_fields = names.into_iter().map(Into::into).collect();
        self
    }

    /// Where access tokens come from (with its cache and refresh).
    #[must_use]
    pub fn token_source(mut self, tokens: Arc<TokenSource>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// Tokens from the JWT bearer grant at the login host, kept in memory.
    ///
    /// # Errors
    /// [`ConfigError`] for an insecure login host or a key that is not RSA PEM.
    pub fn jwt_bearer(
        self,
        client_id: &str,
        username: &str,
        private_key_pem: &[u8],
    ) -> Result<Self, ConfigError> {
        let fetcher = SalesforceTokenFetcher::jwt_bearer(
            &self.login_url,
            client_id,
            username,
            private_key_pem,
        )?;
        let key = format!("salesforce:{}:{username}", self.login_url);
        Ok(self.fetcher(fetcher, Arc::new(MemoryTokenCache::default()), key))
    }

    /// Tokens from the refresh-token grant at the login host, kept in `cache` under `key`
    /// (which must already hold the tokens of a sign-in, see
    /// [`WebServerFlow`](crate::WebServerFlow)).
    ///
    /// # Errors
    /// [`ConfigError`] for an insecure login host.
    pub fn refresh_token(
        self,
        client_id: &str,
        client_secret: Option<calbridge_http::SecretString>,
        cache: Arc<dyn TokenCache>,
        key: &str,
    ) -> Result<Self, ConfigError> {
        let fetcher =
            SalesforceTokenFetcher::refresh_token(&self.login_url, client_id, client_secret)?;
        Ok(self.fetcher(fetcher, cache, key.to_owned()))
    }

    fn fetcher(
        mut self,
        fetcher: SalesforceTokenFetcher,
        cache: Arc<dyn TokenCache>,
        key: String,
    ) -> Self {
        let fetcher = match &self.http {
            Some(http) => fetcher.with_http_client(http.clone()),
            None => fetcher,
        };
        let fetcher = Arc::new(fetcher);
        self.identity = Some(Arc::clone(&fetcher));
        let source = TokenSource::new(fetcher as Arc<dyn TokenFetcher>, cache, key);
        self.tokens = Some(Arc::new(source));
        self
    }

    /// Where the default owner comes from when the token source was built elsewhere: the
    /// user named by this fetcher's last token answer (its identity URL). Without it (and
    /// without [`Self::owner`]) the owner is asked from `/services/oauth2/userinfo`.
    #[must_use]
    pub fn identity_from(mut self, fetcher: Arc<SalesforceTokenFetcher>) -> Self {
        self.identity = Some(fetcher);
        self
    }

    /// Uses this HTTP client for API calls (it should not follow redirects; see
    /// `calbridge_http::build_client`). Set it before [`Self::jwt_bearer`] or
    /// [`Self::refresh_token`] for the token endpoint to use it too.
    #[must_use]
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Records per sObject Collections request, and writes per `apply` (1–200, default 200).
    #[must_use]
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = size;
        self
    }

    /// How far back an incremental read starts before the last watermark (default five
    /// minutes).
    #[must_use]
    pub fn watermark_overlap(mut self, overlap: Duration) -> Self {
        self.overlap = overlap;
        self
    }

    /// Checks the settings and builds the provider.
    ///
    /// # Errors
    /// [`ConfigError`] naming the setting at fault.
    pub fn build(self) -> Result<SalesforceProvider, ConfigError> {
        login_host(&self.login_url)?;
        if !valid_version(&self.api_version) {
            return Err(ConfigError::ApiVersion(self.api_version));
        }
        if !(1..=MAX_BATCH).contains(&self.batch_size) {
            return Err(ConfigError::BatchSize(self.batch_size));
        }
        let owner = match self.owner {
            Some(raw) => {
                let id = SalesforceId::parse_field("owner", &raw)
                    .map_err(|_| ConfigError::Owner(raw.chars().take(64).collect()))?;
                if !["005", "023"].contains(&id.key_prefix()) {
                    return Err(ConfigError::Owner(raw));
                }
                Some(id)
            }
            None => None,
        };
        let mapping = Mapping::new(self.snap_fields, self.external_id_field)?;
        let tokens = self.tokens.ok_or(ConfigError::Missing("token_source"))?;
        let http = match self.http {
            Some(http) => http,
            None => calbridge_http::build_client(&calbridge_http::ClientOptions::default())
                .map_err(|e| ConfigError::Client(e.to_string()))?,
        };
        let api = Api::new(http, tokens, self.api_version);
        Ok(SalesforceProvider::new(
            api,
            mapping,
            owner,
            self.identity,
            self.batch_size,
            self.overlap,
        ))
    }
}

/// `vNN.N`, as the REST paths spell versions.
fn valid_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else {
        return false;
    };
    let Some((major, minor)) = rest.split_once('.') else {
        return false;
    };
    !major.is_empty()
        && !minor.is_empty()
        && major.chars().all(|c| c.is_ascii_digit())
        && minor.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct NoTokens;

    #[async_trait::async_trait]
    impl TokenFetcher for NoTokens {
        async fn fetch(
            &self,
            _: Option<&calbridge_http::TokenSet>,
        ) -> Result<calbridge_http::TokenSet, calbridge_provider::ProviderError> {
            Err(calbridge_provider::ProviderError::Auth {
                message: "none".into(),
            })
        }
    }

    fn source() -> Arc<TokenSource> {
        Arc::new(TokenSource::new(
            Arc::new(NoTokens),
            Arc::new(MemoryTokenCache::default()),
            "k",
        ))
    }

    #[test]
    fn settings_are_checked() {
        let b = || SalesforceProvider::builder().token_source(source());
        assert!(b().build().is_ok());
        assert!(matches!(
            SalesforceProvider::builder().build(),
            Err(ConfigError::Missing("token_source"))
        ));
        assert!(matches!(
            b().api_version("62").build(),
            Err(ConfigError::ApiVersion(_))
        ));
        assert!(b().api_version("v59.0").build().is_ok());
        assert!(matches!(
            b().batch_size(201).build(),
            Err(ConfigError::BatchSize(201))
        ));
        assert!(matches!(
            b().batch_size(0).build(),
            Err(ConfigError::BatchSize(0))
        ));
        assert!(matches!(
            b().login_url("http://login.salesforce.com").build(),
            Err(ConfigError::Endpoint { .. })
        ));
        assert!(b().sandbox().build().is_ok());
        assert!(matches!(
            b().owner("001A0000006Vm9r").build(),
            Err(ConfigError::Owner(_))
        ));
        assert!(matches!(
            b().owner("nope").build(),
            Err(ConfigError::Owner(_))
        ));
        assert!(b().owner("0055Y00000Gd0iO").build().is_ok());
        assert!(matches!(
            b().snap_fields(["Subject"]).build(),
            Err(ConfigError::FieldName { .. })
        ));
        assert!(matches!(
            b().snap_fields(["Type, Id FROM User"]).build(),
            Err(ConfigError::FieldName { .. })
        ));
        assert!(matches!(
            b().external_id_field("Key__c")
                .snap_fields(["Key__c"])
                .build(),
            Err(ConfigError::FieldName { .. })
        ));
        let p = b()
            .external_id_field("Calbridge_Key__c")
            .snap_fields(["Type"])
            .build()
            .unwrap();
        assert!(calbridge_provider::CalendarProvider::capabilities(&p).idempotent_creates);
    }
}
