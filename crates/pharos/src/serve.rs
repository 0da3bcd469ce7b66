//! `pharos serve`: opens the TSDB, starts the scrape manager and the HTTP server, reloads the
//! configuration on SIGHUP or `POST /-/reload`, and shuts down cleanly on SIGTERM/SIGINT.

use api::{AppState, ReloadFn};
use clap::Args;
use parking_lot::RwLock;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// A pharos.yml, or directly a prometheus.yml.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address of the main HTTP listener (port 0 picks a free port).
    #[arg(long)]
    listen: Option<String>,
    /// Data directory.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Address of the Loki compatibility listener (overrides the Loki config's
    /// server.http_listen_port; port 0 picks a free port).
    #[arg(long)]
    loki_listen: Option<String>,
    /// Comma-separated feature names to enable, as Prometheus' `--enable-feature` (repeatable;
    /// added to `features:` of pharos.yml): promql-experimental-functions,
    /// created-timestamp-zero-ingestion. Unknown names are warned about.
    #[arg(long = "enable-feature", value_name = "NAMES")]
    enable_feature: Vec<String>,
    #[command(flatten)]
    log: crate::logging::LogArgs,
    #[command(flatten)]
    web: crate::serve_web::WebFlags,
}

/// Called once with the main listener's address, inside the runtime (`pharos demo` starts its
/// workload from it).
pub type OnListening = Box<dyn FnOnce(SocketAddr) + Send>;

pub fn run(args: ServeArgs) -> ExitCode {
    run_with(args, None)
}

/// `pharos serve` with a hook called once the main listener is bound.
pub fn run_with(args: ServeArgs, on_listening: Option<OnListening>) -> ExitCode {
    crate::logging::init(&args.log);
    crate::memtrim::start();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pharos: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(serve(args, on_listening)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pharos: {e}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(
    path: &Option<PathBuf>,
    web: &crate::serve_web::WebFlags,
    enable_feature: &[String],
) -> Result<config::LoadedConfig, String> {
    let mut cfg = match path {
        None => crate::serve_collectors::annotated(config::LoadedConfig::default()),
        Some(p) => {
            let cfg = config::load(p).map_err(|e| e.to_string())?;
            for w in &cfg.warnings {
                tracing::warn!("{w}");
            }
            crate::serve_collectors::annotated(cfg)
        }
    };
    web.apply(&mut cfg)?;
    // `--enable-feature` adds to `features:` of pharos.yml.
    let names: Vec<&str> = cfg
        .features
        .names()
        .chain(enable_feature.iter().map(String::as_str))
        .collect();
    let (features, unknown) = config::features::Features::parse(names);
    for w in unknown {
        tracing::warn!("{w}");
    }
    cfg.features = features;
    Ok(cfg)
}

async fn serve(args: ServeArgs, on_listening: Option<OnListening>) -> Result<(), String> {
    let cfg = load_config(&args.config, &args.web, &args.enable_feature)?;
    for f in cfg.features.names() {
        tracing::info!(feature = f, "feature flag enabled");
    }
    crate::serve_web::init_tls(&cfg.web)?;
    crate::logging::on_config(&cfg, true);
    crate::query_log::on_config(&cfg);
    let listen = args
        .listen
        .clone()
        .or_else(|| cfg.listen.clone())
        .unwrap_or_else(|| "0.0.0.0:9090".to_string());
    let data_dir = args
        .data
        .clone()
        .or_else(|| cfg.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("./data"));
    let tsdb_opts = tsdb::TsdbOptions {
        retention_time_ms: cfg.tsdb.retention_time_ms,
        retention_size_bytes: cfg.tsdb.retention_size_bytes,
        out_of_order_window_ms: cfg.tsdb.out_of_order_window_ms,
        ..Default::default()
    };
    let db = {
        let dir = data_dir.join("metrics");
        tokio::task::spawn_blocking(move || tsdb::Tsdb::open(&dir, tsdb_opts))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("opening the TSDB in {}: {e}", data_dir.display()))?
    };
    scrape::scrape_loop::set_created_timestamp_zero_ingestion(
        cfg.features.created_timestamp_zero_ingestion(),
    );
    let scrape = scrape::ScrapeManager::new(db.clone());
    scrape.apply_config(&cfg.prometheus).await;
    crate::serve_tenant_retention::spawn(db.clone());
    // remote_write queues follow the TSDB's WAL; their positions live in <data>/remote_write/.
    let remote_write = Arc::new(forward::RemoteWrite::new(
        &data_dir.join("metrics").join("wal"),
        &data_dir.join("remote_write"),
    ));
    remote_write.set_metadata_source({
        let scrape = scrape.clone();
        Arc::new(move || {
            scrape
                .metadata()
                .into_iter()
                .map(|m| {
                    let md = forward::queue::FamilyMetadata {
                        metric_type: m.metric_type,
                        help: m.help,
                        unit: m.unit,
                    };
                    (m.metric, md)
                })
                .collect()
        })
    });
    remote_write.apply(&cfg.prometheus)?;
    // Log/trace/error forwarders (`forward:`) follow their stores' WALs; positions live in
    // <data>/forward/. Checked now, started once the stores are open.
    forward::signals::targets(&cfg.forward)?;
    let forwarders = Arc::new(forward::signals::Forwarders::new(&data_dir));

    let config_path = args.config.clone();
    let am_slot: Arc<RwLock<Option<alertmanager::Alertmanager>>> = Arc::new(RwLock::new(None));
    type RulesSlot = Arc<RwLock<Option<(Arc<alerting::RuleManager>, String)>>>;
    let rules_slot: RulesSlot = Arc::new(RwLock::new(None));
    let state_slot: Arc<RwLock<Option<std::sync::Weak<AppState>>>> = Arc::new(RwLock::new(None));
    let reload: ReloadFn = {
        let remote_write = remote_write.clone();
        let forwarders = forwarders.clone();
        let slot = state_slot.clone();
        let scrape = scrape.clone();
        let path = config_path.clone();
        let am_slot = am_slot.clone();
        let rules_slot = rules_slot.clone();
        let web = args.web.clone();
        let enable_feature = args.enable_feature.clone();
        Arc::new(move || {
            let remote_write = remote_write.clone();
            let forwarders = forwarders.clone();
            let slot = slot.clone();
            let scrape = scrape.clone();
            let path = path.clone();
            let am_slot = am_slot.clone();
            let rules_slot = rules_slot.clone();
            let web = web.clone();
            let enable_feature = enable_feature.clone();
            Box::pin(async move {
                let cfg = load_config(&path, &web, &enable_feature)?;
                crate::logging::on_config(&cfg, false);
                crate::query_log::on_config(&cfg);
                remote_write.apply(&cfg.prometheus)?;
                forwarders.apply(&cfg.forward)?;
                let rules = rules_slot.read().clone();
                if let Some((mgr, url)) = rules {
                    crate::serve_rules::reload(&mgr, &cfg, &url)?;
                }
                let am = am_slot.read().clone();
                if let Some(am) = am {
                    crate::serve_alertmanager::reload(&am, &cfg)?;
                }
                scrape
                    .apply_config(&crate::serve_collectors::with_builtin(&cfg))
                    .await;
                api::pharos::incident::record_event("config_reload", "configuration reloaded");
                if let Some(state) = slot.read().as_ref().and_then(|w| w.upgrade()) {
                    *state.config.write() = Arc::new(cfg);
                }
                tracing::info!("configuration reloaded");
                Ok(())
            })
        })
    };
    let flags = vec![
        (
            "config.file".to_string(),
            config_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
        ("web.listen-address".to_string(), listen.clone()),
        (
            "storage.tsdb.path".to_string(),
            data_dir.join("metrics").display().to_string(),
        ),
        (
            "storage.tsdb.retention.time".to_string(),
            model::time::PromDuration(cfg.tsdb.retention_time_ms).to_string(),
        ),
    ];
    let state = Arc::new(AppState {
        storage: db.clone(),
        sink: db.clone(),
        tsdb: db.clone(),
        engine: promql::Engine::new(promql::EngineOptions {
            experimental_functions: cfg.features.promql_experimental_functions(),
            ..Default::default()
        }),
        scrape: scrape.clone(),
        config: RwLock::new(Arc::new(cfg.clone())),
        reload: reload.clone(),
        start_time_ms: model::time::now_ms(),
        ready: AtomicBool::new(true),
        http_metrics: Default::default(),
        flags,
    });
    *state_slot.write() = Some(Arc::downgrade(&state));

    let addr: SocketAddr = listen
        .parse()
        .map_err(|e| format!("invalid listen address {listen:?}: {e}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // Built-in collectors: jobs `pharos` and `node` scrape this listener.
    crate::serve_collectors::start(&scrape, &cfg, local).await;
    // The built-in Alertmanager (API v2 under /api/v2/*, state under <data>/alerting/).
    // Links in notifications point at `external_url:` of pharos.yml (default: this listener).
    let external_url = cfg
        .incident
        .external_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));
    let am = crate::serve_alertmanager::start(&cfg, &data_dir, external_url.clone())
        .map_err(|e| format!("alertmanager: {e}"))?;
    *am_slot.write() = Some(am.clone());
    // The rules engine: rule_files of prometheus.yml evaluated over the TSDB; alerts go to the
    // external `alerting.alertmanagers` and to the in-process sink below (the built-in
    // Alertmanager's `model::AlertSink`, when wired).
    let in_process_sink: Option<Arc<dyn model::AlertSink>> = Some(Arc::new(am.clone()));
    // Logs first: LogQL rule files are evaluated over the log store (Loki's ruler).
    let logs_w = crate::serve_logs::open(
        &cfg,
        &data_dir,
        args.loki_listen.clone(),
        forwarders.logs_wal_hold(),
    )
    .await?;
    let log_querier: Arc<dyn model::LogRuleQuerier> = Arc::new(logs::logql::RuleQuerier {
        store: logs_w.store.clone(),
    });
    // The shipped rule sets (security, cost) are generated under <data>/rulesets/.
    crate::rulesets::init(&data_dir);
    let rules = crate::serve_rules::start(
        &cfg,
        db.clone(),
        db.clone(),
        in_process_sink,
        external_url.clone(),
        Some(log_querier),
    )?;
    *rules_slot.write() = Some((rules.clone(), external_url));
    // Traces: OTLP/Jaeger/Zipkin routes, store under <data>/traces/, span metrics into the TSDB.
    // The file tailer (promtail role) writes into the log store.
    let tailer = crate::serve_es::start_tailer(&cfg, logs_w.store.clone(), &data_dir)?;
    let (trace_routes, traces_rt) = crate::serve_traces::start(
        &cfg,
        &data_dir,
        db.clone(),
        Some(logs_w.store.clone() as Arc<dyn model::LogQueryable>),
        scrape.exemplars().clone(),
    )
    .await?;
    eprintln!(
        "pharos: listening on {}://{local}",
        crate::serve_web::scheme()
    );
    if let Some(hook) = on_listening {
        hook(local);
    }
    tracing::info!(%local, data = %data_dir.display(), "pharos started");

    // SIGHUP reloads.
    {
        let reload = reload.clone();
        tokio::spawn(async move {
            let Ok(mut hup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                return;
            };
            while hup.recv().await.is_some() {
                if let Err(e) = reload().await {
                    tracing::error!("reload failed: {e}");
                }
            }
        });
    }
    let app = api::router(state.clone())
        .merge(api::prometheus::rules_api::routes(Arc::new(
            api::prometheus::rules_api::RulesState {
                manager: rules.clone(),
            },
        )))
        .merge(api::alertmanager::routes(Arc::new(
            api::alertmanager::AmState { am: am.clone() },
        )));
    let app = app
        .merge(trace_routes)
        .merge(logs_w.routes.clone())
        .merge(crate::serve_es::routes(logs_w.store.clone(), &data_dir));
    // Grafana's dashboard API over <data>/dashboards/ and the provisioned folders.
    let (dash_routes, dash_store) = crate::serve_dashboards::start(&state, &data_dir).await?;
    let app = app.merge(dash_routes);
    // pharos' own API for the UI's Home/Status/Alerts pages (/api/pharos/v1/*).
    let status =
        crate::serve_status::routes(&state, &logs_w, &traces_rt, &am, dash_store, &data_dir);
    let app = app.merge(status);
    // Troubleshooting: /-/log-level, /debug/pprof/*, and the slow query log around every query.
    let app = app
        .merge(crate::logging::routes())
        .merge(crate::pprof::routes());
    let app = crate::query_log::layer(app, logs_w.store.clone());
    // The host collector's exposition (/metrics/node) and /api/pharos/v1/collectors.
    let app = app.merge(crate::serve_collectors::routes(&state));
    // Prometheus' federation endpoint (/federate?match[]=...).
    let app = app.merge(crate::serve_federate::routes(&state));
    // Uptime probes (blackbox_exporter's /probe, the uptime API and the public status page).
    let app = app.merge(crate::serve_probes::start(&state, &data_dir, db.clone())?);
    // Errors: Sentry ingest (/api/{project}/envelope/, /store/) and /api/pharos/v1/errors/*.
    let errors_w = crate::serve_errors::start(&cfg, &data_dir).await?;
    let app = app.merge(errors_w.routes.clone());
    forwarders.apply(&cfg.forward)?;
    // The incident page's API: one alert's context from every store.
    let app = app.merge(crate::serve_incident::routes(
        &state,
        &cfg,
        rules.clone(),
        logs_w.store.clone(),
        traces_rt.store.clone(),
        errors_w.store.clone(),
        &am,
    ));
    crate::serve_errors::install_hooks(
        &errors_w,
        &cfg,
        &am,
        traces_rt.store.clone(),
        logs_w.store.clone(),
        db.clone(),
        local,
    );
    // /-/quit and the admin API (snapshot); the front door below gates them.
    let app = app.merge(crate::serve_web::routes(data_dir.clone(), state.clone()));
    let web_auth = Arc::new(crate::serve_web::Auth::default());
    // Rejected pushes counted as pharos_rejected_requests_total{api,reason}.
    let (app, rejected_metrics) = crate::serve_security::count_rejections(app);
    let app = {
        let (am, rules) = (am.clone(), rules.clone());
        let (logs, traces) = (logs_w.store.clone(), traces_rt.store.clone());
        crate::metrics_append::append_to_metrics(
            app,
            vec![
                Arc::new(move |out: &mut String| am.write_metrics(out)),
                Arc::new(move |out: &mut String| rules.write_metrics(out)),
                Arc::new(move |out: &mut String| logs.write_self_metrics(out)),
                Arc::new(move |out: &mut String| traces.write_self_metrics(out)),
                rejected_metrics,
                Arc::new(api::tenant_limits::write_metrics),
                Arc::new(model::created::write_metrics),
                {
                    let rw = remote_write.clone();
                    Arc::new(move |out: &mut String| rw.write_metrics(out))
                },
                {
                    let f = forwarders.clone();
                    Arc::new(move |out: &mut String| f.write_metrics(out))
                },
                {
                    let a = web_auth.clone();
                    Arc::new(move |out: &mut String| a.write_metrics(out))
                },
                {
                    let s = errors_w.store.clone();
                    Arc::new(move |out: &mut String| s.write_metrics(out))
                },
            ],
        )
    };
    // The web UI on the main port and on every compatibility listener a browser might open.
    let app = api::ui::layer(app);
    // Every listener: TLS, basic auth / tokens / login, lifecycle and admin API switches.
    let app = crate::serve_web::layer(app, state.clone(), web_auth);
    crate::serve_logs::start_listener(&logs_w, app.clone()).await?;
    crate::serve_traces::start_listeners(&cfg, app.clone(), &traces_rt).await?;
    let shutdown = async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return,
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
            _ = crate::serve_web::quit_requested() => {}
        }
        tracing::info!("shutting down");
    };
    crate::serve_web::serve(listener, app, shutdown)
        .await
        .map_err(|e| format!("HTTP server failed: {e}"))?;
    scrape.stop().await;
    remote_write.stop();
    forwarders.stop();
    crate::serve_traces::shutdown(&traces_rt);
    rules.stop();
    if let Some(t) = tailer {
        t.stop();
    }
    logs_w.store.close().map_err(|e| e.to_string())?;
    db.close().map_err(|e| e.to_string())?;
    Ok(())
}
