//! gregor's one error type.
//!
//! Shaped like tokio-postgres' error: an opaque [`Error`] with a public [`ErrorKind`], an
//! optional Kafka error code, the broker it came from, and a source. Construct through the
//! crate-private helpers so every error carries enough context to act on.

use std::fmt;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A configuration key or value is wrong.
    Config,
    /// No bootstrap server or broker could be reached.
    Unreachable,
    /// A socket error (connect refused, reset, ...).
    Io,
    /// A request did not complete within `request.timeout.ms`, or an API call within its
    /// timeout (`default.api.timeout.ms`).
    Timeout,
    /// A broker sent bytes that are not valid Kafka protocol (a malformed, truncated or
    /// oversized frame, a wrong correlation id, an undecodable body).
    Protocol,
    /// A broker answered with a Kafka error code.
    Broker,
    /// The connection the request was on was closed before the response arrived.
    Disconnected,
    /// The client (or the consumer) has been closed.
    Closed,
    /// A record batch failed verification (CRC mismatch, bad compression, too large once
    /// decompressed).
    CorruptRecord,
    /// A commit cannot complete because the group rebalanced and the partitions were assigned
    /// to another member (Java's `CommitFailedException`).
    CommitFailed,
    /// A commit cannot complete now because the group is in the middle of a rebalance (Java's
    /// `RebalanceInProgressException`): poll to complete the rebalance, then commit again.
    RebalanceInProgress,
    /// The topic does not exist (or the client is not authorized to see it).
    UnknownTopic,
    /// Authentication or authorization failed.
    Auth,
    /// The operation is not valid in the consumer's current state (e.g. `commit` without
    /// `group.id`).
    State,
    /// The consumer's position is out of range and `auto.offset.reset=none`.
    OffsetOutOfRange,
    /// The endpoint is not a Kafka listener of the configured kind: it answered HTTP or
    /// something else that is no Kafka frame, it speaks TLS where `security.protocol` says
    /// plaintext, or it does not speak TLS where TLS was asked for. Retrying will not help.
    NotKafka,
    /// The broker is too old for what was asked: it supports no version of a needed API, or
    /// none that can carry a configured feature (Java's `UnsupportedVersionException`).
    /// Retrying does not help; the message names the feature and the Kafka release it needs.
    UnsupportedVersion,
    /// Another producer with the same `transactional.id` has started (it bumped the epoch):
    /// this one can only be closed (Java's `ProducerFencedException`).
    Fenced,
    /// The record was not sent because its transaction was aborted (Java's
    /// `TransactionAbortedException`).
    TransactionAborted,
    /// A blocking call was interrupted by [`WakeupHandle::wakeup`](crate::WakeupHandle::wakeup)
    /// (Java's `WakeupException`). Nothing was lost; call again.
    Wakeup,
}

/// The error type of every fallible gregor operation.
///
/// `Clone`: one broker failure often fails several waiting requests (every request queued on a
/// connection whose setup was rejected), and a partition's error is kept until `poll` returns
/// it; each gets the same error, source included.
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    message: String,
    code: Option<i16>,
    broker: Option<String>,
    source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                code: None,
                broker: None,
                source: None,
            }),
        }
    }

    /// An error for a Kafka error code returned by a broker.
    pub(crate) fn broker_code(code: i16, context: impl Into<String>) -> Error {
        use crate::protocol_errors::KafkaCode;
        let k = KafkaCode(code);
        let kind = match k {
            KafkaCode::UNKNOWN_TOPIC_OR_PARTITION | KafkaCode::UNKNOWN_TOPIC_ID => ErrorKind::UnknownTopic,
            KafkaCode::OFFSET_OUT_OF_RANGE => ErrorKind::OffsetOutOfRange,
            KafkaCode::PRODUCER_FENCED => ErrorKind::Fenced,
            _ if k.is_auth_error() => ErrorKind::Auth,
            _ => ErrorKind::Broker,
        };
        let mut e = Error::new(kind, context);
        e.inner.code = Some(code);
        e
    }

    pub(crate) fn with_code(mut self, code: i16) -> Error {
        self.inner.code = Some(code);
        self
    }

    pub(crate) fn with_broker(mut self, broker: impl fmt::Display) -> Error {
        self.inner.broker = Some(broker.to_string());
        self
    }

    /// Names the broker unless the error already does.
    pub(crate) fn or_broker(mut self, broker: impl fmt::Display) -> Error {
        self.inner.broker.get_or_insert_with(|| broker.to_string());
        self
    }

    pub(crate) fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        self.inner.source = Some(std::sync::Arc::from(source.into()));
        self
    }

    pub(crate) fn io(context: impl Into<String>, err: std::io::Error) -> Error {
        Error::new(ErrorKind::Io, context).with_source(err)
    }

    pub(crate) fn protocol(context: impl Into<String>) -> Error {
        Error::new(ErrorKind::Protocol, context)
    }

    pub(crate) fn closed() -> Error {
        Error::new(ErrorKind::Closed, "the client is closed")
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The Kafka error code, when a broker returned one.
    pub fn code(&self) -> Option<i16> {
        self.inner.code
    }

    /// The broker this error came from (`host:port`, with the node id when known).
    pub fn broker(&self) -> Option<&str> {
        self.inner.broker.as_deref()
    }

    /// Whether retrying the same operation later may succeed.
    pub fn is_retriable(&self) -> bool {
        match self.inner.kind {
            ErrorKind::Io
            | ErrorKind::Timeout
            | ErrorKind::Disconnected
            | ErrorKind::Unreachable
            | ErrorKind::Protocol => true,
            ErrorKind::Broker => self
                .inner
                .code
                .map(crate::protocol_errors::is_retriable)
                .unwrap_or(false),
            _ => false,
        }
    }

    /// True for a timeout.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::Timeout
    }

    /// True when the client or consumer was closed.
    pub fn is_closed(&self) -> bool {
        self.inner.kind == ErrorKind::Closed
    }

    /// True when a [`WakeupHandle`](crate::WakeupHandle) interrupted the call.
    pub fn is_wakeup(&self) -> bool {
        self.inner.kind == ErrorKind::Wakeup
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind).field("message", &self.inner.message);
        if let Some(c) = self.inner.code {
            d.field("code", &c);
        }
        if let Some(b) = &self.inner.broker {
            d.field("broker", b);
        }
        if let Some(s) = &self.inner.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)?;
        if let Some(code) = self.inner.code {
            write!(f, ": {}", crate::protocol_errors::describe(code))?;
        }
        if let Some(b) = &self.inner.broker {
            // Messages that already name the broker (SASL/TLS failures) do not repeat it.
            if !self.inner.message.contains(b.as_str()) {
                write!(f, " (broker {b})")?;
            }
        }
        if let Some(s) = &self.inner.source {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|s| &**s as &(dyn std::error::Error + 'static))
    }
}

/// `Result<T, gregor::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<crate::config::ConfigError> for Error {
    fn from(e: crate::config::ConfigError) -> Error {
        Error::new(ErrorKind::Config, e.to_string())
    }
}
