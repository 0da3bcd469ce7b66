//! Test helper: starts the real `pharos` binary on an ephemeral port with its own data directory
//! and talks to it over HTTP.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Pharos {
    pub child: Child,
    pub base: String,
    pub data: PathBuf,
}

impl Pharos {
    /// Starts `pharos serve` on 127.0.0.1:0 with `data` as data directory.
    pub fn start(data: &Path, config: Option<&Path>) -> Pharos {
        let mut extra: Vec<&std::ffi::OsStr> = Vec::new();
        if let Some(c) = config {
            extra.push("--config".as_ref());
            extra.push(c.as_os_str());
        }
        Pharos::start_sub("serve", data, &extra)
    }

    /// [`Pharos::start`] with `--web.enable-lifecycle`, for tests that `POST /-/reload`
    /// (lifecycle endpoints answer 403 by default, as in Prometheus).
    pub fn start_lifecycle(data: &Path, config: &Path) -> Pharos {
        let extra: [&std::ffi::OsStr; 3] = [
            "--config".as_ref(),
            config.as_os_str(),
            "--web.enable-lifecycle".as_ref(),
        ];
        Pharos::start_sub("serve", data, &extra)
    }

    /// Starts `pharos <sub> --listen 127.0.0.1:0 --data <data> <extra...>` (`serve`, `demo`).
    pub fn start_sub(sub: &str, data: &Path, extra: &[&std::ffi::OsStr]) -> Pharos {
        Pharos::start_listen(sub, "127.0.0.1:0", data, extra)
    }

    /// [`Pharos::start_sub`] on a given address (a receiver restarted on the same port).
    pub fn start_listen(
        sub: &str,
        listen: &str,
        data: &Path,
        extra: &[&std::ffi::OsStr],
    ) -> Pharos {
        Pharos::start_bin(
            env!("CARGO_BIN_EXE_pharos").as_ref(),
            sub,
            listen,
            data,
            extra,
        )
    }

    /// [`Pharos::start_listen`] of another build of pharos (the soak runs the release binary).
    pub fn start_bin(
        bin: &Path,
        sub: &str,
        listen: &str,
        data: &Path,
        extra: &[&std::ffi::OsStr],
    ) -> Pharos {
        let mut cmd = Command::new(bin);
        cmd.arg(sub)
            .arg("--listen")
            .arg(listen)
            .arg("--data")
            .arg(data)
            .args(extra);
        let mut child = cmd
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pharos");
        let stderr = child.stderr.take().expect("stderr");
        let mut reader = BufReader::new(stderr);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut base = String::new();
        let mut line = String::new();
        while Instant::now() < deadline {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            if let Some(rest) = line.trim().strip_prefix("pharos: listening on ") {
                base = rest.to_string();
                break;
            }
        }
        assert!(!base.is_empty(), "pharos did not report its address");
        // Keep draining stderr so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).unwrap_or(0) > 0 {
                sink.clear();
            }
        });
        Pharos {
            child,
            base,
            data: data.to_path_buf(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// SIGKILL, as a crash.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Pharos {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A series to remote-write: label pairs and (timestamp ms, value) samples.
pub type TestSeries<'a> = (Vec<(&'a str, &'a str)>, Vec<(i64, f64)>);

/// Snappy-compressed remote_write body for `series`.
pub fn write_request(series: &[TestSeries<'_>]) -> Vec<u8> {
    use api::prometheus::remote_write::{Label, TimeSeries, WireSample, WriteRequest};
    use prost::Message;
    let req = WriteRequest {
        timeseries: series
            .iter()
            .map(|(labels, samples)| TimeSeries {
                labels: labels
                    .iter()
                    .map(|(n, v)| Label {
                        name: n.to_string(),
                        value: v.to_string(),
                    })
                    .collect(),
                samples: samples
                    .iter()
                    .map(|(t, v)| WireSample {
                        value: *v,
                        timestamp: *t,
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        metadata: vec![],
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .expect("snappy")
}

/// One HTTP request a [`receiver`] got: its request line (`POST /hook HTTP/1.1`) and body.
#[derive(Clone, Debug)]
pub struct Received {
    pub request_line: String,
    pub body: Vec<u8>,
}

/// A minimal HTTP server for tests that need something to send to (webhooks, a fake
/// Alertmanager, a failing endpoint): answers every request with `status` and hands each
/// request to `on_request`. Returns its base URL (`http://127.0.0.1:<port>`).
pub fn receiver_with(status: u16, on_request: impl Fn(Received) + Send + 'static) -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a test port");
    let base = format!("http://{}", l.local_addr().expect("local addr"));
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = Vec::new();
            let mut tmp = [0u8; 4096];
            loop {
                let n = s.read(&mut tmp).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&tmp[..n]);
                let Some(h) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..h]).to_string();
                let cl = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if buf.len() >= h + 4 + cl {
                    on_request(Received {
                        request_line: head.lines().next().unwrap_or("").to_string(),
                        body: buf[h + 4..h + 4 + cl].to_vec(),
                    });
                    let body = if status < 300 { "" } else { "nope" };
                    let _ = s.write_all(
                        format!(
                            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    );
                    break;
                }
            }
        }
    });
    base
}

/// [`receiver_with`] that keeps every request; returns the base URL and the requests so far.
pub fn receiver(status: u16) -> (String, Arc<Mutex<Vec<Received>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let base = receiver_with(status, move |r| {
        if let Ok(mut g) = g.lock() {
            g.push(r);
        }
    });
    (base, got)
}

/// A webhook receiver (Alertmanager webhook_configs) recording the JSON bodies posted to it;
/// returns its URL and the bodies received so far.
pub fn webhook() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let base = receiver_with(200, move |r| {
        if let (Ok(v), Ok(mut g)) = (serde_json::from_slice(&r.body), g.lock()) {
            g.push(v);
        }
    });
    (format!("{base}/hook"), got)
}

/// Pushes a Loki JSON push body (`{"streams": [...]}`) and asserts it was accepted.
pub fn push_loki(p: &Pharos, body: &serde_json::Value) {
    let r = reqwest::blocking::Client::new()
        .post(p.url("/loki/api/v1/push"))
        .json(body)
        .send()
        .expect("push");
    assert!(r.status().is_success(), "push: {}", r.status());
}

/// One request a [`scripted_receiver`] got: when, its header lines (lower-cased names) and
/// its body.
pub struct Hit {
    pub at: Instant,
    pub headers: Vec<String>,
    pub body: Vec<u8>,
}

/// A receiver answering the i-th request with `script[i]` (status, extra header line), then
/// 204 to every later one.
pub fn scripted_receiver(
    script: Vec<(u16, &'static str)>,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Hit>>>) {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/write", l.local_addr().unwrap());
    let hits = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Hit>::new()));
    let h = hits.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = Vec::new();
            let mut tmp = [0u8; 8192];
            loop {
                let n = s.read(&mut tmp).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&tmp[..n]);
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let cl = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if buf.len() < end + 4 + cl {
                    continue;
                }
                let mut hits = h.lock().unwrap();
                let (status, extra) = script.get(hits.len()).copied().unwrap_or((204, ""));
                hits.push(Hit {
                    at: Instant::now(),
                    headers: head.lines().map(str::to_string).collect(),
                    body: buf[end + 4..end + 4 + cl].to_vec(),
                });
                drop(hits);
                let _ = s.write_all(
                    format!("HTTP/1.1 {status} X\r\n{extra}content-length: 4\r\nconnection: close\r\n\r\nnope")
                        .as_bytes(),
                );
                break;
            }
        }
    });
    (url, hits)
}

/// A TCP port nothing listens on right now (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// A self-signed certificate valid for `days`, served by `openssl s_server -www`.
pub fn tls_server(dir: &std::path::Path, days: u32) -> Option<(u16, std::process::Child)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-days")
        .arg(days.to_string())
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?
        .success();
    assert!(ok, "openssl req failed");
    let port = free_port();
    let child = std::process::Command::new("openssl")
        .args(["s_server", "-quiet", "-www"])
        .arg("-accept")
        .arg(port.to_string())
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "openssl s_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some((port, child))
}

/// Runs `openssl args` in `dir` (test certificates) and asserts it succeeded.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (installed by .ci/run)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `GET /api/v1/query`: asserts success and returns `data.result`.
pub fn instant_query(p: &Pharos, q: &str) -> serde_json::Value {
    let r: serde_json::Value = reqwest::blocking::Client::new()
        .get(p.url("/api/v1/query"))
        .query(&[("query", q)])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(r["status"], "success", "{q}: {r}");
    r["data"]["result"].clone()
}

/// Writes `prometheus.yml` with `prom_yaml` and a `pharos.yml` that loads it with the built-in
/// collectors and security off (an empty system); returns the pharos.yml path.
pub fn quiet_config(dir: &Path, prom_yaml: &str) -> PathBuf {
    let prom = dir.join("prometheus.yml");
    std::fs::write(&prom, prom_yaml).unwrap();
    let cfg = dir.join("pharos.yml");
    std::fs::write(
        &cfg,
        format!(
            "prometheus_config: {}\n\
             collectors: {{self: {{enabled: false}}, host: {{enabled: false}}}}\n\
             security: {{enabled: false}}\n",
            prom.display()
        ),
    )
    .unwrap();
    cfg
}
