//! Integration tests of the built-in Alertmanager in the real binary: Alertmanager API v2
//! shapes and status codes (alerts, groups, silences, status, receivers), webhook delivery in
//! Alertmanager's version-4 JSON, and a `kill -9` restart that keeps silences and sends nothing
//! twice.

use std::time::{Duration, Instant};

use crate::common::{webhook, Pharos};
use serde_json::{json, Value};

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn alertmanager_api_delivery_and_restart() {
    let (hook, got) = webhook();
    let dir = tempfile::tempdir().unwrap();
    let am = dir.path().join("alertmanager.yml");
    std::fs::write(
        &am,
        format!(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 300ms\n  group_interval: 1s\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: '{hook}'\n  - name: unused\n"
        ),
    )
    .unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(&cfg, "alertmanager_config: alertmanager.yml\n").unwrap();
    let data = dir.path().join("data");
    let p = Pharos::start(&data, Some(&cfg));
    let c = client();

    // Status and receivers.
    let st: Value = c
        .get(p.url("/api/v2/status"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(st["cluster"]["status"], "disabled");
    assert!(st["config"]["original"]
        .as_str()
        .unwrap()
        .contains("webhook_configs"));
    assert!(st["versionInfo"]["version"].is_string());
    let rec: Value = c
        .get(p.url("/api/v2/receivers"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(rec, json!([{"name": "hook"}, {"name": "unused"}]));

    // Bad alerts: 400 with a JSON string.
    let r = c
        .post(p.url("/api/v2/alerts"))
        .json(&json!([{"labels": {}}]))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let msg: Value = r.json().unwrap();
    assert!(msg.as_str().unwrap().contains("label"));
    assert_eq!(
        c.post(p.url("/api/v2/alerts"))
            .body("{")
            .send()
            .unwrap()
            .status(),
        400
    );

    // Good alerts are delivered as one group.
    let alerts = json!([
        {"labels": {"alertname": "Disk", "instance": "a"}, "annotations": {"summary": "full"}},
        {"labels": {"alertname": "Disk", "instance": "b"}, "annotations": {"summary": "full"}},
    ]);
    let r = c
        .post(p.url("/api/v2/alerts"))
        .json(&alerts)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_for("webhook", || !got.lock().unwrap().is_empty());
    std::thread::sleep(Duration::from_millis(1500));
    {
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        let w = &got[0];
        assert_eq!(w["version"], "4");
        assert_eq!(w["receiver"], "hook");
        assert_eq!(w["status"], "firing");
        assert_eq!(w["groupLabels"], json!({"alertname": "Disk"}));
        assert_eq!(w["commonAnnotations"], json!({"summary": "full"}));
        assert_eq!(w["groupKey"], "{}:{alertname=\"Disk\"}");
        assert_eq!(w["alerts"].as_array().unwrap().len(), 2);
        assert_eq!(w["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
        assert_eq!(w["truncatedAlerts"], 0);
    }
    // pharos' /metrics carries the Alertmanager metrics.
    let metrics = c.get(p.url("/metrics")).send().unwrap().text().unwrap();
    assert!(
        metrics.contains("alertmanager_notifications_total{integration=\"webhook\"} 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("alertmanager_alerts{state=\"active\"} 2\n"));
    let list: Value = c
        .get(p.url("/api/v2/alerts"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["status"]["state"], "active");
    assert_eq!(list[0]["receivers"], json!([{"name": "hook"}]));
    assert!(list[0]["fingerprint"].as_str().unwrap().len() == 16);
    let groups: Value = c
        .get(p.url("/api/v2/alerts/groups"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(groups[0]["labels"], json!({"alertname": "Disk"}));
    assert_eq!(
        c.get(p.url("/api/v2/alerts?filter=%7Bbad"))
            .send()
            .unwrap()
            .status(),
        400
    );

    // Silences: create, read, list with filter, errors.
    let now = chrono::Utc::now();
    let sil = json!({
        "matchers": [{"name": "alertname", "value": "Net", "isRegex": false, "isEqual": true}],
        "startsAt": now.to_rfc3339(),
        "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
        "createdBy": "test",
        "comment": "quiet",
    });
    let r: Value = c
        .post(p.url("/api/v2/silences"))
        .json(&sil)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = r["silenceID"].as_str().unwrap().to_string();
    let one: Value = c
        .get(p.url(&format!("/api/v2/silence/{id}")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(one["status"]["state"], "active");
    assert_eq!(one["comment"], "quiet");
    let filtered: Value = c
        .get(p.url("/api/v2/silences?filter=alertname%3D%22Net%22"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    let none: Value = c
        .get(p.url("/api/v2/silences?filter=alertname%3D%22Other%22"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(none.as_array().unwrap().len(), 0);
    assert_eq!(
        c.get(p.url("/api/v2/silence/nope"))
            .send()
            .unwrap()
            .status(),
        404
    );
    let mut with_unknown_id = sil.clone();
    with_unknown_id["id"] = json!("00000000-0000-4000-8000-000000000000");
    assert_eq!(
        c.post(p.url("/api/v2/silences"))
            .json(&with_unknown_id)
            .send()
            .unwrap()
            .status(),
        404
    );
    let mut empty = sil.clone();
    empty["matchers"] = json!([]);
    assert_eq!(
        c.post(p.url("/api/v2/silences"))
            .json(&empty)
            .send()
            .unwrap()
            .status(),
        400
    );

    // Crash and restart: the silence is still there, the group is not re-sent.
    p.kill9();
    let p = Pharos::start(&data, Some(&cfg));
    let one: Value = c
        .get(p.url(&format!("/api/v2/silence/{id}")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(one["status"]["state"], "active");
    let r = c
        .post(p.url("/api/v2/alerts"))
        .json(&alerts)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    // The silenced alert is suppressed and not delivered either.
    c.post(p.url("/api/v2/alerts"))
        .json(&json!([{"labels": {"alertname": "Net"}}]))
        .send()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    assert_eq!(got.lock().unwrap().len(), 1);
    let net: Value = c
        .get(p.url("/api/v2/alerts?filter=alertname%3DNet"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(net[0]["status"]["state"], "suppressed");
    assert_eq!(net[0]["status"]["silencedBy"], json!([id]));
    // Expire: 200, then the silence is expired.
    assert_eq!(
        c.delete(p.url(&format!("/api/v2/silence/{id}")))
            .send()
            .unwrap()
            .status(),
        200
    );
    let one: Value = c
        .get(p.url(&format!("/api/v2/silence/{id}")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(one["status"]["state"], "expired");
}
