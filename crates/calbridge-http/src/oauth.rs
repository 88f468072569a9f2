//! The bridge between the `oauth2` crate and reqwest (oauth2 5 ships one for reqwest 0.12
//! only; calbridge uses 0.13, so the crate's default features stay off).

use thiserror::Error;

/// A transport failure while talking to a token endpoint.
#[derive(Debug, Error)]
#[error("token endpoint request failed: {0}")]
pub struct OAuthHttpError(#[from] reqwest::Error);

/// Sends an `oauth2` request with `client` and returns the answer as `oauth2` expects.
/// Use it as `&|request| oauth_http(&client, request)` wherever `oauth2` wants an
/// `AsyncHttpClient`.
///
/// # Errors
/// [`OAuthHttpError`] on a transport failure (an HTTP error status is an answer, not an
/// error: `oauth2` parses the body).
pub async fn oauth_http(
    client: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, OAuthHttpError> {
    let (parts, body) = request.into_parts();
    let mut builder = client
        .request(parts.method, parts.uri.to_string())
        .body(body);
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let response = builder.send().await?;
    let mut out = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        out = out.header(name, value);
    }
    let bytes = response.bytes().await?;
    // The builder only fails on invalid parts, and these came from a valid response.
    Ok(out.body(bytes.to_vec()).unwrap_or_default())
}
