//! What several fuzz targets share: one fixed certificate every key id is "trusted" with, so
//! signature checking runs on whatever the input carries.

use std::sync::OnceLock;

use net::pki::{CertInfo, CertificateAuthority};

pub fn cert() -> &'static CertInfo {
    static CERT: OnceLock<CertInfo> = OnceLock::new();
    CERT.get_or_init(|| {
        let ca = CertificateAuthority::create("FuzzNet").expect("a CA");
        ca.cert().clone()
    })
}
