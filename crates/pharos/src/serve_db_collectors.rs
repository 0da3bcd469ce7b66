//! HTTP side of the database collectors (`collectors.redis` / `collectors.postgres` of
//! pharos.yml): `GET /metrics/redis?target=<name>` and `GET /metrics/postgres?target=<name>`
//! read that server now and answer its exposition (redis_exporter's / postgres_exporter's
//! names). An unreachable server answers 503 with the reason on the first line, so the
//! `redis` / `postgres` scrape job records `up == 0` and a clear `lastError`.

use axum::extract::Query;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use collectors::postgres::PgTarget;
use collectors::redis::RedisTarget;
use collectors::MetricFamily;
use config::db_collectors::{POSTGRES_METRICS_PATH, REDIS_METRICS_PATH};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How long one database scrape may take (below the built-in jobs' 10 s scrape timeout).
const DB_TIMEOUT: Duration = Duration::from_secs(8);

/// The routes of the database collectors.
pub fn routes(state: &Arc<api::AppState>) -> axum::Router {
    let (st, st2) = (state.clone(), state.clone());
    axum::Router::new()
        .route(
            REDIS_METRICS_PATH,
            axum::routing::get(move |Query(q): Query<HashMap<String, String>>| {
                let st = st.clone();
                async move { redis_metrics(&st, q.get("target").map(String::as_str)).await }
            }),
        )
        .route(
            POSTGRES_METRICS_PATH,
            axum::routing::get(move |Query(q): Query<HashMap<String, String>>| {
                let st = st2.clone();
                async move { postgres_metrics(&st, q.get("target").map(String::as_str)).await }
            }),
        )
}

/// 200 with the families, or 503 whose first line says why (then the `down` families).
fn answer(
    kind: &str,
    name: &str,
    r: Result<Vec<MetricFamily>, String>,
    down: Vec<MetricFamily>,
) -> Response {
    match r {
        Ok(fams) => {
            let mut out = String::with_capacity(32 << 10);
            collectors::write_text(&fams, &mut out);
            text(StatusCode::OK, out)
        }
        Err(e) => {
            tracing::warn!(target = name, error = %e, "{kind} collector");
            let mut out = format!("{kind} {name}: {e}\n");
            collectors::write_text(&down, &mut out);
            text(StatusCode::SERVICE_UNAVAILABLE, out)
        }
    }
}

/// The entry of `collectors.<kind>` that `?target=` names, or the 400/404 answer.
fn entry<T: Clone>(
    kind: &str,
    name: Option<&str>,
    entries: &[T],
    name_of: impl Fn(&T) -> &str,
) -> Result<T, Box<Response>> {
    let Some(name) = name else {
        return Err(Box::new(text(
            StatusCode::BAD_REQUEST,
            format!("missing ?target=<name of a collectors.{kind} entry>\n"),
        )));
    };
    entries
        .iter()
        .find(|e| name_of(e) == name)
        .cloned()
        .ok_or_else(|| {
            Box::new(text(
                StatusCode::NOT_FOUND,
                format!("no collectors.{kind} entry named {name:?}\n"),
            ))
        })
}

async fn postgres_metrics(state: &api::AppState, name: Option<&str>) -> Response {
    let cfg = state.config.read().clone();
    let inst = match entry("postgres", name, &cfg.collectors.postgres, |e| &e.name) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    let name = inst.name.as_str();
    let r = match inst.password.resolve() {
        Ok(password) => {
            let t = PgTarget {
                host: inst.host.clone(),
                port: inst.port,
                user: inst.user.clone(),
                dbname: inst.dbname.clone(),
                password,
                timeout: DB_TIMEOUT,
            };
            collectors::postgres::collect(&t).await
        }
        Err(e) => Err(e),
    };
    answer("postgres", name, r, collectors::postgres::down())
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
    let cfg = state.config.read().clone();
    let inst = match entry("redis", name, &cfg.collectors.redis, |e| &e.name) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    let name = inst.name.as_str();
    let r = match inst.password.resolve() {
        Ok(password) => {
            let t = RedisTarget {
                addr: inst.addr.clone(),
                username: inst.username.clone(),
                password,
                db: inst.db,
                timeout: DB_TIMEOUT,
            };
            collectors::redis::collect(&t).await
        }
        Err(e) => Err(e),
    };
    answer("redis", name, r, collectors::redis::down())
}
