//! Dispatcher tests against a local webhook receiver: grouping, group_wait, inhibition,
//! silences, retries after 5xx, resolved notifications and dedup across a restart.

use crate::dispatch::{Alertmanager, Loaded, RetryPolicy};
use parking_lot::Mutex;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A webhook receiver that records JSON bodies; the first `fail_first` requests get a 500.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<serde_json::Value>>>,
}

async fn receiver(fail_first: usize) -> Receiver {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let count = Arc::new(Mutex::new(0usize));
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let g = g.clone();
            let count = count.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                loop {
                    let n = s.read(&mut tmp).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&tmp[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(h) = text.find("\r\n\r\n") {
                        let len = text[..h]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= h + 4 + len {
                            let body = &buf[h + 4..h + 4 + len];
                            let n = {
                                let mut c = count.lock();
                                *c += 1;
                                *c
                            };
                            let status = if n <= fail_first {
                                "500 Internal Server Error"
                            } else {
                                g.lock()
                                    .push(serde_json::from_slice(body).unwrap_or_default());
                                "200 OK"
                            };
                            let _ = s
                                .write_all(
                                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                                        .as_bytes(),
                                )
                                .await;
                            return;
                        }
                    }
                }
            });
        }
    });
    Receiver { url, got }
}

fn config(url: &str) -> Loaded {
    let text = format!(
        "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 200ms\n  group_interval: 400ms\n  repeat_interval: 1h\ninhibit_rules:\n  - source_matchers: [severity=\"critical\"]\n    target_matchers: [severity=\"warning\"]\n    equal: [cluster]\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: '{url}'\n"
    );
    Loaded::new(crate::config::parse(Path::new("t.yml"), &text).unwrap()).unwrap()
}

fn alert(pairs: &[(&str, &str)], ends_at: Option<i64>) -> model::alert::Alert {
    model::alert::Alert {
        labels: pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        ends_at,
        ..Default::default()
    }
}

async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(900)).await;
}

/// Waits (up to 15 s, for loaded CI machines) until `n` notifications arrived, then a little
/// longer so that extra ones would show up too.
async fn until(r: &Receiver, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while r.got.lock().len() < n && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    settle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grouping_inhibition_resolve_and_restart_dedup() {
    let r = receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let fast = RetryPolicy {
        initial_ms: 50,
        max_ms: 100,
    };
    let am = Alertmanager::new(
        config(&r.url),
        Some(dir.path().to_path_buf()),
        "http://am".into(),
        fast,
    )
    .unwrap();
    let task = am.spawn();
    am.put_alerts(vec![
        alert(
            &[
                ("alertname", "A"),
                ("instance", "1"),
                ("severity", "critical"),
                ("cluster", "x"),
            ],
            None,
        ),
        alert(
            &[
                ("alertname", "A"),
                ("instance", "2"),
                ("severity", "critical"),
                ("cluster", "x"),
            ],
            None,
        ),
        alert(
            &[
                ("alertname", "B"),
                ("severity", "warning"),
                ("cluster", "x"),
            ],
            None,
        ),
        alert(
            &[
                ("alertname", "C"),
                ("severity", "warning"),
                ("cluster", "y"),
            ],
            None,
        ),
    ])
    .unwrap();
    until(&r, 2).await;
    {
        let got = r.got.lock();
        // Group A (2 alerts) and group C; B is inhibited by A's critical alerts in cluster x.
        assert_eq!(got.len(), 2, "{got:?}");
        let a = got
            .iter()
            .find(|g| g["groupLabels"]["alertname"] == "A")
            .unwrap();
        assert_eq!(a["alerts"].as_array().unwrap().len(), 2);
        assert_eq!(a["version"], "4");
        assert_eq!(a["status"], "firing");
        assert!(got.iter().all(|g| g["groupLabels"]["alertname"] != "B"));
    }
    let views = am.alerts();
    let b = views.iter().find(|v| v.alert.name() == "B").unwrap();
    assert_eq!(b.state(), "suppressed");
    assert_eq!(b.inhibited_by.len(), 2);

    // Restart on the same data dir: re-posted alerts are not notified again.
    task.abort();
    let am2 = Alertmanager::new(
        config(&r.url),
        Some(dir.path().to_path_buf()),
        "http://am".into(),
        fast,
    )
    .unwrap();
    let task2 = am2.spawn();
    am2.put_alerts(vec![
        alert(
            &[
                ("alertname", "A"),
                ("instance", "1"),
                ("severity", "critical"),
                ("cluster", "x"),
            ],
            None,
        ),
        alert(
            &[
                ("alertname", "A"),
                ("instance", "2"),
                ("severity", "critical"),
                ("cluster", "x"),
            ],
            None,
        ),
        alert(
            &[
                ("alertname", "C"),
                ("severity", "warning"),
                ("cluster", "y"),
            ],
            None,
        ),
    ])
    .unwrap();
    settle().await;
    assert_eq!(r.got.lock().len(), 2, "no duplicates after restart");

    // Resolve group A: one resolved notification (webhook sends resolved by default).
    let past = model::time::now_ms() - 1;
    am2.put_alerts(vec![
        alert(
            &[
                ("alertname", "A"),
                ("instance", "1"),
                ("severity", "critical"),
                ("cluster", "x"),
            ],
            Some(past),
        ),
        alert(
            &[
                ("alertname", "A"),
                ("instance", "2"),
                ("severity", "critical"),
                ("cluster", "x"),
            ],
            Some(past),
        ),
    ])
    .unwrap();
    until(&r, 3).await;
    {
        let got = r.got.lock();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[2]["status"], "resolved");
        assert_eq!(got[2]["alerts"][0]["status"], "resolved");
    }
    // Silence C's successor D, which then is not delivered.
    am2.set_silence(crate::silence::Silence {
        id: String::new(),
        matchers: vec![crate::silence::SilenceMatcher {
            name: "alertname".into(),
            value: "D".into(),
            is_regex: false,
            is_equal: true,
        }],
        starts_at: 0,
        ends_at: model::time::now_ms() + 60_000,
        updated_at: 0,
        created_by: "t".into(),
        comment: "t".into(),
    })
    .unwrap();
    am2.put_alerts(vec![alert(&[("alertname", "D")], None)])
        .unwrap();
    settle().await;
    assert_eq!(r.got.lock().len(), 3);
    task2.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_after_server_errors() {
    let r = receiver(2).await;
    let am = Alertmanager::new(
        config(&r.url),
        None,
        "http://am".into(),
        RetryPolicy {
            initial_ms: 50,
            max_ms: 100,
        },
    )
    .unwrap();
    let task = am.spawn();
    am.put_alerts(vec![alert(&[("alertname", "X")], None)])
        .unwrap();
    until(&r, 1).await;
    assert_eq!(r.got.lock().len(), 1);
    let mut m = String::new();
    am.write_metrics(&mut m);
    assert!(
        m.contains("alertmanager_notifications_total{integration=\"webhook\"} 3"),
        "{m}"
    );
    assert!(
        m.contains("alertmanager_notifications_failed_total{integration=\"webhook\"} 2"),
        "{m}"
    );
    assert!(m.contains("alertmanager_alerts{state=\"active\"} 1"), "{m}");
    task.abort();
}

#[test]
fn bad_posted_alerts_are_rejected_whole() {
    let am = Alertmanager::new(
        config("http://127.0.0.1:1/"),
        None,
        String::new(),
        RetryPolicy::default(),
    )
    .unwrap();
    let e = am
        .put_alerts(vec![alert(&[("alertname", "ok")], None), alert(&[], None)])
        .unwrap_err();
    assert!(e.contains("at least one label pair"), "{e}");
    assert!(am.alerts().is_empty());
}

fn loaded(text: &str) -> Loaded {
    Loaded::new(crate::config::parse(Path::new("t.yml"), text).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_intervals_mute_and_reload_regroups() {
    let r = receiver(0).await;
    // Muted all week long: nothing is delivered.
    let muted = format!(
        "route:\n  receiver: hook\n  group_wait: 100ms\n  group_interval: 300ms\n  routes:\n    - matchers: [team=\"a\"]\n      mute_time_intervals: [always]\n    - matchers: [team=\"b\"]\n      active_time_intervals: [never]\ntime_intervals:\n  - name: always\n    time_intervals:\n      - weekdays: ['sunday:saturday']\n  - name: never\n    time_intervals:\n      - years: ['1999']\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: '{}'\n",
        r.url
    );
    let am =
        Alertmanager::new(loaded(&muted), None, String::new(), RetryPolicy::default()).unwrap();
    let task = am.spawn();
    am.put_alerts(vec![
        alert(&[("alertname", "M"), ("team", "a")], None),
        alert(&[("alertname", "N"), ("team", "b")], None),
    ])
    .unwrap();
    settle().await;
    assert!(r.got.lock().is_empty(), "muted routes deliver nothing");
    // Reload without the time intervals: the groups are rebuilt and deliver.
    let open = format!(
        "route:\n  receiver: hook\n  group_wait: 100ms\n  group_interval: 300ms\n  group_by: [team]\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: '{}'\n",
        r.url
    );
    am.reload(loaded(&open));
    until(&r, 2).await;
    let got = r.got.lock();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().any(|g| g["groupLabels"]["team"] == "a"));
    task.abort();
}
