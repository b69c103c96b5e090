//! One partition's record bytes (v0/v1 message sets, v2 batches, every codec) through
//! `FetchRecords`, with the first byte choosing CRC checking and isolation.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gregor::__fuzz::decode_records(data));
