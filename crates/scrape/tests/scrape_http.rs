//! End-to-end scrape tests: a tiny HTTP/1.1 server on 127.0.0.1:0 (raw tokio sockets) serves an
//! exposition; the scrape manager stores what it scrapes in a `MemStorage`, and the tests check
//! samples, report series, staleness markers, unreachable targets and `sample_limit`.

use model::{LabelMatcher, MatchOp, MemStorage, MetricSink, Queryable, Sample};
use parking_lot::Mutex;
use scrape::ScrapeManager;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves the current `body` as Prometheus text to every request; returns the bound address.
async fn serve(body: Arc<Mutex<String>>) -> String {
    serve_as(body, "text/plain; version=0.0.4", false).await
}

/// Serves the current `body` with `content_type`, gzip-compressed when `gzip`.
async fn serve_as(body: Arc<Mutex<String>>, content_type: &'static str, gzip: bool) -> String {
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => panic!("bind: {e}"),
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(buf.get(..n).unwrap_or_default()),
                    }
                }
                let text = body.lock().clone();
                let payload = if gzip {
                    let mut encoder =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                    let _ = encoder.write_all(text.as_bytes());
                    encoder.finish().unwrap_or_default()
                } else {
                    text.into_bytes()
                };
                let encoding = if gzip {
                    "Content-Encoding: gzip\r\n"
                } else {
                    ""
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n{encoding}Content-Length: {}\r\nConnection: close\r\n\r\n",
                    payload.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&payload).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    addr
}

fn config(yaml: &str) -> config::PrometheusConfig {
    match config::prometheus::parse(Path::new("test.yml"), yaml) {
        Ok((cfg, _)) => cfg,
        Err(e) => panic!("config: {e}"),
    }
}

fn select(storage: &MemStorage, name: &str) -> Vec<model::Series> {
    let matcher = match LabelMatcher::new("__name__", MatchOp::Equal, name) {
        Ok(m) => m,
        Err(e) => panic!("matcher: {e}"),
    };
    storage
        .select(&[matcher], i64::MIN, i64::MAX)
        .unwrap_or_default()
}

/// Polls `check` every 50 ms for up to 5 s.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..100 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

fn last_value(series: &[model::Series]) -> Option<Sample> {
    series.first().and_then(|s| s.samples.last().copied())
}

#[tokio::test]
async fn scraped_samples_reach_the_sink_and_vanished_series_go_stale() {
    let body = Arc::new(Mutex::new(
        "# TYPE requests_total counter\nrequests_total{code=\"200\"} 7\n# TYPE temp gauge\ntemp 21.5\n"
            .to_string(),
    ));
    let addr = serve(body.clone()).await;
    let storage = Arc::new(MemStorage::new());
    let sink: Arc<dyn MetricSink> = storage.clone();
    let manager = ScrapeManager::new(sink);
    manager
        .apply_config(&config(&format!(
            "global:\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\nscrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['{addr}']\n        labels:\n          env: test\n"
        )))
        .await;

    eventually("requests_total stored", || {
        !select(&storage, "requests_total").is_empty()
    })
    .await;
    let series = select(&storage, "requests_total");
    let labels = &series[0].labels;
    assert_eq!(labels.get("job"), Some("app"));
    assert_eq!(labels.get("instance"), Some(addr.as_str()));
    assert_eq!(labels.get("env"), Some("test"));
    assert_eq!(labels.get("code"), Some("200"));
    assert_eq!(last_value(&series).map(|s| s.v), Some(7.0));

    eventually("up == 1", || {
        last_value(&select(&storage, "up")).map(|s| s.v) == Some(1.0)
    })
    .await;
    let scraped = last_value(&select(&storage, "scrape_samples_scraped")).map(|s| s.v);
    assert_eq!(scraped, Some(2.0));
    let snapshot = manager.targets();
    assert_eq!(snapshot.active.len(), 1);
    assert_eq!(snapshot.active[0].health, "up");
    assert_eq!(snapshot.active[0].scrape_pool, "app");
    assert!(manager
        .metadata()
        .iter()
        .any(|m| m.metric == "requests_total" && m.metric_type == "counter"));

    // `temp` disappears from the exposition: its next sample is a staleness marker.
    *body.lock() = "requests_total{code=\"200\"} 8\n".to_string();
    eventually("temp stale", || {
        last_value(&select(&storage, "temp")).is_some_and(|s| model::is_stale_nan(s.v))
    })
    .await;

    // Removing the job stops the target and marks its series stale.
    manager.apply_config(&config("scrape_configs: []\n")).await;
    eventually("requests_total stale after removal", || {
        last_value(&select(&storage, "requests_total")).is_some_and(|s| model::is_stale_nan(s.v))
    })
    .await;
    assert!(last_value(&select(&storage, "up")).is_some_and(|s| model::is_stale_nan(s.v)));
    assert!(manager.targets().active.is_empty());
    manager.stop().await;
}

#[tokio::test]
async fn unreachable_target_is_down() {
    // Bind and drop a listener to get a port nobody listens on.
    let addr = match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(a) => a.to_string(),
        Err(e) => panic!("bind: {e}"),
    };
    let storage = Arc::new(MemStorage::new());
    let sink: Arc<dyn MetricSink> = storage.clone();
    let manager = ScrapeManager::new(sink);
    manager
        .apply_config(&config(&format!(
            "global:\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\nscrape_configs:\n  - job_name: gone\n    static_configs:\n      - targets: ['{addr}']\n"
        )))
        .await;
    eventually("up == 0", || {
        last_value(&select(&storage, "up")).map(|s| s.v) == Some(0.0)
    })
    .await;
    let snapshot = manager.targets();
    assert_eq!(snapshot.active[0].health, "down");
    assert!(!snapshot.active[0].last_error.is_empty());
    manager.stop().await;
}

#[tokio::test]
async fn exceeding_sample_limit_fails_the_scrape() {
    let body = Arc::new(Mutex::new("a 1\nb 2\nc 3\n".to_string()));
    let addr = serve(body).await;
    let storage = Arc::new(MemStorage::new());
    let sink: Arc<dyn MetricSink> = storage.clone();
    let manager = ScrapeManager::new(sink);
    manager
        .apply_config(&config(&format!(
            "global:\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\nscrape_configs:\n  - job_name: limited\n    sample_limit: 2\n    static_configs:\n      - targets: ['{addr}']\n"
        )))
        .await;
    eventually("up == 0", || {
        last_value(&select(&storage, "up")).map(|s| s.v) == Some(0.0)
    })
    .await;
    assert!(
        select(&storage, "a").is_empty(),
        "no sample of a failed scrape is stored"
    );
    let snapshot = manager.targets();
    assert!(snapshot.active[0].last_error.contains("sample limit"));
    let mut metrics = String::new();
    manager.write_self_metrics(&mut metrics);
    assert!(metrics.contains("prometheus_target_scrapes_exceeded_sample_limit_total"));
    manager.stop().await;
}

#[tokio::test]
async fn exceeding_target_limit_fails_every_target_of_the_pool() {
    let addr = serve(Arc::new(Mutex::new("a 1\n".to_string()))).await;
    let port = addr.rsplit(':').next().unwrap_or_default();
    let storage = Arc::new(MemStorage::new());
    let sink: Arc<dyn MetricSink> = storage.clone();
    let manager = ScrapeManager::new(sink);
    manager
        .apply_config(&config(&format!(
            "global:\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\nscrape_configs:\n  - job_name: many\n    target_limit: 1\n    static_configs:\n      - targets: ['{addr}', 'localhost:{port}']\n"
        )))
        .await;
    eventually("both targets down", || {
        let up = select(&storage, "up");
        up.len() == 2
            && up
                .iter()
                .all(|s| s.samples.last().map(|p| p.v) == Some(0.0))
    })
    .await;
    assert!(select(&storage, "a").is_empty());
    assert!(manager
        .targets()
        .active
        .iter()
        .all(|t| t.last_error.contains("target_limit exceeded")));
    manager.stop().await;
}

#[tokio::test]
async fn gzip_openmetrics_with_timestamps() {
    let body = Arc::new(Mutex::new(
        "# TYPE jobs counter\njobs_total 5 1000.5\njobs_created 1\n# TYPE temp gauge\ntemp 3 # {a=\"b\"} 1\n# EOF\n"
            .to_string(),
    ));
    let addr = serve_as(
        body,
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        true,
    )
    .await;
    let storage = Arc::new(MemStorage::new());
    let sink: Arc<dyn MetricSink> = storage.clone();
    let manager = ScrapeManager::new(sink);
    manager
        .apply_config(&config(&format!(
            "global:\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\nscrape_configs:\n  - job_name: om\n    static_configs:\n      - targets: ['{addr}']\n"
        )))
        .await;
    eventually("jobs_total stored", || {
        !select(&storage, "jobs_total").is_empty()
    })
    .await;
    // OpenMetrics timestamps are seconds; honor_timestamps (default true) keeps them.
    assert_eq!(
        last_value(&select(&storage, "jobs_total")),
        Some(Sample {
            t: 1_000_500,
            v: 5.0
        })
    );
    // Without created-timestamp-zero-ingestion `_created` is a series, as in Prometheus.
    assert!(!select(&storage, "jobs_created").is_empty());
    assert_eq!(
        last_value(&select(&storage, "temp")).map(|s| s.v),
        Some(3.0)
    );
    manager.stop().await;
}
