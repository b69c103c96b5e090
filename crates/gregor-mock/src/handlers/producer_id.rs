//! InitProducerId (key 22): idempotent producers get a fresh producer id from any broker;
//! transactional ones from their transaction coordinator, which fences older instances of the
//! same `transactional.id` by bumping the epoch (aborting a transaction they left open).

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::{Ctx, NOT_COORDINATOR};
use crate::txn::{Phase, TxnMeta, INVALID_PRODUCER_EPOCH, PRODUCER_FENCED};

pub(crate) fn handle(ctx: &Ctx, req: InitProducerIdRequest, v: i16, forced: Option<i16>) -> InitProducerIdResponse {
    let resp = InitProducerIdResponse::default().with_producer_id(ProducerId(-1)).with_producer_epoch(-1);
    if let Some(code) = forced {
        return resp.with_error_code(code);
    }
    let mut st = ctx.shared.state();
    let txn_id = match req.transactional_id.as_ref().map(|t| t.0.to_string()).filter(|t| !t.is_empty()) {
        None => {
            if v >= 3 && req.producer_id.0 >= 0 {
                // KIP-360: an idempotent producer may bump its epoch after an error.
                return resp.with_producer_id(req.producer_id).with_producer_epoch(req.producer_epoch.saturating_add(1).max(0));
            }
            let id = st.txns.allocate_producer_id();
            return resp.with_producer_id(ProducerId(id)).with_producer_epoch(0);
        }
        Some(t) => t,
    };
    if st.coordinator_for(&txn_id) != ctx.broker_id {
        return resp.with_error_code(NOT_COORDINATOR);
    }
    let existing = st.txns.txns.get(&txn_id).cloned();
    let (producer_id, epoch) = match existing {
        None => (st.txns.allocate_producer_id(), 0),
        Some(m) => {
            // KIP-360: a producer that gives its id and epoch asks to bump its own epoch; one
            // that is not current any more is fenced.
            if v >= 3 && req.producer_id.0 >= 0 && (req.producer_id.0 != m.producer_id || req.producer_epoch != m.epoch) {
                return resp.with_error_code(if v >= 4 { PRODUCER_FENCED } else { INVALID_PRODUCER_EPOCH });
            }
            let (id, next) = if m.epoch >= i16::MAX - 1 {
                (st.txns.allocate_producer_id(), 0)
            } else {
                (m.producer_id, m.epoch + 1)
            };
            if m.phase == Phase::Ongoing {
                // The previous instance left a transaction open: abort it with the new epoch,
                // which fences that instance on every partition it wrote to.
                st.complete_txn(&txn_id, false, next);
            }
            (id, next)
        }
    };
    st.txns.txns.insert(
        txn_id,
        TxnMeta {
            producer_id,
            prev_producer_id: -1,
            epoch,
            timeout_ms: req.transaction_timeout_ms,
            phase: Phase::Empty,
            partitions: Default::default(),
            groups: Default::default(),
        },
    );
    resp.with_producer_id(ProducerId(producer_id)).with_producer_epoch(epoch)
}
