//! OAUTHBEARER tokens (KIP-255) for the SASL mechanism of the same name: what a token is, how an
//! application supplies one ([`OAuthBearerTokenProvider`]), and the built-in sources (an
//! unsecured token for tests, the OIDC client-credentials grant of KIP-768, a token file).
//!
//! A client keeps one token at a time and asks its source for a new one once the
//! `sasl.login.refresh.*` window (Java's `ExpiringCredentialRefreshingLogin` rule) says so. The
//! check happens when a connection authenticates or re-authenticates (KIP-368), so an idle
//! client makes no token requests, and a re-authentication always presents a token that is
//! valid for the session the broker grants.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::{Duration, SystemTime};
//! use gregor::oauth::{token_provider_fn, OAuthBearerToken};
//!
//! let provider = token_provider_fn(|| async {
//!     // Fetch a token from your identity provider here.
//!     let jwt = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.".to_string();
//!     Ok(OAuthBearerToken::new(jwt, "alice", SystemTime::now() + Duration::from_secs(3600)))
//! });
//! let mut config = gregor::ConsumerConfig::builder()
//!     .bootstrap_servers("localhost:9092")
//!     .set("security.protocol", "SASL_SSL")
//!     .set("sasl.mechanism", "OAUTHBEARER")
//!     .oauthbearer_token_provider(provider)
//!     .build()
//!     .unwrap();
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use crate::config::Password;

pub(crate) mod jwt;
pub(crate) mod oidc;
pub(crate) mod refresh;
pub(crate) mod source;
pub(crate) mod unsecured;

/// The error a token provider returns; gregor reports it as an authentication error.
pub type TokenError = Box<dyn std::error::Error + Send + Sync>;

/// The future a token provider returns.
pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<OAuthBearerToken, TokenError>> + Send + 'a>>;

/// Supplies OAUTHBEARER tokens: the library's counterpart of a Java login callback handler
/// answering `OAuthBearerTokenCallback`. Called when the client needs a token and has none that
/// is still inside its refresh window; never called concurrently for one client.
pub trait OAuthBearerTokenProvider: Send + Sync + 'static {
    /// A fresh token.
    fn token(&self) -> TokenFuture<'_>;
}

struct FnProvider<F>(F);

impl<F, Fut> OAuthBearerTokenProvider for FnProvider<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<OAuthBearerToken, TokenError>> + Send + 'static,
{
    fn token(&self) -> TokenFuture<'_> {
        Box::pin((self.0)())
    }
}

/// A provider from an async closure.
pub fn token_provider_fn<F, Fut>(f: F) -> Arc<dyn OAuthBearerTokenProvider>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<OAuthBearerToken, TokenError>> + Send + 'static,
{
    Arc::new(FnProvider(f))
}

/// A bearer token and what the client needs to know about it (Java `OAuthBearerToken`).
///
/// `Debug` never shows the token itself.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthBearerToken {
    value: Password,
    principal: String,
    expires_at: SystemTime,
    issued_at: Option<SystemTime>,
    extensions: BTreeMap<String, String>,
}

impl OAuthBearerToken {
    /// A token (usually a compact JWS) for `principal`, valid until `expires_at`.
    pub fn new(value: impl Into<String>, principal: impl Into<String>, expires_at: SystemTime) -> Self {
        OAuthBearerToken {
            value: Password::new(value),
            principal: principal.into(),
            expires_at,
            issued_at: None,
            extensions: BTreeMap::new(),
        }
    }

    /// A token from a JWT, reading `sub`, `exp` and `iat` from its payload without checking its
    /// signature (the broker does that), like Java's `ClientJwtValidator`.
    pub fn from_jwt(jwt: &str) -> Result<Self, TokenError> {
        jwt::token_from_jwt(jwt, "sub").map_err(Into::into)
    }

    /// When the token was issued (its `iat`): the start of the refresh window; without it the
    /// window starts when the client received the token.
    pub fn with_issued_at(mut self, at: SystemTime) -> Self {
        self.issued_at = Some(at);
        self
    }

    /// Adds a SASL extension (KIP-342) sent with the token, e.g. a tenant id the broker's
    /// validator checks. Names are letters only; values printable ASCII.
    pub fn with_extension(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extensions.insert(name.into(), value.into());
        self
    }

    /// The token itself (a secret).
    pub fn value(&self) -> &str {
        self.value.expose()
    }

    /// The principal (e.g. the JWT's `sub`).
    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// When the token expires.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// When the token was issued, if known.
    pub fn issued_at(&self) -> Option<SystemTime> {
        self.issued_at
    }

    /// The SASL extensions.
    pub fn extensions(&self) -> &BTreeMap<String, String> {
        &self.extensions
    }
}

impl fmt::Debug for OAuthBearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthBearerToken")
            .field("value", &Password::HIDDEN)
            .field("principal", &self.principal)
            .field("expires_at", &self.expires_at)
            .field("issued_at", &self.issued_at)
            .field("extensions", &self.extensions.keys().collect::<Vec<_>>())
            .finish()
    }
}
