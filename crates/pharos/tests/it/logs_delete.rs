//! Loki's log deletion API against the real binary: 403 until the admin API is enabled; a
//! request by selector + line filter + time range hides exactly its lines at once (other lines,
//! streams and tenants stay), is listed, can be cancelled, survives kill -9, answers 400 with a
//! message on bad input, and once past the cancel period its lines leave the disk (the index
//! counts them no more) and it reads `processed`.

use crate::common::Pharos;
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const BASE: &str =
    "collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\n";

fn start(dir: &Path, admin: bool, cancel_period: &str) -> Pharos {
    std::fs::write(
        dir.join("loki.yml"),
        format!(
            "auth_enabled: true\ncompactor:\n  delete_request_cancel_period: {cancel_period}\n"
        ),
    )
    .unwrap();
    let cfg = dir.join("pharos.yml");
    std::fs::write(
        &cfg,
        format!("{BASE}loki_config: loki.yml\nweb: {{enable_admin_api: {admin}}}\n"),
    )
    .unwrap();
    Pharos::start(&dir.join("data"), Some(&cfg))
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn push(c: &Client, p: &Pharos, tenant: &str, app: &str, lines: &[(i64, &str)]) {
    let values: Vec<Value> = lines
        .iter()
        .map(|(s, l)| json!([(s * 1_000_000_000).to_string(), l]))
        .collect();
    let r = c
        .post(p.url("/loki/api/v1/push"))
        .header("X-Scope-OrgID", tenant)
        .json(&json!({"streams": [{"stream": {"app": app}, "values": values}]}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
}

/// Every line of the tenant over the last hour, sorted.
fn lines(c: &Client, p: &Pharos, tenant: &str) -> Vec<String> {
    let r = c
        .get(p.url("/loki/api/v1/query_range"))
        .header("X-Scope-OrgID", tenant)
        .query(&[
            ("query", r#"{app=~".+"}"#),
            ("start", &(now_s() - 3600).to_string()),
            ("end", &(now_s() + 60).to_string()),
            ("limit", "1000"),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    let mut out: Vec<String> = v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["values"].as_array().unwrap().clone())
        .map(|e| e[1].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

/// `(status, X-Delete-Request-ID, body)` of a delete request.
fn delete(c: &Client, p: &Pharos, tenant: &str, params: &[(&str, &str)]) -> (u16, String, String) {
    let r = c
        .post(p.url("/loki/api/v1/delete"))
        .header("X-Scope-OrgID", tenant)
        .query(params)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let id = r
        .headers()
        .get("x-delete-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, id, r.text().unwrap())
}

fn list(c: &Client, p: &Pharos, tenant: &str) -> Vec<Value> {
    let r = c
        .get(p.url("/loki/api/v1/delete"))
        .header("X-Scope-OrgID", tenant)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Vec<Value>>().unwrap()
}

fn api_entries(c: &Client, p: &Pharos) -> u64 {
    let r = c
        .get(p.url("/loki/api/v1/index/stats"))
        .header("X-Scope-OrgID", "team-a")
        .query(&[
            ("query", r#"{app="api"}"#),
            ("start", &(now_s() - 3600).to_string()),
            ("end", &(now_s() + 60).to_string()),
        ])
        .send()
        .unwrap();
    r.json::<Value>().unwrap()["entries"].as_u64().unwrap()
}

#[test]
fn loki_delete_requests_hide_then_remove_lines() {
    let d = tempfile::tempdir().unwrap();
    let c = Client::new();
    // Admin API off: 403 with the switch named.
    let p = start(d.path(), false, "1h");
    let (st, _, body) = delete(
        &c,
        &p,
        "team-a",
        &[("query", r#"{app="api"}"#), ("start", "1700000000")],
    );
    assert_eq!(st, 403, "{body}");
    assert!(body.contains("enable_admin_api"), "{body}");
    let r = c
        .get(p.url("/loki/api/v1/delete"))
        .header("X-Scope-OrgID", "team-a")
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    drop(p);

    let p = start(d.path(), true, "1h");
    let t = now_s();
    push(
        &c,
        &p,
        "team-a",
        "api",
        &[
            (t - 50, "user=1 password=hunter1"),
            (t - 40, "user=2 ok"),
            (t - 30, "user=3 password=hunter3"),
            (t - 5, "user=4 password=late"),
        ],
    );
    push(&c, &p, "team-a", "web", &[(t - 30, "web password=w")]);
    push(&c, &p, "team-b", "api", &[(t - 30, "b password=b")]);

    // Bad input: 400 with a message.
    let (st, _, body) = delete(
        &c,
        &p,
        "team-a",
        &[("query", r#"{app="api""#), ("start", "1700000000")],
    );
    assert_eq!(st, 400);
    assert!(body.starts_with("invalid query expression"), "{body}");
    let (st, _, body) = delete(&c, &p, "team-a", &[("query", r#"{app="api"}"#)]);
    assert_eq!((st, body.trim()), (400, "start time not set"));
    let (st, _, body) = delete(
        &c,
        &p,
        "team-a",
        &[
            ("query", r#"sum(rate({app="api"}[1m]))"#),
            ("start", "1700000000"),
        ],
    );
    assert_eq!(st, 400, "{body}");

    // Selector + line filter + time range: hidden at once, everything else stays.
    let (start_s, end_s) = ((t - 60).to_string(), (t - 10).to_string());
    let (st, id, body) = delete(
        &c,
        &p,
        "team-a",
        &[
            ("query", r#"{app="api"} |= "password""#),
            ("start", &start_s),
            ("end", &end_s),
        ],
    );
    assert_eq!(st, 204, "{body}");
    assert_eq!(id.len(), 8);
    let want_a = ["user=2 ok", "user=4 password=late", "web password=w"];
    assert_eq!(lines(&c, &p, "team-a"), want_a);
    assert_eq!(lines(&c, &p, "team-b"), ["b password=b"]);

    // Listed for its tenant only, with Loki's fields.
    let l = list(&c, &p, "team-a");
    assert_eq!(l.len(), 1);
    assert_eq!(l[0]["request_id"], id.as_str());
    assert_eq!(l[0]["query"], r#"{app="api"} |= "password""#);
    assert_eq!(l[0]["status"], "received");
    assert_eq!(l[0]["start_time"], t - 60);
    assert_eq!(l[0]["end_time"], t - 10);
    assert!(l[0]["created_at"].as_f64().unwrap() >= t as f64);
    assert!(list(&c, &p, "team-b").is_empty());

    // A second request, cancelled within the cancel period: its lines come back.
    let (st, id2, _) = delete(
        &c,
        &p,
        "team-a",
        &[("query", r#"{app="web"}"#), ("start", &start_s)],
    );
    assert_eq!(st, 204);
    assert!(!lines(&c, &p, "team-a").contains(&"web password=w".to_string()));
    let cancel = |tenant: &str, id: &str| {
        c.delete(p.url("/loki/api/v1/delete"))
            .header("X-Scope-OrgID", tenant)
            .query(&[("request_id", id)])
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(cancel("team-b", &id2), 404);
    assert_eq!(cancel("team-a", &id2), 204);
    assert_eq!(cancel("team-a", &id2), 404);
    assert_eq!(lines(&c, &p, "team-a"), want_a);

    // kill -9 and restart: the request and its filtering survive.
    p.kill9();
    let p = start(d.path(), true, "1h");
    assert_eq!(lines(&c, &p, "team-a"), want_a);
    assert_eq!(list(&c, &p, "team-a").len(), 1);
    assert_eq!(
        api_entries(&c, &p),
        4,
        "still on disk within the cancel period"
    );
    drop(p);

    // Past the cancel period the lines leave the disk and the request reads processed.
    let p = start(d.path(), true, "1s");
    let deadline = Instant::now() + Duration::from_secs(60);
    while list(&c, &p, "team-a")[0]["status"] != "processed" {
        assert!(Instant::now() < deadline, "request never processed");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(api_entries(&c, &p), 2);
    assert_eq!(lines(&c, &p, "team-a"), want_a);
    assert_eq!(lines(&c, &p, "team-b"), ["b password=b"]);
    // A processed request cannot be cancelled.
    let r = c
        .delete(p.url("/loki/api/v1/delete"))
        .header("X-Scope-OrgID", "team-a")
        .query(&[("request_id", id.as_str()), ("force", "true")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("already processed"));
    let g = c
        .get(p.url("/loki/api/v1/cache/generation_numbers"))
        .header("X-Scope-OrgID", "team-a")
        .send()
        .unwrap();
    assert_eq!(g.status(), 200);
    assert!(g.json::<String>().unwrap().parse::<i64>().is_ok());
}
