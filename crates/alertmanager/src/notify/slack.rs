//! Slack incoming-webhook notifications: Alertmanager's request JSON (`channel`, `username`,
//! `icon_*`, `link_names`, one attachment with title, title_link, pretext, text, fallback,
//! callback_id, fields, footer, color, mrkdwn_in), plus a button to the alert's incident page in
//! pharos' UI when no `actions` are configured.

use super::{post_json, Notification, NotifyError};
use crate::config::SlackConfig;
use serde_json::{json, Map, Value};

/// Builds the request body.
pub fn payload(c: &SlackConfig, n: &Notification<'_>) -> Value {
    let mut att = Map::new();
    let mut put = |k: &str, v: String, omit_empty: bool| {
        if !(omit_empty && v.is_empty()) {
            att.insert(k.to_string(), Value::String(v));
        }
    };
    put("title", n.render(&c.title), true);
    put("title_link", n.render(&c.title_link), true);
    put("pretext", n.render(&c.pretext), true);
    put("text", n.render(&c.text), false);
    put("fallback", n.render(&c.fallback), false);
    put("callback_id", n.render(&c.callback_id), false);
    put("image_url", n.render(&c.image_url), true);
    put("thumb_url", n.render(&c.thumb_url), true);
    put("footer", n.render(&c.footer), false);
    put("color", n.render(&c.color), true);
    if !c.fields.is_empty() {
        let fields: Vec<Value> = c
            .fields
            .iter()
            .map(|f| {
                json!({
                    "title": n.render(&f.title),
                    "value": n.render(&f.value),
                    "short": f.short.unwrap_or(c.short_fields),
                })
            })
            .collect();
        att.insert("fields".into(), Value::Array(fields));
    }
    if let Some(a) = &c.actions {
        if let Ok(v) = serde_json::to_value(a) {
            att.insert("actions".into(), v);
        }
    } else if let Some(link) = n.incident_links().into_iter().next() {
        // pharos' addition when no actions are configured: a button to the incident page.
        att.insert(
            "actions".into(),
            json!([{"type": "button", "text": "Incident context", "url": link}]),
        );
    }
    if !c.mrkdwn_in.is_empty() {
        att.insert("mrkdwn_in".into(), json!(c.mrkdwn_in));
    }
    let mut req = Map::new();
    let mut put_top = |k: &str, v: String| {
        if !v.is_empty() {
            req.insert(k.to_string(), Value::String(v));
        }
    };
    put_top("channel", n.render(&c.channel));
    put_top("username", n.render(&c.username));
    put_top("icon_emoji", n.render(&c.icon_emoji));
    put_top("icon_url", n.render(&c.icon_url));
    if c.link_names {
        req.insert("link_names".into(), Value::Bool(true));
    }
    req.insert("attachments".into(), Value::Array(vec![Value::Object(att)]));
    Value::Object(req)
}

pub async fn notify(c: &SlackConfig, n: &Notification<'_>) -> Result<(), NotifyError> {
    let body = payload(c, n);
    let resp = post_json(&c.http_config, 0, &c.api_url, &body, "slack").await?;
    // Slack's chat.postMessage answers 200 with {"ok":false,...} on errors.
    if let Ok(v) = serde_json::from_str::<Value>(&resp) {
        if v.get("ok") == Some(&Value::Bool(false)) {
            return Err(NotifyError::permanent(format!(
                "slack: {}",
                v.get("error").and_then(Value::as_str).unwrap_or("error")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::TestNotification;

    #[test]
    fn defaults_like_alertmanager() {
        let t = TestNotification::new(
            "global:\n  slack_api_url: 'http://127.0.0.1:1/hook'\nroute:\n  receiver: r\nreceivers:\n  - name: r\n    slack_configs:\n      - channel: '#c'\n        fields: [{title: 'sev', value: '{{ .CommonLabels.severity }}'}]\n",
            &[
                (&[("alertname", "X"), ("severity", "warning"), ("i", "1")], &[], false),
                (&[("alertname", "X"), ("severity", "warning"), ("i", "2")], &[], true),
            ],
        );
        let c = &t.loaded.config.receivers[0].slack[0];
        let p = payload(c, &t.notification());
        assert_eq!(p["channel"], "#c");
        assert_eq!(p["username"], "Alertmanager");
        let a = &p["attachments"][0];
        assert_eq!(a["title"], "[FIRING:1] X (warning)");
        assert_eq!(a["title_link"], "http://am:9093/#/alerts?receiver=r");
        assert_eq!(a["color"], "danger");
        assert_eq!(a["text"], "");
        assert_eq!(
            a["fallback"],
            "[FIRING:1] X (warning) | http://am:9093/#/alerts?receiver=r"
        );
        assert_eq!(a["footer"], "");
        assert_eq!(
            a["mrkdwn_in"],
            serde_json::json!(["fallback", "pretext", "text"])
        );
        assert_eq!(a["fields"][0]["value"], "warning");
        assert_eq!(a["fields"][0]["short"], false);
        assert!(a.get("pretext").is_none());
    }
}
