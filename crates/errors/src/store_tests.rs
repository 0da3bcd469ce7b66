//! Store behaviour: grouping into issues, auth, regressions, restart, retention, rate limits,
//! hooks.

use crate::envelope;
use crate::hooks::{ErrorHooks, IssueEvent, IssueEventKind};
use crate::store::*;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

fn project(id: &str, key: &str) -> Project {
    Project {
        id: id.into(),
        name: format!("p{id}"),
        keys: vec![ProjectKey {
            public: key.into(),
            rate_limit: None,
        }],
        allow_pii: false,
        rate_limits: HashMap::new(),
        from_config: true,
    }
}

fn opts() -> StoreOptions {
    StoreOptions {
        fsync: false,
        ..Default::default()
    }
}

fn error_event(func: &str, value: &str) -> Vec<u8> {
    json!({
        "platform": "node", "level": "error", "release": "1.0", "environment": "test",
        "user": {"id": "u1"},
        "exception": {"values": [{"type": "TypeError", "value": value, "stacktrace": {"frames": [
            {"function": func, "filename": "/app/routes.js", "lineno": 3, "in_app": true}]}}]}
    })
    .to_string()
    .into_bytes()
}

fn all() -> IssueQuery {
    IssueQuery {
        status: Some("all".into()),
        limit: 100,
        ..Default::default()
    }
}

#[test]
fn groups_counts_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let p = project("1", "k1");
    {
        let s = ErrorStore::open(dir.path(), opts(), vec![p.clone()]).unwrap();
        for i in 0..100 {
            s.ingest_event(
                &p,
                &error_event("handler", &format!("x{i} is undefined")),
                None,
            )
            .unwrap();
        }
        s.ingest_event(&p, &error_event("other", "boom"), None)
            .unwrap();
        let (issues, total) = s.list_issues(&all());
        assert_eq!(total, 2);
        let counts: Vec<u64> = issues
            .iter()
            .map(|i| i["count"].as_u64().unwrap())
            .collect();
        assert!(counts.contains(&100) && counts.contains(&1), "{counts:?}");
        let big = issues.iter().find(|i| i["count"] == 100).unwrap();
        assert_eq!(big["users"], 1);
        assert_eq!(big["culprit"], "handler(/app/routes.js)");
        assert_eq!(big["sparkline"]["counts"].as_array().unwrap().len(), 24);
        let id = big["id"].as_str().unwrap().to_string();
        let full = s.issue(&id).unwrap();
        assert_eq!(
            full["tags"]["release"][0],
            json!({"value": "1.0", "count": 100})
        );
        assert_eq!(full["tags"]["user"][0]["value"], "id:u1");
        let (evs, n) = s.issue_events(&id, 10, 0).unwrap();
        assert_eq!((evs.len(), n), (10, 100));
        let latest = s.latest_event(&id).unwrap();
        assert_eq!(latest["issue_id"], id.as_str());
        assert!(latest["next_event_id"].is_null());
        let prev = latest["previous_event_id"].as_str().unwrap();
        assert_eq!(s.event(prev).unwrap()["next_event_id"], latest["event_id"]);
        s.set_status(&id, Status::Ignored).unwrap().unwrap();
    }
    let s = ErrorStore::open(dir.path(), opts(), vec![p]).unwrap();
    let (issues, total) = s.list_issues(&all());
    assert_eq!(total, 2);
    let big = issues.iter().find(|i| i["count"] == 100).unwrap();
    assert_eq!(big["status"], "ignored");
    let (unresolved, _) = s.list_issues(&IssueQuery {
        limit: 10,
        ..Default::default()
    });
    assert_eq!(unresolved.len(), 1);
}

#[test]
fn auth_rules() {
    let dir = tempfile::tempdir().unwrap();
    let s = ErrorStore::open(
        dir.path(),
        opts(),
        vec![project("1", "k1"), project("2", "k2")],
    )
    .unwrap();
    assert_eq!(s.authenticate("1", None).unwrap_err().status, 401);
    assert_eq!(s.authenticate("1", Some("nope")).unwrap_err().status, 401);
    assert_eq!(s.authenticate("9", Some("k1")).unwrap_err().status, 403);
    assert_eq!(s.authenticate("2", Some("k1")).unwrap_err().status, 403);
    assert_eq!(s.authenticate("1", Some("k1")).unwrap().id, "1");
    let created = s.create_project("web").unwrap();
    assert_eq!(created.id, "3");
    assert_eq!(s.create_project("web").unwrap_err().status, 409);
    assert_eq!(s.create_project(" ").unwrap_err().status, 400);
    let key = created.keys[0].public.clone();
    drop(s);
    let s = ErrorStore::open(dir.path(), opts(), vec![project("1", "k1")]).unwrap();
    assert_eq!(s.authenticate("3", Some(&key)).unwrap().name, "web");
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(IssueEventKind, u64)>>, Mutex<Vec<String>>);

impl ErrorHooks for Recorder {
    fn on_issue_event(&self, ev: &IssueEvent) {
        self.0.lock().push((ev.kind, ev.count));
    }
    fn on_transaction(&self, project: &str, _p: &Value) {
        self.1.lock().push(format!("transaction:{project}"));
    }
    fn on_sessions(&self, project: &str, ty: &str, _p: &Value) {
        self.1.lock().push(format!("{ty}:{project}"));
    }
}

#[test]
fn regression_reopens_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    let p = project("1", "k1");
    let rec = Arc::new(Recorder::default());
    let id;
    {
        let s = ErrorStore::open(dir.path(), opts(), vec![p.clone()]).unwrap();
        s.set_hooks(rec.clone());
        s.ingest_event(&p, &error_event("h", "v"), None).unwrap();
        id = s.list_issues(&all()).0[0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            s.set_status(&id, Status::Resolved).unwrap().unwrap()["status"],
            "resolved"
        );
        assert_eq!(
            s.list_issues(&IssueQuery {
                limit: 10,
                ..Default::default()
            })
            .1,
            0
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
        s.ingest_event(&p, &error_event("h", "v"), None).unwrap();
        let i = s.issue(&id).unwrap();
        assert_eq!(i["status"], "unresolved");
        assert_eq!(i["regressed"], true);
        s.ingest_event(&p, &error_event("h", "v"), None).unwrap();
    }
    let kinds: Vec<IssueEventKind> = rec.0.lock().iter().map(|x| x.0).collect();
    assert_eq!(
        kinds,
        vec![
            IssueEventKind::New,
            IssueEventKind::Regression,
            IssueEventKind::Event
        ]
    );
    let s = ErrorStore::open(dir.path(), opts(), vec![p]).unwrap();
    let i = s.issue(&id).unwrap();
    assert_eq!(
        (
            i["status"].as_str(),
            i["regressed"].as_bool(),
            i["count"].as_u64()
        ),
        (Some("unresolved"), Some(true), Some(3))
    );
}

#[test]
fn envelopes_items_limits_and_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = project("1", "k1");
    p.rate_limits.insert("transaction".into(), 1.0);
    let s = ErrorStore::open(dir.path(), opts(), vec![p.clone()]).unwrap();
    let rec = Arc::new(Recorder::default());
    s.set_hooks(rec.clone());
    let body = format!(
        "{{\"event_id\":\"0123456789abcdef0123456789abcdef\"}}\n{{\"type\":\"event\"}}\n{}\n{{\"type\":\"session\"}}\n{{\"sid\":\"x\",\"status\":\"ok\"}}\n{{\"type\":\"transaction\"}}\n{{\"type\":\"transaction\",\"spans\":[]}}\n{{\"type\":\"client_report\"}}\n{{\"discarded_events\":[{{\"reason\":\"queue_overflow\",\"category\":\"error\",\"quantity\":3}}]}}\n{{\"type\":\"brand_new_thing\"}}\n{{}}\n{{\"type\":\"attachment\",\"length\":3}}\nabc\n",
        String::from_utf8(error_event("h", "v")).unwrap()
    );
    let env = envelope::parse(body.as_bytes()).unwrap();
    let out = s.ingest_envelope(&p, "k1", &env).unwrap();
    assert_eq!(out.id.as_deref(), Some("0123456789abcdef0123456789abcdef"));
    assert!(s.event("0123456789abcdef0123456789abcdef").is_some());
    assert_eq!(s.item_count("unknown", "skipped"), 1);
    assert_eq!(s.item_count("attachment", "dropped"), 1);
    assert_eq!(
        s.discarded(),
        vec![(("queue_overflow".into(), "error".into()), 3)]
    );
    assert_eq!(
        *rec.1.lock(),
        vec!["session:1".to_string(), "transaction:1".to_string()]
    );
    // A second transaction within the second is over the limit: the only item → 429.
    let env = envelope::parse(b"{}\n{\"type\":\"transaction\"}\n{\"spans\":[]}\n").unwrap();
    let e = s.ingest_envelope(&p, "k1", &env).unwrap_err();
    assert_eq!(e.status, 429);
    let (wait, cats) = e.retry_after.unwrap();
    assert!(wait >= 1);
    assert_eq!(cats, vec!["transaction".to_string()]);
    // Oversized events are 413.
    let small = ErrorStore::open(
        &dir.path().join("small"),
        StoreOptions {
            max_event_bytes: 10,
            ..opts()
        },
        vec![p.clone()],
    )
    .unwrap();
    assert_eq!(
        small
            .ingest_event(&p, &error_event("h", "v"), None)
            .unwrap_err()
            .status,
        413
    );
    assert_eq!(small.ingest_event(&p, b"{", None).unwrap_err().status, 400);
    assert_eq!(s.ingest_event(&p, b"[1]", None).unwrap_err().status, 400);
}

#[test]
fn retention_drops_old_segments() {
    let dir = tempfile::tempdir().unwrap();
    let p = project("1", "k1");
    let s = ErrorStore::open(
        dir.path(),
        StoreOptions {
            segment_bytes: 200,
            retention_secs: 3600.0,
            ..opts()
        },
        vec![p.clone()],
    )
    .unwrap();
    for i in 0..20 {
        s.ingest_event(&p, &error_event(&format!("f{}", i % 2), "v"), None)
            .unwrap();
    }
    assert_eq!(s.list_issues(&all()).1, 2);
    s.enforce_retention(now_secs() + 7200.0).unwrap();
    // Everything but the active segment's events is gone.
    let (issues, _) = s.list_issues(&all());
    let left: u64 = issues.iter().map(|i| i["count"].as_u64().unwrap()).sum();
    assert!(left <= 1, "{left}");
    let size = ErrorStore::open(
        &dir.path().join("size"),
        StoreOptions {
            segment_bytes: 200,
            retention_bytes: 600,
            ..opts()
        },
        vec![p.clone()],
    )
    .unwrap();
    for _ in 0..30 {
        size.ingest_event(&p, &error_event("f", "v"), None).unwrap();
    }
    size.enforce_retention(now_secs()).unwrap();
    let n = size
        .list_issues(&all())
        .0
        .first()
        .map(|i| i["count"].as_u64().unwrap())
        .unwrap_or(0);
    assert!(n > 0 && n < 30, "{n}");
}

#[test]
fn search_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let p = project("1", "k1");
    let s = ErrorStore::open(dir.path(), opts(), vec![p.clone()]).unwrap();
    s.ingest_event(&p, &error_event("a", "alpha broke"), None)
        .unwrap();
    let mut other: Value = serde_json::from_slice(&error_event("b", "beta broke")).unwrap();
    other["environment"] = json!("prod");
    other["level"] = json!("fatal");
    other["tags"] = json!({"team": "payments"});
    s.ingest_event(&p, other.to_string().as_bytes(), None)
        .unwrap();
    let q = |f: &dyn Fn(&mut IssueQuery)| {
        let mut q = all();
        f(&mut q);
        s.list_issues(&q).1
    };
    assert_eq!(q(&|q| q.query = Some("ALPHA".into())), 1);
    assert_eq!(q(&|q| q.query = Some("team:payments".into())), 1);
    assert_eq!(q(&|q| q.environment = Some("prod".into())), 1);
    assert_eq!(q(&|q| q.level = Some("fatal".into())), 1);
    assert_eq!(q(&|q| q.project = Some("2".into())), 0);
    assert_eq!(q(&|q| q.start = Some(now_secs() + 100.0)), 0);
    assert_eq!(q(&|q| q.sort = Some("count".into())), 2);
    assert_eq!(q(&|q| q.release = Some("1.0".into())), 2);
}

#[test]
fn a_tenants_own_retention_empties_an_idle_store() {
    let dir = tempfile::tempdir().unwrap();
    let p = project("1", "k1");
    let s = ErrorStore::open(dir.path(), opts(), vec![p.clone()]).unwrap();
    s.ingest_event(&p, &error_event("f", "v"), None).unwrap();
    s.enforce_retention(now_secs() + 10.0).unwrap();
    assert_eq!(
        s.list_issues(&all()).1,
        1,
        "the store's own retention keeps it"
    );
    // A 5 s retention 10 s later: the active segment is closed and dropped with its event.
    s.enforce_retention_for(now_secs() + 10.0, 5.0).unwrap();
    assert_eq!(s.list_issues(&all()).1, 0);
    s.ingest_event(&p, &error_event("g", "v"), None).unwrap();
    assert_eq!(s.list_issues(&all()).1, 1, "writes go on in a new segment");
}
