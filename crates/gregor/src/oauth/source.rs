//! One client's OAUTHBEARER token: where it comes from and when it is replaced.
//!
//! The token is fetched on first use and kept until the `sasl.login.refresh.*` window
//! ([`refresh_at_ms`]) says it is due; the next connection or re-authentication after that
//! fetches a new one. One fetch at a time (callers wait for the one in flight). If a refresh
//! fails while the current token has not expired, the current token is used and the failure is
//! logged: Java's refresh thread likewise keeps the old credential until a new one arrives.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::oidc::OidcClient;
use super::refresh::refresh_at_ms;
use super::{OAuthBearerToken, OAuthBearerTokenProvider};
use crate::config::{LoginRefreshConfig, Password, SaslConfig};
use crate::error::{Error, ErrorKind, Result};

enum Kind {
    Callback(Arc<dyn OAuthBearerTokenProvider>),
    Endpoint(Box<OidcClient>),
    File { path: PathBuf, sub_claim: String },
    Unsecured(BTreeMap<String, Password>),
}

struct Cached {
    token: OAuthBearerToken,
    refresh_at: SystemTime,
}

pub(crate) struct TokenSource {
    kind: Kind,
    refresh: LoginRefreshConfig,
    state: tokio::sync::Mutex<Option<Cached>>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            Kind::Callback(_) => "callback",
            Kind::Endpoint(_) => "token endpoint",
            Kind::File { .. } => "token file",
            Kind::Unsecured(_) => "unsecured",
        };
        f.debug_struct("TokenSource").field("kind", &kind).finish()
    }
}

fn ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

fn at_ms(v: i64) -> SystemTime {
    if v >= 0 {
        UNIX_EPOCH + std::time::Duration::from_millis(v as u64)
    } else {
        UNIX_EPOCH
    }
}

impl TokenSource {
    /// The source the validated configuration describes (see `config::oauth`).
    pub(crate) fn from_config(sasl: &SaslConfig) -> std::result::Result<TokenSource, String> {
        let o = &sasl.oauthbearer;
        let kind = if let Some(p) = &o.provider {
            Kind::Callback(p.0.clone())
        } else if let Some(url) = &o.token_endpoint_url {
            if let Some(rest) = url.strip_prefix("file:").or_else(|| url.strip_prefix("FILE:")) {
                // file:/path and file:///path.
                let path = rest.strip_prefix("//").unwrap_or(rest);
                Kind::File { path: PathBuf::from(path), sub_claim: o.sub_claim_name.clone() }
            } else {
                Kind::Endpoint(Box::new(OidcClient::new(o, url, sasl.jaas_options())?))
            }
        } else {
            Kind::Unsecured(sasl.jaas_options().cloned().unwrap_or_default())
        };
        Ok(TokenSource { kind, refresh: o.refresh, state: tokio::sync::Mutex::new(None) })
    }

    #[cfg(test)]
    pub(crate) fn with_provider(p: Arc<dyn OAuthBearerTokenProvider>, refresh: LoginRefreshConfig) -> Self {
        TokenSource { kind: Kind::Callback(p), refresh, state: tokio::sync::Mutex::new(None) }
    }

    /// The token to authenticate with now.
    pub(crate) async fn token(&self) -> Result<OAuthBearerToken> {
        let rand01: f64 = rand::random();
        self.token_at(SystemTime::now(), rand01).await
    }

    /// The token to authenticate with at `now` (`rand01`: the refresh jitter's draw).
    pub(crate) async fn token_at(&self, now: SystemTime, rand01: f64) -> Result<OAuthBearerToken> {
        let mut state = self.state.lock().await;
        if let Some(c) = state.as_ref() {
            if now < c.refresh_at {
                return Ok(c.token.clone());
            }
        }
        match self.fetch(now).await {
            Ok(token) => {
                let refresh_ms = refresh_at_ms(
                    ms(now),
                    token.issued_at().map(ms),
                    ms(token.expires_at()),
                    &self.refresh,
                    rand01,
                );
                tracing::debug!(
                    principal = %token.principal(),
                    expires_in_ms = ms(token.expires_at()) - ms(now),
                    refresh_in_ms = refresh_ms - ms(now),
                    "new OAUTHBEARER token"
                );
                *state = Some(Cached { token: token.clone(), refresh_at: at_ms(refresh_ms) });
                Ok(token)
            }
            Err(e) => match state.as_ref() {
                Some(c) if now < c.token.expires_at() => {
                    tracing::warn!(error = %e, "OAUTHBEARER token refresh failed; using the current token until it expires");
                    Ok(c.token.clone())
                }
                _ => Err(e),
            },
        }
    }

    async fn fetch(&self, now: SystemTime) -> Result<OAuthBearerToken> {
        let auth = |m: String| Error::new(ErrorKind::Auth, m);
        let token = match &self.kind {
            Kind::Callback(p) => p.token().await.map_err(|e| auth(format!("the OAUTHBEARER token callback failed: {e}")))?,
            Kind::Endpoint(c) => c.fetch().await.map_err(|e| auth(format!("cannot get an OAUTHBEARER token: {e}")))?,
            Kind::File { path, sub_claim } => {
                let text = tokio::fs::read_to_string(path).await.map_err(|e| {
                    Error::new(ErrorKind::Config, format!("cannot read the token file {}: {e}", path.display()))
                })?;
                super::jwt::token_from_jwt(&text, sub_claim)
                    .map_err(|e| auth(format!("the token in {} is unusable: {e}", path.display())))?
            }
            Kind::Unsecured(options) => {
                super::unsecured::build(options, now).map_err(|e| Error::new(ErrorKind::Config, e.to_string()))?
            }
        };
        crate::net::sasl::check_extensions(token.extensions()).map_err(auth)?;
        if token.expires_at() <= now {
            return Err(auth(format!("the OAUTHBEARER token for '{}' has already expired", token.principal())));
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::oauth::token_provider_fn;

    /// A provider whose n-th token expires `lifetime` after `base`, or fails when `fail` is set.
    fn counting(base: SystemTime, lifetime: Duration) -> (Arc<AtomicU32>, Arc<std::sync::atomic::AtomicBool>, TokenSource) {
        let calls = Arc::new(AtomicU32::new(0));
        let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (c, f) = (calls.clone(), fail.clone());
        let p = token_provider_fn(move || {
            let n = c.fetch_add(1, Ordering::SeqCst);
            let fail = f.load(Ordering::SeqCst);
            async move {
                if fail {
                    return Err("identity provider down".into());
                }
                Ok(OAuthBearerToken::new(format!("t{n}"), "alice", base + lifetime * (n + 1)))
            }
        });
        (calls, fail, TokenSource::with_provider(p, LoginRefreshConfig::default()))
    }

    #[tokio::test]
    async fn cached_until_the_refresh_window_then_refetched() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let hour = Duration::from_secs(3600);
        let (calls, _, src) = counting(t0, hour);
        assert_eq!(src.token_at(t0, 0.0).await.unwrap().value(), "t0");
        // 80% of an hour = 48 min: the same token until then.
        assert_eq!(src.token_at(t0 + Duration::from_secs(47 * 60), 0.0).await.unwrap().value(), "t0");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(src.token_at(t0 + Duration::from_secs(48 * 60), 0.0).await.unwrap().value(), "t1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn failed_refresh_keeps_a_valid_token_but_not_an_expired_one() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let (_, fail, src) = counting(t0, Duration::from_secs(3600));
        src.token_at(t0, 0.0).await.unwrap();
        fail.store(true, Ordering::SeqCst);
        let later = t0 + Duration::from_secs(50 * 60);
        assert_eq!(src.token_at(later, 0.0).await.unwrap().value(), "t0", "still valid: kept");
        let err = src.token_at(t0 + Duration::from_secs(3600), 0.0).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth);
        assert!(err.to_string().contains("identity provider down"), "{err}");
    }

    #[tokio::test]
    async fn an_expired_token_from_the_source_is_refused() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let p = token_provider_fn(move || async move { Ok(OAuthBearerToken::new("x", "bob", t0)) });
        let src = TokenSource::with_provider(p, LoginRefreshConfig::default());
        let err = src.token_at(t0 + Duration::from_secs(1), 0.0).await.unwrap_err();
        assert!(err.to_string().contains("already expired"), "{err}");
    }
}
