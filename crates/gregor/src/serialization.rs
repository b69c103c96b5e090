//! Turning record bytes into Rust values (Java's `org.apache.kafka.common.serialization`).
//!
//! gregor hands out keys and values as [`Bytes`] (what Java's `ByteArrayDeserializer` gives).
//! A [`Deserializer`] turns them into something typed, per record, after `poll`:
//! [`ConsumerRecord::deserialize`] for one record, [`Consumer::poll_deserialized`] for a poll.
//! A record that does not decode is an error *for that record* that carries the record itself
//! ([`DeserializationError::record`]), so one bad record never costs the others — send it to a
//! dead-letter topic, log it, or stop.
//!
//! Built in, with Java's wire formats: [`BytesDeserializer`], [`StringDeserializer`] (strict
//! UTF-8), [`I16Deserializer`], [`I32Deserializer`], [`I64Deserializer`], [`F32Deserializer`],
//! [`F64Deserializer`] (big-endian, exact length, as Java's `IntegerDeserializer` & co.),
//! [`UuidDeserializer`] (the UUID's text, as Java's `UUIDDeserializer`), and with the `serde`
//! feature `Json<T>` (any `serde::de::DeserializeOwned`). Like Java's, every built-in maps a
//! null key or value (a tombstone) to `None`.
//!
//! ```
//! use bytes::Bytes;
//! use gregor::serialization::{I64Deserializer, StringDeserializer};
//! # let record = gregor::ConsumerRecord {
//! #     topic: "clicks".into(), partition: 0, offset: 7, timestamp: 0,
//! #     timestamp_type: gregor::TimestampType::CreateTime, key: Some(Bytes::from_static(b"user-1")),
//! #     value: Some(Bytes::copy_from_slice(&42i64.to_be_bytes())), headers: vec![], leader_epoch: None,
//! # };
//! let typed = record.deserialize(&StringDeserializer, &I64Deserializer)?;
//! assert_eq!(typed.key.as_deref(), Some("user-1"));
//! assert_eq!(typed.value, Some(42));
//! # Ok::<(), gregor::serialization::DeserializationError>(())
//! ```
//!
//! [`Consumer::poll_deserialized`]: crate::Consumer::poll_deserialized

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::consumer::{ConsumerRecord, Header, TimestampType};

/// The error a [`Deserializer`] returns: anything that explains why the bytes do not decode.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Decodes a record key or value (Java's `Deserializer<T>`).
///
/// `data` is `None` for a null key or value. Implement it for your own formats; it is called on
/// the task that calls `poll`, once per record.
pub trait Deserializer {
    /// What the bytes become.
    type Value;

    /// Decodes `data` of a record of `topic` that carries `headers`.
    fn deserialize(&self, topic: &str, headers: &[Header], data: Option<&Bytes>) -> Result<Self::Value, BoxError>;
}

impl<D: Deserializer + ?Sized> Deserializer for &D {
    type Value = D::Value;
    fn deserialize(&self, topic: &str, headers: &[Header], data: Option<&Bytes>) -> Result<Self::Value, BoxError> {
        (**self).deserialize(topic, headers, data)
    }
}

impl<D: Deserializer + ?Sized> Deserializer for Arc<D> {
    type Value = D::Value;
    fn deserialize(&self, topic: &str, headers: &[Header], data: Option<&Bytes>) -> Result<Self::Value, BoxError> {
        (**self).deserialize(topic, headers, data)
    }
}

/// The bytes as they are (no copy): Java's `BytesDeserializer`.
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesDeserializer;

impl Deserializer for BytesDeserializer {
    type Value = Option<Bytes>;
    fn deserialize(&self, _: &str, _: &[Header], data: Option<&Bytes>) -> Result<Option<Bytes>, BoxError> {
        Ok(data.cloned())
    }
}

/// UTF-8 text: Java's `StringDeserializer`, except that invalid UTF-8 is an error (Java
/// replaces it with U+FFFD, silently changing the data).
#[derive(Debug, Clone, Copy, Default)]
pub struct StringDeserializer;

impl Deserializer for StringDeserializer {
    type Value = Option<String>;
    fn deserialize(&self, _: &str, _: &[Header], data: Option<&Bytes>) -> Result<Option<String>, BoxError> {
        data.map(|d| String::from_utf8(d.to_vec()).map_err(|e| format!("not UTF-8: {}", e.utf8_error()).into()))
            .transpose()
    }
}

macro_rules! big_endian {
    ($($(#[$doc:meta])* $name:ident => $t:ty, $java:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        impl Deserializer for $name {
            type Value = Option<$t>;
            fn deserialize(&self, _: &str, _: &[Header], data: Option<&Bytes>) -> Result<Option<$t>, BoxError> {
                const N: usize = std::mem::size_of::<$t>();
                data.map(|d| {
                    let raw: [u8; N] = d.as_ref().try_into().map_err(|_| {
                        format!("{} needs exactly {N} bytes, got {}", $java, d.len())
                    })?;
                    Ok(<$t>::from_be_bytes(raw))
                })
                .transpose()
            }
        }
    )*};
}

big_endian! {
    /// A big-endian `i16` of exactly 2 bytes: Java's `ShortDeserializer`.
    I16Deserializer => i16, "ShortDeserializer";
    /// A big-endian `i32` of exactly 4 bytes: Java's `IntegerDeserializer`.
    I32Deserializer => i32, "IntegerDeserializer";
    /// A big-endian `i64` of exactly 8 bytes: Java's `LongDeserializer`.
    I64Deserializer => i64, "LongDeserializer";
    /// A big-endian IEEE 754 `f32` of exactly 4 bytes: Java's `FloatDeserializer`.
    F32Deserializer => f32, "FloatDeserializer";
    /// A big-endian IEEE 754 `f64` of exactly 8 bytes: Java's `DoubleDeserializer`.
    F64Deserializer => f64, "DoubleDeserializer";
}

/// A UUID written as its text (`123e4567-e89b-12d3-a456-426614174000`): Java's
/// `UUIDDeserializer`, which reads what `UUIDSerializer` writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct UuidDeserializer;

impl Deserializer for UuidDeserializer {
    type Value = Option<uuid::Uuid>;
    fn deserialize(&self, _: &str, _: &[Header], data: Option<&Bytes>) -> Result<Option<uuid::Uuid>, BoxError> {
        data.map(|d| {
            let text = std::str::from_utf8(d).map_err(|_| "a UUID must be UTF-8 text")?;
            uuid::Uuid::parse_str(text).map_err(|e| format!("not a UUID: {e}").into())
        })
        .transpose()
    }
}

/// JSON into any `T: serde::de::DeserializeOwned` (the `serde` feature).
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use bytes::Bytes;
/// use gregor::serialization::{Deserializer, Json};
///
/// #[derive(serde::Deserialize, Debug, PartialEq)]
/// struct Order { id: u64, qty: u32 }
///
/// let json = Json::<Order>::new();
/// let v = json.deserialize("orders", &[], Some(&Bytes::from_static(br#"{"id":7,"qty":2}"#))).unwrap();
/// assert_eq!(v, Some(Order { id: 7, qty: 2 }));
/// # }
/// ```
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub struct Json<T>(std::marker::PhantomData<fn() -> T>);

#[cfg(feature = "serde")]
impl<T> Json<T> {
    /// A JSON deserializer for `T`.
    pub fn new() -> Self {
        Json(std::marker::PhantomData)
    }
}

#[cfg(feature = "serde")]
impl<T> Default for Json<T> {
    fn default() -> Self {
        Json::new()
    }
}

#[cfg(feature = "serde")]
impl<T> Clone for Json<T> {
    fn clone(&self) -> Self {
        Json::new()
    }
}

#[cfg(feature = "serde")]
impl<T> fmt::Debug for Json<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Json<{}>", std::any::type_name::<T>())
    }
}

#[cfg(feature = "serde")]
impl<T: serde::de::DeserializeOwned> Deserializer for Json<T> {
    type Value = Option<T>;
    fn deserialize(&self, _: &str, _: &[Header], data: Option<&Bytes>) -> Result<Option<T>, BoxError> {
        data.map(|d| serde_json::from_slice(d).map_err(Into::into)).transpose()
    }
}

/// Which part of a record failed to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordField {
    /// The key.
    Key,
    /// The value.
    Value,
}

impl fmt::Display for RecordField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordField::Key => "key",
            RecordField::Value => "value",
        })
    }
}

/// A record whose key or value did not decode (Java's `RecordDeserializationException`). It
/// keeps the record, so nothing is lost: the consumer's position is already past it.
#[derive(Debug)]
pub struct DeserializationError {
    /// Key or value.
    pub field: RecordField,
    /// The record as fetched.
    pub record: ConsumerRecord,
    /// What the deserializer said.
    pub source: BoxError,
}

impl fmt::Display for DeserializationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot deserialize the {} of {}-{}@{}: {}",
            self.field, self.record.topic, self.record.partition, self.record.offset, self.source
        )
    }
}

impl std::error::Error for DeserializationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// A record with a decoded key and value.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedRecord<K, V> {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset.
    pub offset: i64,
    /// Milliseconds since the epoch (or -1).
    pub timestamp: i64,
    /// What the timestamp means.
    pub timestamp_type: TimestampType,
    /// The decoded key.
    pub key: K,
    /// The decoded value.
    pub value: V,
    /// Headers in order.
    pub headers: Vec<Header>,
    /// The partition leader epoch of the batch, when known.
    pub leader_epoch: Option<i32>,
}

impl ConsumerRecord {
    /// Decodes the key with `key` and the value with `value`. On failure the error holds this
    /// record (cloned: the payload is shared, not copied).
    pub fn deserialize<KD: Deserializer, VD: Deserializer>(
        &self,
        key: &KD,
        value: &VD,
    ) -> Result<TypedRecord<KD::Value, VD::Value>, DeserializationError> {
        let fail = |field, source| DeserializationError { field, record: self.clone(), source };
        let k = key.deserialize(&self.topic, &self.headers, self.key.as_ref()).map_err(|e| fail(RecordField::Key, e))?;
        let v = value.deserialize(&self.topic, &self.headers, self.value.as_ref()).map_err(|e| fail(RecordField::Value, e))?;
        Ok(TypedRecord {
            topic: self.topic.clone(),
            partition: self.partition,
            offset: self.offset,
            timestamp: self.timestamp,
            timestamp_type: self.timestamp_type,
            key: k,
            value: v,
            headers: self.headers.clone(),
            leader_epoch: self.leader_epoch,
        })
    }
}

impl crate::Consumer {
    /// [`poll`](crate::Consumer::poll), then [`ConsumerRecord::deserialize`] of every record:
    /// one result per record, in order, so a record that does not decode is reported with its
    /// bytes while the others are delivered (the position is past all of them, as after
    /// `poll`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let cluster = gregor_mock::MockCluster::builder().brokers(1).topic("names", 1).start().await?;
    /// # cluster.append_records("names", 0, &[("a", "Ada"), ("b", "Grace")])?;
    /// use std::time::Duration;
    /// use gregor::{Consumer, TopicPartition};
    /// use gregor::serialization::StringDeserializer;
    ///
    /// let consumer = Consumer::from_properties([("bootstrap.servers", cluster.bootstrap_servers())])?;
    /// consumer.assign([TopicPartition::new("names", 0)])?;
    /// consumer.seek_to_beginning(&[])?;
    /// let mut names = Vec::new();
    /// while names.len() < 2 {
    ///     for r in consumer.poll_deserialized(Duration::from_millis(500), &StringDeserializer, &StringDeserializer).await? {
    ///         names.push(r?.value.unwrap_or_default());
    ///     }
    /// }
    /// assert_eq!(names, ["Ada", "Grace"]);
    /// # consumer.close(Duration::from_secs(5)).await;
    /// # Ok(()) }
    /// ```
    pub async fn poll_deserialized<KD: Deserializer, VD: Deserializer>(
        &self,
        timeout: std::time::Duration,
        key: &KD,
        value: &VD,
    ) -> crate::Result<Vec<Result<TypedRecord<KD::Value, VD::Value>, DeserializationError>>> {
        let records = self.poll(timeout).await?;
        Ok(records.iter().map(|r| r.deserialize(key, value)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: Option<&[u8]>, value: Option<&[u8]>) -> ConsumerRecord {
        ConsumerRecord {
            topic: "t".into(),
            partition: 2,
            offset: 40,
            timestamp: 1,
            timestamp_type: TimestampType::CreateTime,
            key: key.map(Bytes::copy_from_slice),
            value: value.map(Bytes::copy_from_slice),
            headers: Vec::new(),
            leader_epoch: None,
        }
    }

    #[test]
    fn java_wire_formats() {
        let r = rec(Some(&7i32.to_be_bytes()), Some(&(-3i64).to_be_bytes()));
        let t = r.deserialize(&I32Deserializer, &I64Deserializer).unwrap();
        assert_eq!((t.key, t.value), (Some(7), Some(-3)));
        let r = rec(Some(&1.5f64.to_be_bytes()), Some(&0x1234i16.to_be_bytes()));
        let t = r.deserialize(&F64Deserializer, &I16Deserializer).unwrap();
        assert_eq!((t.key, t.value), (Some(1.5), Some(0x1234)));
        let r = rec(Some(b"123e4567-e89b-12d3-a456-426614174000"), Some("héllo".as_bytes()));
        let t = r.deserialize(&UuidDeserializer, &StringDeserializer).unwrap();
        assert_eq!(t.key.unwrap().to_string(), "123e4567-e89b-12d3-a456-426614174000");
        assert_eq!(t.value.as_deref(), Some("héllo"));
    }

    #[test]
    fn null_is_none_for_every_builtin() {
        let r = rec(None, None);
        assert_eq!(r.deserialize(&BytesDeserializer, &StringDeserializer).unwrap().value, None);
        assert_eq!(r.deserialize(&I32Deserializer, &F32Deserializer).unwrap().key, None);
        assert_eq!(r.deserialize(&UuidDeserializer, &I64Deserializer).unwrap().key, None);
    }

    #[test]
    fn a_bad_record_is_an_error_that_keeps_the_record() {
        let r = rec(Some(b"k"), Some(&[0xff, 0xfe]));
        let e = r.deserialize(&StringDeserializer, &StringDeserializer).unwrap_err();
        assert_eq!(e.field, RecordField::Value);
        assert_eq!(e.record, r);
        assert!(e.to_string().contains("value of t-2@40: not UTF-8"), "{e}");
        let e = rec(Some(&[1, 2, 3]), None).deserialize(&I32Deserializer, &BytesDeserializer).unwrap_err();
        assert_eq!(e.field, RecordField::Key);
        assert!(e.to_string().contains("IntegerDeserializer needs exactly 4 bytes, got 3"), "{e}");
    }

    #[cfg(feature = "serde")]
    #[test]
    fn json_values() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Order {
            id: u64,
        }
        let r = rec(None, Some(br#"{"id": 9}"#));
        let t = r.deserialize(&BytesDeserializer, &Json::<Order>::new()).unwrap();
        assert_eq!(t.value, Some(Order { id: 9 }));
        let e = rec(None, Some(b"{")).deserialize(&BytesDeserializer, &Json::<Order>::new()).unwrap_err();
        assert!(e.to_string().contains("EOF"), "{e}");
    }
}
