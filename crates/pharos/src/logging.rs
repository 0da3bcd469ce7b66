//! pharos' own logs: `--log.level` / `--log.format=logfmt|json` like Prometheus, one line per
//! event on stderr without ANSI colour codes, and a level that can be changed while running
//! (`GET`/`PUT /-/log-level`, or `log.level` in pharos.yml followed by a reload).
//!
//! The level is a `tracing_subscriber` `EnvFilter` behind a reload layer; the line formats are
//! written here (a small `FormatEvent`) so both share one field collector and neither depends
//! on a terminal.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::fmt::Write as _;
use std::sync::OnceLock;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// Line format of pharos' own logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `ts=... level=info caller=serve.rs:12 msg="..." key=value`
    #[default]
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// The logging flags of `pharos serve`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct LogArgs {
    /// Only log messages with this severity or above: debug, info, warn, error (default:
    /// `log.level` of pharos.yml, else RUST_LOG, else info).
    #[arg(long = "log.level")]
    pub level: Option<String>,
    /// Output format of log messages: logfmt or json (default: `log.format` of pharos.yml,
    /// else logfmt).
    #[arg(long = "log.format", value_enum)]
    pub format: Option<LogFormat>,
}

struct State {
    handle: reload::Handle<EnvFilter, Registry>,
    /// The level as the operator named it (a level name or an EnvFilter directive).
    current: parking_lot::Mutex<String>,
    /// `--log.level` was given: the config file's level does not override it at start.
    pinned: bool,
}

static STATE: OnceLock<State> = OnceLock::new();
/// Chosen at start; `log.format` of pharos.yml applies when `--log.format` was not given.
static FORMAT: OnceLock<parking_lot::RwLock<LogFormat>> = OnceLock::new();

fn format_cell() -> &'static parking_lot::RwLock<LogFormat> {
    FORMAT.get_or_init(|| parking_lot::RwLock::new(LogFormat::Logfmt))
}

/// The `EnvFilter` directive for a level: libraries' debug chatter (hyper, h2, ...) stays at
/// info unless the operator asked for a directive of their own.
fn directive(level: &str) -> String {
    match level {
        "debug" | "trace" => {
            format!("{level},hyper=info,hyper_util=info,h2=info,rustls=info,tower=info,reqwest=info,mio=info")
        }
        other => other.to_string(),
    }
}

/// Parses a level given by an operator: a level name, or an `EnvFilter` directive such as
/// `info,scrape=debug`.
pub fn parse_level(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.contains('=') || s.contains(',') {
        EnvFilter::try_new(s).map_err(|e| format!("invalid log filter {s:?}: {e}"))?;
        return Ok(s.to_string());
    }
    config::troubleshoot::normalize_level(s)
}

/// Installs the subscriber. Call once, before anything logs.
pub fn init(args: &LogArgs) {
    let (level, pinned) = match args.level.as_deref().map(parse_level) {
        Some(Ok(l)) => (l, true),
        Some(Err(e)) => {
            eprintln!("pharos: --log.level: {e}; using info");
            ("info".to_string(), false)
        }
        None => match std::env::var("RUST_LOG") {
            Ok(v) if EnvFilter::try_new(&v).is_ok() => (v, false),
            _ => ("info".to_string(), false),
        },
    };
    if let Some(f) = args.format {
        *format_cell().write() = f;
    }
    let explicit_format = args.format.is_some();
    let filter = EnvFilter::try_new(directive(&level)).unwrap_or_else(|_| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(filter);
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .event_format(LineFormat);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init();
    let _ = STATE.set(State {
        handle,
        current: parking_lot::Mutex::new(level),
        pinned,
    });
    FORMAT_PINNED.get_or_init(|| explicit_format);
}

static FORMAT_PINNED: OnceLock<bool> = OnceLock::new();

/// The current level (or filter directive).
pub fn current_level() -> String {
    STATE
        .get()
        .map(|s| s.current.lock().clone())
        .unwrap_or_else(|| "info".into())
}

/// Changes the level of the running process.
pub fn set_level(level: &str) -> Result<String, String> {
    let level = parse_level(level)?;
    let st = STATE.get().ok_or("logging is not initialized")?;
    let filter = EnvFilter::try_new(directive(&level)).map_err(|e| e.to_string())?;
    st.handle
        .reload(filter)
        .map_err(|e| format!("cannot change the log level: {e}"))?;
    let old = std::mem::replace(&mut *st.current.lock(), level.clone());
    if old != level {
        tracing::info!(from = %old, to = %level, "log level changed");
    }
    Ok(level)
}

/// Applies `log:` of a (re)loaded pharos.yml. At start, `--log.level`/`--log.format` win over
/// the file; on a reload the file's level applies (the operator edited it on purpose).
pub fn on_config(cfg: &config::LoadedConfig, startup: bool) {
    if !startup || FORMAT_PINNED.get() != Some(&true) {
        match cfg.log.format.as_deref() {
            Some("json") => *format_cell().write() = LogFormat::Json,
            Some("logfmt") => *format_cell().write() = LogFormat::Logfmt,
            _ => {}
        }
    }
    let Some(level) = &cfg.log.level else {
        return;
    };
    if startup && STATE.get().is_some_and(|s| s.pinned) {
        return;
    }
    if let Err(e) = set_level(level) {
        tracing::warn!("log.level: {e}");
    }
}

/// `GET /-/log-level` (the current level, as text) and `PUT /-/log-level` (body `debug`,
/// `{"level":"debug"}` or `level=debug`).
pub fn routes() -> axum::Router {
    axum::Router::new().route(
        "/-/log-level",
        get(get_level).put(put_level).post(put_level),
    )
}

async fn get_level() -> String {
    format!("{}\n", current_level())
}

async fn put_level(body: String) -> Response {
    let body = body.trim();
    let level = if body.starts_with('{') {
        match serde_json::from_str::<serde_json::Value>(body) {
            Ok(v) => match v.get("level").and_then(|l| l.as_str()) {
                Some(l) => l.to_string(),
                None => {
                    return (
                        StatusCode::BAD_REQUEST,
                        "expected {\"level\": \"debug|info|warn|error\"}\n",
                    )
                        .into_response()
                }
            },
            Err(e) => {
                return (StatusCode::BAD_REQUEST, format!("invalid JSON: {e}\n")).into_response()
            }
        }
    } else {
        body.strip_prefix("level=").unwrap_or(body).to_string()
    };
    if level.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            "the body must name a level: debug, info, warn or error\n",
        )
            .into_response();
    }
    match set_level(&level) {
        Ok(l) => (StatusCode::OK, format!("{l}\n")).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    }
}

/// Fields of one event: the message and the other key/value pairs, in order.
#[derive(Default)]
struct Fields {
    msg: String,
    kv: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field.name(), value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field.name(), format!("{value:?}"));
    }
}

impl Fields {
    fn put(&mut self, name: &str, value: String) {
        if name == "message" {
            self.msg = value;
        } else if !name.starts_with("log.") {
            self.kv.push((name.to_string(), value));
        }
    }
}

/// One log line, before rendering.
struct Line<'a> {
    ts: String,
    level: &'a str,
    caller: String,
    fields: Fields,
}

/// The event formatter behind both formats.
struct LineFormat;

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let caller = match (meta.file(), meta.line()) {
            (Some(f), Some(l)) => {
                let base = f.rsplit(['/', '\\']).next().unwrap_or(f);
                format!("{base}:{l}")
            }
            _ => meta.target().to_string(),
        };
        let line = Line {
            ts: chrono::Utc::now()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string(),
            level: level_name(meta.level()),
            caller,
            fields,
        };
        let format = *format_cell().read();
        writer.write_str(&render(&line, format))
    }
}

fn level_name(l: &tracing::Level) -> &'static str {
    match *l {
        tracing::Level::TRACE => "trace",
        tracing::Level::DEBUG => "debug",
        tracing::Level::INFO => "info",
        tracing::Level::WARN => "warn",
        tracing::Level::ERROR => "error",
    }
}

fn render(line: &Line<'_>, format: LogFormat) -> String {
    match format {
        LogFormat::Logfmt => {
            let mut out = format!(
                "ts={} level={} caller={} msg={}",
                line.ts,
                line.level,
                logfmt_value(&line.caller),
                logfmt_value(&line.fields.msg)
            );
            for (k, v) in &line.fields.kv {
                let _ = write!(out, " {}={}", logfmt_key(k), logfmt_value(v));
            }
            out.push('\n');
            out
        }
        LogFormat::Json => {
            let mut m = serde_json::Map::new();
            m.insert("ts".into(), line.ts.clone().into());
            m.insert("level".into(), line.level.into());
            m.insert("caller".into(), line.caller.clone().into());
            m.insert("msg".into(), line.fields.msg.clone().into());
            for (k, v) in &line.fields.kv {
                m.entry(k.clone()).or_insert_with(|| v.clone().into());
            }
            let mut s = serde_json::Value::Object(m).to_string();
            s.push('\n');
            s
        }
    }
}

/// A logfmt key: anything but `=`, spaces, quotes and control characters.
fn logfmt_key(k: &str) -> String {
    let s: String = k
        .chars()
        .map(|c| {
            if c == '=' || c == '"' || c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if s.is_empty() {
        "_".into()
    } else {
        s
    }
}

/// A logfmt value, quoted (with `\"`, `\\`, `\n` escapes) when it must be.
pub fn logfmt_value(v: &str) -> String {
    let needs = v.is_empty()
        || v.chars()
            .any(|c| c == ' ' || c == '=' || c == '"' || c == '\\' || c.is_control());
    if !needs {
        return v.to_string();
    }
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Splits a logfmt line back into pairs (the test's reader, per the logfmt convention).
    fn parse_logfmt(line: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut it = line.chars().peekable();
        loop {
            while it.peek() == Some(&' ') {
                it.next();
            }
            let mut k = String::new();
            while let Some(&c) = it.peek() {
                if c == '=' {
                    break;
                }
                k.push(c);
                it.next();
            }
            if k.is_empty() {
                return out;
            }
            it.next();
            let mut v = String::new();
            if it.peek() == Some(&'"') {
                it.next();
                while let Some(c) = it.next() {
                    match c {
                        '"' => break,
                        '\\' => match it.next() {
                            Some('n') => v.push('\n'),
                            Some('r') => v.push('\r'),
                            Some('t') => v.push('\t'),
                            Some('u') => {
                                let hex: String = it.by_ref().skip(1).take(4).collect();
                                it.next();
                                if let Some(ch) =
                                    u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                                {
                                    v.push(ch);
                                }
                            }
                            Some(x) => v.push(x),
                            None => {}
                        },
                        c => v.push(c),
                    }
                }
            } else {
                while let Some(&c) = it.peek() {
                    if c == ' ' {
                        break;
                    }
                    v.push(c);
                    it.next();
                }
            }
            out.push((k, v));
        }
    }

    fn line(msg: &str, kv: Vec<(String, String)>) -> Line<'static> {
        Line {
            ts: "2026-12-01T10:00:00.000Z".into(),
            level: "info",
            caller: "serve.rs:10".into(),
            fields: Fields {
                msg: msg.into(),
                kv,
            },
        }
    }

    #[test]
    fn logfmt_shape() {
        let s = render(
            &line("pharos started", vec![("data".into(), "./data".into())]),
            LogFormat::Logfmt,
        );
        assert_eq!(
            s,
            "ts=2026-12-01T10:00:00.000Z level=info caller=serve.rs:10 msg=\"pharos started\" data=./data\n"
        );
    }

    #[test]
    fn json_shape() {
        let s = render(&line("x", vec![("k".into(), "v".into())]), LogFormat::Json);
        let v: serde_json::Value = serde_json::from_str(s.trim()).unwrap();
        assert_eq!(v["msg"], "x");
        assert_eq!(v["k"], "v");
        assert_eq!(v["level"], "info");
    }

    #[test]
    fn levels_parse() {
        assert_eq!(parse_level("DEBUG").unwrap(), "debug");
        assert_eq!(
            parse_level("info,scrape=debug").unwrap(),
            "info,scrape=debug"
        );
        assert!(parse_level("loud").is_err());
        assert!(parse_level("info,scrape=loud").is_err());
    }

    proptest! {
        #[test]
        fn logfmt_round_trips(msg in "\\PC{0,20}|[ =\"\\\\\n\t]{0,6}", v in ".{0,20}") {
            let s = render(&line(&msg, vec![("key".into(), v.clone())]), LogFormat::Logfmt);
            prop_assert!(!s.contains('\x1b'));
            prop_assert_eq!(s.matches('\n').count(), 1);
            let pairs = parse_logfmt(s.trim_end_matches('\n'));
            prop_assert_eq!(pairs.len(), 5);
            prop_assert_eq!(&pairs[3].1, &msg);
            prop_assert_eq!(&pairs[4].1, &v);
        }

        #[test]
        fn json_is_one_valid_object(msg in ".{0,30}") {
            let s = render(&line(&msg, vec![]), LogFormat::Json);
            prop_assert_eq!(s.matches('\n').count(), 1);
            let v: serde_json::Value = serde_json::from_str(s.trim_end()).unwrap();
            prop_assert_eq!(v["msg"].as_str(), Some(msg.as_str()));
        }
    }
}
