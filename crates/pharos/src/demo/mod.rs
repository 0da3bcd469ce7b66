//! `pharos demo`: `pharos serve` with a generated config (the CrewAI monitoring guide's rules,
//! routing and dashboard, an errors project) and an in-process synthetic app that pharos scrapes
//! and that pushes logs, traces and errors to it, with faults on a timer, so every UI page is
//! alive within a minute.

mod config;
mod metrics;
mod workload;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use clap::{Args, Parser};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workload::{fault_at, App, Batch, Fault};

#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Address of the main HTTP listener (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: String,
    /// Data directory (kept between runs; delete it to start over).
    #[arg(long, default_value = "./pharos-demo-data")]
    data: PathBuf,
}

/// `serve`'s own argument parser, so the demo passes exactly what a user could type.
#[derive(Parser)]
struct ServeCli {
    #[command(flatten)]
    serve: crate::serve::ServeArgs,
}

pub fn run(args: DemoArgs) -> ExitCode {
    let app_listener = match std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.set_nonblocking(true).map(|_| l))
    {
        Ok(l) => l,
        Err(e) => {
            eprintln!("pharos demo: cannot open the demo app's port: {e}");
            return ExitCode::FAILURE;
        }
    };
    let app_addr = match app_listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("pharos demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cfg_dir = args.data.join("demo-config");
    let cfg_path = match config::write(&cfg_dir, &app_addr.to_string()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("pharos demo: cannot write {}: {e}", cfg_dir.display());
            return ExitCode::FAILURE;
        }
    };
    let argv = [
        "serve".into(),
        "--config".into(),
        cfg_path.display().to_string(),
        "--listen".into(),
        args.listen.clone(),
        "--data".into(),
        args.data.display().to_string(),
    ];
    let serve = match ServeCli::try_parse_from(argv) {
        Ok(c) => c.serve,
        Err(e) => {
            eprintln!("pharos demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    crate::serve::run_with(
        serve,
        Some(Box::new(move |local| start(app_listener, local))),
    )
}

/// Inside serve's runtime, once pharos listens on `local`: the app's HTTP endpoint, the load
/// loop and the banner.
fn start(listener: std::net::TcpListener, local: SocketAddr) {
    let pharos = if local.ip().is_unspecified() {
        format!("http://127.0.0.1:{}", local.port())
    } else {
        format!("http://{local}")
    };
    let shared = Arc::new(Shared {
        app: Mutex::new(App::new(workload::now_us() as u64)),
        started: Instant::now(),
        notifications: Mutex::new(0),
    });
    match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => {
            let router = axum::Router::new()
                .route("/metrics", get(metrics))
                .route("/health", get(health))
                .route("/hooks/{receiver}", post(hook))
                .with_state(shared.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(l, router).await {
                    tracing::error!("demo app stopped: {e}");
                }
            });
        }
        Err(e) => tracing::error!("demo app cannot listen: {e}"),
    }
    tokio::spawn(load(shared, pharos.clone()));
    banner(&pharos);
}

struct Shared {
    app: Mutex<App>,
    started: Instant,
    notifications: Mutex<u64>,
}

impl Shared {
    fn fault(&self) -> Fault {
        fault_at(self.started.elapsed().as_secs())
    }
}

async fn metrics(
    State(s): State<Arc<Shared>>,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    if s.fault() == Fault::TargetDown {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [("content-type", "text/plain")],
            "demo fault: target down\n".into(),
        );
    }
    let body = s.app.lock().reg.render();
    (
        StatusCode::OK,
        [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
}

/// The app's health endpoint, probed by the demo's uptime probe: 503 while the target is down.
async fn health(State(s): State<Arc<Shared>>) -> (StatusCode, axum::Json<Value>) {
    if s.fault() == Fault::TargetDown {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "down", "reason": "demo fault: target down"})),
        );
    }
    (StatusCode::OK, axum::Json(json!({"status": "ok"})))
}

async fn hook(
    State(s): State<Arc<Shared>>,
    UrlPath(receiver): UrlPath<String>,
    body: String,
) -> StatusCode {
    *s.notifications.lock() += 1;
    let alerts = serde_json::from_str::<Value>(&body)
        .ok()
        .map(|v| v.to_string().chars().take(200).collect::<String>())
        .unwrap_or_default();
    tracing::info!(%receiver, %alerts, "demo: notification received (not sent anywhere)");
    StatusCode::OK
}

/// One tick a second: record traffic, push its logs, spans and errors to pharos.
async fn load(s: Arc<Shared>, pharos: String) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut warned = false;
    loop {
        tick.tick().await;
        let secs = s.started.elapsed().as_secs();
        let fault = fault_at(secs);
        let batch = s.app.lock().tick(secs, fault);
        if let Err(e) = push(&client, &pharos, batch).await {
            if !warned {
                tracing::warn!("demo: pushing to pharos failed (retrying every second): {e}");
                warned = true;
            }
        } else {
            warned = false;
        }
    }
}

async fn push(client: &reqwest::Client, pharos: &str, b: Batch) -> Result<(), String> {
    let mut streams = Vec::new();
    for level in ["info", "warn", "error"] {
        let values: Vec<Value> = b
            .logs
            .iter()
            .filter(|(l, _, _)| *l == level)
            .map(|(_, ns, line)| json!([ns.to_string(), line]))
            .collect();
        if !values.is_empty() {
            streams.push(json!({
                "stream": {"app": "crewai-api", "service": "crewai-api", "job": "crewai-app",
                           "environment": "demo", "level": level},
                "values": values,
            }));
        }
    }
    let send = |r: reqwest::RequestBuilder| async move {
        match r.send().await {
            Ok(resp) if resp.status().is_success() => Ok(()),
            Ok(resp) => Err(format!("{} {}", resp.url().path(), resp.status())),
            Err(e) => Err(e.to_string()),
        }
    };
    send(
        client
            .post(format!("{pharos}/loki/api/v1/push"))
            .json(&json!({ "streams": streams })),
    )
    .await?;
    send(client.post(format!("{pharos}/api/v2/spans")).json(&b.spans)).await?;
    let auth = format!(
        "Sentry sentry_version=7, sentry_client=crewai-demo/1.0, sentry_key={}",
        config::SENTRY_KEY
    );
    for ev in &b.events {
        send(
            client
                .post(format!("{pharos}/api/1/store/"))
                .header("X-Sentry-Auth", &auth)
                .json(ev),
        )
        .await?;
    }
    Ok(())
}

fn banner(base: &str) {
    let uid = config::DASHBOARD_UID;
    let mut schedule = String::new();
    for (from, to, f) in workload::SCHEDULE {
        let what = match f {
            Fault::ErrorBurst => "error burst (HighErrorRate, DatabaseConnectionPoolExhausted)",
            Fault::SlowEndpoint => "slow GET /api/emails (HighResponseTime)",
            Fault::CacheMisses => "cache misses (CacheHitRateLow)",
            Fault::TargetDown => {
                "the app's /metrics and /health down (up == 0, an uptime incident)"
            }
            Fault::None => continue,
        };
        schedule.push_str(&format!(
            "      {}:{:02}–{}:{:02}  {what}\n",
            from / 60,
            from % 60,
            to / 60,
            to % 60
        ));
    }
    eprintln!(
        "\n\
pharos demo: a simulated CrewAI email service (the CrewAI monitoring guide's example app) runs
inside this process; pharos scrapes it and receives its logs, traces and errors.

  Open {base}/ and look at:
    Dashboard   {base}/d/{uid}   (the guide's dashboard, provisioned)
    Logs        {base}/explore/logs?query=%7Bapp%3D%22crewai-api%22%7D
    Traces      {base}/explore/traces?service=crewai-api
    Errors      {base}/errors
    Alerts      {base}/alerts   (the guide's rules, `for:` shortened to {for_})
    Targets     {base}/targets
    Uptime      {base}/uptime   (a probe of the app's /health)

  Faults repeat every {cycle} minutes (mm:ss after start):
{schedule}
  Alert notifications go to local fake Slack/PagerDuty receivers, nothing leaves this machine.
  Ctrl-C stops the demo; its data stays in the data directory.
",
        for_ = config::DEMO_FOR,
        cycle = workload::CYCLE_S / 60,
    );
}
