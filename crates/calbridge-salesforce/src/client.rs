//! The REST client: every request goes to the token's `instance_url` with a bearer token,
//! is counted, has its `Sforce-Limit-Info` recorded, and is replayed once after a 401 with a
//! refreshed token. Query answers are followed page by page through `nextRecordsUrl`, only
//! on the instance's own origin.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use url::Url;

use calbridge_http::{
    ExposeSecret, TokenSet, TokenSource, body_snippet, require_secure_endpoint, same_origin,
};
use calbridge_model::ItemId;
use calbridge_provider::ProviderError;

use crate::error::{classify, parse_errors, transport};
use crate::wire::{ApiUsage, QueryPage};

/// The most pages one query may have: a guard against a service that never says `done`.
const MAX_PAGES: usize = 10_000;

/// Where a request goes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    /// A path under `/services/data/vNN.N/`.
    Data(&'a str),
    /// A path from the instance's root (`/services/oauth2/userinfo`).
    Root(&'a str),
    /// A link the service returned (`nextRecordsUrl`), followed only on the same origin.
    Link(&'a str),
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The server's clock when it answered (`Date`), when it said.
    pub(crate) date: Option<DateTime<Utc>>,
    pub(crate) body: Vec<u8>,
}

/// A failed call, and whether the service may have carried it out anyway (the answer was
/// lost after the request was sent): a retried create could then make a second record.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: ProviderError,
    pub(crate) maybe_applied: bool,
}

impl From<ProviderError> for Failure {
    fn from(error: ProviderError) -> Self {
        Self {
            error,
            maybe_applied: false,
        }
    }
}

/// The REST client of one provider.
pub(crate) struct Api {
    http: reqwest::Client,
    tokens: Arc<TokenSource>,
    version: String,
    requests: AtomicU64,
    usage: Mutex<Option<ApiUsage>>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("version", &self.version)
            .field("requests", &self.requests.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn instance(tokens: &TokenSet) -> Result<Url, ProviderError> {
    let Some(raw) = tokens.instance_url.as_deref() else {
        return Err(ProviderError::Auth {
            message: "the token carries no instance_url; sign in again".into(),
        });
    };
    let mut url = require_secure_endpoint(raw).map_err(|e| ProviderError::Auth {
        message: format!("instance_url refused: {e}"),
    })?;
    // Joining relative paths needs the base to end in a slash.
    if !url.path().ends_with('/') {
        url.set_path(&format!("{}/", url.path()));
    }
    Ok(url)
}

impl Api {
    pub(crate) fn new(http: reqwest::Client, tokens: Arc<TokenSource>, version: String) -> Self {
        Self {
            http,
            tokens,
            version,
            requests: AtomicU64::new(0),
            usage: Mutex::new(None),
        }
    }

    /// Makes sure a token is at hand (fetching one when the cache has none).
    pub(crate) async fn ensure_token(&self) -> Result<(), ProviderError> {
        self.tokens.token().await.map(|_| ())
    }

    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub(crate) fn usage(&self) -> Option<ApiUsage> {
        *self.usage.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn url(&self, base: &Url, target: Target<'_>) -> Result<Url, ProviderError> {
        let joined = match target {
            Target::Data(path) => base.join(&format!("services/data/{}/{path}", self.version)),
            Target::Root(path) => base.join(path.trim_start_matches('/')),
            Target::Link(link) => {
                return same_origin(base, link)
                    .map_err(|e| ProviderError::permanent(e.to_string()));
            }
        };
        joined.map_err(|e| ProviderError::permanent(format!("bad request path: {e}")))
    }

    fn note_limits(&self, headers: &reqwest::header::HeaderMap) {
        let Some(usage) = headers
            .get("Sforce-Limit-Info")
            .and_then(|v| v.to_str().ok())
            .and_then(ApiUsage::parse)
        else {
            return;
        };
        tracing::debug!(used = usage.used, max = usage.max, "Salesforce API usage");
        *self.usage.lock().unwrap_or_else(PoisonError::into_inner) = Some(usage);
    }

    /// Sends one request (twice when the first answer is a 401 and a refreshed token is
    /// had). Non-2xx answers are classified; `about` names the record for `NotFound`.
    pub(crate) async fn call(
        &self,
        method: Method,
        target: Target<'_>,
        query: &[(&str, &str)],
        body: Option<&Value>,
        about: Option<&ItemId>,
    ) -> Result<Answer, Failure> {
        let mut tokens = self.tokens.token().await?;
        let mut refreshed = false;
        loop {
            let base = instance(&tokens)?;
            let mut url = self.url(&base, target)?;
            if !query.is_empty() {
                url.query_pairs_mut().extend_pairs(query);
            }
            let path = url.path().to_owned();
            let mut request = self
                .http
                .request(method.clone(), url)
                .bearer_auth(tokens.access_token.expose_secret())
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(body) = body {
                request = request.json(body);
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) => {
                    // A connection that was never made cannot have carried anything out.
                    let maybe_applied = !e.is_connect();
                    tracing::debug!(
                        %method,
                        %path,
                        connect = e.is_connect(),
                        timeout = e.is_timeout(),
                        "request failed"
                    );
                    return Err(Failure {
                        error: transport(&format!("{method} {path}"), e),
                        maybe_applied,
                    });
                }
            };
            let status = response.status();
            let headers = response.headers().clone();
            self.note_limits(&headers);
            let bytes = response.bytes().await.map_err(|e| Failure {
                error: transport(&format!("{method} {path}"), e),
                maybe_applied: true,
            })?;
            tracing::debug!(%method, %path, status = status.as_u16(), "Salesforce answered");
            if status == reqwest::StatusCode::UNAUTHORIZED && !refreshed {
                // The session expired or was revoked: nothing was carried out, so replaying
                // the request once with a new token is safe, even for a create.
                refreshed = true;
                tokens = self
                    .tokens
                    .refresh_after_rejection(&tokens.access_token)
                    .await?;
                continue;
            }
            if status.is_success() {
                let date = headers
                    .get(reqwest::header::DATE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
                    .map(|t| t.with_timezone(&Utc));
                return Ok(Answer {
                    date,
                    body: bytes.to_vec(),
                });
            }
            let errors = parse_errors(&bytes);
            let wait = calbridge_http::retry_after(&headers, Utc::now());
            let error = classify(Some(status), &errors, &body_snippet(&bytes), about, wait);
            return Err(error.into());
        }
    }

    /// Parses a 2xx body, or says what came instead.
    pub(crate) fn parse<T: DeserializeOwned>(answer: &Answer) -> Result<T, ProviderError> {
        serde_json::from_slice(&answer.body).map_err(|e| {
            ProviderError::permanent(format!(
                "unexpected answer from Salesforce ({e}): {}",
                body_snippet(&answer.body)
            ))
        })
    }

    /// Runs a SOQL query (`queryAll` with `all_rows`: deleted rows too), following every
    /// page. Returns the records and the server's clock at the first answer.
    pub(crate) async fn query(
        &self,
        soql: &str,
        all_rows: bool,
    ) -> Result<(Vec<Map<String, Value>>, Option<DateTime<Utc>>), ProviderError> {
        let resource = if all_rows { "queryAll" } else { "query" };
        let first = self
            .call(
                Method::GET,
                Target::Data(resource),
                &[("q", soql)],
                None,
                None,
            )
            .await
            .map_err(|f| f.error)?;
        let date = first.date;
        let mut page: QueryPage = Self::parse(&first)?;
        let mut records = std::mem::take(&mut page.records);
        let mut pages = 1;
        while !page.done {
            // done=false without a link would silently lose rows: fail loudly instead.
            let Some(next) = page.next_records_url.take() else {
                return Err(ProviderError::permanent(
                    "a query page says more follow but has no nextRecordsUrl",
                ));
            };
            pages += 1;
            if pages > MAX_PAGES {
                return Err(ProviderError::permanent("a query never finished paging"));
            }
            let answer = self
                .call(Method::GET, Target::Link(&next), &[], None, None)
                .await
                .map_err(|f| f.error)?;
            page = Self::parse(&answer)?;
            records.append(&mut page.records);
        }
        Ok((records, date))
    }
}
