//! Wiring of uptime probes into `pharos serve`: starts the probe runner over the TSDB with
//! pharos.yml's `probes:` (re-applied on reload), and serves
//! - `GET /probe?target=&module=[&debug=true]`: blackbox_exporter's endpoint (exposition text),
//!   so an external Prometheus can use pharos as its blackbox exporter;
//! - `GET /api/pharos/v1/uptime[?probe=name]`: every probe's state, uptime % over 24 h/7 d/30 d,
//!   incidents and response-time history (the Uptime page's API);
//! - `GET /api/pharos/v1/status-page` and `GET /status-page`: the public status page, which
//!   shows only `status_page.probes` — no targets, errors or anything else.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use probes::runner::Runner;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

const DAY_MS: i64 = 86_400_000;
/// Points of the response-time history.
const HISTORY_POINTS: usize = 96;

/// Starts the runner with the config's probes, re-applies them when a reload changes them
/// (the config is looked at every 2 s, as the dashboards watcher does), and returns the routes.
pub fn start(
    state: &Arc<api::AppState>,
    data_dir: &Path,
    db: Arc<tsdb::Tsdb>,
) -> Result<Router, String> {
    let runner = Runner::new(db.clone(), db, Some(data_dir.join("probes")))
        .map_err(|e| format!("probes: {e}"))?;
    runner.apply(&state.config.read().probes);
    {
        let weak = Arc::downgrade(state);
        let runner = runner.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
            loop {
                tick.tick().await;
                let Some(state) = weak.upgrade() else {
                    runner.stop();
                    return;
                };
                let wanted = state.config.read().probes.clone();
                if runner.settings() != wanted {
                    tracing::info!(probes = wanted.targets.len(), "applying probes");
                    runner.apply(&wanted);
                }
            }
        });
    }
    Ok(Router::new()
        .route("/probe", get(probe))
        .route("/api/pharos/v1/uptime", get(uptime))
        .route("/api/pharos/v1/status-page", get(status_page_api))
        .route("/status-page", get(status_page_html))
        .with_state(runner))
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn probe(State(r): State<Runner>, Query(q): Query<HashMap<String, String>>) -> Response {
    let settings = r.settings();
    let module_name = q
        .get("module")
        .filter(|m| !m.is_empty())
        .cloned()
        .unwrap_or_else(|| "http_2xx".into());
    let Some(module) = probes::runner::module_for(&settings, &module_name) else {
        return text(
            StatusCode::BAD_REQUEST,
            format!("Unknown module {module_name:?}\n"),
        );
    };
    let Some(target) = q.get("target").filter(|t| !t.is_empty()) else {
        return text(
            StatusCode::BAD_REQUEST,
            "Target parameter is missing\n".into(),
        );
    };
    let target = if module.prober == "http" && !target.contains("://") {
        format!("http://{target}")
    } else {
        target.clone()
    };
    let out = probes::run_probe(&module, &target).await;
    if q.get("debug").is_some_and(|d| d == "true") {
        let body = format!(
            "Logs for the probe:\n{}\n\n\n\nMetrics that would have been returned:\n{}\n\n\nModule configuration:\n{:#?}\n",
            out.log
                .iter()
                .map(|l| format!("module={module_name} target={target} {l}"))
                .collect::<Vec<_>>()
                .join("\n"),
            out.exposition(),
            module
        );
        return text(StatusCode::OK, body);
    }
    text(StatusCode::OK, out.exposition())
}

/// One probe's JSON; `public` leaves out the target, module and errors.
fn probe_json(r: &Runner, t: &config::probes::ProbeTarget, now: i64, public: bool) -> Value {
    let last = r.last(&t.name);
    let state = match &last {
        Some(l) if l.success => "up",
        Some(_) => "down",
        None => {
            // Not probed since start: the latest stored result, if recent.
            let s = probes::uptime::samples(
                r.store(),
                "probe_success",
                &t.target,
                &t.module,
                now - 3 * t.interval_ms.max(60_000),
                now,
            );
            match s.last() {
                Some(x) if x.v >= 1.0 => "up",
                Some(_) => "down",
                None => "unknown",
            }
        }
    };
    let uptime = json!({
        "24h": r.uptime(t, now, DAY_MS),
        "7d": r.uptime(t, now, 7 * DAY_MS),
        "30d": r.uptime(t, now, 30 * DAY_MS),
    });
    let durations = probes::uptime::samples(
        r.store(),
        "probe_duration_seconds",
        &t.target,
        &t.module,
        now - DAY_MS,
        now,
    );
    let history: Vec<Value> = probes::uptime::downsample(
        &durations,
        durations.first().map_or(now - DAY_MS, |s| s.t),
        now,
        HISTORY_POINTS,
    )
    .into_iter()
    .map(|(ts, v)| json!([ts, v]))
    .collect();
    let incidents: Vec<Value> = r
        .incidents(&t.name, now)
        .into_iter()
        .take(50)
        .map(|i| {
            let mut v =
                json!({"start": i.start, "end": i.end, "duration_seconds": i.duration_seconds});
            if !public {
                v["error"] = json!(i.error);
            }
            v
        })
        .collect();
    let mut v = json!({
        "name": t.name,
        "state": state,
        "uptime": uptime,
        "incidents": incidents,
        "response_times": history,
        "last_check": last.as_ref().map(|l| l.time),
        "last_duration_seconds": last.as_ref().map(|l| l.duration_seconds),
    });
    if !public {
        let prober = probes::runner::module_for(&r.settings(), &t.module)
            .map(|m| m.prober.clone())
            .unwrap_or_default();
        v["target"] = json!(t.target);
        v["module"] = json!(t.module);
        v["prober"] = json!(prober);
        v["interval_seconds"] = json!(t.interval_ms as f64 / 1000.0);
        v["labels"] = json!(t.labels);
        v["last_error"] = json!(last.as_ref().and_then(|l| l.error.clone()));
        v["status_code"] = json!(last.as_ref().and_then(|l| l.status_code));
        v["cert_expiry"] = json!(last.as_ref().and_then(|l| l.cert_expiry));
    }
    v
}

async fn uptime(State(r): State<Runner>, Query(q): Query<HashMap<String, String>>) -> Response {
    let only = q.get("probe").cloned();
    let res = tokio::task::spawn_blocking(move || {
        let settings = r.settings();
        let now = model::time::now_ms();
        let list: Vec<Value> = settings
            .targets
            .iter()
            .filter(|t| only.as_ref().is_none_or(|o| o == &t.name))
            .map(|t| probe_json(&r, t, now, false))
            .collect();
        (list, only, settings.status_page.probes.clone())
    })
    .await;
    match res {
        Ok((list, Some(name), _)) if list.is_empty() => (
            StatusCode::NOT_FOUND,
            Json(json!({"status": "error", "error": format!("no probe named {name:?}")})),
        )
            .into_response(),
        Ok((list, _, public)) => Json(json!({
            "status": "success",
            "data": {"probes": list, "status_page_probes": public},
        }))
        .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"status": "error", "error": e.to_string()})),
        )
            .into_response(),
    }
}

async fn status_page_api(State(r): State<Runner>) -> Response {
    let res = tokio::task::spawn_blocking(move || {
        let settings = r.settings();
        let now = model::time::now_ms();
        let list: Vec<Value> = settings
            .status_page
            .probes
            .iter()
            .filter_map(|name| settings.targets.iter().find(|t| &t.name == name))
            .map(|t| probe_json(&r, t, now, true))
            .collect();
        json!({
            "title": settings.status_page.title.clone().unwrap_or_else(|| "Status".into()),
            "description": settings.status_page.description,
            "probes": list,
            "generated_at": now,
        })
    })
    .await;
    match res {
        Ok(v) => Json(v).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn status_page_html() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
            ),
        ],
        include_str!("../../../ui/src/uptime/status_page.html"),
    )
        .into_response()
}
