//! TLS for broker connections (`security.protocol=SSL|SASL_SSL`), with rustls.
//!
//! Trust: the PEM CA file (`ssl.truststore.location` / `ssl.ca.location`) or inline PEM
//! (`ssl.truststore.certificates`); without either, the platform's trust store (the Java client
//! likewise falls back to the JVM's default trust store). Client certificates (mTLS) come from
//! `ssl.certificate.location` + `ssl.key.location`, a single PEM `ssl.keystore.location` holding
//! both, or inline PEM. Host name verification follows
//! `ssl.endpoint.identification.algorithm` (Java default `https` since Kafka 2.0, KIP-294); with
//! it turned off the certificate chain is still verified, only the name check is skipped.
//!
//! The security context is built once per client. A bad file does not fail construction (the
//! consumer opens nothing until `poll`); it is reported as a [`ErrorKind::Config`] error by every
//! connection attempt, which the client surfaces at once instead of retrying.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

#[cfg(feature = "tls")]
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(feature = "tls")]
use tokio_rustls::{client::TlsStream, TlsConnector};

use super::sasl::{KerberosSettings, SaslSettings};
use crate::config::{Password, SaslMechanism, SecurityConfig, SecurityProtocol};
use crate::oauth::source::TokenSource;
use crate::error::{Error, ErrorKind, Result};

#[cfg(feature = "tls")]
pub(crate) use super::tls_rustls::cipher_suite_names;
#[cfg(feature = "tls")]
use super::tls_rustls::{build_client_config, classify_handshake_error};

/// Without the `tls` feature there is no connector: a TLS protocol is refused with this text.
#[cfg(not(feature = "tls"))]
type TlsConnector = std::convert::Infallible;

/// Why a TLS protocol cannot be used by a build without the `tls` cargo feature.
#[cfg(not(feature = "tls"))]
pub(crate) const NO_TLS: &str =
    "security.protocol=SSL and SASL_SSL need TLS, and this build of gregor has no TLS: enable its `tls` cargo feature";

/// What a connection task needs to secure and authenticate a socket.
pub(crate) struct SecurityContext {
    pub(crate) protocol: SecurityProtocol,
    /// `Some` when the protocol uses TLS: the connector, or why it could not be built.
    tls: Option<std::result::Result<TlsConnector, String>>,
    pub(crate) sasl: Option<SaslSettings>,
}

impl fmt::Debug for SecurityContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never prints key material or credentials: only what is configured.
        f.debug_struct("SecurityContext")
            .field("protocol", &self.protocol)
            .field("tls", &self.tls.as_ref().map(|r| r.is_ok()))
            .field("sasl", &self.sasl)
            .finish()
    }
}

impl SecurityContext {
    /// Builds the TLS connector (reading the PEM files) and the SASL settings.
    pub(crate) fn from_config(cfg: &SecurityConfig) -> Arc<SecurityContext> {
        #[cfg(feature = "tls")]
        let tls = cfg.protocol.uses_tls().then(|| {
            build_client_config(&cfg.tls).map(|c| TlsConnector::from(Arc::new(c))).map_err(|e| {
                tracing::error!(error = %e, "TLS settings are unusable; every connection will fail");
                e
            })
        });
        #[cfg(not(feature = "tls"))]
        let tls: Option<std::result::Result<TlsConnector, String>> =
            cfg.protocol.uses_tls().then(|| Err(NO_TLS.to_string()));
        let sasl = if !cfg.protocol.uses_sasl() {
            None
        } else if cfg.sasl.mechanism == SaslMechanism::OAuthBearer {
            let tokens = TokenSource::from_config(&cfg.sasl).map(Arc::new).map_err(|e| {
                tracing::error!(error = %e, "OAUTHBEARER settings are unusable; every connection will fail");
                e
            });
            Some(SaslSettings {
                mechanism: cfg.sasl.mechanism,
                username: String::new(),
                password: Password::default(),
                tokens: Some(tokens),
                kerberos: None,
            })
        } else if cfg.sasl.mechanism == SaslMechanism::Gssapi {
            // Java's Krb5LoginModule options: useKeyTab=true keyTab="..." principal="...".
            let opt = |k: &str| cfg.sasl.jaas_options().and_then(|m| m.get(k)).map(|v| v.expose().trim().to_string());
            let use_keytab = opt("useKeyTab").is_some_and(|v| v.eq_ignore_ascii_case("true"));
            Some(SaslSettings {
                mechanism: cfg.sasl.mechanism,
                username: String::new(),
                password: Password::default(),
                tokens: None,
                kerberos: Some(KerberosSettings {
                    service_name: cfg.sasl.kerberos_service_name.clone().unwrap_or_else(|| "kafka".into()),
                    keytab: if use_keytab { opt("keyTab") } else { None },
                    principal: opt("principal"),
                }),
            })
        } else {
            cfg.sasl.credentials().map(|c| SaslSettings {
                mechanism: cfg.sasl.mechanism,
                username: c.username,
                password: c.password,
                tokens: None,
                kerberos: None,
            })
        };
        Arc::new(SecurityContext { protocol: cfg.protocol, tls, sasl })
    }

    /// Fails at once (before any TCP connect) when the TLS files could not be loaded.
    pub(crate) fn check(&self) -> Result<()> {
        if let Some(Err(e)) = &self.tls {
            return Err(Error::new(ErrorKind::Config, e.clone()));
        }
        self.sasl.as_ref().map_or(Ok(()), SaslSettings::check)
    }

    /// Without TLS there is no alert to reinterpret.
    #[cfg(not(feature = "tls"))]
    pub(crate) fn reclassify(&self, e: Error, _label: &str) -> Error {
        e
    }

    /// After the handshake, a TLS 1.3 server's verdict on our client certificate arrives as an
    /// alert on the first read: report that as the authentication failure it is.
    #[cfg(feature = "tls")]
    pub(crate) fn reclassify(&self, e: Error, label: &str) -> Error {
        if self.tls.is_none() || e.kind() != ErrorKind::Io {
            return e;
        }
        let alert = std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<io::Error>())
            .and_then(|io| io.get_ref())
            .and_then(|i| i.downcast_ref::<rustls::Error>())
            .and_then(|t| match t {
                rustls::Error::AlertReceived(a) => Some(*a),
                _ => None,
            });
        match alert {
            Some(a) => Error::new(
                ErrorKind::Auth,
                format!(
                    "TLS connection to {label} rejected by the broker ({a:?}); if it requires a client \
                     certificate, check ssl.certificate.location / ssl.key.location"
                ),
            ),
            None => e,
        }
    }

    /// Wraps a connected socket in TLS when the protocol asks for it.
    #[cfg(not(feature = "tls"))]
    pub(crate) async fn secure(&self, tcp: TcpStream, _host: &str, _label: &str) -> Result<Stream> {
        match &self.tls {
            None => Ok(Stream::Plain(tcp)),
            Some(_) => Err(Error::new(ErrorKind::Config, NO_TLS)),
        }
    }

    /// Wraps a connected socket in TLS when the protocol asks for it.
    #[cfg(feature = "tls")]
    pub(crate) async fn secure(&self, tcp: TcpStream, host: &str, label: &str) -> Result<Stream> {
        let Some(tls) = &self.tls else { return Ok(Stream::Plain(tcp)) };
        let connector = tls.as_ref().map_err(|e| Error::new(ErrorKind::Config, e.clone()))?;
        // SNI and the name checked against the certificate: the endpoint host as configured or
        // advertised (an IP address is checked against the certificate's IP SANs, without SNI).
        let name = ServerName::try_from(host.to_string()).map_err(|_| {
            Error::new(ErrorKind::Config, format!("{host} is not a valid TLS server name ({label})"))
        })?;
        match connector.connect(name, tcp).await {
            Ok(s) => Ok(Stream::Tls(Box::new(s))),
            Err(e) => Err(classify_handshake_error(e, label)),
        }
    }
}

/// A broker socket: plain TCP or TLS over TCP. The connection task is written against
/// `AsyncRead + AsyncWrite`; this enum lets one task type serve both.
pub(crate) enum Stream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
