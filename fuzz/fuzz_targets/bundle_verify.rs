//! Release Bundle parse + verify on arbitrary bytes, as a Space receives them from a file or a
//! peer. Every key id is "trusted" with one fixed certificate, so signature checking runs on
//! whatever the input carries. Must never panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use net::pki::{CertInfo, CertificateAuthority};

fn cert() -> &'static CertInfo {
    static CERT: OnceLock<CertInfo> = OnceLock::new();
    CERT.get_or_init(|| {
        let ca = CertificateAuthority::create("FuzzNet").expect("a CA");
        ca.cert().clone()
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = exchange::bundle::verify(data, "Prod", |_| Some(cert().clone()));
    let _ = exchange::bundle::verify_signed_by(data, cert());
});
