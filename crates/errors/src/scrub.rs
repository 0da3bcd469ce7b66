//! Data scrubbing before storage, after Sentry's default data scrubber: values under keys that
//! name secrets (password, secret, token, api_key, auth, credentials, ...), the `Authorization`
//! and `Cookie` headers, and credit-card-like numbers (Luhn-valid 13–19 digits) become
//! `[Filtered]`. Without the project's `send_default_pii` permission, the personal data SDKs
//! attach with `sendDefaultPii` (user IP, e-mail, username, cookies, remote address) is dropped.

use regex::Regex;
use serde_json::{Map, Value};
use std::sync::LazyLock;

/// What replaces a scrubbed value.
pub const FILTERED: &str = "[Filtered]";

/// Key fragments (lowercase) whose values are scrubbed.
pub const DEFAULT_SENSITIVE: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "api_key",
    "apikey",
    "auth",
    "credentials",
    "mysql_pwd",
    "privatekey",
    "private_key",
    "token",
    "bearer",
    "cookie",
    "session",
    "x-api-key",
];

/// Top-level event keys never scrubbed (protocol metadata, not user data).
const SKIP_TOP: &[&str] = &[
    "sdk",
    "fingerprint",
    "debug_meta",
    "event_id",
    "trace_id",
    "span_id",
];

/// Keys holding protocol ids at any depth (`contexts.trace.span_id`, a span's `parent_span_id`):
/// never scrubbed, so an all-digit id that happens to pass the Luhn check stays intact.
const ID_KEYS: &[&str] = &[
    "trace_id",
    "span_id",
    "parent_span_id",
    "segment_id",
    "event_id",
    "check_in_id",
    "profile_id",
];

/// Span and log attributes that are personal data (sent by SDKs with `sendDefaultPii`).
const PII_ATTRIBUTES: &[&str] = &[
    "user.email",
    "user.ip_address",
    "user.username",
    "user.name",
    "client.address",
    "http.request.header.cookie",
];

static CARD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:\d[ -]?){12,18}\d\b").expect("card regex"));

/// Scrubbing settings.
#[derive(Clone, Debug)]
pub struct ScrubOptions {
    pub enabled: bool,
    /// Extra sensitive key fragments (lowercase).
    pub extra_fields: Vec<String>,
    /// Keep `send_default_pii` data (user ip/email/username, cookies).
    pub allow_pii: bool,
}

impl Default for ScrubOptions {
    fn default() -> Self {
        ScrubOptions {
            enabled: true,
            extra_fields: vec![],
            allow_pii: false,
        }
    }
}

fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(*d);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// `s` with Luhn-valid card numbers replaced.
pub fn scrub_cards(s: &str) -> Option<String> {
    if !CARD.is_match(s) {
        return None;
    }
    let mut changed = false;
    let out = CARD.replace_all(s, |c: &regex::Captures| {
        let digits: Vec<u8> = c[0]
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        if (13..=19).contains(&digits.len()) && luhn(&digits) {
            changed = true;
            FILTERED.to_string()
        } else {
            c[0].to_string()
        }
    });
    changed.then(|| out.into_owned())
}

struct Scrubber<'a> {
    fields: Vec<&'a str>,
}

impl Scrubber<'_> {
    fn sensitive(&self, key: &str) -> bool {
        let k = key.to_ascii_lowercase();
        self.fields.iter().any(|f| k.contains(f))
    }

    fn value(&self, v: &mut Value) {
        match v {
            Value::String(s) => {
                if let Some(n) = scrub_cards(s) {
                    *s = n;
                }
            }
            Value::Array(a) => {
                // Header/cookie/query lists: [["Authorization", "Bearer x"], ...]
                for item in a.iter_mut() {
                    if let Value::Array(pair) = item {
                        if pair.len() == 2 && pair[0].as_str().is_some_and(|k| self.sensitive(k)) {
                            pair[1] = Value::from(FILTERED);
                            continue;
                        }
                    }
                    self.value(item);
                }
            }
            Value::Object(m) => self.object(m),
            _ => {}
        }
    }

    fn object(&self, m: &mut Map<String, Value>) {
        for (k, v) in m.iter_mut() {
            if ID_KEYS.contains(&k.as_str()) {
                continue;
            }
            if self.sensitive(k) && !v.is_null() {
                *v = Value::from(FILTERED);
            } else if k == "query_string" {
                if let Value::String(q) = v {
                    *q = self.query(q);
                } else {
                    self.value(v);
                }
            } else {
                self.value(v);
            }
        }
    }

    fn query(&self, q: &str) -> String {
        q.split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if self.sensitive(k) => format!("{k}={FILTERED}"),
                _ => scrub_cards(p).unwrap_or_else(|| p.to_string()),
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Scrubs a normalised event in place.
pub fn scrub(ev: &mut Value, opts: &ScrubOptions) {
    let Value::Object(m) = ev else { return };
    if !opts.allow_pii {
        if let Some(Value::Object(u)) = m.get_mut("user") {
            for k in ["ip_address", "email", "username"] {
                u.remove(k);
            }
        }
        if let Some(Value::Object(r)) = m.get_mut("request") {
            r.remove("cookies");
            if let Some(Value::Object(env)) = r.get_mut("env") {
                env.remove("REMOTE_ADDR");
            }
        }
    }
    if !opts.enabled {
        return;
    }
    let s = Scrubber {
        fields: DEFAULT_SENSITIVE
            .iter()
            .copied()
            .chain(opts.extra_fields.iter().map(String::as_str))
            .collect(),
    };
    for (k, v) in m.iter_mut() {
        if SKIP_TOP.contains(&k.as_str()) {
            continue;
        }
        // Top-level keys are the protocol's own ("user", "request", ...): descend, don't match.
        s.value(v);
    }
}

/// Scrubs the payload of a non-event item that reaches other stores (a transaction, a `span` or
/// `log` container): each span or log record is scrubbed as an event is, and without the
/// project's `send_default_pii` permission its personal-data attributes are dropped.
pub fn scrub_item(payload: &mut Value, opts: &ScrubOptions) {
    match payload.get_mut("items") {
        Some(Value::Array(items)) => {
            for it in items.iter_mut() {
                scrub_record(it, opts);
            }
        }
        _ => scrub_record(payload, opts),
    }
}

fn scrub_record(rec: &mut Value, opts: &ScrubOptions) {
    if !opts.allow_pii {
        for key in ["attributes", "data"] {
            if let Some(Value::Object(a)) = rec.get_mut(key) {
                a.retain(|k, _| !PII_ATTRIBUTES.contains(&k.as_str()));
            }
        }
    }
    scrub(rec, opts);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn secrets_headers_and_cards() {
        let mut ev = json!({
            "message": "paid with 4111 1111 1111 1111, order 1234567890123",
            "request": {
                "headers": {"Authorization": "Bearer abc", "Cookie": "s=1", "Accept": "text/html"},
                "query_string": "page=2&api_key=xyz",
                "data": {"username": "bob", "password": "hunter2", "nested": {"client_secret": "s"}},
                "cookies": {"s": "1"}
            },
            "extra": {"db_password": "p", "list": [["X-Api-Key", "k"], ["ok", "v"]]},
            "user": {"id": "42", "email": "a@b.c", "ip_address": "1.2.3.4"},
            "breadcrumbs": [{"data": {"token": "t", "url": "/x"}}],
            "sdk": {"name": "sentry.javascript.node"}
        });
        scrub(&mut ev, &ScrubOptions::default());
        assert_eq!(ev["message"], "paid with [Filtered], order 1234567890123");
        let h = &ev["request"]["headers"];
        assert_eq!(h["Authorization"], FILTERED);
        assert_eq!(h["Cookie"], FILTERED);
        assert_eq!(h["Accept"], "text/html");
        assert_eq!(ev["request"]["query_string"], "page=2&api_key=[Filtered]");
        assert_eq!(ev["request"]["data"]["password"], FILTERED);
        assert_eq!(ev["request"]["data"]["username"], "bob");
        assert_eq!(ev["request"]["data"]["nested"]["client_secret"], FILTERED);
        assert!(ev["request"].get("cookies").is_none());
        assert_eq!(ev["extra"]["db_password"], FILTERED);
        assert_eq!(ev["extra"]["list"][0][1], FILTERED);
        assert_eq!(ev["extra"]["list"][1][1], "v");
        assert_eq!(ev["user"], json!({"id": "42"}));
        assert_eq!(ev["breadcrumbs"][0]["data"]["token"], FILTERED);
        assert_eq!(ev["breadcrumbs"][0]["data"]["url"], "/x");
    }

    #[test]
    fn pii_allowed_and_scrubbing_off() {
        let mut ev = json!({"user": {"email": "a@b.c"}, "extra": {"password": "p"}});
        scrub(
            &mut ev,
            &ScrubOptions {
                enabled: false,
                extra_fields: vec![],
                allow_pii: true,
            },
        );
        assert_eq!(ev["user"]["email"], "a@b.c");
        assert_eq!(ev["extra"]["password"], "p");
    }

    #[test]
    fn ids_kept_and_items_scrubbed() {
        // 16 digits, Luhn-valid: a card number anywhere else, an id here.
        let id = "4111111111111111";
        let mut ev = json!({"contexts": {"trace": {"span_id": id, "note": id}}});
        scrub(&mut ev, &ScrubOptions::default());
        assert_eq!(ev["contexts"]["trace"]["span_id"], id);
        assert_eq!(ev["contexts"]["trace"]["note"], FILTERED);
        let mut spans = json!({"version": 2, "items": [
            {"span_id": id, "name": "GET /", "attributes": {
                "http.request.header.authorization": {"value": "Bearer x", "type": "string"},
                "user.email": {"value": "a@b.c", "type": "string"},
                "order": {"value": 7, "type": "integer"}}}]});
        scrub_item(&mut spans, &ScrubOptions::default());
        let a = &spans["items"][0]["attributes"];
        assert_eq!(a["http.request.header.authorization"], FILTERED);
        assert!(a.get("user.email").is_none());
        assert_eq!(a["order"]["value"], 7);
        assert_eq!(spans["items"][0]["span_id"], id);
        let mut tx = json!({"user": {"id": "1", "ip_address": "1.2.3.4"},
            "spans": [{"data": {"db.password": "p", "client.address": "1.2.3.4"}}]});
        scrub_item(&mut tx, &ScrubOptions::default());
        assert_eq!(tx["user"], json!({"id": "1"}));
        assert_eq!(tx["spans"][0]["data"]["db.password"], FILTERED);
    }

    proptest! {
        #[test]
        fn luhn_valid_cards_are_always_caught(body in prop::collection::vec(0u8..10, 14)) {
            // Append the check digit that makes the number Luhn-valid.
            let mut d = body.clone();
            let check = (0..10u8).find(|c| { let mut t = d.clone(); t.push(*c); luhn(&t) }).unwrap();
            d.push(check);
            let s: String = d.iter().map(|x| char::from(b'0' + x)).collect();
            let out = scrub_cards(&format!("card {s} end"));
            prop_assert_eq!(out, Some(format!("card {FILTERED} end")));
        }

        #[test]
        fn scrubbing_never_panics(k in ".{0,20}", v in ".{0,40}") {
            let mut ev = json!({"extra": {k.clone(): v.clone()}, "request": {"query_string": v}});
            scrub(&mut ev, &ScrubOptions::default());
        }
    }
}
