//! `security.protocol`, TLS (`ssl.*`) and SASL (`sasl.*`) settings.
//!
//! gregor reads PEM only (no JKS/PKCS12 keystores: those are Java formats), and supports the
//! SASL mechanisms PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER. Credentials come either from Java's
//! `sasl.jaas.config` or from librdkafka-style `sasl.username` / `sasl.password`; OAUTHBEARER
//! tokens from the sources in [`OAuthBearerConfig`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::error::ConfigError;
use super::oauth::{LoginCallbackHandler, OAuthBearerConfig, ProviderHandle};
use super::parse::parse_opt_string;
use super::secret::Password;
use crate::oauth::OAuthBearerTokenProvider;

/// `security.protocol`: how bytes travel to the broker (Java `SecurityProtocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityProtocol {
    /// Plain TCP, no authentication (the default).
    #[default]
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL authentication over plain TCP.
    SaslPlaintext,
    /// SASL authentication over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// The Java name (`SASL_SSL`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Whether the connection is wrapped in TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether a SASL handshake follows the connection setup.
    pub fn uses_sasl(self) -> bool {
        matches!(self, SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl)
    }

    fn parse(key: &str, value: &str) -> Result<Self, ConfigError> {
        // Java: `SecurityProtocol.forName(value.toUpperCase(Locale.ROOT))`.
        match value.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Ok(SecurityProtocol::Plaintext),
            "SSL" => Ok(SecurityProtocol::Ssl),
            "SASL_PLAINTEXT" => Ok(SecurityProtocol::SaslPlaintext),
            "SASL_SSL" => Ok(SecurityProtocol::SaslSsl),
            _ => Err(ConfigError::invalid(
                key,
                value,
                "one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
            )),
        }
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `sasl.mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SaslMechanism {
    /// RFC 4616 PLAIN. gregor's default: Java defaults to GSSAPI (Kerberos), which gregor does
    /// not implement, so the only useful default is the simplest supported mechanism.
    #[default]
    Plain,
    /// RFC 7677 SCRAM with SHA-256.
    ScramSha256,
    /// SCRAM with SHA-512.
    ScramSha512,
    /// RFC 7628 OAUTHBEARER with a bearer token (KIP-255; OIDC tokens: KIP-768).
    OAuthBearer,
    /// RFC 4752 GSSAPI (Kerberos V5); needs gregor built with the `gssapi` feature.
    Gssapi,
}

impl SaslMechanism {
    /// The name sent in SaslHandshake.
    pub fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::OAuthBearer => "OAUTHBEARER",
            SaslMechanism::Gssapi => "GSSAPI",
        }
    }

    fn parse(key: &str, value: &str) -> Result<Self, ConfigError> {
        match value.trim().to_ascii_uppercase().as_str() {
            "PLAIN" => Ok(SaslMechanism::Plain),
            "SCRAM-SHA-256" => Ok(SaslMechanism::ScramSha256),
            "SCRAM-SHA-512" => Ok(SaslMechanism::ScramSha512),
            "OAUTHBEARER" => Ok(SaslMechanism::OAuthBearer),
            "GSSAPI" if cfg!(feature = "gssapi") => Ok(SaslMechanism::Gssapi),
            "GSSAPI" => Err(ConfigError::invalid(
                key,
                value,
                "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (GSSAPI needs gregor built with the `gssapi` feature)",
            )),
            _ => Err(ConfigError::invalid(
                key,
                value,
                "one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER",
            )),
        }
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// TLS settings (`ssl.*`). All files are PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// CA certificates to trust (`ssl.truststore.location`, alias `ssl.ca.location`).
    /// `None`: the platform's trust roots.
    pub ca_location: Option<PathBuf>,
    /// Inline PEM CA certificates (`ssl.truststore.certificates`).
    pub ca_pem: Option<String>,
    /// Client certificate chain file (`ssl.certificate.location`), or a PEM file holding both
    /// chain and key (`ssl.keystore.location`).
    pub certificate_location: Option<PathBuf>,
    /// Client private key file (`ssl.key.location`); `None` with `ssl.keystore.location` means
    /// the key is in the same file as the chain.
    pub key_location: Option<PathBuf>,
    /// Inline PEM client certificate chain (`ssl.keystore.certificate.chain`).
    pub certificate_pem: Option<String>,
    /// Inline PEM private key (`ssl.keystore.key`).
    pub key_pem: Option<Password>,
    /// Password of an encrypted private key (`ssl.key.password`).
    pub key_password: Option<Password>,
    /// `ssl.endpoint.identification.algorithm`: `https` (default) verifies that the broker's
    /// certificate matches the host name; an empty value turns the check off.
    pub verify_hostname: bool,
    /// `ssl.protocol`: the highest TLS version offered (Java: `TLSv1.2` there means 1.3 is never
    /// used, whatever `ssl.enabled.protocols` says).
    pub protocol: TlsVersion,
    /// `ssl.enabled.protocols` (TLSv1.2,TLSv1.3).
    pub enabled_protocols: Vec<TlsVersion>,
    /// `ssl.cipher.suites`: IANA names of the cipher suites allowed; empty = rustls' defaults.
    pub cipher_suites: Vec<String>,
}

/// A TLS protocol version (`ssl.protocol`, `ssl.enabled.protocols`). rustls implements TLS 1.2
/// and 1.3 only; older versions are refused with that reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    /// `TLSv1.2`.
    Tls12,
    /// `TLSv1.3`.
    Tls13,
}

impl TlsVersion {
    /// Java's name, `TLSv1.2` or `TLSv1.3`.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        }
    }

    fn parse(key: &str, value: &str) -> Result<TlsVersion, ConfigError> {
        match value.trim().to_ascii_uppercase().as_str() {
            "TLSV1.2" => Ok(TlsVersion::Tls12),
            // Java's SSLContext protocol `TLS` means "the newest the JVM has".
            "TLSV1.3" | "TLS" => Ok(TlsVersion::Tls13),
            "TLSV1" | "TLSV1.1" | "SSL" | "SSLV3" | "SSLV2HELLO" => Err(ConfigError::Unsupported {
                key: key.to_string(),
                value: value.trim().to_string(),
                reason: "rustls implements TLSv1.2 and TLSv1.3 only (older versions are insecure)",
            }),
            _ => Err(ConfigError::invalid(key, value, "TLSv1.2 or TLSv1.3")),
        }
    }
}

impl TlsConfig {
    /// The versions a handshake may use: `ssl.enabled.protocols` up to `ssl.protocol`.
    pub fn effective_versions(&self) -> Vec<TlsVersion> {
        self.enabled_protocols.iter().copied().filter(|v| *v <= self.protocol).collect()
    }
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            ca_location: None,
            ca_pem: None,
            certificate_location: None,
            key_location: None,
            certificate_pem: None,
            key_pem: None,
            key_password: None,
            verify_hostname: true,
            protocol: TlsVersion::Tls13,
            enabled_protocols: vec![TlsVersion::Tls12, TlsVersion::Tls13],
            cipher_suites: Vec::new(),
        }
    }
}

/// Username and password for PLAIN or SCRAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslCredentials {
    /// The user name (SCRAM: the authentication identity).
    pub username: String,
    /// The password.
    pub password: Password,
}

/// SASL settings (`sasl.*`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SaslConfig {
    /// `sasl.mechanism`.
    pub mechanism: SaslMechanism,
    /// Credentials from `sasl.jaas.config`.
    pub(crate) jaas: Option<JaasLogin>,
    /// `sasl.username` (librdkafka style).
    pub username: Option<String>,
    /// `sasl.password` (librdkafka style).
    pub password: Option<Password>,
    /// OAUTHBEARER token source and refresh (`sasl.oauthbearer.*`, `sasl.login.*`).
    pub oauthbearer: OAuthBearerConfig,
    /// `sasl.kerberos.service.name` (GSSAPI): the brokers' Kerberos service, usually `kafka`.
    pub kerberos_service_name: Option<String>,
}

impl SaslConfig {
    /// Makes OAUTHBEARER take its tokens from `provider` (the library's equivalent of a Java
    /// `sasl.login.callback.handler.class`). gregor caches each token and asks again when the
    /// `sasl.login.refresh.*` window says so, and for every new connection or
    /// re-authentication after that.
    pub fn set_oauthbearer_token_provider(&mut self, provider: Arc<dyn OAuthBearerTokenProvider>) {
        self.oauthbearer.provider = Some(ProviderHandle(provider));
    }

    /// The `sasl.jaas.config` options (values are secrets: never print them).
    pub(crate) fn jaas_options(&self) -> Option<&BTreeMap<String, Password>> {
        self.jaas.as_ref().map(|j| &j.options)
    }

    /// The credentials to authenticate with: from `sasl.jaas.config` if given, else from
    /// `sasl.username` / `sasl.password`. Validation guarantees `Some` when SASL is enabled.
    pub fn credentials(&self) -> Option<SaslCredentials> {
        if let Some(j) = &self.jaas {
            if let (Some(u), Some(p)) = (j.options.get("username"), j.options.get("password")) {
                return Some(SaslCredentials { username: u.expose().to_string(), password: p.clone() });
            }
            return None;
        }
        match (&self.username, &self.password) {
            (Some(u), Some(p)) => Some(SaslCredentials {
                username: u.clone(),
                password: p.clone(),
            }),
            _ => None,
        }
    }
}

/// A parsed `sasl.jaas.config` value: the login module and its options. Every option value is
/// kept as a [`Password`]: `clientSecret`, `password` and token claims must never be printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JaasLogin {
    pub(crate) module: JaasModule,
    pub(crate) options: BTreeMap<String, Password>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JaasModule {
    Plain,
    Scram,
    OAuthBearer,
    Krb5,
}

impl JaasModule {
    fn class(self) -> &'static str {
        match self {
            JaasModule::Plain => "PlainLoginModule",
            JaasModule::Scram => "ScramLoginModule",
            JaasModule::OAuthBearer => "OAuthBearerLoginModule",
            JaasModule::Krb5 => "Krb5LoginModule",
        }
    }
}

/// Parses `<LoginModuleClass> <flag> key="value" ...;` (Java `JaasConfig` syntax: one login
/// module, flag required/requisite/sufficient/optional, options as key=value with the value
/// quoted or bare, terminated by `;`).
///
/// Errors never include the value: it holds a password.
pub(crate) fn parse_jaas(key: &str, value: &str) -> Result<JaasLogin, ConfigError> {
    let bad = |why: &str| ConfigError::invalid(key, Password::HIDDEN, why.to_string());
    let mut toks = JaasTokens {
        rest: value.trim(),
    };
    let class = toks.word().ok_or_else(|| bad("a login module class name"))?;
    let module = match class.rsplit('.').next().unwrap_or(class) {
        "PlainLoginModule" => JaasModule::Plain,
        "ScramLoginModule" => JaasModule::Scram,
        "OAuthBearerLoginModule" => JaasModule::OAuthBearer,
        "Krb5LoginModule" => JaasModule::Krb5,
        _ => {
            return Err(ConfigError::invalid(
                key,
                Password::HIDDEN,
                format!(
                    "org.apache.kafka.common.security.plain.PlainLoginModule, \
                     org.apache.kafka.common.security.scram.ScramLoginModule or \
                     org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule (got {class})"
                ),
            ))
        }
    };
    let flag = toks.word().ok_or_else(|| bad("a control flag after the login module (e.g. required)"))?;
    if !["required", "requisite", "sufficient", "optional"]
        .contains(&flag.to_ascii_lowercase().as_str())
    {
        return Err(bad("control flag required, requisite, sufficient or optional"));
    }
    let mut options = BTreeMap::new();
    loop {
        toks.skip_ws();
        if toks.rest.starts_with(';') {
            toks.rest = &toks.rest[1..];
            break;
        }
        if toks.rest.is_empty() {
            return Err(bad("a login module entry terminated by ';'"));
        }
        let name = toks.word().ok_or_else(|| bad("option name=value"))?;
        toks.skip_ws();
        if !toks.rest.starts_with('=') {
            return Err(bad("option name=value"));
        }
        toks.rest = &toks.rest[1..];
        toks.skip_ws();
        let val = toks.value().ok_or_else(|| bad("a quoted option value"))?;
        options.insert(name.to_string(), Password::new(val));
    }
    toks.skip_ws();
    if !toks.rest.is_empty() {
        return Err(bad("exactly one login module entry"));
    }
    if matches!(module, JaasModule::Plain | JaasModule::Scram) {
        // tokenauth, serviceName and the like are not needed for PLAIN/SCRAM.
        if !options.contains_key("username") {
            return Err(bad("a username=\"...\" option"));
        }
        if !options.contains_key("password") {
            return Err(bad("a password=\"...\" option"));
        }
    }
    Ok(JaasLogin { module, options })
}

struct JaasTokens<'a> {
    rest: &'a str,
}

impl<'a> JaasTokens<'a> {
    fn skip_ws(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn word(&mut self) -> Option<&'a str> {
        self.skip_ws();
        let end = self
            .rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == ';' || c == '"')
            .unwrap_or(self.rest.len());
        if end == 0 {
            return None;
        }
        let (w, r) = self.rest.split_at(end);
        self.rest = r;
        Some(w)
    }

    /// A quoted string (with `\"` and `\\` escapes) or a bare word.
    fn value(&mut self) -> Option<String> {
        if let Some(body) = self.rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = body.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        self.rest = &body[i + 1..];
                        return Some(out);
                    }
                    '\\' => out.push(chars.next()?.1),
                    c => out.push(c),
                }
            }
            None
        } else {
            self.word().map(str::to_string)
        }
    }
}

/// Where OAUTHBEARER tokens come from (see [`OAuthBearerConfig`]); the cross-key rules.
fn validate_oauthbearer(sasl: &SaslConfig) -> Result<(), ConfigError> {
    let o = &sasl.oauthbearer;
    let jaas = sasl.jaas_options();
    let jaas_has = |k: &str| jaas.is_some_and(|m| m.contains_key(k));
    if sasl.username.is_some() {
        return Err(ConfigError::conflict(
            &["sasl.username", "sasl.mechanism"],
            "OAUTHBEARER takes no sasl.username/sasl.password: give a token endpoint, unsecuredLogin* \
             options in sasl.jaas.config, or a token callback",
        ));
    }
    if o.provider.is_some() {
        return Ok(());
    }
    match (&o.token_endpoint_url, o.login_callback_handler) {
        (Some(_), LoginCallbackHandler::Unsecured) => Err(ConfigError::conflict(
            &["sasl.login.callback.handler.class", "sasl.oauthbearer.token.endpoint.url"],
            "OAuthBearerUnsecuredLoginCallbackHandler does not use a token endpoint",
        )),
        (None, LoginCallbackHandler::TokenEndpoint) => Err(ConfigError::Missing {
            key: "sasl.oauthbearer.token.endpoint.url",
            reason: "OAuthBearerLoginCallbackHandler needs the OAuth/OIDC token endpoint (or a file: URL)",
        }),
        (Some(url), _) if !url.to_ascii_lowercase().starts_with("file:") => {
            // Java `ConfigOrJaas`: the config key wins over the deprecated JAAS option.
            if o.client_id.is_none() && !jaas_has("clientId") {
                return Err(ConfigError::Missing {
                    key: "sasl.oauthbearer.client.credentials.client.id",
                    reason: "the client-credentials grant needs a client id (or clientId in sasl.jaas.config)",
                });
            }
            if o.client_secret.is_none() && !jaas_has("clientSecret") {
                return Err(ConfigError::Missing {
                    key: "sasl.oauthbearer.client.credentials.client.secret",
                    reason: "the client-credentials grant needs a client secret (or clientSecret in sasl.jaas.config)",
                });
            }
            Ok(())
        }
        (Some(_), _) => Ok(()),
        (None, _) => {
            if !jaas_has("unsecuredLoginStringClaim_sub") && !jaas.is_some_and(|m| {
                m.get("unsecuredLoginPrincipalClaimName")
                    .is_some_and(|c| m.contains_key(&format!("unsecuredLoginStringClaim_{}", c.expose())))
            }) {
                return Err(ConfigError::Missing {
                    key: "sasl.oauthbearer.token.endpoint.url",
                    reason: "OAUTHBEARER needs a token: set sasl.oauthbearer.token.endpoint.url (OIDC), \
                             unsecuredLoginStringClaim_sub in an OAuthBearerLoginModule sasl.jaas.config \
                             (unsecured, for tests), or a token callback",
                });
            }
            crate::oauth::unsecured::check_options(jaas.expect("checked above"))
        }
    }
}

/// Everything about authenticating and encrypting a connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityConfig {
    /// `security.protocol`.
    pub protocol: SecurityProtocol,
    /// `ssl.*`; used when `protocol.uses_tls()`.
    pub tls: TlsConfig,
    /// `sasl.*`; used when `protocol.uses_sasl()`.
    pub sasl: SaslConfig,
}

impl SecurityConfig {
    /// Applies one key; `Ok(false)` if the key is not a security key.
    pub(crate) fn set(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        let path = |v: &str| parse_opt_string(v).map(PathBuf::from);
        match key {
            "security.protocol" => self.protocol = SecurityProtocol::parse(key, value)?,
            "ssl.truststore.location" | "ssl.ca.location" => self.tls.ca_location = path(value),
            "ssl.truststore.certificates" => self.tls.ca_pem = parse_opt_string(value),
            "ssl.keystore.location" | "ssl.certificate.location" => {
                self.tls.certificate_location = path(value)
            }
            "ssl.key.location" => self.tls.key_location = path(value),
            "ssl.keystore.certificate.chain" => self.tls.certificate_pem = parse_opt_string(value),
            "ssl.keystore.key" => self.tls.key_pem = parse_opt_string(value).map(Password::new),
            "ssl.key.password" | "ssl.keystore.password" => {
                // With PEM, Java uses ssl.key.password for an encrypted key; a PKCS12-style
                // keystore password plays the same role, so both land in one place.
                self.tls.key_password = parse_opt_string(value).map(Password::new)
            }
            "ssl.truststore.password" => {
                // PEM trust stores are not encrypted; Java refuses a password for them too
                // (`DefaultSslEngineFactory`: "SSL trust store password cannot be specified for
                // PEM format"). Empty is accepted, as a properties template may carry the key.
                if parse_opt_string(value).is_some() {
                    return Err(ConfigError::Unsupported {
                        key: key.to_string(),
                        value: super::Password::HIDDEN.to_string(),
                        reason: "gregor reads PEM trust stores only, which have no password (Java refuses one for PEM too)",
                    });
                }
            }
            "ssl.protocol" => self.tls.protocol = TlsVersion::parse(key, value)?,
            "ssl.enabled.protocols" => {
                let mut list = Vec::new();
                for v in super::parse::parse_list(value) {
                    let v = TlsVersion::parse(key, &v)?;
                    if !list.contains(&v) {
                        list.push(v);
                    }
                }
                if list.is_empty() {
                    return Err(ConfigError::invalid(key, value, "a list of TLSv1.2 and TLSv1.3"));
                }
                list.sort();
                self.tls.enabled_protocols = list;
            }
            "ssl.cipher.suites" => {
                let list = super::parse::parse_list(value);
                #[cfg(feature = "tls")]
                for name in &list {
                    if !crate::net::tls::cipher_suite_names().iter().any(|n| n.eq_ignore_ascii_case(name)) {
                        return Err(ConfigError::invalid(
                            key,
                            name.as_str(),
                            format!("IANA cipher suite names among {}", crate::net::tls::cipher_suite_names().join(", ")),
                        ));
                    }
                }
                self.tls.cipher_suites = list;
            }
            "ssl.truststore.type" | "ssl.keystore.type" => {
                if !value.trim().eq_ignore_ascii_case("PEM") {
                    return Err(ConfigError::invalid(
                        key,
                        value,
                        "PEM (gregor reads PEM files only; convert JKS/PKCS12 with keytool/openssl)",
                    ));
                }
            }
            "ssl.endpoint.identification.algorithm" => {
                let v = value.trim();
                self.tls.verify_hostname = if v.is_empty() {
                    false
                } else if v.eq_ignore_ascii_case("https") {
                    true
                } else {
                    return Err(ConfigError::invalid(
                        key,
                        value,
                        "https, or an empty value to disable host name verification",
                    ));
                };
            }
            "sasl.mechanism" => {
                self.sasl.mechanism = SaslMechanism::parse(key, value)?;
            }
            "sasl.jaas.config" => {
                self.sasl.jaas = match value.trim() {
                    "" => None,
                    v => Some(parse_jaas(key, v)?),
                }
            }
            "sasl.username" => self.sasl.username = parse_opt_string(value),
            "sasl.password" => self.sasl.password = parse_opt_string(value).map(Password::new),
            "sasl.kerberos.service.name" => self.sasl.kerberos_service_name = parse_opt_string(value),
            _ => return self.sasl.oauthbearer.set(key, value),
        }
        Ok(true)
    }

    /// Cross-key rules.
    /// `mechanism_explicit`: whether `sasl.mechanism` was given (only changes the hint).
    pub(crate) fn validate(&self, mechanism_explicit: bool) -> Result<(), ConfigError> {
        #[cfg(not(feature = "tls"))]
        if self.protocol.uses_tls() {
            return Err(ConfigError::invalid("security.protocol", self.protocol.as_str(), crate::net::tls::NO_TLS));
        }
        if self.protocol.uses_tls() && self.tls.effective_versions().is_empty() {
            return Err(ConfigError::conflict(
                &["ssl.enabled.protocols", "ssl.protocol"],
                "ssl.enabled.protocols has no version at or below ssl.protocol",
            ));
        }
        let sasl = &self.sasl;
        if let Some(j) = &sasl.jaas {
            if sasl.username.is_some() || sasl.password.is_some() {
                return Err(ConfigError::conflict(
                    &["sasl.jaas.config", "sasl.username"],
                    "give credentials either in sasl.jaas.config or in sasl.username/sasl.password, not both",
                ));
            }
            let module_ok = match j.module {
                JaasModule::Plain => sasl.mechanism == SaslMechanism::Plain,
                JaasModule::Scram => {
                    matches!(sasl.mechanism, SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512)
                }
                JaasModule::OAuthBearer => sasl.mechanism == SaslMechanism::OAuthBearer,
                JaasModule::Krb5 => sasl.mechanism == SaslMechanism::Gssapi,
            };
            if !module_ok {
                let hint = if mechanism_explicit {
                    ""
                } else {
                    " (sasl.mechanism defaults to PLAIN; set it to the login module's mechanism)"
                };
                return Err(ConfigError::conflict(
                    &["sasl.jaas.config", "sasl.mechanism"],
                    format!(
                        "sasl.jaas.config uses {} but sasl.mechanism is {}{hint}",
                        j.module.class(),
                        sasl.mechanism
                    ),
                ));
            }
        }
        if sasl.username.is_some() != sasl.password.is_some() {
            return Err(ConfigError::conflict(
                &["sasl.username", "sasl.password"],
                "sasl.username and sasl.password must be given together",
            ));
        }
        if sasl.mechanism == SaslMechanism::OAuthBearer {
            if self.protocol.uses_sasl() {
                validate_oauthbearer(sasl)?;
            }
        } else if sasl.mechanism == SaslMechanism::Gssapi {
            // Java `SaslClientAuthenticator`: no service name, no Kerberos login.
            if self.protocol.uses_sasl() && sasl.kerberos_service_name.is_none() {
                return Err(ConfigError::Missing {
                    key: "sasl.kerberos.service.name",
                    reason: "GSSAPI needs the brokers' Kerberos service name (usually kafka)",
                });
            }
        } else if self.protocol.uses_sasl() && sasl.credentials().is_none() {
            return Err(ConfigError::Missing {
                key: "sasl.jaas.config",
                reason: "security.protocol enables SASL; give sasl.jaas.config or sasl.username and sasl.password",
            });
        }
        let tls = &self.tls;
        if tls.key_location.is_some() && tls.certificate_location.is_none() {
            return Err(ConfigError::conflict(
                &["ssl.key.location", "ssl.certificate.location"],
                "ssl.key.location needs ssl.certificate.location (the client certificate)",
            ));
        }
        if tls.key_pem.is_some() != tls.certificate_pem.is_some() {
            return Err(ConfigError::conflict(
                &["ssl.keystore.key", "ssl.keystore.certificate.chain"],
                "ssl.keystore.key and ssl.keystore.certificate.chain must be given together",
            ));
        }
        if tls.ca_location.is_some() && tls.ca_pem.is_some() {
            return Err(ConfigError::conflict(
                &["ssl.truststore.location", "ssl.truststore.certificates"],
                "give trusted certificates either as a file or inline, not both",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaas_plain_and_scram() {
        let j = parse_jaas(
            "sasl.jaas.config",
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="s3cr\"et";"#,
        )
        .unwrap();
        assert_eq!(j.module, JaasModule::Plain);
        assert_eq!(j.options["username"].expose(), "alice");
        assert_eq!(j.options["password"].expose(), "s3cr\"et");

        let j = parse_jaas(
            "sasl.jaas.config",
            "org.apache.kafka.common.security.scram.ScramLoginModule Required\n  username=bob\n  password=\"p w\" ;",
        )
        .unwrap();
        assert_eq!(j.module, JaasModule::Scram);
        assert_eq!((j.options["username"].expose(), j.options["password"].expose()), ("bob", "p w"));
    }

    #[test]
    fn jaas_errors_hide_the_value() {
        for bad in [
            r#"com.example.CustomLoginModule required password="topsecret";"#,
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="topsecret""#,
            r#"org.apache.kafka.common.security.plain.PlainLoginModule maybe password="topsecret";"#,
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required password="topsecret";"#,
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="topsecret"; x"#,
        ] {
            let err = parse_jaas("sasl.jaas.config", bad).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(!text.contains("topsecret"), "{text}");
            assert!(text.contains("sasl.jaas.config"), "{text}");
        }
    }

    #[test]
    fn scram_module_needs_scram_mechanism() {
        let mut s = SecurityConfig::default();
        s.set("security.protocol", "sasl_ssl").unwrap();
        s.set(
            "sasl.jaas.config",
            r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="p";"#,
        )
        .unwrap();
        let err = s.validate(false).unwrap_err().to_string();
        assert!(err.contains("defaults to PLAIN"), "{err}");
        s.set("sasl.mechanism", "plain").unwrap();
        let err = s.validate(true).unwrap_err().to_string();
        assert!(err.contains("ScramLoginModule but sasl.mechanism is PLAIN"), "{err}");
        s.set("sasl.mechanism", "OAUTHBEARER").unwrap();
        assert!(s.validate(true).is_err(), "SCRAM credentials for OAUTHBEARER");
        s.set("sasl.mechanism", "scram-sha-512").unwrap();
        s.validate(true).unwrap();
        let c = s.sasl.credentials().unwrap();
        assert_eq!((c.username.as_str(), c.password.expose()), ("u", "p"));
    }

    #[test]
    fn sasl_without_credentials_is_rejected() {
        let mut s = SecurityConfig::default();
        s.set("security.protocol", "SASL_PLAINTEXT").unwrap();
        assert!(matches!(s.validate(false), Err(ConfigError::Missing { .. })));
        s.set("sasl.username", "u").unwrap();
        assert!(s.validate(false).is_err());
        s.set("sasl.password", "p").unwrap();
        s.validate(false).unwrap();
    }

    #[test]
    fn tls_keys() {
        let mut s = SecurityConfig::default();
        s.set("ssl.ca.location", "/etc/ca.pem").unwrap();
        assert_eq!(s.tls.ca_location, Some(PathBuf::from("/etc/ca.pem")));
        assert!(s.set("ssl.truststore.type", "JKS").unwrap_err().to_string().contains("PEM"));
        s.set("ssl.truststore.type", "pem").unwrap();
        assert!(s.tls.verify_hostname);
        s.set("ssl.endpoint.identification.algorithm", "").unwrap();
        assert!(!s.tls.verify_hostname);
        assert!(s.set("ssl.endpoint.identification.algorithm", "http").is_err());
        s.set("ssl.key.location", "/k.pem").unwrap();
        assert!(s.validate(false).is_err());
        s.set("ssl.certificate.location", "/c.pem").unwrap();
        s.validate(false).unwrap();
        assert!(!s.set("not.security", "x").unwrap());
    }
}
