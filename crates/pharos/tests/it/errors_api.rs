//! The Sentry-compatible error store through the real binary: auth failures in Sentry's shape,
//! ingest by envelope (every auth form, gzip) and legacy store, CORS, rate limits (429 with
//! Retry-After and X-Sentry-Rate-Limits), broken and oversized bodies, the issue query API with
//! status changes and regressions, projects created over the API, and no acknowledged event
//! lost to `kill -9`.

use crate::common::Pharos;
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;

const KEY: &str = "0123456789abcdef0123456789abcdef";
const KEY2: &str = "fedcba9876543210fedcba9876543210";

fn config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let p = dir.join("pharos.yml");
    std::fs::write(
        &p,
        format!(
            "errors:\n  projects:\n    - {{id: 1, name: api, keys: [{KEY}]}}\n    - {{id: 2, name: web, keys: [{KEY2}]}}\n{extra}"
        ),
    )
    .unwrap();
    p
}

fn auth(key: &str) -> String {
    format!("Sentry sentry_version=7, sentry_client=pharos-test/1.0, sentry_key={key}")
}

fn error_event(id: &str, func: &str) -> Value {
    json!({
        "event_id": id, "platform": "python", "level": "error", "release": "2.0",
        "environment": "prod", "user": {"id": "7", "ip_address": "10.0.0.1"},
        "request": {"url": "http://app/x", "headers": {"Authorization": "Bearer secret"}},
        "exception": {"values": [{"type": "ValueError", "value": "bad input 42", "stacktrace": {"frames": [
            {"function": "main", "module": "app.main", "lineno": 1, "in_app": true},
            {"function": func, "module": "app.views", "lineno": 20, "in_app": true,
             "context_line": "raise ValueError()", "pre_context": ["a"], "post_context": ["b"]}]}}]},
        "breadcrumbs": {"values": [{"timestamp": 1700000000, "category": "http", "message": "GET /x", "level": "info"}]},
        "contexts": {"trace": {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"}}
    })
}

fn envelope(ev: &Value) -> Vec<u8> {
    let payload = ev.to_string();
    format!(
        "{{\"event_id\":\"{}\",\"sent_at\":\"2024-01-01T00:00:00Z\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{}\n",
        ev["event_id"].as_str().unwrap_or(""),
        payload.len(),
        payload
    )
    .into_bytes()
}

fn id(n: u32) -> String {
    format!("{n:032x}")
}

#[test]
fn auth_ingest_cors_and_query() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    let c = Client::new();
    let url = p.url("/api/1/envelope/");
    let body = envelope(&error_event(&id(1), "handler"));

    // Auth failures: Sentry's {"detail": ...} with 401/403.
    let r = c.post(&url).body(body.clone()).send().unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("x-sentry-error").is_some());
    let v: Value = r.json().unwrap();
    assert!(
        v["detail"].as_str().unwrap().contains("authorization"),
        "{v}"
    );
    let r = c
        .post(&url)
        .header("X-Sentry-Auth", auth("ffffffffffffffffffffffffffffffff"))
        .body(body.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.json::<Value>().unwrap()["detail"].is_string());
    let r = c
        .post(p.url("/api/2/envelope/"))
        .header("X-Sentry-Auth", auth(KEY))
        .body(body.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .post(p.url("/api/99/envelope/"))
        .header("X-Sentry-Auth", auth(KEY))
        .body(body.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.json::<Value>().unwrap()["detail"]
        .as_str()
        .unwrap()
        .contains("99"));

    // Header auth.
    let r = c
        .post(&url)
        .header("X-Sentry-Auth", auth(KEY))
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["access-control-allow-origin"].to_str().is_ok());
    assert_eq!(r.json::<Value>().unwrap(), json!({"id": id(1)}));
    // Query-string auth, gzip body, no trailing slash.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&envelope(&error_event(&id(2), "handler")))
        .unwrap();
    let r = c
        .post(p.url(&format!(
            "/api/1/envelope?sentry_key={KEY}&sentry_version=7"
        )))
        .header("Content-Encoding", "gzip")
        .header("Content-Type", "application/x-sentry-envelope")
        .body(gz.finish().unwrap())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text());
    // DSN in the envelope header, implicit item length.
    let ev = error_event(&id(3), "other_handler");
    let body = format!(
        "{{\"event_id\":\"{}\",\"dsn\":\"http://{KEY}@127.0.0.1/1\"}}\n{{\"type\":\"event\"}}\n{}\n",
        id(3),
        ev
    );
    let r = c.post(&url).body(body).send().unwrap();
    assert_eq!(r.status(), 200);
    // Legacy store endpoint, base64(zlib(json)) as old SDKs sent it.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(
        json!({"event_id": id(4), "message": "legacy message 17", "level": "warning"})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(z.finish().unwrap());
    let r = c
        .post(p.url("/api/1/store/"))
        .header("X-Sentry-Auth", auth(KEY))
        .body(b64)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["id"], id(4));

    // CORS preflight for browser SDKs.
    let r = c
        .request(reqwest::Method::OPTIONS, &url)
        .header("Origin", "http://localhost:3000")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type, sentry-trace, baggage",
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let allowed = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_string();
    for h in ["sentry-trace", "baggage", "x-sentry-auth", "content-type"] {
        assert!(allowed.contains(h), "{allowed}");
    }

    // Broken envelopes and bodies: clear 4xx in Sentry's shape.
    for (body, enc) in [
        (b"not json\n".to_vec(), None),
        (
            b"{}\n{\"type\":\"event\",\"length\":999}\n{}\n".to_vec(),
            None,
        ),
        (b"\x1f\x8b garbage".to_vec(), Some("gzip")),
        (b"{}\n{\"type\":\"event\"}\n{not json\n".to_vec(), None),
    ] {
        let mut req = c.post(&url).header("X-Sentry-Auth", auth(KEY)).body(body);
        if let Some(e) = enc {
            req = req.header("Content-Encoding", e);
        }
        let r = req.send().unwrap();
        assert_eq!(r.status(), 400);
        assert!(r.json::<Value>().unwrap()["detail"].is_string());
    }

    // The query API.
    let issues: Value = c
        .get(p.url("/api/pharos/v1/errors/issues?project=1&sort=count"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(issues["total"], 3, "{issues}");
    let top = &issues["issues"][0];
    assert_eq!(top["count"], 2);
    assert_eq!(top["title"], "ValueError: bad input 42");
    assert_eq!(top["culprit"], "handler(app.views)");
    assert_eq!(top["platform"], "python");
    assert_eq!(top["users"], 1);
    let iid = top["id"].as_str().unwrap().to_string();
    let detail: Value = c
        .get(p.url(&format!("/api/pharos/v1/errors/issues/{iid}")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        detail["tags"]["environment"][0],
        json!({"value": "prod", "count": 2})
    );
    assert_eq!(detail["latest_event_id"], id(2));
    let ev: Value = c
        .get(p.url(&format!("/api/pharos/v1/errors/issues/{iid}/events/latest")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(ev["event_id"], id(2));
    assert_eq!(ev["previous_event_id"], id(1));
    assert_eq!(ev["issue_id"], iid.as_str());
    assert_eq!(ev["request"]["headers"]["Authorization"], "[Filtered]");
    assert!(
        ev["user"].get("ip_address").is_none(),
        "pii kept: {}",
        ev["user"]
    );
    let frames = ev["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array()
        .unwrap();
    assert_eq!(frames.last().unwrap()["function"], "handler");
    assert_eq!(frames.last().unwrap()["context_line"], "raise ValueError()");
    assert_eq!(ev["breadcrumbs"][0]["message"], "GET /x");
    assert_eq!(ev["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    let evs: Value = c
        .get(p.url(&format!(
            "/api/pharos/v1/errors/issues/{iid}/events?limit=1"
        )))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(evs["total"], 2);
    assert_eq!(evs["events"].as_array().unwrap().len(), 1);
    let by_trace: Value = c
        .get(p.url("/api/pharos/v1/errors/events?trace_id=4bf92f3577b34da6a3ce929d0e0e4736"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(by_trace["events"].as_array().unwrap().len(), 3);
    assert_eq!(
        c.get(p.url("/api/pharos/v1/errors/events?trace_id=xyz"))
            .send()
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        c.get(p.url("/api/pharos/v1/errors/issues?sort=bogus"))
            .send()
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        c.get(p.url("/api/pharos/v1/errors/issues/123"))
            .send()
            .unwrap()
            .status(),
        404
    );
    let one: Value = c
        .get(p.url(&format!("/api/pharos/v1/errors/events/{}", id(4))))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(one["message"], "legacy message 17");
    assert_eq!(one["level"], "warning");

    // Resolve, see it again: reopened as regressed.
    let r: Value = c
        .put(p.url(&format!("/api/pharos/v1/errors/issues/{iid}")))
        .json(&json!({"status": "resolved"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(r["status"], "resolved");
    let unresolved: Value = c
        .get(p.url("/api/pharos/v1/errors/issues"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(unresolved["total"], 2);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let r = c
        .post(&url)
        .header("X-Sentry-Auth", auth(KEY))
        .body(envelope(&error_event(&id(5), "handler")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let detail: Value = c
        .get(p.url(&format!("/api/pharos/v1/errors/issues/{iid}")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        (detail["status"].as_str(), detail["regressed"].as_bool()),
        (Some("unresolved"), Some(true))
    );
    // The two issues still unresolved before, and the regressed one.
    let mut all: Vec<String> = unresolved["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    all.push(iid.clone());
    let r: Value = c
        .put(p.url("/api/pharos/v1/errors/issues"))
        .json(&json!({"ids": all, "status": "ignored"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(r["updated"], 3);
    assert_eq!(
        c.put(p.url("/api/pharos/v1/errors/issues"))
            .json(&json!({"status": "nope"}))
            .send()
            .unwrap()
            .status(),
        400
    );

    // Projects: listed with DSNs, created over the API, kept across restarts.
    let projects: Value = c
        .get(p.url("/api/pharos/v1/errors/projects"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(projects["projects"][0]["keys"][0]["public"], KEY);
    let dsn = projects["projects"][0]["keys"][0]["dsn"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        dsn.starts_with(&format!("http://{KEY}@127.0.0.1:")) && dsn.ends_with("/1"),
        "{dsn}"
    );
    let created: Value = c
        .post(p.url("/api/pharos/v1/errors/projects"))
        .json(&json!({"name": "mobile"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(created["id"], "3");
    let new_key = created["keys"][0]["public"].as_str().unwrap().to_string();
    assert_eq!(
        c.post(p.url("/api/pharos/v1/errors/projects"))
            .json(&json!({}))
            .send()
            .unwrap()
            .status(),
        400
    );
    let data = p.data.clone();
    drop(p);
    let p = Pharos::start(&data, Some(&cfg));
    let r = c
        .post(p.url("/api/3/envelope/"))
        .header("X-Sentry-Auth", auth(&new_key))
        .body(envelope(&error_event(&id(6), "m")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let detail: Value = c
        .get(p.url(&format!("/api/pharos/v1/errors/issues/{iid}")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(detail["status"], "ignored");
    assert_eq!(detail["count"], 3);
    let metrics = c.get(p.url("/metrics")).send().unwrap().text().unwrap();
    assert!(
        metrics.contains("pharos_errors_issues "),
        "no error store metrics"
    );
}

#[test]
fn rate_limits_and_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "  max_events_per_second: 2\n  max_event_size: 4KB\n",
    );
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    let c = Client::new();
    let url = p.url("/api/1/envelope/");
    let mut limited = None;
    for n in 0..20 {
        let r = c
            .post(&url)
            .header("X-Sentry-Auth", auth(KEY))
            .body(envelope(&error_event(&id(100 + n), "f")))
            .send()
            .unwrap();
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status(), 200);
    }
    let r = limited.expect("no 429 after 20 events at 2/s");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let rl = r.headers()["x-sentry-rate-limits"]
        .to_str()
        .unwrap()
        .to_string();
    let parts: Vec<&str> = rl.split(':').collect();
    assert_eq!(parts[0].parse::<u64>().unwrap(), retry);
    assert!(parts[1].split(';').any(|c| c == "error"), "{rl}");
    assert!(r.json::<Value>().unwrap()["detail"].is_string());
    // Oversized event: 413 with a clear message.
    let mut big = error_event(&id(999), "f");
    big["extra"] = json!({"blob": "x".repeat(10_000)});
    let r = c
        .post(&url)
        .header("X-Sentry-Auth", auth(KEY))
        .body(envelope(&big))
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
    let d = r.json::<Value>().unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(d.contains("maximum event size"), "{d}");
    // Larger than the request limit.
    let huge = vec![b'a'; api::MAX_BODY_BYTES + 10];
    let r = c
        .post(&url)
        .header("X-Sentry-Auth", auth(KEY))
        .body(huge)
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[test]
fn kill9_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "  max_events_per_second: 100000\n");
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    let url = p.url("/api/1/envelope/");
    let acked = std::sync::Arc::new(parking_lot::Mutex::new(Vec::<String>::new()));
    let mut workers = Vec::new();
    for w in 0..4u32 {
        let (url, acked) = (url.clone(), acked.clone());
        workers.push(std::thread::spawn(move || {
            let c = Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .build()
                .unwrap();
            for n in 0..100_000u32 {
                let eid = id(w * 1_000_000 + n + 1);
                let body = envelope(&error_event(&eid, &format!("f{}", n % 5)));
                match c
                    .post(&url)
                    .header("X-Sentry-Auth", auth(KEY))
                    .body(body)
                    .send()
                {
                    Ok(r) if r.status() == 200 => acked.lock().push(eid),
                    _ => return,
                }
            }
        }));
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let data = p.data.clone();
    p.kill9();
    for w in workers {
        w.join().unwrap();
    }
    let acked = acked.lock().clone();
    assert!(acked.len() > 10, "only {} events acknowledged", acked.len());
    let p = Pharos::start(&data, Some(&cfg));
    let c = Client::new();
    let issues: Value = c
        .get(p.url("/api/pharos/v1/errors/issues?status=all"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let total: u64 = issues["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["count"].as_u64().unwrap())
        .sum();
    assert!(total >= acked.len() as u64, "{total} < {}", acked.len());
    for eid in &acked {
        let r = c
            .get(p.url(&format!("/api/pharos/v1/errors/events/{eid}")))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "acknowledged event {eid} lost");
    }
}
