//! Fuzz campaign for the span decoders with several edits per input (the decoders' own tests
//! flip one byte): OTLP protobuf (hand-written and prost paths, TracesData) and OTLP JSON, and
//! Zipkin v2 JSON, fed damaged valid requests and arbitrary bytes. They must answer Ok or a
//! clean DecodeError, never panic.

use crate::{otlp, pbdecode, zipkin};
use model::fuzzing::{cases, mutate};
use proptest::prelude::*;

const OTLP_JSON: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}},
{"key":"n","value":{"intValue":"3"}},{"key":"l","value":{"arrayValue":{"values":[{"boolValue":true},{"doubleValue":1.5}]}}}]},
"scopeSpans":[{"scope":{"name":"app"},"spans":[
{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"eee19b7ec3c1b173","name":"GET /a","kind":2,
"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000500000000",
"attributes":[{"key":"http.status_code","value":{"intValue":"500"}}],
"events":[{"timeUnixNano":"1700000000100000000","name":"exception","attributes":[{"key":"exception.message","value":{"stringValue":"boom"}}]}],
"links":[{"traceId":"5b8efff798038103d269b633813fc60d","spanId":"eee19b7ec3c1b170"}],
"status":{"code":2,"message":"failed"}}]}]}]}"#;

const ZIPKIN: &str = r#"[{"traceId":"5b8efff798038103","id":"eee19b7ec3c1b174","parentId":"eee19b7ec3c1b173","name":"get /a","kind":"SERVER",
"timestamp":1700000000000000,"duration":500000,"localEndpoint":{"serviceName":"frontend","ipv4":"10.0.0.1","port":80},
"remoteEndpoint":{"serviceName":"db","ipv6":"::1"},"tags":{"http.status_code":"500","error":"boom"},
"annotations":[{"timestamp":1700000000100000,"value":"cs"}],"shared":true,"debug":false}]"#;

fn otlp_proto() -> Vec<u8> {
    otlp::decode_json(OTLP_JSON.as_bytes())
        .map(|s| otlp::encode_protobuf(&s))
        .unwrap_or_default()
}

fn all_protobuf(b: &[u8]) {
    let _ = otlp::decode_protobuf(b);
    let _ = otlp::decode_protobuf_prost(b);
    let _ = pbdecode::decode(b);
    let _ = otlp::decode_traces_data(b);
}

#[test]
fn samples_are_valid() {
    assert_eq!(
        otlp::decode_json(OTLP_JSON.as_bytes())
            .expect("otlp json")
            .len(),
        1
    );
    assert_eq!(
        otlp::decode_protobuf(&otlp_proto())
            .expect("otlp protobuf")
            .len(),
        1
    );
    assert_eq!(
        zipkin::decode_json(ZIPKIN.as_bytes())
            .expect("zipkin")
            .len(),
        1
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

    #[test]
    fn fuzz_otlp_protobuf_mutations(edits in proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8)) {
        all_protobuf(&mutate(&otlp_proto(), &edits));
    }

    #[test]
    fn fuzz_otlp_json_mutations(edits in proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8)) {
        let _ = otlp::decode_json(&mutate(OTLP_JSON.as_bytes(), &edits));
    }

    #[test]
    fn fuzz_zipkin_mutations(edits in proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8)) {
        let _ = zipkin::decode_json(&mutate(ZIPKIN.as_bytes(), &edits));
    }

    #[test]
    fn fuzz_arbitrary(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        all_protobuf(&b);
        let _ = otlp::decode_json(&b);
        let _ = zipkin::decode_json(&b);
    }
}
