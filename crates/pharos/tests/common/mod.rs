//! Test helper: starts the real `pharos` binary on an ephemeral port with its own data directory
//! and talks to it over HTTP.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Pharos {
    pub child: Child,
    pub base: String,
    pub data: PathBuf,
}

impl Pharos {
    /// Starts `pharos serve` on 127.0.0.1:0 with `data` as data directory.
    pub fn start(data: &Path, config: Option<&Path>) -> Pharos {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pharos"));
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data")
            .arg(data);
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
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
