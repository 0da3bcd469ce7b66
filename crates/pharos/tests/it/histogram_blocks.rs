//! Native histograms cut into a block: remote-written histograms spanning more than 1.5 block
//! ranges (2 h each) are moved out of the histogram head into a block by the TSDB's maintenance
//! tick, and PromQL over them (`histogram_count`, `histogram_quantile`, `rate`) answers the
//! same before the cut, after it and after a kill -9 and restart.

use crate::common::Pharos;
use api::prometheus::remote_write::{BucketSpan, Histogram, Label, TimeSeries, WriteRequest};
use prost::Message;
use serde_json::Value;
use std::time::{Duration, Instant};

/// One histogram a minute for 5 h, from `base`: count k+1 over two buckets.
fn push(p: &Pharos, base: i64, n: i64) {
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![
                Label {
                    name: "__name__".into(),
                    value: "cut_hist".into(),
                },
                Label {
                    name: "job".into(),
                    value: "blocks".into(),
                },
            ],
            histograms: (0..n)
                .map(|k| Histogram {
                    count_int: Some(2 * k as u64 + 1),
                    sum: k as f64 * 1.5,
                    schema: 0,
                    positive_spans: vec![BucketSpan {
                        offset: 0,
                        length: 2,
                    }],
                    // Buckets k+1 and k (deltas: k+1, -1).
                    positive_deltas: vec![k + 1, -1],
                    timestamp: base + k * 60_000,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        metadata: vec![],
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .expect("snappy");
    let r = reqwest::blocking::Client::new()
        .post(p.url("/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .body(body)
        .send()
        .expect("push");
    assert_eq!(r.status().as_u16(), 204, "{:?}", r.text());
}

fn range(p: &Pharos, q: &str, start: i64, end: i64) -> Value {
    let r: Value = reqwest::blocking::Client::new()
        .get(p.url("/api/v1/query_range"))
        .query(&[
            ("query", q.to_string()),
            ("start", (start / 1000).to_string()),
            ("end", (end / 1000).to_string()),
            ("step", "60".to_string()),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(r["status"], "success", "{q}: {r}");
    r["data"]["result"].clone()
}

fn blocks(p: &Pharos) -> usize {
    std::fs::read_dir(p.data.join("metrics").join("blocks"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().contains('.'))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn native_histograms_read_the_same_from_blocks_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let base = (now - 5 * 3_600_000).div_euclid(60_000) * 60_000;
    let n = 300;
    let end = base + (n - 1) * 60_000;
    let queries = [
        "histogram_count(cut_hist)",
        "histogram_sum(cut_hist)",
        "histogram_quantile(0.5, cut_hist)",
        "histogram_count(rate(cut_hist[5m]))",
    ];
    let p = Pharos::start(dir.path(), None);
    push(&p, base, n);
    let answers: Vec<Value> = queries.iter().map(|q| range(&p, q, base, end)).collect();
    // histogram_count at the k-th minute is 2k+1.
    let counts = answers[0][0]["values"]
        .as_array()
        .expect("a series")
        .clone();
    assert_eq!(counts.len(), n as usize);
    for (k, v) in counts.iter().enumerate() {
        assert_eq!(
            v[1],
            (2 * k + 1).to_string(),
            "histogram_count at minute {k}"
        );
    }
    // The maintenance tick (every 2 s) cuts 5 h of data into blocks.
    let deadline = Instant::now() + Duration::from_secs(60);
    while blocks(&p) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(blocks(&p) > 0, "no block was cut");
    for (q, want) in queries.iter().zip(&answers) {
        assert_eq!(&range(&p, q, base, end), want, "{q} after the cut");
    }
    p.kill9();
    let p = Pharos::start(dir.path(), None);
    assert!(blocks(&p) > 0);
    for (q, want) in queries.iter().zip(&answers) {
        assert_eq!(&range(&p, q, base, end), want, "{q} after a restart");
    }
    // The histogram log holds only what no block does.
    let log = std::fs::metadata(p.data.join("metrics").join("histograms").join("log"))
        .map(|m| m.len())
        .unwrap_or(0);
    let meta: Vec<String> = std::fs::read_dir(p.data.join("metrics").join("blocks"))
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path().join("meta.json")).ok())
        .collect();
    let in_blocks: u64 = meta
        .iter()
        .filter_map(|m| serde_json::from_str::<Value>(m).ok())
        .filter_map(|m| m["stats"]["numHistogramSamples"].as_u64())
        .sum();
    assert!(
        in_blocks >= 100,
        "{in_blocks} histogram samples in blocks: {meta:?}"
    );
    assert!(log > 0);
}
