//! Sign-in configuration, URLs and secrecy.
use super::*;

fn auth() -> GraphAuth {
    GraphAuth::new("client-1")
        .unwrap()
        .with_tenant("contoso.onmicrosoft.com")
        .with_redirect_uri("http://localhost:8400/callback")
        .with_client_secret(SecretString::from("very-secret-value".to_owned()))
}

#[test]
fn authorize_url_has_pkce_state_and_scopes() {
    let request = auth().authorize_url().unwrap();
    let url = request.url.as_str();
    assert!(
        url.starts_with(
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize?"
        ),
        "{url}"
    );
    let pairs: std::collections::BTreeMap<String, String> =
        request.url.query_pairs().into_owned().collect();
    assert_eq!(pairs["code_challenge_method"], "S256");
    assert_eq!(pairs["response_type"], "code");
    assert_eq!(pairs["client_id"], "client-1");
    assert_eq!(
        pairs["scope"],
        "Calendars.ReadWrite Calendars.ReadWrite.Shared offline_access"
    );
    assert_eq!(pairs["state"], request.state);
    assert!(request.pkce_verifier.expose_secret().len() >= 43);
    assert!(!url.contains("very-secret-value"));
}

#[test]
fn secrets_never_print() {
    let auth = auth();
    let text = format!("{auth:?}");
    assert!(!text.contains("very-secret-value"), "{text}");
    let request = auth.authorize_url().unwrap();
    let text = format!("{request:?}");
    assert!(
        !text.contains(request.pkce_verifier.expose_secret()),
        "{text}"
    );
}

#[test]
fn insecure_authorities_are_refused() {
    assert!(matches!(
        auth().with_authority("http://login.example.com"),
        Err(AuthError::Config(_))
    ));
    assert!(auth().with_authority("http://127.0.0.1:9999").is_ok());
}

#[test]
fn authorize_needs_a_redirect_uri() {
    let auth = GraphAuth::new("c").unwrap();
    assert!(matches!(auth.authorize_url(), Err(AuthError::Config(_))));
}

#[test]
fn refusals_stop_the_run_and_outages_are_transient() {
    let refused: ProviderError = AuthError::Refused {
        code: "invalid_grant".into(),
        description: None,
    }
    .into();
    assert_eq!(refused.kind(), calbridge_provider::ErrorKind::Auth);
    let down: ProviderError = AuthError::Transport("reset".into()).into();
    assert!(down.is_retryable());
}
