//! Integration tests of Grafana's dashboard API in the real binary: save/get/search/delete with
//! Grafana's shapes and status codes, version mismatch, import of bare and wrapped dashboards
//! (the CrewAI monitoring guide's one included), data sources and health, provisioned folders (external
//! edits seen, writable saves written back as a minimal diff, read-only saves refused) and a
//! restart that keeps everything.

use crate::common::Pharos;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

fn get(p: &Pharos, path: &str) -> (u16, Value) {
    let r = client().get(p.url(path)).send().unwrap();
    let code = r.status().as_u16();
    (code, r.json().unwrap_or(Value::Null))
}

fn post(p: &Pharos, path: &str, body: &Value) -> (u16, Value) {
    post_raw(p, path, &body.to_string())
}

fn post_raw(p: &Pharos, path: &str, body: &str) -> (u16, Value) {
    let r = client()
        .post(p.url(path))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap();
    let code = r.status().as_u16();
    (code, r.json().unwrap_or(Value::Null))
}

/// The `title` of every hit of a search answer.
fn titles_of(hits: &Value) -> Vec<&str> {
    hits.as_array()
        .map(|a| a.iter().filter_map(|h| h["title"].as_str()).collect())
        .unwrap_or_default()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}");
}

/// The "Grafana Dashboard JSON" block of the CrewAI monitoring guide (the API-wrapped form).
fn guide_dashboard() -> String {
    let path = std::env::var("CREWAI_GUIDE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seed/monitoring-guide.md")
        });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "reading the CrewAI monitoring guide {}: {e}",
            path.display()
        )
    });
    let start = text
        .find("### Grafana Dashboard JSON")
        .expect("guide has a Grafana Dashboard JSON section");
    let rest = &text[start..];
    let open = rest.find("```json").expect("json block") + "```json".len();
    let close = rest[open..].find("```").expect("block end");
    rest[open..open + close].trim().to_string()
}

#[test]
fn dashboards_api_shapes_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = Pharos::start(&data, None);

    // Create: Grafana's response shape (raw text: the key order is part of the test).
    let (code, saved) = post_raw(
        &p,
        "/api/dashboards/db",
        r#"{"dashboard": {"title": "Production Overview", "tags": ["prod", "api"],
            "panels": [{"type": "timeseries", "title": "Up", "targets": [{"expr": "up"}]}],
            "schemaVersion": 39}, "overwrite": false, "message": "first"}"#,
    );
    assert_eq!(code, 200, "{saved}");
    let uid = saved["uid"].as_str().unwrap().to_string();
    assert!(!uid.is_empty() && uid.len() <= 40);
    assert_eq!(saved["status"], "success");
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["slug"], "production-overview");
    assert_eq!(saved["url"], format!("/d/{uid}/production-overview"));
    assert!(saved["id"].as_i64().unwrap() > 0);

    // Get: dashboard in its own key order, and Grafana's meta.
    let text = client()
        .get(p.url(&format!("/api/dashboards/uid/{uid}")))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let (t, g, pn) = (
        text.find("\"title\":\"Production Overview\"").unwrap(),
        text.find("\"tags\"").unwrap(),
        text.find("\"panels\"").unwrap(),
    );
    assert!(t < g && g < pn, "key order kept: {text}");
    let got: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(got["dashboard"]["uid"], uid.as_str());
    assert_eq!(got["dashboard"]["version"], 1);
    assert_eq!(got["dashboard"]["id"], saved["id"]);
    let meta = &got["meta"];
    assert_eq!(meta["type"], "db");
    assert_eq!(meta["slug"], "production-overview");
    assert_eq!(meta["url"], format!("/d/{uid}/production-overview"));
    assert_eq!(meta["version"], 1);
    assert_eq!(meta["provisioned"], false);
    assert_eq!(meta["provisionedExternalId"], "");
    assert_eq!(meta["canSave"], true);
    assert_eq!(meta["canEdit"], true);
    assert_eq!(meta["folderTitle"], "General");
    assert!(meta["created"].as_str().unwrap().ends_with('Z'));
    assert!(meta["updated"].is_string());

    // Update with the current version; a stale one is refused unless overwrite.
    let mut d = got["dashboard"].clone();
    d["title"] = json!("Production Overview v2");
    let (code, up) = post(&p, "/api/dashboards/db", &json!({"dashboard": d}));
    assert_eq!(code, 200, "{up}");
    assert_eq!(up["version"], 2);
    assert_eq!(up["uid"], uid.as_str());
    let (code, stale) = post(&p, "/api/dashboards/db", &json!({"dashboard": d}));
    assert_eq!(code, 412);
    assert_eq!(
        stale,
        json!({"message": "The dashboard has been changed by someone else", "status": "version-mismatch"})
    );
    let (code, forced) = post(
        &p,
        "/api/dashboards/db",
        &json!({"dashboard": d, "overwrite": true}),
    );
    assert_eq!(code, 200);
    assert_eq!(forced["version"], 3);

    // Bad input: 400 with a message.
    let (code, e) = post(
        &p,
        "/api/dashboards/db",
        &json!({"dashboard": {"panels": []}}),
    );
    assert_eq!(
        (code, e["message"].as_str()),
        (400, Some("Dashboard title cannot be empty"))
    );
    let (code, e) = post(&p, "/api/dashboards/db", &json!({"overwrite": true}));
    assert_eq!(code, 400);
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("dashboard is required"));
    let (code, e) = post_raw(&p, "/api/dashboards/db", "{\"dashboard\": {");
    assert_eq!(code, 400);
    assert!(
        e["message"].as_str().unwrap().contains("invalid JSON"),
        "{e}"
    );
    let (code, e) = post(
        &p,
        "/api/dashboards/db",
        &json!({"dashboard": {"title": "x", "uid": "../../etc"}}),
    );
    assert_eq!(code, 400, "{e}");
    let (code, e) = get(&p, "/api/dashboards/uid/nope");
    assert_eq!((code, e), (404, json!({"message": "Dashboard not found"})));

    // Import: the CrewAI monitoring guide's wrapped dashboard (panels without type, id or datasource).
    let guide = guide_dashboard();
    let (code, imp) = post_raw(&p, "/api/dashboards/import", &guide);
    assert_eq!(code, 200, "{imp}");
    assert_eq!(imp["title"], "CrewAI Application Dashboard");
    assert_eq!(imp["imported"], true);
    let guide_uid = imp["uid"].as_str().unwrap().to_string();
    assert_eq!(
        imp["importedUrl"],
        format!("/d/{guide_uid}/crewai-application-dashboard")
    );
    assert_eq!(imp["importedUri"], "db/crewai-application-dashboard");
    assert!(imp["dashboardId"].as_i64().unwrap() > 0);
    let (_, g) = get(&p, &format!("/api/dashboards/uid/{guide_uid}"));
    let panels = g["dashboard"]["panels"].as_array().unwrap();
    assert_eq!(panels.len(), 8);
    assert_eq!(panels[0]["title"], "Request Rate");
    // The same wrapped text through /db, and the import API's own wrapper around it.
    let wrapped: Value = serde_json::from_str(&guide).unwrap();
    let (code, again) = post(
        &p,
        "/api/dashboards/import",
        &json!({"dashboard": wrapped, "overwrite": true}),
    );
    assert_eq!(code, 200, "{again}");
    assert_eq!(again["uid"], guide_uid.as_str(), "same title overwrites");
    // Bare dashboard with Grafana __inputs: ${DS_PROMETHEUS} filled.
    let bare = json!({
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource",
                      "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "__requires": [{"type": "datasource", "id": "prometheus", "name": "Prometheus"}],
        "id": 42, "uid": "node-exp", "title": "Node Exporter", "version": 7,
        "panels": [{"type": "stat", "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
                    "targets": [{"expr": "up", "datasource": "${DS_PROMETHEUS}"}]}],
        "templating": {"list": [{"name": "job", "type": "query", "datasource": "${DS_PROMETHEUS}",
                                 "query": "label_values(up, job)"}]}
    });
    let (code, imp) = post(
        &p,
        "/api/dashboards/import",
        &json!({"dashboard": bare, "overwrite": true,
                "inputs": [{"name": "DS_PROMETHEUS", "type": "datasource", "pluginId": "prometheus", "value": "prometheus"}]}),
    );
    assert_eq!(code, 200, "{imp}");
    assert_eq!(imp["uid"], "node-exp");
    let (_, g) = get(&p, "/api/dashboards/uid/node-exp");
    let d = &g["dashboard"];
    assert!(d.get("__inputs").is_none());
    assert_eq!(d["panels"][0]["datasource"]["uid"], "prometheus");
    assert_eq!(d["templating"]["list"][0]["datasource"], "prometheus");
    assert_eq!(d["version"], 1);
    // A bare dashboard posted as the whole import body.
    let (code, imp) = post(
        &p,
        "/api/dashboards/import",
        &json!({"title": "Bare", "panels": []}),
    );
    assert_eq!(code, 200, "{imp}");
    assert_eq!(imp["title"], "Bare");

    // Search and tags.
    let (code, hits) = get(&p, "/api/search?query=production");
    assert_eq!(code, 200);
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 1);
    let h = &hits[0];
    for k in [
        "id",
        "uid",
        "title",
        "uri",
        "url",
        "slug",
        "type",
        "tags",
        "isStarred",
        "folderTitle",
    ] {
        assert!(h.get(k).is_some(), "hit has {k}: {h}");
    }
    assert_eq!(h["type"], "dash-db");
    assert_eq!(h["uid"], uid.as_str());
    assert_eq!(h["uri"], "db/production-overview-v2");
    assert_eq!(h["tags"], json!(["prod", "api"]));
    assert_eq!(h["isStarred"], false);
    let (_, all) = get(&p, "/api/search?type=dash-db");
    let titles: Vec<&str> = titles_of(&all);
    assert_eq!(
        titles,
        [
            "Bare",
            "CrewAI Application Dashboard",
            "Node Exporter",
            "Production Overview v2"
        ]
    );
    let (_, tagged) = get(&p, "/api/search?tag=prod&tag=api");
    assert_eq!(tagged.as_array().unwrap().len(), 1);
    let (_, limited) = get(&p, "/api/search?type=dash-db&limit=2&page=2");
    assert_eq!(limited[0]["title"], "Node Exporter");
    let (code, _) = get(&p, "/api/search?limit=lots");
    assert_eq!(code, 400);
    let (_, tags) = get(&p, "/api/dashboards/tags");
    assert_eq!(
        tags,
        json!([{"term": "api", "count": 1}, {"term": "prod", "count": 1}])
    );

    // Health and data sources.
    let (code, h) = get(&p, "/api/health");
    assert_eq!(code, 200);
    assert_eq!(h["database"], "ok");
    assert!(h["version"].is_string() && h["commit"].is_string());
    let (_, ds) = get(&p, "/api/datasources");
    let uids: Vec<&str> = ds
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["uid"].as_str().unwrap())
        .collect();
    for want in ["prometheus", "loki", "jaeger", "elasticsearch"] {
        assert!(uids.contains(&want), "{uids:?}");
    }
    let prom = &ds[0];
    assert_eq!(prom["type"], "prometheus");
    assert_eq!(prom["isDefault"], true);
    assert_eq!(prom["access"], "proxy");
    assert_eq!(prom["url"], p.base.as_str());
    let (code, loki) = get(&p, "/api/datasources/uid/loki");
    assert_eq!(code, 200);
    assert_eq!(
        (loki["type"].as_str(), loki["name"].as_str()),
        (Some("loki"), Some("Loki"))
    );
    assert_eq!(get(&p, "/api/datasources/uid/mysql").0, 404);
    let (code, fs) = get(&p, "/api/frontend/settings");
    assert_eq!(code, 200);
    assert_eq!(fs["datasources"]["Prometheus"]["uid"], "prometheus");
    assert!(fs["buildInfo"]["version"].is_string());

    // Delete.
    let r = client()
        .delete(p.url("/api/dashboards/uid/node-exp"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().unwrap();
    assert_eq!(body["title"], "Node Exporter");
    assert_eq!(body["message"], "Dashboard Node Exporter deleted");
    assert_eq!(get(&p, "/api/dashboards/uid/node-exp").0, 404);
    let r = client()
        .delete(p.url("/api/dashboards/uid/node-exp"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);

    // Stored one file per dashboard; a restart (even kill -9) keeps them.
    assert!(data.join(format!("dashboards/{uid}.json")).exists());
    p.kill9();
    let p = Pharos::start(&data, None);
    let (code, g) = get(&p, &format!("/api/dashboards/uid/{uid}"));
    assert_eq!(code, 200);
    assert_eq!(g["dashboard"]["title"], "Production Overview v2");
    assert_eq!(g["meta"]["version"], 3);
    assert_eq!(g["dashboard"]["id"], saved["id"]);
    let (_, all) = get(&p, "/api/search?type=dash-db");
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert_eq!(get(&p, "/api/dashboards/uid/node-exp").0, 404);
}

const PROVISIONED: &str = r#"{
  "title": "Service A",
  "uid": "svc-a",
  "tags": [
    "code"
  ],
  "panels": [
    {
      "type": "timeseries",
      "title": "Requests",
      "gridPos": {
        "h": 8,
        "w": 12,
        "x": 0,
        "y": 0
      },
      "targets": [
        {
          "expr": "sum(rate(http_requests_total[5m]))"
        }
      ]
    }
  ],
  "schemaVersion": 39,
  "version": 3
}
"#;

#[test]
fn provisioned_folders_watch_write_back_and_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let code_dir = dir.path().join("dashboards");
    std::fs::create_dir_all(code_dir.join("team")).unwrap();
    std::fs::write(code_dir.join("a.json"), PROVISIONED).unwrap();
    std::fs::write(
        code_dir.join("team/b.json"),
        r#"{"dashboard": {"title": "B", "panels": []}, "overwrite": true}"#,
    )
    .unwrap();
    std::fs::write(
        code_dir.join("broken.json"),
        "{\n  \"title\": \"x\",\n  oops\n}\n",
    )
    .unwrap();
    let ro_dir = dir.path().join("ro");
    std::fs::create_dir_all(&ro_dir).unwrap();
    std::fs::write(ro_dir.join("c.json"), r#"{"title": "C", "uid": "ro-c"}"#).unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(
        &cfg,
        "dashboards:\n  - path: ./dashboards\n    writable: true\n  - path: ro\n    folder: Read Only\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let p = Pharos::start_lifecycle(&data, &cfg);

    let (code, a) = get(&p, "/api/dashboards/uid/svc-a");
    assert_eq!(code, 200, "{a}");
    assert_eq!(a["meta"]["provisioned"], true);
    assert_eq!(a["meta"]["provisionedExternalId"], "a.json");
    assert_eq!(a["meta"]["canSave"], true);
    assert_eq!(a["meta"]["version"], 3);
    let (_, hits) = get(&p, "/api/search?type=dash-db");
    let titles: Vec<&str> = titles_of(&hits);
    assert_eq!(
        titles,
        ["B", "C", "Service A"],
        "the broken file is skipped"
    );
    let b = hits.as_array().unwrap()[0].clone();
    let b_uid = b["uid"].as_str().unwrap().to_string();
    let (_, bd) = get(&p, &format!("/api/dashboards/uid/{b_uid}"));
    assert_eq!(bd["meta"]["provisionedExternalId"], "team/b.json");
    let (_, c) = get(&p, "/api/dashboards/uid/ro-c");
    assert_eq!(c["meta"]["folderTitle"], "Read Only");
    assert_eq!(c["meta"]["canSave"], false);

    // An edit of the file shows up, with a higher version.
    std::fs::write(
        code_dir.join("a.json"),
        PROVISIONED.replace("\"Service A\"", "\"Service A edited\""),
    )
    .unwrap();
    wait_for("the edited file", || {
        get(&p, "/api/dashboards/uid/svc-a").1["dashboard"]["title"] == "Service A edited"
    });
    let (_, a) = get(&p, "/api/dashboards/uid/svc-a");
    assert_eq!(a["meta"]["version"], 4);

    // A save writes the file back: only the title and version lines change. The dashboard is
    // edited as a browser would, keeping its key order.
    let before = std::fs::read_to_string(code_dir.join("a.json")).unwrap();
    let text = client()
        .get(p.url("/api/dashboards/uid/svc-a"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let mut top = dashboards::json::parse(text.as_bytes()).unwrap();
    let mut d = top
        .as_object_mut()
        .and_then(|m| m.remove("dashboard"))
        .unwrap();
    dashboards::grafana::set_key(&mut d, "title", "Service A saved".into());
    let body = format!(r#"{{"dashboard": {}}}"#, dashboards::json::to_compact(&d));
    let (code, saved) = post_raw(&p, "/api/dashboards/db", &body);
    assert_eq!(code, 200, "{saved}");
    assert_eq!(saved["version"], 5);
    let after = std::fs::read_to_string(code_dir.join("a.json")).unwrap();
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(x, y)| x != y)
        .collect();
    assert_eq!(before.lines().count(), after.lines().count(), "{after}");
    assert_eq!(
        changed,
        [
            (
                "  \"title\": \"Service A edited\",",
                "  \"title\": \"Service A saved\","
            ),
            ("  \"version\": 3", "  \"version\": 5"),
        ]
    );
    assert!(after.ends_with("}\n"));
    // Our own write is not taken for an edit.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(get(&p, "/api/dashboards/uid/svc-a").1["meta"]["version"], 5);

    // A read-only provider refuses saves; provisioned dashboards are not deleted by the API.
    let (code, e) = post(
        &p,
        "/api/dashboards/db",
        &json!({"dashboard": c["dashboard"]}),
    );
    assert_eq!(
        (code, e["message"].as_str()),
        (400, Some("Cannot save provisioned dashboard"))
    );
    let r = client()
        .delete(p.url("/api/dashboards/uid/ro-c"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);

    // Files added and removed come and go.
    std::fs::remove_file(code_dir.join("team/b.json")).unwrap();
    std::fs::write(
        code_dir.join("team/new.json"),
        r#"{"title": "New", "uid": "new"}"#,
    )
    .unwrap();
    wait_for("the removed and added files", || {
        get(&p, &format!("/api/dashboards/uid/{b_uid}")).0 == 404
            && get(&p, "/api/dashboards/uid/new").0 == 200
    });

    // A config reload that adds a provider loads its folder.
    let extra = dir.path().join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::write(extra.join("x.json"), r#"{"title": "X", "uid": "extra-x"}"#).unwrap();
    std::fs::write(
        &cfg,
        "dashboards:\n  - path: ./dashboards\n    writable: true\n  - path: ro\n    folder: Read Only\n  - {path: extra, folder: Extra}\n",
    )
    .unwrap();
    let r = client().post(p.url("/-/reload")).send().unwrap();
    assert!(r.status().is_success());
    wait_for("the provider added by a reload", || {
        get(&p, "/api/dashboards/uid/extra-x").1["meta"]["folderTitle"] == "Extra"
    });
    let (_, folders) = get(&p, "/api/folders");
    let titles: Vec<&str> = folders
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Extra", "Read Only"]);
    // The saved (writable) dashboard kept its version across the provider change.
    assert_eq!(get(&p, "/api/dashboards/uid/svc-a").1["meta"]["version"], 5);

    // After a restart the saved file content is what is served.
    drop(p);
    let p = Pharos::start(&data, Some(&cfg));
    let (_, a) = get(&p, "/api/dashboards/uid/svc-a");
    assert_eq!(a["dashboard"]["title"], "Service A saved");
    assert_eq!(a["meta"]["version"], 5);
    assert_eq!(get(&p, "/api/dashboards/uid/new").0, 200);
}

#[test]
fn versions_history_diffable_restorable_and_kept_over_kill9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = Pharos::start(&data, None);
    let mut version = 0;
    for (i, title) in ["Checkout v1", "Checkout v2", "Checkout v3"]
        .iter()
        .enumerate()
    {
        let (code, saved) = post(
            &p,
            "/api/dashboards/db",
            &json!({
                "dashboard": {"uid": "ver-a", "title": title, "version": version, "panels": [{"id": 1, "type": "stat", "title": format!("p{i}")}]},
                "message": format!("save {}", i + 1),
            }),
        );
        assert_eq!(code, 200, "{saved}");
        version = saved["version"].as_i64().unwrap();
        assert_eq!(version, i as i64 + 1);
    }
    // Newest first, Grafana's fields.
    let (code, list) = get(&p, "/api/dashboards/uid/ver-a/versions");
    assert_eq!(code, 200, "{list}");
    let versions = list["versions"].as_array().unwrap();
    let nums: Vec<i64> = versions
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(nums, [3, 2, 1]);
    assert_eq!(versions[0]["message"], "save 3");
    assert_eq!(versions[0]["parentVersion"], 2);
    assert_eq!(versions[0]["dashboardUid"], "ver-a");
    assert!(versions[0]["created"].as_str().unwrap().ends_with('Z'));
    let (_, limited) = get(&p, "/api/dashboards/uid/ver-a/versions?limit=1");
    assert_eq!(limited["versions"].as_array().unwrap().len(), 1);
    // One version, with the dashboard as it was.
    let (code, v1) = get(&p, "/api/dashboards/uid/ver-a/versions/1");
    assert_eq!(code, 200, "{v1}");
    assert_eq!(v1["data"]["title"], "Checkout v1");
    assert_eq!(v1["data"]["panels"][0]["title"], "p0");
    assert_eq!(v1["version"], 1);
    // Restore: version 1 becomes version 4.
    let (code, r) = post(
        &p,
        "/api/dashboards/uid/ver-a/restore",
        &json!({"version": 1}),
    );
    assert_eq!(code, 200, "{r}");
    assert_eq!(r["version"], 4);
    assert_eq!(r["status"], "success");
    let (_, cur) = get(&p, "/api/dashboards/uid/ver-a");
    assert_eq!(cur["dashboard"]["title"], "Checkout v1");
    assert_eq!(cur["dashboard"]["version"], 4);
    let (_, list) = get(&p, "/api/dashboards/uid/ver-a/versions");
    assert_eq!(list["versions"][0]["restoredFrom"], 1);
    assert_eq!(list["versions"][0]["message"], "Restored from version 1");
    // Errors: 404 for an unknown dashboard or version, 400 for bad input.
    assert_eq!(get(&p, "/api/dashboards/uid/nope/versions").0, 404);
    assert_eq!(get(&p, "/api/dashboards/uid/ver-a/versions/99").0, 404);
    assert_eq!(get(&p, "/api/dashboards/uid/ver-a/versions/abc").0, 400);
    assert_eq!(
        get(&p, "/api/dashboards/uid/ver-a/versions?limit=-1").0,
        400
    );
    assert_eq!(
        post_raw(&p, "/api/dashboards/uid/ver-a/restore", "{}").0,
        400
    );
    assert_eq!(
        post_raw(&p, "/api/dashboards/uid/ver-a/restore", "nope").0,
        400
    );
    assert_eq!(
        post(
            &p,
            "/api/dashboards/uid/ver-a/restore",
            &json!({"version": 42})
        )
        .0,
        400
    );
    assert_eq!(
        post(
            &p,
            "/api/dashboards/uid/nope/restore",
            &json!({"version": 1})
        )
        .0,
        404
    );
    // kill -9: the history is on disk.
    p.kill9();
    let p = Pharos::start(&data, None);
    let (_, list) = get(&p, "/api/dashboards/uid/ver-a/versions");
    let nums: Vec<i64> = list["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(nums, [4, 3, 2, 1]);
    // Deleting the dashboard drops its history.
    let r = client()
        .delete(p.url("/api/dashboards/uid/ver-a"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(get(&p, "/api/dashboards/uid/ver-a/versions").0, 404);
    assert!(!data.join("dashboards/versions/ver-a").exists());
}

#[test]
fn stars_mark_dashboards_filter_search_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = Pharos::start(&data, None);
    for (uid, title) in [("star-a", "Alpha"), ("star-b", "Beta")] {
        let (code, body) = post(
            &p,
            "/api/dashboards/db",
            &json!({"dashboard": {"uid": uid, "title": title}}),
        );
        assert_eq!(code, 200, "{body}");
    }
    let (code, body) = post(&p, "/api/user/stars/dashboard/uid/star-b", &json!({}));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["message"], "Dashboard starred!");
    assert_eq!(
        post(&p, "/api/user/stars/dashboard/uid/nope", &json!({})).0,
        404
    );
    let (_, hits) = get(&p, "/api/search?starred=true");
    let titles: Vec<&str> = titles_of(&hits);
    assert_eq!(titles, ["Beta"]);
    assert_eq!(hits[0]["isStarred"], true);
    let (_, all) = get(&p, "/api/search?type=dash-db");
    let starred: Vec<bool> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["isStarred"].as_bool().unwrap())
        .collect();
    assert_eq!(starred, [false, true]);
    let (_, d) = get(&p, "/api/dashboards/uid/star-b");
    assert_eq!(d["meta"]["isStarred"], true);
    assert_eq!(get(&p, "/api/user/stars").1, json!(["star-b"]));
    p.kill9();
    let p = Pharos::start(&data, None);
    assert_eq!(get(&p, "/api/user/stars").1, json!(["star-b"]));
    let r = client()
        .delete(p.url("/api/user/stars/dashboard/uid/star-b"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(get(&p, "/api/search?starred=true").1, json!([]));
}

fn send(p: &Pharos, method: reqwest::Method, path: &str, body: &Value) -> (u16, Value) {
    let r = client()
        .request(method, p.url(path))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap();
    let code = r.status().as_u16();
    (code, r.json().unwrap_or(Value::Null))
}

#[test]
fn folders_create_rename_delete_with_their_dashboards() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = Pharos::start(&data, None);
    let (code, f) = post(
        &p,
        "/api/folders",
        &json!({"uid": "ops", "title": "Operations"}),
    );
    assert_eq!(code, 200, "{f}");
    assert_eq!(
        (f["uid"].as_str(), f["title"].as_str()),
        (Some("ops"), Some("Operations"))
    );
    assert!(f["id"].as_i64().unwrap() > 0);
    // Generated uid; conflicts and bad input.
    let (code, g) = post(&p, "/api/folders", &json!({"title": "Teams"}));
    assert_eq!(code, 200, "{g}");
    assert!(!g["uid"].as_str().unwrap().is_empty());
    assert_eq!(
        post(&p, "/api/folders", &json!({"uid": "ops", "title": "Other"})).0,
        409
    );
    assert_eq!(
        post(&p, "/api/folders", &json!({"title": "Operations"})).0,
        409
    );
    assert_eq!(post(&p, "/api/folders", &json!({"title": "  "})).0, 400);
    assert_eq!(post(&p, "/api/folders", &json!({"title": 5})).0, 400);
    assert_eq!(post_raw(&p, "/api/folders", "nope").0, 400);
    // A dashboard in it; search by folder.
    let (code, d) = post(
        &p,
        "/api/dashboards/db",
        &json!({"dashboard": {"uid": "in-ops", "title": "Pager"}, "folderUid": "ops"}),
    );
    assert_eq!(code, 200, "{d}");
    let (_, hits) = get(&p, "/api/search?folderUIDs=ops");
    assert_eq!(titles_of(&hits), ["Pager"]);
    assert_eq!(hits[0]["folderTitle"], "Operations");
    // Rename; kill -9 keeps it.
    let (code, r) = send(
        &p,
        reqwest::Method::PUT,
        "/api/folders/ops",
        &json!({"title": "Ops & SRE"}),
    );
    assert_eq!(code, 200, "{r}");
    assert_eq!(
        send(
            &p,
            reqwest::Method::PUT,
            "/api/folders/none",
            &json!({"title": "x"})
        )
        .0,
        404
    );
    p.kill9();
    let p = Pharos::start(&data, None);
    let (_, list) = get(&p, "/api/folders");
    assert_eq!(titles_of(&list), ["Ops & SRE", "Teams"]);
    let (_, one) = get(&p, "/api/folders/ops");
    assert_eq!(one["title"], "Ops & SRE");
    // Delete: the folder and its dashboards go.
    let (code, del) = send(&p, reqwest::Method::DELETE, "/api/folders/ops", &json!({}));
    assert_eq!(code, 200, "{del}");
    assert_eq!(del["message"], "Folder deleted");
    assert_eq!(get(&p, "/api/dashboards/uid/in-ops").0, 404);
    assert_eq!(get(&p, "/api/folders/ops").0, 404);
    assert_eq!(
        send(&p, reqwest::Method::DELETE, "/api/folders/ops", &json!({})).0,
        404
    );
}

/// What the UI's "Move" does: the stored dashboard saved again with another `folderUid` lands in
/// that folder (search and meta say so) with its panels; a save without `folderUid` keeps the
/// folder; `""` moves it back to General.
#[test]
fn dashboards_move_between_folders() {
    let dir = tempfile::tempdir().unwrap();
    let p = Pharos::start(&dir.path().join("data"), None);
    for (uid, title) in [("pay", "Payments"), ("ops", "Operations")] {
        let (code, f) = post(&p, "/api/folders", &json!({"uid": uid, "title": title}));
        assert_eq!(code, 200, "{f}");
    }
    let panels = json!([{"id": 1, "type": "stat", "title": "Up", "targets": [{"expr": "up"}]}]);
    let (code, d) = post(
        &p,
        "/api/dashboards/db",
        &json!({"dashboard": {"uid": "checkout", "title": "Checkout", "panels": panels}}),
    );
    assert_eq!(code, 200, "{d}");
    let folder_of = |p: &Pharos| {
        let (code, d) = get(p, "/api/dashboards/uid/checkout");
        assert_eq!(code, 200, "{d}");
        assert_eq!(d["dashboard"]["panels"], panels);
        (
            d["meta"]["folderUid"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            d["meta"]["folderTitle"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    };
    assert_eq!(folder_of(&p).0, "");
    let save = |folder: Option<&str>| {
        let (_, cur) = get(&p, "/api/dashboards/uid/checkout");
        let mut req = json!({"dashboard": cur["dashboard"], "overwrite": true});
        if let Some(f) = folder {
            req["folderUid"] = json!(f);
        }
        let (code, r) = post(&p, "/api/dashboards/db", &req);
        assert_eq!(code, 200, "{r}");
    };
    save(Some("pay"));
    assert_eq!(folder_of(&p), ("pay".into(), "Payments".into()));
    let (_, hits) = get(&p, "/api/search?folderUIDs=pay");
    assert_eq!(titles_of(&hits), ["Checkout"]);
    save(None);
    assert_eq!(
        folder_of(&p).0,
        "pay",
        "a save without folderUid keeps the folder"
    );
    save(Some("ops"));
    assert_eq!(folder_of(&p), ("ops".into(), "Operations".into()));
    let (_, hits) = get(&p, "/api/search?folderUIDs=pay");
    assert_eq!(titles_of(&hits), Vec::<&str>::new());
    save(Some(""));
    assert_eq!(folder_of(&p).0, "");
    // Deleting the folder it left does not take it along.
    let (code, _) = send(&p, reqwest::Method::DELETE, "/api/folders/ops", &json!({}));
    assert_eq!(code, 200);
    assert_eq!(get(&p, "/api/dashboards/uid/checkout").0, 200);
}
