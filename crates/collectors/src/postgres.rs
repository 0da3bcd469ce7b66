//! The PostgreSQL collector: connects to one server and turns its statistics views
//! (pg_stat_database, pg_stat_activity, pg_locks, pg_database sizes, pg_settings, replication
//! state) into metric families named, labelled and typed as prometheus-community's
//! postgres_exporter names them (`pg_up`, `pg_stat_database_*{datid,datname}`,
//! `pg_stat_activity_count{datname,state}`, `pg_database_size_bytes{datname}`,
//! `pg_locks_count{datname,mode}`, `pg_settings_*`, `pg_replication_lag_seconds`,
//! `pg_static{version,short_version}`), so postgres_exporter's dashboards work.
//!
//! It speaks the wire protocol through the `tokio-postgres` crate rather than by hand: unlike
//! RESP, PostgreSQL's startup needs SCRAM-SHA-256 / MD5 authentication and a message framing
//! with many kinds, which that crate implements and is maintained for. Queries use the
//! simple-query protocol (text values), so no statement is prepared on the server.

use crate::{MetricFamily, MetricType};
use std::collections::BTreeMap;
use std::time::Duration;

/// Where and how to reach one PostgreSQL server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    pub password: Option<String>,
    pub timeout: Duration,
}

/// Rows of a simple query: column name → text value (NULL is "").
pub type Rows = Vec<BTreeMap<String, String>>;

/// The queries one scrape runs, by name.
pub const QUERIES: &[(&str, &str)] = &[
    ("version", "SELECT version() AS version, current_setting('server_version') AS short_version"),
    ("stat_database", "SELECT * FROM pg_stat_database"),
    (
        "stat_database_epochs",
        "SELECT datid, extract(epoch from stats_reset) AS stats_reset FROM pg_stat_database",
    ),
    (
        "stat_database_conflicts",
        "SELECT datid, datname, confl_tablespace, confl_lock, confl_snapshot, confl_bufferpin, \
         confl_deadlock FROM pg_stat_database_conflicts",
    ),
    (
        "bgwriter",
        "SELECT checkpoints_timed, checkpoints_req, checkpoint_write_time, checkpoint_sync_time, \
         buffers_checkpoint, buffers_clean, maxwritten_clean, buffers_backend, \
         buffers_backend_fsync, buffers_alloc, extract(epoch from stats_reset) AS stats_reset \
         FROM pg_stat_bgwriter",
    ),
    (
        "archiver",
        "SELECT archived_count, failed_count, \
         extract(epoch from now() - last_archived_time) AS last_archive_age FROM pg_stat_archiver",
    ),
    (
        "activity",
        "SELECT d.datname, s.state, COALESCE(a.count, 0) AS count, \
         COALESCE(a.max_tx_duration, 0) AS max_tx_duration \
         FROM pg_database d CROSS JOIN (VALUES ('active'), ('idle'), ('idle in transaction'), \
         ('idle in transaction (aborted)'), ('fastpath function call'), ('disabled')) AS s(state) \
         LEFT JOIN (SELECT datname, state, count(*) AS count, \
         MAX(EXTRACT(EPOCH FROM now() - xact_start))::float AS max_tx_duration \
         FROM pg_stat_activity GROUP BY datname, state) a \
         ON a.datname = d.datname AND a.state = s.state",
    ),
    (
        "locks",
        "SELECT d.datname, m.mode, COALESCE(l.count, 0) AS count FROM pg_database d \
         CROSS JOIN (VALUES ('accesssharelock'), ('rowsharelock'), ('rowexclusivelock'), \
         ('shareupdateexclusivelock'), ('sharelock'), ('sharerowexclusivelock'), \
         ('exclusivelock'), ('accessexclusivelock'), ('sireadlock')) AS m(mode) \
         LEFT JOIN (SELECT database, lower(mode) AS mode, count(*) AS count FROM pg_locks \
         WHERE database IS NOT NULL GROUP BY database, lower(mode)) l \
         ON l.database = d.oid AND l.mode = m.mode",
    ),
    (
        "database_size",
        "SELECT datname, pg_database_size(datname) AS size FROM pg_database",
    ),
    (
        "settings",
        "SELECT name, setting, COALESCE(unit, '') AS unit, vartype FROM pg_settings \
         WHERE vartype IN ('bool', 'integer', 'real')",
    ),
    (
        "replication",
        "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0 \
         ELSE GREATEST(0, EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp()))) END AS lag, \
         CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END AS is_replica",
    ),
    ("postmaster", "SELECT extract(epoch from pg_postmaster_start_time()) AS start_time"),
];

/// Connects and runs [`QUERIES`]; a query that fails (e.g. a view the role may not read) is
/// left out, a failed connection is the error.
pub async fn read(t: &PgTarget) -> Result<BTreeMap<&'static str, Rows>, String> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(&t.host)
        .port(t.port)
        .user(&t.user)
        .dbname(&t.dbname)
        .application_name("pharos")
        .connect_timeout(t.timeout);
    if let Some(p) = &t.password {
        cfg.password(p);
    }
    let work = async {
        let (client, conn) = cfg
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("postgres {}:{}: {}", t.host, t.port, with_causes(&e)))?;
        let driver = tokio::spawn(conn);
        let mut out = BTreeMap::new();
        for (name, sql) in QUERIES {
            if let Ok(msgs) = client.simple_query(sql).await {
                out.insert(*name, rows(msgs));
            }
        }
        drop(client);
        let _ = driver.await;
        Ok(out)
    };
    match tokio::time::timeout(t.timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "postgres {}:{}: no answer within {:?}",
            t.host, t.port, t.timeout
        )),
    }
}

/// An error with its causes (`error connecting to server: Connection refused …`).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn rows(msgs: Vec<tokio_postgres::SimpleQueryMessage>) -> Rows {
    let mut out = Vec::new();
    for m in msgs {
        if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
            let mut row = BTreeMap::new();
            for (i, c) in r.columns().iter().enumerate() {
                // NULL is "" (reported as NaN, as postgres_exporter does).
                row.insert(c.name().to_string(), r.get(i).unwrap_or("").to_string());
            }
            out.push(row);
        }
    }
    out
}

/// Scrapes `t`: its metric families with `pg_up 1`, or `Err` with why it is unreachable.
pub async fn collect(t: &PgTarget) -> Result<Vec<MetricFamily>, String> {
    let data = read(t).await?;
    Ok(families(&data, &format!("{}:{}", t.host, t.port)))
}

/// The families for a server that could not be read: `pg_up 0`.
pub fn down() -> Vec<MetricFamily> {
    vec![MetricFamily::single(
        "pg_up",
        "Whether the last scrape of metrics from PostgreSQL was able to connect to the server (1 for yes, 0 for no).",
        MetricType::Gauge,
        0.0,
    )]
}

fn num(row: &BTreeMap<String, String>, col: &str) -> Option<f64> {
    let v = row.get(col)?;
    match v.as_str() {
        "t" | "on" | "true" => Some(1.0),
        "f" | "off" | "false" => Some(0.0),
        _ => v.parse::<f64>().ok().filter(|f| f.is_finite()),
    }
}

/// `pg_stat_database` columns: (column, type, help).
const STAT_DATABASE: &[(&str, MetricType, &str)] = &[
    (
        "numbackends",
        MetricType::Gauge,
        "Number of backends currently connected to this database.",
    ),
    (
        "xact_commit",
        MetricType::Counter,
        "Number of transactions in this database that have been committed",
    ),
    (
        "xact_rollback",
        MetricType::Counter,
        "Number of transactions in this database that have been rolled back",
    ),
    (
        "blks_read",
        MetricType::Counter,
        "Number of disk blocks read in this database",
    ),
    (
        "blks_hit",
        MetricType::Counter,
        "Number of times disk blocks were found already in the buffer cache",
    ),
    (
        "tup_returned",
        MetricType::Counter,
        "Number of rows returned by queries in this database",
    ),
    (
        "tup_fetched",
        MetricType::Counter,
        "Number of rows fetched by queries in this database",
    ),
    (
        "tup_inserted",
        MetricType::Counter,
        "Number of rows inserted by queries in this database",
    ),
    (
        "tup_updated",
        MetricType::Counter,
        "Number of rows updated by queries in this database",
    ),
    (
        "tup_deleted",
        MetricType::Counter,
        "Number of rows deleted by queries in this database",
    ),
    (
        "conflicts",
        MetricType::Counter,
        "Number of queries canceled due to conflicts with recovery in this database.",
    ),
    (
        "temp_files",
        MetricType::Counter,
        "Number of temporary files created by queries in this database.",
    ),
    (
        "temp_bytes",
        MetricType::Counter,
        "Total amount of data written to temporary files by queries in this database.",
    ),
    (
        "deadlocks",
        MetricType::Counter,
        "Number of deadlocks detected in this database",
    ),
    (
        "blk_read_time",
        MetricType::Counter,
        "Time spent reading data file blocks by backends in this database, in milliseconds",
    ),
    (
        "blk_write_time",
        MetricType::Counter,
        "Time spent writing data file blocks by backends in this database, in milliseconds",
    ),
    (
        "stats_reset",
        MetricType::Counter,
        "Time at which these statistics were last reset",
    ),
];

/// `pg_settings_<name>` as postgres_exporter names it: dots become `_`, and a unit is
/// converted to seconds or bytes with that suffix.
pub fn setting_metric(name: &str, setting: &str, unit: &str) -> Option<(String, f64)> {
    let v = match setting {
        "on" => 1.0,
        "off" => 0.0,
        s => s.parse::<f64>().ok().filter(|f| f.is_finite())?,
    };
    let base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let (scale, suffix) = match unit {
        "" => (1.0, ""),
        "ms" => (1e-3, "_seconds"),
        "s" => (1.0, "_seconds"),
        "min" => (60.0, "_seconds"),
        "h" => (3600.0, "_seconds"),
        "d" => (86400.0, "_seconds"),
        "B" => (1.0, "_bytes"),
        "kB" => (1024.0, "_bytes"),
        "MB" => (1024.0 * 1024.0, "_bytes"),
        "GB" => (1024.0 * 1024.0 * 1024.0, "_bytes"),
        "TB" => (1024.0f64.powi(4), "_bytes"),
        "8kB" => (8192.0, "_bytes"),
        "16kB" => (16384.0, "_bytes"),
        "32kB" => (32768.0, "_bytes"),
        "16MB" => (16.0 * 1024.0 * 1024.0, "_bytes"),
        "32MB" => (32.0 * 1024.0 * 1024.0, "_bytes"),
        "64MB" => (64.0 * 1024.0 * 1024.0, "_bytes"),
        _ => (1.0, ""),
    };
    // A -1 (disabled) keeps its meaning instead of becoming -1024 bytes.
    let value = if v < 0.0 { v } else { v * scale };
    Some((format!("pg_settings_{base}{suffix}"), value))
}

/// A column's value, NaN when NULL or not a number (as postgres_exporter reports it).
fn val(row: &BTreeMap<String, String>, col: &str) -> f64 {
    num(row, col).unwrap_or(f64::NAN)
}

/// Families keyed by name in first-seen order, every sample with `server`.
struct Out<'a> {
    server: &'a str,
    fams: Vec<MetricFamily>,
}

impl Out<'_> {
    fn add(&mut self, name: &str, help: &str, kind: MetricType, labels: &[(&str, &str)], v: f64) {
        let mut l: Vec<(&str, &str)> = labels.to_vec();
        l.push(("server", self.server));
        l.sort();
        match self.fams.iter_mut().find(|f| f.name == name) {
            Some(f) => f.push(&l, v),
            None => {
                let mut f = MetricFamily::new(name, help, kind);
                f.push(&l, v);
                self.fams.push(f);
            }
        }
    }
}

/// The metric families of one read (with `pg_up 1`); `server` is `host:port`, a label of
/// every family but `pg_up`, as postgres_exporter sets it.
pub fn families(data: &BTreeMap<&'static str, Rows>, server: &str) -> Vec<MetricFamily> {
    use MetricType::{Counter, Gauge, Untyped};
    let empty = Vec::new();
    let q = |n: &str| data.get(n).unwrap_or(&empty);
    let mut o = Out {
        server,
        fams: vec![MetricFamily::single(
            "pg_up",
            "Whether the last scrape of metrics from PostgreSQL was able to connect to the server (1 for yes, 0 for no).",
            Gauge,
            1.0,
        )],
    };
    if let Some(r) = q("version").first() {
        let full = r.get("version").map(String::as_str).unwrap_or("");
        let short = r.get("short_version").map(String::as_str).unwrap_or("");
        let short = semver(short);
        o.add(
            "pg_static",
            "Version string as reported by postgres",
            Untyped,
            &[("short_version", &short), ("version", full)],
            1.0,
        );
    }
    // The stats_reset epoch per datid (SELECT * gives it as a timestamp).
    let resets: BTreeMap<&str, f64> = q("stat_database_epochs")
        .iter()
        .filter_map(|r| Some((r.get("datid")?.as_str(), val(r, "stats_reset"))))
        .collect();
    for r in q("stat_database") {
        let Some(id) = r.get("datid") else { continue };
        // The shared-objects row (datid 0) has a NULL datname: "".
        let name = r.get("datname").map(String::as_str).unwrap_or("");
        let l = [("datid", id.as_str()), ("datname", name)];
        for col in r.keys() {
            if col == "datid" || col == "datname" {
                continue;
            }
            let (kind, help) = STAT_DATABASE
                .iter()
                .find(|(c, _, _)| c == col)
                .map(|(_, k, h)| (*k, *h))
                .unwrap_or((Untyped, "pg_stat_database column"));
            let v = if col == "stats_reset" {
                resets.get(id.as_str()).copied().unwrap_or(f64::NAN)
            } else {
                val(r, col)
            };
            o.add(&format!("pg_stat_database_{col}"), help, kind, &l, v);
        }
    }
    for r in q("stat_database_conflicts") {
        let Some(id) = r.get("datid") else { continue };
        let name = r.get("datname").map(String::as_str).unwrap_or("");
        for col in [
            "confl_tablespace",
            "confl_lock",
            "confl_snapshot",
            "confl_bufferpin",
            "confl_deadlock",
        ] {
            o.add(
                &format!("pg_stat_database_conflicts_{col}"),
                "Number of queries in this database that have been canceled due to conflicts",
                Counter,
                &[("datid", id), ("datname", name)],
                val(r, col),
            );
        }
    }
    if let Some(r) = q("bgwriter").first() {
        for (col, name) in [
            ("checkpoints_timed", "checkpoints_timed_total"),
            ("checkpoints_req", "checkpoints_req_total"),
            ("checkpoint_write_time", "checkpoint_write_time_total"),
            ("checkpoint_sync_time", "checkpoint_sync_time_total"),
            ("buffers_checkpoint", "buffers_checkpoint_total"),
            ("buffers_clean", "buffers_clean_total"),
            ("maxwritten_clean", "maxwritten_clean_total"),
            ("buffers_backend", "buffers_backend_total"),
            ("buffers_backend_fsync", "buffers_backend_fsync_total"),
            ("buffers_alloc", "buffers_alloc_total"),
            ("stats_reset", "stats_reset_total"),
        ] {
            o.add(
                &format!("pg_stat_bgwriter_{name}"),
                &format!("pg_stat_bgwriter {col}"),
                Counter,
                &[],
                val(r, col),
            );
        }
    }
    if let Some(r) = q("archiver").first() {
        o.add(
            "pg_stat_archiver_archived_count",
            "Number of WAL files that have been successfully archived",
            Counter,
            &[],
            val(r, "archived_count"),
        );
        o.add(
            "pg_stat_archiver_failed_count",
            "Number of failed attempts for archiving WAL files",
            Counter,
            &[],
            val(r, "failed_count"),
        );
        o.add(
            "pg_stat_archiver_last_archive_age",
            "Time in seconds since last WAL segment was successfully archived",
            Gauge,
            &[],
            val(r, "last_archive_age"),
        );
    }
    for r in q("activity") {
        let (Some(db), Some(state)) = (r.get("datname"), r.get("state")) else {
            continue;
        };
        let l = [("datname", db.as_str()), ("state", state.as_str())];
        o.add(
            "pg_stat_activity_count",
            "number of connections in this state",
            Gauge,
            &l,
            num(r, "count").unwrap_or(0.0),
        );
        o.add(
            "pg_stat_activity_max_tx_duration",
            "max duration in seconds any active transaction has been running",
            Gauge,
            &l,
            num(r, "max_tx_duration").unwrap_or(0.0),
        );
    }
    for r in q("locks") {
        if let (Some(db), Some(mode)) = (r.get("datname"), r.get("mode")) {
            o.add(
                "pg_locks_count",
                "Number of locks",
                Gauge,
                &[("datname", db), ("mode", mode)],
                num(r, "count").unwrap_or(0.0),
            );
        }
    }
    for r in q("database_size") {
        if let (Some(db), Some(v)) = (r.get("datname"), num(r, "size")) {
            o.add(
                "pg_database_size_bytes",
                "Disk space used by the database",
                Gauge,
                &[("datname", db)],
                v,
            );
        }
    }
    if let Some(r) = q("replication").first() {
        o.add(
            "pg_replication_lag_seconds",
            "Replication lag behind master in seconds",
            Gauge,
            &[],
            val(r, "lag"),
        );
        o.add(
            "pg_replication_is_replica",
            "Indicates if the server is a replica",
            Gauge,
            &[],
            val(r, "is_replica"),
        );
    }
    if let Some(r) = q("postmaster").first() {
        o.add(
            "pg_postmaster_start_time_seconds",
            "Time at which postmaster started",
            Gauge,
            &[],
            val(r, "start_time"),
        );
    }
    for r in q("settings") {
        let (Some(name), Some(setting)) = (r.get("name"), r.get("setting")) else {
            continue;
        };
        let unit = r.get("unit").map(String::as_str).unwrap_or("");
        if let Some((metric, v)) = setting_metric(name, setting, unit) {
            if !o.fams.iter().any(|f| f.name == metric) {
                o.add(&metric, &format!("Server Parameter: {name}"), Gauge, &[], v);
            }
        }
    }
    o.fams
}

/// `15.8 (Debian …)` → `15.8.0`, the semver postgres_exporter puts in `short_version`.
pub fn semver(v: &str) -> String {
    let head = v.split_whitespace().next().unwrap_or("");
    let mut parts: Vec<&str> = Vec::new();
    for p in head.split('.').take(3) {
        let digits = p.len() - p.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            break;
        }
        parts.push(&p[..digits]);
        if digits < p.len() {
            break;
        }
    }
    while parts.len() < 3 {
        parts.push("0");
    }
    parts.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn row(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn settings_are_named_and_scaled_as_postgres_exporter() {
        assert_eq!(
            setting_metric("max_connections", "100", ""),
            Some(("pg_settings_max_connections".into(), 100.0))
        );
        assert_eq!(
            setting_metric("shared_buffers", "16384", "8kB"),
            Some(("pg_settings_shared_buffers_bytes".into(), 134217728.0))
        );
        assert_eq!(
            setting_metric("statement_timeout", "1500", "ms"),
            Some(("pg_settings_statement_timeout_seconds".into(), 1.5))
        );
        assert_eq!(
            setting_metric("fsync", "on", ""),
            Some(("pg_settings_fsync".into(), 1.0))
        );
        assert_eq!(
            setting_metric("a.b", "-1", "kB"),
            Some(("pg_settings_a_b_bytes".into(), -1.0))
        );
        assert_eq!(setting_metric("x", "nope", ""), None);
    }

    #[test]
    fn rows_become_families() {
        let mut d: BTreeMap<&'static str, Rows> = BTreeMap::new();
        d.insert(
            "version",
            vec![row(&[
                ("version", "PostgreSQL 15.8 on x86_64"),
                ("short_version", "15.8 (Debian 15.8-0+deb12u1)"),
            ])],
        );
        d.insert(
            "stat_database",
            vec![
                row(&[
                    ("datid", "0"),
                    ("datname", ""),
                    ("numbackends", "0"),
                    ("blk_read_time", ""),
                ]),
                row(&[
                    ("datid", "5"),
                    ("datname", "postgres"),
                    ("numbackends", "2"),
                    ("xact_commit", "10"),
                    ("blk_read_time", "0.5"),
                ]),
            ],
        );
        d.insert(
            "activity",
            vec![row(&[
                ("datname", "postgres"),
                ("state", "idle"),
                ("count", "3"),
                ("max_tx_duration", "0"),
            ])],
        );
        d.insert(
            "locks",
            vec![row(&[
                ("datname", "postgres"),
                ("mode", "accesssharelock"),
                ("count", "1"),
            ])],
        );
        d.insert(
            "database_size",
            vec![row(&[("datname", "postgres"), ("size", "7500259")])],
        );
        d.insert(
            "settings",
            vec![row(&[
                ("name", "max_connections"),
                ("setting", "100"),
                ("unit", ""),
                ("vartype", "integer"),
            ])],
        );
        d.insert(
            "replication",
            vec![row(&[("lag", "0"), ("is_replica", "0")])],
        );
        let f = families(&d, "h:5432");
        let get = |n: &str| {
            f.iter()
                .find(|x| x.name == n)
                .unwrap_or_else(|| panic!("{n}"))
        };
        assert_eq!(get("pg_up").samples[0].value, 1.0);
        let nb = get("pg_stat_database_numbackends");
        assert_eq!(nb.samples.len(), 2);
        assert_eq!(nb.samples[1].value, 2.0);
        assert_eq!(
            nb.samples[1].labels,
            vec![
                ("datid".to_string(), "5".to_string()),
                ("datname".to_string(), "postgres".to_string()),
                ("server".to_string(), "h:5432".to_string())
            ]
        );
        assert!(get("pg_stat_database_blk_read_time").samples[0]
            .value
            .is_nan());
        assert_eq!(
            get("pg_stat_database_xact_commit").kind,
            MetricType::Counter
        );
        assert_eq!(get("pg_stat_activity_count").samples[0].value, 3.0);
        assert_eq!(
            get("pg_locks_count").samples[0].labels[1],
            ("mode".to_string(), "accesssharelock".to_string())
        );
        assert_eq!(get("pg_database_size_bytes").samples[0].value, 7500259.0);
        assert_eq!(get("pg_settings_max_connections").samples[0].value, 100.0);
        assert_eq!(get("pg_replication_lag_seconds").samples[0].value, 0.0);
        let s = &get("pg_static").samples[0].labels;
        assert!(s.contains(&("short_version".to_string(), "15.8.0".to_string())));
        assert_eq!(semver("16beta1"), "16.0.0");
        assert_eq!(get("pg_up").samples[0].labels, vec![]);
    }

    proptest! {
        #[test]
        fn arbitrary_values_never_panic(name in "\\PC{0,20}", setting in "\\PC{0,10}", unit in "[a-zA-Z0-9]{0,4}") {
            let _ = setting_metric(&name, &setting, &unit);
            let _ = semver(&name);
            let mut d: BTreeMap<&'static str, Rows> = BTreeMap::new();
            d.insert("settings", vec![row(&[("name", &name), ("setting", &setting), ("unit", &unit)])]);
            d.insert("stat_database", vec![row(&[("datid", &setting), ("datname", &name), ("numbackends", &setting)])]);
            let f = families(&d, "h:1");
            prop_assert!(f.iter().any(|x| x.name == "pg_up"));
        }
    }
}
