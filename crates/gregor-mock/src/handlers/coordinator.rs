//! FindCoordinator (key 10): single key (v0-3) and batched `coordinator_keys` (v4+, KIP-699).

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};

use super::{sb, Ctx, COORDINATOR_NOT_AVAILABLE};

pub(crate) fn handle(
    ctx: &Ctx,
    req: FindCoordinatorRequest,
    v: i16,
    forced: Option<i16>,
) -> FindCoordinatorResponse {
    let st = ctx.shared.state();
    let lookup = |key: &str| -> (i16, i32, String, i32) {
        if let Some(code) = forced {
            return (code, -1, String::new(), -1);
        }
        let id = st.coordinator_for(key);
        match st.brokers.get(&id).filter(|b| b.up) {
            Some(b) => (0, id, b.advertised_host.clone(), b.advertised_port),
            None => (COORDINATOR_NOT_AVAILABLE, -1, String::new(), -1),
        }
    };
    if v >= 4 {
        let coordinators = req
            .coordinator_keys
            .iter()
            .map(|k| {
                let (err, id, host, port) = lookup(k.as_str());
                Coordinator::default()
                    .with_key(k.clone())
                    .with_node_id(BrokerId(id))
                    .with_host(sb(host))
                    .with_port(port)
                    .with_error_code(err)
            })
            .collect();
        FindCoordinatorResponse::default().with_coordinators(coordinators)
    } else {
        let (err, id, host, port) = lookup(req.key.as_str());
        FindCoordinatorResponse::default()
            .with_error_code(err)
            .with_node_id(BrokerId(id))
            .with_host(sb(host))
            .with_port(port)
    }
}
