//! Temporary shim until the Kafka error table lands.
pub(crate) fn is_retriable(code: i16) -> bool {
    matches!(code, 6 | 7 | 13 | 14 | 15 | 16 | 19 | 20 | 74 | 75)
}
pub(crate) fn describe(code: i16) -> String {
    format!("Kafka error code {code}")
}
