//! InitProducerId (key 22), idempotent producers only.
//!
//! Java producers enable idempotence by default (KIP-679) and ask for a producer id before the
//! first Produce. The mock hands out ids without checking sequence numbers later; transactional
//! ids are refused with UNSUPPORTED_VERSION because transactions are not implemented.

use std::sync::atomic::{AtomicI64, Ordering};

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::{Ctx, UNSUPPORTED_VERSION};

static NEXT_PRODUCER_ID: AtomicI64 = AtomicI64::new(1000);

pub(crate) fn handle(
    _ctx: &Ctx,
    req: InitProducerIdRequest,
    v: i16,
    forced: Option<i16>,
) -> InitProducerIdResponse {
    let resp = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    if let Some(code) = forced {
        return resp.with_error_code(code);
    }
    if req
        .transactional_id
        .as_ref()
        .is_some_and(|t| !t.0.is_empty())
    {
        return resp.with_error_code(UNSUPPORTED_VERSION);
    }
    if v >= 3 && req.producer_id.0 >= 0 {
        // KIP-360: an idempotent producer bumps its epoch after an error.
        return resp
            .with_producer_id(req.producer_id)
            .with_producer_epoch(req.producer_epoch.saturating_add(1).max(0));
    }
    let id = NEXT_PRODUCER_ID.fetch_add(1, Ordering::Relaxed);
    resp.with_producer_id(ProducerId(id)).with_producer_epoch(0)
}
