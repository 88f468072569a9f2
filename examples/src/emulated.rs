//! The Graph and Salesforce emulators, started in-process on 127.0.0.1, with a signed-in user
//! on each and the real connectors talking to them over HTTP. No credentials, no network.

use std::sync::Arc;
use std::time::Duration;

use calbridge_http::{
    MemoryTokenCache, SecretString, TokenCache, TokenFetcher, TokenSet, TokenSource,
};
use calbridge_outlook::{
    CalendarSelector, GraphAuth, GraphTokenFetcher, OutlookProvider, OutlookProviderBuilder,
};
use calbridge_salesforce::{SalesforceProvider, SalesforceProviderBuilder, SalesforceTokenFetcher};
use calbridge_testkit::graph::GraphEmulator;
use calbridge_testkit::salesforce::{CustomFieldKind, SalesforceEmulator};

/// Any error while setting up the emulated world.
pub type SetupError = Box<dyn std::error::Error + Send + Sync>;

/// The Outlook user the emulated mailbox belongs to.
pub const OUTLOOK_USER: &str = "ada@contoso.example";
/// The Salesforce user whose calendar syncs.
pub const SALESFORCE_USER: &str = "ada@acme.example";
/// The connected app's client id on both emulated services.
pub const CLIENT_ID: &str = "calbridge-example";
/// The connected app's client secret (an emulator's, it protects nothing).
pub const CLIENT_SECRET: &str = "calbridge-example-secret";
/// The Salesforce custom field holding calbridge's idempotency key.
pub const KEY_FIELD: &str = "Calbridge_Key__c";
/// A Salesforce custom field used as a snap field in the examples.
pub const OUTCOME_FIELD: &str = "Meeting_Outcome__c";

/// Both emulators and their signed-in users.
#[derive(Debug, Clone)]
pub struct Emulated {
    /// The Microsoft Graph emulator.
    pub graph: GraphEmulator,
    /// The Salesforce emulator.
    pub salesforce: SalesforceEmulator,
    /// The Salesforce owner id (005…).
    pub owner: String,
}

impl Emulated {
    /// Starts both emulators with a user each, the connected app registered, and the custom
    /// fields the examples use.
    ///
    /// # Errors
    /// When a listener cannot be bound on 127.0.0.1.
    pub async fn start() -> Result<Self, SetupError> {
        let graph = GraphEmulator::start().await?;
        graph.add_user(OUTLOOK_USER);
        graph.register_client(CLIENT_ID, Some(CLIENT_SECRET));
        let salesforce = SalesforceEmulator::start().await?;
        let owner = salesforce.add_user(SALESFORCE_USER);
        salesforce.register_client(CLIENT_ID, Some(CLIENT_SECRET), None);
        salesforce.add_custom_field(
            KEY_FIELD,
            CustomFieldKind::Text {
                max_len: 255,
                external_id: true,
            },
        );
        salesforce.add_custom_field(
            OUTCOME_FIELD,
            CustomFieldKind::Text {
                max_len: 255,
                external_id: false,
            },
        );
        Ok(Self {
            graph,
            salesforce,
            owner,
        })
    }

    /// Registers a Salesforce record (an account `001`, opportunity `006`, contact `003`…) that
    /// events may relate to, and returns its id.
    #[must_use]
    pub fn record(&self, key_prefix: &str) -> String {
        self.salesforce.add_related_record(key_prefix)
    }

    /// The Outlook connector for the emulated user's primary calendar, signed in.
    ///
    /// # Errors
    /// When the connector cannot be configured.
    pub async fn outlook(&self) -> Result<OutlookProvider, SetupError> {
        Ok(
            signed_in_outlook(&self.graph, OUTLOOK_USER, Duration::from_secs(3600))
                .await?
                .build()?,
        )
    }

    /// The Salesforce connector for the emulated user's events, signed in, with the
    /// idempotency-key field and the example snap field.
    ///
    /// # Errors
    /// When the connector cannot be configured.
    pub async fn salesforce(&self) -> Result<SalesforceProvider, SetupError> {
        Ok(signed_in_salesforce(
            &self.salesforce,
            SALESFORCE_USER,
            &self.owner,
            Duration::from_secs(3600),
        )
        .await?
        .snap_fields([OUTCOME_FIELD])
        .build()?)
    }
}

/// An Outlook connector for `upn`'s primary calendar on `graph`, signed in with tokens the
/// emulator issued (valid for `valid_for`, refreshed through the emulator after that), ready to
/// `build()` or to configure further.
///
/// # Errors
/// When the token cache or the sign-in cannot be configured.
pub async fn signed_in_outlook(
    graph: &GraphEmulator,
    upn: &str,
    valid_for: Duration,
) -> Result<OutlookProviderBuilder, SetupError> {
    let issued = graph.issue_token(upn, valid_for);
    let cache = Arc::new(MemoryTokenCache::default());
    cache
        .store(
            "graph",
            &TokenSet {
                access_token: SecretString::from(issued.access_token),
                refresh_token: Some(SecretString::from(issued.refresh_token)),
                expires_at: Some(chrono::Utc::now() + chrono::Duration::from_std(valid_for)?),
                instance_url: None,
            },
        )
        .await?;
    let auth = GraphAuth::new(CLIENT_ID)?
        .with_authority(&graph.authority())?
        .with_client_secret(SecretString::from(CLIENT_SECRET.to_owned()));
    let tokens = Arc::new(TokenSource::new(
        Arc::new(GraphTokenFetcher::refresh_token(auth)) as Arc<dyn TokenFetcher>,
        cache as Arc<dyn TokenCache>,
        "graph",
    ));
    Ok(OutlookProvider::builder()
        .base_url(graph.base_url())
        .calendar(CalendarSelector::Primary)
        .token_source(tokens))
}

/// A Salesforce connector for `username`'s events (owner id `owner`) on `salesforce`, signed
/// in with tokens the emulator issued (valid for `valid_for`), using [`KEY_FIELD`] for
/// idempotent creates; ready to `build()` or to configure further.
///
/// # Errors
/// When the token cache or the sign-in cannot be configured.
pub async fn signed_in_salesforce(
    salesforce: &SalesforceEmulator,
    username: &str,
    owner: &str,
    valid_for: Duration,
) -> Result<SalesforceProviderBuilder, SetupError> {
    let issued = salesforce.issue_token(username, valid_for);
    let cache = Arc::new(MemoryTokenCache::default());
    cache
        .store(
            "salesforce",
            &TokenSet {
                access_token: SecretString::from(issued.access_token),
                refresh_token: Some(SecretString::from(issued.refresh_token)),
                expires_at: None,
                instance_url: Some(salesforce.instance_url()),
            },
        )
        .await?;
    let fetcher = SalesforceTokenFetcher::refresh_token(
        &salesforce.login_url(),
        CLIENT_ID,
        Some(SecretString::from(CLIENT_SECRET.to_owned())),
    )?;
    let tokens = Arc::new(TokenSource::new(
        Arc::new(fetcher) as Arc<dyn TokenFetcher>,
        cache as Arc<dyn TokenCache>,
        "salesforce",
    ));
    Ok(SalesforceProvider::builder()
        .login_url(salesforce.login_url())
        .api_version(salesforce.api_version())
        .token_source(tokens)
        .owner(owner.to_owned())
        .external_id_field(KEY_FIELD))
}
