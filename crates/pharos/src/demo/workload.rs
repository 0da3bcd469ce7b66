//! The demo's synthetic CrewAI email service: a varying request load recorded in the guide's
//! prom-client metrics, winston-style JSON log lines, `email.process` traces with child spans
//! and Sentry events, with the faults of [`Fault`] on a timer.

use super::metrics::{Kind, Registry};
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// Length of one fault cycle, in seconds.
pub const CYCLE_S: u64 = 600;

/// A fault the demo injects on a timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// 5xx burst on POST /api/emails, database pool exhausted (HighErrorRate,
    /// DatabaseConnectionPoolExhausted).
    ErrorBurst,
    /// GET /api/emails takes 2.5–4.5 s (HighResponseTime).
    SlowEndpoint,
    /// The cache stops hitting (CacheHitRateLow).
    CacheMisses,
    /// /metrics answers 503: the target is down (`up == 0`).
    TargetDown,
}

/// The fault schedule within a cycle: (from second, to second, fault).
pub const SCHEDULE: [(u64, u64, Fault); 4] = [
    (20, 140, Fault::ErrorBurst),
    (170, 290, Fault::SlowEndpoint),
    (320, 440, Fault::CacheMisses),
    (470, 530, Fault::TargetDown),
];

/// The fault active `secs` after the demo started.
pub fn fault_at(secs: u64) -> Fault {
    let t = secs % CYCLE_S;
    SCHEDULE
        .iter()
        .find(|(a, b, _)| (*a..*b).contains(&t))
        .map(|s| s.2)
        .unwrap_or(Fault::None)
}

/// xorshift64*: enough randomness for synthetic traffic, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn f(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f()
    }
    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next_u64() % xs.len() as u64) as usize]
    }
    pub fn hex(&mut self, bytes: usize) -> String {
        (0..bytes)
            .map(|_| format!("{:02x}", self.next_u64() & 0xff))
            .collect()
    }
}

/// What one tick produced for pharos' push APIs.
#[derive(Default)]
pub struct Batch {
    /// (level, unix ns, JSON line).
    pub logs: Vec<(&'static str, i64, String)>,
    /// Zipkin v2 spans.
    pub spans: Vec<Value>,
    /// Sentry events (store API JSON).
    pub events: Vec<Value>,
}

/// The synthetic app's state.
pub struct App {
    pub reg: Registry,
    rng: Rng,
    ws: f64,
    queue: f64,
    events_this_tick: usize,
}

const ROUTES: [(&str, &str, f64); 5] = [
    ("GET", "/api/emails", 0.04),
    ("POST", "/api/emails", 0.25),
    ("GET", "/api/agents", 0.02),
    ("POST", "/api/workflows/run", 0.4),
    ("GET", "/health", 0.003),
];
const WORKFLOWS: [&str; 3] = ["support", "sales", "billing"];
const PRIORITIES: [&str; 3] = ["high", "normal", "low"];
const AGENTS: [&str; 3] = ["classifier", "responder", "escalator"];

pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl App {
    pub fn new(seed: u64) -> App {
        let mut reg = Registry::default();
        let http_labels = Kind::Histogram(vec![0.1, 0.5, 1.0, 2.0, 5.0]);
        reg.define(
            "http_requests_total",
            "Total number of HTTP requests",
            Kind::Counter,
        );
        reg.define(
            "http_request_duration_seconds",
            "Duration of HTTP requests in seconds",
            http_labels,
        );
        reg.define(
            "emails_processed_total",
            "Total number of emails processed",
            Kind::Counter,
        );
        reg.define(
            "email_processing_duration_seconds",
            "Time taken to process emails",
            Kind::Summary(vec![0.5, 0.9, 0.95, 0.99]),
        );
        reg.define(
            "websocket_connections_active",
            "Number of active WebSocket connections",
            Kind::Gauge,
        );
        reg.define(
            "websocket_messages_total",
            "Total WebSocket messages",
            Kind::Counter,
        );
        reg.define("agent_tasks_total", "Total agent tasks", Kind::Counter);
        reg.define(
            "agent_utilization",
            "Agent utilization percentage",
            Kind::Gauge,
        );
        reg.define("cache_hits_total", "Total cache hits", Kind::Counter);
        reg.define("cache_misses_total", "Total cache misses", Kind::Counter);
        reg.define(
            "database_queries_total",
            "Total database queries",
            Kind::Counter,
        );
        reg.define(
            "database_query_duration_seconds",
            "Database query duration",
            Kind::Histogram(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0]),
        );
        // Named by the guide's alert rules.
        reg.define(
            "email_queue_size",
            "Emails waiting in the queue",
            Kind::Gauge,
        );
        reg.define(
            "database_connections_active",
            "Database connections in use",
            Kind::Gauge,
        );
        reg.define(
            "database_connections_max",
            "Database connection pool size",
            Kind::Gauge,
        );
        App {
            reg,
            rng: Rng::new(seed),
            ws: 48.0,
            queue: 12.0,
            events_this_tick: 0,
        }
    }

    /// One second of traffic, `secs` after start, under `fault`.
    pub fn tick(&mut self, secs: u64, fault: Fault) -> Batch {
        let mut batch = Batch::default();
        self.events_this_tick = 0;
        // Daily-ish wave plus noise: 8–22 requests per second.
        let wave = (secs as f64 / 90.0).sin();
        let n = (15.0 + 5.0 * wave + self.rng.range(-2.0, 2.0))
            .round()
            .max(1.0) as usize;
        let end = now_us();
        for i in 0..n {
            let start = end - 1_000_000 + (i as i64 * 1_000_000 / n as i64);
            self.request(start, fault, &mut batch);
        }
        self.ws = (self.ws + self.rng.range(-3.0, 3.0)).clamp(20.0, 90.0);
        for auth in ["true", "false"] {
            let share = if auth == "true" { 0.8 } else { 0.2 };
            self.reg.set(
                "websocket_connections_active",
                &[("authenticated", auth)],
                (self.ws * share).round(),
            );
        }
        for (dir, ty) in [("inbound", "email_update"), ("outbound", "status")] {
            let k = self.rng.range(5.0, 30.0).round();
            self.reg.inc(
                "websocket_messages_total",
                &[("direction", dir), ("type", ty)],
                k,
            );
        }
        for a in AGENTS {
            let base = if fault == Fault::ErrorBurst {
                92.0
            } else {
                60.0
            };
            let u = (base + self.rng.range(-15.0, 15.0)).clamp(0.0, 100.0);
            self.reg
                .set("agent_utilization", &[("agent", a)], u.round());
        }
        self.queue = (self.queue + self.rng.range(-4.0, 4.0)).clamp(0.0, 40.0);
        self.reg.set("email_queue_size", &[], self.queue.round());
        let pool = if fault == Fault::ErrorBurst {
            self.rng.range(19.0, 20.0).round()
        } else {
            self.rng.range(3.0, 9.0).round()
        };
        self.reg.set("database_connections_active", &[], pool);
        self.reg.set("database_connections_max", &[], 20.0);
        batch
    }

    fn request(&mut self, start_us: i64, fault: Fault, batch: &mut Batch) {
        let (method, route, base) = ROUTES[(self.rng.next_u64() % ROUTES.len() as u64) as usize];
        let trace_id = self.rng.hex(16);
        let root_id = self.rng.hex(8);
        let mut dur = base * self.rng.range(0.5, 1.8);
        if fault == Fault::SlowEndpoint && route == "/api/emails" && method == "GET" {
            dur = self.rng.range(2.5, 4.5);
        }
        let err_p = match (fault, method, route) {
            (Fault::ErrorBurst, "POST", "/api/emails") => 0.6,
            (Fault::ErrorBurst, _, "/api/workflows/run") => 0.3,
            (_, _, "/health") => 0.0,
            _ => 0.002,
        };
        let failed = self.rng.f() < err_p;
        let status = if failed {
            "500"
        } else if method == "POST" {
            "201"
        } else {
            "200"
        };
        let labels = [("method", method), ("route", route), ("status", status)];
        self.reg.inc("http_requests_total", &labels, 1.0);
        self.reg
            .observe("http_request_duration_seconds", &labels, dur);
        let dur_us = (dur * 1e6) as i64;
        let mut children = Vec::new();
        // Cache, then the database on a miss.
        if route != "/health" {
            let hit_p = if fault == Fault::CacheMisses {
                0.1
            } else {
                0.94
            };
            let cache_type = if route == "/api/agents" {
                "agent"
            } else {
                "email"
            };
            let hit = self.rng.f() < hit_p;
            let name = if hit {
                "cache_hits_total"
            } else {
                "cache_misses_total"
            };
            self.reg.inc(name, &[("cache_type", cache_type)], 1.0);
            children.push(("cache.get", 0.02, vec![("cache.hit", hit.to_string())]));
            let (op, table) = if method == "GET" {
                ("select", "emails")
            } else {
                ("insert", "emails")
            };
            let q = if failed {
                self.rng.range(0.5, 1.0)
            } else {
                self.rng.range(0.001, 0.03)
            };
            self.reg.inc(
                "database_queries_total",
                &[("operation", op), ("table", table)],
                1.0,
            );
            self.reg.observe(
                "database_query_duration_seconds",
                &[("operation", op), ("table", table)],
                q,
            );
            children.push(("db.query", 0.1, vec![("db.operation", op.to_string())]));
        }
        let mut root_name = format!("{method} {route}");
        let mut tags = vec![
            ("http.method", method.to_string()),
            ("http.route", route.to_string()),
            ("http.status_code", status.to_string()),
        ];
        if method == "POST" && route == "/api/emails" {
            let wf = self.rng.pick(&WORKFLOWS);
            let pr = self.rng.pick(&PRIORITIES);
            let st = if failed { "failed" } else { "success" };
            self.reg.inc(
                "emails_processed_total",
                &[("workflow", wf), ("priority", pr), ("status", st)],
                1.0,
            );
            self.reg.observe(
                "email_processing_duration_seconds",
                &[("workflow", wf), ("priority", pr)],
                dur,
            );
            for a in ["classifier", "responder"] {
                self.reg
                    .inc("agent_tasks_total", &[("agent", a), ("status", st)], 1.0);
                children.push(("agent.run", 0.3, vec![("agent", a.to_string())]));
            }
            root_name = "email.process".into();
            tags.push(("email.id", self.rng.hex(6)));
            tags.push(("email.workflow", wf.into()));
            tags.push(("email.priority", pr.into()));
        }
        // Log line (winston JSON with the guide's defaultMeta).
        let ts = chrono::DateTime::from_timestamp_micros(start_us + dur_us)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default();
        let ns = (start_us + dur_us) * 1000;
        let line = json!({
            "level": "info", "message": "HTTP Request", "method": method, "url": route,
            "status": status.parse::<u16>().unwrap_or(0), "duration": (dur * 1000.0).round(),
            "ip": "10.0.0.7", "requestId": self.rng.hex(4), "traceId": trace_id,
            "service": "crewai-api", "environment": "demo", "version": "1.4.2", "timestamp": ts,
        });
        batch.logs.push(("info", ns, line.to_string()));
        if dur > 2.0 {
            let line = json!({"level": "warn", "message": "Slow request", "url": route,
                "duration": (dur * 1000.0).round(), "traceId": trace_id,
                "service": "crewai-api", "environment": "demo", "version": "1.4.2", "timestamp": ts});
            batch.logs.push(("warn", ns + 1, line.to_string()));
        }
        if failed {
            let msg = "connection pool exhausted: timeout acquiring a client after 5000ms";
            let stack = format!("Error: {msg}\n    at Pool.connect (src/db/pool.ts:88:13)\n    at EmailRepository.save (src/repositories/email.ts:41:22)\n    at processEmail (src/services/email.ts:57:5)");
            let line = json!({"level": "error", "message": "Application Error", "error": msg,
                "stack": stack, "url": route, "method": method, "traceId": trace_id,
                "service": "crewai-api", "environment": "demo", "version": "1.4.2", "timestamp": ts});
            batch.logs.push(("error", ns + 2, line.to_string()));
            tags.push(("error", msg.to_string()));
            if self.events_this_tick < 3 {
                self.events_this_tick += 1;
                batch.events.push(self.sentry_event(
                    msg,
                    route,
                    &trace_id,
                    &root_id,
                    start_us + dur_us,
                ));
            }
        }
        // Trace: the root span and its children laid out in sequence.
        let mut spans = vec![zipkin(
            &trace_id, &root_id, None, &root_name, start_us, dur_us, "SERVER", &tags,
        )];
        let mut t = start_us + dur_us / 20;
        for (name, share, ctags) in children {
            let d = ((dur_us as f64) * share * self.rng.range(0.6, 1.2)) as i64;
            let id = self.rng.hex(8);
            spans.push(zipkin(
                &trace_id,
                &id,
                Some(&root_id),
                name,
                t,
                d.max(1),
                "CLIENT",
                &ctags,
            ));
            t += d;
        }
        batch.spans.extend(spans);
    }

    fn sentry_event(
        &mut self,
        msg: &str,
        route: &str,
        trace: &str,
        span: &str,
        at_us: i64,
    ) -> Value {
        json!({
            "event_id": self.rng.hex(16),
            "timestamp": at_us as f64 / 1e6,
            "platform": "node",
            "level": "error",
            "logger": "crewai-api",
            "transaction": format!("POST {route}"),
            "server_name": "crewai-demo",
            "release": "crewai-api@1.4.2",
            "environment": "demo",
            "tags": {"route": route},
            "user": {"id": format!("user-{}", self.rng.next_u64() % 40)},
            "contexts": {"trace": {"trace_id": trace, "span_id": span, "op": "http.server"}},
            "exception": {"values": [{
                "type": "DatabaseError",
                "value": msg,
                "stacktrace": {"frames": [
                    {"filename": "src/services/email.ts", "function": "processEmail", "lineno": 57, "in_app": true},
                    {"filename": "src/repositories/email.ts", "function": "EmailRepository.save", "lineno": 41, "in_app": true},
                    {"filename": "src/db/pool.ts", "function": "Pool.connect", "lineno": 88, "in_app": true}
                ]}
            }]}
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn zipkin(
    trace: &str,
    id: &str,
    parent: Option<&str>,
    name: &str,
    ts: i64,
    dur: i64,
    kind: &str,
    tags: &[(&str, String)],
) -> Value {
    let tags: serde_json::Map<String, Value> = tags
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
        .collect();
    let mut s = json!({
        "traceId": trace, "id": id, "name": name, "timestamp": ts, "duration": dur,
        "kind": kind, "localEndpoint": {"serviceName": "crewai-api"}, "tags": tags,
    });
    if let Some(p) = parent {
        s["parentId"] = json!(p);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_cycles() {
        assert_eq!(fault_at(0), Fault::None);
        assert_eq!(fault_at(30), Fault::ErrorBurst);
        assert_eq!(fault_at(200), Fault::SlowEndpoint);
        assert_eq!(fault_at(400), Fault::CacheMisses);
        assert_eq!(fault_at(500), Fault::TargetDown);
        assert_eq!(fault_at(CYCLE_S + 30), Fault::ErrorBurst);
    }

    #[test]
    fn error_burst_produces_errors_everywhere() {
        let mut app = App::new(7);
        let mut b = Batch::default();
        for s in 0..20 {
            let t = app.tick(s, Fault::ErrorBurst);
            b.logs.extend(t.logs);
            b.spans.extend(t.spans);
            b.events.extend(t.events);
        }
        assert!(b.logs.iter().any(|(l, _, _)| *l == "error"));
        assert!(!b.events.is_empty());
        assert!(b.spans.iter().any(|s| s["name"] == "email.process"));
        assert!(b.spans.iter().any(|s| s.get("parentId").is_some()));
        let text = app.reg.render();
        assert!(text.contains("status=\"500\""));
        assert!(
            text.contains("database_connections_active 2")
                || text.contains("database_connections_active 19")
        );
    }

    #[test]
    fn calm_ticks_mostly_hit_the_cache() {
        let mut app = App::new(3);
        for s in 0..30 {
            app.tick(s, Fault::None);
        }
        let text = app.reg.render();
        let sum = |name: &str| -> f64 {
            text.lines()
                .filter(|l| l.starts_with(name))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum()
        };
        let (h, m) = (sum("cache_hits_total{"), sum("cache_misses_total{"));
        assert!(h / (h + m) > 0.8, "hits {h} misses {m}");
    }

    #[test]
    fn log_lines_are_json_with_the_guide_meta() {
        let mut app = App::new(11);
        let b = app.tick(0, Fault::None);
        assert!(!b.logs.is_empty());
        for (_, _, l) in &b.logs {
            let v: Value = serde_json::from_str(l).expect("json");
            assert_eq!(v["service"], "crewai-api");
            assert!(v["timestamp"].as_str().is_some_and(|t| !t.is_empty()));
        }
    }
}
