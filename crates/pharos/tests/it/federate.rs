//! `/federate` against the real binary: the newest sample per matching series with its
//! timestamp, external labels added where missing, series ending in a staleness marker left
//! out, and a 400 without or with a bad `match[]`.

use crate::common::{write_request, Pharos};

#[test]
fn federate_answers_the_newest_sample_per_series() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  external_labels: {replica: a}\n").unwrap();
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    let now = chrono::Utc::now().timestamp_millis();
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    let body = write_request(&[
        (
            vec![("__name__", "fed_a"), ("job", "x")],
            vec![(now - 2000, 1.0), (now - 1000, 2.5)],
        ),
        (
            vec![("__name__", "fed_a"), ("job", "y"), ("replica", "own")],
            vec![(now - 1000, 7.0)],
        ),
        (
            vec![("__name__", "fed_gone")],
            vec![(now - 2000, 1.0), (now - 1000, stale)],
        ),
        (vec![("__name__", "other")], vec![(now - 1000, 3.0)]),
    ]);
    let c = reqwest::blocking::Client::new();
    let r = c
        .post(p.url("/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let text = c
        .get(p.url("/federate"))
        .query(&[("match[]", "{__name__=~\"fed_.*\"}")])
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(
        text,
        format!(
            "# TYPE fed_a untyped\nfed_a{{job=\"x\",replica=\"a\"}} 2.5 {}\nfed_a{{job=\"y\",replica=\"own\"}} 7 {}\n",
            now - 1000,
            now - 1000
        )
    );
    let r = c.get(p.url("/federate")).send().unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = c
        .get(p.url("/federate"))
        .query(&[("match[]", "up{")])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
}
