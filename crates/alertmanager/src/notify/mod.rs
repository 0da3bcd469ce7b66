//! Receiver integrations: one module per peer protocol (Slack incoming webhook, PagerDuty Events
//! v1/v2, Alertmanager webhook v4, SMTP email). Each turns a notification (group key, alerts,
//! template data) into one request; errors say whether a retry can help.

pub mod email;
pub mod pagerduty;
pub mod slack;
pub mod webhook;

use crate::alert::StoredAlert;
use crate::config::{HttpConfig, Receiver};
use crate::template::{Data, Templates};
use gotemplate::Value;

/// One configured integration of a receiver.
#[derive(Clone, Debug)]
pub enum Integration {
    Slack(crate::config::SlackConfig),
    Pagerduty(crate::config::PagerdutyConfig),
    Webhook(crate::config::WebhookConfig),
    Email(crate::config::EmailConfig),
}

impl Integration {
    /// Alertmanager's integration name (label value of `integration` in metrics).
    pub fn name(&self) -> &'static str {
        match self {
            Integration::Slack(_) => "slack",
            Integration::Pagerduty(_) => "pagerduty",
            Integration::Webhook(_) => "webhook",
            Integration::Email(_) => "email",
        }
    }

    pub fn send_resolved(&self) -> bool {
        match self {
            Integration::Slack(c) => c.send_resolved,
            Integration::Pagerduty(c) => c.send_resolved,
            Integration::Webhook(c) => c.send_resolved,
            Integration::Email(c) => c.send_resolved,
        }
    }

    /// Every integration of a receiver, with its index among those of the same kind.
    pub fn all(r: &Receiver) -> Vec<(Integration, usize)> {
        let mut out = Vec::new();
        out.extend(
            r.slack
                .iter()
                .enumerate()
                .map(|(i, c)| (Integration::Slack(c.clone()), i)),
        );
        out.extend(
            r.pagerduty
                .iter()
                .enumerate()
                .map(|(i, c)| (Integration::Pagerduty(c.clone()), i)),
        );
        out.extend(
            r.webhook
                .iter()
                .enumerate()
                .map(|(i, c)| (Integration::Webhook(c.clone()), i)),
        );
        out.extend(
            r.email
                .iter()
                .enumerate()
                .map(|(i, c)| (Integration::Email(c.clone()), i)),
        );
        out
    }

    /// Sends one notification.
    pub async fn notify(&self, n: &Notification<'_>) -> Result<(), NotifyError> {
        match self {
            Integration::Slack(c) => slack::notify(c, n).await,
            Integration::Pagerduty(c) => pagerduty::notify(c, n).await,
            Integration::Webhook(c) => webhook::notify(c, n).await,
            Integration::Email(c) => email::notify(c, n).await,
        }
    }
}

/// What an integration gets to build its request.
pub struct Notification<'a> {
    pub receiver: &'a str,
    pub group_key: &'a str,
    pub group_labels: &'a std::collections::BTreeMap<String, String>,
    /// The alerts to send (resolved ones only when the integration sends resolved).
    pub alerts: &'a [StoredAlert],
    pub data: &'a Data,
    pub value: Value,
    pub templates: &'a Templates,
    pub external_url: &'a str,
    pub now: i64,
}

impl Notification<'_> {
    /// The incident page of each alert (pharos' UI at the external URL).
    pub fn incident_links(&self) -> Vec<String> {
        self.alerts
            .iter()
            .map(|a| crate::alert::incident_url(self.external_url, &a.labels, a.starts_at))
            .collect()
    }

    /// Renders a template field; a run-time failure becomes an error string in the field (and
    /// a log line) instead of dropping the notification.
    pub fn render(&self, text: &str) -> String {
        match self.templates.render(text, &self.value) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(
                    receiver = self.receiver,
                    "notification template failed: {e}"
                );
                format!("<error expanding template: {e}>")
            }
        }
    }
}

/// A failed delivery.
#[derive(Debug, Clone)]
pub struct NotifyError {
    pub message: String,
    /// True when a retry may succeed (network errors, 5xx, 429).
    pub retryable: bool,
}

impl NotifyError {
    pub fn permanent(m: impl Into<String>) -> Self {
        NotifyError {
            message: m.into(),
            retryable: false,
        }
    }
    pub fn retryable(m: impl Into<String>) -> Self {
        NotifyError {
            message: m.into(),
            retryable: true,
        }
    }
}

/// Builds an HTTP client for an `http_config`.
pub fn client(h: &HttpConfig, timeout_ms: i64) -> Result<reqwest::Client, NotifyError> {
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("Alertmanager/pharos-", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(10));
    if timeout_ms > 0 {
        b = b.timeout(std::time::Duration::from_millis(timeout_ms as u64));
    } else {
        b = b.timeout(std::time::Duration::from_secs(30));
    }
    if let Some(t) = &h.tls_config {
        if t.insecure_skip_verify {
            b = b.danger_accept_invalid_certs(true);
        }
    }
    if let Some(p) = &h.proxy_url {
        b = b.proxy(
            reqwest::Proxy::all(p)
                .map_err(|e| NotifyError::permanent(format!("invalid proxy_url: {e}")))?,
        );
    }
    if h.follow_redirects == Some(false) {
        b = b.redirect(reqwest::redirect::Policy::none());
    }
    b.build()
        .map_err(|e| NotifyError::permanent(format!("building HTTP client: {e}")))
}

fn read_file(p: &std::path::Path) -> Result<String, NotifyError> {
    std::fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .map_err(|e| NotifyError::permanent(format!("reading {}: {e}", p.display())))
}

/// Posts JSON with the `http_config`'s credentials; classifies the response like
/// Alertmanager's retrier (2xx ok; 5xx and 429 retryable; other codes permanent).
pub async fn post_json(
    h: &HttpConfig,
    timeout_ms: i64,
    url: &str,
    body: &serde_json::Value,
    integration: &str,
) -> Result<String, NotifyError> {
    let c = client(h, timeout_ms)?;
    let mut req = c.post(url).json(body);
    if let Some(b) = &h.basic_auth {
        let pw = match (&b.password, &b.password_file) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(f)) => Some(read_file(f)?),
            _ => None,
        };
        req = req.basic_auth(&b.username, pw);
    }
    if let Some(a) = &h.authorization {
        let cred = match (&a.credentials, &a.credentials_file) {
            (Some(c), _) => c.clone(),
            (None, Some(f)) => read_file(f)?,
            _ => String::new(),
        };
        req = req.header(
            "Authorization",
            format!("{} {cred}", a.auth_type.as_deref().unwrap_or("Bearer")),
        );
    } else if let Some(t) = &h.bearer_token {
        req = req.bearer_auth(t);
    } else if let Some(f) = &h.bearer_token_file {
        req = req.bearer_auth(read_file(f)?);
    }
    let resp = req.send().await.map_err(|e| {
        NotifyError::retryable(format!("{integration}: request to {}: {e}", redact(url)))
    })?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if status.is_success() {
        return Ok(text);
    }
    let msg = format!(
        "{integration}: unexpected status code {} from {}: {}",
        status.as_u16(),
        redact(url),
        text.chars().take(512).collect::<String>()
    );
    if status.is_server_error() || status.as_u16() == 429 {
        Err(NotifyError::retryable(msg))
    } else {
        Err(NotifyError::permanent(msg))
    }
}

/// Hides the secret path of webhook URLs (Slack's token) in messages.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!("{}://{}/<redacted>", u.scheme(), u.host_str().unwrap_or("")),
        Err(_) => "<redacted>".into(),
    }
}

/// Alertmanager's `truncate`: at most `n` characters, ending in `…` when cut.
pub fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A test alert: labels, annotations, resolved.
#[cfg(test)]
pub(crate) type TestAlert<'a> = (&'a [(&'a str, &'a str)], &'a [(&'a str, &'a str)], bool);

/// Owned pieces of a notification, for tests of the payload builders.
#[cfg(test)]
pub(crate) struct TestNotification {
    pub loaded: crate::dispatch::Loaded,
    pub alerts: Vec<StoredAlert>,
    pub group_labels: std::collections::BTreeMap<String, String>,
    pub data: Data,
}

#[cfg(test)]
impl TestNotification {
    /// `config` is an alertmanager.yml; alerts are (labels, annotations, resolved).
    pub fn new(config: &str, alerts: &[TestAlert<'_>]) -> Self {
        let cfg = crate::config::parse(std::path::Path::new("t.yml"), config).unwrap();
        let loaded = crate::dispatch::Loaded::new(cfg).unwrap();
        let map = |p: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
            p.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let alerts: Vec<StoredAlert> = alerts
            .iter()
            .map(|(l, a, resolved)| {
                let labels = map(l);
                StoredAlert {
                    fingerprint: crate::alert::fingerprint(&labels),
                    labels,
                    annotations: map(a),
                    starts_at: 1_000,
                    ends_at: if *resolved { 1_500 } else { i64::MAX },
                    generator_url: "http://prom/graph".into(),
                    updated_at: 1_000,
                    timeout: false,
                }
            })
            .collect();
        let group_labels: std::collections::BTreeMap<String, String> = alerts[0]
            .labels
            .iter()
            .filter(|(k, _)| k.as_str() == "alertname")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let data = Data::new("r", &group_labels, &alerts, "http://am:9093", 2_000);
        TestNotification {
            loaded,
            alerts,
            group_labels,
            data,
        }
    }

    pub fn notification(&self) -> Notification<'_> {
        Notification {
            receiver: "r",
            group_key: "{}:{alertname=\"X\"}",
            group_labels: &self.group_labels,
            alerts: &self.alerts,
            data: &self.data,
            value: self.data.value(),
            templates: &self.loaded.templates,
            external_url: "http://am:9093",
            now: 2_000,
        }
    }
}
