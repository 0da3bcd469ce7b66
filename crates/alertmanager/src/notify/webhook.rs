//! Webhook notifications: Alertmanager's webhook JSON, version 4 (receiver, status, alerts,
//! groupLabels, commonLabels, commonAnnotations, externalURL, version, groupKey,
//! truncatedAlerts), honouring `max_alerts`.

use super::{post_json, Notification, NotifyError};
use crate::config::WebhookConfig;
use serde_json::{json, Value};

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
                "startsAt": model::alert::format_rfc3339_ms(a.starts_at),
                "endsAt": if resolved { model::alert::format_rfc3339_ms(a.ends_at) } else { "0001-01-01T00:00:00Z".to_string() },
                "generatorURL": a.generator_url,
                "fingerprint": crate::alert::fingerprint_hex(a.fingerprint),
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
