//! OAuth tokens: what they are, where they are kept, and how a connector always has a valid
//! one.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};
use thiserror::Error;
use tokio::sync::Mutex;

use calbridge_provider::ProviderError;

/// Tokens from an OAuth token endpoint. `Debug` never shows them.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenSet {
    /// The access token.
    #[serde(serialize_with = "expose")]
    pub access_token: SecretString,
    /// The refresh token, when the grant gave one.
    #[serde(
        default,
        serialize_with = "expose_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub refresh_token: Option<SecretString>,
    /// When the access token expires, when the endpoint said.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Where API calls go (Salesforce's `instance_url`).
    #[serde(default)]
    pub instance_url: Option<String>,
}

fn expose<S: Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose_secret())
}

fn expose_opt<S: Serializer>(secret: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => s.serialize_str(secret.expose_secret()),
        None => s.serialize_none(),
    }
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .field("instance_url", &self.instance_url)
            .finish()
    }
}

impl TokenSet {
    /// Whether the access token is still good for at least `margin`.
    #[must_use]
    pub fn is_fresh(&self, now: DateTime<Utc>, margin: Duration) -> bool {
        match self.expires_at {
            Some(at) => chrono::Duration::from_std(margin).is_ok_and(|m| at - m > now),
            // Unknown expiry: use it until the service refuses it.
            None => true,
        }
    }
}

/// Why the token cache failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TokenCacheError {
    /// The cache file can be read by other users: calbridge refuses to use it.
    #[error(
        "the token cache {path} is readable by other users (mode {mode:o}); run `chmod 600` on it"
    )]
    InsecurePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file could not be read or written.
    #[error("token cache {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a token cache.
    #[error("token cache {path} is unreadable: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Where tokens are kept between runs, by key (one per account and endpoint).
#[async_trait]
pub trait TokenCache: Send + Sync + fmt::Debug {
    /// The tokens stored under `key`.
    ///
    /// # Errors
    /// [`TokenCacheError`].
    async fn load(&self, key: &str) -> Result<Option<TokenSet>, TokenCacheError>;

    /// Stores tokens under `key`.
    ///
    /// # Errors
    /// [`TokenCacheError`].
    async fn store(&self, key: &str, tokens: &TokenSet) -> Result<(), TokenCacheError>;

    /// Forgets the tokens under `key` (sign-out).
    ///
    /// # Errors
    /// [`TokenCacheError`].
    async fn clear(&self, key: &str) -> Result<(), TokenCacheError>;
}

/// Tokens in memory only.
#[derive(Debug, Default)]
pub struct MemoryTokenCache {
    tokens: std::sync::Mutex<BTreeMap<String, TokenSet>>,
}

#[async_trait]
impl TokenCache for MemoryTokenCache {
    async fn load(&self, key: &str) -> Result<Option<TokenSet>, TokenCacheError> {
        let tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(tokens.get(key).cloned())
    }

    async fn store(&self, key: &str, tokens: &TokenSet) -> Result<(), TokenCacheError> {
        let mut all = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        all.insert(key.to_owned(), tokens.clone());
        Ok(())
    }

    async fn clear(&self, key: &str) -> Result<(), TokenCacheError> {
        let mut all = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        all.remove(key);
        Ok(())
    }
}

/// Tokens in a JSON file that only its owner may read (created with mode 0600; a file other
/// users can read is refused, not silently used).
#[derive(Debug)]
pub struct FileTokenCache {
    path: PathBuf,
    lock: Mutex<()>,
}

impl FileTokenCache {
    /// A cache in `path` (created on first store).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> TokenCacheError {
        TokenCacheError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn read_all(&self) -> Result<BTreeMap<String, TokenSet>, TokenCacheError> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(self.io(e)),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(TokenCacheError::InsecurePermissions {
                    path: self.path.clone(),
                    mode,
                });
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        let text = std::fs::read_to_string(&self.path).map_err(|e| self.io(e))?;
        serde_json::from_str(&text).map_err(|e| TokenCacheError::Corrupt {
            path: self.path.clone(),
            reason: e.to_string(),
        })
    }

    fn write_all(&self, all: &BTreeMap<String, TokenSet>) -> Result<(), TokenCacheError> {
        let text = serde_json::to_string_pretty(all).map_err(|e| TokenCacheError::Corrupt {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        let tmp = self.path.with_extension("tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        {
            use std::io::Write as _;
            let mut file = options.open(&tmp).map_err(|e| self.io(e))?;
            file.write_all(text.as_bytes()).map_err(|e| self.io(e))?;
            file.sync_all().map_err(|e| self.io(e))?;
        }
        // Rename is atomic: a crash leaves the old file or the new one, never half of one.
        std::fs::rename(&tmp, &self.path).map_err(|e| self.io(e))
    }
}

#[async_trait]
impl TokenCache for FileTokenCache {
    async fn load(&self, key: &str) -> Result<Option<TokenSet>, TokenCacheError> {
        let _guard = self.lock.lock().await;
        Ok(self.read_all()?.remove(key))
    }

    async fn store(&self, key: &str, tokens: &TokenSet) -> Result<(), TokenCacheError> {
        let _guard = self.lock.lock().await;
        let mut all = self.read_all()?;
        all.insert(key.to_owned(), tokens.clone());
        self.write_all(&all)
    }

    async fn clear(&self, key: &str) -> Result<(), TokenCacheError> {
        let _guard = self.lock.lock().await;
        let mut all = self.read_all()?;
        if all.remove(key).is_some() {
            self.write_all(&all)?;
        }
        Ok(())
    }
}

/// Gets new tokens from a token endpoint: a connector's grant (refresh token, client
/// credentials, JWT bearer).
#[async_trait]
pub trait TokenFetcher: Send + Sync + fmt::Debug {
    /// New tokens; `current` is what the source holds (with its refresh token, if any).
    ///
    /// # Errors
    /// [`ProviderError::Auth`] when the grant is refused (sign in again);
    /// [`ProviderError::Transient`] when the endpoint could not be reached.
    async fn fetch(&self, current: Option<&TokenSet>) -> Result<TokenSet, ProviderError>;
}

/// Keeps a connector supplied with a valid access token: from the cache, refreshed a margin
/// before it expires, and refreshed once when the API refuses it. Concurrent callers share
/// one refresh.
#[derive(Debug)]
pub struct TokenSource {
    fetcher: Arc<dyn TokenFetcher>,
    cache: Arc<dyn TokenCache>,
    key: String,
    margin: Duration,
    current: Mutex<Option<TokenSet>>,
}

impl TokenSource {
    /// A source using `fetcher`, keeping tokens in `cache` under `key`.
    pub fn new(
        fetcher: Arc<dyn TokenFetcher>,
        cache: Arc<dyn TokenCache>,
        key: impl Into<String>,
    ) -> Self {
        Self {
            fetcher,
            cache,
            key: key.into(),
            margin: Duration::from_secs(120),
            current: Mutex::new(None),
        }
    }

    /// Refresh this long before expiry (default two minutes).
    #[must_use]
    pub fn with_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    fn cache_error(e: TokenCacheError) -> ProviderError {
        ProviderError::Auth {
            message: e.to_string(),
        }
    }

    /// A token good for at least the margin.
    ///
    /// # Errors
    /// The fetcher's error, or [`ProviderError::Auth`] when the cache is unusable.
    pub async fn token(&self) -> Result<TokenSet, ProviderError> {
        let mut current = self.current.lock().await;
        if current.is_none() {
            *current = self
                .cache
                .load(&self.key)
                .await
                .map_err(Self::cache_error)?;
        }
        if let Some(tokens) = current.as_ref()
            && tokens.is_fresh(Utc::now(), self.margin)
        {
            return Ok(tokens.clone());
        }
        self.refresh_locked(&mut current).await
    }

    /// The API refused `rejected`: refresh once (unless another caller already did) and
    /// return the new token.
    ///
    /// # Errors
    /// As [`TokenSource::token`].
    pub async fn refresh_after_rejection(
        &self,
        rejected: &SecretString,
    ) -> Result<TokenSet, ProviderError> {
        let mut current = self.current.lock().await;
        if let Some(tokens) = current.as_ref()
            && tokens.access_token.expose_secret() != rejected.expose_secret()
        {
            return Ok(tokens.clone());
        }
        self.refresh_locked(&mut current).await
    }

    async fn refresh_locked(
        &self,
        current: &mut Option<TokenSet>,
    ) -> Result<TokenSet, ProviderError> {
        tracing::debug!(key = %self.key, "fetching a new access token");
        let mut fresh = self.fetcher.fetch(current.as_ref()).await?;
        // Endpoints often omit the refresh token when it did not change.
        if fresh.refresh_token.is_none() {
            fresh.refresh_token = current.as_ref().and_then(|t| t.refresh_token.clone());
        }
        self.cache
            .store(&self.key, &fresh)
            .await
            .map_err(Self::cache_error)?;
        *current = Some(fresh.clone());
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn tokens(access: &str, expires_in: i64) -> TokenSet {
        TokenSet {
            access_token: SecretString::from(access.to_owned()),
            refresh_token: Some(SecretString::from("refresh-secret".to_owned())),
            expires_at: Some(Utc::now() + chrono::Duration::seconds(expires_in)),
            instance_url: None,
        }
    }

    #[derive(Debug, Default)]
    struct Counting(AtomicU32);

    #[async_trait]
    impl TokenFetcher for Counting {
        async fn fetch(&self, _: Option<&TokenSet>) -> Result<TokenSet, ProviderError> {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(tokens(&format!("access-{n}"), 3600))
        }
    }

    #[test]
    fn debug_never_shows_tokens() {
        let t = tokens("super-secret-access", 60);
        let text = format!("{t:?}");
        assert!(
            !text.contains("super-secret-access") && !text.contains("refresh-secret"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn file_cache_is_private_and_refuses_readable_files() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileTokenCache::new(dir.path().join("tokens.json"));
        cache.store("graph", &tokens("a", 60)).await.unwrap();
        let loaded = cache.load("graph").await.unwrap().unwrap();
        assert_eq!(loaded.access_token.expose_secret(), "a");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(cache.path())
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600);
            std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                cache.load("graph").await,
                Err(TokenCacheError::InsecurePermissions { .. })
            ));
        }
    }

    #[tokio::test]
    async fn source_refreshes_near_expiry_and_once_after_a_rejection() {
        let fetcher = Arc::new(Counting::default());
        let cache = Arc::new(MemoryTokenCache::default());
        cache.store("k", &tokens("cached", 30)).await.unwrap();
        let source = TokenSource::new(
            Arc::clone(&fetcher) as Arc<dyn TokenFetcher>,
            Arc::clone(&cache) as Arc<dyn TokenCache>,
            "k",
        );
        // 30 s left is inside the two-minute margin: refreshed.
        assert_eq!(
            source.token().await.unwrap().access_token.expose_secret(),
            "access-1"
        );
        assert_eq!(
            source.token().await.unwrap().access_token.expose_secret(),
            "access-1"
        );
        let rejected = SecretString::from("access-1".to_owned());
        assert_eq!(
            source
                .refresh_after_rejection(&rejected)
                .await
                .unwrap()
                .access_token
                .expose_secret(),
            "access-2"
        );
        // A second caller with the same stale token does not refresh again.
        assert_eq!(
            source
                .refresh_after_rejection(&rejected)
                .await
                .unwrap()
                .access_token
                .expose_secret(),
            "access-2"
        );
        assert_eq!(fetcher.0.load(Ordering::SeqCst), 2);
        // The refresh token survives a response without one, and the cache has the latest.
        assert!(
            cache
                .load("k")
                .await
                .unwrap()
                .unwrap()
                .refresh_token
                .is_some()
        );
    }
}
