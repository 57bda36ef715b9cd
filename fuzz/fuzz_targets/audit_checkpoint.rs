//! An ODCM audit checkpoint file (from a Space or `--checkpoint FILE`) on arbitrary bytes.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn ca_der() -> &'static [u8] {
    static DER: OnceLock<Vec<u8>> = OnceLock::new();
    DER.get_or_init(|| {
        net::pki::CertificateAuthority::create("FuzzNet")
            .expect("a CA")
            .cert()
            .der
            .clone()
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = exchange::checkpoint::Checkpoint::read_verified(data, ca_der());
});
