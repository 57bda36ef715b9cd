//! End to end: two real `odcm` processes (two networks) driven by the real `deploy odcm ...`
//! commands — Spaces and tokens, certificate export, Remote Space registration by PEM file with
//! its fingerprint, trusts added, listed and revoked, and the audit log verified.

use std::time::Duration;

use e2e::odcm::Odcm;
use proto::odcm::v1 as pb;

/// What a Space server does at its first start: generate its key, send a CSR with the token.
fn enrol(o: &Odcm, token: &str, name: &str) -> String {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let ch = net::tls::connect_pinned(&o.address, &o.fingerprint, Duration::from_secs(10))
            .await
            .expect("connect");
        let pending = net::pki::new_csr(name, "").expect("csr");
        let r = pb::enrolment_client::EnrolmentClient::new(ch)
            .enrol(pb::EnrolRequest {
                token: token.into(),
                csr_pem: pending.csr_pem.clone(),
                endpoint: String::new(),
            })
            .await
            .expect("enrol")
            .into_inner();
        r.fingerprint
    })
}

#[test]
fn two_networks_exchange_certificates_and_manage_trusts() {
    let a = Odcm::start("NetA");
    let mut b = Odcm::start("NetB");
    let (ca, cb) = (a.cli(), b.cli());

    let token = ca.ok(&[
        "odcm",
        "space",
        "create",
        "DevTest",
        "--endpoint",
        "https://127.0.0.1:7001",
    ]);
    let token = token.trim();
    assert!(token.starts_with("et_"), "{token}");
    let err = ca.fails(&["odcm", "space", "export-cert", "DevTest"]);
    assert!(err.contains("has not enrolled yet"), "{err}");
    let dev_fp = enrol(&a, token, "DevTest");
    let listed = ca.json(&["odcm", "space", "list"]);
    assert_eq!(listed[0]["name"], "DevTest");
    assert_eq!(listed[0]["fingerprint"], dev_fp.as_str());

    let pem_file = a.dir.join("devtest.pem");
    ca.ok(&[
        "odcm",
        "space",
        "export-cert",
        "DevTest",
        "--out",
        pem_file.to_str().unwrap(),
    ]);
    let pem = std::fs::read_to_string(&pem_file).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));

    let garbage = b.dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let err = cb.fails(&[
        "odcm",
        "remote-space",
        "add",
        "DevTest",
        "--cert",
        garbage.to_str().unwrap(),
    ]);
    assert!(err.contains("not a valid PEM certificate"), "{err}");
    let shown = cb.ok(&[
        "odcm",
        "remote-space",
        "add",
        "DevTest",
        "--cert",
        pem_file.to_str().unwrap(),
        "--endpoint",
        "https://127.0.0.1:7001",
    ]);
    assert_eq!(
        shown.trim(),
        dev_fp,
        "the fingerprint shown must be the exported certificate's"
    );
    let err = cb.fails(&[
        "odcm",
        "remote-space",
        "add",
        "devtest",
        "--cert",
        pem_file.to_str().unwrap(),
    ]);
    assert!(err.contains("already exists"), "{err}");
    let remotes = cb.json(&["odcm", "remote-space", "list"]);
    assert_eq!(remotes[0]["odcm"], "NetA");

    let prod_token = cb.ok(&["odcm", "space", "create", "Prod"]);
    enrol(&b, prod_token.trim(), "Prod");
    let err = cb.fails(&[
        "odcm", "trust", "add", "--from", "DevTest", "--to", "Nowhere", "--kind", "releases",
    ]);
    assert!(err.contains("Nowhere"), "{err}");
    cb.ok(&[
        "odcm", "trust", "add", "--from", "DevTest", "--to", "Prod", "--kind", "releases",
    ]);
    cb.ok(&[
        "odcm", "trust", "add", "--from", "DevTest", "--to", "Prod", "--kind", "receipts",
    ]);
    let table = cb.ok(&["odcm", "trust", "list"]);
    assert!(
        table.contains("Prod accepts release bundles from DevTest"),
        "{table}"
    );
    assert!(
        table.contains("DevTest accepts deployment receipts from Prod"),
        "{table}"
    );
    cb.ok(&[
        "odcm", "trust", "revoke", "--from", "DevTest", "--to", "Prod", "--kind", "receipts",
    ]);
    let trusts = cb.json(&["odcm", "trust", "list"]);
    assert_eq!(trusts.as_array().map(Vec::len), Some(1));
    assert_eq!(trusts[0]["truster"], "Prod");

    let out = cb.ok(&["odcm", "audit", "verify"]);
    assert!(out.contains("audit log verified"), "{out}");
    let audit = cb.json(&["odcm", "audit", "list"]);
    let kinds: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "odcm_created",
            "remote_space_added",
            "space_created",
            "space_enrolled",
            "trust_added",
            "trust_added",
            "trust_revoked"
        ]
    );
    let err = cb
        .with_env("ODCM_API_KEY", "dk_wrong")
        .fails(&["odcm", "trust", "list"]);
    assert!(err.contains("API key is not valid"), "{err}");
    let logs = format!("{}{}", a.log_text(), b.log_text());
    assert!(
        !logs.contains(&a.api_key) && !logs.contains("PRIVATE KEY"),
        "no secrets in logs"
    );
    b.stop();
}
