//! `calbridge login outlook|salesforce`.

use std::path::PathBuf;

use calbridge_examples::emulated::{self, Emulated};
use calbridge_http::{SecretString, TokenCache, TokenFetcher, TokenSet};
use calbridge_outlook::GraphAuth;
use calbridge_salesforce::{SalesforceTokenFetcher, WebServerFlow};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::setup::{self, GRAPH_KEY, SALESFORCE_KEY};
use crate::{Cli, CliError, Outcome};

/// The arguments of `calbridge login`.
#[derive(Debug, clap::Args)]
pub(crate) struct LoginArgs {
    /// Which service.
    #[arg(value_enum)]
    service: Service,
    /// Salesforce: sign in with the JWT bearer grant, assertions signed with this RSA key
    /// (PEM) whose certificate is uploaded to the connected app.
    #[arg(long)]
    key: Option<PathBuf>,
    /// Salesforce JWT bearer: the user to sign in as.
    #[arg(long)]
    username: Option<String>,
    /// Salesforce web-server flow: the loopback port the redirect comes back to (0: any).
    #[arg(long, default_value_t = 0)]
    port: u16,
}

/// A service to sign in to.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Service {
    /// Microsoft Graph (device code).
    Outlook,
    /// Salesforce (web server + PKCE with a loopback redirect, or JWT bearer).
    Salesforce,
}

fn auth_error(e: impl std::fmt::Display) -> CliError {
    CliError::auth(format!("sign-in failed: {e}"))
}

async fn store(cli: &Cli, key: &str, tokens: &TokenSet) -> Result<(), CliError> {
    let cache = setup::token_cache(cli);
    cache
        .store(key, tokens)
        .await
        .map_err(|e| CliError::usage(format!("cannot write the token cache: {e}")))?;
    println!("signed in; tokens stored in {}", cache.path().display());
    if cli.emulate {
        println!("(emulated: these tokens are only good for emulators that are now gone)");
    }
    Ok(())
}

/// `calbridge login`.
pub(crate) async fn login(cli: &Cli, args: &LoginArgs) -> Outcome {
    let world = if cli.emulate {
        Some(
            Emulated::start()
                .await
                .map_err(|e| CliError::usage(format!("cannot start the emulators: {e}")))?,
        )
    } else {
        None
    };
    match args.service {
        Service::Outlook => login_outlook(cli, world.as_ref()).await?,
        Service::Salesforce => login_salesforce(cli, args, world.as_ref()).await?,
    }
    Ok(0)
}

async fn login_outlook(cli: &Cli, world: Option<&Emulated>) -> Result<(), CliError> {
    let auth = match world {
        Some(world) => {
            world.graph.set_device_flow(1, 1);
            GraphAuth::new(emulated::CLIENT_ID)
                .and_then(|a| a.with_authority(&world.graph.authority()))
                .map_err(|e| CliError::usage(e.to_string()))?
                .with_client_secret(SecretString::from(emulated::CLIENT_SECRET.to_owned()))
        }
        None => GraphAuth::new(setup::client_id(cli)?)
            .map_err(|e| CliError::usage(e.to_string()))?
            .with_tenant(cli.endpoints.tenant.clone()),
    };
    let device = auth.start_device_flow().await.map_err(auth_error)?;
    match &device.message {
        Some(message) => println!("{message}"),
        None => println!(
            "To sign in, open {} and enter the code {}",
            device.verification_uri, device.user_code
        ),
    }
    if world.is_some() {
        println!("(emulated: the sign-in is approved by itself in a moment)");
    }
    let tokens = auth.finish_device_flow(&device).await.map_err(auth_error)?;
    store(cli, GRAPH_KEY, &tokens).await
}

async fn login_salesforce(
    cli: &Cli,
    args: &LoginArgs,
    world: Option<&Emulated>,
) -> Result<(), CliError> {
    let (login_url, client_id, secret) = match world {
        Some(world) => (
            world.salesforce.login_url(),
            emulated::CLIENT_ID.to_owned(),
            Some(SecretString::from(emulated::CLIENT_SECRET.to_owned())),
        ),
        None => (
            cli.endpoints.login_url.clone(),
            setup::client_id(cli)?.to_owned(),
            None,
        ),
    };
    if let Some(key) = &args.key {
        let pem = std::fs::read(key)
            .map_err(|e| CliError::usage(format!("cannot read the key {}: {e}", key.display())))?;
        let username = args
            .username
            .as_deref()
            .ok_or_else(|| CliError::usage("--key needs --username (the user to sign in as)"))?;
        let fetcher = SalesforceTokenFetcher::jwt_bearer(&login_url, &client_id, username, &pem)
            .map_err(|e| CliError::usage(e.to_string()))?;
        let tokens = fetcher.fetch(None).await.map_err(auth_error)?;
        return store(cli, SALESFORCE_KEY, &tokens).await;
    }
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| CliError::usage(format!("cannot listen on 127.0.0.1:{}: {e}", args.port)))?;
    let port = listener
        .local_addr()
        .map_err(|e| CliError::usage(e.to_string()))?
        .port();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let flow = WebServerFlow::new(&login_url, &client_id, secret, &redirect)
        .map_err(|e| CliError::usage(e.to_string()))?;
    let start = flow.authorize_url(&["api", "refresh_token"]);
    println!(
        "Open this address in your browser to sign in to Salesforce:\n\n  {}\n",
        start.url
    );
    println!("Waiting for the redirect to {redirect} ...");
    if world.is_some() {
        // Emulated: play the browser, which the emulator's authorize endpoint redirects at once.
        let url = start.url.to_string();
        tokio::spawn(async move {
            if let Ok(location) = http_get(&url).await
                && let Some(location) = location
            {
                let _ = http_get(&location).await;
            }
        });
    }
    let query = accept_callback(&listener).await?;
    let param = |name: &str| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if let Some(error) = param("error") {
        return Err(CliError::auth(format!(
            "Salesforce refused the sign-in: {error}"
        )));
    }
    if param("state").as_deref() != Some(start.state.secret().as_str()) {
        return Err(CliError::auth(
            "the redirect's state does not match; try again",
        ));
    }
    let code = param("code").ok_or_else(|| CliError::auth("the redirect carried no code"))?;
    let tokens = flow
        .exchange_code(&code, start.verifier)
        .await
        .map_err(auth_error)?;
    store(cli, SALESFORCE_KEY, &tokens).await
}

/// Accepts the browser's redirect and returns its query string.
async fn accept_callback(listener: &TcpListener) -> Result<String, CliError> {
    loop {
        let (mut stream, _) = listener
            .accept()
            .await
            .map_err(|e| CliError::usage(format!("the redirect listener failed: {e}")))?;
        let request = read_head(&mut stream).await;
        let target = request
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or_default()
            .to_owned();
        let Some(query) = target.strip_prefix("/callback?") else {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
            continue;
        };
        let body = "Signed in to calbridge. You can close this window.";
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(answer.as_bytes()).await;
        return Ok(query.to_owned());
    }
}

async fn read_head(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 64 * 1024 {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// A plain HTTP/1.1 GET on a loopback URL (the emulated browser); returns `Location`.
async fn http_get(url: &str) -> Result<Option<String>, std::io::Error> {
    let parsed = url::Url::parse(url).map_err(std::io::Error::other)?;
    let host = parsed.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let mut path = parsed.path().to_owned();
    if let Some(q) = parsed.query() {
        path = format!("{path}?{q}");
    }
    let mut stream = TcpStream::connect((host.as_str(), port)).await?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let head = read_head(&mut stream).await;
    Ok(head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("location")
            .then(|| value.trim().to_owned())
    }))
}
