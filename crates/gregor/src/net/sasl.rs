//! SASL authentication on a new connection: SaslHandshake v1 + SaslAuthenticate v0..2
//! (KIP-152), for PLAIN (RFC 4616) and SCRAM-SHA-256/512 (RFC 5802, RFC 7677).
//!
//! Order on the socket (Java `SaslClientAuthenticator`): ApiVersions, SaslHandshake naming the
//! mechanism, then SaslAuthenticate round trips carrying the mechanism's bytes, and only then any
//! other request. A rejected login is one [`ErrorKind::Auth`] error naming the user, the
//! mechanism and the broker; it is not retried on the spot (see the client's rejection gate).
//!
//! SCRAM is written here against `ring` (already in the build for rustls) rather than a SCRAM
//! crate: the maintained ones pull in a second set of hash crates, and the client side is small
//! (one function per RFC 5802 step, checked against RFC 7677's test vector below). Like Java's
//! `ScramFormatter`, the password is used as UTF-8 bytes without SASLprep.
//!
//! Secrets: the password only ever reaches the PLAIN message and the SCRAM key derivation. No
//! request or response body of this exchange is logged, at any level.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use rand::RngCore;
use ring::{digest, hmac, pbkdf2};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::codec::{self, BrokerVersions, FrameDecoder};
use super::connection::{read_one_frame, ConnSpec};
use crate::config::{Password, SaslMechanism};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol_errors::KafkaCode;

/// The mechanism and credentials, resolved from the config.
#[derive(Clone)]
pub(crate) struct SaslSettings {
    pub(crate) mechanism: SaslMechanism,
    pub(crate) username: String,
    pub(crate) password: Password,
}

impl fmt::Debug for SaslSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslSettings")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &Password::HIDDEN)
            .finish()
    }
}

/// Authenticates the connection. Uses correlation ids from `next_correlation` on and returns
/// the next free one.
pub(crate) async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    spec: &ConnSpec,
    versions: &BrokerVersions,
    sasl: &SaslSettings,
    mut next_correlation: i32,
) -> Result<i32> {
    let mech = sasl.mechanism;
    let fail = |detail: String, code: Option<i16>| {
        let e = Error::new(
            ErrorKind::Auth,
            format!(
                "SASL authentication failed for user '{}' with {mech} on {}: {detail}",
                sasl.username, spec.label
            ),
        );
        match code {
            Some(c) => e.with_code(c),
            None => e,
        }
    };
    // KIP-152: SaslHandshake v1 means "SaslAuthenticate requests follow" (v0 sent raw tokens).
    let hs_version = versions.pick(ApiKey::SaslHandshake, (1, 1)).ok_or_else(|| {
        fail("the broker does not support SaslHandshake v1 (is its listener SASL?)".into(), None)
    })?;
    let auth_versions = versions
        .pick(ApiKey::SaslAuthenticate, (0, 2))
        .ok_or_else(|| fail("the broker does not support SaslAuthenticate".into(), None))?;
    let req = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mech.as_str()));
    let resp: SaslHandshakeResponse =
        round_trip(stream, spec, ApiKey::SaslHandshake, hs_version, next_correlation, &req).await?;
    next_correlation += 1;
    if KafkaCode(resp.error_code) == KafkaCode::UNSUPPORTED_SASL_MECHANISM {
        let enabled: Vec<&str> = resp.mechanisms.iter().map(|m| m.as_str()).collect();
        return Err(fail(
            format!("the broker does not enable this mechanism (it enables: {})", enabled.join(", ")),
            Some(resp.error_code),
        ));
    }
    if !KafkaCode(resp.error_code).is_ok() {
        return Err(fail(format!("SaslHandshake failed with error code {}", resp.error_code), Some(resp.error_code)));
    }
    tracing::debug!(broker = %spec.label, mechanism = %mech, user = %sasl.username, "SASL handshake accepted");

    match mech {
        SaslMechanism::Plain => {
            // RFC 4616: [authzid] NUL authcid NUL passwd.
            let mut token = Vec::with_capacity(sasl.username.len() + sasl.password.expose().len() + 2);
            token.push(0);
            token.extend_from_slice(sasl.username.as_bytes());
            token.push(0);
            token.extend_from_slice(sasl.password.expose().as_bytes());
            exchange(stream, spec, auth_versions, token, next_correlation).await?.map_err(|(m, c)| fail(m, c))?;
            next_correlation += 1;
        }
        SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
            let mut scram = ScramClient::new(ScramHash::of(mech), &sasl.username, fresh_nonce());
            let server_first = exchange(stream, spec, auth_versions, scram.client_first().into_bytes(), next_correlation)
                .await?
                .map_err(|(m, c)| fail(m, c))?;
            next_correlation += 1;
            let client_final = scram.handle_server_first(&server_first, &sasl.password).map_err(|m| fail(m, None))?;
            let server_final = exchange(stream, spec, auth_versions, client_final.into_bytes(), next_correlation)
                .await?
                .map_err(|(m, c)| fail(m, c))?;
            next_correlation += 1;
            scram.verify_server_final(&server_final).map_err(|m| fail(m, None))?;
        }
    }
    tracing::debug!(broker = %spec.label, mechanism = %mech, user = %sasl.username, "SASL authentication succeeded");
    Ok(next_correlation)
}

/// One SaslAuthenticate round trip. Outer error: the transport broke (retriable); inner
/// error: the broker rejected the login, as (message, code) for the caller to phrase.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    spec: &ConnSpec,
    version: i16,
    token: Vec<u8>,
    correlation_id: i32,
) -> Result<std::result::Result<Bytes, (String, Option<i16>)>> {
    let req = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token));
    let resp: SaslAuthenticateResponse =
        round_trip(stream, spec, ApiKey::SaslAuthenticate, version, correlation_id, &req)
            .await?;
    if !KafkaCode(resp.error_code).is_ok() {
        let msg = resp.error_message.as_ref().map(|m| m.to_string()).unwrap_or_else(|| {
            if KafkaCode(resp.error_code) == KafkaCode::ILLEGAL_SASL_STATE {
                "illegal SASL state".into()
            } else if KafkaCode(resp.error_code) == KafkaCode::SASL_AUTHENTICATION_FAILED {
                "invalid credentials".into()
            } else {
                format!("error code {}", resp.error_code)
            }
        });
        return Ok(Err((msg, Some(resp.error_code))));
    }
    Ok(Ok(resp.auth_bytes))
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
    codec::decode_body(body, api_key, version)
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

    fn hmac_alg(self) -> hmac::Algorithm {
        match self {
            ScramHash::Sha256 => hmac::HMAC_SHA256,
            ScramHash::Sha512 => hmac::HMAC_SHA512,
        }
    }

    fn pbkdf2_alg(self) -> pbkdf2::Algorithm {
        match self {
            ScramHash::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            ScramHash::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }

    fn digest_alg(self) -> &'static digest::Algorithm {
        match self {
            ScramHash::Sha256 => &digest::SHA256,
            ScramHash::Sha512 => &digest::SHA512,
        }
    }

    fn len(self) -> usize {
        self.digest_alg().output_len()
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
    expected_server_signature: Option<Vec<u8>>,
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
        let mut salted = vec![0u8; h.len()];
        let iters = std::num::NonZeroU32::new(iterations).ok_or("zero SCRAM iterations")?;
        pbkdf2::derive(h.pbkdf2_alg(), iters, &salt, password.expose().as_bytes(), &mut salted);
        let salted_key = hmac::Key::new(h.hmac_alg(), &salted);
        let client_key = hmac::sign(&salted_key, b"Client Key");
        let stored_key = digest::digest(h.digest_alg(), client_key.as_ref());
        // c=biws: base64("n,,"), the GS2 header without channel binding.
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{},{}", self.client_first_bare, text, without_proof);
        let client_sig = hmac::sign(&hmac::Key::new(h.hmac_alg(), stored_key.as_ref()), auth_message.as_bytes());
        let proof: Vec<u8> = client_key.as_ref().iter().zip(client_sig.as_ref()).map(|(a, b)| a ^ b).collect();
        let server_key = hmac::sign(&salted_key, b"Server Key");
        let server_sig = hmac::sign(&hmac::Key::new(h.hmac_alg(), server_key.as_ref()), auth_message.as_bytes());
        self.expected_server_signature = Some(server_sig.as_ref().to_vec());
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
    fn settings_debug_hides_password() {
        let s = SaslSettings { mechanism: SaslMechanism::Plain, username: "alice".into(), password: Password::new("hunter2") };
        let d = format!("{s:?}");
        assert!(d.contains("alice") && !d.contains("hunter2"), "{d}");
    }
}
