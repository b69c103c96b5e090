//! SASL authentication: SaslHandshake v1 + SaslAuthenticate v0..2 (KIP-152), for PLAIN
//! (RFC 4616), SCRAM-SHA-256/512 (RFC 5802, RFC 7677) and OAUTHBEARER (RFC 7628, KIP-255), on a
//! new connection and again on the same connection before the session the broker granted
//! expires (KIP-368 re-authentication, driven by `connection.rs` and `reauth.rs`).
//!
//! Order on the socket (Java `SaslClientAuthenticator`): ApiVersions, SaslHandshake naming the
//! mechanism, then SaslAuthenticate round trips carrying the mechanism's bytes, and only then any
//! other request. A rejected login is one [`ErrorKind::Auth`] error naming the user, the
//! mechanism and the broker; it is not retried on the spot (see the client's rejection gate).
//!
//! Each mechanism's client is a sans-I/O state machine ([`SaslClient`]: first message, then one
//! step per server message); [`Transport`] carries the requests either straight on the socket
//! (setup) or through the connection task's request path (re-authentication, pipelined behind
//! the requests already in flight, as Java does).
//!
//! SCRAM is written here against the RustCrypto `hmac`, `sha2` and `pbkdf2` crates (pure Rust,
//! so SCRAM works in a build without the `tls` feature and its C-based `ring`) rather than a
//! SCRAM crate: the client side is small (one function per RFC 5802 step, checked against RFC
//! 7677's test vector below). Like Java's `ScramFormatter`, the password is used as UTF-8 bytes
//! without SASLprep.
//!
//! Secrets: the password and the token only ever reach the mechanism's message. No request or
//! response body of this exchange is logged, at any level.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256, Sha512};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::codec::{self, BrokerVersions, FrameDecoder};
use super::connection::{ConnSpec, Envelope};
use super::framing::read_one_frame;
use crate::config::{Password, SaslMechanism};
use crate::error::{Error, ErrorKind, Result};
use crate::oauth::source::TokenSource;
use crate::protocol_errors::KafkaCode;

/// The mechanism and credentials, resolved from the config.
#[derive(Clone)]
pub(crate) struct SaslSettings {
    pub(crate) mechanism: SaslMechanism,
    /// PLAIN / SCRAM user (empty for OAUTHBEARER: the token names the principal).
    pub(crate) username: String,
    pub(crate) password: Password,
    /// OAUTHBEARER's token source, or why it could not be set up.
    pub(crate) tokens: Option<std::result::Result<Arc<TokenSource>, String>>,
    /// GSSAPI's service name and keytab.
    pub(crate) kerberos: Option<KerberosSettings>,
}

/// Kerberos settings from the configuration (GSSAPI; used with the `gssapi` feature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KerberosSettings {
    /// `sasl.kerberos.service.name`.
    pub(crate) service_name: String,
    /// `keyTab` of a `Krb5LoginModule` entry with `useKeyTab=true`.
    pub(crate) keytab: Option<String>,
    /// `principal` of that entry.
    pub(crate) principal: Option<String>,
}

impl fmt::Debug for SaslSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslSettings")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &Password::HIDDEN)
            .field("tokens", &self.tokens.as_ref().map(|t| t.as_ref().map(|s| format!("{s:?}"))))
            .field("kerberos", &self.kerberos)
            .finish()
    }
}

impl SaslSettings {
    /// Fails before any connect when the token source could not be built.
    pub(crate) fn check(&self) -> Result<()> {
        match &self.tokens {
            Some(Err(e)) => Err(Error::new(ErrorKind::Config, e.clone())),
            _ => Ok(()),
        }
    }
}

/// Where SASL requests go: straight on the socket during setup, or through the connection
/// task (which assigns correlation ids and matches responses) when re-authenticating.
pub(crate) enum Transport<'a, S> {
    Stream { stream: &'a mut S, spec: &'a ConnSpec, next_correlation: &'a mut i32 },
    Task(&'a mpsc::Sender<Envelope>),
}

impl<S: AsyncRead + AsyncWrite + Unpin> Transport<'_, S> {
    async fn call<Req, Resp>(&mut self, api_key: ApiKey, version: i16, req: Req) -> Result<Resp>
    where
        Req: Encodable + Send + 'static,
        Resp: Decodable,
    {
        match self {
            Transport::Stream { stream, spec, next_correlation } => {
                let cid = **next_correlation;
                **next_correlation += 1;
                round_trip(&mut **stream, spec, api_key, version, cid, &req).await
            }
            Transport::Task(tx) => {
                let (reply, rx) = oneshot::channel();
                let env = Envelope {
                    api_key,
                    versions: (version, version),
                    encode: Box::new(move |v, cid, client_id| codec::encode_request(api_key, v, cid, client_id, &req)),
                    expect_response: true,
                    timeout: None,
                    reply,
                };
                tx.send(env).await.map_err(|_| Error::new(ErrorKind::Disconnected, "connection closed during re-authentication"))?;
                let raw = rx
                    .await
                    .map_err(|_| Error::new(ErrorKind::Disconnected, "connection closed during re-authentication"))??;
                codec::decode_body(raw.body)
            }
        }
    }
}

/// Authenticates (or re-authenticates) over `transport`. Returns the session lifetime the
/// broker granted (SaslAuthenticate v1+ `session_lifetime_ms`, KIP-368), if any.
pub(crate) async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    transport: &mut Transport<'_, S>,
    host: &str,
    label: &str,
    versions: &BrokerVersions,
    sasl: &SaslSettings,
) -> Result<Option<Duration>> {
    let mech = sasl.mechanism;
    let mut who = sasl.username.clone();
    let fail = |who: &str, detail: String, code: Option<i16>| {
        let e = Error::new(
            ErrorKind::Auth,
            format!("SASL authentication failed for user '{who}' with {mech} on {label}: {detail}"),
        );
        match code {
            Some(c) => e.with_code(c),
            None => e,
        }
    };
    // Credentials first (a token may need an HTTP round trip): nothing is sent until they exist.
    let mut client = match mech {
        SaslMechanism::Plain => SaslClient::plain(&sasl.username, &sasl.password),
        SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
            SaslClient::Scram { client: ScramClient::new(ScramHash::of(mech), &sasl.username, fresh_nonce()), password: sasl.password.clone() }
        }
        SaslMechanism::OAuthBearer => {
            let source = match &sasl.tokens {
                Some(Ok(s)) => s,
                Some(Err(e)) => return Err(Error::new(ErrorKind::Config, e.clone())),
                None => return Err(Error::new(ErrorKind::Config, "OAUTHBEARER has no token source")),
            };
            let token = source.token().await.map_err(|e| match e.kind() {
                ErrorKind::Config => e,
                _ => fail("(no token)", e.to_string(), None),
            })?;
            who = token.principal().to_string();
            SaslClient::oauth(token.value(), token.extensions())
        }
        SaslMechanism::Gssapi => {
            let k = sasl.kerberos.clone().ok_or_else(|| Error::new(ErrorKind::Config, "GSSAPI has no Kerberos settings"))?;
            who = k.principal.clone().unwrap_or_else(|| "(default Kerberos credentials)".into());
            gssapi_client(k, host).await.map_err(|m| fail(&who, m, None))?
        }
    };
    // KIP-152: SaslHandshake v1 means "SaslAuthenticate requests follow" (v0 sent raw tokens).
    let hs_version = versions.pick(ApiKey::SaslHandshake, (1, 1)).ok_or_else(|| {
        fail(&who, "the broker does not support SaslHandshake v1 (is its listener SASL?)".into(), None)
    })?;
    let auth_version = versions
        .pick(ApiKey::SaslAuthenticate, (0, 2))
        .ok_or_else(|| fail(&who, "the broker does not support SaslAuthenticate".into(), None))?;
    let req = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mech.as_str()));
    let resp: SaslHandshakeResponse = transport.call(ApiKey::SaslHandshake, hs_version, req).await?;
    let code = KafkaCode(resp.error_code);
    if code == KafkaCode::UNSUPPORTED_SASL_MECHANISM {
        let enabled: Vec<&str> = resp.mechanisms.iter().map(|m| m.as_str()).collect();
        return Err(fail(
            &who,
            format!("the broker does not enable this mechanism (it enables: {})", enabled.join(", ")),
            Some(resp.error_code),
        ));
    }
    if !code.is_ok() {
        return Err(fail(&who, format!("SaslHandshake failed with {}", code.name()), Some(resp.error_code)));
    }
    tracing::debug!(broker = %label, mechanism = %mech, user = %who, "SASL handshake accepted");
    let mut token = client.first();
    let lifetime = loop {
        let req = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(std::mem::take(&mut token)));
        let resp: SaslAuthenticateResponse = transport.call(ApiKey::SaslAuthenticate, auth_version, req).await?;
        let code = KafkaCode(resp.error_code);
        if !code.is_ok() {
            let mut msg = resp.error_message.as_ref().map(|m| m.to_string()).unwrap_or_else(|| {
                if code == KafkaCode::ILLEGAL_SASL_STATE {
                    "illegal SASL state".into()
                } else if code == KafkaCode::SASL_AUTHENTICATION_FAILED {
                    "invalid credentials".into()
                } else {
                    code.name().to_string()
                }
            });
            if let Some(detail) = client.server_error() {
                msg.push_str(&format!(" ({detail})"));
            }
            return Err(fail(&who, msg, Some(resp.error_code)));
        }
        match client.step(&resp.auth_bytes).map_err(|m| fail(&who, m, None))? {
            Step::Send(next) => token = next,
            Step::Done => {
                break (resp.session_lifetime_ms > 0).then(|| Duration::from_millis(resp.session_lifetime_ms as u64));
            }
        }
    };
    tracing::debug!(broker = %label, mechanism = %mech, user = %who, session_lifetime = ?lifetime, "SASL authentication succeeded");
    Ok(lifetime)
}

/// What the client sends next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Send(Vec<u8>),
    Done,
}

/// The client side of one mechanism's exchange, sans I/O.
pub(crate) enum SaslClient {
    Plain { first: Vec<u8> },
    Scram { client: ScramClient, password: Password },
    /// `error`: the broker's RFC 7628 §3.2.2 error challenge, once received.
    OAuth { first: Vec<u8>, error: Option<String> },
    #[cfg(feature = "gssapi")]
    Gssapi { client: Box<super::gssapi::GssapiClient>, first: Vec<u8> },
}

#[cfg(feature = "gssapi")]
async fn gssapi_client(k: KerberosSettings, host: &str) -> std::result::Result<SaslClient, String> {
    let (client, first) = super::gssapi::GssapiClient::start(k, host.to_string()).await?;
    Ok(SaslClient::Gssapi { client: Box::new(client), first })
}

#[cfg(not(feature = "gssapi"))]
async fn gssapi_client(_: KerberosSettings, _: &str) -> std::result::Result<SaslClient, String> {
    Err("GSSAPI needs gregor built with the `gssapi` feature".into())
}

/// RFC 7628 §3.1 `kvsep`.
const KVSEP: u8 = 0x01;

impl SaslClient {
    pub(crate) fn plain(username: &str, password: &Password) -> Self {
        // RFC 4616: [authzid] NUL authcid NUL passwd.
        let mut first = Vec::with_capacity(username.len() + password.expose().len() + 2);
        first.push(0);
        first.extend_from_slice(username.as_bytes());
        first.push(0);
        first.extend_from_slice(password.expose().as_bytes());
        SaslClient::Plain { first }
    }

    /// RFC 7628 §3.1 client initial response: `n,,` kvsep `auth=Bearer <token>` kvsep, then
    /// each extension as `key=value` kvsep (KIP-342), and a final kvsep — the layout of Java's
    /// `OAuthBearerClientInitialResponse`.
    pub(crate) fn oauth(token: &str, extensions: &BTreeMap<String, String>) -> Self {
        let mut first = format!("n,,\u{1}auth=Bearer {token}").into_bytes();
        for (k, v) in extensions {
            first.push(KVSEP);
            first.extend_from_slice(format!("{k}={v}").as_bytes());
        }
        first.extend_from_slice(&[KVSEP, KVSEP]);
        SaslClient::OAuth { first, error: None }
    }

    pub(crate) fn first(&mut self) -> Vec<u8> {
        match self {
            SaslClient::Plain { first } | SaslClient::OAuth { first, .. } => std::mem::take(first),
            #[cfg(feature = "gssapi")]
            SaslClient::Gssapi { first, .. } => std::mem::take(first),
            SaslClient::Scram { client, .. } => client.client_first().into_bytes(),
        }
    }

    /// Handles a server message; `Err` is a failure to report (the text names no secret).
    pub(crate) fn step(&mut self, server: &[u8]) -> std::result::Result<Step, String> {
        match self {
            SaslClient::Plain { .. } => Ok(Step::Done),
            SaslClient::Scram { client, password } => {
                if client.expected_server_signature.is_none() {
                    Ok(Step::Send(client.handle_server_first(server, password)?.into_bytes()))
                } else {
                    client.verify_server_final(server)?;
                    Ok(Step::Done)
                }
            }
            #[cfg(feature = "gssapi")]
            SaslClient::Gssapi { client, .. } => Ok(match client.step(server)? {
                Some(t) => Step::Send(t),
                None => Step::Done,
            }),
            SaslClient::OAuth { error, .. } => {
                if error.is_some() {
                    return Err("the broker accepted the exchange after rejecting the token".into());
                }
                if server.is_empty() {
                    return Ok(Step::Done);
                }
                // RFC 7628 §3.2.2: an error is a JSON challenge; the client answers with a single
                // kvsep and the server then fails the exchange (Java `OAuthBearerSaslClient`).
                let text: String = String::from_utf8_lossy(server).chars().take(300).collect();
                *error = Some(text);
                Ok(Step::Send(vec![KVSEP]))
            }
        }
    }

    /// The broker's error challenge (OAUTHBEARER), for the failure message.
    fn server_error(&self) -> Option<&str> {
        match self {
            SaslClient::OAuth { error: Some(e), .. } => Some(e),
            _ => None,
        }
    }
}

/// KIP-342 extension names and values (Java `OAuthBearerClientInitialResponse`: names are
/// letters, `auth` is reserved; values are printable ASCII, space, tab, CR, LF).
pub(crate) fn check_extensions(ext: &BTreeMap<String, String>) -> std::result::Result<(), String> {
    for (k, v) in ext {
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(format!("SASL extension name '{k}' must be letters only"));
        }
        if k == "auth" {
            return Err("SASL extension name 'auth' is reserved".into());
        }
        if !v.bytes().all(|b| (0x21..=0x7e).contains(&b) || matches!(b, b' ' | b'\t' | b'\r' | b'\n')) {
            return Err(format!("SASL extension '{k}' has a value with characters outside printable ASCII"));
        }
    }
    Ok(())
}

async fn round_trip<S, Req, Resp>(
    stream: &mut S,
    spec: &ConnSpec,
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    req: &Req,
) -> Result<Resp>
where
    S: AsyncRead + AsyncWrite + Unpin,
    Req: Encodable,
    Resp: Decodable,
{
    let frame = codec::encode_request(api_key, version, correlation_id, &spec.client_id, req)?;
    stream.write_all(&frame).await.map_err(|e| Error::io(format!("{api_key:?} write failed"), e))?;
    stream.flush().await.map_err(|e| Error::io(format!("{api_key:?} write failed"), e))?;
    let body = read_one_frame(stream, &FrameDecoder::new(spec.max_frame)).await?;
    if codec::peek_correlation_id(&body)? != correlation_id {
        return Err(Error::protocol(format!("{api_key:?} response has the wrong correlation id")));
    }
    let body = codec::strip_response_header(body, api_key, version)?;
    codec::check_and_decode(body, api_key, version)
}

fn fresh_nonce() -> String {
    let mut raw = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut raw);
    B64.encode(raw)
}

/// Which SCRAM hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScramHash {
    Sha256,
    Sha512,
}

impl ScramHash {
    fn of(m: SaslMechanism) -> Self {
        match m {
            SaslMechanism::ScramSha512 => ScramHash::Sha512,
            _ => ScramHash::Sha256,
        }
    }

    /// `Hi(password, salt, i)` of RFC 5802 §2.2: PBKDF2 with HMAC of the hash.
    fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password, salt, iterations).to_vec(),
            ScramHash::Sha512 => pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(password, salt, iterations).to_vec(),
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        // new_from_slice accepts keys of any length (HMAC hashes longer ones), so it never fails.
        match self {
            ScramHash::Sha256 => {
                let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            ScramHash::Sha512 => {
                let mut m = Hmac::<Sha512>::new_from_slice(key).expect("HMAC takes any key length");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

/// Kafka's `ScramMechanism` minimum; fewer iterations would be a downgrade by the server.
const MIN_ITERATIONS: u32 = 4096;
/// Upper bound so a hostile server cannot make the client spin for minutes.
const MAX_ITERATIONS: u32 = 1_000_000;

/// The client side of one SCRAM exchange (RFC 5802 §3), sans I/O.
pub(crate) struct ScramClient {
    hash: ScramHash,
    client_first_bare: String,
    client_nonce: String,
    pub(crate) expected_server_signature: Option<Vec<u8>>,
}

impl ScramClient {
    pub(crate) fn new(hash: ScramHash, username: &str, client_nonce: String) -> Self {
        // RFC 5802 §5.1: in saslname, '=' and ',' are escaped as =3D and =2C.
        let name = username.replace('=', "=3D").replace(',', "=2C");
        ScramClient {
            hash,
            client_first_bare: format!("n={name},r={client_nonce}"),
            client_nonce,
            expected_server_signature: None,
        }
    }

    /// `n,,n=user,r=nonce` (no channel binding, no authzid).
    pub(crate) fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// Checks `r=..,s=..,i=..` and returns `c=biws,r=..,p=proof`.
    pub(crate) fn handle_server_first(&mut self, msg: &[u8], password: &Password) -> std::result::Result<String, String> {
        let text = std::str::from_utf8(msg).map_err(|_| "the server's SCRAM message is not UTF-8".to_string())?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for (i, attr) in text.split(',').enumerate() {
            let (k, v) = attr.split_once('=').ok_or("malformed SCRAM server-first message")?;
            match (i, k) {
                (0, "m") => return Err("the server requires an unsupported SCRAM extension".into()),
                (0, "e") => return Err(format!("the server rejected the exchange: {v}")),
                (_, "r") => nonce = Some(v),
                (_, "s") => salt = Some(B64.decode(v).map_err(|_| "the SCRAM salt is not base64")?),
                (_, "i") => iterations = Some(v.parse::<u32>().map_err(|_| "the SCRAM iteration count is not a number")?),
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err("the SCRAM server-first message lacks r, s or i".into());
        };
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err("the server's SCRAM nonce does not extend ours".into());
        }
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(format!(
                "the server asks for {iterations} SCRAM iterations (accepted: {MIN_ITERATIONS}..={MAX_ITERATIONS})"
            ));
        }
        let h = self.hash;
        let salted = h.salted_password(password.expose().as_bytes(), &salt, iterations);
        let client_key = h.hmac(&salted, b"Client Key");
        let stored_key = h.digest(&client_key);
        // c=biws: base64("n,,"), the GS2 header without channel binding.
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{},{}", self.client_first_bare, text, without_proof);
        let client_sig = h.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(&client_sig).map(|(a, b)| a ^ b).collect();
        let server_key = h.hmac(&salted, b"Server Key");
        let server_sig = h.hmac(&server_key, auth_message.as_bytes());
        self.expected_server_signature = Some(server_sig);
        Ok(format!("{without_proof},p={}", B64.encode(proof)))
    }

    /// Checks `v=signature`: the server proves it knows the password too (mutual auth).
    pub(crate) fn verify_server_final(&self, msg: &[u8]) -> std::result::Result<(), String> {
        let text = std::str::from_utf8(msg).map_err(|_| "the server's SCRAM final message is not UTF-8".to_string())?;
        if let Some(e) = text.strip_prefix("e=") {
            return Err(format!("the server rejected the proof: {e}"));
        }
        let v = text
            .split(',')
            .find_map(|a| a.strip_prefix("v="))
            .ok_or("the SCRAM server-final message has no signature")?;
        let got = B64.decode(v).map_err(|_| "the SCRAM server signature is not base64")?;
        let want = self.expected_server_signature.as_deref().ok_or("SCRAM exchange out of order")?;
        // Constant-time comparison.
        let diff = got.len() ^ want.len() | got.iter().zip(want).fold(0usize, |d, (a, b)| d | usize::from(a ^ b));
        if diff != 0 {
            return Err("the server's SCRAM signature is wrong: it does not know the password (possible impostor)".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 §3: user "user", password "pencil".
    #[test]
    fn scram_sha256_matches_rfc7677_vector() {
        let mut c = ScramClient::new(ScramHash::Sha256, "user", "rOprNGfwEbeRWgbNEkqO".into());
        assert_eq!(c.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let client_final = c.handle_server_first(server_first, &Password::new("pencil")).unwrap();
        assert_eq!(
            client_final,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        c.verify_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").unwrap();
        let err = c.verify_server_final(b"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").unwrap_err();
        assert!(err.contains("impostor"), "{err}");
    }

    #[test]
    fn scram_rejects_hostile_server_first() {
        let pw = Password::new("pencil");
        let mut c = ScramClient::new(ScramHash::Sha512, "u", "abc".into());
        assert!(c.handle_server_first(b"r=xyz1,s=AAAA,i=4096", &pw).unwrap_err().contains("nonce"));
        assert!(c.handle_server_first(b"r=abc1,s=AAAA,i=4000000000", &pw).unwrap_err().contains("iterations"));
        assert!(c.handle_server_first(b"r=abc1,s=AAAA,i=1", &pw).unwrap_err().contains("iterations"));
        assert!(c.handle_server_first(b"r=abc1,s=AAAA", &pw).is_err());
        assert!(c.handle_server_first(b"m=ext,r=abc1,s=AAAA,i=4096", &pw).is_err());
        assert!(c.handle_server_first(&[0xff, 0xfe], &pw).is_err());
        assert!(c.handle_server_first(b"garbage", &pw).is_err());
        assert!(c.verify_server_final(b"v=AAAA").is_err(), "no signature before the first step");
    }

    #[test]
    fn scram_escapes_user_name() {
        let c = ScramClient::new(ScramHash::Sha256, "a=b,c", "n".into());
        assert_eq!(c.client_first(), "n,,n=a=3Db=2Cc,r=n");
    }

    #[test]
    fn oauthbearer_initial_response_like_java() {
        let ext: BTreeMap<String, String> = [("tenant".to_string(), "acme".to_string())].into();
        let mut c = SaslClient::oauth("eyJ.eyJ.", &ext);
        assert_eq!(c.first(), b"n,,\x01auth=Bearer eyJ.eyJ.\x01tenant=acme\x01\x01".to_vec());
        // Empty server answer: authenticated.
        assert_eq!(c.step(b"").unwrap(), Step::Done);
        let mut c = SaslClient::oauth("t", &BTreeMap::new());
        assert_eq!(c.first(), b"n,,\x01auth=Bearer t\x01\x01".to_vec());
        // RFC 7628 3.2.2: an error challenge is answered with one kvsep, and remembered.
        assert_eq!(c.step(br#"{"status":"invalid_token"}"#).unwrap(), Step::Send(vec![1]));
        assert_eq!(c.server_error(), Some(r#"{"status":"invalid_token"}"#));
        assert!(c.step(b"").is_err(), "success after an error challenge is a protocol violation");
    }

    #[test]
    fn plain_and_scram_state_machines() {
        let mut p = SaslClient::plain("u", &Password::new("pw"));
        assert_eq!(p.first(), b"\0u\0pw".to_vec());
        assert_eq!(p.step(b"").unwrap(), Step::Done);
        let mut s = SaslClient::Scram {
            client: ScramClient::new(ScramHash::Sha256, "user", "rOprNGfwEbeRWgbNEkqO".into()),
            password: Password::new("pencil"),
        };
        assert_eq!(s.first(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO".to_vec());
        let Step::Send(fin) = s
            .step(b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
            .unwrap()
        else {
            panic!("client-final expected")
        };
        assert!(fin.starts_with(b"c=biws,r="));
        assert_eq!(s.step(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").unwrap(), Step::Done);
    }

    #[test]
    fn extension_rules() {
        let ok: BTreeMap<String, String> = [("tenant".into(), "a b\tc".into())].into();
        check_extensions(&ok).unwrap();
        for (k, v) in [("auth", "x"), ("t1", "x"), ("", "x"), ("t", "caf\u{e9}"), ("t", "\u{1}")] {
            let m: BTreeMap<String, String> = [(k.to_string(), v.to_string())].into();
            assert!(check_extensions(&m).is_err(), "{k}={v:?}");
        }
    }

    #[test]
    fn settings_debug_hides_password() {
        let s = SaslSettings { mechanism: SaslMechanism::Plain, username: "alice".into(), password: Password::new("hunter2"), tokens: None, kerberos: None };
        let d = format!("{s:?}");
        assert!(d.contains("alice") && !d.contains("hunter2"), "{d}");
    }
}
