//! A string that must never reach a log line.

use std::fmt;

/// A secret configuration value (a password, a JAAS configuration, a private key).
///
/// Like Java's `org.apache.kafka.common.config.types.Password`, its `Debug` and `Display` print
/// `[hidden]`, so that logging a whole configuration (or an error about it) cannot leak
/// credentials. Read the value with [`Password::expose`] at the single place that needs it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Password(String);

impl Password {
    /// The text printed instead of the secret.
    pub const HIDDEN: &'static str = "[hidden]";

    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Password(secret.into())
    }

    /// The secret itself. Call only where the value is actually used (SASL, TLS key decryption).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::HIDDEN)
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::HIDDEN)
    }
}

impl From<&str> for Password {
    fn from(s: &str) -> Self {
        Password::new(s)
    }
}

impl From<String> for Password {
    fn from(s: String) -> Self {
        Password(s)
    }
}
