//! The OAuth 2 client-credentials grant (RFC 6749 §4.4) against an OIDC token endpoint, as
//! Java's `ClientCredentialsJwtRetriever` / `HttpJwtRetriever` do it (KIP-768):
//!
//! `POST <sasl.oauthbearer.token.endpoint.url>` with `Authorization: Basic base64(id:secret)`
//! (URL-encoded first when `sasl.oauthbearer.header.urlencode=true`, RFC 6749 §2.3.1) and the
//! form body `grant_type=client_credentials[&scope=...]`; the JSON answer's `access_token` is
//! the JWT. Connection failures and 5xx answers are retried with `sasl.login.retry.backoff.ms`
//! doubling up to `sasl.login.retry.backoff.max.ms`; other 4xx answers are not (bad client
//! credentials do not heal).
//!
//! HTTP is `reqwest` over rustls. Like Java (`JaasOptionsUtils.createSSLSocketFactory`), the
//! trust for an `https` endpoint comes from the JAAS options `ssl.truststore.location` (PEM) or
//! `ssl.truststore.certificates`, else the platform's roots. Neither the secret nor the token
//! ever appears in an error or log line.

use std::collections::BTreeMap;

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use super::OAuthBearerToken;
use crate::config::{OAuthBearerConfig, Password};

/// How long to wait for the token endpoint when `sasl.login.connect.timeout.ms` /
/// `sasl.login.read.timeout.ms` are unset (Java then waits as long as the JDK does).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct OidcClient {
    http: reqwest::Client,
    url: String,
    authorization: Password,
    body: String,
    sub_claim: String,
    backoff: Duration,
    backoff_max: Duration,
}

/// Form-encodes one value (`application/x-www-form-urlencoded`, as Java's `URLEncoder`).
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl OidcClient {
    /// `jaas`: the OAuthBearerLoginModule options (clientId, clientSecret, scope and ssl.* for
    /// the endpoint's TLS), used where the `sasl.oauthbearer.*` keys are not set.
    pub(crate) fn new(cfg: &OAuthBearerConfig, url: &str, jaas: Option<&BTreeMap<String, Password>>) -> Result<Self, String> {
        let jaas_opt = |k: &str| jaas.and_then(|m| m.get(k)).map(|p| p.expose().trim().to_string()).filter(|v| !v.is_empty());
        let client_id = cfg.client_id.clone().or_else(|| jaas_opt("clientId")).ok_or("no client id")?;
        let secret = cfg
            .client_secret
            .as_ref()
            .map(|p| p.expose().trim().to_string())
            .or_else(|| jaas_opt("clientSecret"))
            .ok_or("no client secret")?;
        let scope = cfg.scope.clone().or_else(|| jaas_opt("scope"));
        let (id, secret, scope) = if cfg.header_urlencode {
            (form_encode(&client_id), form_encode(&secret), scope.as_deref().map(form_encode))
        } else {
            (client_id, secret, scope)
        };
        let authorization = Password::new(format!("Basic {}", B64.encode(format!("{id}:{secret}"))));
        let mut body = "grant_type=client_credentials".to_string();
        if let Some(s) = scope {
            // Java appends the scope as given (URL-encoded only with header.urlencode).
            body.push_str("&scope=");
            body.push_str(&s);
        }
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut builder = reqwest::Client::builder()
            .connect_timeout(cfg.login_connect_timeout.unwrap_or(DEFAULT_TIMEOUT))
            .read_timeout(cfg.login_read_timeout.unwrap_or(DEFAULT_TIMEOUT))
            .redirect(reqwest::redirect::Policy::none());
        // Always preconfigured: reqwest would otherwise look for a process-wide rustls provider
        // even for http URLs. For http the roots are never used, so none are loaded.
        let https = url.to_ascii_lowercase().starts_with("https://");
        #[cfg(feature = "tls")]
        {
            builder = builder.use_preconfigured_tls(tls_config(jaas, https)?);
        }
        #[cfg(not(feature = "tls"))]
        if https {
            let _ = jaas;
            return Err(format!("the token endpoint {url} is https, and this build of gregor has no TLS: enable its `tls` cargo feature"));
        }
        let http = builder.build().map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(OidcClient {
            http,
            url: url.to_string(),
            authorization,
            body,
            sub_claim: cfg.sub_claim_name.clone(),
            backoff: cfg.login_retry_backoff,
            backoff_max: cfg.login_retry_backoff_max,
        })
    }

    /// One token, retrying transient failures for up to `sasl.login.retry.backoff.max.ms`.
    pub(crate) async fn fetch(&self) -> Result<OAuthBearerToken, String> {
        let mut wait = self.backoff;
        let mut waited = Duration::ZERO;
        loop {
            match self.attempt().await {
                Ok(t) => return Ok(t),
                Err((msg, false)) => return Err(msg),
                Err((msg, true)) => {
                    if waited + wait > self.backoff_max {
                        return Err(msg);
                    }
                    tracing::warn!(endpoint = %self.url, error = %msg, "token request failed; retrying in {wait:?}");
                    tokio::time::sleep(wait).await;
                    waited += wait;
                    wait = (wait * 2).min(self.backoff_max).max(Duration::from_millis(1));
                }
            }
        }
    }

    /// `Err((message, retriable))`.
    async fn attempt(&self) -> Result<OAuthBearerToken, (String, bool)> {
        let resp = self
            .http
            .post(&self.url)
            .header("Authorization", self.authorization.expose())
            .header("Accept", "application/json")
            .header("Cache-Control", "no-cache")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(self.body.clone())
            .send()
            .await
            .map_err(|e| (format!("token endpoint {} unreachable: {}", self.url, without_url(&e)), true))?;
        let status = resp.status();
        // Bounded: a token response is a few KiB.
        let body = read_limited(resp, 1 << 20).await.map_err(|e| (format!("token endpoint {}: {e}", self.url), true))?;
        if !status.is_success() {
            // The endpoint's error (RFC 6749 §5.2: error, error_description) helps; it holds no
            // secret of ours.
            let detail = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| {
                    let e = v.get("error")?.as_str()?.to_string();
                    Some(match v.get("error_description").and_then(|d| d.as_str()) {
                        Some(d) => format!("{e}: {d}"),
                        None => e,
                    })
                })
                .unwrap_or_default();
            let retriable = status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429;
            return Err((format!("token endpoint {} answered HTTP {} {detail}", self.url, status.as_u16()), retriable));
        }
        let json: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|_| (format!("token endpoint {} answered something that is not JSON", self.url), false))?;
        let jwt = json
            .get("access_token")
            .and_then(|t| t.as_str())
            .ok_or_else(|| (format!("token endpoint {} answered without an access_token", self.url), false))?;
        super::jwt::token_from_jwt(jwt, &self.sub_claim)
            .map_err(|e| (format!("the access token from {} is unusable: {e}", self.url), false))
    }
}

/// reqwest's error text, without repeating the URL (which we print once).
fn without_url(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    if let Some(u) = e.url() {
        msg = msg.replace(&format!(" ({u})"), "").replace(u.as_str(), "");
    }
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

async fn read_limited(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| without_url(&e))? {
        if out.len() + chunk.len() > limit {
            return Err(format!("response larger than {limit} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

#[cfg(feature = "tls")]
/// rustls for the token endpoint: roots from the JAAS `ssl.truststore.*` options (Java reads the
/// endpoint's TLS settings from there), else the platform's.
fn tls_config(jaas: Option<&BTreeMap<String, Password>>, https: bool) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let opt = |k: &str| jaas.and_then(|m| m.get(k)).map(|p| p.expose().trim().to_string()).filter(|v| !v.is_empty());
    let mut roots = rustls::RootCertStore::empty();
    let certs: Vec<CertificateDer<'static>> = if !https {
        Vec::new()
    } else if let Some(path) = opt("ssl.truststore.location") {
        CertificateDer::pem_file_iter(&path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("cannot read the token endpoint's ssl.truststore.location={path}: {e}"))?
    } else if let Some(pem) = opt("ssl.truststore.certificates") {
        CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("cannot parse the token endpoint's ssl.truststore.certificates: {e}"))?
    } else {
        rustls_native_certs::load_native_certs().certs
    };
    let (added, _) = roots.add_parsable_certificates(certs);
    if https && added == 0 {
        return Err("no CA certificate to verify the token endpoint: set ssl.truststore.location in sasl.jaas.config".into());
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_like_java_urlencoder() {
        assert_eq!(form_encode("a b+c/d=é*_.-"), "a+b%2Bc%2Fd%3D%C3%A9*_.-");
    }

    #[test]
    fn basic_header_and_body() {
        let mut cfg = OAuthBearerConfig::default();
        cfg.client_id = Some("my client".into());
        cfg.client_secret = Some(Password::new("s3:cr/et"));
        cfg.scope = Some("kafka read".into());
        let c = OidcClient::new(&cfg, "http://127.0.0.1:1/token", None).unwrap();
        assert_eq!(c.authorization.expose(), format!("Basic {}", B64.encode("my client:s3:cr/et")));
        assert_eq!(c.body, "grant_type=client_credentials&scope=kafka read");
        cfg.header_urlencode = true;
        let c = OidcClient::new(&cfg, "http://127.0.0.1:1/token", None).unwrap();
        assert_eq!(c.authorization.expose(), format!("Basic {}", B64.encode("my+client:s3%3Acr%2Fet")));
        assert_eq!(c.body, "grant_type=client_credentials&scope=kafka+read");
        // JAAS options (KIP-768's original names) when the keys are unset.
        let jaas: BTreeMap<String, Password> =
            [("clientId", "j"), ("clientSecret", "k"), ("scope", "s")].iter().map(|(a, b)| (a.to_string(), Password::new(*b))).collect();
        let c = OidcClient::new(&OAuthBearerConfig::default(), "http://h/t", Some(&jaas)).unwrap();
        assert_eq!(c.authorization.expose(), format!("Basic {}", B64.encode("j:k")));
        assert_eq!(c.body, "grant_type=client_credentials&scope=s");
    }
}
