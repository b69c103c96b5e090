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

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::sasl::{KerberosSettings, SaslSettings};
use crate::config::{Password, SaslMechanism, SecurityConfig, SecurityProtocol, TlsConfig};
use crate::oauth::source::TokenSource;
use crate::error::{Error, ErrorKind, Result};

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
        let tls = cfg.protocol.uses_tls().then(|| {
            build_client_config(&cfg.tls).map(|c| TlsConnector::from(Arc::new(c))).map_err(|e| {
                tracing::error!(error = %e, "TLS settings are unusable; every connection will fail");
                e
            })
        });
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

    /// After the handshake, a TLS 1.3 server's verdict on our client certificate arrives as an
    /// alert on the first read: report that as the authentication failure it is.
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

/// A rustls certificate failure means the broker is not who we trust (ErrorKind::Auth, like
/// Java's `SslAuthenticationException`); anything else is an I/O problem worth retrying.
fn classify_handshake_error(e: io::Error, label: &str) -> Error {
    let tls_err = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()).cloned();
    match tls_err {
        Some(rustls::Error::InvalidCertificate(c)) => {
            let hint = match &c {
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                    "its name does not match the host; fix the advertised host name or set \
                     ssl.endpoint.identification.algorithm= (empty) to skip the name check"
                }
                _ => "check ssl.truststore.location / ssl.ca.location",
            };
            Error::new(
                ErrorKind::Auth,
                format!("TLS handshake with {label} failed: the broker's certificate is not trusted ({c:?}); {hint}"),
            )
        }
        Some(rustls::Error::AlertReceived(a)) => Error::new(
            ErrorKind::Auth,
            format!(
                "TLS handshake with {label} failed: the broker rejected the connection ({a:?}); \
                 if it requires a client certificate, check ssl.certificate.location / ssl.key.location"
            ),
        ),
        // Bytes that are no TLS record (an HTTP or Kafka answer in plain text).
        Some(rustls::Error::InvalidMessage(m)) => super::sniff::tls_to_plaintext(label, &format!("{m:?}")),
        Some(other) => Error::new(ErrorKind::Io, format!("TLS handshake with {label} failed: {other}")),
        // A plaintext Kafka listener reads the ClientHello's first bytes as a huge request size
        // and drops the connection without answering.
        None if matches!(e.kind(), io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset) => {
            super::sniff::tls_to_plaintext(label, &e.to_string())
        }
        None => Error::io(format!("TLS handshake with {label} failed"), e),
    }
}

fn build_client_config(cfg: &TlsConfig) -> std::result::Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    if let Some(path) = &cfg.ca_location {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| format!("cannot read CA certificates from ssl.truststore.location={}: {e}", path.display()))?;
        add_roots(&mut roots, certs, &format!("ssl.truststore.location={}", path.display()))?;
    } else if let Some(pem) = &cfg.ca_pem {
        let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| format!("cannot parse ssl.truststore.certificates: {e}"))?;
        add_roots(&mut roots, certs, "ssl.truststore.certificates")?;
    } else {
        let found = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err("no CA certificates: set ssl.truststore.location (the platform trust store is empty)".into());
        }
    }
    let roots = Arc::new(roots);
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let builder = if cfg.verify_hostname {
        builder.with_root_certificates(roots)
    } else {
        let inner = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| format!("TLS setup failed: {e}"))?;
        builder.dangerous().with_custom_certificate_verifier(Arc::new(ChainOnlyVerifier { inner }))
    };
    let config = match client_identity(cfg)? {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("the client certificate and key do not fit together: {e}"))?,
        None => builder.with_no_client_auth(),
    };
    Ok(config)
}

fn add_roots(roots: &mut RootCertStore, certs: Vec<CertificateDer<'static>>, what: &str) -> std::result::Result<(), String> {
    if certs.is_empty() {
        return Err(format!("{what} holds no PEM certificate"));
    }
    for c in certs {
        roots.add(c).map_err(|e| format!("{what}: unusable CA certificate: {e}"))?;
    }
    Ok(())
}

type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// The client certificate chain and key for mTLS, if configured.
fn client_identity(cfg: &TlsConfig) -> std::result::Result<Option<Identity>, String> {
    let (chain_pem, chain_what, key_pem, key_what): (Vec<u8>, String, Vec<u8>, String) =
        if let Some(cert_path) = &cfg.certificate_location {
            let chain = std::fs::read(cert_path)
                .map_err(|e| format!("cannot read ssl.certificate.location={}: {e}", cert_path.display()))?;
            let (key, key_what) = match &cfg.key_location {
                Some(k) => (
                    std::fs::read(k).map_err(|e| format!("cannot read ssl.key.location={}: {e}", k.display()))?,
                    format!("ssl.key.location={}", k.display()),
                ),
                None => (chain.clone(), format!("ssl.keystore.location={}", cert_path.display())),
            };
            (chain, format!("ssl.certificate.location={}", cert_path.display()), key, key_what)
        } else if let (Some(chain), Some(key)) = (&cfg.certificate_pem, &cfg.key_pem) {
            (
                chain.as_bytes().to_vec(),
                "ssl.keystore.certificate.chain".into(),
                key.expose().as_bytes().to_vec(),
                "ssl.keystore.key".into(),
            )
        } else {
            return Ok(None);
        };
    let chain = CertificateDer::pem_slice_iter(&chain_pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot parse {chain_what}: {e}"))?;
    if chain.is_empty() {
        return Err(format!("{chain_what} holds no PEM certificate"));
    }
    // Errors about the key never quote it, nor the password.
    let key = private_key(&key_pem, &key_what, cfg.key_password.as_ref())?;
    Ok(Some((chain, key)))
}

const ENCRYPTED_PKCS8_LABEL: &str = "ENCRYPTED PRIVATE KEY";

/// The client's private key from PEM text: unencrypted PKCS#8, PKCS#1 or SEC1 as rustls reads
/// them, or an encrypted PKCS#8 key (`-----BEGIN ENCRYPTED PRIVATE KEY-----`, RFC 5958 §3, as
/// `openssl pkcs8 -topk8` writes it) decrypted with `ssl.key.password`. The decryption (PBES2:
/// PBKDF2 or scrypt, AES-CBC; RFC 8018) is the RustCrypto `pkcs8` crate's. A password given
/// for an unencrypted key is not needed and ignored.
pub(crate) fn private_key(
    pem: &[u8],
    what: &str,
    password: Option<&Password>,
) -> std::result::Result<PrivateKeyDer<'static>, String> {
    let text = String::from_utf8_lossy(pem);
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(format!(
            "{what} holds a key in OpenSSL's legacy encrypted format; convert it to encrypted PKCS#8 \
             (openssl pkcs8 -topk8 -v2 aes-256-cbc -in old.pem -out key.pem)"
        ));
    }
    let begin = format!("-----BEGIN {ENCRYPTED_PKCS8_LABEL}-----");
    let Some(start) = text.find(&begin) else {
        return PrivateKeyDer::from_pem_slice(pem).map_err(|_| format!("{what} holds no usable PEM private key"));
    };
    let Some(password) = password.filter(|p| !p.is_empty()) else {
        return Err(format!("{what} holds an encrypted private key; set ssl.key.password"));
    };
    let end_marker = format!("-----END {ENCRYPTED_PKCS8_LABEL}-----");
    let end = text[start..]
        .find(&end_marker)
        .map(|i| start + i + end_marker.len())
        .ok_or_else(|| format!("{what}: the encrypted private key has no END line"))?;
    let (label, der) = pkcs8::der::pem::decode_vec(text[start..end].as_bytes())
        .map_err(|_| format!("{what}: the encrypted private key is not valid PEM"))?;
    debug_assert_eq!(label, ENCRYPTED_PKCS8_LABEL);
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice())
        .map_err(|_| {
            format!(
                "{what}: the private key is encrypted with an unsupported scheme or malformed (supported: \
                 PBES2 with PBKDF2-HMAC-SHA1/SHA2 or scrypt, and AES-128/192/256-CBC)"
            )
        })?;
    // A wrong password fails the CBC padding check, or (1 time in 256) yields bytes that do not
    // parse as a PrivateKeyInfo: both are the same error to the user.
    let plain = info.decrypt(password.expose().as_bytes()).map_err(|e| match e {
        pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::AlgorithmParametersInvalid { .. })
        | pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::UnsupportedAlgorithm { .. }) => format!(
            "{what}: the private key is encrypted with an unsupported scheme (supported: PBES2 with \
             PBKDF2-HMAC-SHA1/SHA2 or scrypt, and AES-128/192/256-CBC)"
        ),
        _ => format!("{what}: cannot decrypt the private key: wrong ssl.key.password"),
    })?;
    pkcs8::PrivateKeyInfo::try_from(plain.as_bytes())
        .map_err(|_| format!("{what}: cannot decrypt the private key: wrong ssl.key.password"))?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(plain.as_bytes().to_vec())))
}

/// `ssl.endpoint.identification.algorithm=` (empty): the chain, validity and signatures are
/// still checked by webpki; only a name mismatch is forgiven.
#[derive(Debug)]
struct ChainOnlyVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A broker socket: plain TCP or TLS over TCP. The connection task is written against
/// `AsyncRead + AsyncWrite`; this enum lets one task type serve both.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
#[path = "tls_key_tests.rs"]
mod key_tests;
