//! The Redis collector: connects to one Redis server with a small hand-written RESP2 client
//! (AUTH, SELECT, INFO ALL, CONFIG GET, SLOWLOG) over a tokio `TcpStream` and turns the answers
//! into metric families named, labelled and typed as oliver006/redis_exporter names them
//! (`redis_up`, `redis_connected_clients`, `redis_commands_total{cmd}`, `redis_db_keys{db}`,
//! `redis_instance_info{role,redis_version,…}`, …), so redis_exporter's dashboards work.
//!
//! RESP2 is a handful of line-based reply kinds; a full client library would bring a
//! connection manager and a large dependency tree for five commands.

use crate::{MetricFamily, MetricType};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest reply accepted (INFO ALL is a few tens of KiB).
const MAX_REPLY: usize = 16 << 20;
/// Deepest array nesting accepted.
const MAX_DEPTH: usize = 8;

/// One RESP2 reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

/// Parses one reply from the start of `buf`: `Ok(None)` when more bytes are needed,
/// `Ok(Some((reply, used)))` when complete, `Err` on bytes that are not RESP2.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, String> {
    parse_at(buf, 0, 0)
}

fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(at..)?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..end], at + end + 2))
}

fn int(b: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| format!("bad RESP integer {:?}", String::from_utf8_lossy(b)))
}

fn parse_at(buf: &[u8], at: usize, depth: usize) -> Result<Option<(Reply, usize)>, String> {
    if depth > MAX_DEPTH {
        return Err("RESP reply nested too deeply".into());
    }
    let Some(&kind) = buf.get(at) else {
        return Ok(None);
    };
    let Some((body, next)) = line(buf, at + 1) else {
        if buf.len() - at > MAX_REPLY {
            return Err("RESP line too long".into());
        }
        return Ok(None);
    };
    let text = || String::from_utf8_lossy(body).into_owned();
    match kind {
        b'+' => Ok(Some((Reply::Simple(text()), next))),
        b'-' => Ok(Some((Reply::Error(text()), next))),
        b':' => Ok(Some((Reply::Int(int(body)?), next))),
        b'$' => {
            let n = int(body)?;
            if n < 0 {
                return Ok(Some((Reply::Bulk(None), next)));
            }
            let n = usize::try_from(n).map_err(|e| e.to_string())?;
            if n > MAX_REPLY {
                return Err(format!("RESP bulk string of {n} bytes is too large"));
            }
            let end = next + n;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err("RESP bulk string not terminated by CRLF".into());
            }
            Ok(Some((Reply::Bulk(Some(buf[next..end].to_vec())), end + 2)))
        }
        b'*' => {
            let n = int(body)?;
            if n < 0 {
                return Ok(Some((Reply::Array(None), next)));
            }
            if n as u64 > (MAX_REPLY as u64) / 2 {
                return Err(format!("RESP array of {n} elements is too large"));
            }
            let mut items = Vec::new();
            let mut pos = next;
            for _ in 0..n {
                match parse_at(buf, pos, depth + 1)? {
                    Some((r, p)) => {
                        items.push(r);
                        pos = p;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Reply::Array(Some(items)), pos)))
        }
        other => Err(format!("unexpected RESP type byte 0x{other:02x}")),
    }
}

/// Encodes a command as a RESP array of bulk strings.
pub fn encode_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Where and how to reach one Redis server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisTarget {
    /// `host:port`.
    pub addr: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: u32,
    pub timeout: Duration,
}

/// A connection speaking RESP2.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn call(&mut self, args: &[&[u8]]) -> Result<Reply, String> {
        self.stream
            .write_all(&encode_command(args))
            .await
            .map_err(|e| format!("write: {e}"))?;
        loop {
            if let Some((r, used)) = parse_reply(&self.buf)? {
                self.buf.drain(..used);
                return Ok(r);
            }
            let mut chunk = [0u8; 16 << 10];
            let n = self
                .stream
                .read(&mut chunk)
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("connection closed by server".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// A command whose reply must not be an error.
    async fn ok(&mut self, args: &[&[u8]]) -> Result<Reply, String> {
        let name = String::from_utf8_lossy(args.first().copied().unwrap_or_default()).into_owned();
        match self.call(args).await? {
            Reply::Error(e) => Err(format!("{name}: {e}")),
            r => Ok(r),
        }
    }
}

/// Everything one scrape read from the server.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub info: String,
    /// `CONFIG GET` pairs that were allowed (maxmemory, maxclients, io-threads, databases).
    pub config: BTreeMap<String, String>,
    pub slowlog_len: Option<i64>,
    /// (id, duration µs) of the newest slowlog entry.
    pub slowlog_last: Option<(i64, i64)>,
}

/// Connects, authenticates and reads INFO ALL, CONFIG GET and SLOWLOG (CONFIG and SLOWLOG
/// are optional: a server that refuses them still yields its INFO metrics).
pub async fn read_snapshot(t: &RedisTarget) -> Result<Snapshot, String> {
    let work = async {
        let stream = TcpStream::connect(&t.addr)
            .await
            .map_err(|e| format!("dial tcp {}: {e}", t.addr))?;
        let mut c = Conn {
            stream,
            buf: Vec::new(),
        };
        if let Some(pw) = &t.password {
            match &t.username {
                Some(u) => c.ok(&[b"AUTH", u.as_bytes(), pw.as_bytes()]).await?,
                None => c.ok(&[b"AUTH", pw.as_bytes()]).await?,
            };
        }
        if t.db != 0 {
            c.ok(&[b"SELECT", t.db.to_string().as_bytes()]).await?;
        }
        let info = match c.ok(&[b"INFO", b"ALL"]).await? {
            Reply::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
            other => return Err(format!("INFO: unexpected reply {other:?}")),
        };
        let mut snap = Snapshot {
            info,
            ..Default::default()
        };
        for key in ["maxmemory", "maxclients", "io-threads", "databases"] {
            if let Ok(Reply::Array(Some(items))) =
                c.call(&[b"CONFIG", b"GET", key.as_bytes()]).await
            {
                for pair in items.chunks(2) {
                    if let [Reply::Bulk(Some(k)), Reply::Bulk(Some(v))] = pair {
                        snap.config.insert(
                            String::from_utf8_lossy(k).into_owned(),
                            String::from_utf8_lossy(v).into_owned(),
                        );
                    }
                }
            }
        }
        if let Ok(Reply::Int(n)) = c.call(&[b"SLOWLOG", b"LEN"]).await {
            snap.slowlog_len = Some(n);
        }
        if let Ok(Reply::Array(Some(entries))) = c.call(&[b"SLOWLOG", b"GET", b"1"]).await {
            if let Some(Reply::Array(Some(e))) = entries.first() {
                if let (Some(Reply::Int(id)), Some(Reply::Int(us))) = (e.first(), e.get(2)) {
                    snap.slowlog_last = Some((*id, *us));
                }
            }
        }
        Ok(snap)
    };
    match tokio::time::timeout(t.timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "redis {}: no answer within {:?}",
            t.addr, t.timeout
        )),
    }
}

/// Scrapes `t`: its metric families with `redis_up 1`, or `Err` with why it is unreachable.
pub async fn collect(t: &RedisTarget) -> Result<Vec<MetricFamily>, String> {
    let start = std::time::Instant::now();
    let snap = read_snapshot(t).await?;
    let mut out = families(&snap);
    out.push(MetricFamily::single(
        "redis_exporter_last_scrape_duration_seconds",
        "Time pharos spent reading this Redis server",
        MetricType::Gauge,
        start.elapsed().as_secs_f64(),
    ));
    Ok(out)
}

/// INFO field → (metric name without `redis_`, type), redis_exporter's names.
fn mapped(field: &str) -> Option<(&'static str, MetricType)> {
    use MetricType::{Counter as C, Gauge as G};
    Some(match field {
        // Server
        "uptime_in_seconds" => ("uptime_in_seconds", G),
        "process_id" => ("process_id", G),
        "io_threads_active" => ("io_threads_active", G),
        // Clients
        "connected_clients" => ("connected_clients", G),
        "blocked_clients" => ("blocked_clients", G),
        "tracking_clients" => ("tracking_clients", G),
        "clients_in_timeout_table" => ("clients_in_timeout_table", G),
        "cluster_connections" => ("cluster_connections", G),
        "client_longest_output_list" => ("client_longest_output_list", G),
        "client_biggest_input_buf" => ("client_biggest_input_buf", G),
        "client_recent_max_output_buffer" => ("client_recent_max_output_buffer_bytes", G),
        "client_recent_max_input_buffer" => ("client_recent_max_input_buffer_bytes", G),
        // Memory
        "allocator_active" => ("allocator_active_bytes", G),
        "allocator_allocated" => ("allocator_allocated_bytes", G),
        "allocator_resident" => ("allocator_resident_bytes", G),
        "allocator_frag_ratio" => ("allocator_frag_ratio", G),
        "allocator_frag_bytes" => ("allocator_frag_bytes", G),
        "allocator_rss_ratio" => ("allocator_rss_ratio", G),
        "allocator_rss_bytes" => ("allocator_rss_bytes", G),
        "used_memory" => ("memory_used_bytes", G),
        "used_memory_rss" => ("memory_used_rss_bytes", G),
        "used_memory_peak" => ("memory_used_peak_bytes", G),
        "used_memory_lua" => ("memory_used_lua_bytes", G),
        "used_memory_overhead" => ("memory_used_overhead_bytes", G),
        "used_memory_startup" => ("memory_used_startup_bytes", G),
        "used_memory_dataset" => ("memory_used_dataset_bytes", G),
        "used_memory_scripts" => ("memory_used_scripts_bytes", G),
        "number_of_cached_scripts" => ("number_of_cached_scripts", G),
        "maxmemory" => ("memory_max_bytes", G),
        "mem_fragmentation_ratio" => ("mem_fragmentation_ratio", G),
        "mem_fragmentation_bytes" => ("mem_fragmentation_bytes", G),
        "mem_clients_slaves" => ("mem_clients_slaves", G),
        "mem_clients_normal" => ("mem_clients_normal", G),
        "mem_not_counted_for_evict" => ("mem_not_counted_for_eviction_bytes", G),
        "lazyfree_pending_objects" => ("lazyfree_pending_objects", G),
        "active_defrag_running" => ("active_defrag_running", G),
        // Persistence
        "loading" => ("loading_dump_file", G),
        "rdb_changes_since_last_save" => ("rdb_changes_since_last_save", G),
        "rdb_bgsave_in_progress" => ("rdb_bgsave_in_progress", G),
        "rdb_last_save_time" => ("rdb_last_save_timestamp_seconds", G),
        "rdb_last_bgsave_status" => ("rdb_last_bgsave_status", G),
        "rdb_last_bgsave_time_sec" => ("rdb_last_bgsave_duration_sec", G),
        "rdb_current_bgsave_time_sec" => ("rdb_current_bgsave_duration_sec", G),
        "rdb_last_cow_size" => ("rdb_last_cow_size_bytes", G),
        "aof_enabled" => ("aof_enabled", G),
        "aof_rewrite_in_progress" => ("aof_rewrite_in_progress", G),
        "aof_rewrite_scheduled" => ("aof_rewrite_scheduled", G),
        "aof_last_rewrite_time_sec" => ("aof_last_rewrite_duration_sec", G),
        "aof_current_rewrite_time_sec" => ("aof_current_rewrite_duration_sec", G),
        "aof_last_cow_size" => ("aof_last_cow_size_bytes", G),
        "aof_current_size" => ("aof_current_size_bytes", G),
        "aof_base_size" => ("aof_base_size_bytes", G),
        "aof_pending_rewrite" => ("aof_pending_rewrite", G),
        "aof_buffer_length" => ("aof_buffer_length", G),
        "aof_rewrite_buffer_length" => ("aof_rewrite_buffer_length", G),
        "aof_pending_bio_fsync" => ("aof_pending_bio_fsync", G),
        "aof_delayed_fsync" => ("aof_delayed_fsync", G),
        "aof_last_bgrewrite_status" => ("aof_last_bgrewrite_status", G),
        "aof_last_write_status" => ("aof_last_write_status", G),
        "module_fork_in_progress" => ("module_fork_in_progress", G),
        "module_fork_last_cow_size" => ("module_fork_last_cow_size", G),
        // Stats
        "total_connections_received" => ("connections_received_total", C),
        "total_commands_processed" => ("commands_processed_total", C),
        "rejected_connections" => ("rejected_connections_total", C),
        "total_net_input_bytes" => ("net_input_bytes_total", C),
        "total_net_output_bytes" => ("net_output_bytes_total", C),
        "expired_keys" => ("expired_keys_total", C),
        "evicted_keys" => ("evicted_keys_total", C),
        "keyspace_hits" => ("keyspace_hits_total", C),
        "keyspace_misses" => ("keyspace_misses_total", C),
        "expired_stale_perc" => ("expired_stale_percentage", G),
        "expired_time_cap_reached_count" => ("expired_time_cap_reached_total", G),
        "pubsub_channels" => ("pubsub_channels", G),
        "pubsub_patterns" => ("pubsub_patterns", G),
        // µs in INFO, seconds in redis_exporter (scaled in `families`).
        "latest_fork_usec" => ("latest_fork_seconds", G),
        "migrate_cached_sockets" => ("migrate_cached_sockets_total", G),
        "slave_expires_tracked_keys" => ("slave_expires_tracked_keys", G),
        "active_defrag_hits" => ("defrag_hits", G),
        "active_defrag_misses" => ("defrag_misses", G),
        "active_defrag_key_hits" => ("defrag_key_hits", G),
        "active_defrag_key_misses" => ("defrag_key_misses", G),
        "tracking_total_keys" => ("tracking_total_keys", G),
        "tracking_total_items" => ("tracking_total_items", G),
        "tracking_total_prefixes" => ("tracking_total_prefixes", G),
        "unexpected_error_replies" => ("unexpected_error_replies", C),
        "total_error_replies" => ("total_error_replies", C),
        "dump_payload_sanitizations" => ("dump_payload_sanitizations", C),
        "total_reads_processed" => ("total_reads_processed", C),
        "total_writes_processed" => ("total_writes_processed", C),
        "io_threaded_reads_processed" => ("io_threaded_reads_processed", C),
        "io_threaded_writes_processed" => ("io_threaded_writes_processed", C),
        // Replication
        "connected_slaves" => ("connected_slaves", G),
        "repl_backlog_size" => ("replication_backlog_bytes", G),
        "repl_backlog_active" => ("repl_backlog_is_active", G),
        "repl_backlog_first_byte_offset" => ("repl_backlog_first_byte_offset", G),
        "repl_backlog_histlen" => ("repl_backlog_history_bytes", G),
        "master_repl_offset" => ("master_repl_offset", G),
        "second_repl_offset" => ("second_repl_offset", G),
        "slave_priority" => ("slave_priority", G),
        "sync_full" => ("replica_resyncs_full", G),
        "sync_partial_ok" => ("replica_partial_resync_accepted", G),
        "sync_partial_err" => ("replica_partial_resync_denied", G),
        // CPU
        "used_cpu_sys" => ("cpu_sys_seconds_total", C),
        "used_cpu_user" => ("cpu_user_seconds_total", C),
        "used_cpu_sys_children" => ("cpu_sys_children_seconds_total", C),
        "used_cpu_user_children" => ("cpu_user_children_seconds_total", C),
        "used_cpu_sys_main_thread" => ("cpu_sys_main_thread_seconds_total", C),
        "used_cpu_user_main_thread" => ("cpu_user_main_thread_seconds_total", C),
        // Cluster
        "cluster_enabled" => ("cluster_enabled", G),
        _ => return None,
    })
}

/// An INFO value as redis_exporter reads it: numbers, `ok`/`up` → 1, `err`/`fail`/`down` → 0.
pub fn info_value(v: &str) -> Option<f64> {
    match v {
        "ok" | "up" => Some(1.0),
        "err" | "fail" | "down" => Some(0.0),
        _ => v.parse::<f64>().ok().filter(|f| f.is_finite()),
    }
}

/// `key=value,key=value` as a map.
fn kv_pairs(v: &str) -> BTreeMap<&str, &str> {
    v.split(',').filter_map(|p| p.split_once('=')).collect()
}

/// Parsed INFO text: (section, field, value) lines in order.
pub fn parse_info(info: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for raw in info.lines() {
        let line = raw.trim();
        if let Some(s) = line.strip_prefix("# ") {
            section = s.to_string();
            continue;
        }
        if line.len() < 2 {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            out.push((section.clone(), k.to_string(), v.to_string()));
        }
    }
    out
}

/// `p50=0.001,p99=1.003,p99.9=4.015` (INFO Latencystats) → [(50, 0.001), (99, 1.003),
/// (99.9, 4.015)]; `None` when any pair is malformed.
fn latency_percentiles(v: &str) -> Option<Vec<(f64, f64)>> {
    v.split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let q = k.strip_prefix('p')?.parse::<f64>().ok()?;
            Some((q, v.parse::<f64>().ok()?))
        })
        .collect()
}

/// Families keyed by name, in first-seen order.
#[derive(Default)]
struct Out {
    order: Vec<String>,
    fams: BTreeMap<String, MetricFamily>,
}

impl Out {
    fn add(&mut self, name: &str, help: &str, kind: MetricType, labels: &[(&str, &str)], v: f64) {
        let f = self.fams.entry(name.to_string()).or_insert_with(|| {
            self.order.push(name.to_string());
            MetricFamily::new(name, help, kind)
        });
        f.push(labels, v);
    }

    fn summary(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        q: &[(f64, f64)],
        sum: f64,
        count: f64,
    ) {
        let f = self.fams.entry(name.to_string()).or_insert_with(|| {
            self.order.push(name.to_string());
            MetricFamily::new(name, help, MetricType::Summary)
        });
        f.push_summary(labels, q, sum, count);
    }

    fn done(mut self) -> Vec<MetricFamily> {
        self.order
            .iter()
            .filter_map(|n| self.fams.remove(n))
            .collect()
    }
}

/// The metric families of one snapshot (with `redis_up 1`).
pub fn families(s: &Snapshot) -> Vec<MetricFamily> {
    use MetricType::{Counter, Gauge};
    let mut o = Out::default();
    o.add(
        "redis_up",
        "Information about the Redis instance",
        Gauge,
        &[],
        1.0,
    );
    let fields = parse_info(&s.info);
    let kv: BTreeMap<&str, &str> = fields
        .iter()
        .map(|(_, k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut dbs_seen = Vec::new();
    let (mut master_host, mut master_port) = (String::new(), String::new());
    // Per command: (calls, µs) from Commandstats and the percentiles of Latencystats, joined
    // into redis_exporter's latency summary after the loop.
    let mut cmd_totals: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    let mut cmd_percentiles: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for (section, key, val) in &fields {
        if key == "master_host" {
            master_host = val.clone();
        }
        if key == "master_port" {
            master_port = val.clone();
        }
        match section.as_str() {
            "Commandstats" => {
                let Some(cmd) = key.strip_prefix("cmdstat_") else {
                    continue;
                };
                let p = kv_pairs(val);
                let num = |k: &str| p.get(k).and_then(|v| v.parse::<f64>().ok());
                let (Some(calls), Some(usec)) = (num("calls"), num("usec")) else {
                    continue;
                };
                cmd_totals.insert(cmd, (calls, usec));
                let l = [("cmd", cmd)];
                o.add(
                    "redis_commands_total",
                    "Total number of calls per command",
                    Counter,
                    &l,
                    calls,
                );
                o.add(
                    "redis_commands_duration_seconds_total",
                    "Total amount of time in seconds spent per command",
                    Counter,
                    &l,
                    usec / 1e6,
                );
                if let (Some(rej), Some(failed)) = (num("rejected_calls"), num("failed_calls")) {
                    o.add(
                        "redis_commands_rejected_calls_total",
                        "Total number of errors prior command execution per command",
                        Counter,
                        &l,
                        rej,
                    );
                    o.add(
                        "redis_commands_failed_calls_total",
                        "Total number of errors within command execution per command",
                        Counter,
                        &l,
                        failed,
                    );
                }
                continue;
            }
            "Latencystats" => {
                if let Some(cmd) = key.strip_prefix("latency_percentiles_usec_") {
                    if let Some(q) = latency_percentiles(val) {
                        cmd_percentiles.insert(cmd, q);
                    }
                }
                continue;
            }
            "Errorstats" => {
                if let (Some(prefix), Some(n)) = (
                    key.strip_prefix("errorstat_"),
                    kv_pairs(val)
                        .get("count")
                        .and_then(|v| v.parse::<f64>().ok()),
                ) {
                    o.add(
                        "redis_errors_total",
                        "Total number of errors per error type",
                        Counter,
                        &[("err", prefix)],
                        n,
                    );
                }
                continue;
            }
            "Keyspace" => {
                if key.starts_with("db") {
                    let p = kv_pairs(val);
                    let num = |k: &str| p.get(k).and_then(|v| v.parse::<f64>().ok());
                    if let (Some(keys), Some(exp)) = (num("keys"), num("expires")) {
                        let l = [("db", key.as_str())];
                        o.add(
                            "redis_db_keys",
                            "Total number of keys by DB",
                            Gauge,
                            &l,
                            keys,
                        );
                        o.add(
                            "redis_db_keys_expiring",
                            "Total number of expiring keys by DB",
                            Gauge,
                            &l,
                            exp,
                        );
                        if let Some(ttl) = num("avg_ttl") {
                            o.add(
                                "redis_db_avg_ttl_seconds",
                                "Avg TTL in seconds",
                                Gauge,
                                &l,
                                ttl / 1000.0,
                            );
                        }
                        dbs_seen.push(key.clone());
                    }
                }
                continue;
            }
            "Replication" => {
                if key.starts_with("slave")
                    && key[5..].chars().all(|c| c.is_ascii_digit())
                    && key.len() > 5
                {
                    let p = kv_pairs(val);
                    if let Some(off) = p.get("offset").and_then(|v| v.parse::<f64>().ok()) {
                        let l = [
                            ("slave_ip", p.get("ip").copied().unwrap_or("")),
                            ("slave_port", p.get("port").copied().unwrap_or("")),
                            ("slave_state", p.get("state").copied().unwrap_or("")),
                        ];
                        o.add(
                            "redis_connected_slave_offset_bytes",
                            "Offset of connected slave",
                            Gauge,
                            &l,
                            off,
                        );
                        if let Some(lag) = p.get("lag").and_then(|v| v.parse::<f64>().ok()) {
                            o.add(
                                "redis_connected_slave_lag_seconds",
                                "Lag of connected slave",
                                Gauge,
                                &l,
                                lag,
                            );
                        }
                    }
                    continue;
                }
                let l = [
                    ("master_host", master_host.as_str()),
                    ("master_port", master_port.as_str()),
                ];
                if key == "master_link_status" {
                    let up = if val == "up" { 1.0 } else { 0.0 };
                    o.add(
                        "redis_master_link_up",
                        "Master link status on Redis slave",
                        Gauge,
                        &l,
                        up,
                    );
                    continue;
                }
                let direct = match key.as_str() {
                    "master_last_io_seconds_ago" => Some("redis_master_last_io_seconds_ago"),
                    "master_sync_in_progress" => Some("redis_master_sync_in_progress"),
                    "slave_repl_offset" => Some("redis_slave_repl_offset"),
                    _ => None,
                };
                if let (Some(name), Some(v)) = (direct, info_value(val)) {
                    o.add(name, "Replication state of a Redis replica", Gauge, &l, v);
                    continue;
                }
            }
            "Server" if key == "uptime_in_seconds" => {
                if let Some(up) = info_value(val) {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs() as f64)
                        .unwrap_or(0.0);
                    o.add(
                        "redis_start_time_seconds",
                        "Start time of the Redis instance since unix epoch in seconds.",
                        Gauge,
                        &[],
                        now - up,
                    );
                }
            }
            _ => {}
        }
        if let (Some((name, kind)), Some(v)) = (mapped(key), info_value(val)) {
            let v = if key == "latest_fork_usec" {
                v / 1e6
            } else {
                v
            };
            o.add(
                &format!("redis_{name}"),
                &format!("INFO field {key}"),
                kind,
                &[],
                v,
            );
        }
    }
    for (cmd, q) in &cmd_percentiles {
        if let Some((calls, usec)) = cmd_totals.get(cmd) {
            o.summary(
                "redis_latency_percentiles_usec",
                "A summary of latency percentile distribution per command",
                &[("cmd", cmd)],
                q,
                *usec,
                *calls,
            );
        }
    }
    // Empty databases have no Keyspace line; redis_exporter reports them as 0 keys.
    let databases = s
        .config
        .get("databases")
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(16)
        .min(1024);
    for i in 0..databases {
        let db = format!("db{i}");
        if !dbs_seen.contains(&db) {
            o.add(
                "redis_db_keys",
                "Total number of keys by DB",
                Gauge,
                &[("db", &db)],
                0.0,
            );
            o.add(
                "redis_db_keys_expiring",
                "Total number of expiring keys by DB",
                Gauge,
                &[("db", &db)],
                0.0,
            );
        }
    }
    for (cfg, name) in [
        ("maxmemory", "redis_config_maxmemory"),
        ("maxclients", "redis_config_maxclients"),
        ("io-threads", "redis_config_io_threads"),
    ] {
        if let Some(v) = s.config.get(cfg).and_then(|v| info_value(v)) {
            o.add(name, &format!("config {cfg}"), Gauge, &[], v);
        }
    }
    if let Some(n) = s.slowlog_len {
        o.add(
            "redis_slowlog_length",
            "Total slowlog",
            Gauge,
            &[],
            n as f64,
        );
    }
    let (last_id, last_us) = s.slowlog_last.unwrap_or((0, 0));
    o.add(
        "redis_slowlog_last_id",
        "Last id of slowlog",
        Gauge,
        &[],
        last_id as f64,
    );
    o.add(
        "redis_last_slow_execution_duration_seconds",
        "The amount of time needed for last slow execution, in seconds",
        Gauge,
        &[],
        last_us as f64 / 1e6,
    );
    let get = |k: &str| kv.get(k).copied().unwrap_or("");
    let mode = if get("redis_mode").is_empty() {
        get("server_mode")
    } else {
        get("redis_mode")
    };
    o.add(
        "redis_instance_info",
        "Information about the Redis instance",
        Gauge,
        &[
            ("role", get("role")),
            ("redis_version", get("redis_version")),
            ("redis_build_id", get("redis_build_id")),
            ("redis_mode", mode),
            ("os", get("os")),
            ("maxmemory_policy", get("maxmemory_policy")),
            ("tcp_port", get("tcp_port")),
            ("run_id", get("run_id")),
            ("process_id", get("process_id")),
        ],
        1.0,
    );
    if get("role") == "slave" {
        o.add(
            "redis_slave_info",
            "Information about the Redis slave",
            Gauge,
            &[
                ("master_host", get("master_host")),
                ("master_port", get("master_port")),
                ("read_only", get("slave_read_only")),
            ],
            1.0,
        );
    }
    o.done()
}

/// The families for a target that could not be read: `redis_up 0`.
pub fn down() -> Vec<MetricFamily> {
    vec![MetricFamily::single(
        "redis_up",
        "Information about the Redis instance",
        MetricType::Gauge,
        0.0,
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_each_reply_kind_and_waits_for_more() {
        assert_eq!(
            parse_reply(b"+OK\r\n").unwrap(),
            Some((Reply::Simple("OK".into()), 5))
        );
        assert_eq!(
            parse_reply(b"-ERR no\r\n").unwrap(),
            Some((Reply::Error("ERR no".into()), 9))
        );
        assert_eq!(parse_reply(b":42\r\n").unwrap(), Some((Reply::Int(42), 5)));
        assert_eq!(
            parse_reply(b"$3\r\nabc\r\n").unwrap(),
            Some((Reply::Bulk(Some(b"abc".to_vec())), 9))
        );
        assert_eq!(
            parse_reply(b"$-1\r\n").unwrap(),
            Some((Reply::Bulk(None), 5))
        );
        let arr = b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n";
        let (r, used) = parse_reply(arr).unwrap().unwrap();
        assert_eq!(used, arr.len());
        assert_eq!(
            r,
            Reply::Array(Some(vec![
                Reply::Bulk(Some(b"maxmemory".to_vec())),
                Reply::Bulk(Some(b"0".to_vec()))
            ]))
        );
        for cut in 0..arr.len() {
            assert_eq!(parse_reply(&arr[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert!(parse_reply(b"?x\r\n").is_err());
        assert!(parse_reply(b":x\r\n").is_err());
        assert!(parse_reply(b"$3\r\nabcd\r\n").is_err());
    }

    #[test]
    fn encodes_commands() {
        assert_eq!(
            encode_command(&[b"INFO", b"ALL"]),
            b"*2\r\n$4\r\nINFO\r\n$3\r\nALL\r\n".to_vec()
        );
        let (r, _) = parse_reply(&encode_command(&[b"a", b""])).unwrap().unwrap();
        assert_eq!(
            r,
            Reply::Array(Some(vec![
                Reply::Bulk(Some(b"a".to_vec())),
                Reply::Bulk(Some(Vec::new()))
            ]))
        );
    }

    const INFO: &str = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nos:Linux\r\n\
        tcp_port:6379\r\nprocess_id:7\r\nuptime_in_seconds:100\r\n\r\n# Clients\r\n\
        connected_clients:3\r\nblocked_clients:0\r\n\r\n# Memory\r\nused_memory:1048576\r\n\
        maxmemory:0\r\nmaxmemory_policy:noeviction\r\n\r\n# Persistence\r\n\
        rdb_last_bgsave_status:ok\r\naof_last_write_status:err\r\n\r\n# Stats\r\n\
        total_commands_processed:12\r\nkeyspace_hits:5\r\n\r\n# Replication\r\nrole:master\r\n\
        connected_slaves:1\r\nslave0:ip=10.0.0.2,port=6380,state=online,offset=99,lag=1\r\n\
        master_repl_offset:99\r\n\r\n# Commandstats\r\n\
        cmdstat_get:calls=21,usec=175,usec_per_call=8.33,rejected_calls=0,failed_calls=1\r\n\
        cmdstat_config|get:calls=2,usec=40,usec_per_call=20.00\r\n\r\n# Latencystats\r\n\
        latency_percentiles_usec_get:p50=1.003,p99=9.023,p99.9=12.031\r\n\
        latency_percentiles_usec_ping:p50=1.003\r\n\
        latency_percentiles_usec_set:p50=x\r\n\r\n# Keyspace\r\n\
        db0:keys=5,expires=2,avg_ttl=3000\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n";

    fn value(fams: &[MetricFamily], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let f = fams.iter().find(|f| f.name == name)?;
        f.samples
            .iter()
            .find(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
            })
            .map(|s| s.value)
    }

    #[test]
    fn info_becomes_redis_exporter_families() {
        let snap = Snapshot {
            info: INFO.into(),
            config: [("databases".to_string(), "4".to_string())].into(),
            slowlog_len: Some(2),
            slowlog_last: Some((7, 12_000)),
        };
        let f = families(&snap);
        assert_eq!(value(&f, "redis_up", &[]), Some(1.0));
        assert_eq!(value(&f, "redis_connected_clients", &[]), Some(3.0));
        assert_eq!(value(&f, "redis_memory_used_bytes", &[]), Some(1048576.0));
        assert_eq!(value(&f, "redis_commands_processed_total", &[]), Some(12.0));
        assert_eq!(value(&f, "redis_rdb_last_bgsave_status", &[]), Some(1.0));
        assert_eq!(value(&f, "redis_aof_last_write_status", &[]), Some(0.0));
        assert_eq!(
            value(&f, "redis_commands_total", &[("cmd", "get")]),
            Some(21.0)
        );
        assert_eq!(
            value(
                &f,
                "redis_commands_duration_seconds_total",
                &[("cmd", "config|get")]
            ),
            Some(40e-6)
        );
        assert_eq!(
            value(&f, "redis_commands_failed_calls_total", &[("cmd", "get")]),
            Some(1.0)
        );
        assert_eq!(value(&f, "redis_db_keys", &[("db", "db0")]), Some(5.0));
        // Latencystats joined with Commandstats' calls and µs; a command without
        // Commandstats (ping) or with a malformed line (set) has no summary.
        let lat = f
            .iter()
            .find(|f| f.name == "redis_latency_percentiles_usec")
            .expect("latency summary");
        assert_eq!(lat.kind, MetricType::Summary);
        let mut text = String::new();
        crate::exposition::write_text(std::slice::from_ref(lat), &mut text);
        assert!(
            text.contains("redis_latency_percentiles_usec{cmd=\"get\",quantile=\"99.9\"} 12.031\n")
                && text.contains("redis_latency_percentiles_usec_sum{cmd=\"get\"} 175\n")
                && text.contains("redis_latency_percentiles_usec_count{cmd=\"get\"} 21\n")
                && !text.contains("ping")
                && !text.contains("\"set\""),
            "{text}"
        );
        assert_eq!(
            value(&f, "redis_db_keys_expiring", &[("db", "db0")]),
            Some(2.0)
        );
        assert_eq!(
            value(&f, "redis_db_avg_ttl_seconds", &[("db", "db0")]),
            Some(3.0)
        );
        assert_eq!(value(&f, "redis_db_keys", &[("db", "db1")]), Some(0.0));
        assert_eq!(value(&f, "redis_db_keys", &[("db", "db4")]), None);
        assert_eq!(
            value(
                &f,
                "redis_connected_slave_lag_seconds",
                &[("slave_ip", "10.0.0.2")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &f,
                "redis_instance_info",
                &[("role", "master"), ("redis_version", "7.0.15")]
            ),
            Some(1.0)
        );
        assert_eq!(value(&f, "redis_slowlog_length", &[]), Some(2.0));
        assert_eq!(
            value(&f, "redis_last_slow_execution_duration_seconds", &[]),
            Some(0.012)
        );
        let kinds: Vec<_> = f
            .iter()
            .filter(|f| f.name == "redis_keyspace_hits_total")
            .map(|f| f.kind)
            .collect();
        assert_eq!(kinds, vec![MetricType::Counter]);
        let mut names: Vec<_> = f.iter().map(|f| f.name.clone()).collect();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n, "each family once");
    }

    #[tokio::test]
    async fn unreachable_server_is_an_error_not_a_panic() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        drop(l);
        let t = RedisTarget {
            addr: addr.clone(),
            username: None,
            password: None,
            db: 0,
            timeout: Duration::from_secs(2),
        };
        let e = collect(&t).await.unwrap_err();
        assert!(e.contains(&addr), "{e}");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_reply(&b);
        }

        #[test]
        fn resp_like_bytes_never_panic(s in "([*$:+-][-0-9]{0,3}\r\n[a-z]{0,4}\r?\n?){0,6}") {
            let _ = parse_reply(s.as_bytes());
        }

        #[test]
        fn arbitrary_info_never_panics(s in "(# [A-Za-z]{1,8}\r\n|[a-z_0-9]{1,10}:[a-z0-9=,.|-]{0,20}\r\n){0,30}") {
            let snap = Snapshot { info: s, ..Default::default() };
            let f = families(&snap);
            prop_assert!(f.iter().any(|f| f.name == "redis_up"));
        }

        #[test]
        fn encoded_commands_parse_back(args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..5)) {
            let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
            let enc = encode_command(&refs);
            let (r, used) = parse_reply(&enc).unwrap().unwrap();
            prop_assert_eq!(used, enc.len());
            let back = Reply::Array(Some(args.iter().map(|a| Reply::Bulk(Some(a.clone()))).collect()));
            prop_assert_eq!(r, back);
        }
    }
}
