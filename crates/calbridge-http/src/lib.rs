//! HTTP plumbing shared by calbridge's connectors: one way to build the HTTP client (rustls,
//! no redirects), OAuth 2.0 token handling (a cache trait with a file implementation, tokens
//! refreshed before they expire and once after a 401), secrets that never print, paging links
//! followed only to the configured host, `Retry-After` parsing, and error-body snippets.

mod client;
mod links;
mod oauth;
mod response;
mod token;

pub use client::{ClientOptions, build_client, require_secure_endpoint};
pub use links::{LinkError, same_origin};
pub use oauth::{OAuthHttpError, oauth_http};
pub use response::{body_snippet, retry_after};
pub use token::{
    FileTokenCache, MemoryTokenCache, TokenCache, TokenCacheError, TokenFetcher, TokenSet,
    TokenSource,
};

pub use secrecy::{ExposeSecret, SecretString};
