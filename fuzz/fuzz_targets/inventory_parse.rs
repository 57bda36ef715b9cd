//! A target Space's chunk inventory (what the sneakernet export reads) on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use package_store::transfer::Inventory;

fuzz_target!(|data: &[u8]| {
    if let Ok(inv) = Inventory::read_from(data) {
        // What was read writes back and reads again to the same set.
        let mut out = Vec::new();
        inv.write_to(&mut out)
            .expect("an inventory read must write back");
        let again = Inventory::read_from(out.as_slice()).expect("and read again");
        assert_eq!(again.len(), inv.len());
    }
});
