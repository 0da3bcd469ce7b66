//! `alertmanager.yml`: the format of Alertmanager's configuration file (global, route tree,
//! inhibit_rules, time_intervals, templates, receivers) with Alertmanager's defaults, `${VAR}`
//! expansion from the environment and errors that name file, line and column. Integrations
//! other than Slack, PagerDuty, webhook and email are accepted with a warning and not delivered.

use crate::matchers::parse_matchers;
use crate::timeinterval::TimeInterval;
use config::ConfigError;
use model::time::PromDuration;
use model::{LabelMatcher, MatchOp};
use serde::Deserialize;
use serde_yaml_ng::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Default PagerDuty Events API v2 endpoint.
pub const PAGERDUTY_V2_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// PagerDuty Events API v1 endpoint, used for `service_key` configs without an own `url`.
pub const PAGERDUTY_V1_URL: &str =
    "https://events.pagerduty.com/generic/2010-04-15/create_event.json";

/// HTTP client settings (`http_config`) of the global section and of receivers.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default)]
    pub authorization: Option<Authorization>,
    #[serde(default)]
    pub bearer_token: Option<String>,
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    #[serde(default)]
    pub tls_config: Option<TlsConfig>,
    #[serde(default)]
    pub proxy_url: Option<String>,
    #[serde(default)]
    pub no_proxy: Option<String>,
    #[serde(default)]
    pub proxy_from_environment: Option<bool>,
    #[serde(default)]
    pub proxy_connect_header: Option<Value>,
    #[serde(default)]
    pub follow_redirects: Option<bool>,
    #[serde(default)]
    pub enable_http2: Option<bool>,
    #[serde(default)]
    pub oauth2: Option<Value>,
}

/// The HTTP client settings Alertmanager shares with Prometheus (Prometheus' common config).
pub use config::prometheus::{Authorization, BasicAuth, TlsConfig};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GlobalRaw {
    resolve_timeout: Option<PromDuration>,
    http_config: Option<HttpConfig>,
    smtp_from: Option<String>,
    smtp_hello: Option<String>,
    smtp_smarthost: Option<String>,
    smtp_auth_username: Option<String>,
    smtp_auth_password: Option<String>,
    smtp_auth_password_file: Option<PathBuf>,
    smtp_auth_secret: Option<String>,
    smtp_auth_identity: Option<String>,
    smtp_require_tls: Option<bool>,
    slack_api_url: Option<String>,
    slack_api_url_file: Option<PathBuf>,
    pagerduty_url: Option<String>,
    opsgenie_api_url: Option<Value>,
    opsgenie_api_key: Option<Value>,
    opsgenie_api_key_file: Option<Value>,
    wechat_api_url: Option<Value>,
    wechat_api_secret: Option<Value>,
    wechat_api_corp_id: Option<Value>,
    victorops_api_url: Option<Value>,
    victorops_api_key: Option<Value>,
    victorops_api_key_file: Option<Value>,
    telegram_api_url: Option<Value>,
    webex_api_url: Option<Value>,
    jira_api_url: Option<Value>,
    rocketchat_api_url: Option<Value>,
    rocketchat_token: Option<Value>,
    rocketchat_token_id: Option<Value>,
}

/// The `global` section after defaults.
#[derive(Clone, Debug)]
pub struct GlobalConfig {
    /// Alerts without `endsAt` resolve this long after their last update (default 5m).
    pub resolve_timeout_ms: i64,
    pub http_config: HttpConfig,
    pub smtp_from: String,
    pub smtp_hello: String,
    pub smtp_smarthost: String,
    pub smtp_auth_username: String,
    pub smtp_auth_password: String,
    pub smtp_auth_identity: String,
    pub smtp_require_tls: bool,
    pub slack_api_url: Option<String>,
    pub pagerduty_url: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteRaw {
    receiver: Option<String>,
    group_by: Option<Vec<String>>,
    #[serde(default, rename = "continue")]
    continue_: bool,
    #[serde(rename = "match")]
    match_: Option<BTreeMap<String, String>>,
    match_re: Option<BTreeMap<String, String>>,
    matchers: Option<Vec<String>>,
    group_wait: Option<PromDuration>,
    group_interval: Option<PromDuration>,
    repeat_interval: Option<PromDuration>,
    #[serde(default)]
    mute_time_intervals: Vec<String>,
    #[serde(default)]
    active_time_intervals: Vec<String>,
    #[serde(default)]
    routes: Vec<RouteRaw>,
}

/// Grouping of a route: by listed labels, or by all labels (`...`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupBy {
    Labels(Vec<String>),
    All,
}

/// One node of the routing tree, with inherited values already filled in.
#[derive(Clone, Debug)]
pub struct Route {
    /// Alertmanager's route key: the parent's key, `/`, then this route's matchers.
    pub key: String,
    pub receiver: String,
    pub group_by: GroupBy,
    pub matchers: Vec<LabelMatcher>,
    pub continue_: bool,
    pub group_wait_ms: i64,
    pub group_interval_ms: i64,
    pub repeat_interval_ms: i64,
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
    pub routes: Vec<Route>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InhibitRaw {
    source_match: Option<BTreeMap<String, String>>,
    source_match_re: Option<BTreeMap<String, String>>,
    source_matchers: Option<Vec<String>>,
    target_match: Option<BTreeMap<String, String>>,
    target_match_re: Option<BTreeMap<String, String>>,
    target_matchers: Option<Vec<String>>,
    #[serde(default)]
    equal: Vec<String>,
}

/// An inhibition rule: alerts matching `target` are muted while an alert matching `source`
/// with the same values of the `equal` labels fires.
#[derive(Clone, Debug)]
pub struct InhibitRule {
    pub source: Vec<LabelMatcher>,
    pub target: Vec<LabelMatcher>,
    pub equal: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeIntervalsRaw {
    name: String,
    #[serde(default)]
    time_intervals: Vec<crate::timeinterval::TimeIntervalRaw>,
}

/// A Slack field.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SlackField {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlackRaw {
    send_resolved: Option<bool>,
    http_config: Option<HttpConfig>,
    api_url: Option<String>,
    api_url_file: Option<PathBuf>,
    channel: Option<String>,
    username: Option<String>,
    color: Option<String>,
    title: Option<String>,
    title_link: Option<String>,
    pretext: Option<String>,
    text: Option<String>,
    #[serde(default)]
    fields: Vec<SlackField>,
    short_fields: Option<bool>,
    footer: Option<String>,
    fallback: Option<String>,
    callback_id: Option<String>,
    icon_emoji: Option<String>,
    icon_url: Option<String>,
    image_url: Option<String>,
    thumb_url: Option<String>,
    link_names: Option<bool>,
    mrkdwn_in: Option<Vec<String>>,
    actions: Option<Value>,
    message_text: Option<String>,
    update_message: Option<bool>,
    app_token: Option<Value>,
    app_url: Option<Value>,
}

/// A Slack incoming-webhook receiver; string fields are templates.
#[derive(Clone, Debug)]
pub struct SlackConfig {
    pub send_resolved: bool,
    pub http_config: HttpConfig,
    pub api_url: String,
    pub channel: String,
    pub username: String,
    pub color: String,
    pub title: String,
    pub title_link: String,
    pub pretext: String,
    pub text: String,
    pub fields: Vec<SlackField>,
    pub short_fields: bool,
    pub footer: String,
    pub fallback: String,
    pub callback_id: String,
    pub icon_emoji: String,
    pub icon_url: String,
    pub image_url: String,
    pub thumb_url: String,
    pub link_names: bool,
    pub mrkdwn_in: Vec<String>,
    pub actions: Option<Value>,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PagerdutyLink {
    #[serde(default)]
    pub href: String,
    #[serde(default)]
    pub text: String,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PagerdutyImage {
    #[serde(default)]
    pub src: String,
    #[serde(default)]
    pub alt: String,
    #[serde(default)]
    pub href: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PagerdutyRaw {
    send_resolved: Option<bool>,
    http_config: Option<HttpConfig>,
    routing_key: Option<String>,
    routing_key_file: Option<PathBuf>,
    service_key: Option<String>,
    service_key_file: Option<PathBuf>,
    url: Option<String>,
    client: Option<String>,
    client_url: Option<String>,
    description: Option<String>,
    details: Option<BTreeMap<String, String>>,
    #[serde(default)]
    images: Vec<PagerdutyImage>,
    #[serde(default)]
    links: Vec<PagerdutyLink>,
    source: Option<String>,
    severity: Option<String>,
    class: Option<String>,
    component: Option<String>,
    group: Option<String>,
    timeout: Option<PromDuration>,
}

/// A PagerDuty receiver: Events API v1 with `service_key`, v2 with `routing_key`.
#[derive(Clone, Debug)]
pub struct PagerdutyConfig {
    pub send_resolved: bool,
    pub http_config: HttpConfig,
    pub routing_key: String,
    pub service_key: String,
    /// Where to post. For v1 this is the v1 endpoint unless the receiver sets its own `url`.
    pub url: String,
    pub client: String,
    pub client_url: String,
    pub description: String,
    pub details: BTreeMap<String, String>,
    pub images: Vec<PagerdutyImage>,
    pub links: Vec<PagerdutyLink>,
    pub source: String,
    pub severity: String,
    pub class: String,
    pub component: String,
    pub group: String,
}

impl PagerdutyConfig {
    /// True for Events API v1 (`service_key`).
    pub fn is_v1(&self) -> bool {
        !self.service_key.is_empty()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookRaw {
    send_resolved: Option<bool>,
    http_config: Option<HttpConfig>,
    url: Option<String>,
    url_file: Option<PathBuf>,
    #[serde(default)]
    max_alerts: u64,
    timeout: Option<PromDuration>,
}

/// A webhook receiver (Alertmanager's webhook JSON, version 4).
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    pub send_resolved: bool,
    pub http_config: HttpConfig,
    pub url: String,
    pub max_alerts: u64,
    pub timeout_ms: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailRaw {
    send_resolved: Option<bool>,
    to: Option<String>,
    from: Option<String>,
    hello: Option<String>,
    smarthost: Option<String>,
    auth_username: Option<String>,
    auth_password: Option<String>,
    auth_password_file: Option<PathBuf>,
    auth_secret: Option<String>,
    auth_identity: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    html: Option<String>,
    text: Option<String>,
    require_tls: Option<bool>,
    tls_config: Option<TlsConfig>,
    threading: Option<Value>,
}

/// An email receiver (SMTP, plain or STARTTLS).
#[derive(Clone, Debug)]
pub struct EmailConfig {
    pub send_resolved: bool,
    pub to: String,
    pub from: String,
    pub hello: String,
    pub smarthost: String,
    pub auth_username: String,
    pub auth_password: String,
    pub auth_identity: String,
    /// Header templates; always contains Subject, To and From.
    pub headers: BTreeMap<String, String>,
    pub html: String,
    pub text: String,
    pub require_tls: bool,
    pub tls_config: TlsConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceiverRaw {
    name: String,
    #[serde(default)]
    slack_configs: Vec<SlackRaw>,
    #[serde(default)]
    pagerduty_configs: Vec<PagerdutyRaw>,
    #[serde(default)]
    webhook_configs: Vec<WebhookRaw>,
    #[serde(default)]
    email_configs: Vec<EmailRaw>,
    opsgenie_configs: Option<Value>,
    wechat_configs: Option<Value>,
    pushover_configs: Option<Value>,
    victorops_configs: Option<Value>,
    sns_configs: Option<Value>,
    telegram_configs: Option<Value>,
    webex_configs: Option<Value>,
    discord_configs: Option<Value>,
    msteams_configs: Option<Value>,
    msteamsv2_configs: Option<Value>,
    jira_configs: Option<Value>,
    rocketchat_configs: Option<Value>,
    incidentio_configs: Option<Value>,
}

/// A named receiver and its integrations.
#[derive(Clone, Debug, Default)]
pub struct Receiver {
    pub name: String,
    pub slack: Vec<SlackConfig>,
    pub pagerduty: Vec<PagerdutyConfig>,
    pub webhook: Vec<WebhookConfig>,
    pub email: Vec<EmailConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRaw {
    #[serde(default)]
    global: GlobalRaw,
    route: Option<RouteRaw>,
    #[serde(default)]
    inhibit_rules: Vec<InhibitRaw>,
    #[serde(default)]
    receivers: Vec<ReceiverRaw>,
    #[serde(default)]
    templates: Vec<String>,
    #[serde(default)]
    time_intervals: Vec<TimeIntervalsRaw>,
    #[serde(default)]
    mute_time_intervals: Vec<TimeIntervalsRaw>,
    tracing: Option<Value>,
}

/// A loaded, validated alertmanager.yml.
#[derive(Clone, Debug)]
pub struct AlertmanagerConfig {
    pub path: PathBuf,
    /// The file as written (before `${VAR}` expansion, so secrets from the environment are not
    /// echoed by `/api/v2/status`).
    pub original: String,
    pub global: GlobalConfig,
    pub route: Route,
    pub inhibit_rules: Vec<InhibitRule>,
    pub receivers: Vec<Receiver>,
    /// Template files matched by the `templates` globs, in order.
    pub template_files: Vec<PathBuf>,
    pub time_intervals: HashMap<String, Vec<TimeInterval>>,
    pub warnings: Vec<String>,
}

impl AlertmanagerConfig {
    pub fn receiver(&self, name: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.name == name)
    }
}

fn err(file: &Path, text: &str, needle: &str, message: impl Into<String>) -> ConfigError {
    let (line, column) = locate(text, needle);
    ConfigError {
        file: file.to_path_buf(),
        line,
        column,
        message: message.into(),
    }
}

/// 1-based position of the first occurrence of `needle` in `text` (0,0 when absent).
fn locate(text: &str, needle: &str) -> (usize, usize) {
    if needle.is_empty() {
        return (0, 0);
    }
    for (i, line) in text.lines().enumerate() {
        if let Some(col) = line.find(needle) {
            return (i + 1, col + 1);
        }
    }
    (0, 0)
}

fn refine_location(text: &str, msg: &str, line: usize, column: usize) -> (usize, usize) {
    let Some(start) = msg.find('"') else {
        return (line, column);
    };
    let Some(len) = msg[start + 1..].find('"') else {
        return (line, column);
    };
    let value = &msg[start + 1..start + 1 + len];
    if value.is_empty() || line == 0 {
        return (line, column);
    }
    for (i, l) in text.lines().enumerate().skip(line - 1) {
        if let Some(c) = l.find(value) {
            return (i + 1, c + 1);
        }
    }
    (line, column)
}

/// Reads, expands and parses an alertmanager.yml.
pub fn load(path: &Path) -> Result<AlertmanagerConfig, ConfigError> {
    let original = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        message: format!("cannot read: {e}"),
    })?;
    parse(path, &original)
}

/// Parses alertmanager.yml text read from `path` (`${VAR}` expanded from the environment).
pub fn parse(path: &Path, original: &str) -> Result<AlertmanagerConfig, ConfigError> {
    let text = config::env::expand(path, original)?;
    parse_expanded(path, original, &text)
}

fn read_secret_file(file: &Path, text: &str, key: &str, p: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .map_err(|e| {
            err(
                file,
                text,
                key,
                format!("{key}: cannot read {}: {e}", p.display()),
            )
        })
}

fn map_matchers(
    file: &Path,
    text: &str,
    key: &str,
    eq: &Option<BTreeMap<String, String>>,
    re: &Option<BTreeMap<String, String>>,
    list: &Option<Vec<String>>,
) -> Result<Vec<LabelMatcher>, ConfigError> {
    let mut out = Vec::new();
    for (k, v) in eq.iter().flatten() {
        check_label_name(file, text, k)?;
        out.push(LabelMatcher::equal(k.clone(), v.clone()));
    }
    for (k, v) in re.iter().flatten() {
        check_label_name(file, text, k)?;
        out.push(
            LabelMatcher::new(k.clone(), MatchOp::RegexMatch, v.clone())
                .map_err(|e| err(file, text, v, format!("{key}: {e}")))?,
        );
    }
    for m in list.iter().flatten() {
        let parsed = parse_matchers(m).map_err(|e| err(file, text, m, format!("{key}: {e}")))?;
        out.extend(parsed);
    }
    // Alertmanager sorts matchers (by name, then op, then value) for stable route keys.
    out.sort_by(|a, b| {
        (a.name.as_str(), a.op.to_string(), a.value.as_str()).cmp(&(
            b.name.as_str(),
            b.op.to_string(),
            b.value.as_str(),
        ))
    });
    Ok(out)
}

fn check_label_name(file: &Path, text: &str, name: &str) -> Result<(), ConfigError> {
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(err(
            file,
            text,
            name,
            format!("{name:?} is not a valid label name"),
        ))
    }
}

struct RouteDefaults<'a> {
    receiver: &'a str,
    group_by: &'a GroupBy,
    group_wait_ms: i64,
    group_interval_ms: i64,
    repeat_interval_ms: i64,
    key: &'a str,
}

fn build_route(
    file: &Path,
    text: &str,
    raw: &RouteRaw,
    parent: Option<&RouteDefaults<'_>>,
    known_intervals: &HashMap<String, Vec<TimeInterval>>,
) -> Result<Route, ConfigError> {
    let matchers = map_matchers(
        file,
        text,
        "route",
        &raw.match_,
        &raw.match_re,
        &raw.matchers,
    )?;
    let receiver = match (&raw.receiver, parent) {
        (Some(r), _) => r.clone(),
        (None, Some(p)) => p.receiver.to_string(),
        (None, None) => {
            return Err(err(
                file,
                text,
                "route:",
                "root route must specify a default receiver",
            ))
        }
    };
    let group_by = match &raw.group_by {
        Some(g) => {
            if g.iter().any(|l| l == "...") {
                if g.len() > 1 {
                    return Err(err(
                        file,
                        text,
                        "group_by",
                        "cannot have wildcard group_by (`...`) and other labels at the same time",
                    ));
                }
                GroupBy::All
            } else {
                let mut seen = std::collections::HashSet::new();
                for l in g {
                    check_label_name(file, text, l)?;
                    if !seen.insert(l) {
                        return Err(err(
                            file,
                            text,
                            l,
                            format!("duplicated label {l:?} in group_by"),
                        ));
                    }
                }
                GroupBy::Labels(g.clone())
            }
        }
        None => parent
            .map(|p| p.group_by.clone())
            .unwrap_or(GroupBy::Labels(Vec::new())),
    };
    let pick = |v: Option<PromDuration>, inherited: Option<i64>, default: i64| {
        v.map(|d| d.0).or(inherited).unwrap_or(default)
    };
    let group_wait_ms = pick(raw.group_wait, parent.map(|p| p.group_wait_ms), 30_000);
    let group_interval_ms = pick(
        raw.group_interval,
        parent.map(|p| p.group_interval_ms),
        300_000,
    );
    let repeat_interval_ms = pick(
        raw.repeat_interval,
        parent.map(|p| p.repeat_interval_ms),
        4 * 3_600_000,
    );
    if group_interval_ms == 0 {
        return Err(err(
            file,
            text,
            "group_interval",
            "group_interval cannot be zero",
        ));
    }
    if repeat_interval_ms == 0 {
        return Err(err(
            file,
            text,
            "repeat_interval",
            "repeat_interval cannot be zero",
        ));
    }
    for name in raw
        .mute_time_intervals
        .iter()
        .chain(&raw.active_time_intervals)
    {
        if !known_intervals.contains_key(name) {
            return Err(err(
                file,
                text,
                name,
                format!("undefined time interval {name:?} used in route"),
            ));
        }
    }
    if parent.is_none() {
        if !matchers.is_empty() {
            return Err(err(
                file,
                text,
                "route:",
                "root route must not have any matchers",
            ));
        }
        if raw.continue_ {
            return Err(err(
                file,
                text,
                "continue",
                "cannot have continue in root route",
            ));
        }
        if !raw.mute_time_intervals.is_empty() || !raw.active_time_intervals.is_empty() {
            return Err(err(
                file,
                text,
                "time_intervals",
                "root route must not have any mute or active time intervals",
            ));
        }
    }
    let own = format!(
        "{{{}}}",
        matchers
            .iter()
            .map(crate::matchers::format_matcher)
            .collect::<Vec<_>>()
            .join(",")
    );
    let key = match parent {
        Some(p) => format!("{}/{}", p.key, own),
        None => own,
    };
    let defaults = RouteDefaults {
        receiver: &receiver,
        group_by: &group_by,
        group_wait_ms,
        group_interval_ms,
        repeat_interval_ms,
        key: &key,
    };
    let mut routes = Vec::with_capacity(raw.routes.len());
    for child in &raw.routes {
        routes.push(build_route(
            file,
            text,
            child,
            Some(&defaults),
            known_intervals,
        )?);
    }
    Ok(Route {
        key,
        receiver,
        group_by,
        matchers,
        continue_: raw.continue_,
        group_wait_ms,
        group_interval_ms,
        repeat_interval_ms,
        mute_time_intervals: raw.mute_time_intervals.clone(),
        active_time_intervals: raw.active_time_intervals.clone(),
        routes,
    })
}

fn route_receivers<'a>(r: &'a Route, out: &mut Vec<&'a str>) {
    out.push(&r.receiver);
    for c in &r.routes {
        route_receivers(c, out);
    }
}

fn parse_expanded(
    path: &Path,
    original: &str,
    text: &str,
) -> Result<AlertmanagerConfig, ConfigError> {
    let raw: FileRaw = if text.trim().is_empty() {
        FileRaw::default()
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            let msg = e.to_string();
            let msg = match msg.find(" at line ") {
                Some(p) => msg[..p].to_string(),
                None => msg,
            };
            // Errors of custom parsers (durations, ...) point at the enclosing mapping; move
            // to the offending value when the message quotes it.
            let (line, column) = refine_location(text, &msg, line, column);
            ConfigError {
                file: path.to_path_buf(),
                line,
                column,
                message: msg,
            }
        })?
    };
    let mut warnings = Vec::new();
    let g = &raw.global;
    for (name, present) in [
        ("opsgenie_api_url", g.opsgenie_api_url.is_some()),
        ("opsgenie_api_key", g.opsgenie_api_key.is_some()),
        ("opsgenie_api_key_file", g.opsgenie_api_key_file.is_some()),
        ("wechat_api_url", g.wechat_api_url.is_some()),
        ("wechat_api_secret", g.wechat_api_secret.is_some()),
        ("wechat_api_corp_id", g.wechat_api_corp_id.is_some()),
        ("victorops_api_url", g.victorops_api_url.is_some()),
        ("victorops_api_key", g.victorops_api_key.is_some()),
        ("victorops_api_key_file", g.victorops_api_key_file.is_some()),
        ("telegram_api_url", g.telegram_api_url.is_some()),
        ("webex_api_url", g.webex_api_url.is_some()),
        ("jira_api_url", g.jira_api_url.is_some()),
        ("rocketchat_api_url", g.rocketchat_api_url.is_some()),
        ("rocketchat_token", g.rocketchat_token.is_some()),
        ("rocketchat_token_id", g.rocketchat_token_id.is_some()),
    ] {
        if present {
            warnings.push(format!(
                "{}: global.{name} is accepted but that integration is not supported by pharos",
                path.display()
            ));
        }
    }
    let slack_api_url = match (&g.slack_api_url, &g.slack_api_url_file) {
        (Some(_), Some(_)) => {
            return Err(err(
                path,
                text,
                "slack_api_url_file",
                "at most one of slack_api_url & slack_api_url_file must be configured",
            ))
        }
        (Some(u), None) => Some(check_url(path, text, "slack_api_url", u)?),
        (None, Some(f)) => Some(read_secret_file(path, text, "slack_api_url_file", f)?),
        (None, None) => None,
    };
    let smtp_auth_password = match (&g.smtp_auth_password, &g.smtp_auth_password_file) {
        (Some(p), _) => p.clone(),
        (None, Some(f)) => read_secret_file(path, text, "smtp_auth_password_file", f)?,
        (None, None) => String::new(),
    };
    let global = GlobalConfig {
        resolve_timeout_ms: g.resolve_timeout.map(|d| d.0).unwrap_or(300_000),
        http_config: g.http_config.clone().unwrap_or_default(),
        smtp_from: g.smtp_from.clone().unwrap_or_default(),
        smtp_hello: g.smtp_hello.clone().unwrap_or_else(|| "localhost".into()),
        smtp_smarthost: g.smtp_smarthost.clone().unwrap_or_default(),
        smtp_auth_username: g.smtp_auth_username.clone().unwrap_or_default(),
        smtp_auth_password,
        smtp_auth_identity: g.smtp_auth_identity.clone().unwrap_or_default(),
        smtp_require_tls: g.smtp_require_tls.unwrap_or(true),
        slack_api_url,
        pagerduty_url: match &g.pagerduty_url {
            Some(u) => check_url(path, text, "pagerduty_url", u)?,
            None => PAGERDUTY_V2_URL.to_string(),
        },
    };
    let _ = (&g.smtp_auth_secret, &raw.tracing);

    // Time intervals.
    let mut time_intervals = HashMap::new();
    for ti in raw.time_intervals.iter().chain(&raw.mute_time_intervals) {
        if time_intervals.contains_key(&ti.name) {
            return Err(err(
                path,
                text,
                &ti.name,
                format!("time interval {:?} is not unique", ti.name),
            ));
        }
        let mut list = Vec::new();
        for r in &ti.time_intervals {
            list.push(TimeInterval::from_raw(r).map_err(|m| {
                err(
                    path,
                    text,
                    &ti.name,
                    format!("time interval {:?}: {m}", ti.name),
                )
            })?);
        }
        time_intervals.insert(ti.name.clone(), list);
    }

    // Receivers.
    let mut receivers = Vec::new();
    let mut names = std::collections::HashSet::new();
    for r in &raw.receivers {
        if r.name.is_empty() {
            return Err(err(path, text, "receivers", "missing name in receiver"));
        }
        if !names.insert(r.name.clone()) {
            return Err(err(
                path,
                text,
                &format!("name: {}", r.name),
                format!("notification config name {:?} is not unique", r.name),
            ));
        }
        for (kind, present) in [
            ("opsgenie_configs", r.opsgenie_configs.is_some()),
            ("wechat_configs", r.wechat_configs.is_some()),
            ("pushover_configs", r.pushover_configs.is_some()),
            ("victorops_configs", r.victorops_configs.is_some()),
            ("sns_configs", r.sns_configs.is_some()),
            ("telegram_configs", r.telegram_configs.is_some()),
            ("webex_configs", r.webex_configs.is_some()),
            ("discord_configs", r.discord_configs.is_some()),
            ("msteams_configs", r.msteams_configs.is_some()),
            ("msteamsv2_configs", r.msteamsv2_configs.is_some()),
            ("jira_configs", r.jira_configs.is_some()),
            ("rocketchat_configs", r.rocketchat_configs.is_some()),
            ("incidentio_configs", r.incidentio_configs.is_some()),
        ] {
            if present {
                warnings.push(format!(
                    "{}: receiver {:?}: {kind} are not supported by pharos and will not be delivered",
                    path.display(),
                    r.name
                ));
            }
        }
        receivers.push(build_receiver(path, text, r, &global)?);
    }

    // Route tree.
    let route_raw = raw
        .route
        .as_ref()
        .ok_or_else(|| err(path, text, "", "no routes provided"))?;
    let route = build_route(path, text, route_raw, None, &time_intervals)?;
    if !route.group_by_is_valid() {
        return Err(err(path, text, "group_by", "invalid group_by"));
    }
    let mut used = Vec::new();
    route_receivers(&route, &mut used);
    for name in used {
        if !names.contains(name) {
            return Err(err(
                path,
                text,
                name,
                format!("undefined receiver {name:?} used in route"),
            ));
        }
    }

    // Inhibit rules.
    let mut inhibit_rules = Vec::new();
    for r in &raw.inhibit_rules {
        let source = map_matchers(
            path,
            text,
            "inhibit_rules",
            &r.source_match,
            &r.source_match_re,
            &r.source_matchers,
        )?;
        let target = map_matchers(
            path,
            text,
            "inhibit_rules",
            &r.target_match,
            &r.target_match_re,
            &r.target_matchers,
        )?;
        for l in &r.equal {
            check_label_name(path, text, l)?;
        }
        inhibit_rules.push(InhibitRule {
            source,
            target,
            equal: r.equal.clone(),
        });
    }

    // Templates: globs relative to the config file's directory.
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut template_files = Vec::new();
    for pattern in &raw.templates {
        let full = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            base.join(pattern)
        };
        let full_s = full.to_string_lossy().to_string();
        let paths = glob::glob(&full_s).map_err(|e| {
            err(
                path,
                text,
                pattern,
                format!("invalid template glob {pattern:?}: {e}"),
            )
        })?;
        for p in paths.flatten() {
            template_files.push(p);
        }
    }
    Ok(AlertmanagerConfig {
        path: path.to_path_buf(),
        original: original.to_string(),
        global,
        route,
        inhibit_rules,
        receivers,
        template_files,
        time_intervals,
        warnings,
    })
}

impl Route {
    fn group_by_is_valid(&self) -> bool {
        true
    }
}

fn check_url(file: &Path, text: &str, key: &str, u: &str) -> Result<String, ConfigError> {
    let parsed = reqwest::Url::parse(u)
        .map_err(|e| err(file, text, key, format!("{key}: invalid URL {u:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(err(
            file,
            text,
            key,
            format!("{key}: unsupported scheme {:?} for URL", parsed.scheme()),
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(err(file, text, key, format!("{key}: no host for URL")));
    }
    Ok(u.to_string())
}

fn tmpl(v: &Option<String>, default: &str) -> String {
    v.clone().unwrap_or_else(|| default.to_string())
}

fn build_receiver(
    path: &Path,
    text: &str,
    r: &ReceiverRaw,
    global: &GlobalConfig,
) -> Result<Receiver, ConfigError> {
    let name_key = format!("name: {}", r.name);
    let at = |m: String| err(path, text, &r.name, m);
    let mut out = Receiver {
        name: r.name.clone(),
        ..Default::default()
    };
    for s in &r.slack_configs {
        let api_url = match (&s.api_url, &s.api_url_file) {
            (Some(_), Some(_)) => {
                return Err(at(
                    "at most one of api_url & api_url_file must be configured".into(),
                ))
            }
            (Some(u), None) => check_url(path, text, "api_url", u)?,
            (None, Some(f)) => read_secret_file(path, text, "api_url_file", f)?,
            (None, None) => global.slack_api_url.clone().ok_or_else(|| {
                err(
                    path,
                    text,
                    "slack_configs",
                    "no global Slack API URL set either inline or in a file",
                )
            })?,
        };
        let _ = (&s.message_text, &s.update_message, &s.app_token, &s.app_url);
        out.slack.push(SlackConfig {
            send_resolved: s.send_resolved.unwrap_or(false),
            http_config: s
                .http_config
                .clone()
                .unwrap_or_else(|| global.http_config.clone()),
            api_url,
            channel: s.channel.clone().unwrap_or_default(),
            username: tmpl(&s.username, r#"{{ template "slack.default.username" . }}"#),
            color: tmpl(
                &s.color,
                r#"{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}"#,
            ),
            title: tmpl(&s.title, r#"{{ template "slack.default.title" . }}"#),
            title_link: tmpl(
                &s.title_link,
                r#"{{ template "slack.default.titlelink" . }}"#,
            ),
            pretext: tmpl(&s.pretext, r#"{{ template "slack.default.pretext" . }}"#),
            text: tmpl(&s.text, r#"{{ template "slack.default.text" . }}"#),
            fields: s.fields.clone(),
            short_fields: s.short_fields.unwrap_or(false),
            footer: tmpl(&s.footer, r#"{{ template "slack.default.footer" . }}"#),
            fallback: tmpl(&s.fallback, r#"{{ template "slack.default.fallback" . }}"#),
            callback_id: tmpl(
                &s.callback_id,
                r#"{{ template "slack.default.callbackid" . }}"#,
            ),
            icon_emoji: tmpl(
                &s.icon_emoji,
                r#"{{ template "slack.default.iconemoji" . }}"#,
            ),
            icon_url: tmpl(&s.icon_url, r#"{{ template "slack.default.iconurl" . }}"#),
            image_url: s.image_url.clone().unwrap_or_default(),
            thumb_url: s.thumb_url.clone().unwrap_or_default(),
            link_names: s.link_names.unwrap_or(false),
            mrkdwn_in: s
                .mrkdwn_in
                .clone()
                .unwrap_or_else(|| vec!["fallback".into(), "pretext".into(), "text".into()]),
            actions: s.actions.clone(),
        });
    }
    for p in &r.pagerduty_configs {
        let routing_key = match (&p.routing_key, &p.routing_key_file) {
            (Some(k), _) => k.clone(),
            (None, Some(f)) => read_secret_file(path, text, "routing_key_file", f)?,
            _ => String::new(),
        };
        let service_key = match (&p.service_key, &p.service_key_file) {
            (Some(k), _) => k.clone(),
            (None, Some(f)) => read_secret_file(path, text, "service_key_file", f)?,
            _ => String::new(),
        };
        if routing_key.is_empty() && service_key.is_empty() {
            return Err(err(
                path,
                text,
                if p.service_key.is_some() {
                    "service_key"
                } else if p.routing_key.is_some() {
                    "routing_key"
                } else {
                    "pagerduty_configs"
                },
                format!(
                    "receiver {:?}: missing service or routing key in PagerDuty config (is the environment variable that should fill it set but empty?)",
                    r.name
                ),
            ));
        }
        let url = match &p.url {
            Some(u) => check_url(path, text, "url", u)?,
            None if !service_key.is_empty() => PAGERDUTY_V1_URL.to_string(),
            None => global.pagerduty_url.clone(),
        };
        let _ = p.timeout;
        let mut details = p.details.clone().unwrap_or_default();
        for (k, v) in [
            (
                "firing",
                r#"{{ template "pagerduty.default.instances" .Alerts.Firing }}"#,
            ),
            (
                "resolved",
                r#"{{ template "pagerduty.default.instances" .Alerts.Resolved }}"#,
            ),
            ("num_firing", r#"{{ .Alerts.Firing | len }}"#),
            ("num_resolved", r#"{{ .Alerts.Resolved | len }}"#),
        ] {
            details
                .entry(k.to_string())
                .or_insert_with(|| v.to_string());
        }
        out.pagerduty.push(PagerdutyConfig {
            send_resolved: p.send_resolved.unwrap_or(true),
            http_config: p
                .http_config
                .clone()
                .unwrap_or_else(|| global.http_config.clone()),
            routing_key,
            service_key,
            url,
            client: tmpl(&p.client, r#"{{ template "pagerduty.default.client" . }}"#),
            client_url: tmpl(
                &p.client_url,
                r#"{{ template "pagerduty.default.clientURL" . }}"#,
            ),
            description: tmpl(
                &p.description,
                r#"{{ template "pagerduty.default.description" .}}"#,
            ),
            details,
            images: p.images.clone(),
            links: p.links.clone(),
            source: tmpl(&p.source, ""),
            severity: tmpl(&p.severity, "error"),
            class: p.class.clone().unwrap_or_default(),
            component: p.component.clone().unwrap_or_default(),
            group: p.group.clone().unwrap_or_default(),
        });
    }
    for w in &r.webhook_configs {
        let url = match (&w.url, &w.url_file) {
            (Some(_), Some(_)) => {
                return Err(at("at most one of url & url_file must be configured".into()))
            }
            (Some(u), None) => check_url(path, text, "url", u)?,
            (None, Some(f)) => read_secret_file(path, text, "url_file", f)?,
            (None, None) => {
                return Err(at(format!(
                    "receiver {:?}: one of url or url_file must be configured",
                    r.name
                )))
            }
        };
        out.webhook.push(WebhookConfig {
            send_resolved: w.send_resolved.unwrap_or(true),
            http_config: w
                .http_config
                .clone()
                .unwrap_or_else(|| global.http_config.clone()),
            url,
            max_alerts: w.max_alerts,
            timeout_ms: w.timeout.map(|d| d.0).unwrap_or(0),
        });
    }
    for e in &r.email_configs {
        let to = e.to.clone().unwrap_or_default();
        if to.is_empty() {
            return Err(err(
                path,
                text,
                "email_configs",
                format!("receiver {:?}: missing to address in email config", r.name),
            ));
        }
        let smarthost = e
            .smarthost
            .clone()
            .unwrap_or_else(|| global.smtp_smarthost.clone());
        if smarthost.is_empty() {
            return Err(err(
                path,
                text,
                "email_configs",
                "no global SMTP smarthost set",
            ));
        }
        let from = e.from.clone().unwrap_or_else(|| global.smtp_from.clone());
        if from.is_empty() {
            return Err(err(path, text, "email_configs", "no global SMTP from set"));
        }
        let mut headers = BTreeMap::new();
        for (k, v) in &e.headers {
            // Header names are case-insensitive; Alertmanager title-cases them.
            headers.insert(title_case_header(k), v.clone());
        }
        headers
            .entry("Subject".into())
            .or_insert_with(|| r#"{{ template "email.default.subject" . }}"#.into());
        headers.entry("To".into()).or_insert_with(|| to.clone());
        headers.entry("From".into()).or_insert_with(|| from.clone());
        let auth_password = match (&e.auth_password, &e.auth_password_file) {
            (Some(p), _) => p.clone(),
            (None, Some(f)) => read_secret_file(path, text, "auth_password_file", f)?,
            _ => global.smtp_auth_password.clone(),
        };
        let _ = (&e.auth_secret, &e.threading);
        out.email.push(EmailConfig {
            send_resolved: e.send_resolved.unwrap_or(false),
            to,
            from,
            hello: e.hello.clone().unwrap_or_else(|| global.smtp_hello.clone()),
            smarthost,
            auth_username: e
                .auth_username
                .clone()
                .unwrap_or_else(|| global.smtp_auth_username.clone()),
            auth_password,
            auth_identity: e
                .auth_identity
                .clone()
                .unwrap_or_else(|| global.smtp_auth_identity.clone()),
            headers,
            html: tmpl(&e.html, r#"{{ template "email.default.html" . }}"#),
            text: e.text.clone().unwrap_or_default(),
            require_tls: e.require_tls.unwrap_or(global.smtp_require_tls),
            tls_config: e.tls_config.clone().unwrap_or_default(),
        });
    }
    let _ = name_key;
    Ok(out)
}

fn title_case_header(k: &str) -> String {
    k.split('-')
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const GUIDE: &str = include_str!("../../../examples/alertmanager/config.yml");

    fn parse_with(text: &str, vars: &[(&str, &str)]) -> Result<AlertmanagerConfig, ConfigError> {
        let p = Path::new("alertmanager.yml");
        let expanded = config::env::expand_with(p, text, |n| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        })?;
        parse_expanded(p, text, &expanded)
    }

    const VARS: &[(&str, &str)] = &[
        (
            "SLACK_WEBHOOK_URL",
            "https://hooks.slack.com/services/T/B/X",
        ),
        ("PAGERDUTY_SERVICE_KEY", "pdkey"),
    ];

    #[test]
    fn guide_loads_with_defaults() {
        let c = parse_with(GUIDE, VARS).unwrap();
        assert_eq!(c.global.resolve_timeout_ms, 300_000);
        assert_eq!(c.route.receiver, "default");
        assert_eq!(
            c.route.group_by,
            GroupBy::Labels(vec!["alertname".into(), "cluster".into(), "service".into()])
        );
        assert_eq!(c.route.routes.len(), 2);
        let crit = &c.route.routes[0];
        assert!(crit.continue_);
        assert_eq!(crit.receiver, "pagerduty");
        assert_eq!(crit.group_wait_ms, 10_000);
        assert_eq!(crit.repeat_interval_ms, 12 * 3_600_000);
        assert_eq!(crit.key, "{}/{severity=\"critical\"}");
        let slack = &c.receiver("default").unwrap().slack[0];
        assert_eq!(slack.api_url, "https://hooks.slack.com/services/T/B/X");
        assert_eq!(slack.channel, "#alerts");
        assert!(!slack.send_resolved);
        let pd = &c.receiver("pagerduty").unwrap().pagerduty[0];
        assert!(pd.is_v1());
        assert_eq!(pd.url, PAGERDUTY_V1_URL);
        assert!(pd.send_resolved);
        assert_eq!(pd.severity, "error");
        assert_eq!(c.receiver("slack").unwrap().slack[0].color, "warning");
    }

    #[test]
    fn missing_env_var_is_named() {
        let e = parse_with(GUIDE, &VARS[..1]).unwrap_err();
        assert!(e.message.contains("PAGERDUTY_SERVICE_KEY"), "{e}");
        assert!(e.line > 0);
        let e = parse_with(GUIDE, &[]).unwrap_err();
        assert!(e.message.contains("SLACK_WEBHOOK_URL"), "{e}");
    }

    #[test]
    fn located_errors() {
        let e = parse_with(
            "route:\n  receiver: x\n  group_wait: 5q\nreceivers:\n- name: x\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let e = parse_with("route:\n  receiver: nope\nreceivers:\n- name: x\n", &[]).unwrap_err();
        assert!(e.message.contains("undefined receiver \"nope\""), "{e}");
        assert_eq!(e.line, 2);
        let e = parse_with(
            "route:\n  receiver: x\n  routes:\n  - matchers: ['a=~\"(\"']\nreceivers:\n- name: x\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        let e = parse_with(
            "route:\n  receiver: x\nreceivers:\n- name: x\n  slack_configs:\n  - channel: a\n",
            &[],
        )
        .unwrap_err();
        assert!(e.message.contains("no global Slack API URL"), "{e}");
        let e = parse_with(
            "route:\n  receiver: x\n  bogus: 1\nreceivers:\n- name: x\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(parse_with("receivers:\n- name: x\n", &[]).is_err());
    }

    proptest::proptest! {
        /// Arbitrary text and mutations of the example alertmanager.yml never panic the loader.
        #[test]
        fn never_panics(text in "(?s).{0,200}") {
            let _ = parse_with(&text, VARS);
        }

        #[test]
        fn guide_mutations_never_panic(pos in 0usize..700, junk in "[ :\\-\\[\\]{}'\"a-z0-9#\n]{0,12}") {
            let mut t = GUIDE.to_string();
            let p = pos.min(t.len());
            let p = (0..=p).rev().find(|i| t.is_char_boundary(*i)).unwrap_or(0);
            t.insert_str(p, &junk);
            let _ = parse_with(&t, VARS);
        }
    }

    #[test]
    fn inheritance_and_wildcard() {
        let c = parse_with(
            "route:\n  receiver: a\n  group_by: ['...']\n  group_interval: 1m\n  routes:\n  - matchers: ['x!=\"1\"', 'y=~\"a|b\"']\n    group_wait: 1s\n    routes:\n    - receiver: b\n      match_re: {z: 'q.*'}\nreceivers:\n- name: a\n- name: b\n  webhook_configs:\n  - url: http://127.0.0.1:1/\n",
            &[],
        )
        .unwrap();
        assert_eq!(c.route.group_wait_ms, 30_000);
        let child = &c.route.routes[0];
        assert_eq!(child.group_by, GroupBy::All);
        assert_eq!(child.receiver, "a");
        assert_eq!(child.group_interval_ms, 60_000);
        assert_eq!(child.routes[0].group_wait_ms, 1000);
        assert_eq!(child.routes[0].receiver, "b");
        assert_eq!(child.key, "{}/{x!=\"1\",y=~\"a|b\"}");
        assert!(c.receiver("b").unwrap().webhook[0].send_resolved);
    }
}
