//! Integration test of Grafana's annotations API in the real binary: create (point and region,
//! on a dashboard/panel), query by range, tags (all/any), dashboardUID, panelId, type and limit,
//! PUT/PATCH/DELETE, the tags list, 4xx on bad input, and everything still there after kill -9.

use crate::common::Pharos;
use serde_json::{json, Value};

fn call(method: reqwest::Method, p: &Pharos, path: &str, body: Option<&str>) -> (u16, Value) {
    let mut r = reqwest::blocking::Client::new().request(method, p.url(path));
    if let Some(b) = body {
        r = r
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r = r.send().unwrap();
    let code = r.status().as_u16();
    (code, r.json().unwrap_or(Value::Null))
}

fn get(p: &Pharos, path: &str) -> (u16, Value) {
    call(reqwest::Method::GET, p, path, None)
}

fn post(p: &Pharos, path: &str, body: &Value) -> (u16, Value) {
    call(reqwest::Method::POST, p, path, Some(&body.to_string()))
}

fn texts(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| a["text"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn annotations_crud_query_and_kill9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(
        &cfg,
        "collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\n",
    )
    .unwrap();
    let p = Pharos::start(&data, Some(&cfg));

    let (code, _) = post(
        &p,
        "/api/dashboards/db",
        &json!({"dashboard": {"uid": "ann-dash", "title": "Ann", "panels": []}}),
    );
    assert_eq!(code, 200);

    let (code, v) = post(
        &p,
        "/api/annotations",
        &json!({"time": 1_000_000, "text": "deploy v1", "tags": ["deploy", "api"]}),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["message"], "Annotation added");
    let deploy = v["id"].as_i64().unwrap();
    let (code, v) = post(
        &p,
        "/api/annotations",
        &json!({"time": 2_000_000, "timeEnd": 2_600_000, "text": "outage", "tags": ["incident"],
                "dashboardUID": "ann-dash", "panelId": 3}),
    );
    assert_eq!(code, 200, "{v}");
    let outage = v["id"].as_i64().unwrap();
    post(
        &p,
        "/api/annotations",
        &json!({"time": 3_000_000, "text": "deploy v2", "tags": ["deploy"]}),
    );

    // Bad input: clear 4xx messages.
    let (code, v) = post(&p, "/api/annotations", &json!({"time": 5}));
    assert_eq!(
        (code, v["message"].as_str()),
        (400, Some("Text field should not be empty"))
    );
    let (code, _) = call(reqwest::Method::POST, &p, "/api/annotations", Some("{nope"));
    assert_eq!(code, 400);
    let (code, v) = post(&p, "/api/annotations", &json!({"text": "x", "tags": "a"}));
    assert_eq!(code, 400, "{v}");
    let (code, v) = post(
        &p,
        "/api/annotations",
        &json!({"text": "x", "dashboardUID": "missing"}),
    );
    assert_eq!(
        (code, v["message"].as_str()),
        (400, Some("Dashboard not found"))
    );
    assert_eq!(get(&p, "/api/annotations?limit=x").0, 400);
    assert_eq!(get(&p, "/api/annotations?type=bogus").0, 400);
    assert_eq!(
        call(reqwest::Method::DELETE, &p, "/api/annotations/abc", None).0,
        400
    );

    // Queries: newest first; range overlap; tags; dashboard; panel; limit; type.
    let (_, all) = get(&p, "/api/annotations");
    assert_eq!(texts(&all), ["deploy v2", "outage", "deploy v1"]);
    let o = &all[1];
    assert_eq!(o["dashboardUID"], "ann-dash");
    assert!(o["dashboardId"].as_i64().unwrap() > 0);
    assert_eq!(
        (o["panelId"].as_i64(), o["timeEnd"].as_i64()),
        (Some(3), Some(2_600_000))
    );
    assert_eq!(all[0]["timeEnd"], all[0]["time"]);
    let (_, v) = get(&p, "/api/annotations?from=2500000&to=2900000");
    assert_eq!(texts(&v), ["outage"]);
    let (_, v) = get(&p, "/api/annotations?tags=deploy&tags=api");
    assert_eq!(texts(&v), ["deploy v1"]);
    let (_, v) = get(&p, "/api/annotations?tags=api&tags=incident&matchAny=true");
    assert_eq!(texts(&v), ["outage", "deploy v1"]);
    let (_, v) = get(&p, "/api/annotations?dashboardUID=ann-dash&panelId=3");
    assert_eq!(texts(&v), ["outage"]);
    let (_, v) = get(&p, "/api/annotations?limit=1");
    assert_eq!(texts(&v), ["deploy v2"]);
    let (_, v) = get(&p, "/api/annotations?type=alert");
    assert_eq!(texts(&v), Vec::<String>::new());
    let (_, v) = get(&p, "/api/annotations/tags");
    assert_eq!(v["result"]["tags"][0], json!({"tag": "deploy", "count": 2}));

    // PATCH keeps what is not sent; PUT replaces; DELETE removes.
    let (code, v) = call(
        reqwest::Method::PATCH,
        &p,
        &format!("/api/annotations/{deploy}"),
        Some(r#"{"text": "deploy v1 (rolled back)"}"#),
    );
    assert_eq!(
        (code, v["message"].as_str()),
        (200, Some("Annotation patched"))
    );
    let (code, v) = call(
        reqwest::Method::PUT,
        &p,
        &format!("/api/annotations/{outage}"),
        Some(
            r#"{"time": 2000000, "timeEnd": 2700000, "text": "outage (db)", "tags": ["incident", "db"]}"#,
        ),
    );
    assert_eq!(
        (code, v["message"].as_str()),
        (200, Some("Annotation updated"))
    );
    let (code, v) = call(
        reqwest::Method::PUT,
        &p,
        "/api/annotations/9999",
        Some(r#"{"text": "x"}"#),
    );
    assert_eq!(
        (code, v["message"].as_str()),
        (404, Some("Annotation not found"))
    );
    let last = all[0]["id"].as_i64().unwrap();
    let (code, v) = call(
        reqwest::Method::DELETE,
        &p,
        &format!("/api/annotations/{last}"),
        None,
    );
    assert_eq!(
        (code, v["message"].as_str()),
        (200, Some("Annotation deleted"))
    );

    // A crash keeps every acknowledged change.
    p.kill9();
    let p = Pharos::start(&data, Some(&cfg));
    let (_, v) = get(&p, "/api/annotations");
    assert_eq!(texts(&v), ["outage (db)", "deploy v1 (rolled back)"]);
    assert_eq!(v[0]["tags"], json!(["incident", "db"]));
    assert_eq!(v[0]["timeEnd"], 2_700_000);
    assert_eq!(v[1]["tags"], json!(["deploy", "api"]));
    let (_, v) = post(&p, "/api/annotations", &json!({"text": "after restart"}));
    assert!(v["id"].as_i64().unwrap() > outage);
}
