//! Behaviour tests for the record layer: round trips, consumer rules, transactions, legacy
//! message sets, limits and hostile input.

use super::*;

const CODECS: [Compression; 5] =
    [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd];

fn opts() -> DecodeOptions {
    DecodeOptions::default()
}

fn committed() -> DecodeOptions {
    DecodeOptions { isolation: IsolationLevel::ReadCommitted, ..DecodeOptions::default() }
}

/// Decodes everything, panicking on errors; returns the records and the iterator.
fn decode_all(data: Bytes, fetch_offset: i64, aborted: &[AbortedTransaction], o: &DecodeOptions) -> (Vec<Record>, FetchRecords) {
    let mut it = FetchRecords::new(data, fetch_offset, aborted, o);
    let recs: Vec<Record> = (&mut it).map(|r| r.expect("decode")).collect();
    (recs, it)
}

fn offsets(recs: &[Record]) -> Vec<i64> {
    recs.iter().map(|r| r.offset).collect()
}

/// A batch of `n` records `k{i}`/`v{i}` at `base`, with the given options.
fn batch_at(base: i64, n: usize, o: BatchOptions) -> Bytes {
    let keys: Vec<String> = (0..n).map(|i| format!("k{}", base + i as i64)).collect();
    let vals: Vec<String> = (0..n).map(|i| format!("v{}", base + i as i64)).collect();
    let recs: Vec<ProduceRecord<'_>> = (0..n)
        .map(|i| ProduceRecord {
            key: Some(keys[i].as_bytes()),
            value: Some(vals[i].as_bytes()),
            headers: &[],
            timestamp: 1_000 + i as i64,
        })
        .collect();
    encode_batch_with(&recs, &BatchOptions { base_offset: base, ..o }).unwrap()
}

fn concat(parts: &[Bytes]) -> Bytes {
    Bytes::from(parts.concat())
}

#[test]
fn every_codec_round_trips_keys_values_headers_and_timestamps() {
    let big = vec![7u8; 100_000];
    let hv = b"hv".as_slice();
    let headers: &[(&str, Option<&[u8]>)] = &[("h1", Some(hv)), ("h2", None)];
    let input = [
        ProduceRecord { key: Some(b"a"), value: Some(b"hello"), headers: &[], timestamp: 1_700_000_000_000 },
        ProduceRecord { key: None, value: None, headers, timestamp: 1_699_999_999_000 },
        ProduceRecord { key: Some(b""), value: Some(&big), headers: &[], timestamp: 1_700_000_000_500 },
    ];
    for c in CODECS {
        let batch = encode_batch(&input, c).unwrap();
        let (recs, it) = decode_all(batch.clone(), 0, &[], &opts());
        assert_eq!(offsets(&recs), vec![0, 1, 2], "{c}");
        assert_eq!(recs[0].key.as_deref(), Some(&b"a"[..]));
        assert_eq!(recs[0].value.as_deref(), Some(&b"hello"[..]));
        assert_eq!(recs[0].timestamp, 1_700_000_000_000);
        assert_eq!(recs[0].timestamp_type, TimestampType::CreateTime);
        assert_eq!(recs[0].leader_epoch, None);
        assert_eq!((recs[1].key.clone(), recs[1].value.clone()), (None, None));
        assert_eq!(recs[1].timestamp, 1_699_999_999_000);
        assert_eq!(recs[1].headers.len(), 2);
        assert_eq!(recs[1].headers[0].key_str(), Some("h1"));
        assert_eq!(recs[1].headers[0].value.as_deref(), Some(hv));
        assert_eq!(recs[1].headers[1].value, None);
        assert_eq!(recs[2].key.as_deref(), Some(&b""[..]));
        assert_eq!(recs[2].value.as_deref(), Some(&big[..]));
        assert_eq!(it.next_offset(), 3);
        assert_eq!(it.tail(), FetchTail::Complete);
        assert_eq!(batch[21..23], [0, c as u8], "compression attribute of {c}");
    }
}

#[test]
fn uncompressed_records_share_the_fetched_buffer() {
    let batch = batch_at(0, 2, BatchOptions::default());
    let range = batch.as_ptr() as usize..batch.as_ptr() as usize + batch.len();
    let (recs, _) = decode_all(batch.clone(), 0, &[], &opts());
    let v = recs[1].value.as_ref().unwrap();
    assert!(range.contains(&(v.as_ptr() as usize)), "value must be a slice of the fetch buffer");
}

#[test]
fn records_before_the_fetch_offset_are_skipped_and_position_advances() {
    for c in CODECS {
        let o = BatchOptions { compression: c, ..BatchOptions::default() };
        let data = concat(&[batch_at(10, 5, o), batch_at(15, 5, o)]);
        let (recs, it) = decode_all(data, 13, &[], &opts());
        assert_eq!(offsets(&recs), vec![13, 14, 15, 16, 17, 18, 19], "{c}");
        assert_eq!(recs[0].value.as_deref(), Some(&b"v13"[..]));
        assert_eq!(it.next_offset(), 20);
    }
}

#[test]
fn position_skips_compacted_gaps_and_empty_batches() {
    // A batch whose last offset delta says 10 records though only 3 survived compaction.
    let mut b = batch_at(100, 3, BatchOptions::default()).to_vec();
    b[23..27].copy_from_slice(&9i32.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    let (recs, it) = decode_all(Bytes::from(b), 100, &[], &opts());
    assert_eq!(offsets(&recs), vec![100, 101, 102]);
    assert_eq!(it.next_offset(), 110);
}

#[test]
fn position_inside_a_batch_is_one_past_the_last_record_handed_out() {
    let mut it = FetchRecords::new(batch_at(50, 4, BatchOptions::default()), 50, &[], &opts());
    assert_eq!(it.next().unwrap().unwrap().offset, 50);
    assert_eq!(it.next().unwrap().unwrap().offset, 51);
    assert_eq!(it.next_offset(), 52);
    assert_eq!(it.tail(), FetchTail::Pending);
}

#[test]
fn a_partial_trailing_batch_is_reported_not_an_error() {
    let first = batch_at(0, 3, BatchOptions::default());
    let second = batch_at(3, 3, BatchOptions::default());
    for cut in [1, 11, 12, 30, second.len() - 1] {
        let data = concat(&[first.clone(), second.slice(..cut)]);
        let (recs, it) = decode_all(data, 0, &[], &opts());
        assert_eq!(offsets(&recs), vec![0, 1, 2], "cut {cut}");
        assert_eq!(it.next_offset(), 3);
        assert_eq!(it.tail(), FetchTail::Truncated { available: cut });
    }
}

#[test]
fn an_incomplete_first_batch_reports_the_size_needed() {
    let b = batch_at(0, 3, BatchOptions::default());
    let (recs, it) = decode_all(b.slice(..40), 0, &[], &opts());
    assert!(recs.is_empty());
    assert_eq!(it.tail(), FetchTail::FirstBatchTooLarge { batch_size: Some(b.len()), available: 40 });
    assert_eq!(it.next_offset(), 0);
    let (_, it) = decode_all(b.slice(..5), 0, &[], &opts());
    assert_eq!(it.tail(), FetchTail::FirstBatchTooLarge { batch_size: None, available: 5 });
    let (_, it) = decode_all(Bytes::new(), 7, &[], &opts());
    assert_eq!((it.tail(), it.next_offset()), (FetchTail::Complete, 7));
}

#[test]
fn crc_mismatch_names_expected_and_actual_and_can_be_disabled() {
    let good = batch_at(5, 2, BatchOptions::default());
    let mut bad = good.to_vec();
    let last = bad.len() - 2;
    bad[last] ^= 0x01; // last byte of the last value (the header count follows)
    let mut it = FetchRecords::new(Bytes::from(bad.clone()), 0, &[], &opts());
    let expected = u32::from_be_bytes(good[17..21].try_into().unwrap());
    let actual = crc32c::crc32c(&bad[21..]);
    assert_eq!(it.next(), Some(Err(RecordsError::CrcMismatch { offset: 5, expected, actual })));
    assert_eq!(it.next(), None);
    assert_eq!(it.next_offset(), 0);
    let no_check = DecodeOptions { check_crcs: false, ..opts() };
    let (recs, _) = decode_all(Bytes::from(bad), 0, &[], &no_check);
    assert_eq!(recs.len(), 2);
}

#[test]
fn records_before_an_error_are_delivered_first() {
    let mut bad = batch_at(3, 2, BatchOptions::default()).to_vec();
    bad[16] = 3; // unknown magic
    let data = concat(&[batch_at(0, 3, BatchOptions::default()), Bytes::from(bad)]);
    let mut it = FetchRecords::new(data, 0, &[], &opts());
    let got: Vec<_> = (&mut it).collect();
    assert_eq!(got.len(), 4);
    assert!(got[..3].iter().all(|r| r.is_ok()));
    assert_eq!(got[3], Err(RecordsError::UnsupportedMagic { offset: 3, magic: 3 }));
    assert_eq!(it.next_offset(), 3);
}

#[test]
fn log_append_time_batches_give_every_record_the_max_timestamp() {
    let mut b = batch_at(0, 3, BatchOptions::default()).to_vec();
    b[22] |= 0x08;
    b[35..43].copy_from_slice(&42_000i64.to_be_bytes());
    b[12..16].copy_from_slice(&7i32.to_be_bytes()); // leader epoch, outside the CRC
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    let (recs, _) = decode_all(Bytes::from(b), 0, &[], &opts());
    assert!(recs.iter().all(|r| r.timestamp == 42_000 && r.timestamp_type == TimestampType::LogAppendTime));
    assert!(recs.iter().all(|r| r.leader_epoch == Some(7)));
}

#[test]
fn decompression_bomb_is_an_error_not_an_allocation() {
    let zeros = vec![0u8; 8 << 20];
    let rec = [ProduceRecord { key: None, value: Some(&zeros), headers: &[], timestamp: 0 }];
    for c in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
        let batch = encode_batch(&rec, c).unwrap();
        let o = DecodeOptions { max_decompressed_bytes: 1 << 20, ..opts() };
        let mut it = FetchRecords::new(batch, 0, &[], &o);
        assert_eq!(it.next(), Some(Err(RecordsError::DecompressedTooLarge { offset: 0, limit: 1 << 20 })), "{c}");
    }
}

#[test]
fn hostile_counts_fail_without_allocating_for_them() {
    // Record count i32::MAX: iteration fails when the bytes run out.
    let mut b = batch_at(0, 1, BatchOptions::default()).to_vec();
    b[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
    let o = DecodeOptions { check_crcs: false, ..opts() };
    let got: Vec<_> = FetchRecords::new(Bytes::from(b), 0, &[], &o).collect();
    assert_eq!(got.len(), 2);
    assert!(matches!(got[1], Err(RecordsError::Corrupt { .. })));
    // A header count of i32::MAX on a record of a few bytes.
    let mut b = batch_at(0, 1, BatchOptions::default()).to_vec();
    let n = b.len();
    b[n - 1] = 0xfe; // header count varint: 0xfe 0xff 0xff 0xff 0x0f = i32::MAX zig-zagged
    b.extend_from_slice(&[0xff, 0xff, 0xff, 0x0f]);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    let got: Vec<_> = FetchRecords::new(Bytes::from(b), 0, &[], &o).collect();
    assert!(matches!(got[..], [Err(RecordsError::Corrupt { .. })]), "{got:?}");
}

#[test]
fn bytes_after_the_declared_records_are_corruption() {
    let mut b = batch_at(0, 2, BatchOptions::default()).to_vec();
    b[57..61].copy_from_slice(&1i32.to_be_bytes());
    let o = DecodeOptions { check_crcs: false, ..opts() };
    let got: Vec<_> = FetchRecords::new(Bytes::from(b), 0, &[], &o).collect();
    assert!(got[0].is_ok());
    assert!(matches!(got[1], Err(RecordsError::Corrupt { .. })));
}

#[test]
fn compression_names_parse_and_display_as_kafka_spells_them() {
    for c in CODECS {
        assert_eq!(c.to_string().parse::<Compression>(), Ok(c));
        assert_eq!(Compression::from_id(c as u8), Some(c));
    }
    assert_eq!("ZSTD".parse::<Compression>(), Ok(Compression::Zstd));
    assert!("brotli".parse::<Compression>().is_err());
    assert_eq!(Compression::from_id(5), None);
}

// ---- transactions -------------------------------------------------------------------------

fn txn(base: i64, n: usize, pid: i64) -> Bytes {
    batch_at(base, n, BatchOptions { producer_id: pid, producer_epoch: 0, base_sequence: 0, transactional: true, ..BatchOptions::default() })
}

#[test]
fn control_batches_are_never_records_but_move_the_position() {
    let data = concat(&[txn(0, 2, 1), encode_control_batch(ControlMarker::Commit, 2, 1, 0, 0, 0)]);
    for o in [opts(), committed()] {
        let (recs, it) = decode_all(data.clone(), 0, &[], &o);
        assert_eq!(offsets(&recs), vec![0, 1]);
        assert_eq!(it.next_offset(), 3);
    }
}

#[test]
fn read_committed_drops_aborted_transactions_until_their_abort_marker() {
    // Producer 1 aborts 0..=2 (marker at 3); producer 2 commits 4..=5 (marker 6) interleaved
    // with producer 1's next transaction 7..=8, which aborts too (marker 9);
    // producer 1 then writes 10..=11, committed (marker 12).
    let data = concat(&[
        txn(0, 2, 1),
        txn(2, 1, 1),
        encode_control_batch(ControlMarker::Abort, 3, 1, 0, 0, 0),
        txn(4, 2, 2),
        encode_control_batch(ControlMarker::Commit, 6, 2, 0, 0, 0),
        txn(7, 2, 1),
        encode_control_batch(ControlMarker::Abort, 9, 1, 0, 0, 0),
        txn(10, 2, 1),
        encode_control_batch(ControlMarker::Commit, 12, 1, 0, 0, 0),
        batch_at(13, 1, BatchOptions::default()),
    ]);
    let aborted = [
        AbortedTransaction { producer_id: 1, first_offset: 7 },
        AbortedTransaction { producer_id: 1, first_offset: 0 },
    ];
    let (recs, it) = decode_all(data.clone(), 0, &aborted, &committed());
    assert_eq!(offsets(&recs), vec![4, 5, 10, 11, 13]);
    assert_eq!(it.next_offset(), 14);
    let (recs, _) = decode_all(data.clone(), 0, &aborted, &opts());
    assert_eq!(offsets(&recs), vec![0, 1, 2, 4, 5, 7, 8, 10, 11, 13]);
    // Fetching from inside the first aborted transaction.
    let (recs, _) = decode_all(data, 2, &aborted, &committed());
    assert_eq!(offsets(&recs), vec![4, 5, 10, 11, 13]);
}

#[test]
fn an_aborted_list_only_affects_transactional_batches_of_that_producer() {
    let idempotent = batch_at(0, 2, BatchOptions { producer_id: 1, producer_epoch: 0, base_sequence: 0, ..BatchOptions::default() });
    let data = concat(&[idempotent, txn(2, 2, 2)]);
    let aborted = [AbortedTransaction { producer_id: 1, first_offset: 0 }];
    let (recs, _) = decode_all(data, 0, &aborted, &committed());
    assert_eq!(offsets(&recs), vec![0, 1, 2, 3]);
}

// ---- legacy message sets (magic 0 and 1) ------------------------------------------------------

fn legacy(offset: i64, magic: i8, attributes: u8, ts: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> Vec<u8> {
    let mut body = vec![magic as u8, attributes];
    if magic == 1 {
        body.extend_from_slice(&ts.to_be_bytes());
    }
    for f in [key, value] {
        match f {
            None => body.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(b) => {
                body.extend_from_slice(&(b.len() as i32).to_be_bytes());
                body.extend_from_slice(b);
            }
        }
    }
    let mut crc = flate2::Crc::new();
    crc.update(&body);
    let mut out = offset.to_be_bytes().to_vec();
    out.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    out.extend_from_slice(&crc.sum().to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// A compressed wrapper holding `n` inner messages; magic 1 uses relative inner offsets.
fn legacy_wrapper(last_offset: i64, n: i64, magic: i8, c: Compression, log_append: bool) -> Vec<u8> {
    let mut inner = Vec::new();
    for i in 0..n {
        let off = if magic == 1 { i } else { last_offset - n + 1 + i };
        let v = format!("v{}", last_offset - n + 1 + i);
        inner.extend(legacy(off, magic, 0, 500 + i, Some(b"k"), Some(v.as_bytes())));
    }
    let mut z = Vec::new();
    compression::compress(c, &inner, &mut z).unwrap();
    let attrs = c as u8 | if log_append { 0x08 } else { 0 };
    legacy(last_offset, magic, attrs, 9_999, None, Some(&z))
}

#[test]
fn legacy_uncompressed_messages_decode_with_their_timestamps() {
    let data = [
        legacy(0, 0, 0, 0, Some(b"a"), Some(b"x")),
        legacy(1, 1, 0, 123, None, Some(b"y")),
        legacy(2, 1, 0x08, 456, Some(b"c"), None),
    ]
    .concat();
    let (recs, it) = decode_all(Bytes::from(data), 0, &[], &opts());
    assert_eq!(offsets(&recs), vec![0, 1, 2]);
    assert_eq!((recs[0].timestamp, recs[0].timestamp_type), (-1, TimestampType::NoTimestamp));
    assert_eq!((recs[1].timestamp, recs[1].timestamp_type), (123, TimestampType::CreateTime));
    assert_eq!((recs[2].timestamp, recs[2].timestamp_type), (456, TimestampType::LogAppendTime));
    assert_eq!(recs[1].key, None);
    assert_eq!(recs[2].value, None);
    assert_eq!(it.next_offset(), 3);
}

#[test]
fn legacy_compressed_wrappers_yield_inner_messages_with_absolute_offsets() {
    for c in [Compression::Gzip, Compression::Snappy, Compression::Lz4] {
        for magic in [0i8, 1] {
            let data = [legacy_wrapper(4, 5, magic, c, false), legacy_wrapper(9, 5, magic, c, true)].concat();
            let (recs, it) = decode_all(Bytes::from(data), 2, &[], &opts());
            assert_eq!(offsets(&recs), (2..10).collect::<Vec<_>>(), "{c} magic {magic}");
            assert_eq!(recs[0].value.as_deref(), Some(&b"v2"[..]));
            assert_eq!(it.next_offset(), 10);
            if magic == 1 {
                assert_eq!((recs[0].timestamp, recs[0].timestamp_type), (502, TimestampType::CreateTime));
                assert_eq!((recs[5].timestamp, recs[5].timestamp_type), (9_999, TimestampType::LogAppendTime));
            }
        }
    }
}

#[test]
fn legacy_crc32_is_checked() {
    let mut m = legacy(0, 1, 0, 1, Some(b"k"), Some(b"value"));
    let n = m.len();
    m[n - 1] ^= 0xff;
    let mut it = FetchRecords::new(Bytes::from(m.clone()), 0, &[], &opts());
    assert!(matches!(it.next(), Some(Err(RecordsError::CrcMismatch { offset: 0, .. }))));
    let o = DecodeOptions { check_crcs: false, ..opts() };
    assert_eq!(decode_all(Bytes::from(m), 0, &[], &o).0.len(), 1);
}

// ---- hostile input ----------------------------------------------------------------------------

/// xorshift64*: a deterministic generator, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn drain(data: Bytes, o: &DecodeOptions) -> usize {
    let aborted = [AbortedTransaction { producer_id: 1, first_offset: 0 }];
    let mut it = FetchRecords::new(data, 0, &aborted, o);
    let n = (&mut it).take(100_000).count();
    let _ = (it.next_offset(), it.tail());
    n
}

#[test]
fn random_and_mutated_input_never_panics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for c in CODECS {
        let hv = b"v".as_slice();
        let headers: &[(&str, Option<&[u8]>)] = &[("h", Some(hv))];
        let recs: Vec<ProduceRecord<'_>> =
            (0..20).map(|i| ProduceRecord { key: Some(b"key"), value: Some(b"some value"), headers, timestamp: i }).collect();
        seeds.push(encode_batch(&recs, c).unwrap().to_vec());
    }
    seeds.push(txn(0, 3, 1).to_vec());
    seeds.push(encode_control_batch(ControlMarker::Abort, 3, 1, 0, 0, 0).to_vec());
    for c in [Compression::Gzip, Compression::Snappy, Compression::Lz4] {
        seeds.push(legacy_wrapper(4, 5, 1, c, false));
        seeds.push(legacy_wrapper(4, 5, 0, c, false));
    }
    seeds.push(legacy(0, 1, 0, 5, Some(b"k"), Some(b"v")));
    let lax = DecodeOptions { check_crcs: false, isolation: IsolationLevel::ReadCommitted, max_decompressed_bytes: 1 << 20 };
    let strict = DecodeOptions { max_decompressed_bytes: 1 << 20, ..committed() };
    // RECORDS_FUZZ_ROUNDS raises the count for a longer local run (e.g. 300000 in release).
    let rounds = std::env::var("RECORDS_FUZZ_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(4000);
    for round in 0..rounds {
        let data: Vec<u8> = if round % 8 == 0 {
            (0..rng.below(300)).map(|_| rng.next() as u8).collect()
        } else {
            let mut d = seeds[rng.below(seeds.len())].clone();
            for _ in 0..=rng.below(4) {
                match rng.below(4) {
                    0 if !d.is_empty() => {
                        let i = rng.below(d.len());
                        d[i] = rng.next() as u8;
                    }
                    1 => d.truncate(rng.below(d.len() + 1)),
                    2 if !d.is_empty() => {
                        let i = rng.below(d.len());
                        d[i] ^= 1 << rng.below(8);
                    }
                    _ => {
                        let extra = seeds[rng.below(seeds.len())].clone();
                        d.extend(extra);
                    }
                }
            }
            d
        };
        // Mutations are almost always caught by the CRC; the lax pass exercises the parsers.
        drain(Bytes::from(data.clone()), &lax);
        drain(Bytes::from(data), &strict);
    }
}
