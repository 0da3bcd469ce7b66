//! Fuzz campaign for the Sentry ingest path: envelope framing, then each event item through
//! normalization, grouping and title, fed arbitrary bytes and damaged valid envelopes. Must
//! answer Ok or a clean Err, never panic.

use crate::{envelope, event, grouping};
use model::fuzzing::{cases, mutate};
use proptest::prelude::*;

const ENVELOPE: &str = concat!(
    "{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"dsn\":\"https://k@o0.ingest.sentry.io/1\",\"sent_at\":\"2024-01-01T00:00:00Z\"}\n",
    "{\"type\":\"event\",\"length\":0}\n\n",
    "{\"type\":\"event\"}\n",
    "{\"level\":\"error\",\"platform\":\"python\",\"timestamp\":1704067200.5,\"message\":\"boom 42\",",
    "\"exception\":{\"values\":[{\"type\":\"ValueError\",\"value\":\"bad id 0x1f\",\"stacktrace\":{\"frames\":[",
    "{\"filename\":\"app/x.py\",\"function\":\"run\",\"lineno\":3,\"in_app\":true},",
    "{\"module\":\"lib\",\"function\":\"<lambda>\",\"abs_path\":\"/usr/lib/y.py\"}]}}]},",
    "\"tags\":{\"a\":\"b\"},\"user\":{\"ip_address\":\"{{auto}}\"},\"fingerprint\":[\"{{ default }}\",\"x\"]}\n",
    "{\"type\":\"attachment\",\"length\":5,\"filename\":\"a.txt\"}\nhello\n",
    "{\"type\":\"session\"}\n{\"sid\":\"x\",\"status\":\"ok\"}\n",
);

fn ingest(data: &[u8]) {
    let Ok(env) = envelope::parse(data) else {
        return;
    };
    for item in &env.items {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&item.payload) else {
            continue;
        };
        if let Ok(ev) =
            event::normalize(v, 1_704_067_200.0, Some("9ec79c33ec9942ab8353589fcb2e04dc"))
        {
            let _ = grouping::default_components(&ev);
            let _ = event::title(&ev);
        }
    }
}

#[test]
fn sample_is_valid() {
    let env = envelope::parse(ENVELOPE.as_bytes()).expect("envelope");
    assert_eq!(env.items.len(), 4);
    ingest(ENVELOPE.as_bytes());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

    #[test]
    fn fuzz_envelope_mutations(edits in proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8)) {
        ingest(&mutate(ENVELOPE.as_bytes(), &edits));
    }

    #[test]
    fn fuzz_envelope_arbitrary(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        ingest(&b);
    }
}
