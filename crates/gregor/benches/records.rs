//! Record-layer micro-benchmarks: decoding fetched records per codec at 100 B and 1 KiB values,
//! CRC32C throughput, encoding, an end-to-end "Fetch response partition to records" case, and
//! `zero_copy/*`: the consumer's record path before and after issue #14, side by side.
//!
//! Run: `cargo bench -p gregor --bench records` (add `-- decode/none` to filter).
//! Throughput is reported in records/s (`elem/s`) or bytes/s.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gregor::records::{
    encode_batch, encode_control_batch, AbortedTransaction, Compression, ControlMarker, DecodeOptions,
    BufferPool, FetchRecords, IsolationLevel, ProduceRecord, Record,
};
use kafka_protocol::messages::fetch_response::{FetchResponse, FetchableTopicResponse, PartitionData};
use kafka_protocol::protocol::{Decodable, Encodable};

const CODECS: [Compression; 5] =
    [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd];

/// Values that compress like typical JSON-ish payloads (not all zeros, not random).
fn value(i: usize, size: usize) -> Vec<u8> {
    const WORDS: [&str; 12] = [
        "\"user\":", "\"id\":", "1234", "\"event\":", "\"click\"", "\"ts\":", "1700000000", ",",
        "{", "}", "\"page\":", "\"/home\"",
    ];
    let mut v = Vec::with_capacity(size + 16);
    let mut x = i as u64 * 0x9E37_79B9 + 1;
    while v.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(WORDS[(x % WORDS.len() as u64) as usize].as_bytes());
    }
    v.truncate(size);
    v
}

/// A partition's fetched bytes: `batches` batches of `per_batch` records with `size`-byte values
/// and 8-byte keys, offsets contiguous from 0.
fn fetch_bytes(c: Compression, size: usize, per_batch: usize, batches: usize) -> Bytes {
    let mut out = Vec::new();
    for b in 0..batches {
        let keys: Vec<String> = (0..per_batch).map(|i| format!("k{:07}", b * per_batch + i)).collect();
        let vals: Vec<Vec<u8>> = (0..per_batch).map(|i| value(b * per_batch + i, size)).collect();
        let recs: Vec<ProduceRecord<'_>> = (0..per_batch)
            .map(|i| ProduceRecord {
                key: Some(keys[i].as_bytes()),
                value: Some(&vals[i]),
                headers: &[],
                timestamp: 1_700_000_000_000 + i as i64,
            })
            .collect();
        let batch = encode_batch(&recs, c).unwrap();
        let mut batch = batch.to_vec();
        // Brokers assign offsets; the base offset sits outside the CRC.
        batch[..8].copy_from_slice(&((b * per_batch) as i64).to_be_bytes());
        out.extend_from_slice(&batch);
    }
    Bytes::from(out)
}

fn drain(data: &Bytes, o: &DecodeOptions) -> usize {
    let mut n = 0;
    for r in FetchRecords::new(data.clone(), 0, &[], o) {
        let r = r.unwrap();
        n += r.value.map_or(0, |v| v.len());
    }
    n
}

fn decode(c: &mut Criterion) {
    let o = DecodeOptions::default();
    // (value size, records per batch): ~64 KiB uncompressed batches, 10,000+ records per fetch.
    for (size, per_batch, batches) in [(100usize, 500usize, 20usize), (1024, 60, 50)] {
        let mut g = c.benchmark_group(format!("decode/{}B", size));
        g.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
        g.throughput(Throughput::Elements((per_batch * batches) as u64));
        for codec in CODECS {
            let data = fetch_bytes(codec, size, per_batch, batches);
            assert_eq!(drain(&data, &o), size * per_batch * batches);
            g.bench_with_input(BenchmarkId::from_parameter(codec), &data, |b, d| b.iter(|| black_box(drain(d, &o))));
        }
        g.finish();
    }
}

fn crc(c: &mut Criterion) {
    let data = value(1, 1 << 20);
    let mut g = c.benchmark_group("crc32c");
    g.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("1MiB", |b| b.iter(|| black_box(gregor::records::__bench::crc32c(black_box(&data)))));
    g.finish();
}

fn encode(c: &mut Criterion) {
    let vals: Vec<Vec<u8>> = (0..500).map(|i| value(i, 100)).collect();
    let recs: Vec<ProduceRecord<'_>> =
        vals.iter().map(|v| ProduceRecord { key: None, value: Some(v), headers: &[], timestamp: 0 }).collect();
    let mut g = c.benchmark_group("encode/100B");
    g.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(recs.len() as u64));
    for codec in CODECS {
        g.bench_function(BenchmarkId::from_parameter(codec), |b| b.iter(|| black_box(encode_batch(&recs, codec).unwrap())));
    }
    g.finish();
}

/// A consumer's whole per-partition path: decode a Fetch response (v13) with kafka-protocol,
/// take the partition's records and aborted list, decode read-committed with CRC checks from an
/// offset inside the first batch, and buffer the records as a consumer's fetch buffer would.
fn end_to_end(c: &mut Criterion) {
    let mut g = c.benchmark_group("fetch_partition/100B");
    g.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for codec in [Compression::None, Compression::Lz4, Compression::Zstd] {
        let mut records = fetch_bytes(codec, 100, 500, 20).to_vec();
        // A commit marker after the data, as transactional producers leave behind.
        records.extend_from_slice(&encode_control_batch(ControlMarker::Commit, 10_000, 9, 0, 0, 0));
        let partition = PartitionData::default()
            .with_high_watermark(10_001)
            .with_last_stable_offset(10_001)
            .with_aborted_transactions(Some(vec![]))
            .with_records(Some(Bytes::from(records)));
        let resp = FetchResponse::default()
            .with_responses(vec![FetchableTopicResponse::default().with_partitions(vec![partition])]);
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 13).unwrap();
        let wire = buf.freeze();
        let o = DecodeOptions { isolation: IsolationLevel::ReadCommitted, ..DecodeOptions::default() };
        let fetch_offset = 250;
        g.throughput(Throughput::Elements(10_000 - fetch_offset as u64));
        g.bench_function(BenchmarkId::from_parameter(codec), |b| {
            b.iter(|| {
                let mut w = wire.clone();
                let resp = FetchResponse::decode(&mut w, 13).unwrap();
                let mut out: Vec<Record> = Vec::new();
                for t in resp.responses {
                    for p in t.partitions {
                        let aborted: Vec<AbortedTransaction> = p
                            .aborted_transactions
                            .unwrap_or_default()
                            .iter()
                            .map(|a| AbortedTransaction { producer_id: a.producer_id.0, first_offset: a.first_offset })
                            .collect();
                        let mut it = FetchRecords::new(p.records.unwrap_or_default(), fetch_offset, &aborted, &o);
                        out.extend((&mut it).map(|r| r.unwrap()));
                        assert_eq!(it.next_offset(), 10_001);
                    }
                }
                assert_eq!(out.len(), 10_000 - fetch_offset as usize);
                black_box(out)
            })
        });
    }
    g.finish();
}

/// What issue #14's record path saved, both paths in one run (`zero_copy/100B/<codec>/{before,after}`):
///
/// - `before`: the path until #14: a fetched partition is decoded into a `Vec` of records (each
///   compressed batch decompressed into a fresh buffer), moved into the consumer's buffer, and
///   moved again into the `Vec` that `poll` returns.
/// - `after`: records are decoded in `poll` straight into the returned `Vec` (one move), as
///   `Bytes` views into the fetched or decompressed buffer, and decompression buffers come from a
///   [`BufferPool`] (reused once the application has dropped the previous batch's records).
///
/// Both then do the same per-record work (sum of value lengths) and drop the records, as an
/// application that polls in a loop does.
fn zero_copy(c: &mut Criterion) {
    let o = DecodeOptions::default();
    for codec in [Compression::None, Compression::Lz4, Compression::Zstd] {
        let data = fetch_bytes(codec, 100, 500, 20);
        let mut g = c.benchmark_group(format!("zero_copy/100B/{}", codec));
        g.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
        g.throughput(Throughput::Elements(10_000));
        g.bench_function("before", |b| {
            b.iter(|| {
                let decoded: Vec<Record> = FetchRecords::new(data.clone(), 0, &[], &o).map(|r| r.unwrap()).collect();
                let mut buffer: std::collections::VecDeque<Record> = std::collections::VecDeque::new();
                buffer.extend(decoded);
                let out: Vec<Record> = buffer.drain(..).collect();
                black_box(out.iter().map(|r| r.value.as_ref().map_or(0, |v| v.len())).sum::<usize>())
            })
        });
        let mut pool = BufferPool::default();
        g.bench_function("after", |b| {
            b.iter(|| {
                let mut it = FetchRecords::new(data.clone(), 0, &[], &o);
                let mut out: Vec<Record> = Vec::with_capacity(10_000);
                while let Some(r) = it.next_pooled(&mut pool) {
                    out.push(r.unwrap());
                }
                black_box(out.iter().map(|r| r.value.as_ref().map_or(0, |v| v.len())).sum::<usize>())
            })
        });
        let (reused, allocated) = pool.stats();
        eprintln!("zero_copy/100B/{codec}: decompression buffers reused {reused}, allocated {allocated}");
        g.finish();
    }
}

criterion_group!(benches, decode, crc, encode, end_to_end, zero_copy);
criterion_main!(benches);
