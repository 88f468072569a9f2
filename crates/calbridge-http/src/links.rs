//! Following paging and delta links safely.

use thiserror::Error;
use url::Url;

/// A link or endpoint that calbridge refuses.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The link points at another scheme, host or port than the configured endpoint.
    #[error("refusing to follow {link}: it does not point at {expected}")]
    OtherOrigin {
        /// The link (truncated).
        link: String,
        /// The configured origin.
        expected: String,
    },
    /// Plain `http` to a host that is not loopback.
    #[error("refusing {link}: only https (or http on loopback) is allowed")]
    Insecure {
        /// The link (truncated).
        link: String,
    },
    /// Not a URL.
    #[error("{link} is not a valid URL: {reason}")]
    Invalid {
        /// The link (truncated).
        link: String,
        /// Why.
        reason: String,
    },
}

/// Resolves a link the service returned (`@odata.nextLink`, `nextRecordsUrl`, a delta link)
/// against `base` and accepts it only when it stays on `base`'s scheme, host and port: a
/// tampered or hostile page must not make us send our token elsewhere.
///
/// # Errors
/// [`LinkError::OtherOrigin`] or [`LinkError::Invalid`].
pub fn same_origin(base: &Url, link: &str) -> Result<Url, LinkError> {
    let url = base.join(link).map_err(|e| LinkError::Invalid {
        link: link.chars().take(200).collect(),
        reason: e.to_string(),
    })?;
    if url.scheme() == base.scheme()
        && url.host() == base.host()
        && url.port_or_known_default() == base.port_or_known_default()
    {
        Ok(url)
    } else {
        Err(LinkError::OtherOrigin {
            link: link.chars().take(200).collect(),
            expected: base.origin().ascii_serialization(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_must_stay_on_the_configured_host() {
        let base = Url::parse("https://graph.microsoft.com/v1.0/").unwrap();
        assert!(
            same_origin(
                &base,
                "https://graph.microsoft.com/v1.0/me/calendarView?$skiptoken=x"
            )
            .is_ok()
        );
        assert!(same_origin(&base, "/services/data/v62.0/query/01g-2000").is_ok());
        for bad in [
            "https://evil.example/v1.0/me",
            "http://graph.microsoft.com/v1.0/me",
            "https://graph.microsoft.com:444/x",
            "//evil.example/x",
        ] {
            assert!(
                matches!(same_origin(&base, bad), Err(LinkError::OtherOrigin { .. })),
                "{bad}"
            );
        }
    }
}
