//! pharos' `/probe` side by side with Debian's `prometheus-blackbox-exporter` on the same
//! targets and modules: the same series names and label sets (the diff is printed) and the same
//! `probe_success` / `probe_http_status_code` / DNS record counts, for http (redirects, regex,
//! refused), tcp, dns (a UDP responder in the test) and icmp. Skipped with a notice when the exporter is not
//! installed (`.ci/run install` installs it).

use crate::common::{free_port, Pharos};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

const BLACKBOX: &str = "/usr/bin/prometheus-blackbox-exporter";

/// A server answering `GET /` with 200 "hello", `/missing` with 404, `/moved` with a redirect.
fn http_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let mut buf = [0u8; 2048];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let req = String::from_utf8_lossy(&got);
                let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
                let resp = match path.as_str() {
                    "/missing" => "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope".to_string(),
                    "/moved" => "HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\n\r\n".to_string(),
                    _ => "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nLast-Modified: Tue, 01 Dec 2026 10:00:00 GMT\r\n\r\nhello".to_string(),
                };
                let _ = c.write_all(resp.as_bytes());
            });
        }
    });
    port
}

/// A DNS server on UDP answering every A question with 127.0.0.1 (one answer, TTL 300).
fn dns_server() -> u16 {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            if n < 12 {
                continue;
            }
            let q = &buf[..n];
            let mut r = q[..2].to_vec();
            r.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
            r.extend_from_slice(&q[12..]);
            r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 127, 0, 0, 1]);
            let _ = sock.send_to(&r, from);
        }
    });
    port
}

/// `name{labels}` → value of an exposition text (comments skipped).
fn parse(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            // Info series carry certificate texts whose formatting differs; compare label names.
            let k = match k.split_once('{') {
                Some((name, labels)) if name == "probe_ssl_last_chain_info" => {
                    let names: Vec<&str> = labels
                        .split(',')
                        .filter_map(|kv| kv.split_once('=').map(|(n, _)| n))
                        .collect();
                    format!("{name}{{{}}}", names.join(","))
                }
                _ => k.to_string(),
            };
            Some((k, v.parse().ok()?))
        })
        .collect()
}

fn get(url: &str) -> String {
    reqwest::blocking::get(url).unwrap().text().unwrap()
}

#[test]
fn same_series_as_blackbox_exporter() {
    if !std::path::Path::new(BLACKBOX).exists() {
        eprintln!(
            "SKIPPED: {BLACKBOX} is not installed (apt-get install prometheus-blackbox-exporter)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let modules = "modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n    http:\n      preferred_ip_protocol: ip4\n  http_body:\n    prober: http\n    http:\n      preferred_ip_protocol: ip4\n      fail_if_body_not_matches_regexp: ['bye']\n  http_noredir:\n    prober: http\n    http:\n      preferred_ip_protocol: ip4\n      no_follow_redirects: true\n      valid_status_codes: [302]\n  tcp_connect:\n    prober: tcp\n    tcp:\n      preferred_ip_protocol: ip4\n  dns_a:\n    prober: dns\n    dns:\n      query_name: example.com\n      query_type: A\n      preferred_ip_protocol: ip4\n      validate_answer_rrs:\n        fail_if_not_matches_regexp: ['127\\.0\\.0\\.1']\n  dns_a_fail:\n    prober: dns\n    dns:\n      query_name: example.com\n      query_type: A\n      preferred_ip_protocol: ip4\n      validate_answer_rrs:\n        fail_if_matches_regexp: ['IN\\tA']\n  https_insecure:\n    prober: http\n    http:\n      preferred_ip_protocol: ip4\n      tls_config: {insecure_skip_verify: true}\n  tcp_tls:\n    prober: tcp\n    tcp:\n      preferred_ip_protocol: ip4\n      tls: true\n      tls_config: {insecure_skip_verify: true}\n  icmp:\n    prober: icmp\n    icmp:\n      preferred_ip_protocol: ip4\n";
    let bb_cfg = dir.path().join("blackbox.yml");
    std::fs::write(&bb_cfg, modules).unwrap();
    let bb_port = free_port();
    let mut bb = std::process::Command::new(BLACKBOX)
        .arg(format!("--config.file={}", bb_cfg.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{bb_port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(&cfg, "probes:\n  config_file: blackbox.yml\n").unwrap();
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", bb_port)).is_err() {
        assert!(Instant::now() < deadline, "blackbox_exporter did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let port = http_server();
    let closed = free_port();
    let dns = dns_server();
    let (tls, mut tls_child) =
        crate::common::tls_server(dir.path(), 2).expect("openssl is needed for this test");
    let cases = [
        (format!("http://127.0.0.1:{port}/"), "http_2xx"),
        (format!("http://127.0.0.1:{port}/missing"), "http_2xx"),
        (format!("http://127.0.0.1:{port}/moved"), "http_2xx"),
        (format!("http://127.0.0.1:{port}/moved"), "http_noredir"),
        (format!("http://127.0.0.1:{port}/"), "http_body"),
        (format!("http://127.0.0.1:{closed}/"), "http_2xx"),
        (format!("127.0.0.1:{port}"), "tcp_connect"),
        (format!("127.0.0.1:{closed}"), "tcp_connect"),
        (format!("127.0.0.1:{dns}"), "dns_a"),
        (format!("127.0.0.1:{dns}"), "dns_a_fail"),
        ("127.0.0.1".to_string(), "icmp"),
        (format!("https://127.0.0.1:{tls}/"), "https_insecure"),
        (format!("127.0.0.1:{tls}"), "tcp_tls"),
    ];
    let mut failures = Vec::new();
    for (target, module) in &cases {
        let q = format!("/probe?target={target}&module={module}");
        let theirs = parse(&get(&format!("http://127.0.0.1:{bb_port}{q}")));
        let ours = parse(&get(&p.url(&q)));
        if *module == "icmp" && theirs.get("probe_success") != Some(&1.0) {
            println!("icmp: blackbox_exporter may not ping here either; not compared");
            continue;
        }
        let a: BTreeSet<&String> = theirs.keys().collect();
        let b: BTreeSet<&String> = ours.keys().collect();
        let missing: Vec<_> = a.difference(&b).collect();
        let extra: Vec<_> = b.difference(&a).collect();
        println!(
            "{module} {target}: {} series; missing {missing:?}; extra {extra:?}",
            a.len()
        );
        if !missing.is_empty() || !extra.is_empty() {
            failures.push(format!(
                "{module} {target}: missing {missing:?} extra {extra:?}"
            ));
        }
        for k in [
            "probe_success",
            "probe_http_status_code",
            "probe_http_redirects",
            "probe_http_content_length",
            "probe_http_version",
            "probe_failed_due_to_regex",
            "probe_ip_protocol",
            "probe_ip_addr_hash",
            "probe_http_last_modified_timestamp_seconds",
            "probe_dns_answer_rrs",
            "probe_dns_authority_rrs",
            "probe_dns_additional_rrs",
            "probe_dns_query_succeeded",
            "probe_icmp_reply_hop_limit",
            "probe_http_ssl",
            "probe_ssl_earliest_cert_expiry",
            "probe_ssl_last_chain_expiry_timestamp_seconds",
        ] {
            if theirs.get(k) != ours.get(k) {
                failures.push(format!(
                    "{module} {target}: {k} blackbox {:?} pharos {:?}",
                    theirs.get(k),
                    ours.get(k)
                ));
            }
        }
    }
    let _ = bb.kill();
    let _ = bb.wait();
    let _ = tls_child.kill();
    let _ = tls_child.wait();
    assert!(failures.is_empty(), "differences:\n{}", failures.join("\n"));
}
