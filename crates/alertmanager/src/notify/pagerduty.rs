//! PagerDuty notifications: Events API v1 (`service_key`: `event_type` trigger/resolve,
//! `incident_key`) and v2 (`routing_key`: `event_action`, `dedup_key`, `payload` with summary,
//! source, severity, custom_details), both keyed by the SHA-256 of the group key as Alertmanager
//! does, with its 1024-character description limit.

use super::{post_json, truncate, Notification, NotifyError};
use crate::config::PagerdutyConfig;
use serde_json::{json, Map, Value};

pub fn payload(c: &PagerdutyConfig, n: &Notification<'_>) -> Value {
    let key = crate::sha256::hex(n.group_key.as_bytes());
    let resolved = n.data.status == "resolved";
    let details: Map<String, Value> = c
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
    let links: Vec<Value> = c
        .links
        .iter()
        .map(|l| json!({"href": n.render(&l.href), "text": n.render(&l.text)}))
        .collect();
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
