//! Response frames off a socket: frame → header → guard → body, for every API gregor sends
//! (`gregor::__fuzz::RESPONSE_APIS`, all versions), and what gregor decodes inside bodies (the
//! records of a Fetch, the consumer-protocol assignment and subscriptions of a group).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gregor::__fuzz::decode_response(data));
