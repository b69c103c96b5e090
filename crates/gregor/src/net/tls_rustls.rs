//! The rustls half of [`super::tls`] (the `tls` cargo feature): the client configuration from
//! the `ssl.*` keys, handshake error classification, encrypted client keys.

use std::io;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::{Password, TlsConfig};
use crate::error::{Error, ErrorKind};

/// A rustls certificate failure means the broker is not who we trust (ErrorKind::Auth, like
/// Java's `SslAuthenticationException`); anything else is an I/O problem worth retrying.
pub(super) fn classify_handshake_error(e: io::Error, label: &str) -> Error {
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

/// Java's (IANA) names of the cipher suites rustls' ring provider implements, for
/// `ssl.cipher.suites`. rustls names the TLS 1.3 suites `TLS13_*`; IANA and Java say `TLS_*`.
pub(crate) fn cipher_suite_names() -> &'static [String] {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        rustls::crypto::ring::default_provider().cipher_suites.iter().filter_map(|s| iana_name(*s)).collect()
    })
}

fn iana_name(suite: rustls::SupportedCipherSuite) -> Option<String> {
    let name = suite.suite().as_str()?;
    Some(match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name.to_string(),
    })
}

/// The ring provider, cut down to `ssl.cipher.suites` when that is set.
fn provider(cfg: &TlsConfig) -> std::result::Result<rustls::crypto::CryptoProvider, String> {
    let mut provider = rustls::crypto::ring::default_provider();
    if !cfg.cipher_suites.is_empty() {
        provider.cipher_suites.retain(|s| {
            iana_name(*s).is_some_and(|n| cfg.cipher_suites.iter().any(|want| want.eq_ignore_ascii_case(&n)))
        });
        if provider.cipher_suites.is_empty() {
            return Err(format!("ssl.cipher.suites={} names no suite rustls implements", cfg.cipher_suites.join(",")));
        }
    }
    Ok(provider)
}

pub(super) fn build_client_config(cfg: &TlsConfig) -> std::result::Result<ClientConfig, String> {
    let provider = Arc::new(provider(cfg)?);
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = cfg
        .effective_versions()
        .into_iter()
        .map(|v| match v {
            crate::config::TlsVersion::Tls12 => &rustls::version::TLS12,
            crate::config::TlsVersion::Tls13 => &rustls::version::TLS13,
        })
        .collect();
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
    // ssl.enabled.protocols up to ssl.protocol; an empty list (or suites that fit none of the
    // versions) is rustls' error, reported as the TLS setup failure it is.
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("TLS setup failed (ssl.enabled.protocols / ssl.cipher.suites): {e}"))?;
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

#[cfg(test)]
#[path = "tls_key_tests.rs"]
mod key_tests;
