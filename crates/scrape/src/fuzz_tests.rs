//! Fuzz campaign for the scrape parsers: the text exposition (Prometheus 0.0.4 and
//! OpenMetrics, full parse and the streaming scanner) and the protobuf exposition, fed
//! arbitrary input and damaged valid bodies. They must answer Ok or a clean Err, never panic.

use crate::exposition::{parse, Format};
use crate::protobuf::{self, Options};
use crate::scan::Scanner;
use model::fuzzing::{cases, mutate, mutate_str};
use proptest::prelude::*;

const TEXT: &str = "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n\
http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
http_requests_total{method=\"a\\\"b\\\\c\\nd\"} 3\n\
# TYPE rpc_seconds histogram\n# UNIT rpc_seconds seconds\n\
rpc_seconds_bucket{le=\"0.05\"} 24054 # {trace_id=\"abc\"} 0.04 1.5e9\n\
rpc_seconds_bucket{le=\"+Inf\"} 144320\nrpc_seconds_sum 53423\nrpc_seconds_count 144320\n\
rpc_seconds_created 1.5e9\n\
# TYPE q summary\nq{quantile=\"0.5\"} NaN\nq_sum -Inf\nq_count 2\n\
{\"utf8.name\",\"x\"=\"y\"} 1\nmetric_without_ts 12.5e-3\n# EOF\n";

fn both_formats(body: &str) {
    for f in [Format::PrometheusText, Format::OpenMetrics] {
        let _ = parse(body, f);
        let mut s = Scanner::new(body, f);
        while let Ok(Some(raw)) = s.next_sample() {
            let _ = raw.parse();
        }
    }
}

fn both_options(body: &[u8]) {
    for (native, keep_classic) in [(true, true), (true, false), (false, false)] {
        let _ = protobuf::parse(
            body,
            Options {
                native,
                keep_classic,
            },
        );
    }
}

#[test]
fn samples_are_valid() {
    parse(TEXT, Format::OpenMetrics).expect("text sample parses");
    both_options(&protobuf::tests::sample_body());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

    #[test]
    fn fuzz_text_mutations(edits in proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8)) {
        both_formats(&mutate_str(TEXT, &edits));
    }

    #[test]
    fn fuzz_text_arbitrary(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        both_formats(&String::from_utf8_lossy(&b));
    }

    #[test]
    fn fuzz_protobuf_arbitrary(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        both_options(&b);
    }

    #[test]
    fn fuzz_protobuf_mutations(edits in proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8)) {
        both_options(&mutate(&protobuf::tests::sample_body(), &edits));
    }
}
