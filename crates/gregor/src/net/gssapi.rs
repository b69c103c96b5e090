//! SASL GSSAPI (Kerberos V5, RFC 4752) through the system's GSSAPI library (`libgssapi`
//! binding MIT krb5's libgssapi_krb5), behind the `gssapi` cargo feature.
//!
//! The exchange Kafka runs (Java `GssKrb5Client` on the client side): GSS-API context tokens
//! for the service `<sasl.kerberos.service.name>@<broker host>` until the context is
//! established; then the broker sends a wrapped 4-byte offer (bit mask of security layers, max
//! message size), the client answers with a wrapped choice — no security layer (1), size 0 —
//! followed by the authorization id (empty: the authenticated principal). Kafka never uses a
//! security layer: TLS protects the bytes when wanted.
//!
//! Credentials: with a `Krb5LoginModule` `sasl.jaas.config` that has `useKeyTab=true
//! keyTab="..."`, initiator credentials come from that keytab (MIT's `gss_acquire_cred_from`
//! with a `client_keytab` and a private in-memory ccache, so nothing leaks into the process's
//! default ccache); otherwise the default credentials (`kinit`, `KRB5CCNAME`, and
//! `KRB5_CLIENT_KTNAME`). `KRB5_CONFIG` names the krb5.conf, as `java.security.krb5.conf` does
//! for Java.
//!
//! GSS-API calls block (the first one asks the KDC for a service ticket), so every call runs on
//! tokio's blocking pool.
// `gss_acquire_cred_from` has no safe wrapper in libgssapi: the one FFI call, and taking
// ownership of the credential it returns, are unsafe (crate-wide, unsafe code is denied).
#![allow(unsafe_code)]

use std::ffi::CString;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};

use libgssapi::context::{ClientCtx, CtxFlags, SecurityContext};
use libgssapi::credential::Cred;
use libgssapi::name::Name;
use libgssapi::oid::{GSS_MECH_KRB5, GSS_NT_HOSTBASED_SERVICE};

use super::sasl::KerberosSettings;

enum Stage {
    Context,
    Final,
    Done,
}

/// One GSSAPI exchange, client side.
pub(crate) struct GssapiClient {
    ctx: ClientCtx,
    stage: Stage,
}

static CCACHE_SEQ: AtomicU64 = AtomicU64::new(0);

/// Initiator credentials from a client keytab into a private MEMORY ccache.
fn keytab_cred(keytab: &str) -> Result<Cred, String> {
    let n = CCACHE_SEQ.fetch_add(1, Ordering::Relaxed);
    let ccache = CString::new(format!("MEMORY:gregor-{}-{n}", std::process::id())).map_err(|_| "bad ccache name")?;
    let kt = CString::new(keytab).map_err(|_| "the keytab path contains a NUL byte".to_string())?;
    let k_keytab = CString::new("client_keytab").expect("no NUL");
    let k_ccache = CString::new("ccache").expect("no NUL");
    let mut elements = [
        libgssapi_sys::gss_key_value_element_desc { key: k_keytab.as_ptr(), value: kt.as_ptr() },
        libgssapi_sys::gss_key_value_element_desc { key: k_ccache.as_ptr(), value: ccache.as_ptr() },
    ];
    let store = libgssapi_sys::gss_key_value_set_desc { count: elements.len() as u32, elements: elements.as_mut_ptr() };
    let mut minor = 0u32;
    let mut cred: libgssapi_sys::gss_cred_id_t = ptr::null_mut();
    // SAFETY: every pointer is valid for the call; `cred` receives a new handle that
    // `Cred::from_c` owns (and releases) from here on.
    let major = unsafe {
        libgssapi_sys::gss_acquire_cred_from(
            &mut minor,
            ptr::null_mut(),
            libgssapi_sys::_GSS_C_INDEFINITE,
            ptr::null_mut(),
            libgssapi_sys::GSS_C_INITIATE as libgssapi_sys::gss_cred_usage_t,
            &store,
            &mut cred,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    if major != libgssapi_sys::GSS_S_COMPLETE {
        let e = libgssapi::error::Error { major: libgssapi::error::MajorFlags::from_bits_retain(major), minor };
        return Err(format!("cannot get Kerberos credentials from keyTab {keytab}: {e}"));
    }
    // SAFETY: `cred` is a valid credential handle returned above.
    Ok(unsafe { Cred::from_c(cred) })
}

impl GssapiClient {
    /// Acquires credentials and produces the first context token (blocking: runs the KDC
    /// exchange).
    fn start_blocking(k: &KerberosSettings, host: &str) -> Result<(Self, Vec<u8>), String> {
        let cred = match &k.keytab {
            Some(kt) => Some(keytab_cred(kt)?),
            None => None,
        };
        let target = Name::new(format!("{}@{host}", k.service_name).as_bytes(), Some(GSS_NT_HOSTBASED_SERVICE))
            .map_err(|e| format!("bad service name {}@{host}: {e}", k.service_name))?;
        let mut ctx = ClientCtx::new(cred, target, CtxFlags::GSS_C_MUTUAL_FLAG, Some(GSS_MECH_KRB5));
        let first = ctx
            .step(None, None)
            .map_err(|e| format!("Kerberos: cannot start a context with {}/{host}: {e}", k.service_name))?
            .map(|b| b.to_vec())
            .unwrap_or_default();
        Ok((GssapiClient { ctx, stage: Stage::Context }, first))
    }

    /// [`start_blocking`](Self::start_blocking) on the blocking pool.
    pub(crate) async fn start(k: KerberosSettings, host: String) -> Result<(Self, Vec<u8>), String> {
        tokio::task::spawn_blocking(move || Self::start_blocking(&k, &host))
            .await
            .map_err(|e| format!("Kerberos task failed: {e}"))?
    }

    /// Handles a server message: `Ok(Some(token))` to send, `Ok(None)` when done.
    pub(crate) fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, String> {
        match self.stage {
            Stage::Context => {
                let out = self.ctx.step(Some(server), None).map_err(|e| format!("Kerberos context failed: {e}"))?;
                if self.ctx.is_complete() {
                    self.stage = Stage::Final;
                }
                // An established context may still owe the server its last token; an empty
                // message otherwise asks for the security-layer offer.
                Ok(Some(out.map(|b| b.to_vec()).unwrap_or_default()))
            }
            Stage::Final => {
                let offer = self.ctx.unwrap(server).map_err(|e| format!("Kerberos: bad security layer offer: {e}"))?;
                if offer.len() != 4 {
                    return Err(format!("Kerberos: the security layer offer has {} bytes, not 4", offer.len()));
                }
                // RFC 4752 3.1: bit 1 = no security layer.
                if offer[0] & 1 == 0 {
                    return Err("Kerberos: the broker requires a security layer; Kafka brokers do not".into());
                }
                let answer = self
                    .ctx
                    .wrap(false, &[1, 0, 0, 0])
                    .map_err(|e| format!("Kerberos: cannot wrap the security layer choice: {e}"))?;
                self.stage = Stage::Done;
                Ok(Some(answer.to_vec()))
            }
            Stage::Done => Ok(None),
        }
    }
}
