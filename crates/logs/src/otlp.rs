//! OTLP logs → log streams, following Loki's OTLP conventions: the resource attributes Loki
//! indexes by default (`service.name`, `service.namespace`, `deployment.environment`,
//! `k8s.*.name`, `cloud.region`, ...) become stream labels with dots turned into underscores
//! (`service_name="unknown_service"` when absent); all other resource, scope and record
//! attributes, `severity_text`, `trace_id` and `span_id` become structured metadata.

use model::{Labels, LogEntry, LogStream};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value as AV, AnyValue, KeyValue};
use std::collections::HashMap;

const INDEX_LABELS: &[&str] = &[
    "cloud.availability_zone",
    "cloud.region",
    "container.name",
    "deployment.environment",
    "deployment.environment.name",
    "k8s.cluster.name",
    "k8s.container.name",
    "k8s.cronjob.name",
    "k8s.daemonset.name",
    "k8s.deployment.name",
    "k8s.job.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.replicaset.name",
    "k8s.statefulset.name",
    "service.instance.id",
    "service.name",
    "service.namespace",
];

fn sanitize(k: &str) -> String {
    crate::logql::pipeline::sanitize(k)
}

pub fn any_to_string(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(AV::StringValue(s)) => s.clone(),
        Some(AV::BoolValue(b)) => b.to_string(),
        Some(AV::IntValue(i)) => i.to_string(),
        Some(AV::DoubleValue(d)) => d.to_string(),
        Some(AV::BytesValue(b)) => b.iter().map(|x| format!("{x:02x}")).collect(),
        Some(other) => any_json(other).to_string(),
    }
}

fn any_json(v: &AV) -> serde_json::Value {
    match v {
        AV::StringValue(s) => serde_json::Value::String(s.clone()),
        AV::BoolValue(b) => serde_json::Value::Bool(*b),
        AV::IntValue(i) => serde_json::json!(i),
        AV::DoubleValue(d) => serde_json::json!(d),
        AV::BytesValue(b) => {
            serde_json::Value::String(b.iter().map(|x| format!("{x:02x}")).collect())
        }
        AV::ArrayValue(a) => serde_json::Value::Array(
            a.values
                .iter()
                .filter_map(|x| x.value.as_ref().map(any_json))
                .collect(),
        ),
        AV::KvlistValue(kv) => serde_json::Value::Object(
            kv.values
                .iter()
                .map(|p| {
                    (
                        p.key.clone(),
                        p.value
                            .as_ref()
                            .and_then(|x| x.value.as_ref())
                            .map(any_json)
                            .unwrap_or(serde_json::Value::Null),
                    )
                })
                .collect(),
        ),
        #[allow(unreachable_patterns)]
        _ => serde_json::Value::Null,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn attrs(kvs: &[KeyValue], out: &mut Vec<(String, String)>) {
    for kv in kvs {
        let v = any_to_string(&kv.value);
        if !v.is_empty() {
            out.push((sanitize(&kv.key), v));
        }
    }
}

pub fn from_request(req: ExportLogsServiceRequest, now_ns: i64) -> Vec<LogStream> {
    let mut by_labels: HashMap<Labels, Vec<LogEntry>> = HashMap::new();
    for rl in req.resource_logs {
        let mut labels: Vec<(String, String)> = Vec::new();
        let mut res_meta: Vec<(String, String)> = Vec::new();
        let mut has_service = false;
        for kv in rl
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or(&[])
        {
            let v = any_to_string(&kv.value);
            if v.is_empty() {
                continue;
            }
            if INDEX_LABELS.contains(&kv.key.as_str()) {
                has_service |= kv.key == "service.name";
                labels.push((sanitize(&kv.key), v));
            } else {
                res_meta.push((sanitize(&kv.key), v));
            }
        }
        if !has_service {
            labels.push(("service_name".into(), "unknown_service".into()));
        }
        let labels = Labels::from_pairs(labels);
        for sl in rl.scope_logs {
            let mut scope_meta = Vec::new();
            if let Some(s) = &sl.scope {
                if !s.name.is_empty() {
                    scope_meta.push(("scope_name".to_string(), s.name.clone()));
                }
                if !s.version.is_empty() {
                    scope_meta.push(("scope_version".to_string(), s.version.clone()));
                }
                attrs(&s.attributes, &mut scope_meta);
            }
            for r in sl.log_records {
                let mut meta = res_meta.clone();
                meta.extend(scope_meta.iter().cloned());
                attrs(&r.attributes, &mut meta);
                if !r.severity_text.is_empty() {
                    meta.push(("severity_text".into(), r.severity_text.clone()));
                }
                if r.severity_number != 0 {
                    meta.push(("severity_number".into(), r.severity_number.to_string()));
                }
                if r.trace_id.iter().any(|b| *b != 0) {
                    meta.push(("trace_id".into(), hex(&r.trace_id)));
                }
                if r.span_id.iter().any(|b| *b != 0) {
                    meta.push(("span_id".into(), hex(&r.span_id)));
                }
                let ts = if r.time_unix_nano != 0 {
                    r.time_unix_nano
                } else if r.observed_time_unix_nano != 0 {
                    r.observed_time_unix_nano
                } else {
                    now_ns as u64
                };
                by_labels.entry(labels.clone()).or_default().push(LogEntry {
                    ts_ns: i64::try_from(ts).unwrap_or(i64::MAX),
                    line: any_to_string(&r.body),
                    metadata: meta,
                });
            }
        }
    }
    by_labels
        .into_iter()
        .map(|(labels, entries)| LogStream { labels, entries })
        .collect()
}

pub fn decode_protobuf(body: &[u8], now_ns: i64) -> Result<Vec<LogStream>, String> {
    let req = <ExportLogsServiceRequest as prost::Message>::decode(body)
        .map_err(|e| format!("invalid OTLP protobuf: {e}"))?;
    Ok(from_request(req, now_ns))
}

pub fn decode_json(body: &[u8], now_ns: i64) -> Result<Vec<LogStream>, String> {
    let req: ExportLogsServiceRequest =
        serde_json::from_slice(body).map_err(|e| format!("invalid OTLP JSON: {e}"))?;
    Ok(from_request(req, now_ns))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn json_logs() {
        let body = br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}},{"key":"host.name","value":{"stringValue":"h1"}}]},
          "scopeLogs":[{"scope":{"name":"winston"},"logRecords":[{"timeUnixNano":"1700000000000000000","severityText":"error","body":{"stringValue":"boom"},
          "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","attributes":[{"key":"http.status","value":{"intValue":"500"}}]}]}]}]}"#;
        let s = decode_json(body, 0).unwrap();
        assert_eq!(s[0].labels, Labels::from_pairs([("service_name", "api")]));
        let e = &s[0].entries[0];
        assert_eq!(e.line, "boom");
        assert_eq!(e.ts_ns, 1_700_000_000_000_000_000);
        let m: HashMap<_, _> = e.metadata.iter().cloned().collect();
        assert_eq!(m["host_name"], "h1");
        assert_eq!(m["http_status"], "500");
        assert_eq!(m["trace_id"], "5b8efff798038103d269b633813fc60c");
        assert_eq!(m["severity_text"], "error");
        assert_eq!(m["scope_name"], "winston");
    }

    proptest! {
        #[test]
        fn decoders_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_protobuf(&b, 0);
            let _ = decode_json(&b, 0);
        }
    }
}
