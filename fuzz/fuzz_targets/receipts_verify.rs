//! Deployment Receipts parse + verify on arbitrary bytes (every key id "trusted" with one fixed
//! certificate, so signature checking runs). Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "shared/mod.rs"]
mod shared;
use shared::cert;

fuzz_target!(|data: &[u8]| {
    let _ = exchange::receipt::is_receipts_file(data);
    let _ = exchange::receipt::verify(data, "DevTest", |_| Some(cert().clone()));
});
