//! Integration tests of the Redis collector in the real binary, against a small fake Redis
//! (RESP2 over TCP, canned INFO): `/metrics/redis?target=<name>` answers redis_exporter's
//! families, the password from `password_file` is sent with AUTH, the `redis` job stores
//! `redis_*` series with instance = the name, an unreachable server is `up == 0` with a
//! lastError naming it, and unknown targets are 404.

use crate::common::Pharos;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const INFO: &str = "# Server\r\nredis_version:7.0.99\r\nredis_mode:standalone\r\nos:Linux\r\n\
    tcp_port:6379\r\nprocess_id:42\r\nuptime_in_seconds:77\r\n\r\n# Clients\r\n\
    connected_clients:5\r\nblocked_clients:1\r\n\r\n# Memory\r\nused_memory:2048\r\n\
    maxmemory:0\r\nmaxmemory_policy:noeviction\r\n\r\n# Stats\r\nkeyspace_hits:9\r\n\r\n\
    # Replication\r\nrole:master\r\nconnected_slaves:0\r\n\r\n# Keyspace\r\n\
    db0:keys=3,expires=1,avg_ttl=0\r\n";

/// Reads one RESP array of bulk strings (a command) from `r`.
fn read_command(r: &mut BufReader<std::net::TcpStream>) -> Option<Vec<String>> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let n: usize = line.trim().strip_prefix('*')?.parse().ok()?;
    let mut args = Vec::new();
    for _ in 0..n {
        line.clear();
        r.read_line(&mut line).ok()?;
        let len: usize = line.trim().strip_prefix('$')?.parse().ok()?;
        let mut buf = vec![0u8; len + 2];
        r.read_exact(&mut buf).ok()?;
        args.push(String::from_utf8_lossy(&buf[..len]).into_owned());
    }
    Some(args)
}

/// A fake Redis on a free port; returns its port and the commands it received.
fn fake_redis() -> (u16, Arc<Mutex<Vec<Vec<String>>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let s = s.clone();
            std::thread::spawn(move || {
                let mut w = conn.try_clone().unwrap();
                let mut r = BufReader::new(conn);
                while let Some(cmd) = read_command(&mut r) {
                    let reply = match cmd[0].to_ascii_uppercase().as_str() {
                        "AUTH" if cmd.get(1).map(String::as_str) == Some("pw-from-file") => {
                            "+OK\r\n".to_string()
                        }
                        "AUTH" => "-WRONGPASS invalid password\r\n".to_string(),
                        "INFO" => format!("${}\r\n{INFO}\r\n", INFO.len()),
                        "CONFIG" => "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n".to_string(),
                        "SLOWLOG" if cmd.get(1).map(String::as_str) == Some("LEN") => {
                            ":0\r\n".to_string()
                        }
                        "SLOWLOG" => "*0\r\n".to_string(),
                        _ => "-ERR unknown command\r\n".to_string(),
                    };
                    s.lock().unwrap().push(cmd);
                    if w.write_all(reply.as_bytes()).is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, seen)
}

fn text(p: &Pharos, path: &str) -> (u16, String) {
    let r = reqwest::blocking::get(p.url(path)).unwrap();
    let status = r.status().as_u16();
    (status, r.text().unwrap_or_default())
}

#[test]
fn redis_collector_against_a_fake_server() {
    let (port, seen) = fake_redis();
    let gone = crate::common::free_port();
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "pw-from-file\n").unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(
        &cfg,
        format!(
            "collectors:\n  self: {{enabled: false}}\n  host: {{enabled: false}}\n  redis:\n    \
             - name: cache\n      url: redis://127.0.0.1:{port}\n      password_file: {}\n    \
             - name: gone\n      url: redis://127.0.0.1:{gone}\n",
            pw.display()
        ),
    )
    .unwrap();
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));

    let (status, body) = text(&p, "/metrics/redis?target=cache");
    assert_eq!(status, 200, "{body}");
    for line in [
        "redis_up 1",
        "redis_connected_clients 5",
        "redis_blocked_clients 1",
        "redis_memory_used_bytes 2048",
        "redis_keyspace_hits_total 9",
        "redis_db_keys{db=\"db0\"} 3",
        "redis_db_keys_expiring{db=\"db0\"} 1",
        "redis_db_keys{db=\"db1\"} 0",
        "# TYPE redis_keyspace_hits_total counter",
    ] {
        assert!(body.contains(line), "missing {line:?} in\n{body}");
    }
    assert!(body.contains("redis_instance_info{role=\"master\",redis_version=\"7.0.99\""));
    let auth: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c[0] == "AUTH")
        .cloned()
        .collect();
    assert_eq!(
        auth.first(),
        Some(&vec!["AUTH".to_string(), "pw-from-file".to_string()])
    );

    let (status, body) = text(&p, "/metrics/redis?target=gone");
    assert_eq!(status, 503);
    assert!(body.starts_with("redis gone: "), "{body}");
    assert!(body.contains(&format!("127.0.0.1:{gone}")), "{body}");
    assert_eq!(text(&p, "/metrics/redis?target=nope").0, 404);
    assert_eq!(text(&p, "/metrics/redis").0, 400);

    // The scrape job: both targets, named by instance; the unreachable one down with why.
    let start = Instant::now();
    loop {
        let t: serde_json::Value = reqwest::blocking::get(p.url("/api/v1/targets"))
            .and_then(|r| r.json())
            .unwrap_or_default();
        let targets = t["data"]["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let find = |inst: &str| {
            targets
                .iter()
                .find(|x| x["labels"]["job"] == "redis" && x["labels"]["instance"] == inst)
                .cloned()
        };
        if let (Some(c), Some(g)) = (find("cache"), find("gone")) {
            if c["health"] == "up" && g["health"] == "down" {
                let err = g["lastError"].as_str().unwrap_or("");
                assert!(err.contains(&format!("127.0.0.1:{gone}")), "{err}");
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "redis targets not scraped: {targets:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn bad_redis_url_fails_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(
        &cfg,
        "collectors:\n  redis:\n    - name: a\n      url: redis://h:1\n    - name: b\n      url: rediss://h:2\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pharos"))
        .args(["check", "config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("pharos.yml:6"), "{text}");
    assert!(text.contains("TLS"), "{text}");
}
