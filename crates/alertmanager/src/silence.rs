//! Silences: matcher sets that mute alerts between `startsAt` and `endsAt`, with Alertmanager's
//! validation, update-or-replace semantics on re-POST, expiry, states (pending, active,
//! expired), garbage collection after the retention, and a snapshot file so a restart keeps them.

use crate::persist;
use model::{LabelMatcher, MatchOp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// How long expired silences are kept (Alertmanager's `--data.retention` default, 120h).
pub const RETENTION_MS: i64 = 120 * 3_600_000;

/// A matcher as the API and the snapshot carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceMatcher {
    pub name: String,
    pub value: String,
    #[serde(rename = "isRegex")]
    pub is_regex: bool,
    #[serde(rename = "isEqual", default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

impl SilenceMatcher {
    pub fn to_matcher(&self) -> Result<LabelMatcher, String> {
        let op = match (self.is_regex, self.is_equal) {
            (false, true) => MatchOp::Equal,
            (false, false) => MatchOp::NotEqual,
            (true, true) => MatchOp::RegexMatch,
            (true, false) => MatchOp::RegexNoMatch,
        };
        LabelMatcher::new(self.name.clone(), op, self.value.clone()).map_err(|e| e.to_string())
    }
}

/// A silence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<SilenceMatcher>,
    #[serde(rename = "startsAt")]
    pub starts_at: i64,
    #[serde(rename = "endsAt")]
    pub ends_at: i64,
    #[serde(rename = "updatedAt")]
    pub updated_at: i64,
    #[serde(rename = "createdBy")]
    pub created_by: String,
    pub comment: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SilenceState {
    Pending,
    Active,
    Expired,
}

impl SilenceState {
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
            SilenceState::Expired => "expired",
        }
    }
}

impl Silence {
    pub fn state(&self, now: i64) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now < self.ends_at {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }
}

/// Why a silence operation failed; maps to the API's status codes.
#[derive(Debug, PartialEq, Eq)]
pub enum SilenceError {
    /// 400
    Invalid(String),
    /// 404
    NotFound(String),
    /// 500 (e.g. the snapshot cannot be written)
    Internal(String),
}

impl std::fmt::Display for SilenceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SilenceError::Invalid(m) | SilenceError::NotFound(m) | SilenceError::Internal(m) => {
                f.write_str(m)
            }
        }
    }
}

struct Compiled {
    silence: Silence,
    matchers: Vec<LabelMatcher>,
}

/// All silences, persisted to `<dir>/silences.json`.
pub struct Silences {
    by_id: HashMap<String, Compiled>,
    path: Option<PathBuf>,
}

fn new_id() -> String {
    let mut b = [0u8; 16];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_ok();
    if !ok {
        // Fall back to time and address entropy; ids only need to be unique locally.
        let t = model::time::now_ms() as u128 ^ ((&b as *const _ as usize as u128) << 64);
        b = t.to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn validate(s: &Silence) -> Result<Vec<LabelMatcher>, SilenceError> {
    if s.matchers.is_empty() {
        return Err(SilenceError::Invalid(
            "invalid silence: at least one matcher required".into(),
        ));
    }
    let mut out = Vec::new();
    for m in &s.matchers {
        if m.name.is_empty() {
            return Err(SilenceError::Invalid(
                "invalid silence: invalid label matcher: invalid label name \"\"".into(),
            ));
        }
        out.push(
            m.to_matcher()
                .map_err(|e| SilenceError::Invalid(format!("invalid silence: {e}")))?,
        );
    }
    if out.iter().all(|m| m.matches_empty()) {
        return Err(SilenceError::Invalid(
            "invalid silence: at least one matcher must not match the empty string".into(),
        ));
    }
    if s.ends_at <= s.starts_at {
        return Err(SilenceError::Invalid(
            "invalid silence: end time must not be before start time".into(),
        ));
    }
    Ok(out)
}

impl Silences {
    /// Opens the snapshot in `dir` (or starts empty; `None` = memory only).
    pub fn open(dir: Option<PathBuf>) -> Result<Self, String> {
        let path = dir.map(|d| d.join("silences.json"));
        let mut by_id = HashMap::new();
        if let Some(p) = &path {
            if let Some(bytes) = persist::read(p).map_err(|e| format!("{}: {e}", p.display()))? {
                let list: Vec<Silence> = serde_json::from_slice(&bytes)
                    .map_err(|e| format!("{}: corrupt silence snapshot: {e}", p.display()))?;
                for s in list {
                    let matchers = s
                        .matchers
                        .iter()
                        .filter_map(|m| m.to_matcher().ok())
                        .collect();
                    by_id.insert(
                        s.id.clone(),
                        Compiled {
                            silence: s,
                            matchers,
                        },
                    );
                }
            }
        }
        Ok(Silences { by_id, path })
    }

    fn save(&self) -> Result<(), SilenceError> {
        let Some(p) = &self.path else { return Ok(()) };
        let mut list: Vec<&Silence> = self.by_id.values().map(|c| &c.silence).collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        let bytes = serde_json::to_vec(&list).map_err(|e| SilenceError::Internal(e.to_string()))?;
        persist::write_atomic(p, &bytes)
            .map_err(|e| SilenceError::Internal(format!("persisting silences: {e}")))
    }

    /// Creates a silence, or updates the one with `s.id`. Returns the (possibly new) id.
    pub fn set(&mut self, mut s: Silence, now: i64) -> Result<String, SilenceError> {
        let matchers = validate(&s)?;
        s.updated_at = now;
        if !s.id.is_empty() {
            let Some(prev) = self.by_id.get(&s.id) else {
                return Err(SilenceError::NotFound(format!(
                    "silence {} not found",
                    s.id
                )));
            };
            let prev_state = prev.silence.state(now);
            // Alertmanager updates in place when the silence is not expired and its matchers
            // and (for active silences) start are unchanged; otherwise the old one is expired
            // and a new one created.
            let in_place = prev_state != SilenceState::Expired
                && prev.silence.matchers == s.matchers
                && (prev_state == SilenceState::Pending || prev.silence.starts_at == s.starts_at)
                && s.ends_at > now;
            if in_place {
                if prev_state == SilenceState::Pending && s.starts_at < now {
                    s.starts_at = now;
                }
                let id = s.id.clone();
                self.by_id.insert(
                    id.clone(),
                    Compiled {
                        silence: s,
                        matchers,
                    },
                );
                self.save()?;
                return Ok(id);
            }
            if prev_state != SilenceState::Expired {
                self.expire_inner(&s.id.clone(), now);
            }
        }
        if s.ends_at <= now {
            return Err(SilenceError::Invalid(
                "invalid silence: end time can't be in the past".into(),
            ));
        }
        if s.starts_at < now {
            s.starts_at = now;
        }
        s.id = new_id();
        let id = s.id.clone();
        self.by_id.insert(
            id.clone(),
            Compiled {
                silence: s,
                matchers,
            },
        );
        self.save()?;
        Ok(id)
    }

    fn expire_inner(&mut self, id: &str, now: i64) {
        if let Some(c) = self.by_id.get_mut(id) {
            if c.silence.state(now) == SilenceState::Pending {
                c.silence.starts_at = now;
            }
            c.silence.ends_at = now;
            c.silence.updated_at = now;
        }
    }

    /// Expires a silence (`DELETE /api/v2/silence/{id}`).
    pub fn expire(&mut self, id: &str, now: i64) -> Result<(), SilenceError> {
        let Some(c) = self.by_id.get(id) else {
            return Err(SilenceError::NotFound(format!("silence {id} not found")));
        };
        if c.silence.state(now) == SilenceState::Expired {
            return Err(SilenceError::Internal(format!(
                "silence {id} already expired"
            )));
        }
        self.expire_inner(id, now);
        self.save()
    }

    pub fn get(&self, id: &str) -> Option<&Silence> {
        self.by_id.get(id).map(|c| &c.silence)
    }

    pub fn all(&self) -> Vec<Silence> {
        self.by_id.values().map(|c| c.silence.clone()).collect()
    }

    /// Ids of the active silences that mute `labels`, sorted.
    pub fn silenced_by(&self, labels: &BTreeMap<String, String>, now: i64) -> Vec<String> {
        let mut ids: Vec<String> = self
            .by_id
            .values()
            .filter(|c| c.silence.state(now) == SilenceState::Active)
            .filter(|c| {
                c.matchers
                    .iter()
                    .all(|m| m.matches(labels.get(&m.name).map(String::as_str).unwrap_or("")))
            })
            .map(|c| c.silence.id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Drops silences expired longer than the retention ago.
    pub fn gc(&mut self, now: i64) {
        let before = self.by_id.len();
        self.by_id
            .retain(|_, c| c.silence.ends_at + RETENTION_MS > now);
        if self.by_id.len() != before {
            let _ = self.save();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sil(m: &[(&str, &str, bool, bool)], start: i64, end: i64) -> Silence {
        Silence {
            id: String::new(),
            matchers: m
                .iter()
                .map(|(n, v, r, e)| SilenceMatcher {
                    name: n.to_string(),
                    value: v.to_string(),
                    is_regex: *r,
                    is_equal: *e,
                })
                .collect(),
            starts_at: start,
            ends_at: end,
            updated_at: 0,
            created_by: "me".into(),
            comment: "c".into(),
        }
    }

    fn labels(p: &[(&str, &str)]) -> BTreeMap<String, String> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn lifecycle_and_persistence() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Silences::open(Some(dir.path().to_path_buf())).unwrap();
        let id = s
            .set(
                sil(
                    &[
                        ("alertname", "A.*", true, true),
                        ("env", "dev", false, false),
                    ],
                    0,
                    1000,
                ),
                10,
            )
            .unwrap();
        assert_eq!(id.len(), 36);
        let l = labels(&[("alertname", "Abc"), ("env", "prod")]);
        assert_eq!(s.silenced_by(&l, 20), vec![id.clone()]);
        assert!(s
            .silenced_by(&labels(&[("alertname", "Abc"), ("env", "dev")]), 20)
            .is_empty());
        // Survives a restart.
        let mut s2 = Silences::open(Some(dir.path().to_path_buf())).unwrap();
        assert_eq!(s2.silenced_by(&l, 20), vec![id.clone()]);
        // Update in place (end time only).
        let mut upd = s2.get(&id).unwrap().clone();
        upd.ends_at = 2000;
        assert_eq!(s2.set(upd, 30).unwrap(), id);
        // Changing matchers replaces it.
        let mut upd = s2.get(&id).unwrap().clone();
        upd.matchers[0].value = "B".into();
        let new_id = s2.set(upd, 40).unwrap();
        assert_ne!(new_id, id);
        assert_eq!(s2.get(&id).unwrap().state(41), SilenceState::Expired);
        s2.expire(&new_id, 50).unwrap();
        assert!(s2.expire(&new_id, 60).is_err());
        assert!(matches!(
            s2.expire("nope", 60),
            Err(SilenceError::NotFound(_))
        ));
        s2.gc(50 + RETENTION_MS + 1);
        assert!(s2.get(&new_id).is_none());
    }

    #[test]
    fn validation() {
        let mut s = Silences::open(None).unwrap();
        assert!(matches!(
            s.set(sil(&[], 0, 10), 0),
            Err(SilenceError::Invalid(_))
        ));
        assert!(matches!(
            s.set(sil(&[("a", ".*", true, true)], 0, 10), 0),
            Err(SilenceError::Invalid(_))
        ));
        assert!(matches!(
            s.set(sil(&[("a", "(", true, true)], 0, 10), 0),
            Err(SilenceError::Invalid(_))
        ));
        assert!(matches!(
            s.set(sil(&[("a", "b", false, true)], 10, 5), 0),
            Err(SilenceError::Invalid(_))
        ));
        assert!(matches!(
            s.set(sil(&[("a", "b", false, true)], 0, 5), 10),
            Err(SilenceError::Invalid(_))
        ));
        let mut with_id = sil(&[("a", "b", false, true)], 0, 50);
        with_id.id = "unknown".into();
        assert!(matches!(s.set(with_id, 0), Err(SilenceError::NotFound(_))));
    }
}
