//! Interop with another implementation: batches written by the `kafka-protocol` crate's
//! `RecordBatchEncoder` decode here, and batches encoded here decode there, for every codec.
//!
//! kafka-protocol compresses only with its codec features (`gzip`, `snappy`, `lz4`, `zstd`). When
//! the build lacks one, that codec's case still checks the batch layout against kafka-protocol,
//! with the compression step done by this module (see `kp_encode` / `kp_decode`); the scratch
//! build used for development enables them all, so codec framing is cross-checked there.

use bytes::BytesMut;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records as kp;

use super::*;

fn kp_codec(c: Compression) -> kp::Compression {
    match c {
        Compression::None => kp::Compression::None,
        Compression::Gzip => kp::Compression::Gzip,
        Compression::Snappy => kp::Compression::Snappy,
        Compression::Lz4 => kp::Compression::Lz4,
        Compression::Zstd => kp::Compression::Zstd,
    }
}

/// kafka-protocol's answer when a codec's cargo feature is off.
fn feature_missing(e: &impl std::fmt::Display) -> bool {
    e.to_string().contains("not enabled as a cargo feature")
}

fn ours(c: kp::Compression) -> Compression {
    Compression::from_id(c as u8).unwrap()
}

fn kp_encode(recs: &[kp::Record], c: Compression) -> Bytes {
    let o = kp::RecordEncodeOptions { version: 2, compression: kp_codec(c) };
    let mut buf = BytesMut::new();
    match kp::RecordBatchEncoder::encode(&mut buf, recs, &o) {
        Ok(()) => buf.freeze(),
        Err(e) if feature_missing(&e) => {
            let mut buf = BytesMut::new();
            let compress = |raw: &mut BytesMut, out: &mut BytesMut, kc: kp::Compression| {
                let mut z = Vec::new();
                compression::compress(ours(kc), raw, &mut z)?;
                out.extend_from_slice(&z);
                Ok(())
            };
            kp::RecordBatchEncoder::encode_with_custom_compression(&mut buf, recs, &o, Some(compress)).unwrap();
            buf.freeze()
        }
        Err(e) => panic!("{c}: {e:#}"),
    }
}

fn kp_decode(data: &Bytes) -> kp::RecordSet {
    match kp::RecordBatchDecoder::decode(&mut data.clone()) {
        Ok(set) => set,
        Err(e) if feature_missing(&e) => {
            let decompress = |z: &mut Bytes, kc: kp::Compression| {
                Ok(Bytes::from(compression::decompress(ours(kc), z, 1 << 26, 2, 0)?))
            };
            kp::RecordBatchDecoder::decode_with_custom_compression(&mut data.clone(), Some(decompress)).unwrap()
        }
        Err(e) => panic!("{e:#}"),
    }
}

const CODECS: [Compression; 5] =
    [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd];

#[test]
fn batches_from_kafka_protocol_decode_for_every_codec() {
    for c in CODECS {
        let mut recs = Vec::new();
        for i in 0..50i64 {
            let mut r = kp::Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 3,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: kp::TimestampType::Creation,
                offset: 1_000 + i,
                sequence: -1,
                timestamp: 1_700_000_000_000 + i * 7,
                key: (i % 3 != 0).then(|| Bytes::from(format!("key-{i}"))),
                value: Some(Bytes::from(format!("value-{i}-").repeat(i as usize % 9 + 1))),
                headers: Default::default(),
            };
            if i % 5 == 0 {
                r.headers.insert(StrBytes::from_static_str("trace"), Some(Bytes::from(format!("t{i}"))));
                r.headers.insert(StrBytes::from_static_str("nil"), None);
            }
            recs.push(r);
        }
        let data = kp_encode(&recs, c);
        assert_eq!(data[22] & 7, c as u8);
        let mut it = FetchRecords::new(data, 1_000, &[], &DecodeOptions::default());
        let got: Vec<Record> = (&mut it).map(|r| r.unwrap_or_else(|e| panic!("{c}: {e}"))).collect();
        assert_eq!(got.len(), recs.len(), "{c}");
        for (g, want) in got.iter().zip(&recs) {
            assert_eq!(g.offset, want.offset, "{c}");
            assert_eq!(g.timestamp, want.timestamp, "{c}");
            assert_eq!(g.key, want.key, "{c}");
            assert_eq!(g.value, want.value, "{c}");
            assert_eq!(g.leader_epoch, Some(3));
            let hs: Vec<(String, Option<Bytes>)> =
                want.headers.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
            let gs: Vec<(String, Option<Bytes>)> =
                g.headers.iter().map(|h| (h.key_str().unwrap().to_string(), h.value.clone())).collect();
            assert_eq!(gs, hs, "{c}");
        }
        assert_eq!(it.next_offset(), 1_050);
    }
}

#[test]
fn batches_encoded_here_decode_with_kafka_protocol_for_every_codec() {
    for c in CODECS {
        let keys: Vec<String> = (0..40).map(|i| format!("key-{i}")).collect();
        let vals: Vec<Vec<u8>> = (0..40).map(|i| vec![b'a' + (i % 26) as u8; 10 + i * 37]).collect();
        let hv = b"hv".as_slice();
        let headers: &[(&str, Option<&[u8]>)] = &[("h1", Some(hv)), ("h2", None)];
        let input: Vec<ProduceRecord<'_>> = (0..40)
            .map(|i| ProduceRecord {
                key: (i % 4 != 0).then(|| keys[i].as_bytes()),
                value: (i % 7 != 0).then(|| &vals[i][..]),
                headers: if i % 2 == 0 { headers } else { &[] },
                timestamp: 1_600_000_000_000 - i as i64,
            })
            .collect();
        let opts = BatchOptions { compression: c, producer_id: 77, producer_epoch: 2, base_sequence: 10, ..BatchOptions::default() };
        let data = encode_batch_with(&input, &opts).unwrap();
        let set = kp_decode(&data);
        assert_eq!(set.compression, kp_codec(c));
        assert_eq!(set.records.len(), input.len());
        for (i, (g, want)) in set.records.iter().zip(&input).enumerate() {
            assert_eq!(g.offset, i as i64);
            assert_eq!(g.sequence, 10 + i as i32);
            assert_eq!((g.producer_id, g.producer_epoch), (77, 2));
            assert_eq!(g.timestamp, want.timestamp);
            assert_eq!(g.key.as_deref(), want.key, "{c}");
            assert_eq!(g.value.as_deref(), want.value, "{c}");
            let hs: Vec<(&str, Option<&[u8]>)> = g.headers.iter().map(|(k, v)| (&**k, v.as_deref())).collect();
            assert_eq!(hs, want.headers.to_vec());
        }
    }
}
