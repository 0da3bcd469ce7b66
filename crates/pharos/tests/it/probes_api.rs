//! Uptime probes end to end: the real binary probes local HTTP servers that go down and up
//! (probe_success flips in the TSDB, incidents and uptime % follow, incidents survive kill -9),
//! a self-signed certificate that expires in two days is reported, `/probe` answers like
//! blackbox_exporter, and the public status page returns only its probes.

use crate::common::{free_port, Pharos};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An HTTP server answering every request with the status in `status` (and "ok" / "fail").
fn flappy_server() -> (u16, Arc<AtomicU16>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let status = Arc::new(AtomicU16::new(200));
    let st = status.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let st = st.load(Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let body = if st == 200 { "ok" } else { "fail" };
                let _ = write!(
                    c,
                    "HTTP/1.1 {st} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    (port, status)
}

fn get_json(url: &str) -> Value {
    reqwest::blocking::get(url).unwrap().json().unwrap()
}

fn probe_info(p: &Pharos, name: &str) -> Value {
    let v = get_json(&p.url(&format!("/api/pharos/v1/uptime?probe={name}")));
    v["data"]["probes"][0].clone()
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn probes_flip_incidents_uptime_certificates_and_status_page() {
    let dir = tempfile::tempdir().unwrap();
    let (port, status) = flappy_server();
    let closed = free_port();
    let (tls_port, mut tls_child) =
        crate::common::tls_server(dir.path(), 2).expect("openssl is needed for this test");
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(
        &cfg,
        format!(
            "probes:\n  modules:\n    tls_insecure:\n      prober: http\n      timeout: 3s\n      http:\n        tls_config: {{insecure_skip_verify: true}}\n        preferred_ip_protocol: ip4\n    body_ok:\n      prober: http\n      http:\n        fail_if_body_not_matches_regexp: ['^ok$']\n  targets:\n    - {{name: flappy, url: 'http://127.0.0.1:{port}/health', module: http_2xx, interval: 300ms}}\n    - {{name: refused, url: 'http://127.0.0.1:{closed}/', interval: 300ms}}\n    - {{name: cert, url: 'https://127.0.0.1:{tls_port}/', module: tls_insecure, interval: 1s}}\n  status_page:\n    title: Acme status\n    probes: [flappy]\n"
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let p = Pharos::start(&data, Some(&cfg));

    // Up first.
    wait_for("flappy up", 20, || {
        probe_info(&p, "flappy")["state"] == "up"
    });
    // Down: 503, then up again.
    status.store(503, Ordering::SeqCst);
    wait_for("flappy down", 20, || {
        probe_info(&p, "flappy")["state"] == "down"
    });
    let down = probe_info(&p, "flappy");
    assert_eq!(down["status_code"], 503.0, "{down}");
    assert!(
        down["last_error"].as_str().unwrap_or("").contains("503"),
        "{down}"
    );
    let open = &down["incidents"][0];
    assert!(open["end"].is_null(), "{down}");
    std::thread::sleep(Duration::from_millis(1200));
    status.store(200, Ordering::SeqCst);
    wait_for("flappy up again", 20, || {
        probe_info(&p, "flappy")["state"] == "up"
    });
    let up = probe_info(&p, "flappy");
    let inc = up["incidents"].as_array().unwrap();
    assert_eq!(inc.len(), 1, "{up}");
    let (start, end) = (
        inc[0]["start"].as_i64().unwrap(),
        inc[0]["end"].as_i64().unwrap(),
    );
    assert!(end - start >= 1000, "{up}");
    assert_eq!(
        inc[0]["duration_seconds"].as_f64().unwrap(),
        (end - start) as f64 / 1000.0
    );
    assert!(inc[0]["error"].as_str().unwrap().contains("503"), "{up}");

    // probe_success flipped in the TSDB: both values are stored for the probe's series.
    let q = |expr: &str| {
        get_json(&p.url(&format!(
            "/api/v1/query?query={}",
            expr.replace('+', "%2B").replace(' ', "%20")
        )))
    };
    let target = format!("http://127.0.0.1:{port}/health");
    let sel = format!("{{job=\"probe\",instance=\"{target}\",module=\"http_2xx\"}}");
    let r = q(&format!(
        "max_over_time(probe_success{sel}[5m]) - min_over_time(probe_success{sel}[5m])"
    ));
    assert_eq!(r["data"]["result"][0]["value"][1], "1", "{r}");
    // Uptime % agrees with avg_over_time over the same samples (within one probe's drift).
    let pct = probe_info(&p, "flappy")["uptime"]["24h"].as_f64().unwrap();
    let r = q(&format!("avg_over_time(probe_success{sel}[1d]) * 100"));
    let promql: f64 = r["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(pct > 0.0 && pct < 100.0, "{pct}");
    assert!(
        (pct - promql).abs() < 5.0,
        "uptime {pct} vs PromQL {promql}"
    );
    let hist = probe_info(&p, "flappy")["response_times"]
        .as_array()
        .unwrap()
        .len();
    assert!(hist >= 1);

    // Connection refused: down with the dial error.
    let refused = probe_info(&p, "refused");
    assert_eq!(refused["state"], "down", "{refused}");
    assert!(
        refused["last_error"].as_str().unwrap().contains("refused"),
        "{refused}"
    );
    assert_eq!(refused["uptime"]["24h"], 0.0);

    // The self-signed certificate expiring in 2 days.
    wait_for("cert probe", 20, || probe_info(&p, "cert")["state"] == "up");
    let cert = probe_info(&p, "cert");
    let expiry = cert["cert_expiry"].as_f64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        expiry > now + 86_400.0 && expiry < now + 2.0 * 86_400.0 + 3600.0,
        "expiry {expiry} now {now}"
    );
    let r = q("probe_ssl_earliest_cert_expiry - time()");
    let left: f64 = r["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(left < 2.0 * 86_400.0 + 60.0 && left > 86_400.0, "{r}");

    // /probe as blackbox_exporter.
    let text = reqwest::blocking::get(p.url(&format!(
        "/probe?target=127.0.0.1:{port}/health&module=body_ok"
    )))
    .unwrap()
    .text()
    .unwrap();
    assert!(text.contains("probe_success 1\n"), "{text}");
    assert!(text.contains("probe_http_status_code 200\n"), "{text}");
    assert!(
        text.contains("probe_http_duration_seconds{phase=\"connect\"}"),
        "{text}"
    );
    status.store(500, Ordering::SeqCst);
    let text = reqwest::blocking::get(p.url(&format!(
        "/probe?target=http://127.0.0.1:{port}/&module=http_2xx&debug=true"
    )))
    .unwrap()
    .text()
    .unwrap();
    assert!(text.contains("Logs for the probe:"), "{text}");
    assert!(text.contains("probe_success 0\n"), "{text}");
    status.store(200, Ordering::SeqCst);
    let r = reqwest::blocking::get(p.url("/probe?target=x&module=nope")).unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("Unknown module"));
    let r = reqwest::blocking::get(p.url("/probe?module=http_2xx")).unwrap();
    assert_eq!(r.status(), 400);

    // The public status page: only flappy, no targets or errors.
    let sp = reqwest::blocking::get(p.url("/api/pharos/v1/status-page"))
        .unwrap()
        .text()
        .unwrap();
    let v: Value = serde_json::from_str(&sp).unwrap();
    assert_eq!(v["title"], "Acme status");
    assert_eq!(v["probes"].as_array().unwrap().len(), 1);
    assert_eq!(v["probes"][0]["name"], "flappy");
    for secret in [
        "127.0.0.1",
        "refused",
        "cert",
        "status code",
        "error",
        "target",
    ] {
        assert!(!sp.contains(secret), "status page leaks {secret:?}: {sp}");
    }
    let html = reqwest::blocking::get(p.url("/status-page")).unwrap();
    assert_eq!(html.status(), 200);
    assert!(html.text().unwrap().contains("/api/pharos/v1/status-page"));

    // Incidents survive kill -9.
    p.kill9();
    let p = Pharos::start(&data, Some(&cfg));
    let again = probe_info(&p, "flappy");
    let inc2 = again["incidents"].as_array().unwrap();
    assert!(
        inc2.iter()
            .any(|i| i["start"].as_i64() == Some(start) && i["end"].as_i64() == Some(end)),
        "{again}"
    );
    let _ = tls_child.kill();
    let _ = tls_child.wait();
}

#[test]
fn bad_probe_config_is_a_config_error_with_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pharos.yml");
    for (text, want) in [
        (
            "probes:\n  targets:\n    - {url: 'http://127.0.0.1:1/', module: nope}\n",
            ":3:",
        ),
        ("probes:\n  targets:\n    - {url: 'not a url'}\n", ":3:"),
        (
            "probes:\n  modules:\n    m:\n      prober: http\n      http: {fail_if_body_matches_regexp: ['(']}\n",
            ":3:",
        ),
    ] {
        std::fs::write(&cfg, text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pharos"))
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data")
            .arg(dir.path().join("d"))
            .arg("--config")
            .arg(&cfg)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("pharos.yml{want}")), "{text} -> {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn reload_swaps_the_probed_targets() {
    let dir = tempfile::tempdir().unwrap();
    let (port, _status) = flappy_server();
    let cfg = dir.path().join("pharos.yml");
    let write = |names: &[&str]| {
        let mut t = String::from("probes:\n  targets:\n");
        for n in names {
            t.push_str(&format!(
                "    - {{name: {n}, url: 'http://127.0.0.1:{port}/{n}', interval: 200ms}}\n"
            ));
        }
        std::fs::write(&cfg, t).unwrap();
    };
    write(&["one"]);
    let p = Pharos::start_lifecycle(&dir.path().join("data"), &cfg);
    wait_for("one up", 20, || probe_info(&p, "one")["state"] == "up");
    write(&["two"]);
    let r = reqwest::blocking::Client::new()
        .post(p.url("/-/reload"))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text());
    wait_for("two up", 20, || probe_info(&p, "two")["state"] == "up");
    let all = get_json(&p.url("/api/pharos/v1/uptime"));
    let names: Vec<&str> = all["data"]["probes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(names, vec!["two"]);
    // A bad reload keeps the running probes.
    std::fs::write(
        &cfg,
        "probes:\n  targets: [{url: 'http://x/', module: nope}]\n",
    )
    .unwrap();
    let r = reqwest::blocking::Client::new()
        .post(p.url("/-/reload"))
        .send()
        .unwrap();
    assert!(!r.status().is_success());
    assert_eq!(probe_info(&p, "two")["state"], "up");
}
