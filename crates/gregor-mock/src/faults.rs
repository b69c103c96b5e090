//! Fault injection: what tests arm, and how the per-connection task consults it.
//!
//! All faults except latency are one-shot: they fire on the first matching request and are
//! then disarmed. Latency stays until replaced (set it to zero) or `clear_faults`.

use std::time::Duration;

/// Kinds of malformed responses the mock can send instead of a proper answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// A length prefix of about 2 GiB followed by a few bytes; the socket stays open.
    OversizedLength,
    /// The real response's length prefix and half its bytes, then the broker hangs up.
    TruncatedThenHangUp,
    /// The real response with its correlation id changed.
    WrongCorrelationId,
    /// A well-formed length prefix around 64 random bytes.
    RandomBytes,
    /// Fetch only: the first returned record batch has its CRC corrupted. Stays armed until a
    /// Fetch response actually carries a batch.
    BadCrc,
    /// Fetch only: the first returned partition's records are replaced by one gzip batch
    /// (valid CRC) that inflates to 256 MiB. Stays armed until a Fetch returns records.
    DecompressionBomb,
    /// Close the connection without answering.
    HangUp,
}

impl Malformed {
    /// True for the kinds that need a Fetch response carrying records.
    pub(crate) fn is_fetch_payload(self) -> bool {
        matches!(self, Malformed::BadCrc | Malformed::DecompressionBomb)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct InjectedError {
    pub api_key: i16,
    pub error_code: i16,
    pub remaining: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct MalformedRule {
    pub broker: Option<i32>,
    pub api_key: Option<i16>,
    pub kind: Malformed,
}

#[derive(Debug, Default)]
pub(crate) struct Faults {
    /// (broker filter, api filter, delay); the largest matching delay applies.
    pub latency: Vec<(Option<i32>, Option<i16>, Duration)>,
    pub errors: Vec<InjectedError>,
    /// (broker, nth request on a connection): one-shot.
    pub drop_at: Vec<(i32, usize)>,
    pub malformed: Vec<MalformedRule>,
}

impl Faults {
    pub(crate) fn latency_for(&self, broker: i32, api: i16) -> Duration {
        self.latency
            .iter()
            .filter(|(b, a, _)| b.is_none_or(|b| b == broker) && a.is_none_or(|a| a == api))
            .map(|(_, _, d)| *d)
            .max()
            .unwrap_or_default()
    }

    pub(crate) fn take_error(&mut self, api: i16) -> Option<i16> {
        let idx = self
            .errors
            .iter()
            .position(|e| e.api_key == api && e.remaining > 0)?;
        let e = &mut self.errors[idx];
        e.remaining -= 1;
        let code = e.error_code;
        if e.remaining == 0 {
            self.errors.remove(idx);
        }
        Some(code)
    }

    pub(crate) fn take_drop(&mut self, broker: i32, nth: usize) -> bool {
        match self
            .drop_at
            .iter()
            .position(|&(b, n)| b == broker && n == nth)
        {
            Some(i) => {
                self.drop_at.remove(i);
                true
            }
            None => false,
        }
    }

    /// Takes a matching malformed rule that applies to any response (not Fetch payloads).
    pub(crate) fn take_malformed(&mut self, broker: i32, api: i16) -> Option<Malformed> {
        let i = self.malformed.iter().position(|r| {
            !r.kind.is_fetch_payload()
                && r.broker.is_none_or(|b| b == broker)
                && r.api_key.is_none_or(|a| a == api)
        })?;
        Some(self.malformed.remove(i).kind)
    }

    /// Peeks a Fetch-payload rule (BadCrc / DecompressionBomb); removed by `consume_payload`.
    pub(crate) fn peek_payload(&self, broker: i32) -> Option<Malformed> {
        self.malformed
            .iter()
            .find(|r| {
                r.kind.is_fetch_payload()
                    && r.broker.is_none_or(|b| b == broker)
                    && r.api_key.is_none_or(|a| a == 1)
            })
            .map(|r| r.kind)
    }

    pub(crate) fn consume_payload(&mut self, broker: i32, kind: Malformed) {
        if let Some(i) = self.malformed.iter().position(|r| {
            r.kind == kind
                && r.broker.is_none_or(|b| b == broker)
                && r.api_key.is_none_or(|a| a == 1)
        }) {
            self.malformed.remove(i);
        }
    }
}
