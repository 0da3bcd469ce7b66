//! The web front door against the real binary: lifecycle/admin endpoints off by default,
//! basic auth and scoped tokens on every endpoint but health, the login page, failed-login
//! counting and rate limiting, TLS with client certificates (a CA made by the test with
//! openssl), scraping over TLS with a client certificate, and snapshot + restore.

use crate::common::{write_request, Pharos};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const EMPTY: &str =
    "collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\n";

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn start(dir: &Path, yml: &str) -> Pharos {
    let cfg = dir.join("pharos.yml");
    std::fs::write(&cfg, format!("{EMPTY}{yml}")).unwrap();
    Pharos::start(&dir.join("data"), Some(&cfg))
}

#[test]
fn lifecycle_and_admin_api_answer_403_until_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path(), "");
    let c = client();
    for path in ["/-/reload", "/-/quit"] {
        let r = c.post(p.url(path)).send().unwrap();
        assert_eq!(r.status(), 403, "{path}");
        let body = r.text().unwrap();
        assert!(body.contains("Lifecycle API is not enabled"), "{body}");
        assert!(body.contains("--web.enable-lifecycle"), "{body}");
    }
    let r = c.post(p.url("/api/v1/admin/tsdb/snapshot")).send().unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().unwrap().contains("admin APIs disabled"));
    // Health stays open; the process is still up.
    assert_eq!(c.get(p.url("/-/healthy")).send().unwrap().status(), 200);
}

fn push_everything(p: &Pharos, c: &reqwest::blocking::Client, auth: Option<&str>) {
    let with = |r: reqwest::blocking::RequestBuilder| match auth {
        Some(t) => r.bearer_auth(t),
        None => r,
    };
    let now_ms = model::time::now_ms();
    let r = with(c.post(p.url("/api/v1/write")))
        .header("Content-Encoding", "snappy")
        .body(write_request(&[(
            vec![("__name__", "snap_metric"), ("job", "t")],
            vec![(now_ms - 1000, 42.0)],
        )]))
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    let body = serde_json::json!({"streams": [{"stream": {"job": "snaplogs"},
        "values": [[format!("{}", now_ms as i128 * 1_000_000), "the snapshotted line"]]}]});
    let r = with(c.post(p.url("/loki/api/v1/push")))
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    let span = serde_json::json!([{"traceId": "00000000000000000000000000abc123", "id": "0000000000000001",
        "name": "GET /snap", "timestamp": now_ms * 1000, "duration": 1500,
        "localEndpoint": {"serviceName": "snapsvc"}}]);
    let r = with(c.post(p.url("/api/v2/spans")))
        .json(&span)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    // Sentry's store endpoint authenticates with the DSN key, never a pharos credential.
    let r = c
        .post(p.url("/api/1/store/"))
        .header("X-Sentry-Auth", "Sentry sentry_key=k1, sentry_version=7")
        .json(&serde_json::json!({"event_id": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "message": "snapshotted error", "level": "error"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}");
}

fn everything_is_there(p: &Pharos, c: &reqwest::blocking::Client) {
    let get = |path: &str| -> Value {
        c.get(p.url(path))
            .send()
            .unwrap()
            .json()
            .unwrap_or(Value::Null)
    };
    wait_for("the metric", || {
        get("/api/v1/query?query=snap_metric")["data"]["result"][0]["value"][1] == "42"
    });
    wait_for("the log line", || {
        get("/loki/api/v1/query_range?query=%7Bjob%3D%22snaplogs%22%7D&since=1h")
            .to_string()
            .contains("the snapshotted line")
    });
    wait_for("the trace", || {
        get("/api/traces/00000000000000000000000000abc123")
            .to_string()
            .contains("GET /snap")
    });
    wait_for("the error", || {
        get("/api/pharos/v1/errors/issues?project=1")
            .to_string()
            .contains("snapshotted error")
    });
}

#[test]
fn snapshot_under_ingest_restores_every_signal() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(
        dir.path(),
        "web: {enable_lifecycle: true, enable_admin_api: true}\nerrors:\n  projects:\n    - {id: 1, name: api, keys: [k1]}\n",
    );
    let c = client();
    push_everything(&p, &c, None);
    everything_is_there(&p, &c);
    // Ingest keeps running while the snapshot is taken.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, url) = (stop.clone(), p.url("/api/v1/write"));
        std::thread::spawn(move || {
            let c = client();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                let _ = c
                    .post(&url)
                    .header("Content-Encoding", "snappy")
                    .body(write_request(&[(
                        vec![("__name__", "during_snapshot")],
                        vec![(model::time::now_ms(), i as f64)],
                    )]))
                    .send();
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let out = Command::new(env!("CARGO_BIN_EXE_pharos"))
        .args(["snapshot", "--url", &p.base])
        .output()
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let name = stdout
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches(':')
        .to_string();
    let snap = p.data.join("snapshots").join(&name);
    for sub in ["metrics", "logs", "traces", "errors"] {
        assert!(
            snap.join(sub).is_dir(),
            "{sub} missing in {}",
            snap.display()
        );
    }
    let r = c
        .post(p.url("/api/v1/admin/tsdb/delete_series?match[]=no_such_metric"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    // /-/quit stops the process (lifecycle enabled).
    let r = c.post(p.url("/-/quit")).send().unwrap();
    assert_eq!(r.status(), 200);
    let mut p = p;
    let mut exited = false;
    for _ in 0..100 {
        if let Ok(Some(_)) = p.child.try_wait() {
            exited = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(exited, "pharos did not quit");
    // Restore: a pharos started on the snapshot has every item.
    let restored = Pharos::start(&snap, Some(&dir.path().join("pharos.yml")));
    everything_is_there(&restored, &c);
}

/// bcrypt hash (cost 4, the minimum, to keep the test fast) of `pw`.
fn hash(pw: &str) -> String {
    bcrypt::hash(pw, 4).unwrap()
}

fn auth_config() -> String {
    format!(
        "web:\n  basic_auth_users:\n    admin: '{}'\n  http_server_config:\n    headers: {{X-Frame-Options: DENY}}\nauth:\n  tokens:\n    - {{name: grafana, token: read-tok, scopes: [read]}}\n    - {{name: app, token: push-tok, scopes: [write], tenant: team-a}}\n    - {{name: ops, sha256: {}, scopes: [read, write, admin]}}\nerrors:\n  projects:\n    - {{id: 1, name: api, keys: [k1]}}\n",
        hash("s3cret"),
        // sha256("ops-tok")
        "a048d21a1b40f38adcce0834a7d100814fd7511ce84f0d7c67b34fd1f5b5e345"
    )
}

#[test]
fn every_endpoint_but_health_needs_credentials_and_scopes_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path(), &auth_config());
    let c = client();
    for path in ["/-/healthy", "/-/ready"] {
        assert_eq!(c.get(p.url(path)).send().unwrap().status(), 200, "{path}");
    }
    let reads = [
        "/api/v1/query?query=up",
        "/api/v1/query_range?query=up&start=0&end=1&step=1",
        "/api/v1/series?match[]=up",
        "/api/v1/labels",
        "/api/v1/targets",
        "/api/v1/status/config",
        "/api/v1/rules",
        "/api/v1/alerts",
        "/api/v2/alerts",
        "/api/v2/silences",
        "/metrics",
        "/loki/api/v1/labels",
        "/loki/api/v1/query_range?query=%7Bjob%3D%22x%22%7D",
        "/api/traces?service=x",
        "/api/services",
        "/api/v2/services",
        "/api/search",
        "/api/dashboards/uid/x",
        "/api/pharos/v1/errors/issues",
        "/api/pharos/v1/status",
        "/debug/pprof/heap",
        "/-/log-level",
        "/_search",
        "/",
        "/graph",
        "/logs",
        "/traces",
        "/errors",
        "/alerts",
    ];
    for path in reads {
        let r = c.get(p.url(path)).send().unwrap();
        assert_eq!(r.status(), 401, "GET {path} without credentials");
        assert_eq!(r.headers()["x-frame-options"], "DENY", "{path}");
    }
    let writes = [
        "/api/v1/write",
        "/loki/api/v1/push",
        "/v1/traces",
        "/v1/logs",
        "/api/v2/spans",
        "/_bulk",
        "/-/reload",
        "/api/v1/admin/tsdb/snapshot",
        "/api/dashboards/db",
    ];
    for path in writes {
        let r = c.post(p.url(path)).body("{}").send().unwrap();
        assert_eq!(r.status(), 401, "POST {path} without credentials");
    }
    // A UI page asked for by a browser: 401 with the login page.
    let r = c
        .get(p.url("/graph"))
        .header("Accept", "text/html")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().unwrap().contains("Sign in to pharos"));

    // The push token writes but cannot read; the read token reads but cannot write.
    let w = write_request(&[(
        vec![("__name__", "authed")],
        vec![(model::time::now_ms(), 1.0)],
    )]);
    let r = c
        .post(p.url("/api/v1/write"))
        .bearer_auth("push-tok")
        .body(w.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = c
        .get(p.url("/api/v1/query?query=authed"))
        .bearer_auth("push-tok")
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().unwrap().contains("read"));
    let r = c
        .post(p.url("/api/v1/write"))
        .bearer_auth("read-tok")
        .body(w.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .get(p.url("/api/v1/query?query=authed"))
        .bearer_auth("read-tok")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(v["data"]["result"][0]["value"][1], "1");
    // A read token cannot reload (admin); the hashed ops token can reach the switch (403 from
    // the lifecycle default, not from its scopes).
    let r = c
        .post(p.url("/-/reload"))
        .bearer_auth("read-tok")
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().unwrap().contains("admin"));
    let r = c
        .post(p.url("/-/reload"))
        .bearer_auth("ops-tok")
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().unwrap().contains("Lifecycle API is not enabled"));
    // Basic auth (bcrypt) works for everything.
    let r = c
        .get(p.url("/api/v1/labels"))
        .basic_auth("admin", Some("s3cret"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    // Sentry SDKs keep authenticating with the DSN key.
    let r = c
        .post(p.url("/api/1/store/"))
        .header("X-Sentry-Auth", "Sentry sentry_key=k1, sentry_version=7")
        .json(&serde_json::json!({"message": "dsn still works"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);

    // Login page: a form post gives a session cookie that opens the UI and the APIs.
    let r = c
        .post(p.url("/login"))
        .form(&[
            ("username", "admin"),
            ("password", "s3cret"),
            ("next", "/graph"),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/graph");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_string();
    let r = c
        .get(p.url("/api/v1/labels"))
        .header("Cookie", &session)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .post(p.url("/login"))
        .form(&[("token", "read-tok")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = c
        .post(p.url("/logout"))
        .header("Cookie", &session)
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = c
        .get(p.url("/api/v1/labels"))
        .header("Cookie", &session)
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);

    // Failed logins are counted and, past the limit, answered 429 for that address.
    let mut statuses = vec![];
    for _ in 0..12 {
        let r = c
            .get(p.url("/api/v1/labels"))
            .basic_auth("admin", Some("wrong"))
            .send()
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert!(statuses.contains(&401), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    // Even good credentials wait out the minute.
    let r = c
        .get(p.url("/api/v1/labels"))
        .bearer_auth("read-tok")
        .send()
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(c.get(p.url("/-/healthy")).send().unwrap().status(), 200);
}

#[test]
fn failed_logins_are_counted_in_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path(), &auth_config());
    let c = client();
    for _ in 0..3 {
        c.get(p.url("/api/v1/labels"))
            .bearer_auth("nope")
            .send()
            .unwrap();
    }
    c.get(p.url("/api/v1/labels"))
        .basic_auth("admin", Some("bad"))
        .send()
        .unwrap();
    c.get(p.url("/api/v1/labels")).send().unwrap();
    let m = c
        .get(p.url("/metrics"))
        .bearer_auth("read-tok")
        .send()
        .unwrap()
        .text()
        .unwrap();
    for want in [
        "pharos_auth_failures_total{reason=\"bad_token\"} 3",
        "pharos_auth_failures_total{reason=\"bad_password\"} 1",
        "pharos_auth_failures_total{reason=\"missing\"} 1",
    ] {
        assert!(
            m.contains(want),
            "{want} in\n{}",
            m.lines()
                .filter(|l| l.contains("auth"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// A test CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl.
fn make_pki(d: &Path) {
    let run = |args: &[&str]| crate::common::openssl(d, args);
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=pharos test CA",
    ]);
    std::fs::write(
        d.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
    )
    .unwrap();
    for who in ["server", "client"] {
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{who}.key"),
            "-out",
            &format!("{who}.csr"),
            "-subj",
            &format!("/CN={who}"),
        ]);
        run(&[
            "x509",
            "-req",
            "-in",
            &format!("{who}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &format!("{who}.pem"),
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ]);
    }
}

fn tls_client(d: &Path, with_cert: bool) -> reqwest::blocking::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(d.join("ca.pem")).unwrap()).unwrap();
    let mut b = reqwest::blocking::Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(10));
    if with_cert {
        let mut pem = std::fs::read(d.join("client.pem")).unwrap();
        pem.extend(std::fs::read(d.join("client.key")).unwrap());
        b = b.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    b.build().unwrap()
}

#[test]
fn tls_with_client_certificates_for_clients_and_scrapes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_pki(d);
    std::fs::write(
        d.join("web.yml"),
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_ca_file: ca.pem\n  client_auth_type: RequireAndVerifyClientCert\n  min_version: TLS12\n",
    )
    .unwrap();
    let a_dir = d.join("a");
    std::fs::create_dir_all(&a_dir).unwrap();
    let p = start(
        &a_dir,
        &format!("web: {{config_file: {}}}\n", d.join("web.yml").display()),
    );
    assert!(p.base.starts_with("https://"), "{}", p.base);
    let r = tls_client(d, true).get(p.url("/-/healthy")).send().unwrap();
    assert_eq!(r.status(), 200);
    let r = tls_client(d, true)
        .get(p.url("/api/v1/query?query=vector(7)"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    // Without a client certificate the handshake is refused; plain http is refused too.
    assert!(tls_client(d, false)
        .get(p.url("/-/healthy"))
        .send()
        .is_err());
    let plain = p.base.replace("https://", "http://");
    assert!(client()
        .get(format!("{plain}/-/healthy"))
        .send()
        .map(|r| !r.status().is_success())
        .unwrap_or(true));

    // A second pharos scrapes the first over TLS with a client certificate.
    let target = p.base.trim_start_matches("https://").to_string();
    let b_dir = d.join("b");
    std::fs::create_dir_all(&b_dir).unwrap();
    std::fs::write(
        b_dir.join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: tls\n    scheme: https\n    tls_config: {{ca_file: {ca}, cert_file: {cert}, key_file: {key}}}\n    static_configs: [{{targets: ['{target}']}}]\n",
            ca = d.join("ca.pem").display(),
            cert = d.join("client.pem").display(),
            key = d.join("client.key").display(),
        ),
    )
    .unwrap();
    let q = Pharos::start(&b_dir.join("data"), Some(&b_dir.join("prometheus.yml")));
    let c = client();
    wait_for("up{job=tls} == 1", || {
        let v: Value = c
            .get(q.url("/api/v1/query?query=up%7Bjob%3D%22tls%22%7D"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        v["data"]["result"][0]["value"][1] == "1"
    });
}

/// With TLS and authentication on, the built-in collectors still scrape pharos' own
/// listener (`up{job="pharos"} == 1`), and their internal credential is no user's.
#[test]
fn built_in_collectors_scrape_through_tls_and_auth() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_pki(d);
    std::fs::write(
        d.join("pharos.yml"),
        format!(
            "collectors: {{self: {{interval: 1s}}, host: {{enabled: false}}}}\nsecurity: {{enabled: false}}\n\
             web:\n  tls_server_config: {{cert_file: {d}/server.pem, key_file: {d}/server.key}}\n  basic_auth_users:\n    admin: '{h}'\n",
            d = d.display(),
            h = hash("s3cret"),
        ),
    )
    .unwrap();
    let p = Pharos::start(&d.join("data"), Some(&d.join("pharos.yml")));
    assert!(p.base.starts_with("https://"), "{}", p.base);
    let c = tls_client(d, false);
    wait_for("up{job=pharos} == 1", || {
        let v: Value = c
            .get(p.url("/api/v1/query?query=up%7Bjob%3D%22pharos%22%7D"))
            .basic_auth("admin", Some("s3cret"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        v["data"]["result"][0]["value"][1] == "1"
    });
    // Without credentials the same listener still refuses.
    let r = c.get(p.url("/metrics")).send().unwrap();
    assert_eq!(r.status(), 401);
}
