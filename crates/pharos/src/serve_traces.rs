//! Wiring of the trace signal into `pharos serve`: opens the trace store under `<data>/traces/`,
//! builds the OTLP/Jaeger/Zipkin routes, runs the span-metrics flush (into the TSDB) and
//! retention loops (span-metric bucket exemplars go to the exemplar store), starts the compatibility listeners from `listeners:` (Jaeger 14268,
//! Zipkin 9411, OTLP/HTTP 4318 serve the whole HTTP app; OTLP/gRPC 4317 serves tonic; Jaeger
//! agent UDP 6831 compact / 6832 binary), and
//! flushes span metrics one last time at shutdown.

use axum::Router;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub struct TracesRuntime {
    pub store: Arc<traces::TraceStore>,
    sink: Arc<dyn model::MetricSink>,
    metrics_enabled: bool,
}

/// Opens the store and returns the trace routes to merge into the main app.
pub async fn start(
    cfg: &config::LoadedConfig,
    data_dir: &Path,
    sink: Arc<dyn model::MetricSink>,
    logs: Option<Arc<dyn model::LogQueryable>>,
    exemplars: Arc<model::exemplars::ExemplarStore>,
) -> Result<(Router, TracesRuntime), String> {
    let t = &cfg.traces;
    let opts = traces::TraceStoreOptions {
        retention_ns: (t.retention_ms.max(0) as u64).saturating_mul(1_000_000),
        max_span_bytes: t.max_span_bytes as usize,
        max_attributes_per_span: t.max_attributes_per_span,
        ingestion_rate_spans: t.ingestion_rate_spans,
        ingestion_burst_spans: t.ingestion_burst_spans,
        head_max_spans: t.head_max_spans,
        ..Default::default()
    };
    let dir = data_dir.join("traces");
    let store = tokio::task::spawn_blocking(move || traces::TraceStore::open(&dir, opts))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("opening the trace store: {e}"))?;
    let state = Arc::new(api::trace_http::TracesState {
        store: store.clone(),
        logs,
        max_body_bytes: t.max_request_bytes as usize,
    });
    let router = Router::new()
        .merge(api::otlp::routes(state.clone()))
        .merge(api::jaeger::routes(state.clone()))
        .merge(api::trace_delete::routes(state.clone()))
        .merge(api::zipkin::routes(state));
    if t.span_metrics_enabled {
        let store = store.clone();
        let sink = sink.clone();
        let every = Duration::from_millis(t.span_metrics_flush_interval_ms.max(100) as u64);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let (store, sink) = (store.clone(), sink.clone());
                let exemplars = exemplars.clone();
                let r = tokio::task::spawn_blocking(move || {
                    let m = store.span_metrics();
                    let n = m.flush(sink.as_ref(), model::time::now_ms())?;
                    // Each bucket's latest span; re-adding an unchanged one is a no-op.
                    for (series, e) in m.exemplars() {
                        let _ = exemplars.add(&series, e);
                    }
                    Ok::<_, model::StorageError>(n)
                })
                .await;
                if let Ok(Err(e)) = r {
                    tracing::warn!("span metrics flush failed: {e}");
                }
            }
        });
    }
    // Trace delete requests and tenants' retention leave the segments: a pass every half
    // cancel period (1 s to 60 s).
    store
        .deletes()
        .set_cancel_period_ms(t.delete_request_cancel_period_ms);
    {
        let store = store.clone();
        let every = (t.delete_request_cancel_period_ms / 2).clamp(1000, 60_000) as u64;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(every));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let store = store.clone();
                let r = tokio::task::spawn_blocking(move || {
                    store.process_deletes(model::time::now_ms())
                })
                .await;
                match r {
                    Ok(Ok(p)) if p.spans_removed > 0 => tracing::info!(
                        spans = p.spans_removed,
                        segments = p.segments_rewritten,
                        "trace deletes applied"
                    ),
                    Ok(Err(e)) => tracing::warn!("trace delete pass failed: {e}"),
                    _ => {}
                }
            }
        });
    }
    {
        let store = store.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(300));
            loop {
                tick.tick().await;
                let store = store.clone();
                match tokio::task::spawn_blocking(move || store.enforce_retention()).await {
                    Ok(Ok(n)) if n > 0 => tracing::info!(traces = n, "trace retention"),
                    Ok(Err(e)) => tracing::warn!("trace retention failed: {e}"),
                    _ => {}
                }
            }
        });
    }
    Ok((
        router,
        TracesRuntime {
            store,
            sink,
            metrics_enabled: t.span_metrics_enabled,
        },
    ))
}

/// Binds the compatibility listeners of `listeners:`; each prints
/// `pharos: <name> listening on <addr>` so tests using port 0 find the port.
pub async fn start_listeners(
    cfg: &config::LoadedConfig,
    app: Router,
    rt: &TracesRuntime,
) -> Result<(), String> {
    let l = &cfg.listeners;
    for (name, addr) in [
        ("jaeger", &l.jaeger),
        ("zipkin", &l.zipkin),
        ("otlp_http", &l.otlp_http),
        ("alertmanager", &l.alertmanager),
        ("elasticsearch", &l.elasticsearch),
    ] {
        let Some(addr) = addr else { continue };
        let listener = tokio::net::TcpListener::bind(addr.as_str())
            .await
            .map_err(|e| format!("cannot listen on {addr} (listeners.{name}): {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        eprintln!(
            "pharos: {name} listening on {}://{local}",
            crate::serve_web::scheme()
        );
        let app = app.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::serve_web::serve(listener, app, std::future::pending()).await {
                tracing::error!("{name} listener failed: {e}");
            }
        });
    }
    for (name, addr, compact) in [
        ("jaeger_agent_compact", &l.jaeger_agent_compact, true),
        ("jaeger_agent_binary", &l.jaeger_agent_binary, false),
    ] {
        let Some(addr) = addr else { continue };
        let sock = tokio::net::UdpSocket::bind(addr.as_str())
            .await
            .map_err(|e| format!("cannot listen on udp {addr} (listeners.{name}): {e}"))?;
        let local = sock.local_addr().map_err(|e| e.to_string())?;
        eprintln!("pharos: {name} listening on udp {local}");
        let store = rt.store.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            loop {
                let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                    continue;
                };
                let datagram = buf[..n].to_vec();
                let store = store.clone();
                let r = tokio::task::spawn_blocking(move || {
                    let spans = traces::jaeger_thrift::decode_agent_datagram(&datagram, compact)?;
                    store.append(spans)
                })
                .await;
                if let Ok(Err(e)) = r {
                    // UDP has no answer channel: the reason goes to the log.
                    tracing::warn!(%from, "dropped Jaeger agent datagram: {e}");
                }
            }
        });
    }
    if let Some(addr) = &l.otlp_grpc {
        let listener = tokio::net::TcpListener::bind(addr.as_str())
            .await
            .map_err(|e| format!("cannot listen on {addr} (listeners.otlp_grpc): {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        eprintln!("pharos: otlp_grpc listening on {local}");
        let store = rt.store.clone();
        let max = cfg.traces.max_request_bytes as usize;
        tokio::spawn(async move {
            if let Err(e) = api::otlp::grpc::serve(
                store,
                crate::serve_web::grpc_authorizer(),
                listener,
                max,
                std::future::pending(),
            )
            .await
            {
                tracing::error!("{e}");
            }
        });
    }
    Ok(())
}

/// Final span-metrics flush before the TSDB closes.
pub fn shutdown(rt: &TracesRuntime) {
    if rt.metrics_enabled {
        if let Err(e) = rt
            .store
            .span_metrics()
            .flush(rt.sink.as_ref(), model::time::now_ms())
        {
            tracing::warn!("final span metrics flush failed: {e}");
        }
    }
}
