//! The one error type of configuration parsing and validation.

use std::fmt;
use std::path::PathBuf;

/// Why a configuration was rejected. Every variant names the key (or file and line) involved.
///
/// Values of secret keys (passwords, `sasl.jaas.config`, private keys) are never stored in an
/// error: the `value` field then holds [`Password::HIDDEN`](super::Password::HIDDEN).
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// The key is not a configuration key of this client.
    UnknownKey {
        /// `"consumer"`, `"producer"` or `"admin"`.
        client: &'static str,
        /// The key as given.
        key: String,
        /// The nearest valid key, when the key looks like a typo of one.
        suggestion: Option<&'static str>,
        /// Set when the key belongs to the other client (e.g. `acks` given to a consumer).
        other_client: Option<&'static str>,
    },
    /// The value cannot be parsed or is out of range.
    InvalidValue {
        /// The key.
        key: String,
        /// The value as given (or `[hidden]` for a secret).
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// A Java client key whose value asks for something gregor does not do (a Java class to
    /// load, JMX, a Kerberos relogin thread, ...); see [`keys::JAVA_ONLY_KEYS`](super::keys::JAVA_ONLY_KEYS).
    Unsupported {
        /// The key.
        key: String,
        /// The value as given.
        value: String,
        /// Why it is refused and what to do instead.
        reason: &'static str,
    },
    /// A required key has no value.
    Missing {
        /// The key.
        key: &'static str,
        /// Why it is needed.
        reason: &'static str,
    },
    /// Values that are fine on their own contradict each other.
    Conflict {
        /// The keys involved.
        keys: Vec<&'static str>,
        /// The rule that was broken.
        message: String,
    },
    /// A properties file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A properties text is malformed (only a bad `\uXXXX` escape can make it so).
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// The key this error is about, when there is a single one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::UnknownKey { key, .. }
            | ConfigError::InvalidValue { key, .. }
            | ConfigError::Unsupported { key, .. } => Some(key),
            ConfigError::Missing { key, .. } => Some(key),
            ConfigError::Conflict { keys, .. } if keys.len() == 1 => Some(keys[0]),
            _ => None,
        }
    }

    pub(crate) fn invalid(
        key: impl Into<String>,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        ConfigError::InvalidValue {
            key: key.into(),
            value: value.into(),
            expected: expected.into(),
        }
    }

    pub(crate) fn conflict(keys: &[&'static str], message: impl Into<String>) -> Self {
        ConfigError::Conflict {
            keys: keys.to_vec(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::UnknownKey {
                client,
                key,
                suggestion,
                other_client,
            } => {
                if let Some(other) = other_client {
                    write!(
                        f,
                        "'{key}' is a {other} config, not a {client} config"
                    )
                } else {
                    write!(f, "unknown {client} config '{key}'")?;
                    if let Some(s) = suggestion {
                        write!(f, " (did you mean '{s}'?)")?;
                    }
                    Ok(())
                }
            }
            ConfigError::InvalidValue {
                key,
                value,
                expected,
            } => write!(
                f,
                "invalid value '{value}' for config '{key}': expected {expected}"
            ),
            ConfigError::Unsupported { key, value, reason } => {
                write!(f, "unsupported value '{value}' for config '{key}': {reason}")
            }
            ConfigError::Missing { key, reason } => {
                write!(f, "missing required config '{key}': {reason}")
            }
            ConfigError::Conflict { message, .. } => write!(f, "invalid configuration: {message}"),
            ConfigError::Io { path, source } => {
                write!(f, "cannot read properties file {}: {source}", path.display())
            }
            ConfigError::Syntax { line, message } => {
                write!(f, "malformed properties at line {line}: {message}")
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
