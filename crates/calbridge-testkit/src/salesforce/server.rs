//! The HTTP side: a listener whose connections the emulator can cut mid-request, one entry
//! handler that records the request and applies faults before any state is touched, and the
//! top-level routing between OAuth and the REST data API.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Bytes;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderValue, Method, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::RecordedRequest;
use super::auth::{self, parse_params};
use super::errors::{OAuthError, RestError};
use super::faults::Action;
use super::rest;
use super::state::{API_LIMIT, State};

/// Largest request body read (200 records of 32,000-character descriptions fit).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// The shared state handle.
pub(crate) type Shared = Arc<Mutex<State>>;

/// Locks the state; a panic in another handler must not wedge every later test request.
pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Per-connection switch that makes the connection fail, so hyper drops it without writing.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnHandle {
    killed: Arc<AtomicBool>,
}

impl ConnHandle {
    fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A TCP listener whose streams carry a [`ConnHandle`].
#[derive(Debug)]
pub(crate) struct KillableListener {
    pub(crate) inner: TcpListener,
}

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = ConnHandle;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // TcpListener's Listener impl already logs and retries accept errors.
        let (stream, _) = Listener::accept(&mut self.inner).await;
        let handle = ConnHandle::default();
        (
            KillableStream {
                inner: stream,
                killed: Arc::clone(&handle.killed),
            },
            handle,
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(ConnHandle::default())
    }
}

/// A TCP stream that errors on every read and write once its connection is killed.
#[derive(Debug)]
pub(crate) struct KillableStream {
    inner: TcpStream,
    killed: Arc<AtomicBool>,
}

impl KillableStream {
    fn check(&self) -> io::Result<()> {
        if self.killed.load(Ordering::SeqCst) {
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection dropped by fault injection",
            ))
        } else {
            Ok(())
        }
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Err(e) = this.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Err(e) = this.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Err(e) = this.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The router: everything goes through [`entry`].
pub(crate) fn router(shared: Shared) -> Router {
    Router::new().fallback(entry).with_state(shared)
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    resp
}

pub(crate) fn rest_error(e: &RestError) -> Response {
    json_response(e.status, &e.body())
}

fn oauth_error(e: &OAuthError) -> Response {
    json_response(e.status, &e.body())
}

/// Adds `Sforce-Limit-Info: api-usage=N/15000`.
fn with_limit_info(mut resp: Response, used: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("api-usage={used}/{API_LIMIT}")) {
        resp.headers_mut().insert("sforce-limit-info", v);
    }
    resp
}

async fn entry(
    AxState(shared): AxState<Shared>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let path = parts.uri.path().to_owned();
    let is_data = path.starts_with("/services/data/v");
    let is_write = matches!(
        parts.method,
        Method::POST | Method::PATCH | Method::DELETE | Method::PUT
    );
    let plan = {
        let mut st = lock(&shared);
        st.requests.push(RecordedRequest {
            method: parts.method.to_string(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map_or_else(|| path.clone(), |p| p.as_str().to_owned()),
            body: String::from_utf8_lossy(&bytes).into_owned(),
        });
        st.faults.plan(&path, is_data, is_write)
    };
    tracing::debug!(method = %parts.method, %path, ?plan, "salesforce emulator request");
    if let Some(delay) = plan.delay {
        tokio::time::sleep(delay).await;
    }
    match plan.action {
        Some(Action::Drop) => {
            conn.kill();
            // Never reaches the client: the killed stream refuses the write.
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        Some(Action::LimitExceeded) => {
            let used = lock(&shared).api_usage;
            let e = RestError::bare(
                StatusCode::FORBIDDEN,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.",
            );
            return with_limit_info(rest_error(&e), used);
        }
        Some(Action::Unavailable) => {
            let used = lock(&shared).api_usage;
            let e = RestError::bare(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVER_UNAVAILABLE",
                "Server temporarily unavailable, please try again later.",
            );
            return with_limit_info(rest_error(&e), used);
        }
        None => {}
    }
    let response = {
        let mut st = lock(&shared);
        let mut response = handle(&mut st, &parts, &bytes);
        // The emulator's clock, which may run ahead of the wall clock: connectors take
        // their watermark from this header.
        let date = st.now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        if let Ok(v) = HeaderValue::from_str(&date) {
            response.headers_mut().insert(header::DATE, v);
        }
        response
    };
    if plan.drop_after_write {
        conn.kill();
    }
    response
}

/// Routes one request (synchronously, under the state lock).
fn handle(st: &mut State, parts: &Parts, body: &Bytes) -> Response {
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or_default();
    let method = &parts.method;
    match (method, path.trim_end_matches('/')) {
        (&Method::POST, "/services/oauth2/token") => {
            let form = parse_params(&String::from_utf8_lossy(body));
            match auth::token(st, &form, &parts.headers) {
                Ok(v) => json_response(StatusCode::OK, &v),
                Err(e) => oauth_error(&e),
            }
        }
        (&Method::GET, "/services/oauth2/authorize") => {
            match auth::authorize(st, &parse_params(query)) {
                Ok(location) => match HeaderValue::from_str(&location) {
                    Ok(loc) => {
                        let mut resp = StatusCode::FOUND.into_response();
                        resp.headers_mut().insert(header::LOCATION, loc);
                        resp
                    }
                    Err(_) => StatusCode::BAD_REQUEST.into_response(),
                },
                Err(e) => oauth_error(&e),
            }
        }
        (&Method::POST | &Method::GET, "/services/oauth2/revoke") => {
            let mut form = parse_params(&String::from_utf8_lossy(body));
            form.extend(parse_params(query));
            match auth::revoke(st, &form) {
                Ok(()) => StatusCode::OK.into_response(),
                Err(e) => oauth_error(&e),
            }
        }
        (&Method::GET, "/services/data") => json_response(StatusCode::OK, &versions()),
        (_, p) if p.starts_with("/services/data/v") => data(st, parts, body),
        _ => rest_error(&RestError::resource_not_found()),
    }
}

/// `GET /services/data/`: the versions this emulator serves (no auth, not counted).
fn versions() -> Value {
    Value::Array(
        (super::MIN_VERSION..=super::MAX_VERSION)
            .map(|v| {
                json!({"label": format!("API {v}.0"), "url": format!("/services/data/v{v}.0"), "version": format!("{v}.0")})
            })
            .collect(),
    )
}

/// The REST data API: authenticate, count, dispatch, add the limit header.
fn data(st: &mut State, parts: &Parts, body: &Bytes) -> Response {
    let resp = match auth::bearer(st, &parts.headers) {
        Ok(user_id) => {
            st.api_usage += 1;
            match rest::dispatch(st, &user_id, parts, body) {
                Ok(r) => r,
                Err(e) => rest_error(&e),
            }
        }
        Err(e) => rest_error(&e),
    };
    with_limit_info(resp, st.api_usage)
}
