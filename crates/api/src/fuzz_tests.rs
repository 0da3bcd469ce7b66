//! Fuzz campaign for the push receivers' decoders: remote_write 1.0 and 2.0 (decode, then
//! conversion to series, histograms, exemplars, metadata), Loki push (JSON and snappy
//! protobuf) and OTLP metrics (JSON and protobuf, then conversion), fed arbitrary bytes and
//! damaged valid requests. They must answer Ok or a clean Err, never panic.

use crate::loki::push;
use crate::otlp::metrics;
use crate::prometheus::remote_write::{self as rw, WriteRequest};
use crate::prometheus::remote_write_v2::{self as rw2, Request};
use model::fuzzing::{cases, mutate};
use model::Labels;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use proptest::prelude::*;
use prost::Message;

fn snappy(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(raw)
        .unwrap_or_default()
}

fn histogram() -> rw::Histogram {
    rw::Histogram {
        count_int: Some(6),
        sum: 12.5,
        schema: 3,
        zero_threshold: 1e-128,
        zero_count_int: Some(1),
        positive_spans: vec![
            rw::BucketSpan {
                offset: 0,
                length: 2,
            },
            rw::BucketSpan {
                offset: 3,
                length: 1,
            },
        ],
        positive_deltas: vec![1, 1, -1],
        negative_spans: vec![rw::BucketSpan {
            offset: -2,
            length: 1,
        }],
        negative_counts: vec![2.0],
        timestamp: 1000,
        ..Default::default()
    }
}

/// A remote_write 1.0 request (uncompressed protobuf): a float series, a native histogram,
/// an exemplar and metadata.
fn v1_raw() -> Vec<u8> {
    let l = |n: &str, v: &str| rw::Label {
        name: n.into(),
        value: v.into(),
    };
    WriteRequest {
        timeseries: vec![
            rw::TimeSeries {
                labels: vec![l("__name__", "up"), l("job", "x")],
                samples: vec![rw::WireSample {
                    value: 1.0,
                    timestamp: 1000,
                }],
                exemplars: vec![rw::Exemplar {
                    labels: vec![l("trace_id", "abc")],
                    value: 0.5,
                    timestamp: 1000,
                }],
                ..Default::default()
            },
            rw::TimeSeries {
                labels: vec![l("__name__", "rpc_seconds"), l("le", "+Inf")],
                histograms: vec![histogram()],
                ..Default::default()
            },
        ],
        metadata: vec![rw::MetricMetadata {
            r#type: 1,
            metric_family_name: "up".into(),
            help: "h".into(),
            unit: String::new(),
        }],
    }
    .encode_to_vec()
}

/// A remote_write 2.0 request (uncompressed protobuf).
fn v2_raw() -> Vec<u8> {
    let mut st = rw2::SymbolTable::default();
    let refs = st.labels(&Labels::from_pairs([
        ("__name__", "rpc_seconds"),
        ("job", "api"),
    ]));
    let trace = st.labels(&Labels::from_pairs([("trace_id", "abc")]));
    let help = st.symbolize("RPC latency");
    Request {
        timeseries: vec![
            rw2::TimeSeries {
                labels_refs: refs.clone(),
                samples: vec![rw2::Sample2 {
                    value: 1.5,
                    timestamp: 1000,
                    start_timestamp: 500,
                }],
                exemplars: vec![rw2::Exemplar2 {
                    labels_refs: trace,
                    value: 0.3,
                    timestamp: 1000,
                }],
                metadata: Some(rw2::Metadata {
                    r#type: 2,
                    help_ref: help,
                    unit_ref: 0,
                }),
                ..Default::default()
            },
            rw2::TimeSeries {
                labels_refs: refs,
                histograms: vec![histogram()],
                ..Default::default()
            },
        ],
        symbols: st.into_symbols(),
    }
    .encode_to_vec()
}

fn remote_write_v1(raw: &[u8]) {
    if let Ok(req) = rw::decode_body(&snappy(raw)) {
        let _ = rw::exemplars_of(&req);
        let _ = rw::metadata_of(&req);
        let _ = rw::to_batch(req);
    }
}

fn remote_write_v2(raw: &[u8]) {
    if let Ok(req) = rw::decompress(&snappy(raw)) {
        if let Ok(req) = Request::decode(req.as_slice()) {
            let _ = rw2::decode_request_with(&req, true);
            let _ = rw2::decode_request(&req);
        }
    }
}

const LOKI_JSON: &str = r#"{"streams":[{"stream":{"job":"a","env":"p"},"values":[["1704067200000000000","line one"],["1704067200000000001","two \"q\"",{"trace_id":"abc"}]]},
{"labels":"{job=\"b\", x=\"y\"}","entries":[{"ts":"2024-01-01T00:00:00Z","line":"legacy"}]}]}"#;

fn loki_proto_raw() -> Vec<u8> {
    push::PushRequest {
        streams: vec![push::StreamAdapter {
            labels: r#"{job="a", env="p\"q"}"#.into(),
            entries: vec![push::EntryAdapter {
                timestamp: Some(push::Timestamp {
                    seconds: 5,
                    nanos: 7,
                }),
                line: "l".into(),
                structured_metadata: vec![push::LabelPair {
                    name: "k".into(),
                    value: "v".into(),
                }],
            }],
            hash: 0,
        }],
    }
    .encode_to_vec()
}

const OTLP_METRICS_JSON: &str = r#"{"resourceMetrics":[{"resource":{"attributes":[
{"key":"service.name","value":{"stringValue":"checkout"}},{"key":"service.instance.id","value":{"stringValue":"i-1"}}]},
"scopeMetrics":[{"scope":{"name":"app","version":"1"},"metrics":[
{"name":"requests","unit":"1","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[
 {"attributes":[{"key":"route","value":{"stringValue":"/a"}}],"startTimeUnixNano":"1700000000000000000","timeUnixNano":"1700000001000000000","asInt":"5"}]}},
{"name":"temp","unit":"Cel","gauge":{"dataPoints":[{"timeUnixNano":"1700000001000000000","asDouble":21.5}]}},
{"name":"latency","unit":"ms","histogram":{"aggregationTemporality":1,"dataPoints":[
 {"timeUnixNano":"1700000001000000000","count":"3","sum":7.5,"bucketCounts":["1","1","1"],"explicitBounds":[1,5]}]}},
{"name":"size","unit":"By","exponentialHistogram":{"aggregationTemporality":2,"dataPoints":[
 {"timeUnixNano":"1700000001000000000","count":"4","sum":10,"scale":2,"zeroCount":"1","positive":{"offset":1,"bucketCounts":["1","2"]},"negative":{"offset":0,"bucketCounts":["1"]}}]}},
{"name":"q","summary":{"dataPoints":[{"timeUnixNano":"1700000001000000000","count":"2","sum":3,"quantileValues":[{"quantile":0.5,"value":1}]}]}}
]}]}]}"#;

fn otlp_metrics(req: &ExportMetricsServiceRequest) {
    let cfg = config::otlp::OtlpConfig::default();
    let _ = metrics::convert(req, &cfg, 1_700_000_002_000);
}

fn otlp_proto_raw() -> Vec<u8> {
    serde_json::from_str::<ExportMetricsServiceRequest>(OTLP_METRICS_JSON)
        .map(|r| r.encode_to_vec())
        .unwrap_or_default()
}

#[test]
fn samples_are_valid() {
    let req = rw::decode_body(&snappy(&v1_raw()))
        .map_err(|e| e.message)
        .unwrap();
    let (series, hists) = rw::to_batch(req).map_err(|e| e.message).unwrap();
    assert_eq!((series.len(), hists.len()), (1, 1));
    let req = Request::decode(v2_raw().as_slice()).unwrap();
    let d = rw2::decode_request(&req);
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert_eq!(push::decode_json(LOKI_JSON.as_bytes()).unwrap().len(), 2);
    assert_eq!(
        push::decode_protobuf(&snappy(&loki_proto_raw()))
            .unwrap()
            .len(),
        1
    );
    let req: ExportMetricsServiceRequest = serde_json::from_str(OTLP_METRICS_JSON).unwrap();
    let c = metrics::convert(
        &req,
        &config::otlp::OtlpConfig::default(),
        1_700_000_002_000,
    );
    assert!(!c.series.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

    #[test]
    fn fuzz_remote_write_v1_mutations(edits in proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8)) {
        remote_write_v1(&mutate(&v1_raw(), &edits));
    }

    #[test]
    fn fuzz_remote_write_v2_mutations(edits in proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8)) {
        remote_write_v2(&mutate(&v2_raw(), &edits));
    }

    #[test]
    fn fuzz_remote_write_arbitrary(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        remote_write_v1(&b);
        remote_write_v2(&b);
        let _ = rw::decode_body(&b);
    }

    #[test]
    fn fuzz_loki_push_mutations(edits in proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8)) {
        let _ = push::decode_json(&mutate(LOKI_JSON.as_bytes(), &edits));
        let _ = push::decode_protobuf(&snappy(&mutate(&loki_proto_raw(), &edits)));
    }

    #[test]
    fn fuzz_otlp_metrics_mutations(edits in proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8)) {
        if let Ok(req) = serde_json::from_slice::<ExportMetricsServiceRequest>(&mutate(OTLP_METRICS_JSON.as_bytes(), &edits)) {
            otlp_metrics(&req);
        }
        if let Ok(req) = ExportMetricsServiceRequest::decode(mutate(&otlp_proto_raw(), &edits).as_slice()) {
            otlp_metrics(&req);
        }
    }

    #[test]
    fn fuzz_otlp_metrics_arbitrary(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(req) = ExportMetricsServiceRequest::decode(b.as_slice()) {
            otlp_metrics(&req);
        }
    }
}

/// Regression (found by fuzz_otlp_metrics_mutations): points 48 years apart made one
/// target_info sample per 2.5 minutes between them, ~10 M samples and 15-26 s per request.
#[test]
fn target_info_bounded_for_points_decades_apart() {
    let body = OTLP_METRICS_JSON
        .replace(
            "{\"key\":\"service.instance.id\"",
            "{\"key\":\"host.name\",\"value\":{\"stringValue\":\"box\"}},{\"key\":\"service.instance.id\"",
        )
        .replace(
        "{\"timeUnixNano\":\"1700000001000000000\",\"count\":\"2\"",
        "{\"timeUnixNano\":\"170000001000000000\",\"count\":\"2\"",
    );
    assert_ne!(body, OTLP_METRICS_JSON);
    let req: ExportMetricsServiceRequest = serde_json::from_str(&body).unwrap();
    let c = metrics::convert(
        &req,
        &config::otlp::OtlpConfig::default(),
        1_700_000_002_000,
    );
    let info: usize = c
        .series
        .iter()
        .filter(|s| s.labels.get("__name__") == Some("target_info"))
        .map(|s| s.samples.len())
        .sum();
    assert!(
        info > 0 && info <= metrics::TARGET_INFO_STEPS as usize + 1,
        "{info}"
    );
}

/// Regression (found by fuzz_otlp_metrics_mutations at 100 k executions): an exponential
/// histogram with scale >= 40 shifted the bucket index by >= 32 bits, a panic in debug builds
/// and a wrong bucket in release ones. Go's shift (Prometheus) gives 0, or -1 below zero.
#[test]
fn exponential_histogram_huge_scale() {
    let body = OTLP_METRICS_JSON.replace("\"scale\":2", "\"scale\":60");
    assert_ne!(body, OTLP_METRICS_JSON);
    let req: ExportMetricsServiceRequest = serde_json::from_str(&body).unwrap();
    let c = metrics::convert(
        &req,
        &config::otlp::OtlpConfig::default(),
        1_700_000_002_000,
    );
    let h = c
        .histograms
        .iter()
        .find(|(l, _)| l.get("__name__") == Some("size_bytes"));
    let h = h.map(|(_, s)| &s.h).expect("size histogram converted");
    assert_eq!(h.schema, 8);
    assert_eq!(h.positive_buckets, vec![3.0]);
    assert_eq!(h.negative_buckets, vec![1.0]);
}
