//! Response frames off a socket: frame → header → guard → body (Fetch, Metadata, ApiVersions,
//! FindCoordinator), and the records inside Fetch responses.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gregor::__fuzz::decode_response(data));
