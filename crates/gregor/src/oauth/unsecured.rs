//! Unsecured tokens from `unsecuredLogin*` options of an `OAuthBearerLoginModule` JAAS entry,
//! as Java's `OAuthBearerUnsecuredLoginCallbackHandler` makes them: a JWS with `alg: none` and
//! an empty signature, for development and tests against a broker using the unsecured
//! validator (KIP-255). Options:
//!
//! * `unsecuredLoginStringClaim_<name>="value"`, `unsecuredLoginNumberClaim_<name>="1"`,
//!   `unsecuredLoginListClaim_<name>=",a,b"` (the first character separates the items);
//! * `unsecuredLoginPrincipalClaimName` (`sub`), `unsecuredLoginScopeClaimName` (`scope`);
//! * `unsecuredLoginLifetimeSeconds` (3600);
//! * `unsecuredLoginExtension_<name>="value"`: SASL extensions (KIP-342).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Number, Value};

use super::OAuthBearerToken;
use crate::config::{ConfigError, Password};

const PREFIX: &str = "unsecuredLogin";
const STRING: &str = "unsecuredLoginStringClaim_";
const NUMBER: &str = "unsecuredLoginNumberClaim_";
const LIST: &str = "unsecuredLoginListClaim_";
const EXTENSION: &str = "unsecuredLoginExtension_";

fn bad(why: String) -> ConfigError {
    ConfigError::invalid("sasl.jaas.config", Password::HIDDEN, why)
}

/// Checks the options when the configuration is built (the token is made per login).
pub(crate) fn check_options(options: &BTreeMap<String, Password>) -> Result<(), ConfigError> {
    build(options, UNIX_EPOCH).map(|_| ())
}

/// The token the options describe, issued at `now`.
pub(crate) fn build(options: &BTreeMap<String, Password>, now: SystemTime) -> Result<OAuthBearerToken, ConfigError> {
    let opt = |k: &str| options.get(k).map(|v| v.expose().trim().to_string()).filter(|v| !v.is_empty());
    let principal_claim = opt("unsecuredLoginPrincipalClaimName").unwrap_or_else(|| "sub".into());
    let lifetime: u64 = match opt("unsecuredLoginLifetimeSeconds") {
        None => 3600,
        Some(v) => v.parse().map_err(|_| bad("unsecuredLoginLifetimeSeconds must be a whole number of seconds".into()))?,
    };
    let now_secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as f64 / 1000.0;
    let mut claims = Map::new();
    let number = |x: f64| Value::Number(Number::from_f64(x).unwrap_or_else(|| Number::from(0)));
    claims.insert("exp".into(), number(now_secs + lifetime as f64));
    claims.insert("iat".into(), number(now_secs));
    let mut extensions = BTreeMap::new();
    for (k, v) in options {
        let v = v.expose();
        if let Some(name) = k.strip_prefix(STRING) {
            claims.insert(name.into(), Value::String(v.into()));
        } else if let Some(name) = k.strip_prefix(NUMBER) {
            let n: f64 = v.trim().parse().map_err(|_| bad(format!("{k} must be a number")))?;
            claims.insert(name.into(), number(n));
        } else if let Some(name) = k.strip_prefix(LIST) {
            let mut chars = v.chars();
            let sep = chars.next().ok_or_else(|| bad(format!("{k} must start with its separator character")))?;
            let items = chars.as_str().split(sep).filter(|s| !s.is_empty()).map(|s| Value::String(s.into()));
            claims.insert(name.into(), Value::Array(items.collect()));
        } else if let Some(name) = k.strip_prefix(EXTENSION) {
            extensions.insert(name.to_string(), v.to_string());
        } else if k.starts_with(PREFIX)
            && !matches!(
                k.as_str(),
                "unsecuredLoginPrincipalClaimName" | "unsecuredLoginScopeClaimName" | "unsecuredLoginLifetimeSeconds"
            )
        {
            return Err(bad(format!("unknown unsecured login option {k}")));
        }
    }
    let principal = match claims.get(&principal_claim) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        _ => {
            return Err(bad(format!(
                "the unsecured token needs its principal claim: unsecuredLoginStringClaim_{principal_claim}=\"...\""
            )))
        }
    };
    crate::net::sasl::check_extensions(&extensions).map_err(bad)?;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
    let payload = URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string());
    let mut token = OAuthBearerToken::new(format!("{header}.{payload}."), principal, now + Duration::from_secs(lifetime))
        .with_issued_at(now);
    for (k, v) in extensions {
        token = token.with_extension(k, v);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, Password> {
        pairs.iter().map(|(k, v)| (k.to_string(), Password::new(*v))).collect()
    }

    #[test]
    fn builds_an_alg_none_jws_with_the_claims() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let t = build(
            &opts(&[
                ("unsecuredLoginStringClaim_sub", "alice"),
                ("unsecuredLoginListClaim_scope", ",gregor-test,other"),
                ("unsecuredLoginNumberClaim_n", "7"),
                ("unsecuredLoginLifetimeSeconds", "60"),
                ("unsecuredLoginExtension_tenant", "acme"),
            ]),
            now,
        )
        .unwrap();
        assert_eq!(t.principal(), "alice");
        assert_eq!(t.expires_at(), now + Duration::from_secs(60));
        assert_eq!(t.extensions().get("tenant").map(String::as_str), Some("acme"));
        assert!(t.value().ends_with('.'), "empty signature");
        let c = super::super::jwt::claims(t.value()).unwrap();
        assert_eq!(c["sub"], "alice");
        assert_eq!(c["scope"], serde_json::json!(["gregor-test", "other"]));
        assert_eq!(c["exp"].as_f64(), Some(1_700_000_060.0));
        assert_eq!(c["n"].as_f64(), Some(7.0));
    }

    #[test]
    fn bad_options_are_config_errors() {
        for (o, why) in [
            (opts(&[("unsecuredLoginStringClaim_x", "a")]), "principal claim"),
            (opts(&[("unsecuredLoginStringClaim_sub", "a"), ("unsecuredLoginLifetimeSeconds", "soon")]), "whole number"),
            (opts(&[("unsecuredLoginStringClaim_sub", "a"), ("unsecuredLoginTypo", "x")]), "unknown unsecured"),
            (opts(&[("unsecuredLoginStringClaim_sub", "a"), ("unsecuredLoginExtension_auth", "x")]), "auth"),
            (opts(&[("unsecuredLoginStringClaim_sub", "a"), ("unsecuredLoginExtension_t1", "x")]), "letters"),
        ] {
            let err = check_options(&o).unwrap_err().to_string();
            assert!(err.contains(why), "{err}");
        }
        // Another principal claim name.
        let t = build(
            &opts(&[("unsecuredLoginPrincipalClaimName", "user"), ("unsecuredLoginStringClaim_user", "bob")]),
            UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(t.principal(), "bob");
    }
}
