//! Varco's provider driven by an independent relying party: the
//! `openidconnect` crate (4.1), without a browser. Discovery and the JWKS
//! come from `discover_async`, the code flow uses PKCE S256 and a nonce, the
//! ID token is checked by the crate's own verifier (signature with the
//! published keys, issuer, audience, expiry, nonce, `at_hash`), then
//! userinfo, a rotating refresh, revocation (posted by hand: the crate
//! refuses a plain-http revocation endpoint) and RP-initiated logout.
//!
//! The person signs in with a cookie client; the authorization URL the crate
//! built is fetched without following redirects and the code read from the
//! `Location` header, as the browser would hand it to the application.

use std::sync::Arc;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreIdTokenVerifier, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PostLogoutRedirectUrl, ProviderMetadataWithLogout,
    RedirectUrl, RequestTokenError, Scope, StandardErrorResponse, SubjectIdentifier, TokenResponse, UserInfoError,
};
use reqwest::StatusCode;
use varco_domain::clock::{Clock, FixedClock};

use crate::harness::{Backend, PASSWORD, TestApp, both_backends};
use crate::oidc::{AFTER_LOGOUT, REDIRECT, location, params_of, register, registration};

both_backends!(an_openidconnect_relying_party_signs_in_refreshes_and_signs_out);

/// The relying party's own HTTP client: no cookies, no redirects followed
/// (the crate's advice against SSRF).
fn rp_http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The test's fixed clock as the verifier's "now" (ID tokens carry the
/// server's fixed time, not the real one).
fn clock_fn(clock: &Arc<FixedClock>) -> impl Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync + use<> {
    let clock = clock.clone();
    move || chrono::DateTime::from_timestamp(clock.now().0, 0).expect("a representable time")
}

/// The `error` of a refused token request.
fn oauth_error<E: std::error::Error + 'static>(
    e: RequestTokenError<E, StandardErrorResponse<CoreErrorResponseType>>,
) -> CoreErrorResponseType {
    match e {
        RequestTokenError::ServerResponse(response) => response.error().clone(),
        other => panic!("expected an OAuth error response, got {other:?}"),
    }
}

async fn an_openidconnect_relying_party_signs_in_refreshes_and_signs_out(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    t.add_school().await;
    let account = t
        .add_account(2, "docente@example.it", Some("docente"), Some(PASSWORD))
        .await;
    let rp = register(&t, registration("Registro elettronico")).await;
    let http = rp_http();

    // Discovery: the crate checks that `issuer` is exactly the URL asked
    // for, and fetches the JWKS from `jwks_uri`.
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(t.base.clone()).unwrap(), &http)
        .await
        .expect("discovery");
    assert_eq!(metadata.issuer().as_str(), t.base);
    assert!(!metadata.jwks().keys().is_empty(), "the JWKS has a key");
    let jwks = metadata.jwks().clone();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(rp.client_id.clone()),
        Some(ClientSecret::new(rp.secret.clone().expect("a confidential client"))),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());

    // The authorization request, as the crate builds it.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let browser = t.sign_in("docente", PASSWORD).await;
    let session = t.session_of(&browser).await;
    let r = browser.client.get(auth_url.as_str()).send().await.unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let back = location(&r);
    assert!(back.starts_with(REDIRECT), "{back}");
    let params = params_of(&back);
    assert_eq!(&params["state"], csrf.secret(), "state comes back unchanged");
    assert_eq!(params["iss"], t.base, "RFC 9207 iss");

    // The code exchange (client_secret_basic, the crate's default) with the verifier.
    let tokens = client
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .expect("a token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    assert!(tokens.refresh_token().is_some());
    let id_token = tokens.id_token().expect("an ID token");
    let id_verifier = client.id_token_verifier().set_time_fn(clock_fn(&t.clock));
    let claims = id_token.claims(&id_verifier, &nonce).expect("a valid ID token");
    assert_eq!(claims.issuer().as_str(), t.base);
    assert_eq!(claims.audiences().len(), 1);
    assert_eq!(claims.audiences()[0].as_str(), rp.client_id);
    assert_eq!(claims.nonce().map(Nonce::secret), Some(nonce.secret()));
    assert_eq!(
        claims.auth_time().map(|at| at.timestamp()),
        Some(session.session.created_at.0),
        "auth_time is the sign-in"
    );
    assert_eq!(
        claims.auth_context_ref().map(|acr| acr.as_str()),
        Some(varco_app::provider::ACR_PASSWORD)
    );
    let amr: Vec<&str> = claims
        .auth_method_refs()
        .expect("amr")
        .iter()
        .map(|m| m.as_str())
        .collect();
    assert_eq!(amr, ["pwd"]);
    // at_hash binds the access token to the ID token.
    let expected_hash = claims.access_token_hash().expect("at_hash");
    let actual_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(actual_hash.as_str(), expected_hash.as_str());
    let subject = claims.subject().clone();
    assert!(!subject.as_str().contains(&account.user_code));

    // A wrong nonce, another client's audience and a later clock are refused by the verifier.
    assert!(matches!(
        id_token.claims(&id_verifier, &Nonce::new("another-nonce".into())),
        Err(ClaimsVerificationError::InvalidNonce(_))
    ));
    let stranger = CoreIdTokenVerifier::new_confidential_client(
        ClientId::new("another-client".into()),
        ClientSecret::new("unused".into()),
        IssuerUrl::new(t.base.clone()).unwrap(),
        jwks,
    )
    .set_time_fn(clock_fn(&t.clock));
    assert!(
        matches!(
            id_token.claims(&stranger, &nonce),
            Err(ClaimsVerificationError::InvalidAudience(_))
        ),
        "aud is checked"
    );
    let later = Arc::new(FixedClock::new(t.clock.now().plus_secs(3600)));
    let expired = client.id_token_verifier().set_time_fn(clock_fn(&later));
    assert!(
        matches!(
            id_token.claims(&expired, &nonce),
            Err(ClaimsVerificationError::Expired(_))
        ),
        "exp is checked"
    );

    // Userinfo, with the crate checking that `sub` is the ID token's.
    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), Some(subject.clone()))
        .expect("a userinfo endpoint")
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject(), &subject);
    assert_eq!(info.email().map(|e| e.as_str()), Some("docente@example.it"));
    assert_eq!(
        info.given_name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some(account.first_name.as_str())
    );
    let wrong_sub: Result<CoreUserInfoClaims, _> = client
        .user_info(
            tokens.access_token().clone(),
            Some(SubjectIdentifier::new("someone-else".into())),
        )
        .unwrap()
        .request_async(&http)
        .await;
    assert!(
        matches!(
            wrong_sub,
            Err(UserInfoError::ClaimsVerification(
                ClaimsVerificationError::InvalidSubject(_)
            ))
        ),
        "the crate refuses a userinfo sub other than expected"
    );

    // Refresh: a new refresh token; the refreshed ID token has no nonce and
    // keeps sub and auth_time.
    t.clock.advance(120);
    let first_refresh = tokens.refresh_token().unwrap().clone();
    let refreshed = client
        .exchange_refresh_token(&first_refresh)
        .expect("a token endpoint")
        .request_async(&http)
        .await
        .expect("refresh");
    let new_refresh = refreshed.refresh_token().expect("a rotated refresh token").clone();
    assert_ne!(new_refresh.secret(), first_refresh.secret());
    let id_verifier = client.id_token_verifier().set_time_fn(clock_fn(&t.clock));
    let again = refreshed
        .id_token()
        .expect("an ID token on refresh")
        .claims(&id_verifier, |n: Option<&Nonce>| match n {
            None => Ok(()),
            Some(_) => Err("a refreshed ID token carries a nonce".to_owned()),
        })
        .expect("a valid refreshed ID token");
    assert_eq!(again.subject(), &subject);
    assert_eq!(again.auth_time(), claims.auth_time());
    assert!(again.issue_time() > claims.issue_time());
    // The rotated token presented again: invalid_grant, and the grant is gone.
    let reused = client
        .exchange_refresh_token(&first_refresh)
        .unwrap()
        .request_async(&http)
        .await
        .expect_err("a rotated refresh token is refused");
    assert_eq!(oauth_error(reused), CoreErrorResponseType::InvalidGrant);
    let after_reuse = client
        .exchange_refresh_token(&new_refresh)
        .unwrap()
        .request_async(&http)
        .await
        .expect_err("the reuse revoked the whole grant");
    assert_eq!(oauth_error(after_reuse), CoreErrorResponseType::InvalidGrant);

    // A second sign-in, then revocation (RFC 7009) through the crate.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .url();
    let r = browser.client.get(auth_url.as_str()).send().await.unwrap();
    let code = params_of(&location(&r))["code"].clone();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("second code exchange");
    let id_token = tokens.id_token().unwrap().clone();
    id_token.claims(&id_verifier, &nonce).expect("valid");
    // (The crate's own revocation request refuses a plain-http endpoint,
    // `InsecureUrl`, and Varco runs on loopback http here: posted by hand.)
    let r = http
        .post(t.url("/oauth2/revoke"))
        .basic_auth(&rp.client_id, rp.secret.as_deref())
        .form(&[
            ("token", tokens.refresh_token().unwrap().secret().as_str()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let refused = client
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&http)
        .await
        .expect_err("a revoked refresh token");
    assert_eq!(oauth_error(refused), CoreErrorResponseType::InvalidGrant);

    // RP-initiated logout with the end_session_endpoint from discovery.
    let with_logout = ProviderMetadataWithLogout::discover_async(IssuerUrl::new(t.base.clone()).unwrap(), &http)
        .await
        .expect("discovery with logout metadata");
    let end_session = with_logout
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .expect("an end_session_endpoint");
    let logout_url = LogoutRequest::from(end_session)
        .set_id_token_hint(&id_token)
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(AFTER_LOGOUT.into()).unwrap())
        .set_state(CsrfToken::new("uscita-1".into()))
        .http_get_url();
    let r = browser.client.get(logout_url.as_str()).send().await.unwrap();
    assert_eq!(location(&r), format!("{AFTER_LOGOUT}?state=uscita-1"));
    assert_eq!(
        t.me(&browser.client).await.0,
        StatusCode::UNAUTHORIZED,
        "signed out of Varco"
    );
    t.stop().await;
}
