//! `metrics.*`: how gregor's metrics are sampled and which are recorded (Java's
//! `CommonClientConfigs` metrics keys, with the same meaning and defaults).

use std::fmt;
use std::time::Duration;

use super::error::ConfigError;

/// `metrics.recording.level` (Java `Sensor.RecordingLevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum RecordingLevel {
    /// Client-, topic- and partition-level metrics (the default).
    #[default]
    Info,
    /// Also the per-broker (`node-id`) request metrics.
    Debug,
    /// Everything `Debug` records (gregor has no trace-only metric).
    Trace,
}

impl RecordingLevel {
    /// Java's name: `INFO`, `DEBUG` or `TRACE`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingLevel::Info => "INFO",
            RecordingLevel::Debug => "DEBUG",
            RecordingLevel::Trace => "TRACE",
        }
    }

    pub(crate) fn parse(key: &str, value: &str) -> Result<Self, ConfigError> {
        match value.trim().to_ascii_uppercase().as_str() {
            "INFO" => Ok(RecordingLevel::Info),
            "DEBUG" => Ok(RecordingLevel::Debug),
            "TRACE" => Ok(RecordingLevel::Trace),
            _ => Err(ConfigError::invalid(key, value, "INFO, DEBUG or TRACE")),
        }
    }
}

impl fmt::Display for RecordingLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The sampling of windowed metrics (`*-avg`, `*-max`, `*-rate`): like Java's `SampledStat`, a
/// value covers the last `num_samples` windows of `sample_window` each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsConfig {
    /// `metrics.num.samples` (2).
    pub num_samples: u32,
    /// `metrics.sample.window.ms` (30 s).
    pub sample_window: Duration,
    /// `metrics.recording.level` (INFO).
    pub recording_level: RecordingLevel,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { num_samples: 2, sample_window: Duration::from_millis(30_000), recording_level: RecordingLevel::Info }
    }
}
