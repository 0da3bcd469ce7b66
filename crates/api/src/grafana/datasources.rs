//! pharos' built-in data sources in Grafana's data source JSON (`/api/datasources`,
//! `/api/datasources/uid/{uid}`, `/name/{name}`, `/{id}`), Grafana's `/api/health` and a minimal
//! `/api/frontend/settings`. Every data source is pharos itself on the requested host: the
//! Prometheus, Loki, Elasticsearch, Jaeger, Zipkin and Alertmanager APIs share one port.

use super::{base_url, int, message, obj, reply, s};
use ::dashboards::json::{Map, Value};
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

/// The Grafana version whose HTTP API shapes pharos follows (reported by `/api/health`).
pub const GRAFANA_COMPAT_VERSION: &str = "11.0.0";

/// One built-in data source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datasource {
    pub id: i64,
    pub uid: &'static str,
    pub name: &'static str,
    pub kind: &'static str,
    pub type_name: &'static str,
    pub is_default: bool,
    /// The index pattern, for Elasticsearch.
    pub database: &'static str,
}

/// pharos' data sources, in id order. Their uids are what dashboards and the UI refer to.
pub fn builtin_datasources() -> Vec<Datasource> {
    let d = |id, uid, name, kind, type_name| Datasource {
        id,
        uid,
        name,
        kind,
        type_name,
        is_default: id == 1,
        database: "",
    };
    vec![
        d(1, "prometheus", "Prometheus", "prometheus", "Prometheus"),
        d(2, "loki", "Loki", "loki", "Loki"),
        Datasource {
            database: "*",
            ..d(
                3,
                "elasticsearch",
                "Elasticsearch",
                "elasticsearch",
                "Elasticsearch",
            )
        },
        d(4, "jaeger", "Jaeger", "jaeger", "Jaeger"),
        d(5, "zipkin", "Zipkin", "zipkin", "Zipkin"),
        d(
            6,
            "alertmanager",
            "Alertmanager",
            "alertmanager",
            "Alertmanager",
        ),
    ]
}

fn json_data(d: &Datasource) -> Value {
    match d.kind {
        "prometheus" => obj([
            ("httpMethod", s("POST")),
            ("prometheusType", s("Prometheus")),
            (
                "prometheusVersion",
                s(crate::prometheus::status::PROMETHEUS_COMPAT_VERSION),
            ),
        ]),
        "loki" => obj([("maxLines", int(1000))]),
        "elasticsearch" => obj([
            ("timeField", s("@timestamp")),
            ("index", s("*")),
            ("maxConcurrentShardRequests", int(5)),
        ]),
        "alertmanager" => obj([
            ("implementation", s("prometheus")),
            ("handleGrafanaManagedAlerts", Value::Bool(false)),
        ]),
        _ => Value::Object(Map::new()),
    }
}

fn logo(kind: &str) -> String {
    format!("public/app/plugins/datasource/{kind}/img/{kind}_logo.svg")
}

/// The `/api/datasources` list item.
fn list_item(d: &Datasource, base: &str) -> Value {
    obj([
        ("id", int(d.id)),
        ("uid", s(d.uid)),
        ("orgId", int(1)),
        ("name", s(d.name)),
        ("type", s(d.kind)),
        ("typeName", s(d.type_name)),
        ("typeLogoUrl", s(logo(d.kind))),
        ("access", s("proxy")),
        ("url", s(base)),
        ("user", s("")),
        ("database", s(d.database)),
        ("basicAuth", Value::Bool(false)),
        ("isDefault", Value::Bool(d.is_default)),
        ("jsonData", json_data(d)),
        ("readOnly", Value::Bool(true)),
    ])
}

/// The single data source object (`/api/datasources/uid/{uid}`).
fn detail(d: &Datasource, base: &str) -> Value {
    obj([
        ("id", int(d.id)),
        ("uid", s(d.uid)),
        ("orgId", int(1)),
        ("name", s(d.name)),
        ("type", s(d.kind)),
        ("typeLogoUrl", s(logo(d.kind))),
        ("access", s("proxy")),
        ("url", s(base)),
        ("user", s("")),
        ("database", s(d.database)),
        ("basicAuth", Value::Bool(false)),
        ("basicAuthUser", s("")),
        ("withCredentials", Value::Bool(false)),
        ("isDefault", Value::Bool(d.is_default)),
        ("jsonData", json_data(d)),
        ("secureJsonFields", Value::Object(Map::new())),
        ("version", int(1)),
        ("readOnly", Value::Bool(true)),
    ])
}

fn not_found() -> Response {
    message(StatusCode::NOT_FOUND, "Data source not found")
}

/// `GET /api/datasources`.
pub async fn list(headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let list = builtin_datasources()
        .iter()
        .map(|d| list_item(d, &base))
        .collect();
    reply(StatusCode::OK, &Value::Array(list))
}

fn one(headers: &HeaderMap, f: impl Fn(&Datasource) -> bool) -> Response {
    match builtin_datasources().iter().find(|d| f(d)) {
        Some(d) => reply(StatusCode::OK, &detail(d, &base_url(headers))),
        None => not_found(),
    }
}

/// `GET /api/datasources/uid/{uid}`.
pub async fn by_uid(headers: HeaderMap, Path(uid): Path<String>) -> Response {
    one(&headers, |d| d.uid == uid)
}

/// `GET /api/datasources/name/{name}`.
pub async fn by_name(headers: HeaderMap, Path(name): Path<String>) -> Response {
    one(&headers, |d| d.name == name)
}

/// `GET /api/datasources/{id}` (Grafana's deprecated numeric form).
pub async fn by_id(headers: HeaderMap, Path(id): Path<String>) -> Response {
    match id.parse::<i64>() {
        Ok(n) => one(&headers, |d| d.id == n),
        Err(_) => message(
            StatusCode::BAD_REQUEST,
            format!("id must be an integer, got {id:?}"),
        ),
    }
}

/// `GET /api/health`.
pub async fn health() -> Response {
    reply(
        StatusCode::OK,
        &obj([
            ("commit", s(format!("pharos-{}", env!("CARGO_PKG_VERSION")))),
            ("database", s("ok")),
            ("version", s(GRAFANA_COMPAT_VERSION)),
        ]),
    )
}

/// `GET /api/frontend/settings`: the data sources by name, the default one and build info.
pub async fn frontend_settings(headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let mut sources = Map::new();
    for d in builtin_datasources() {
        sources.insert(
            d.name,
            obj([
                ("id", int(d.id)),
                ("uid", s(d.uid)),
                ("type", s(d.kind)),
                ("name", s(d.name)),
                ("url", s(base.clone())),
                ("access", s("proxy")),
                ("isDefault", Value::Bool(d.is_default)),
                ("database", s(d.database)),
                ("jsonData", json_data(&d)),
                (
                    "meta",
                    obj([
                        ("id", s(d.kind)),
                        ("name", s(d.type_name)),
                        ("type", s("datasource")),
                    ]),
                ),
            ]),
        );
    }
    reply(
        StatusCode::OK,
        &obj([
            ("datasources", Value::Object(sources)),
            ("defaultDatasource", s("Prometheus")),
            ("appUrl", s(format!("{base}/"))),
            ("appSubUrl", s("")),
            ("minRefreshInterval", s("5s")),
            (
                "buildInfo",
                obj([
                    ("version", s(GRAFANA_COMPAT_VERSION)),
                    ("commit", s(format!("pharos-{}", env!("CARGO_PKG_VERSION")))),
                    ("edition", s("Open Source")),
                    ("env", s("production")),
                    ("hideVersion", Value::Bool(false)),
                    ("hasUpdate", Value::Bool(false)),
                    ("latestVersion", s("")),
                    ("pharosVersion", s(env!("CARGO_PKG_VERSION"))),
                ]),
            ),
        ]),
    )
}
