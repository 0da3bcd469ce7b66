//! The example configs shipped in `examples/` load through the public `config::load`, exactly as
//! `pharos serve --config <file>` reads them.

use std::path::PathBuf;

fn example(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(path)
}

#[test]
fn guide_prometheus_yml_loads_unmodified() {
    let loaded = match config::load(&example("prometheus/prometheus.yml")) {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    };
    let prom = &loaded.prometheus;
    let jobs: Vec<&str> = prom
        .scrape_configs
        .iter()
        .map(|s| s.job_name.as_str())
        .collect();
    assert_eq!(
        jobs,
        [
            "crewai-app",
            "node-exporter",
            "redis-exporter",
            "postgres-exporter"
        ]
    );
    assert!(loaded.prometheus_path.is_some());
    assert!(!loaded.prometheus_yaml.is_empty());
    assert_eq!(prom.rule_files, ["alerts/*.yml"]);
}

#[test]
fn pharos_yml_pointing_at_the_example_loads() {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let pharos_yml = dir.path().join("pharos.yml");
    let text = format!(
        "prometheus_config: {}\nlisten: 127.0.0.1:0\nstorage:\n  tsdb:\n    retention_time: 2d\n    retention_size: 1GB\nalertmanager_config: am.yml\n",
        example("prometheus/prometheus.yml").display()
    );
    if let Err(e) = std::fs::write(&pharos_yml, text) {
        panic!("{e}");
    }
    let loaded = match config::load(&pharos_yml) {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(loaded.listen.as_deref(), Some("127.0.0.1:0"));
    assert_eq!(loaded.tsdb.retention_time_ms, 2 * 86_400_000);
    assert_eq!(loaded.prometheus.scrape_configs.len(), 4);
    // alertmanager_config is a path resolved against the pharos.yml's directory.
    assert_eq!(
        loaded.alertmanager_config.as_deref(),
        Some(dir.path().join("am.yml").as_path())
    );
    // A key of no pharos issue at all is an error naming the line.
    if let Err(e) = std::fs::write(&pharos_yml, "listen: ':0'\nlisten_adress: x\n") {
        panic!("{e}");
    }
    match config::load(&pharos_yml) {
        Ok(_) => panic!("unknown key accepted"),
        Err(e) => {
            assert_eq!(e.line, 2);
            assert!(e.message.contains("listen_adress"), "{e}");
        }
    }
}
