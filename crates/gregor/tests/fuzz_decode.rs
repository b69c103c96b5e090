//! Fuzzing on the stable toolchain: deterministic mutations of the seed corpus, fed through the
//! same entry points as the cargo-fuzz targets in `fuzz/` (`gregor::__fuzz`). Runs in every
//! `cargo test`; `scripts/fuzz.sh` runs the coverage-guided version on nightly.
//!
//! `GREGOR_FUZZ_ITERATIONS` sets the number of mutated inputs per seed (default 300);
//! `GREGOR_WRITE_FUZZ_CORPUS=1` rewrites `fuzz/corpus/` from the seed generator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use gregor::__fuzz;
use kafka_protocol::messages::ApiKey;

/// Records the largest single allocation of each thread, so the harness can check what the
/// guard is for: no input makes the decoders reserve memory out of proportion to its size.
/// (Under overcommit an oversized `Vec::with_capacity` can succeed untouched and go unnoticed;
/// only a few hundred GiB abort.)
struct Tracking;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn track(size: usize) {
    let _ = LARGEST.try_with(|m| m.set(m.get().max(size)));
}

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        track(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        track(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// The largest single allocation `run` may make for an input of `len` bytes. Decoders may
/// hold a few structs per input byte (a struct element is at least one byte on the wire) and
/// the record decoders up to their decompression cap; a count off the wire that nothing checked
/// shows up as gigabytes.
fn allocation_bound(len: usize) -> usize {
    256 * len + (8 << 20)
}

/// xorshift64*: deterministic, so a failure reproduces with the same iteration count.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Values that break length and count checks.
const INTERESTING: &[&[u8]] = &[
    &[0x7f, 0xff, 0xff, 0xff],
    &[0xff, 0xff, 0xff, 0xff],
    &[0xff, 0xff, 0xff, 0xfe],
    &[0x80, 0x00, 0x00, 0x00],
    &[0x00, 0x00, 0x00, 0x00],
    &[0xff, 0xff, 0xff, 0xff, 0x0f],
    &[0xff, 0xff],
    &[0x7f, 0xff],
    &[0x00],
    &[0x80],
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut d = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        // Leave the selector bytes alone half of the time so most inputs hit a real decoder.
        let start = if rng.below(2) == 0 { 2.min(d.len()) } else { 0 };
        let span = d.len().saturating_sub(start).max(1);
        let at = start + rng.below(span);
        match rng.below(6) {
            0 if at < d.len() => d[at] ^= 1 << rng.below(8),
            1 if at < d.len() => d[at] = rng.next() as u8,
            2 => {
                let v = INTERESTING[rng.below(INTERESTING.len())];
                for (i, b) in v.iter().enumerate() {
                    if let Some(x) = d.get_mut(at + i) {
                        *x = *b;
                    }
                }
            }
            3 => d.truncate(at),
            4 if at < d.len() => {
                let n = 1 + rng.below(8).min(d.len() - at);
                d.drain(at..(at + n).min(d.len()));
            }
            _ => {
                let v = INTERESTING[rng.below(INTERESTING.len())];
                let at = at.min(d.len());
                d.splice(at..at, v.iter().copied());
            }
        }
    }
    d
}

fn run(target: &str, input: &[u8]) {
    LARGEST.with(|m| m.set(0));
    match target {
        "decode_response" => __fuzz::decode_response(input),
        "decode_records" => __fuzz::decode_records(input),
        other => panic!("unknown target {other}"),
    }
    let largest = LARGEST.with(|m| m.get());
    assert!(
        largest <= allocation_bound(input.len()),
        "{target}: one allocation of {largest} bytes for an input of {} bytes: {input:02x?}",
        input.len()
    );
}

/// Request type names (`FooRequest`) and `ApiKey::Foo` mentions in the Rust sources under `dir`.
fn apis_named_in(dir: &std::path::Path, names: &[(String, ApiKey)], found: &mut Vec<(ApiKey, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            apis_named_in(&path, names, found);
            continue;
        }
        if path.extension().map_or(true, |e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let words = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'));
        for word in words {
            let segments: Vec<&str> = word.split("::").collect();
            let last = segments[segments.len() - 1];
            let name = match last.strip_suffix("Request") {
                Some(name) => name,
                None if segments.len() >= 2 && segments[segments.len() - 2] == "ApiKey" => last,
                None => continue,
            };
            if let Some((_, api)) = names.iter().find(|(n, _)| n == name) {
                if !found.iter().any(|(a, _)| a == api) {
                    found.push((*api, path.display().to_string()));
                }
            }
        }
    }
}

/// The test that catches the next request type added without fuzzing of its response: every
/// request type (`FooRequest`) or `ApiKey::Foo` named in the sources of the crates that talk to
/// brokers as a client must be in `RESPONSE_APIS`. (The guard itself has a layout for every API
/// kafka-protocol knows; see `net/guard/tests.rs`.)
#[test]
fn every_api_gregor_sends_is_fuzzed() {
    let names: Vec<(String, ApiKey)> = ApiKey::iter().map(|k| (format!("{k:?}"), k)).collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for krate in ["gregor/src", "gregor-cli/src", "gregor-chaos/src"] {
        apis_named_in(&root.join(krate), &names, &mut found);
    }
    for core in [ApiKey::Fetch, ApiKey::Produce, ApiKey::ConsumerGroupHeartbeat, ApiKey::InitProducerId] {
        assert!(found.iter().any(|(a, _)| *a == core), "the scan finds {core:?}: {found:?}");
    }
    let missing: Vec<_> = found.iter().filter(|(a, _)| !__fuzz::RESPONSE_APIS.contains(a)).collect();
    assert!(
        missing.is_empty(),
        "requests sent without their response in gregor::__fuzz::RESPONSE_APIS (append them there): {missing:?}"
    );
}

#[test]
fn seeds_decode_and_corpus_can_be_written() {
    let seeds = __fuzz::seed_corpus();
    assert!(seeds.iter().any(|(t, _, _)| *t == "decode_response"));
    assert!(seeds.iter().any(|(t, _, _)| *t == "decode_records"));
    let total: usize = seeds.iter().map(|(_, _, b)| b.len()).sum();
    assert!(total < 200 * 1024, "seed corpus is {total} bytes");
    for (target, _, bytes) in &seeds {
        run(target, bytes);
    }
    if std::env::var_os("GREGOR_WRITE_FUZZ_CORPUS").is_some() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
        for (target, name, bytes) in &seeds {
            let dir = root.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

/// Inputs the coverage-guided fuzzer once crashed on (`fuzz/regressions/<target>/`).
#[test]
fn past_fuzzer_findings_stay_fixed() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
    let mut n = 0;
    for target in ["decode_response", "decode_records"] {
        let Ok(dir) = std::fs::read_dir(root.join(target)) else { continue };
        for entry in dir {
            let input = std::fs::read(entry.unwrap().path()).unwrap();
            run(target, &input);
            n += 1;
        }
    }
    assert!(n >= 1, "the regression inputs are present");
}

#[test]
fn mutated_inputs_never_panic() {
    let per_seed: usize = std::env::var("GREGOR_FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let seeds = __fuzz::seed_corpus();
    let mut runs = 0;
    for (target, name, seed) in &seeds {
        for i in 0..per_seed {
            let input = mutate(&mut rng, seed);
            let r = std::panic::catch_unwind(|| run(target, &input));
            assert!(r.is_ok(), "{target} panicked on mutation {i} of seed {name}: {input:02x?}");
            runs += 1;
        }
    }
    assert_eq!(runs, seeds.len() * per_seed);
}

/// The allocation check can fail: kafka-protocol's decoder alone, without the guard, reserves
/// room for a count it read off the wire (a million brokers in a 9-byte Metadata v1 body).
#[test]
fn the_allocation_check_sees_an_unguarded_decoder() {
    use kafka_protocol::protocol::Decodable;
    let body: &[u8] = &[0x00, 0x0f, 0x42, 0x40, 0, 0, 0, 0, 0];
    LARGEST.with(|m| m.set(0));
    assert!(kafka_protocol::messages::MetadataResponse::decode(&mut bytes::Bytes::from_static(body), 1).is_err());
    let largest = LARGEST.with(|m| m.get());
    assert!(largest > allocation_bound(body.len()), "largest allocation {largest}");
}
