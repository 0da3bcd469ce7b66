//! Release health through the real binary: Sentry `session` updates and a `sessions` aggregate
//! sent in envelopes become crash-free series in the TSDB, queried with PromQL.

use crate::common::Pharos;
use reqwest::blocking::Client;
use serde_json::{json, Value};

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn envelope_of(item_type: &str, payload: &Value) -> Vec<u8> {
    let body = payload.to_string();
    format!(
        "{{\"sent_at\":\"2026-12-01T00:00:00Z\"}}\n{{\"type\":\"{item_type}\",\"length\":{}}}\n{body}\n",
        body.len()
    )
    .into_bytes()
}

fn instant(p: &Pharos, expr: &str) -> Vec<Value> {
    let v: Value = Client::new()
        .get(p.url("/api/v1/query"))
        .query(&[("query", expr)])
        .send()
        .expect("query")
        .json()
        .expect("json");
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

#[test]
fn sessions_become_crash_free_series_per_release() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(
        &cfg,
        format!("errors:\n  projects:\n    - {{id: 1, name: api, keys: [{KEY}]}}\n"),
    )
    .expect("config");
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    let c = Client::new();
    let send = |item_type: &str, payload: Value| {
        let r = c
            .post(p.url("/api/1/envelope/"))
            .header(
                "X-Sentry-Auth",
                format!("Sentry sentry_version=7, sentry_key={KEY}"),
            )
            .body(envelope_of(item_type, &payload))
            .send()
            .expect("send");
        assert_eq!(r.status(), 200, "{}", r.text().unwrap_or_default());
    };
    let attrs = json!({"release": "api@1.2.0", "environment": "production"});
    // Four sessions of release 1.2.0 from three users: one crashes.
    for (i, end) in ["exited", "crashed", "exited", "exited"].iter().enumerate() {
        let sid = format!("{i:032x}");
        let did = format!("user-{}", i % 3);
        send(
            "session",
            json!({"sid": sid, "did": did, "init": true, "status": "ok", "attrs": attrs}),
        );
        send(
            "session",
            json!({"sid": sid, "did": did, "status": end, "attrs": attrs}),
        );
    }
    // A server-mode SDK's aggregate for release 1.3.0: 10 sessions, 1 crashed, 2 errored.
    send(
        "sessions",
        json!({"aggregates": [{"started": "2026-12-01T10:00:00Z", "exited": 7, "errored": 2, "crashed": 1}],
               "attrs": {"release": "api@1.3.0", "environment": "production"}}),
    );

    let ratio = |release: &str| {
        let r = instant(
            &p,
            &format!("release_crash_free_sessions_ratio{{release=\"{release}\"}}"),
        );
        assert_eq!(r.len(), 1, "{release}: {r:?}");
        assert_eq!(r[0]["metric"]["project"], "1");
        r[0]["value"][1]
            .as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .expect("a number")
    };
    assert_eq!(ratio("api@1.2.0"), 0.75);
    assert!((ratio("api@1.3.0") - 0.9).abs() < 1e-9);
    let users = instant(&p, "release_crash_free_users_ratio{release=\"api@1.2.0\"}");
    let users: f64 = users[0]["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("a number");
    assert!((users - 2.0 / 3.0).abs() < 1e-9, "{users}");
    let ended = instant(
        &p,
        "sum by (status) (release_sessions_ended_total{release=\"api@1.3.0\"})",
    );
    let by_status: std::collections::BTreeMap<String, String> = ended
        .iter()
        .map(|s| {
            (
                s["metric"]["status"].as_str().unwrap_or("").to_string(),
                s["value"][1].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(by_status["exited"], "7");
    assert_eq!(by_status["errored"], "2");
    assert_eq!(by_status["crashed"], "1");
}
