//! Release Bundle parse + verify on arbitrary bytes, as a Space receives them from a file or a
//! peer. Every key id is "trusted" with one fixed certificate, so signature checking runs on
//! whatever the input carries. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "shared/mod.rs"]
mod shared;
use shared::cert;

fuzz_target!(|data: &[u8]| {
    let _ = exchange::bundle::verify(data, "Prod", |_| Some(cert().clone()));
    let _ = exchange::bundle::verify_signed_by(data, cert());
});
