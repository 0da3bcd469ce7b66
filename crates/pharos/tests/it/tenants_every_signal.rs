//! Tenants on errors, rules, alerts and silences through the real binary: two tenants
//! (`X-Scope-OrgID`; the front door sets it from a tenant-bound token) write, and each endpoint read by the other tenant
//! answers nothing of the first's; and Prometheus' `delete_series` / `clean_tombstones`.

use crate::common::{write_request, Pharos};
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::{json, Value};

const BASE: &str =
    "collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\n";

/// pharos on `dir` with the built-in Alertmanager (one silent receiver) and `extra` config.
fn start(dir: &std::path::Path, extra: &str) -> Pharos {
    std::fs::write(
        dir.join("alertmanager.yml"),
        "route: {receiver: none, group_by: [alertname]}\nreceivers: [{name: none}]\n",
    )
    .unwrap();
    let cfg = dir.join("pharos.yml");
    std::fs::write(
        &cfg,
        format!("{BASE}alertmanager_config: alertmanager.yml\n{extra}"),
    )
    .unwrap();
    Pharos::start(&dir.join("data"), Some(&cfg))
}

fn as_tenant(r: RequestBuilder, tenant: Option<&str>) -> RequestBuilder {
    match tenant {
        Some(t) => r.header("X-Scope-OrgID", t),
        None => r,
    }
}

fn get(c: &Client, p: &Pharos, path: &str, tenant: Option<&str>) -> (u16, Value) {
    let r = as_tenant(c.get(p.url(path)), tenant).send().unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

/// POSTs `body` as JSON for `tenant`; the status.
fn post_json(c: &Client, p: &Pharos, path: &str, tenant: &str, body: &Value) -> u16 {
    as_tenant(c.post(p.url(path)), Some(tenant))
        .json(body)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

fn envelope(event_id: &str, message: &str) -> Vec<u8> {
    let ev = json!({
        "event_id": event_id, "platform": "python", "level": "error",
        "exception": {"values": [{"type": "ValueError", "value": message, "stacktrace": {"frames": [
            {"function": message, "module": "app.views", "lineno": 20, "in_app": true}]}}]},
    })
    .to_string();
    format!(
        "{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{ev}\n",
        ev.len()
    )
    .into_bytes()
}

fn send_error(c: &Client, p: &Pharos, tenant: Option<&str>, event_id: &str, msg: &str) {
    let r = as_tenant(c.post(p.url("/api/1/envelope/")), tenant)
        .header(
            "X-Sentry-Auth",
            "Sentry sentry_version=7, sentry_client=t/1.0, sentry_key=k1",
        )
        .body(envelope(event_id, msg))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap_or_default());
}

fn issues(c: &Client, p: &Pharos, tenant: Option<&str>) -> Vec<Value> {
    let (s, v) = get(c, p, "/api/pharos/v1/errors/issues", tenant);
    assert_eq!(s, 200, "{v}");
    v["issues"].as_array().cloned().unwrap_or_default()
}

#[test]
fn errors_alerts_and_silences_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(
        dir.path(),
        "errors:\n  projects:\n    - {id: 1, name: api, keys: [k1]}\n",
    );
    let c = Client::new();

    // Errors: one issue per tenant, each sees only its own; the default store neither.
    send_error(&c, &p, Some("a"), &format!("{:032x}", 1), "only_in_a");
    send_error(&c, &p, Some("b"), &format!("{:032x}", 2), "only_in_b");
    let a = issues(&c, &p, Some("a"));
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(a[0].to_string().contains("only_in_a"));
    let b = issues(&c, &p, Some("b"));
    assert_eq!(b.len(), 1, "{b:?}");
    assert!(b[0].to_string().contains("only_in_b"));
    assert!(issues(&c, &p, Some("c")).is_empty());
    assert!(issues(&c, &p, None).is_empty());
    let issue_a = a[0]["id"].as_str().unwrap().to_string();
    for path in [
        format!("/api/pharos/v1/errors/issues/{issue_a}"),
        format!("/api/pharos/v1/errors/issues/{issue_a}/events/latest"),
        format!("/api/pharos/v1/errors/events/{:032x}", 1),
    ] {
        assert_eq!(get(&c, &p, &path, Some("a")).0, 200, "{path}");
        assert_eq!(get(&c, &p, &path, Some("b")).0, 404, "{path}");
    }
    let (s, _) = get(&c, &p, "/api/pharos/v1/errors/issues", Some("../x"));
    assert_eq!(s, 400, "an invalid tenant id is refused");

    // Alerts: posted by a, seen by a without the tenant label, not by b.
    let alert = json!([{"labels": {"alertname": "TenantAlert", "sev": "page"},
                        "annotations": {"summary": "x"}}]);
    assert_eq!(post_json(&c, &p, "/api/v2/alerts", "a", &alert), 200);
    let (_, av) = get(&c, &p, "/api/v2/alerts", Some("a"));
    assert_eq!(av.as_array().unwrap().len(), 1, "{av}");
    assert!(!av.to_string().contains("__tenant__"), "{av}");
    let (_, bv) = get(&c, &p, "/api/v2/alerts", Some("b"));
    assert_eq!(bv, json!([]));
    let (_, bg) = get(&c, &p, "/api/v2/alerts/groups", Some("b"));
    assert_eq!(bg, json!([]));
    let (_, ag) = get(&c, &p, "/api/v2/alerts/groups", Some("a"));
    assert_eq!(ag.as_array().unwrap().len(), 1, "{ag}");

    // Silences: a's silence mutes a's alert, is invisible and untouchable for b.
    let now = chrono::Utc::now();
    let silence = json!({
        "matchers": [{"name": "alertname", "value": "TenantAlert", "isRegex": false}],
        "startsAt": now.to_rfc3339(), "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
        "createdBy": "t", "comment": "a's"});
    let r = as_tenant(c.post(p.url("/api/v2/silences")), Some("a"))
        .json(&silence)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let sid = r.json::<Value>().unwrap()["silenceID"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, al) = get(&c, &p, "/api/v2/silences", Some("a"));
    assert_eq!(al.as_array().unwrap().len(), 1, "{al}");
    assert!(!al.to_string().contains("__tenant__"), "{al}");
    let (_, bl) = get(&c, &p, "/api/v2/silences", Some("b"));
    assert_eq!(bl, json!([]));
    let one = format!("/api/v2/silence/{sid}");
    assert_eq!(get(&c, &p, &one, Some("b")).0, 404);
    assert_eq!(get(&c, &p, &one, Some("a")).0, 200);
    let r = as_tenant(c.delete(p.url(&one)), Some("b")).send().unwrap();
    assert_eq!(r.status(), 404, "b cannot expire a's silence");
    let mut upd = silence.clone();
    upd["id"] = json!(sid);
    assert_eq!(
        post_json(&c, &p, "/api/v2/silences", "b", &upd),
        404,
        "b cannot update a's silence"
    );
    let mut muted = false;
    for _ in 0..50 {
        let (_, av) = get(&c, &p, "/api/v2/alerts", Some("a"));
        if av[0]["status"]["state"] == "suppressed" {
            muted = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(muted, "a's silence mutes a's alert");
    // The same alert of b is not muted by a's silence.
    assert_eq!(post_json(&c, &p, "/api/v2/alerts", "b", &alert), 200);
    let (_, bv) = get(&c, &p, "/api/v2/alerts", Some("b"));
    assert_eq!(bv[0]["status"]["state"], "active", "{bv}");
}

fn write(c: &Client, p: &Pharos, tenant: Option<&str>, job: &str, ts: &[i64]) {
    let body = write_request(&[(
        vec![("__name__", "del_metric"), ("job", job)],
        ts.iter().map(|t| (*t, *t as f64)).collect(),
    )]);
    let r = as_tenant(c.post(p.url("/api/v1/write")), tenant)
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
}

/// Sample count per job of `del_metric` over the last 10 minutes.
fn counts(c: &Client, p: &Pharos, tenant: Option<&str>) -> Vec<(String, String)> {
    let (s, v) = get(
        c,
        p,
        "/api/v1/query?query=count_over_time(del_metric[10m])",
        tenant,
    );
    assert_eq!(s, 200, "{v}");
    let mut out: Vec<(String, String)> = v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["metric"]["job"].as_str().unwrap_or("").to_string(),
                r["value"][1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn delete_series_and_clean_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(&cfg, format!("{BASE}web: {{enable_admin_api: true}}\n")).unwrap();
    let data = dir.path().join("data");
    let p = Pharos::start(&data, Some(&cfg));
    let c = Client::new();
    let now = chrono::Utc::now().timestamp_millis();
    let ts: Vec<i64> = (0..10).map(|i| now - 60_000 + i * 1000).collect();
    write(&c, &p, None, "a", &ts);
    write(&c, &p, None, "b", &ts);
    write(&c, &p, Some("t1"), "a", &ts);
    assert_eq!(
        counts(&c, &p, None),
        [
            ("a".into(), "10".into()),
            ("a".into(), "10".into()),
            ("b".into(), "10".into())
        ]
    );
    // No match[]: 400; a bad selector: 400.
    let r = c
        .post(p.url("/api/v1/admin/tsdb/delete_series"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c
        .post(p.url("/api/v1/admin/tsdb/delete_series?match[]=%7Bjob%3D"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    // A tenant deletes only its own series.
    let r = as_tenant(
        c.post(p.url("/api/v1/admin/tsdb/delete_series?match[]=del_metric")),
        Some("t1"),
    )
    .send()
    .unwrap();
    assert_eq!(r.status(), 204);
    assert!(counts(&c, &p, Some("t1")).is_empty());
    assert_eq!(counts(&c, &p, None).len(), 2);
    // job="a" from the 3rd to the 6th sample: hidden at once.
    let url = format!(
        "/api/v1/admin/tsdb/delete_series?match[]=del_metric%7Bjob%3D%22a%22%7D&start={}&end={}",
        (ts[2] as f64) / 1000.0,
        (ts[5] as f64) / 1000.0
    );
    let r = c.post(p.url(&url)).send().unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().unwrap_or_default());
    let want: Vec<(String, String)> = vec![("a".into(), "6".into()), ("b".into(), "10".into())];
    assert_eq!(counts(&c, &p, None), want);
    // A sample written later is seen.
    write(&c, &p, None, "a", &[now - 1000]);
    let want: Vec<(String, String)> = vec![("a".into(), "7".into()), ("b".into(), "10".into())];
    assert_eq!(counts(&c, &p, None), want);
    let r = c
        .put(p.url("/api/v1/admin/tsdb/clean_tombstones"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(counts(&c, &p, None), want);
    // Deletions survive kill -9.
    p.kill9();
    let p = Pharos::start(&data, Some(&cfg));
    assert_eq!(counts(&c, &p, None), want);
    assert!(counts(&c, &p, Some("t1")).is_empty());
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..100 {
        if f() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

/// Names of the rule groups a tenant sees.
fn groups(c: &Client, p: &Pharos, tenant: Option<&str>) -> Vec<String> {
    let (s, v) = get(c, p, "/api/v1/rules", tenant);
    assert_eq!(s, 200, "{v}");
    let mut out: Vec<String> = v["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn tenant_rules_alerts_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    for (t, alert) in [("a", "AHigh"), ("b", "BHigh")] {
        let d = dir.path().join("rules").join(t);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("r.yml"),
            format!(
                "groups:\n  - name: g{t}\n    interval: 500ms\n    rules:\n      - alert: {alert}\n        expr: tenant_rule_metric > 0\n      - record: {t}:sum\n        expr: sum(tenant_rule_metric)\n"
            ),
        )
        .unwrap();
    }
    let p = start(
        dir.path(),
        "tenants:\n  rules_directory: rules\n  overrides:\n    lim: {ingestion_rate: 5, ingestion_burst_size: 5}\n    few: {max_global_series_per_user: 1}\n",
    );
    let c = Client::new();
    let now = chrono::Utc::now().timestamp_millis();
    let body = write_request(&[(
        vec![("__name__", "tenant_rule_metric"), ("job", "x")],
        vec![(now - 1000, 1.0)],
    )]);
    let r = as_tenant(c.post(p.url("/api/v1/write")), Some("a"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);

    // Rules: each tenant sees its own groups; without a tenant, all.
    assert_eq!(groups(&c, &p, Some("a")), ["ga"]);
    assert_eq!(groups(&c, &p, Some("b")), ["gb"]);
    assert!(groups(&c, &p, Some("c")).is_empty());
    assert_eq!(groups(&c, &p, None), ["ga", "gb"]);
    // a's rule sees a's series and fires; b's rule sees none of them.
    wait_until("a's alert in /api/v1/alerts", || {
        get(&c, &p, "/api/v1/alerts", Some("a")).1["data"]["alerts"]
            .as_array()
            .is_some_and(|a| a.len() == 1)
    });
    let (_, b) = get(&c, &p, "/api/v1/alerts", Some("b"));
    assert_eq!(b["data"]["alerts"], json!([]), "{b}");
    // The alert reaches the Alertmanager as a's only.
    wait_until("a's alert in /api/v2/alerts", || {
        get(&c, &p, "/api/v2/alerts", Some("a"))
            .1
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["labels"]["alertname"] == "AHigh"))
    });
    let (_, bv) = get(&c, &p, "/api/v2/alerts", Some("b"));
    assert_eq!(bv, json!([]), "{bv}");
    // Recording rules write into their tenant.
    wait_until("a:sum in tenant a", || {
        get(&c, &p, "/api/v1/query?query=a:sum", Some("a")).1["data"]["result"]
            .as_array()
            .is_some_and(|r| r.len() == 1)
    });
    let (_, none) = get(&c, &p, "/api/v1/query?query=a:sum", Some("b"));
    assert_eq!(none["data"]["result"], json!([]));

    // Limits: 10 samples at once exceed a burst of 5 (429, nothing stored); others are free.
    let ten = write_request(&[(
        vec![("__name__", "limited"), ("job", "x")],
        (0..10).map(|i| (now - 10_000 + i * 100, 1.0)).collect(),
    )]);
    for (tenant, want) in [("lim", 429), ("free", 204)] {
        let r = as_tenant(c.post(p.url("/api/v1/write")), Some(tenant))
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .body(ten.clone())
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), want, "{tenant}");
    }
    let (_, q) = get(&c, &p, "/api/v1/query?query=limited", Some("lim"));
    assert_eq!(q["data"]["result"], json!([]));
    // One series allowed: a second one is refused, the first still written to.
    for (job, want) in [("one", 204), ("two", 429), ("one", 204)] {
        let body = write_request(&[(
            vec![("__name__", "few_series"), ("job", job)],
            vec![(chrono::Utc::now().timestamp_millis(), 1.0)],
        )]);
        let r = as_tenant(c.post(p.url("/api/v1/write")), Some("few"))
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .body(body)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), want, "{job}");
    }
}
