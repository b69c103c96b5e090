//! `sasl.oauthbearer.*` and `sasl.login.*`: where an OAUTHBEARER token comes from (KIP-255,
//! KIP-768) and when it is refreshed.
//!
//! Three sources, chosen like Java's login callback handlers:
//! * a token callback given through the library API ([`SaslConfig::set_oauthbearer_token_provider`](super::SaslConfig::set_oauthbearer_token_provider));
//! * `sasl.oauthbearer.token.endpoint.url`: the OIDC client-credentials grant against an HTTP(S)
//!   token endpoint (Java's `OAuthBearerLoginCallbackHandler`), or a `file:` URL whose file holds
//!   the token (Java's `FileJwtRetriever`);
//! * otherwise an unsecured token built from the `unsecuredLogin*` options of `sasl.jaas.config`
//!   (Java's `OAuthBearerUnsecuredLoginCallbackHandler`), for tests and development.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::error::ConfigError;
use super::parse::{parse_bool, parse_opt_string, parse_range};
use super::secret::Password;
use crate::oauth::OAuthBearerTokenProvider;

/// `sasl.login.refresh.*`: when a token is refreshed, relative to its lifetime (Java
/// `ExpiringCredentialRefreshConfig`, applied by `ExpiringCredentialRefreshingLogin`).
#[derive(Debug, Clone, Copy)]
pub struct LoginRefreshConfig {
    /// `sasl.login.refresh.window.factor` (0.8, 0.5..=1.0): refresh after this fraction of the
    /// token's lifetime.
    pub window_factor: f64,
    /// `sasl.login.refresh.window.jitter` (0.05, 0..=0.25): plus up to this random fraction.
    pub window_jitter: f64,
    /// `sasl.login.refresh.min.period.seconds` (60, 0..=900): never refresh sooner than this
    /// after the previous refresh.
    pub min_period: Duration,
    /// `sasl.login.refresh.buffer.seconds` (300, 0..=3600): refresh at least this long before
    /// the token expires.
    pub buffer: Duration,
}

impl Default for LoginRefreshConfig {
    fn default() -> Self {
        LoginRefreshConfig {
            window_factor: 0.8,
            window_jitter: 0.05,
            min_period: Duration::from_secs(60),
            buffer: Duration::from_secs(300),
        }
    }
}

impl PartialEq for LoginRefreshConfig {
    fn eq(&self, o: &Self) -> bool {
        self.window_factor.to_bits() == o.window_factor.to_bits()
            && self.window_jitter.to_bits() == o.window_jitter.to_bits()
            && self.min_period == o.min_period
            && self.buffer == o.buffer
    }
}
impl Eq for LoginRefreshConfig {}

/// `sasl.login.callback.handler.class`, as far as gregor can honour it: Java's two OAUTHBEARER
/// handlers (gregor cannot load other Java classes; give a token callback instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoginCallbackHandler {
    /// Not set: OIDC when `sasl.oauthbearer.token.endpoint.url` is set, else unsecured.
    #[default]
    Default,
    /// `OAuthBearerUnsecuredLoginCallbackHandler`.
    Unsecured,
    /// `OAuthBearerLoginCallbackHandler` (KIP-768): needs the token endpoint URL.
    TokenEndpoint,
}

/// A token callback installed through the API; compares by identity.
#[derive(Clone)]
pub(crate) struct ProviderHandle(pub(crate) Arc<dyn OAuthBearerTokenProvider>);

impl PartialEq for ProviderHandle {
    fn eq(&self, o: &Self) -> bool {
        Arc::ptr_eq(&self.0, &o.0)
    }
}
impl Eq for ProviderHandle {}

impl fmt::Debug for ProviderHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<token callback>")
    }
}

/// OAUTHBEARER settings (used when `sasl.mechanism=OAUTHBEARER`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthBearerConfig {
    /// `sasl.oauthbearer.token.endpoint.url`: `https://...` / `http://...` (client-credentials
    /// grant) or `file:/path` (a file holding the token, re-read at each refresh).
    pub token_endpoint_url: Option<String>,
    /// `sasl.oauthbearer.scope` (or the JAAS option `scope`).
    pub scope: Option<String>,
    /// `sasl.oauthbearer.client.credentials.client.id` (or the JAAS option `clientId`).
    pub client_id: Option<String>,
    /// `sasl.oauthbearer.client.credentials.client.secret` (or the JAAS option `clientSecret`).
    pub client_secret: Option<Password>,
    /// `sasl.oauthbearer.sub.claim.name` (`sub`): the claim naming the principal.
    pub sub_claim_name: String,
    /// `sasl.oauthbearer.scope.claim.name` (`scope`).
    pub scope_claim_name: String,
    /// `sasl.oauthbearer.header.urlencode` (false): URL-encode client id and secret in the
    /// Basic authorization header (RFC 6749 §2.3.1).
    pub header_urlencode: bool,
    /// `sasl.login.callback.handler.class`.
    pub login_callback_handler: LoginCallbackHandler,
    /// `sasl.login.refresh.*`.
    pub refresh: LoginRefreshConfig,
    /// `sasl.login.connect.timeout.ms` (Java: unset = the JDK's; gregor: unset = 10 s).
    pub login_connect_timeout: Option<Duration>,
    /// `sasl.login.read.timeout.ms` (Java: unset = the JDK's; gregor: unset = 10 s).
    pub login_read_timeout: Option<Duration>,
    /// `sasl.login.retry.backoff.ms` (100): first wait between token endpoint attempts.
    pub login_retry_backoff: Duration,
    /// `sasl.login.retry.backoff.max.ms` (10000): cap of that wait, and of the time spent
    /// retrying one refresh.
    pub login_retry_backoff_max: Duration,
    pub(crate) provider: Option<ProviderHandle>,
}

impl Default for OAuthBearerConfig {
    fn default() -> Self {
        OAuthBearerConfig {
            token_endpoint_url: None,
            scope: None,
            client_id: None,
            client_secret: None,
            sub_claim_name: "sub".into(),
            scope_claim_name: "scope".into(),
            header_urlencode: false,
            login_callback_handler: LoginCallbackHandler::Default,
            refresh: LoginRefreshConfig::default(),
            login_connect_timeout: None,
            login_read_timeout: None,
            login_retry_backoff: Duration::from_millis(100),
            login_retry_backoff_max: Duration::from_millis(10_000),
            provider: None,
        }
    }
}

impl OAuthBearerConfig {
    /// Applies one key; `Ok(false)` if the key is not one of these.
    pub(crate) fn set(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        match key {
            "sasl.oauthbearer.token.endpoint.url" => {
                self.token_endpoint_url = match parse_opt_string(value) {
                    None => None,
                    Some(u) => {
                        let lower = u.to_ascii_lowercase();
                        if !(lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("file:")) {
                            return Err(ConfigError::invalid(key, value, "an https://, http:// or file: URL"));
                        }
                        Some(u)
                    }
                }
            }
            "sasl.oauthbearer.scope" => self.scope = parse_opt_string(value),
            "sasl.oauthbearer.client.credentials.client.id" => self.client_id = parse_opt_string(value),
            "sasl.oauthbearer.client.credentials.client.secret" => {
                self.client_secret = parse_opt_string(value).map(Password::new)
            }
            "sasl.oauthbearer.sub.claim.name" => {
                self.sub_claim_name = parse_opt_string(value).unwrap_or_else(|| "sub".into())
            }
            "sasl.oauthbearer.scope.claim.name" => {
                self.scope_claim_name = parse_opt_string(value).unwrap_or_else(|| "scope".into())
            }
            "sasl.oauthbearer.header.urlencode" => self.header_urlencode = parse_bool(key, value)?,
            "sasl.login.callback.handler.class" => {
                self.login_callback_handler = match value.trim().rsplit('.').next().unwrap_or("") {
                    "" => LoginCallbackHandler::Default,
                    "OAuthBearerUnsecuredLoginCallbackHandler" => LoginCallbackHandler::Unsecured,
                    "OAuthBearerLoginCallbackHandler" => LoginCallbackHandler::TokenEndpoint,
                    _ => {
                        return Err(ConfigError::invalid(
                            key,
                            value,
                            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler or \
                             ...OAuthBearerUnsecuredLoginCallbackHandler (gregor cannot load Java classes: \
                             give a token callback through the API instead)",
                        ))
                    }
                }
            }
            "sasl.login.refresh.window.factor" => self.refresh.window_factor = parse_fraction(key, value, 0.5, 1.0)?,
            "sasl.login.refresh.window.jitter" => self.refresh.window_jitter = parse_fraction(key, value, 0.0, 0.25)?,
            "sasl.login.refresh.min.period.seconds" => {
                self.refresh.min_period = Duration::from_secs(parse_range(key, value, 0, 900)? as u64)
            }
            "sasl.login.refresh.buffer.seconds" => {
                self.refresh.buffer = Duration::from_secs(parse_range(key, value, 0, 3600)? as u64)
            }
            "sasl.login.connect.timeout.ms" => self.login_connect_timeout = parse_opt_ms(key, value)?,
            "sasl.login.read.timeout.ms" => self.login_read_timeout = parse_opt_ms(key, value)?,
            "sasl.login.retry.backoff.ms" => {
                self.login_retry_backoff = Duration::from_millis(parse_range(key, value, 0, i64::MAX)? as u64)
            }
            "sasl.login.retry.backoff.max.ms" => {
                self.login_retry_backoff_max = Duration::from_millis(parse_range(key, value, 0, i64::MAX)? as u64)
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

fn parse_fraction(key: &str, value: &str, min: f64, max: f64) -> Result<f64, ConfigError> {
    match value.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && (min..=max).contains(&v) => Ok(v),
        _ => Err(ConfigError::invalid(key, value, format!("a number in [{min}, {max}]"))),
    }
}

fn parse_opt_ms(key: &str, value: &str) -> Result<Option<Duration>, ConfigError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(Duration::from_millis(parse_range(key, value, 1, i64::from(i32::MAX))? as u64)))
}
