//! Deployment Receipts parse + verify on arbitrary bytes (every key id "trusted" with one fixed
//! certificate, so signature checking runs). Must never panic.
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
    let _ = exchange::receipt::is_receipts_file(data);
    let _ = exchange::receipt::verify(data, "DevTest", |_| Some(cert().clone()));
});
