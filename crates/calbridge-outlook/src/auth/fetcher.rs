//! [`GraphTokenFetcher`]: new tokens for a [`TokenSource`](calbridge_http::TokenSource), by
//! refresh token (delegated) or client credentials (app-only).

use async_trait::async_trait;

use calbridge_http::{TokenFetcher, TokenSet};
use calbridge_provider::ProviderError;

use super::GraphAuth;

/// How a [`GraphTokenFetcher`] gets new tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Grant {
    /// The refresh-token grant (delegated sign-ins).
    RefreshToken,
    /// Client credentials (app-only; there is no refresh token, a new token is requested).
    ClientCredentials,
}

/// Gets new Graph tokens for a [`TokenSource`](calbridge_http::TokenSource).
#[derive(Debug, Clone)]
pub struct GraphTokenFetcher {
    auth: GraphAuth,
    grant: Grant,
}

impl GraphTokenFetcher {
    /// Refreshes with the refresh token the source holds.
    #[must_use]
    pub fn refresh_token(auth: GraphAuth) -> Self {
        Self {
            auth,
            grant: Grant::RefreshToken,
        }
    }

    /// Requests app-only tokens with the client's secret.
    #[must_use]
    pub fn client_credentials(auth: GraphAuth) -> Self {
        Self {
            auth,
            grant: Grant::ClientCredentials,
        }
    }

    /// The grant used.
    #[must_use]
    pub fn grant(&self) -> Grant {
        self.grant
    }
}

#[async_trait]
impl TokenFetcher for GraphTokenFetcher {
    async fn fetch(&self, current: Option<&TokenSet>) -> Result<TokenSet, ProviderError> {
        match self.grant {
            Grant::RefreshToken => {
                let Some(refresh) = current.and_then(|t| t.refresh_token.as_ref()) else {
                    return Err(ProviderError::Auth {
                        message: "no refresh token is stored: sign in to Outlook again".into(),
                    });
                };
                Ok(self.auth.refresh(refresh).await?)
            }
            Grant::ClientCredentials => Ok(self.auth.client_credentials().await?),
        }
    }
}
