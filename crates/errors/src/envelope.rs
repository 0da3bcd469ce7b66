//! Sentry's envelope format (develop.sentry.dev/sdk/data-model/envelopes/): a JSON header line,
//! then items, each a JSON header line and a payload — `length` bytes when the header gives a
//! `length`, else everything up to the next newline (or the end). This module only splits bytes
//! into headers and payloads; what an item means is the store's business.

use serde_json::{Map, Value};

/// Largest number of items accepted in one envelope.
pub const MAX_ITEMS: usize = 1000;

/// One parsed envelope.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    pub headers: Map<String, Value>,
    pub items: Vec<Item>,
}

/// One item: its header object (with `type`) and its raw payload.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub headers: Map<String, Value>,
    pub payload: Vec<u8>,
}

impl Item {
    /// The item `type` header ("" when missing).
    pub fn ty(&self) -> &str {
        self.headers
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// Why an envelope could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeError(pub String);

impl std::fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EnvelopeError {}

fn err(msg: impl Into<String>) -> EnvelopeError {
    EnvelopeError(msg.into())
}

/// Splits `data` at the first `\n` at or after `pos`: (line, position after the newline).
fn line_at(data: &[u8], pos: usize) -> (&[u8], usize) {
    match data[pos..].iter().position(|&b| b == b'\n') {
        Some(i) => (&data[pos..pos + i], pos + i + 1),
        None => (&data[pos..], data.len()),
    }
}

fn header_object(line: &[u8], what: &str) -> Result<Map<String, Value>, EnvelopeError> {
    let line = trim_cr(line);
    match serde_json::from_slice::<Value>(line) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(err(format!(
            "invalid envelope: {what} must be a JSON object"
        ))),
        Err(e) => Err(err(format!(
            "invalid envelope: {what} is not valid JSON: {e}"
        ))),
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parses an envelope body (already decompressed).
pub fn parse(data: &[u8]) -> Result<Envelope, EnvelopeError> {
    if data.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(err("invalid envelope: empty body"));
    }
    let (first, mut pos) = line_at(data, 0);
    let headers = header_object(first, "the envelope header")?;
    let mut items = Vec::new();
    while pos < data.len() {
        // Blank lines between items are tolerated.
        let (line, next) = line_at(data, pos);
        if trim_cr(line).iter().all(|b| b.is_ascii_whitespace()) {
            pos = next;
            continue;
        }
        let ih = header_object(line, "an item header")?;
        if !ih.get("type").is_some_and(Value::is_string) {
            return Err(err("invalid envelope: item header without a \"type\""));
        }
        pos = next;
        let payload = match ih.get("length") {
            Some(l) => {
                let len = l.as_u64().ok_or_else(|| {
                    err("invalid envelope: item length must be a non-negative integer")
                })?;
                let len =
                    usize::try_from(len).map_err(|_| err("invalid envelope: item too long"))?;
                if data.len() - pos < len {
                    return Err(err(format!(
                        "invalid envelope: item of type {:?} declares {len} bytes but only {} remain",
                        ih.get("type").and_then(Value::as_str).unwrap_or(""),
                        data.len() - pos
                    )));
                }
                let p = data[pos..pos + len].to_vec();
                pos += len;
                // The newline after a sized payload is optional.
                if data.get(pos) == Some(&b'\r') && data.get(pos + 1) == Some(&b'\n') {
                    pos += 2;
                } else if data.get(pos) == Some(&b'\n') {
                    pos += 1;
                }
                p
            }
            None => {
                let (line, next) = line_at(data, pos);
                pos = next;
                trim_cr(line).to_vec()
            }
        };
        items.push(Item {
            headers: ih,
            payload,
        });
        if items.len() > MAX_ITEMS {
            return Err(err(format!(
                "invalid envelope: more than {MAX_ITEMS} items"
            )));
        }
    }
    Ok(Envelope { headers, items })
}

impl Envelope {
    /// Serialises the envelope, every item with an explicit `length`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Value::Object(self.headers.clone()).to_string().into_bytes();
        out.push(b'\n');
        for it in &self.items {
            let mut h = it.headers.clone();
            h.insert("length".into(), Value::from(it.payload.len()));
            out.extend_from_slice(Value::Object(h).to_string().as_bytes());
            out.push(b'\n');
            out.extend_from_slice(&it.payload);
            out.push(b'\n');
        }
        out
    }

    /// The `event_id` of the envelope header, if any.
    pub fn event_id(&self) -> Option<&str> {
        self.headers.get("event_id").and_then(Value::as_str)
    }
}

/// The rate-limit / outcome category of an item type, as in Sentry's `DataCategory`.
pub fn category(item_type: &str) -> Option<&'static str> {
    Some(match item_type {
        "event" | "security" | "raw_security" | "nel" | "unreal_report" | "user_report"
        | "user_feedback" | "feedback" => "error",
        "transaction" => "transaction",
        "session" | "sessions" => "session",
        "attachment" => "attachment",
        "profile" | "profile_chunk" => "profile",
        "check_in" => "monitor",
        "log" | "otel_log" => "log_item",
        "replay_event" | "replay_recording" | "replay_video" => "replay",
        "span" | "otel_span" => "span",
        "client_report" | "statsd" | "metric_buckets" => return None,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn documented_examples() {
        // From the envelope documentation: two items, one with length, one without.
        let body = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"dsn\":\"https://e12d836b15bb49d7bbf99e64295d995b:@sentry.io/42\"}\n\
{\"type\":\"attachment\",\"length\":10,\"content_type\":\"text/plain\",\"filename\":\"hello.txt\"}\n\
\xef\xbb\xbfHello\r\n\n\
{\"type\":\"event\",\"length\":41,\"content_type\":\"application/json\",\"filename\":\"application.log\"}\n\
{\"message\":\"hello world\",\"level\":\"error\"}\n";
        let e = parse(body).unwrap();
        assert_eq!(e.event_id(), Some("9ec79c33ec9942ab8353589fcb2e04dc"));
        assert_eq!(e.items.len(), 2);
        assert_eq!(e.items[0].payload, b"\xef\xbb\xbfHello\r\n");
        assert_eq!(e.items[1].ty(), "event");
        assert_eq!(
            e.items[1].payload,
            b"{\"message\":\"hello world\",\"level\":\"error\"}"
        );
        // Implicit lengths, no trailing newline, empty payloads.
        let body = b"{}\n{\"type\":\"session\"}\n{\"started\":\"2020-02-07T14:16:00Z\"}\n{\"type\":\"attachment\",\"length\":0}\n\n{\"type\":\"attachment\"}\n";
        let e = parse(body).unwrap();
        assert_eq!(e.items.len(), 3);
        assert_eq!(e.items[0].ty(), "session");
        assert!(e.items[1].payload.is_empty());
        assert!(e.items[2].payload.is_empty());
        let e = parse(b"{}").unwrap();
        assert!(e.items.is_empty());
    }

    #[test]
    fn broken_envelopes_are_errors() {
        assert!(parse(b"").is_err());
        assert!(parse(b"not json\n").is_err());
        assert!(parse(b"[1]\n").is_err());
        assert!(parse(b"{}\n{\"length\":2}\nab\n").is_err());
        assert!(parse(b"{}\n{\"type\":\"event\",\"length\":100}\n{}\n").is_err());
        assert!(parse(b"{}\n{\"type\":\"event\",\"length\":-1}\n{}\n").is_err());
    }

    #[test]
    fn categories() {
        assert_eq!(category("event"), Some("error"));
        assert_eq!(category("transaction"), Some("transaction"));
        assert_eq!(category("sessions"), Some("session"));
        assert_eq!(category("attachment"), Some("attachment"));
        assert_eq!(category("client_report"), None);
        assert_eq!(category("something_new"), None);
    }

    fn item_strategy() -> impl Strategy<Value = Item> {
        (
            prop::sample::select(vec!["event", "transaction", "attachment", "session", "x"]),
            prop::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(t, payload)| {
                let mut headers = Map::new();
                headers.insert("type".into(), Value::from(t));
                Item { headers, payload }
            })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&data);
        }

        #[test]
        fn arbitrary_lines_never_panic(lines in prop::collection::vec("[{}\":a-z0-9,\\n ]{0,40}", 0..8)) {
            let _ = parse(lines.join("\n").as_bytes());
        }

        #[test]
        fn round_trip(items in prop::collection::vec(item_strategy(), 0..6), id in "[0-9a-f]{32}") {
            let mut headers = Map::new();
            headers.insert("event_id".into(), Value::from(id));
            let env = Envelope { headers, items };
            let back = parse(&env.to_bytes()).unwrap();
            prop_assert_eq!(back.headers, env.headers.clone());
            prop_assert_eq!(back.items.len(), env.items.len());
            for (a, b) in back.items.iter().zip(&env.items) {
                prop_assert_eq!(&a.payload, &b.payload);
                prop_assert_eq!(a.ty(), b.ty());
            }
        }

        #[test]
        fn implicit_length_round_trip(payloads in prop::collection::vec("[^\\n\\r]{0,40}", 0..6)) {
            let mut body = String::from("{}\n");
            for p in &payloads {
                body.push_str("{\"type\":\"event\"}\n");
                body.push_str(p);
                body.push('\n');
            }
            let env = parse(body.as_bytes()).unwrap();
            prop_assert_eq!(env.items.len(), payloads.len());
            for (i, p) in env.items.iter().zip(&payloads) {
                prop_assert_eq!(&i.payload, p.as_bytes());
            }
        }
    }
}
