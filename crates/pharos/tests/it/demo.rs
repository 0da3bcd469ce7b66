//! `pharos demo`: within 60 s of starting, the CrewAI monitoring guide's metrics have data, the
//! demo app's logs answer the Loki API, its traces the Jaeger API, its errors the error API,
//! the guide's dashboard is provisioned and the guide's rules are evaluating.

use crate::common::Pharos;
use serde_json::Value;
use std::time::{Duration, Instant};

fn get(p: &Pharos, path: &str) -> Value {
    reqwest::blocking::get(p.url(path))
        .and_then(|r| r.json::<Value>())
        .unwrap_or(Value::Null)
}

/// Polls `check` until it returns Some or `deadline` passes; names what was missing.
fn within<T>(deadline: Instant, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} within 60 s of `pharos demo`"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn enc(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn demo_fills_every_store_within_a_minute() {
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let p = Pharos::start_sub("demo", dir.path(), &[]);
    let deadline = started + Duration::from_secs(60);

    // Metrics: the guide's request rate, per series, from the scraped demo app.
    let series = within(deadline, "rate(http_requests_total[1m])", || {
        let v = get(
            &p,
            &format!(
                "/api/v1/query?query={}",
                enc("rate(http_requests_total[1m])")
            ),
        );
        let r = v["data"]["result"].as_array()?.clone();
        let positive = r.iter().any(|s| {
            s["value"][1]
                .as_str()
                .and_then(|x| x.parse::<f64>().ok())
                .is_some_and(|x| x > 0.0)
        });
        (positive && r.iter().all(|s| s["metric"]["job"] == "crewai-app")).then_some(r)
    });
    assert!(series
        .iter()
        .any(|s| s["metric"]["route"] == "/api/emails" && s["metric"]["method"] == "POST"));
    // Every metric family the guide's dashboard graphs.
    for m in [
        "http_request_duration_seconds_bucket",
        "websocket_connections_active",
        "emails_processed_total",
        "database_query_duration_seconds_bucket",
        "cache_hits_total",
        "cache_misses_total",
        "agent_utilization",
        "email_processing_duration_seconds",
    ] {
        within(deadline, m, || {
            let v = get(&p, &format!("/api/v1/query?query={m}"));
            (!v["data"]["result"].as_array()?.is_empty()).then_some(())
        });
    }

    // Logs: winston JSON lines through the Loki push path.
    let lines = within(deadline, "log lines", || {
        let q = enc("{app=\"crewai-api\"} | json | message=\"HTTP Request\"");
        let v = get(&p, &format!("/loki/api/v1/query_range?query={q}&limit=50"));
        let n: usize = v["data"]["result"]
            .as_array()?
            .iter()
            .map(|s| s["values"].as_array().map_or(0, Vec::len))
            .sum();
        (n > 0).then_some(v)
    });
    let first = lines["data"]["result"][0]["values"][0][1]
        .as_str()
        .expect("a log line");
    let line: Value = serde_json::from_str(first).expect("log lines are JSON");
    assert_eq!(line["service"], "crewai-api");

    // Traces: email.process with child spans via the Jaeger API.
    within(deadline, "email.process trace", || {
        let v = get(
            &p,
            "/api/traces?service=crewai-api&operation=email.process&limit=5",
        );
        let t = v["data"].as_array()?.first()?.clone();
        let spans = t["spans"].as_array()?;
        (spans.len() > 1 && spans.iter().any(|s| s["operationName"] == "email.process"))
            .then_some(())
    });

    // The guide's dashboard, provisioned.
    within(deadline, "dashboard in /api/search", || {
        let v = get(&p, "/api/search?query=CrewAI");
        v.as_array()?
            .iter()
            .any(|d| d["title"] == "CrewAI Application Dashboard" && d["uid"] == "crewai-app")
            .then_some(())
    });

    // The guide's rules, evaluating.
    within(deadline, "evaluated guide rules", || {
        let v = get(&p, "/api/v1/rules");
        let groups = v["data"]["groups"].as_array()?;
        let app = groups.iter().find(|g| g["name"] == "application")?;
        let rules = app["rules"].as_array()?;
        (rules.len() == 6
            && rules
                .iter()
                .all(|r| r["health"] == "ok" && r["lastEvaluation"] != "0001-01-01T00:00:00Z"))
        .then_some(())
    });

    // The demo's error burst starts 20 s in: an error issue and a pending or firing alert.
    within(deadline, "error issue", || {
        let v = get(&p, "/api/pharos/v1/errors/issues?project=1");
        let s = v.to_string();
        s.contains("connection pool exhausted").then_some(())
    });
    within(deadline, "HighErrorRate pending or firing", || {
        let v = get(&p, "/api/v1/alerts");
        v["data"]["alerts"]
            .as_array()?
            .iter()
            .any(|a| a["labels"]["alertname"] == "HighErrorRate")
            .then_some(())
    });
    eprintln!(
        "demo: every check passed {:?} after start",
        started.elapsed()
    );
}
