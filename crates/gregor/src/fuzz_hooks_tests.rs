//! Fuzzing on the stable toolchain: deterministic mutations of the seed corpus, fed through the
//! same entry points as the cargo-fuzz targets in `fuzz/` (`gregor::__fuzz`). Runs in every
//! `cargo test`; `scripts/fuzz.sh` runs the coverage-guided version on nightly.
//!
//! `GREGOR_FUZZ_ITERATIONS` sets the number of mutated inputs per seed (default 300);
//! `GREGOR_WRITE_FUZZ_CORPUS=1` rewrites `fuzz/corpus/` from the seed generator.

use crate::__fuzz;

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
    match target {
        "decode_response" => __fuzz::decode_response(input),
        "decode_records" => __fuzz::decode_records(input),
        other => panic!("unknown target {other}"),
    }
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
