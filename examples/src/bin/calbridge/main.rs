//! `calbridge`: keep an Outlook calendar and a Salesforce user's calendar in step from the
//! command line. `--emulate` runs every command against in-process emulators of Microsoft
//! Graph and Salesforce, seeded with a few events on the first run and kept in a file between
//! runs, so nothing needs credentials.
//!
//! Exit codes: 0 success, 1 failed items in the run, 2 usage or configuration error,
//! 3 authentication needed, 4 delete guard held.

mod auth;
mod calendars;
mod init;
mod offline;
mod output;
mod run;
mod setup;
mod world;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The exit code of a failed item in the run.
pub(crate) const EXIT_FAILED_ITEMS: u8 = 1;
/// The exit code of a usage or configuration error.
pub(crate) const EXIT_USAGE: u8 = 2;
/// The exit code when signing in is needed.
pub(crate) const EXIT_AUTH: u8 = 3;
/// The exit code when the delete guard held the run.
pub(crate) const EXIT_HELD: u8 = 4;

/// Keeps one Outlook calendar and one Salesforce user's calendar in step.
#[derive(Debug, Parser)]
#[command(name = "calbridge", version, about, long_about = None)]
pub(crate) struct Cli {
    /// The settings file (TOML; `calbridge init` writes one) [default: calbridge.toml,
    /// whose absence means every default].
    #[arg(long, global = true)]
    pub(crate) config: Option<PathBuf>,
    /// The sync state (SQLite) [default: calbridge-state.sqlite; with `--emulate`,
    /// calbridge-emulated.sqlite, the emulators' calendars beside it in
    /// calbridge-emulated.emulators.json].
    #[arg(long, global = true)]
    pub(crate) state: Option<PathBuf>,
    /// The token cache (a 0600 JSON file).
    #[arg(long, global = true, default_value = "calbridge-tokens.json")]
    pub(crate) tokens: PathBuf,
    /// Run against in-process Graph and Salesforce emulators (no credentials, no network).
    /// Their calendars are seeded with a few events on the first run and saved beside the
    /// state after every command (`<state>.emulators.json`, which you may edit to play a
    /// user's changes); `login` and `calendars` use fresh emulators.
    #[arg(long, global = true)]
    pub(crate) emulate: bool,
    /// Where the real services are (ignored with `--emulate`).
    #[command(flatten)]
    pub(crate) endpoints: setup::Endpoints,
    /// The command.
    #[command(subcommand)]
    pub(crate) command: Command,
}

impl Cli {
    /// The settings file in force.
    pub(crate) fn config_path(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| PathBuf::from(setup::DEFAULT_CONFIG))
    }

    /// The state file in force.
    pub(crate) fn state_path(&self) -> PathBuf {
        self.state.clone().unwrap_or_else(|| {
            PathBuf::from(if self.emulate {
                world::DEFAULT_EMULATED_STATE
            } else {
                setup::DEFAULT_STATE
            })
        })
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Write a commented settings file with every default.
    Init {
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Plan offline from API exports (a Graph events body and a SOQL query body).
    Plan(offline::PlanArgs),
    /// Show what a sync would do, writing nothing.
    Preview {
        /// Print the plan as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Sync both calendars and print the report.
    Sync {
        /// Confirm a mass delete held by the delete guard without asking.
        #[arg(long)]
        yes: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Sync this many times in a row (a held run stops the series).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
        repeat: u32,
    },
    /// Show the calendar pair, the mode, the last runs and the next automatic run.
    Status,
    /// Relate an Outlook event to Salesforce records and set snap fields on it.
    Relate(run::RelateArgs),
    /// Push one Outlook event to Salesforce (SnapRecord mode).
    Snap {
        /// The Outlook event id (with `--emulate`, its subject works too).
        outlook_event_id: String,
    },
    /// Sync on the settings' schedule until Ctrl-C.
    Auto,
    /// Sign in to Outlook or Salesforce.
    Login(auth::LoginArgs),
    /// List the Outlook calendars the user can sync (own and shared).
    Calendars(calendars::CalendarsArgs),
}

/// A failure with its exit code and message (printed to stderr).
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl CliError {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    pub(crate) fn auth(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_AUTH,
            message: message.into(),
        }
    }

    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_FAILED_ITEMS,
            message: message.into(),
        }
    }
}

/// Maps an engine error to an exit code.
impl From<calbridge::EngineError> for CliError {
    fn from(e: calbridge::EngineError) -> Self {
        use calbridge::EngineError;
        match e {
            EngineError::Auth { .. } => Self::auth(format!(
                "{e}\nsign in again with `calbridge login outlook` / `calbridge login salesforce`"
            )),
            EngineError::Settings(_) | EngineError::Mode(_) => Self::usage(e.to_string()),
            other => Self::failed(other.to_string()),
        }
    }
}

/// What a command ends with when it does not fail outright.
pub(crate) type Outcome = Result<u8, CliError>;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match runtime.block_on(dispatch(&cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

async fn dispatch(cli: &Cli) -> Outcome {
    match &cli.command {
        Command::Init { force } => init::run(&cli.config_path(), *force),
        Command::Plan(args) => offline::run(cli, args).await,
        Command::Preview { json } => run::preview(cli, *json).await,
        Command::Sync { yes, json, repeat } => run::sync(cli, *yes, *json, *repeat).await,
        Command::Status => run::status(cli).await,
        Command::Relate(args) => run::relate(cli, args).await,
        Command::Snap { outlook_event_id } => run::snap(cli, outlook_event_id).await,
        Command::Auto => run::auto(cli).await,
        Command::Login(args) => auth::login(cli, args).await,
        Command::Calendars(args) => calendars::calendars(cli, args).await,
    }
}
