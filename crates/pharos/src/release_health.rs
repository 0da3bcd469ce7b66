//! Release health from Sentry sessions: `session` updates and `sessions` aggregates become
//! ordinary series in the TSDB, per project, release and environment, so crash-free rates are
//! graphed, queried and alerted on like any other metric:
//!
//! - `release_sessions_started_total` — sessions started (`init: true`, or every aggregate bucket);
//! - `release_sessions_ended_total{status}` — sessions that ended `exited`, `errored` (exited with
//!   errors), `abnormal` or `crashed`;
//! - `release_crash_free_sessions_ratio` — 1 − crashed / started;
//! - `release_users`, `release_crashed_users` and `release_crash_free_users_ratio` — distinct
//!   `did`s seen (and seen crashing) since pharos started.
//!
//! Session counters continue across restarts: the first time a series is touched its last stored
//! value is read back from the TSDB. What it does not do: per-session state (an `ok` update with
//! errors is not counted until the session ends) and user counts across restarts.

use model::{LabelMatcher, Labels, MatchOp, MetricSink, Queryable, Sample};
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Statuses a session can end with, as Sentry's aggregates name them.
const ENDED: [&str; 4] = ["exited", "errored", "abnormal", "crashed"];
/// How far back a counter's last value is looked for when pharos restarts.
const RESUME_WINDOW_MS: i64 = 90 * 24 * 3600 * 1000;

/// One release of one project in one environment.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct ReleaseKey {
    project: String,
    release: String,
    environment: String,
}

#[derive(Default)]
struct ReleaseState {
    /// Counter values keyed by (metric name, status label or "").
    counters: HashMap<(&'static str, &'static str), f64>,
    users: HashSet<String>,
    crashed_users: HashSet<String>,
    /// Time of the last samples written: two updates in one millisecond get distinct times,
    /// since a store rejects a second value at the same timestamp.
    last_t: i64,
}

/// Turns session payloads into samples appended to the TSDB.
pub struct ReleaseHealth {
    sink: Arc<dyn MetricSink>,
    stored: Arc<dyn Queryable>,
    state: Mutex<HashMap<ReleaseKey, ReleaseState>>,
}

/// What one payload adds to a release.
#[derive(Default, Debug, PartialEq)]
struct Delta {
    started: f64,
    ended: [f64; 4],
    users: Vec<String>,
    crashed_users: Vec<String>,
}

impl ReleaseHealth {
    pub fn new(sink: Arc<dyn MetricSink>, stored: Arc<dyn Queryable>) -> ReleaseHealth {
        ReleaseHealth {
            sink,
            stored,
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Records one `session` or `sessions` item of `project`. Payloads without a release are
    /// ignored, as Sentry drops them.
    pub fn record(&self, project: &str, item_type: &str, payload: &Value) {
        let Some((release, environment, delta)) = parse(item_type, payload) else {
            return;
        };
        let key = ReleaseKey {
            project: project.to_string(),
            release,
            environment,
        };
        let batch = {
            let mut all = self.state.lock();
            let st = all.entry(key.clone()).or_default();
            self.apply(&key, st, &delta);
            st.last_t = model::time::now_ms().max(st.last_t + 1);
            samples(&key, st, st.last_t)
        };
        if let Err(e) = self.sink.append(&batch) {
            tracing::warn!(project, "release health series not stored: {e}");
        }
    }

    fn apply(&self, key: &ReleaseKey, st: &mut ReleaseState, d: &Delta) {
        let mut add = |name: &'static str, status: &'static str, by: f64| {
            let v = match st.counters.get(&(name, status)) {
                Some(v) => *v,
                None => {
                    let (v, t) = self.resume(key, name, status);
                    st.last_t = st.last_t.max(t);
                    v
                }
            };
            st.counters.insert((name, status), v + by);
        };
        add("release_sessions_started_total", "", d.started);
        for (status, n) in ENDED.iter().zip(d.ended) {
            add("release_sessions_ended_total", status, n);
        }
        st.users.extend(d.users.iter().cloned());
        st.crashed_users.extend(d.crashed_users.iter().cloned());
    }

    /// The last stored value of a counter and its time (0 and 0 when there is none).
    fn resume(&self, key: &ReleaseKey, name: &str, status: &str) -> (f64, i64) {
        let now = model::time::now_ms();
        let mut pairs = vec![
            ("__name__", name),
            ("project", key.project.as_str()),
            ("release", key.release.as_str()),
            ("environment", key.environment.as_str()),
        ];
        if !status.is_empty() {
            pairs.push(("status", status));
        }
        let matchers: Vec<LabelMatcher> = pairs
            .into_iter()
            .filter_map(|(n, v)| LabelMatcher::new(n, MatchOp::Equal, v).ok())
            .collect();
        // Up to an hour ahead: a burst of updates writes at distinct, slightly future times.
        match self
            .stored
            .select(&matchers, now - RESUME_WINDOW_MS, now + 3_600_000)
        {
            Ok(series) => series
                .iter()
                .filter_map(|s| s.samples.last())
                .fold((0.0, 0), |(v, t), p| (v.max(p.v), t.max(p.t))),
            Err(_) => (0.0, 0),
        }
    }
}

fn samples(key: &ReleaseKey, st: &ReleaseState, t: i64) -> Vec<(Labels, Sample)> {
    let series = |name: &str, status: &str| {
        let mut pairs = vec![
            ("__name__", name),
            ("project", key.project.as_str()),
            ("release", key.release.as_str()),
            ("environment", key.environment.as_str()),
        ];
        if !status.is_empty() {
            pairs.push(("status", status));
        }
        Labels::from_pairs(pairs)
    };
    let mut out = Vec::new();
    for ((name, status), v) in &st.counters {
        out.push((series(name, status), Sample { t, v: *v }));
    }
    let started = st
        .counters
        .get(&("release_sessions_started_total", ""))
        .copied()
        .unwrap_or(0.0);
    let crashed = st
        .counters
        .get(&("release_sessions_ended_total", "crashed"))
        .copied()
        .unwrap_or(0.0);
    if started > 0.0 {
        let ratio = (1.0 - crashed / started).clamp(0.0, 1.0);
        out.push((
            series("release_crash_free_sessions_ratio", ""),
            Sample { t, v: ratio },
        ));
    }
    let users = st.users.len() as f64;
    let crashed_users = st.crashed_users.len() as f64;
    out.push((series("release_users", ""), Sample { t, v: users }));
    out.push((
        series("release_crashed_users", ""),
        Sample {
            t,
            v: crashed_users,
        },
    ));
    if users > 0.0 {
        out.push((
            series("release_crash_free_users_ratio", ""),
            Sample {
                t,
                v: (1.0 - crashed_users / users).clamp(0.0, 1.0),
            },
        ));
    }
    out
}

/// (release, environment, what the payload adds), or None without a release.
fn parse(item_type: &str, v: &Value) -> Option<(String, String, Delta)> {
    let attrs = v.get("attrs");
    let attr = |k: &str| {
        attrs
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let release = attr("release").filter(|r| !r.is_empty())?;
    let environment = attr("environment").unwrap_or_else(|| "production".to_string());
    let mut d = Delta::default();
    let count = |x: Option<&Value>| x.and_then(Value::as_f64).unwrap_or(0.0).max(0.0);
    if item_type == "sessions" {
        for agg in v.get("aggregates").and_then(Value::as_array)? {
            let ended: Vec<f64> = ENDED.iter().map(|s| count(agg.get(*s))).collect();
            let total: f64 = ended.iter().sum();
            d.started += total;
            for (slot, n) in d.ended.iter_mut().zip(ended) {
                *slot += n;
            }
            if let Some(did) = agg.get("did").and_then(Value::as_str) {
                d.users.push(did.to_string());
                if count(agg.get("crashed")) > 0.0 {
                    d.crashed_users.push(did.to_string());
                }
            }
        }
        return Some((release, environment, d));
    }
    if v.get("init").and_then(Value::as_bool) == Some(true) {
        d.started = 1.0;
    }
    let errors = count(v.get("errors"));
    let status = match v.get("status").and_then(Value::as_str).unwrap_or("ok") {
        "exited" if errors > 0.0 => Some("errored"),
        "ok" => None,
        s => ENDED.iter().copied().find(|e| *e == s),
    };
    if let Some(s) = status {
        if let Some(i) = ENDED.iter().position(|e| *e == s) {
            d.ended[i] = 1.0;
        }
    }
    if let Some(did) = v.get("did").and_then(Value::as_str) {
        d.users.push(did.to_string());
        if status == Some("crashed") {
            d.crashed_users.push(did.to_string());
        }
    }
    Some((release, environment, d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn session_updates_and_aggregates_parse() {
        let start = json!({"sid": "a", "did": "u1", "init": true, "status": "ok",
            "attrs": {"release": "app@1.0", "environment": "staging"}});
        let (r, e, d) = parse("session", &start).expect("has a release");
        assert_eq!((r.as_str(), e.as_str()), ("app@1.0", "staging"));
        assert_eq!(d.started, 1.0);
        assert_eq!(d.ended, [0.0; 4]);
        let crash =
            json!({"sid": "a", "did": "u1", "status": "crashed", "attrs": {"release": "app@1.0"}});
        let (_, e, d) = parse("session", &crash).expect("has a release");
        assert_eq!(e, "production");
        assert_eq!((d.started, d.ended[3]), (0.0, 1.0));
        assert_eq!(d.crashed_users, vec!["u1".to_string()]);
        let errored = json!({"status": "exited", "errors": 2, "attrs": {"release": "r"}});
        assert_eq!(
            parse("session", &errored).expect("release").2.ended,
            [0.0, 1.0, 0.0, 0.0]
        );
        let agg = json!({"aggregates": [
            {"started": "2026-12-01T10:00:00Z", "exited": 7, "errored": 2, "crashed": 1},
            {"started": "2026-12-01T10:01:00Z", "exited": 3, "abnormal": 1}],
            "attrs": {"release": "r", "environment": "prod"}});
        let (_, _, d) = parse("sessions", &agg).expect("release");
        assert_eq!(d.started, 14.0);
        assert_eq!(d.ended, [10.0, 2.0, 1.0, 1.0]);
        assert!(
            parse("session", &json!({"status": "ok"})).is_none(),
            "no release"
        );
        assert!(parse(
            "sessions",
            &json!({"attrs": {"release": "r"}, "aggregates": 3})
        )
        .is_none());
    }

    #[test]
    fn crash_free_ratios_are_written_and_counters_resume_after_a_restart() {
        let db = Arc::new(model::mem::MemStorage::default());
        let health = ReleaseHealth::new(db.clone(), db.clone());
        let attrs = json!({"release": "app@2", "environment": "prod"});
        for (i, status) in ["exited", "exited", "crashed", "exited"].iter().enumerate() {
            let did = format!("user{}", i % 3);
            health.record(
                "1",
                "session",
                &json!({"init": true, "did": did, "attrs": attrs}),
            );
            health.record(
                "1",
                "session",
                &json!({"status": status, "did": did, "attrs": attrs}),
            );
        }
        let last = |db: &model::mem::MemStorage, name: &str| {
            let m = [LabelMatcher::new("__name__", MatchOp::Equal, name).expect("matcher")];
            let s = db.select(&m, 0, i64::MAX).expect("select");
            s.iter()
                .filter_map(|s| s.samples.last())
                .map(|p| p.v)
                .next()
        };
        assert_eq!(last(&db, "release_sessions_started_total"), Some(4.0));
        assert_eq!(last(&db, "release_crash_free_sessions_ratio"), Some(0.75));
        assert_eq!(last(&db, "release_users"), Some(3.0));
        assert_eq!(
            last(&db, "release_crash_free_users_ratio"),
            Some(1.0 - 1.0 / 3.0)
        );

        // A new ReleaseHealth over the same storage (pharos restarted) continues the counters.
        let again = ReleaseHealth::new(db.clone(), db.clone());
        again.record("1", "session", &json!({"init": true, "attrs": attrs}));
        assert_eq!(last(&db, "release_sessions_started_total"), Some(5.0));
        assert_eq!(last(&db, "release_crash_free_sessions_ratio"), Some(0.8));
    }
}
