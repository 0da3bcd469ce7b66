//! PagerDuty notifications: Events API v1 (`service_key`: `event_type` trigger/resolve,
//! `incident_key`) and v2 (`routing_key`: `event_action`, `dedup_key`, `payload` with summary,
//! source, severity, custom_details), both keyed by the SHA-256 of the group key as Alertmanager
//! does, with its 1024-character description limit; pharos adds a link to the incident page of the
//! group's first alert (`links` in v2, `details.incident_url` in v1).

use super::{post_json, truncate, Notification, NotifyError};
use crate::config::PagerdutyConfig;
use serde_json::{json, Map, Value};

pub fn payload(c: &PagerdutyConfig, n: &Notification<'_>) -> Value {
    let key = crate::sha256::hex(n.group_key.as_bytes());
    let resolved = n.data.status == "resolved";
    let mut details: Map<String, Value> = c
        .details
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(n.render(v))))
        .collect();
    let description = truncate(&n.render(&c.description), 1024);
    let client = n.render(&c.client);
    let client_url = n.render(&c.client_url);
    if c.is_v1() {
        let mut m = Map::new();
        m.insert("service_key".into(), json!(c.service_key));
        m.insert("incident_key".into(), json!(key));
        m.insert(
            "event_type".into(),
            json!(if resolved { "resolve" } else { "trigger" }),
        );
        if !description.is_empty() {
            m.insert("description".into(), json!(description));
        }
        m.insert("event_action".into(), json!(""));
        m.insert("payload".into(), Value::Null);
        if !client.is_empty() {
            m.insert("client".into(), json!(client));
        }
        if !client_url.is_empty() {
            m.insert("client_url".into(), json!(client_url));
        }
        if let Some(link) = n.incident_links().into_iter().next() {
            details.insert("incident_url".into(), json!(link));
        }
        if !resolved && !details.is_empty() {
            m.insert("details".into(), Value::Object(details));
        }
        return Value::Object(m);
    }
    let mut m = Map::new();
    m.insert("routing_key".into(), json!(c.routing_key));
    m.insert("dedup_key".into(), json!(key));
    m.insert(
        "event_action".into(),
        json!(if resolved { "resolve" } else { "trigger" }),
    );
    let source = {
        let s = n.render(&c.source);
        if s.is_empty() {
            client.clone()
        } else {
            s
        }
    };
    let mut p = Map::new();
    p.insert("summary".into(), json!(description));
    p.insert("source".into(), json!(source));
    p.insert("severity".into(), json!(n.render(&c.severity)));
    if !details.is_empty() {
        p.insert("custom_details".into(), Value::Object(details));
    }
    for (k, v) in [
        ("component", &c.component),
        ("group", &c.group),
        ("class", &c.class),
    ] {
        let r = n.render(v);
        if !r.is_empty() {
            p.insert(k.into(), json!(r));
        }
    }
    m.insert("payload".into(), Value::Object(p));
    if !client.is_empty() {
        m.insert("client".into(), json!(client));
    }
    if !client_url.is_empty() {
        m.insert("client_url".into(), json!(client_url));
    }
    let images: Vec<Value> = c
        .images
        .iter()
        .map(|i| json!({"src": n.render(&i.src), "alt": n.render(&i.alt), "href": n.render(&i.href)}))
        .collect();
    if !images.is_empty() {
        m.insert("images".into(), Value::Array(images));
    }
    let mut links: Vec<Value> = c
        .links
        .iter()
        .map(|l| json!({"href": n.render(&l.href), "text": n.render(&l.text)}))
        .collect();
    // pharos' addition: the incident page of the group's first alert.
    if let Some(link) = n.incident_links().into_iter().next() {
        links.push(json!({"href": link, "text": "Incident context"}));
    }
    if !links.is_empty() {
        m.insert("links".into(), Value::Array(links));
    }
    Value::Object(m)
}

pub async fn notify(c: &PagerdutyConfig, n: &Notification<'_>) -> Result<(), NotifyError> {
    let body = payload(c, n);
    match post_json(&c.http_config, 0, &c.url, &body, "pagerduty").await {
        Ok(_) => Ok(()),
        // v1 also retries 403 (rate limiting), as Alertmanager does.
        Err(e) if c.is_v1() && e.message.contains("status code 403") => {
            Err(NotifyError::retryable(e.message))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::TestNotification;

    const FIRING: &[crate::notify::TestAlert<'static>] = &[(
        &[("alertname", "X"), ("severity", "critical")],
        &[("summary", "s")],
        false,
    )];

    #[test]
    fn v1_payload() {
        let t = TestNotification::new(
            "route:\n  receiver: r\nreceivers:\n  - name: r\n    pagerduty_configs:\n      - service_key: sk\n",
            FIRING,
        );
        let c = &t.loaded.config.receivers[0].pagerduty[0];
        let p = payload(c, &t.notification());
        assert_eq!(p["service_key"], "sk");
        assert_eq!(p["event_type"], "trigger");
        assert_eq!(p["event_action"], "");
        assert!(p["payload"].is_null());
        assert_eq!(
            p["incident_key"],
            crate::sha256::hex(b"{}:{alertname=\"X\"}")
        );
        assert_eq!(p["description"], "[FIRING:1] X (critical)");
        assert_eq!(p["client"], "Alertmanager");
        assert_eq!(p["client_url"], "http://am:9093/#/alerts?receiver=r");
        assert_eq!(p["details"]["num_firing"], "1");
        assert!(p["details"]["firing"]
            .as_str()
            .unwrap()
            .contains(" - severity = critical\n"));
        assert_eq!(c.url, crate::config::PAGERDUTY_V1_URL);
    }

    #[test]
    fn v2_payload_and_resolve() {
        let t = TestNotification::new(
            "route:\n  receiver: r\nreceivers:\n  - name: r\n    pagerduty_configs:\n      - routing_key: rk\n        severity: '{{ .CommonLabels.severity }}'\n        component: db\n        links: [{href: 'http://x', text: 'runbook'}]\n",
            &[(&[("alertname", "X"), ("severity", "critical")], &[], true)],
        );
        let c = &t.loaded.config.receivers[0].pagerduty[0];
        assert_eq!(c.url, crate::config::PAGERDUTY_V2_URL);
        let p = payload(c, &t.notification());
        assert_eq!(p["routing_key"], "rk");
        assert_eq!(p["event_action"], "resolve");
        assert_eq!(p["dedup_key"], crate::sha256::hex(b"{}:{alertname=\"X\"}"));
        assert_eq!(p["payload"]["summary"], "[RESOLVED] X (critical)");
        assert_eq!(p["payload"]["severity"], "critical");
        assert_eq!(p["payload"]["source"], "Alertmanager");
        assert_eq!(p["payload"]["component"], "db");
        assert_eq!(p["payload"]["custom_details"]["num_resolved"], "1");
        assert_eq!(p["links"][0]["text"], "runbook");
    }

    #[test]
    fn long_descriptions_are_truncated() {
        let t = TestNotification::new(
            "route:\n  receiver: r\nreceivers:\n  - name: r\n    pagerduty_configs:\n      - service_key: sk\n        description: '{{ range $i, $e := .Alerts }}{{ printf \"%02000d\" 1 }}{{ end }}'\n",
            FIRING,
        );
        let c = &t.loaded.config.receivers[0].pagerduty[0];
        let d = payload(c, &t.notification())["description"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(d.chars().count(), 1024);
        assert!(d.ends_with('…'));
    }
}
