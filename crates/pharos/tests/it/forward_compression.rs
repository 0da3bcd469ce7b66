//! Forwarders compress bodies as each receiver takes them: Loki push as snappy protobuf
//! (promtail's format) or, with `compression: gzip`, gzipped JSON; OTLP/HTTP and Elasticsearch
//! `_bulk` gzipped. Checked on the wire (a scripted receiver) and end to end with a second
//! pharos as the receiver (Loki gzip JSON and Elasticsearch gzip; snappy protobuf and OTLP gzip
//! are the defaults `forward_signals` runs through), and traces over OTLP/gRPC (gzip) into a
//! second pharos' `otlp_grpc` listener, a tenant-bound write token as `authorization`.

use crate::common::{free_port, scripted_receiver, Pharos};
use crate::forward_signals::{has_trace, lines, push_logs, push_trace, wait_for, BASE};
use reqwest::blocking::Client;
use std::io::Read;

/// The gunzipped text of `body`.
pub(crate) fn gunzip(body: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(body)
        .read_to_string(&mut out)
        .expect("a gzip body");
    out
}

fn header(h: &crate::common::Hit, want: &str) -> bool {
    h.headers.iter().any(|l| l == want)
}

#[test]
fn forwarded_bodies_are_compressed_as_each_receiver_takes_them() {
    let (loki, loki_hits) = scripted_receiver(vec![]);
    let (loki_gz, loki_gz_hits) = scripted_receiver(vec![]);
    let (es, es_hits) = scripted_receiver(vec![]);
    let (otlp, otlp_hits) = scripted_receiver(vec![]);
    let q = "queue_config: {batch_send_deadline: 50ms, min_backoff: 10ms, max_backoff: 20ms}";
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(
        &cfg,
        format!("{BASE}forward:\n  logs:\n    - {{url: {loki}, name: a, {q}}}\n    - {{url: {loki_gz}, name: b, compression: gzip, {q}}}\n    - {{url: {es}, name: c, format: elasticsearch, {q}}}\n  traces:\n    - {{url: {otlp}, {q}}}\n"),
    )
    .unwrap();
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    push_logs(&p, 0, 3);
    push_trace(&Client::new(), &p, 1);
    for hits in [&loki_hits, &loki_gz_hits, &es_hits, &otlp_hits] {
        wait_for("a forwarded request", || !hits.lock().unwrap().is_empty());
    }
    // Loki: snappy-compressed protobuf, no Content-Encoding.
    let h = &loki_hits.lock().unwrap()[0];
    assert!(
        header(h, "content-type: application/x-protobuf"),
        "{:?}",
        h.headers
    );
    assert!(!h.headers.iter().any(|l| l.starts_with("content-encoding")));
    let raw = snap::raw::Decoder::new().decompress_vec(&h.body).unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.contains("line 2") && text.contains("job=\"fw\""),
        "{text}"
    );
    assert!(raw.len() > h.body.len() / 2);
    // Loki with compression: gzip: gzipped JSON.
    let h = &loki_gz_hits.lock().unwrap()[0];
    assert!(header(h, "content-type: application/json") && header(h, "content-encoding: gzip"));
    assert!(gunzip(&h.body).starts_with("{\"streams\""));
    // Elasticsearch _bulk and OTLP: gzip.
    let h = &es_hits.lock().unwrap()[0];
    assert!(header(h, "content-encoding: gzip"), "{:?}", h.headers);
    assert!(gunzip(&h.body).contains("{\"create\""));
    let h = &otlp_hits.lock().unwrap()[0];
    assert!(
        header(h, "content-type: application/x-protobuf") && header(h, "content-encoding: gzip")
    );
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&h.body[..])
        .read_to_end(&mut raw)
        .unwrap();
    assert!(String::from_utf8_lossy(&raw).contains("fw-svc"));
}

#[test]
fn pharos_receives_gzipped_loki_json_and_elasticsearch_bulk() {
    let dir = tempfile::tempdir().unwrap();
    let es_port = free_port();
    let rcfg = dir.path().join("receiver.yml");
    std::fs::write(
        &rcfg,
        format!("{BASE}listeners:\n  elasticsearch: 127.0.0.1:{es_port}\n"),
    )
    .unwrap();
    let r = Pharos::start(&dir.path().join("r"), Some(&rcfg));
    let q = "queue_config: {batch_send_deadline: 50ms, min_backoff: 10ms, max_backoff: 20ms}";
    let scfg = dir.path().join("sender.yml");
    std::fs::write(
        &scfg,
        format!(
            "{BASE}forward:\n  logs:\n    - {{url: {}/loki/api/v1/push, name: a, compression: gzip, {q}}}\n    - {{url: 'http://127.0.0.1:{es_port}/_bulk', name: c, format: elasticsearch, index: fwd, {q}}}\n",
            r.base
        ),
    )
    .unwrap();
    let s = Pharos::start(&dir.path().join("s"), Some(&scfg));
    push_logs(&s, 0, 5);
    let c = Client::new();
    // 5 lines of the kept stream and 1 of the other, through Loki's push.
    wait_for("lines through gzipped Loki JSON", || {
        lines(&c, &r)
            .iter()
            .filter(|l| l.starts_with("line "))
            .count()
            >= 5
    });
    wait_for("documents through gzipped _bulk", || {
        c.get(format!("http://127.0.0.1:{es_port}/fwd/_count"))
            .send()
            .ok()
            .and_then(|r| r.json::<serde_json::Value>().ok())
            .and_then(|v| v["count"].as_u64())
            == Some(6)
    });
    let m = c.get(s.url("/metrics")).send().unwrap().text().unwrap();
    assert!(
        !m.lines()
            .any(|l| l.starts_with("pharos_forward_items_failed_total") && !l.ends_with(" 0")),
        "{m}"
    );
}

#[test]
fn traces_forwarded_over_otlp_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let rcfg = dir.path().join("receiver.yml");
    std::fs::write(
        &rcfg,
        format!("{BASE}listeners:\n  otlp_grpc: 127.0.0.1:{port}\nauth:\n  tokens:\n    - {{name: fw, token: push-t, scopes: [write], tenant: team-f}}\n    - {{name: r, token: read-t, scopes: [read]}}\n"),
    )
    .unwrap();
    let r = Pharos::start(&dir.path().join("r"), Some(&rcfg));
    let q = "queue_config: {batch_send_deadline: 50ms, min_backoff: 10ms, max_backoff: 200ms}";
    let scfg = dir.path().join("sender.yml");
    std::fs::write(
        &scfg,
        format!("{BASE}forward:\n  traces:\n    - {{url: 'http://127.0.0.1:{port}', format: otlp_grpc, bearer_token: push-t, {q}}}\n"),
    )
    .unwrap();
    let s = Pharos::start(&dir.path().join("s"), Some(&scfg));
    let c = Client::new();
    for i in 0..3 {
        push_trace(&c, &s, i);
    }
    let rc = Client::builder()
        .default_headers(
            [
                (
                    reqwest::header::AUTHORIZATION,
                    "Bearer read-t".parse().unwrap(),
                ),
                (
                    reqwest::header::HeaderName::from_static("x-scope-orgid"),
                    "team-f".parse().unwrap(),
                ),
            ]
            .into_iter()
            .collect(),
        )
        .build()
        .unwrap();
    wait_for("traces over OTLP/gRPC", || {
        (0..3).all(|i| has_trace(&rc, &r, i))
    });
}
