//! A source whose copy of a chunk is damaged (disk rot): the target refuses the chunk (it does
//! not match its hash), asks for it again, keeps the bundle pending and says why; once the
//! source's copy is repaired, the fetch resumes by itself and the release is imported.

use std::time::Duration;

use e2e::odcm::Odcm;
use e2e::promotion::{
    connected_pair, flip_byte, importing_target, package_project, stored_chunks, to_prod_lifecycle,
};
use e2e::wait_for;

#[test]
fn a_chunk_that_does_not_match_its_hash_is_refused_and_fetched_again() {
    let net = Odcm::start("Net");
    let (dev, prod) = connected_pair(&net, &[], &["releases"]);
    importing_target(&prod, "Production:Production");
    let d = dev.cli();
    to_prod_lifecycle(&dev, ":auto");
    package_project(&dev, "Web", "ToProd", 9, 1 << 20);
    // Damage one chunk in DevTest's store: DevTest serves what it has.
    let (_, chunk, offset, len) = stored_chunks(&dev.data_dir.join("chunks"))
        .into_iter()
        .next()
        .expect("a stored chunk");
    // One byte flipped in place (DevTest keeps the pack open).
    let mid = offset + u64::from(len) / 2;
    flip_byte(&chunk, mid);

    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    let p = prod.cli();
    wait_for(
        "Prod to refuse the damaged chunk three times and say why",
        Duration::from_secs(60),
        || prod.log_text().contains("did not match their hash 3 times"),
    );
    let refusals = prod
        .log_text()
        .lines()
        .filter(|l| l.contains("does not match its hash: refused, asked for again"))
        .count();
    assert!(refusals >= 3, "asked again each time ({refusals} refusals)");
    assert_eq!(p.json(&["bundle", "list"])[0]["state"], "pending");
    let projects = p.json(&["project", "list"]);
    assert_eq!(
        projects,
        serde_json::json!([]),
        "nothing imported from a damaged copy"
    );

    // Repaired at the source: the fetch resumes by itself and the release is imported.
    flip_byte(&chunk, mid);
    wait_for("the bundle to be imported", Duration::from_secs(60), || {
        p.json(&["bundle", "list"])[0]["state"] == "imported"
    });
}
