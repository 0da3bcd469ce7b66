//! OTLP/gRPC trace export with tenants through the real binary, as Tempo's gRPC distributor:
//! the tenant comes from `X-Scope-OrgID` metadata (or the tenant bound to the call's token),
//! a tenant past `ingestion_rate_limit_bytes` / `max_traces_per_user` gets RESOURCE_EXHAUSTED
//! with Tempo's message while another tenant is accepted, refusals are counted in
//! `tempo_discarded_spans_total{reason,tenant}`, and tenants read only their own traces; with
//! auth on, a call needs a write-scoped credential.

use crate::common::{free_port, Pharos};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

const BASE: &str =
    "collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\n";

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// One span of `trace` (16 bytes) with a `pad`-byte attribute.
pub(crate) fn request(trace: [u8; 16], pad: usize) -> ExportTraceServiceRequest {
    let end = now_ns();
    let kv = |k: &str, v: String| KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v)),
        }),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "grpc-svc".into())],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: trace.to_vec(),
                    span_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
                    name: "op".into(),
                    start_time_unix_nano: end - 1000,
                    end_time_unix_nano: end,
                    attributes: vec![kv("pad", "x".repeat(pad))],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Exports `req` with `metadata` pairs; Ok or the gRPC status.
pub(crate) fn export(
    rt: &tokio::runtime::Runtime,
    port: u16,
    metadata: &[(&'static str, &str)],
    req: ExportTraceServiceRequest,
) -> Result<(), tonic::Status> {
    rt.block_on(async {
        // The gRPC listener may bind just after the main one reports its address.
        let mut tries = 0;
        let mut c = loop {
            match TraceServiceClient::connect(format!("http://127.0.0.1:{port}")).await {
                Ok(c) => break c,
                Err(e) if tries > 100 => panic!("connect to otlp_grpc: {e}"),
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            }
            tries += 1;
        };
        let mut r = tonic::Request::new(req);
        for (k, v) in metadata {
            r.metadata_mut().insert(*k, v.parse().unwrap());
        }
        c.export(r).await.map(|_| ())
    })
}

fn hex(id: [u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `tenant` finds trace `id` (Jaeger's API).
fn found(p: &Pharos, tenant: &str, id: [u8; 16], token: Option<&str>) -> bool {
    let mut r = reqwest::blocking::Client::new()
        .get(p.url(&format!("/api/traces/{}", hex(id))))
        .header("X-Scope-OrgID", tenant);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().unwrap().status().as_u16() == 200
}

/// Starts pharos with an OTLP/gRPC listener and `extra` config; it and the gRPC port.
fn start(dir: &std::path::Path, extra: &str) -> (Pharos, u16) {
    let port = free_port();
    let cfg = dir.join("pharos.yml");
    std::fs::write(
        &cfg,
        format!("{BASE}listeners:\n  otlp_grpc: 127.0.0.1:{port}\n{extra}"),
    )
    .unwrap();
    (Pharos::start(&dir.join("data"), Some(&cfg)), port)
}

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn grpc_tenants_get_tempo_limits_and_isolation() {
    let dir = tempfile::tempdir().unwrap();
    let (p, port) = start(
        dir.path(),
        "tenants:\n  overrides:\n    slow: {ingestion_rate_limit_bytes: 100, ingestion_burst_size_bytes: 1500}\n    narrow: {max_traces_per_user: 1}\n",
    );
    let rt = rt();
    let (a, b, c, d) = ([0xa1; 16], [0xb2; 16], [0xc3; 16], [0xd4; 16]);
    // Within slow's burst: accepted; past it: RESOURCE_EXHAUSTED with Tempo's message.
    export(&rt, port, &[("x-scope-orgid", "slow")], request(a, 10)).unwrap();
    let e = export(&rt, port, &[("x-scope-orgid", "slow")], request(b, 3000)).unwrap_err();
    assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e:?}");
    assert!(
        e.message()
            .starts_with("RATE_LIMITED: ingestion rate limit")
            && e.message().contains("for user slow"),
        "{}",
        e.message()
    );
    // The same request from another tenant is accepted: the limit is slow's alone.
    export(&rt, port, &[("x-scope-orgid", "other")], request(b, 3000)).unwrap();
    // narrow: one live trace; more spans of it are accepted, a second trace is not.
    export(&rt, port, &[("x-scope-orgid", "narrow")], request(c, 10)).unwrap();
    export(&rt, port, &[("x-scope-orgid", "narrow")], request(c, 20)).unwrap();
    let e = export(&rt, port, &[("x-scope-orgid", "narrow")], request(d, 10)).unwrap_err();
    assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e:?}");
    assert!(
        e.message().starts_with("LIVE_TRACES_EXCEEDED"),
        "{}",
        e.message()
    );
    // Tenant isolation of what was stored.
    assert!(found(&p, "slow", a, None));
    assert!(!found(&p, "other", a, None));
    assert!(found(&p, "other", b, None));
    assert!(!found(&p, "slow", b, None));
    assert!(found(&p, "narrow", c, None));
    assert!(!found(&p, "narrow", d, None));
    let m = reqwest::blocking::get(p.url("/metrics"))
        .unwrap()
        .text()
        .unwrap();
    for want in [
        "tempo_discarded_spans_total{reason=\"rate_limited\",tenant=\"slow\"} 1",
        "tempo_discarded_spans_total{reason=\"live_traces_exceeded\",tenant=\"narrow\"} 1",
    ] {
        assert!(m.contains(want), "{want} missing");
    }
}

#[test]
fn grpc_needs_a_write_credential_and_takes_its_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let (p, port) = start(
        dir.path(),
        "auth:\n  tokens:\n    - {name: reader, token: read-a, scopes: [read], tenant: team-a}\n    - {name: app, token: push-a, scopes: [write], tenant: team-a}\n",
    );
    let rt = rt();
    let id = [0xe5; 16];
    let e = export(&rt, port, &[], request(id, 1)).unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e:?}");
    let e = export(
        &rt,
        port,
        &[("authorization", "Bearer nope")],
        request(id, 1),
    )
    .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e:?}");
    let e = export(
        &rt,
        port,
        &[("authorization", "Bearer read-a")],
        request(id, 1),
    )
    .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
    // The token's tenant wins over the metadata's.
    export(
        &rt,
        port,
        &[
            ("authorization", "Bearer push-a"),
            ("x-scope-orgid", "team-b"),
        ],
        request(id, 1),
    )
    .unwrap();
    assert!(found(&p, "team-a", id, Some("read-a")));
}
