//! Reading the claims of a JWT the client received, without verifying it (the broker verifies;
//! the client only needs the principal and the expiry, like Java's `ClientJwtValidator`).
//! Errors never quote the token.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use super::OAuthBearerToken;

/// The payload of a compact JWS (`header.payload.signature`; the signature may be empty, as in
/// an unsecured `alg: none` token).
pub(crate) fn claims(jwt: &str) -> Result<Map<String, Value>, String> {
    let parts: Vec<&str> = jwt.trim().split('.').collect();
    if parts.len() != 3 {
        return Err(format!("the token is not a JWT (compact JWS has 3 dot-separated parts, it has {})", parts.len()));
    }
    let payload = URL_SAFE_NO_PAD
        .decode(parts[1].trim_end_matches('='))
        .map_err(|_| "the JWT payload is not base64url".to_string())?;
    match serde_json::from_slice::<Value>(&payload) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err("the JWT payload is not a JSON object".into()),
    }
}

/// Seconds since the epoch (a JSON number, integer or not) as a time.
fn time_claim(m: &Map<String, Value>, name: &str) -> Result<Option<SystemTime>, String> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let secs = n.as_f64().filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e12).ok_or_else(|| {
                format!("the JWT's '{name}' claim is out of range")
            })?;
            Ok(Some(UNIX_EPOCH + Duration::from_millis((secs * 1000.0) as u64)))
        }
        Some(_) => Err(format!("the JWT's '{name}' claim is not a number")),
    }
}

/// A token from a JWT: principal from `sub_claim`, expiry from `exp` (required), start from
/// `iat` (optional).
pub(crate) fn token_from_jwt(jwt: &str, sub_claim: &str) -> Result<OAuthBearerToken, String> {
    let m = claims(jwt)?;
    let exp = time_claim(&m, "exp")?.ok_or("the JWT has no 'exp' claim")?;
    let principal = match m.get(sub_claim) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(_) => return Err(format!("the JWT's '{sub_claim}' claim is not a non-empty string")),
        None => return Err(format!("the JWT has no '{sub_claim}' claim (sasl.oauthbearer.sub.claim.name)")),
    };
    let mut token = OAuthBearerToken::new(jwt.trim(), principal, exp);
    if let Some(iat) = time_claim(&m, "iat")? {
        token = token.with_issued_at(iat);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        format!("{}.{}.sig", URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256"}"#), URL_SAFE_NO_PAD.encode(payload))
    }

    #[test]
    fn reads_sub_exp_iat() {
        let t = token_from_jwt(&jwt(r#"{"sub":"alice","exp":2000000000,"iat":1999999000.5}"#), "sub").unwrap();
        assert_eq!(t.principal(), "alice");
        assert_eq!(t.expires_at(), UNIX_EPOCH + Duration::from_secs(2_000_000_000));
        assert_eq!(t.issued_at(), Some(UNIX_EPOCH + Duration::from_millis(1_999_999_000_500)));
        let t = token_from_jwt(&jwt(r#"{"client":"svc","exp":2000000000}"#), "client").unwrap();
        assert_eq!((t.principal(), t.issued_at()), ("svc", None));
    }

    #[test]
    fn bad_tokens_are_errors_that_do_not_quote_the_token() {
        let secretish = jwt(r#"{"sub":"alice","note":"TOPSECRET"}"#);
        for (bad, why) in [
            (secretish.clone(), "no 'exp'"),
            (jwt(r#"{"exp":"soon","sub":"a"}"#), "not a number"),
            (jwt(r#"{"exp":-5,"sub":"a"}"#), "out of range"),
            (jwt(r#"{"exp":2000000000}"#), "no 'sub'"),
            (jwt(r#"{"exp":2000000000,"sub":""}"#), "non-empty"),
            (jwt("[1,2]"), "not a JSON object"),
            ("a.b".to_string(), "3 dot-separated"),
            ("a.!!!.c".to_string(), "base64url"),
        ] {
            let err = token_from_jwt(&bad, "sub").unwrap_err();
            assert!(err.contains(why), "{err}");
            assert!(!err.contains("TOPSECRET") && !err.contains(&bad), "{err}");
        }
    }
}
