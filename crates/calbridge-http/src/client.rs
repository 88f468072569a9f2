//! The HTTP client every connector uses.

use std::time::Duration;

use url::Url;

use crate::links::LinkError;

/// Options for [`build_client`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Time to connect.
    pub connect_timeout: Duration,
    /// Time for a whole request.
    pub request_timeout: Duration,
    /// The `User-Agent` sent.
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            user_agent: format!("calbridge/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// A reqwest client on rustls that never follows redirects (an OAuth or API answer that
/// redirects elsewhere is an error, not something to follow with our token).
///
/// # Errors
/// The builder's error (no TLS backend, which cannot happen with the features chosen).
pub fn build_client(options: &ClientOptions) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(options.connect_timeout)
        .timeout(options.request_timeout)
        .user_agent(options.user_agent.clone())
        .build()
}

/// Accepts `https` endpoints, and `http` only on loopback addresses (where the emulators
/// run): tokens never travel in clear text over a network.
///
/// # Errors
/// [`LinkError::Insecure`] or [`LinkError::Invalid`].
pub fn require_secure_endpoint(endpoint: &str) -> Result<Url, LinkError> {
    let url = Url::parse(endpoint).map_err(|e| LinkError::Invalid {
        link: endpoint.chars().take(200).collect(),
        reason: e.to_string(),
    })?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(LinkError::Insecure {
            link: endpoint.chars().take(200).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(require_secure_endpoint("https://graph.microsoft.com/v1.0").is_ok());
        assert!(require_secure_endpoint("http://127.0.0.1:8080/v1.0").is_ok());
        assert!(require_secure_endpoint("http://[::1]:8080/").is_ok());
        assert!(require_secure_endpoint("http://localhost:1/").is_ok());
        assert!(matches!(
            require_secure_endpoint("http://example.com/"),
            Err(LinkError::Insecure { .. })
        ));
        assert!(matches!(
            require_secure_endpoint("ftp://127.0.0.1/"),
            Err(LinkError::Insecure { .. })
        ));
        assert!(matches!(
            require_secure_endpoint("not a url"),
            Err(LinkError::Invalid { .. })
        ));
    }
}
