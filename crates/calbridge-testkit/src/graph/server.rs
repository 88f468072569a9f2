//! The HTTP side: a listener whose connections can be killed mid-request (for the
//! `DropConnection` fault), the router, the gate that records requests and fires faults,
//! and the conversion of handler answers into responses.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Extension, RawQuery, Request, State as AxumState};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::{IncomingStream, Listener};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::RecordedRequest;
use super::api::{ApiRequest, decode_segment, dispatch};
use super::faults::{Action, retry_after_secs};
use super::json::{ApiError, ApiResponse, Query, RequestCtx, error_body, throttle_body};
use super::state::{Shared, State, lock};
use super::{auth, oauth};

/// Request bodies above this are refused (Graph's own limit is far lower for JSON).
const BODY_LIMIT: usize = 32 * 1024 * 1024;

/// Per-connection information handed to handlers: the switch that kills the socket.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    kill: Arc<AtomicBool>,
    remote: SocketAddr,
}

/// A TCP stream that fails every read and write once killed, so hyper drops the
/// connection without writing the pending response.
#[derive(Debug)]
pub(crate) struct KillableStream {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

fn killed() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection dropped by an injected fault",
    )
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The TCP listener handing out [`KillableStream`]s.
#[derive(Debug)]
pub(crate) struct KillableListener(TcpListener);

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = Conn;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((inner, remote)) => {
                    let kill = Arc::new(AtomicBool::new(false));
                    return (
                        KillableStream {
                            inner,
                            kill: Arc::clone(&kill),
                        },
                        Conn { kill, remote },
                    );
                }
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::debug!(error = %e, "graph emulator: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(Conn {
            kill: Arc::new(AtomicBool::new(false)),
            remote: self.0.local_addr()?,
        })
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// Binds `127.0.0.1:0` and serves the emulator until the returned task is aborted.
pub(crate) async fn start() -> io::Result<(Shared, String, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let authority = format!("http://{addr}");
    let shared: Shared = Arc::new(Mutex::new(State::new(
        authority.clone(),
        u64::from(addr.port()),
    )));
    let app = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token_endpoint))
        .route(
            "/{tenant}/oauth2/v2.0/devicecode",
            post(devicecode_endpoint),
        )
        .route("/{tenant}/oauth2/v2.0/authorize", get(authorize_endpoint))
        .fallback(graph_entry)
        .layer(from_fn_with_state(Arc::clone(&shared), gate))
        .with_state(Arc::clone(&shared));
    let task = tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<Conn>();
        if let Err(e) = axum::serve(KillableListener(listener), service).await {
            tracing::warn!(error = %e, "graph emulator: server stopped");
        }
    });
    tracing::debug!(%authority, "graph emulator: listening");
    Ok((shared, authority, task))
}

/// Turns a handler answer into an HTTP response.
pub(crate) fn to_response(r: ApiResponse) -> Response {
    let mut builder = Response::builder().status(r.status);
    for (k, v) in &r.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            builder = builder.header(name, value);
        }
    }
    let body = match &r.body {
        Some(b) => {
            builder = builder
                .header("content-type", "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8")
                .header("odata-version", "4.0");
            Body::from(serde_json::to_vec(b).unwrap_or_default())
        }
        None => Body::empty(),
    };
    builder
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

const RECORDED_HEADERS: &[&str] = &[
    "content-type",
    "if-match",
    "prefer",
    "client-request-id",
    "accept",
];

fn record(
    state: &mut State,
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> u64 {
    let mut kept: Vec<(String, String)> = RECORDED_HEADERS
        .iter()
        .flat_map(|name| {
            headers
                .get_all(*name)
                .iter()
                .filter_map(move |v| v.to_str().ok().map(|v| ((*name).to_owned(), v.to_owned())))
        })
        .collect();
    // Never the credential itself: only which scheme was used.
    if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let scheme = auth.split_whitespace().next().unwrap_or_default();
        kept.push(("authorization".into(), format!("{scheme} [redacted]")));
    }
    state.request_seq += 1;
    let seq = state.request_seq;
    state.requests.push((
        seq,
        RecordedRequest {
            method: method.to_string(),
            path_and_query: path_and_query.to_owned(),
            headers: kept,
            body: String::from_utf8_lossy(body).into_owned(),
            status: None,
        },
    ));
    seq
}

fn set_status(shared: &Shared, seq: u64, status: Option<u16>) {
    let mut st = lock(shared);
    if let Some((_, r)) = st.requests.iter_mut().rev().find(|(s, _)| *s == seq) {
        r.status = status;
    }
}

fn fault_response(action: &Action, ctx: &RequestCtx) -> Option<ApiResponse> {
    match action {
        Action::Throttle(d) => Some(
            ApiResponse::json(StatusCode::TOO_MANY_REQUESTS, throttle_body(ctx))
                .with_header("Retry-After", retry_after_secs(*d).to_string()),
        ),
        Action::Unavailable(code) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let (code, message) = match status.as_u16() {
                500 => ("generalException", "General exception while processing."),
                502 => (
                    "badGateway",
                    "The server received an invalid response from an upstream server.",
                ),
                504 => ("gatewayTimeout", "The server did not respond in time."),
                _ => (
                    "serviceNotAvailable",
                    "The service is temporarily unavailable. Please retry later.",
                ),
            };
            Some(ApiResponse::json(status, error_body(code, message, ctx)))
        }
        Action::Drop | Action::Slow(_) => None,
    }
}

/// Runs before every route: buffers the body, records the request, fires armed faults,
/// and stamps `request-id`/`client-request-id` on the answer.
async fn gate(AxumState(shared): AxumState<Shared>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let (seq, action, ctx) = {
        let mut st = lock(&shared);
        let seq = record(
            &mut st,
            &parts.method,
            &path_and_query,
            &parts.headers,
            &bytes,
        );
        let request_id = st.ids.guid();
        let client_request_id = parts
            .headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| request_id.clone(), str::to_owned);
        let ctx = RequestCtx {
            request_id,
            client_request_id,
            date: st.now(),
        };
        (seq, st.faults.take(&path_and_query), ctx)
    };
    if let Some(action) = &action {
        tracing::debug!(?action, %path_and_query, "graph emulator: fault fired");
        match action {
            Action::Slow(d) => tokio::time::sleep(*d).await,
            Action::Drop => {
                if let Some(ConnectInfo(conn)) = parts.extensions.get::<ConnectInfo<Conn>>() {
                    tracing::debug!(remote = %conn.remote, "graph emulator: dropping connection");
                    conn.kill.store(true, Ordering::SeqCst);
                }
                set_status(&shared, seq, None);
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
            _ => {}
        }
        if let Some(r) = fault_response(action, &ctx) {
            set_status(&shared, seq, Some(r.status.as_u16()));
            return stamp(to_response(r), &ctx);
        }
    }
    parts.extensions.insert(ctx.clone());
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    set_status(&shared, seq, Some(response.status().as_u16()));
    stamp(response, &ctx)
}

fn stamp(mut response: Response, ctx: &RequestCtx) -> Response {
    for (name, value) in [
        ("request-id", &ctx.request_id),
        ("client-request-id", &ctx.client_request_id),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            response.headers_mut().insert(name, v);
        }
    }
    response
}

/// Every `/v1.0` request: bearer check, then `$batch` or the API dispatcher.
async fn graph_entry(
    AxumState(shared): AxumState<Shared>,
    Extension(ctx): Extension<RequestCtx>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, BODY_LIMIT).await.unwrap_or_default();
    let Some(rest) = parts.uri.path().strip_prefix("/v1.0") else {
        let e = ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The emulator serves /v1.0 and /{tenant}/oauth2/v2.0 only.",
        );
        return to_response(e.render(&ctx));
    };
    let mut st = lock(&shared);
    let principal = match auth::authenticate(&st, &parts.headers) {
        Ok(p) => p,
        Err(e) => return to_response(e.render(&ctx)),
    };
    let req = ApiRequest {
        method: &parts.method,
        path: rest,
        query: Query::parse(parts.uri.query()),
        headers: &parts.headers,
        body: &bytes,
        principal: &principal,
        ctx: &ctx,
    };
    let answer = if decode_segment(rest) == "/$batch" {
        if parts.method == Method::POST {
            super::batch::handle(&mut st, &req)
        } else {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "Request_BadRequest",
                "Specified HTTP method is not allowed for the request target.",
            )
            .render(&ctx)
        }
    } else {
        dispatch(&mut st, &req)
    };
    drop(st);
    to_response(answer)
}

fn form(bytes: &Bytes) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn token_endpoint(
    AxumState(shared): AxumState<Shared>,
    Extension(ctx): Extension<RequestCtx>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = oauth::token(&mut lock(&shared), &ctx, &headers, &form(&body));
    to_response(answer.with_header("Cache-Control", "no-store, no-cache"))
}

async fn devicecode_endpoint(
    AxumState(shared): AxumState<Shared>,
    Extension(ctx): Extension<RequestCtx>,
    body: Bytes,
) -> Response {
    to_response(oauth::device_code(&mut lock(&shared), &ctx, &form(&body)))
}

async fn authorize_endpoint(
    AxumState(shared): AxumState<Shared>,
    Extension(ctx): Extension<RequestCtx>,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = Query::parse(query.as_deref()).pairs;
    to_response(oauth::authorize(&mut lock(&shared), &ctx, &pairs))
}
