//! Reading the settings and building the engine: against the real services (tokens from the
//! token cache) or against the in-process emulators (`--emulate`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use calbridge::core::SettingsError;
use calbridge::model::Side;
use calbridge::store::{SqliteStore, StateStore};
use calbridge::{SyncEngine, SyncSettings};
use calbridge_examples::emulated::{self, Emulated};
use calbridge_http::{FileTokenCache, TokenCache, TokenFetcher, TokenSource};
use calbridge_outlook::{CalendarSelector, GraphAuth, GraphTokenFetcher, OutlookProvider};
use calbridge_salesforce::SalesforceProvider;

use crate::{Cli, CliError, Outcome, world};

/// The settings file read when `--config` is not given.
pub(crate) const DEFAULT_CONFIG: &str = "calbridge.toml";
/// The state file used when `--state` is not given.
pub(crate) const DEFAULT_STATE: &str = "calbridge-state.sqlite";
/// The token-cache key of the Outlook sign-in.
pub(crate) const GRAPH_KEY: &str = "graph";
/// The token-cache key of the Salesforce sign-in.
pub(crate) const SALESFORCE_KEY: &str = "salesforce";

/// Where the real services are and which registered app signs in.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Endpoints {
    /// The Microsoft Entra tenant (`organizations`, `common` or a tenant id).
    #[arg(long, global = true, default_value = "organizations")]
    pub(crate) tenant: String,
    /// The application (client) id registered with Microsoft Entra and as a Salesforce
    /// connected app.
    #[arg(long, global = true)]
    pub(crate) client_id: Option<String>,
    /// The Salesforce login host.
    #[arg(long, global = true, default_value = calbridge_salesforce::PRODUCTION_LOGIN)]
    pub(crate) login_url: String,
}

/// Reads the settings file (`--config`). A missing default file means every default.
pub(crate) fn load_settings(cli: &Cli) -> Result<SyncSettings, CliError> {
    let path = cli.config_path();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && cli.config.is_none() => {
            return Ok(SyncSettings::default());
        }
        Err(e) => {
            return Err(CliError::usage(format!(
                "cannot read the settings file {}: {e}",
                path.display()
            )));
        }
    };
    parse_settings(&path, &text)
}

/// Parses settings text, naming the file, the line and the setting on error.
pub(crate) fn parse_settings(path: &Path, text: &str) -> Result<SyncSettings, CliError> {
    SyncSettings::from_toml_str(text).map_err(|e| match e {
        SettingsError::Parse {
            line,
            column,
            message,
        } => {
            let mut out = format!(
                "bad settings file {}, line {line}, column {column}",
                path.display()
            );
            if let Some(setting) = setting_at(text, line) {
                out.push_str(&format!(", setting `{setting}`"));
            }
            out.push_str(&format!(": {message}"));
            if let Some(source) = text
                .lines()
                .nth(line.saturating_sub(1))
                .filter(|_| line > 0)
            {
                out.push_str(&format!("\n  {line} | {source}"));
            }
            CliError::usage(out)
        }
        other => CliError::usage(format!("bad settings file {}: {other}", path.display())),
    })
}

/// The dotted name of the setting on `line` (1-based): the table header above it and the
/// key on it.
fn setting_at(text: &str, line: usize) -> Option<String> {
    let mut table = String::new();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if i + 1 == line {
            if let Some(header) = l.strip_prefix('[') {
                return Some(header.trim_end_matches(']').trim().to_owned());
            }
            let key = l.split('=').next()?.trim();
            if key.is_empty() || key.starts_with('#') {
                return None;
            }
            return Some(if table.is_empty() {
                key.to_owned()
            } else {
                format!("{table}.{key}")
            });
        }
        if let Some(header) = l.strip_prefix('[') {
            table = header
                .split(']')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned();
        }
    }
    None
}

/// The engine and, with `--emulate`, the emulated world it talks to (kept alive with it)
/// and the file its calendars are saved to.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) engine: SyncEngine,
    pub(crate) world: Option<(Emulated, PathBuf)>,
}

impl Session {
    /// The emulated world, with `--emulate`.
    pub(crate) fn emulated(&self) -> Option<&Emulated> {
        self.world.as_ref().map(|(world, _)| world)
    }

    /// Ends a command run in this session: with `--emulate`, saves the emulators'
    /// calendars whatever the outcome (a failed run may have written some of its changes).
    pub(crate) fn finish(self, outcome: Outcome) -> Outcome {
        let Some((world, file)) = &self.world else {
            return outcome;
        };
        match (world::save(world, file), outcome) {
            (Ok(()), outcome) => outcome,
            (Err(e), Ok(_)) => Err(e),
            (Err(e), Err(first)) => {
                eprintln!("error: {}", e.message);
                Err(first)
            }
        }
    }
}

/// Builds the engine from the settings: emulated (calendars in the emulators' file beside
/// the state) or real (state in `--state`, tokens from `--tokens`).
pub(crate) async fn session(cli: &Cli, settings: SyncSettings) -> Result<Session, CliError> {
    let path = cli.state_path();
    if cli.emulate {
        let file = world::file_for(&path);
        let world = world::open(&file, &path).await?;
        let outlook = world.outlook().await.map_err(setup_error)?;
        let salesforce = world.salesforce().await.map_err(setup_error)?;
        let store = open_store(&path)?;
        // The emulators' change tracking (delta rounds, query cursors) lived in the previous
        // process: a new one lists both calendars in full.
        for side in [Side::Outlook, Side::Salesforce] {
            store
                .set_cursor(side, None)
                .await
                .map_err(|e| CliError::usage(format!("cannot write the state: {e}")))?;
        }
        let engine = SyncEngine::builder(outlook, salesforce, store)
            .settings(settings)
            .build()?;
        return Ok(Session {
            engine,
            world: Some((world, file)),
        });
    }
    let outlook = real_outlook(cli, &settings).await?;
    let salesforce = real_salesforce(cli, &settings).await?;
    let store = open_store(&path)?;
    let engine = SyncEngine::builder(outlook, salesforce, store)
        .settings(settings)
        .build()?;
    Ok(Session {
        engine,
        world: None,
    })
}

fn open_store(path: &Path) -> Result<SqliteStore, CliError> {
    SqliteStore::open(path)
        .map_err(|e| CliError::usage(format!("cannot open the state {}: {e}", path.display())))
}

fn setup_error(e: emulated::SetupError) -> CliError {
    CliError::usage(format!("cannot start the emulators: {e}"))
}

/// The client id for the real services, required.
pub(crate) fn client_id(cli: &Cli) -> Result<&str, CliError> {
    cli.endpoints.client_id.as_deref().ok_or_else(|| {
        CliError::usage(
            "the real services need --client-id (your Entra app / Salesforce connected app); \
             or try everything with --emulate",
        )
    })
}

/// The token cache file.
pub(crate) fn token_cache(cli: &Cli) -> Arc<FileTokenCache> {
    Arc::new(FileTokenCache::new(&cli.tokens))
}

/// Fails with exit 3 unless the cache holds tokens under `key`.
async fn require_tokens(cache: &FileTokenCache, key: &str, login: &str) -> Result<(), CliError> {
    match cache.load(key).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(CliError::auth(format!(
            "not signed in to {login}: run `calbridge login {login}`"
        ))),
        Err(e) => Err(CliError::auth(format!(
            "cannot read the token cache: {e}; run `calbridge login {login}`"
        ))),
    }
}

/// The Outlook connector of the signed-in user (tokens from the cache).
pub(crate) async fn real_outlook(
    cli: &Cli,
    settings: &SyncSettings,
) -> Result<OutlookProvider, CliError> {
    let cache = token_cache(cli);
    require_tokens(&cache, GRAPH_KEY, "outlook").await?;
    let auth = GraphAuth::new(client_id(cli)?)
        .map_err(|e| CliError::usage(e.to_string()))?
        .with_tenant(cli.endpoints.tenant.clone());
    let tokens = Arc::new(TokenSource::new(
        Arc::new(GraphTokenFetcher::refresh_token(auth)) as Arc<dyn TokenFetcher>,
        cache as Arc<dyn TokenCache>,
        GRAPH_KEY,
    ));
    OutlookProvider::builder()
        .calendar(CalendarSelector::from(&settings.calendars.outlook))
        .token_source(tokens)
        .build()
        .map_err(|e| CliError::usage(e.to_string()))
}

/// The Salesforce connector of the signed-in user (tokens from the cache).
async fn real_salesforce(
    cli: &Cli,
    settings: &SyncSettings,
) -> Result<SalesforceProvider, CliError> {
    let cache = token_cache(cli);
    require_tokens(&cache, SALESFORCE_KEY, "salesforce").await?;
    let mut builder = SalesforceProvider::builder()
        .login_url(cli.endpoints.login_url.clone())
        .refresh_token(
            client_id(cli)?,
            None,
            cache as Arc<dyn TokenCache>,
            SALESFORCE_KEY,
        )
        .map_err(|e| CliError::usage(e.to_string()))?;
    if let Some(owner) = &settings.calendars.salesforce_owner {
        builder = builder.owner(owner.clone());
    }
    builder.build().map_err(|e| CliError::usage(e.to_string()))
}
