//! TLS certificate reload against the real binary: the web config's certificate and key are
//! replaced on disk while pharos runs, and the next connection is served the new certificate
//! (a client trusting only the new CA gets in, one trusting only the old CA no longer does);
//! a replacement that does not load keeps the certificate in use.

use crate::common::{openssl, Pharos};
use std::path::Path;
use std::time::Duration;

/// `ca{n}.pem` and a server certificate `server{n}.pem`/`server{n}.key` it signs.
fn make_ca_and_server(d: &Path, n: u32) {
    let (ca, ca_key) = (format!("ca{n}.pem"), format!("ca{n}.key"));
    let (crt, key, csr) = (
        format!("server{n}.pem"),
        format!("server{n}.key"),
        format!("server{n}.csr"),
    );
    let subj = format!("/CN=pharos reload test CA {n}");
    openssl(
        d,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", &ca_key, "-out", &ca,
            "-days", "2", "-subj", &subj,
        ],
    );
    std::fs::write(
        d.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=server",
        ],
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ],
    );
}

/// Whether a fresh client trusting only `ca` completes a request.
fn trusted_by(d: &Path, ca: &str, p: &Pharos) -> bool {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(d.join(ca)).unwrap()).unwrap();
    let c = reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    match c.get(p.url("/-/healthy")).send() {
        Ok(r) => r.status() == 200,
        Err(_) => false,
    }
}

/// Replaces `to` with `from` the way cert tooling does: a new file renamed over the old one.
fn replace(d: &Path, from: &str, to: &str) {
    std::fs::copy(d.join(from), d.join(format!("{to}.new"))).unwrap();
    std::fs::rename(d.join(format!("{to}.new")), d.join(to)).unwrap();
}

#[test]
fn a_replaced_certificate_is_served_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_ca_and_server(d, 1);
    make_ca_and_server(d, 2);
    replace(d, "server1.pem", "server.pem");
    replace(d, "server1.key", "server.key");
    std::fs::write(
        d.join("web.yml"),
        format!(
            "tls_server_config:\n  cert_file: {0}/server.pem\n  key_file: {0}/server.key\n",
            d.display()
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("pharos.yml"),
        format!(
            "collectors: {{self: {{enabled: false}}, host: {{enabled: false}}}}\nsecurity: {{enabled: false}}\nweb: {{config_file: {}}}\n",
            d.join("web.yml").display()
        ),
    )
    .unwrap();
    let p = Pharos::start(&d.join("data"), Some(&d.join("pharos.yml")));
    assert!(p.base.starts_with("https://"), "{}", p.base);
    assert!(trusted_by(d, "ca1.pem", &p));
    assert!(!trusted_by(d, "ca2.pem", &p));

    // A key that does not match the certificate: the old pair stays in use.
    replace(d, "server2.key", "server.key");
    assert!(trusted_by(d, "ca1.pem", &p));
    // The matching certificate arrives: the new pair is served from the next handshake on.
    replace(d, "server2.pem", "server.pem");
    assert!(trusted_by(d, "ca2.pem", &p));
    assert!(!trusted_by(d, "ca1.pem", &p));
}
