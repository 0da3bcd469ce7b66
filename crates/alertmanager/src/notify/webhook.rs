//! Webhook notifications: Alertmanager's webhook JSON, version 4 (receiver, status, alerts,
//! groupLabels, commonLabels, commonAnnotations, externalURL, version, groupKey,
//! truncatedAlerts), honouring `max_alerts`; each alert also carries `incidentURL`, its incident
//! page in pharos' UI.

use super::{post_json, Notification, NotifyError};
use crate::config::WebhookConfig;
use serde_json::{json, Value};

/// A time as Go's `encoding/json` writes `time.Time` (RFC 3339, fraction without trailing zeros).
fn go_json_time(ms: i64) -> String {
    let s = model::alert::format_rfc3339_ms(ms);
    match s.strip_suffix('Z').and_then(|x| x.split_once('.')) {
        Some((base, frac)) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                format!("{base}Z")
            } else {
                format!("{base}.{frac}Z")
            }
        }
        None => s,
    }
}

pub fn payload(c: &WebhookConfig, n: &Notification<'_>) -> Value {
    let mut alerts: Vec<Value> = n
        .alerts
        .iter()
        .map(|a| {
            let resolved = a.resolved_at(n.now);
            json!({
                "status": if resolved { "resolved" } else { "firing" },
                "labels": a.labels,
                "annotations": a.annotations,
                "startsAt": go_json_time(a.starts_at),
                "endsAt": if resolved { go_json_time(a.ends_at) } else { "0001-01-01T00:00:00Z".to_string() },
                "generatorURL": a.generator_url,
                "fingerprint": crate::alert::fingerprint_hex(a.fingerprint),
                // pharos' addition: the alert's incident page.
                "incidentURL": crate::alert::incident_url(n.external_url, &a.labels, a.starts_at),
            })
        })
        .collect();
    let mut truncated = 0;
    if c.max_alerts > 0 && alerts.len() as u64 > c.max_alerts {
        truncated = alerts.len() as u64 - c.max_alerts;
        alerts.truncate(c.max_alerts as usize);
    }
    json!({
        "receiver": n.receiver,
        "status": n.data.status,
        "alerts": alerts,
        "groupLabels": n.data.group_labels.0,
        "commonLabels": n.data.common_labels.0,
        "commonAnnotations": n.data.common_annotations.0,
        "externalURL": n.external_url,
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": truncated,
    })
}

pub async fn notify(c: &WebhookConfig, n: &Notification<'_>) -> Result<(), NotifyError> {
    post_json(
        &c.http_config,
        c.timeout_ms,
        &c.url,
        &payload(c, n),
        "webhook",
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::TestNotification;

    #[test]
    fn version4_with_max_alerts() {
        let t = TestNotification::new(
            "route:\n  receiver: r\nreceivers:\n  - name: r\n    webhook_configs:\n      - url: http://127.0.0.1:1/\n        max_alerts: 1\n",
            &[
                (&[("alertname", "X"), ("i", "1")], &[("s", "a")], false),
                (&[("alertname", "X"), ("i", "2")], &[("s", "a")], true),
            ],
        );
        let c = &t.loaded.config.receivers[0].webhook[0];
        let p = payload(c, &t.notification());
        assert_eq!(p["version"], "4");
        assert_eq!(p["status"], "firing");
        assert_eq!(p["receiver"], "r");
        assert_eq!(p["externalURL"], "http://am:9093");
        assert_eq!(p["groupKey"], "{}:{alertname=\"X\"}");
        assert_eq!(p["truncatedAlerts"], 1);
        assert_eq!(p["alerts"].as_array().unwrap().len(), 1);
        assert_eq!(p["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
        assert_eq!(p["alerts"][0]["startsAt"], "1970-01-01T00:00:01Z");
        assert_eq!(go_json_time(1_700_000_000_120), "2023-11-14T22:13:20.12Z");
        assert_eq!(p["commonAnnotations"]["s"], "a");
        assert_eq!(p["alerts"][0]["fingerprint"].as_str().unwrap().len(), 16);
    }
}
