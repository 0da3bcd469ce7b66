//! HTTP side of the database collectors (`collectors.redis` / `collectors.postgres` of
//! pharos.yml): `GET /metrics/redis?target=<name>` reads that Redis server now and answers its
//! exposition (redis_exporter's names). An unreachable server answers 503 with the reason on
//! the first line, so the `redis` scrape job records `up == 0` and a clear `lastError`.

use axum::extract::Query;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use collectors::redis::RedisTarget;
use config::db_collectors::REDIS_METRICS_PATH;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How long one database scrape may take (below the built-in jobs' 10 s scrape timeout).
const DB_TIMEOUT: Duration = Duration::from_secs(8);

/// The routes of the database collectors.
pub fn routes(state: &Arc<api::AppState>) -> axum::Router {
    let st = state.clone();
    axum::Router::new().route(
        REDIS_METRICS_PATH,
        axum::routing::get(move |Query(q): Query<HashMap<String, String>>| {
            let st = st.clone();
            async move { redis_metrics(&st, q.get("target").map(String::as_str)).await }
        }),
    )
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn redis_metrics(state: &api::AppState, name: Option<&str>) -> Response {
    let Some(name) = name else {
        return text(
            StatusCode::BAD_REQUEST,
            "missing ?target=<name of a collectors.redis entry>\n".into(),
        );
    };
    let inst = state
        .config
        .read()
        .collectors
        .redis
        .iter()
        .find(|r| r.name == name)
        .cloned();
    let Some(inst) = inst else {
        return text(
            StatusCode::NOT_FOUND,
            format!("no collectors.redis entry named {name:?}\n"),
        );
    };
    let password = match inst.password.resolve() {
        Ok(p) => p,
        Err(e) => {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("redis {name}: {e}\n"),
            )
        }
    };
    let target = RedisTarget {
        addr: inst.addr.clone(),
        username: inst.username.clone(),
        password,
        db: inst.db,
        timeout: DB_TIMEOUT,
    };
    match collectors::redis::collect(&target).await {
        Ok(fams) => {
            let mut out = String::with_capacity(32 << 10);
            collectors::write_text(&fams, &mut out);
            text(StatusCode::OK, out)
        }
        Err(e) => {
            tracing::warn!(target = name, error = %e, "redis collector");
            let mut out = format!("# redis {name}: {e}\n");
            collectors::write_text(&collectors::redis::down(), &mut out);
            // First line: the reason (it becomes the scrape's lastError).
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                out.trim_start_matches("# ").to_string(),
            )
        }
    }
}
