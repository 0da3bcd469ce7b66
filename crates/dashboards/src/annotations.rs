//! Grafana's built-in annotations store: events with a time (or a time region), text, tags and
//! an optional dashboard/panel, kept in `<data>/dashboards/annotations.jsonl` (a `{"nextId"}`
//! line so ids are never reused, then one annotation a line; the whole file rewritten atomically on every change, so a `kill -9` leaves either the
//! old or the new file). Query semantics follow Grafana's `GET /api/annotations`. No HTTP here.

use crate::store::write_atomic;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One stored annotation, in Grafana's JSON shape.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Annotation {
    pub id: i64,
    pub alert_id: i64,
    pub alert_name: String,
    pub dashboard_id: i64,
    #[serde(rename = "dashboardUID")]
    pub dashboard_uid: String,
    pub panel_id: i64,
    pub user_id: i64,
    pub new_state: String,
    pub prev_state: String,
    /// Unix ms of creation.
    pub created: i64,
    /// Unix ms of the last change.
    pub updated: i64,
    /// Unix ms; `time_end == time` is a point, larger is a region.
    pub time: i64,
    pub time_end: i64,
    pub text: String,
    pub tags: Vec<String>,
    pub login: String,
    pub email: String,
    pub avatar_url: String,
    pub data: serde_json::Value,
}

/// The fields a create/update request may carry (absent = not given).
#[derive(Clone, Debug, Default)]
pub struct Change {
    pub time: Option<i64>,
    pub time_end: Option<i64>,
    pub text: Option<String>,
    pub tags: Option<Vec<String>>,
    pub dashboard_uid: Option<String>,
    pub dashboard_id: Option<i64>,
    pub panel_id: Option<i64>,
    pub data: Option<serde_json::Value>,
}

/// `GET /api/annotations` filters (Grafana's names).
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Unix ms; events ending before `from` are left out.
    pub from: Option<i64>,
    /// Unix ms; events starting after `to` are left out.
    pub to: Option<i64>,
    pub dashboard_uid: Option<String>,
    pub dashboard_id: Option<i64>,
    pub panel_id: Option<i64>,
    pub alert_id: Option<i64>,
    /// All of them must be on the annotation (any of them with `match_any`).
    pub tags: Vec<String>,
    pub match_any: bool,
    /// `alert` (alert annotations only) or `annotation` (the others).
    pub kind: Option<String>,
    /// Default 100, as in Grafana.
    pub limit: Option<usize>,
}

/// A refused change.
#[derive(Debug, PartialEq)]
pub enum AnnotationError {
    NotFound,
    BadRequest(String),
    Io(String),
}

/// The annotation store.
pub struct Annotations {
    path: PathBuf,
    inner: RwLock<Inner>,
}

struct Inner {
    by_id: BTreeMap<i64, Annotation>,
    next_id: i64,
}

impl Annotations {
    /// Opens `<db_dir>/annotations.jsonl` (missing = empty; a broken line is skipped and logged).
    pub fn open(db_dir: &Path) -> Annotations {
        let path = db_dir.join("annotations.jsonl");
        let mut by_id = BTreeMap::new();
        let mut next_id = 1;
        if let Ok(text) = std::fs::read_to_string(&path) {
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let parsed = serde_json::from_str::<serde_json::Value>(line).and_then(|v| match v
                    .get("nextId")
                    .and_then(serde_json::Value::as_i64)
                {
                    Some(n) => Ok(Err(n)),
                    None => serde_json::from_value::<Annotation>(v).map(Ok),
                });
                match parsed {
                    Ok(Ok(a)) => {
                        by_id.insert(a.id, a);
                    }
                    Ok(Err(n)) => next_id = next_id.max(n),
                    Err(e) => tracing::warn!("{}:{}: {e}; skipped", path.display(), i + 1),
                }
            }
        }
        let next_id = next_id.max(by_id.keys().next_back().copied().unwrap_or(0) + 1);
        Annotations {
            path,
            inner: RwLock::new(Inner { by_id, next_id }),
        }
    }

    fn persist(&self, inner: &Inner) -> Result<(), AnnotationError> {
        let mut out = format!("{{\"nextId\":{}}}\n", inner.next_id).into_bytes();
        for a in inner.by_id.values() {
            serde_json::to_writer(&mut out, a).map_err(|e| AnnotationError::Io(e.to_string()))?;
            out.push(b'\n');
        }
        write_atomic(&self.path, &out)
            .map_err(|e| AnnotationError::Io(format!("cannot write {}: {e}", self.path.display())))
    }

    /// Adds an annotation (Grafana: `text` required; `time` 0/absent = now; `timeEnd` absent =
    /// `time`). Returns its id.
    pub fn create(&self, c: Change, now_ms: i64) -> Result<i64, AnnotationError> {
        let text = c.text.unwrap_or_default();
        if text.trim().is_empty() {
            return Err(AnnotationError::BadRequest(
                "Text field should not be empty".into(),
            ));
        }
        let time = c.time.filter(|t| *t > 0).unwrap_or(now_ms);
        let time_end = c.time_end.filter(|t| *t > 0).unwrap_or(time);
        if time_end < time {
            return Err(AnnotationError::BadRequest(
                "timeEnd must not be before time".into(),
            ));
        }
        let mut inner = self.inner.write();
        let id = inner.next_id;
        let a = Annotation {
            id,
            dashboard_id: c.dashboard_id.unwrap_or(0),
            dashboard_uid: c.dashboard_uid.unwrap_or_default(),
            panel_id: c.panel_id.unwrap_or(0),
            created: now_ms,
            updated: now_ms,
            time,
            time_end,
            text,
            tags: clean_tags(c.tags.unwrap_or_default()),
            login: "admin".into(),
            data: c
                .data
                .unwrap_or(serde_json::Value::Object(Default::default())),
            ..Default::default()
        };
        inner.by_id.insert(id, a);
        inner.next_id += 1;
        if let Err(e) = self.persist(&inner) {
            inner.by_id.remove(&id);
            inner.next_id -= 1;
            return Err(e);
        }
        Ok(id)
    }

    /// `PUT` (`replace`: every editable field from `c`, absent = empty/now) or `PATCH` (only the
    /// fields given).
    pub fn update(
        &self,
        id: i64,
        c: Change,
        replace: bool,
        now_ms: i64,
    ) -> Result<(), AnnotationError> {
        let mut inner = self.inner.write();
        let Some(old) = inner.by_id.get(&id).cloned() else {
            return Err(AnnotationError::NotFound);
        };
        let mut a = old.clone();
        if replace {
            let text = c.text.clone().unwrap_or_default();
            if text.trim().is_empty() {
                return Err(AnnotationError::BadRequest(
                    "Text field should not be empty".into(),
                ));
            }
            a.text = text;
            a.time = c.time.filter(|t| *t > 0).unwrap_or(old.time);
            a.time_end = c.time_end.filter(|t| *t > 0).unwrap_or(a.time);
            a.tags = clean_tags(c.tags.unwrap_or_default());
        } else {
            if let Some(t) = c.text {
                a.text = t;
            }
            if let Some(t) = c.time.filter(|t| *t > 0) {
                a.time = t;
                if c.time_end.is_none() && a.time_end < t {
                    a.time_end = t;
                }
            }
            if let Some(t) = c.time_end.filter(|t| *t > 0) {
                a.time_end = t;
            }
            if let Some(t) = c.tags {
                a.tags = clean_tags(t);
            }
        }
        if let Some(d) = c.data {
            a.data = d;
        }
        if a.time_end < a.time {
            return Err(AnnotationError::BadRequest(
                "timeEnd must not be before time".into(),
            ));
        }
        a.updated = now_ms;
        inner.by_id.insert(id, a);
        if let Err(e) = self.persist(&inner) {
            inner.by_id.insert(id, old);
            return Err(e);
        }
        Ok(())
    }

    /// Removes an annotation.
    pub fn delete(&self, id: i64) -> Result<(), AnnotationError> {
        let mut inner = self.inner.write();
        let Some(old) = inner.by_id.remove(&id) else {
            return Err(AnnotationError::NotFound);
        };
        if let Err(e) = self.persist(&inner) {
            inner.by_id.insert(id, old);
            return Err(e);
        }
        Ok(())
    }

    /// One annotation.
    pub fn get(&self, id: i64) -> Option<Annotation> {
        self.inner.read().by_id.get(&id).cloned()
    }

    /// The annotations matching `q`, newest first (Grafana's order), at most `limit`.
    pub fn find(&self, q: &Query) -> Vec<Annotation> {
        let inner = self.inner.read();
        let mut out: Vec<Annotation> = inner
            .by_id
            .values()
            .filter(|a| matches(a, q))
            .cloned()
            .collect();
        out.sort_by_key(|a| std::cmp::Reverse((a.time, a.time_end, a.id)));
        out.truncate(q.limit.unwrap_or(100));
        out
    }

    /// Every tag with its number of annotations, optionally only tags containing `filter`,
    /// most used first, at most `limit`.
    pub fn tags(&self, filter: &str, limit: usize) -> Vec<(String, usize)> {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for a in self.inner.read().by_id.values() {
            for t in &a.tags {
                if filter.is_empty() || t.contains(filter) {
                    *counts.entry(t.clone()).or_default() += 1;
                }
            }
        }
        let mut v: Vec<(String, usize)> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(limit);
        v
    }
}

fn clean_tags(tags: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim().to_string();
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

fn matches(a: &Annotation, q: &Query) -> bool {
    if q.from.is_some_and(|f| a.time_end.max(a.time) < f) || q.to.is_some_and(|t| a.time > t) {
        return false;
    }
    if q.dashboard_uid
        .as_deref()
        .is_some_and(|u| !u.is_empty() && a.dashboard_uid != u)
    {
        return false;
    }
    if q.dashboard_id
        .is_some_and(|d| d != 0 && a.dashboard_id != d)
    {
        return false;
    }
    if q.panel_id.is_some_and(|p| p != 0 && a.panel_id != p) {
        return false;
    }
    if q.alert_id.is_some_and(|x| x != 0 && a.alert_id != x) {
        return false;
    }
    match q.kind.as_deref() {
        Some("alert") if a.alert_id == 0 => return false,
        Some("annotation") if a.alert_id != 0 => return false,
        _ => {}
    }
    if !q.tags.is_empty() {
        let has = |t: &String| a.tags.contains(t);
        let ok = if q.match_any {
            q.tags.iter().any(has)
        } else {
            q.tags.iter().all(has)
        };
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(text: &str, time: i64, tags: &[&str]) -> Change {
        Change {
            time: Some(time),
            text: Some(text.into()),
            tags: Some(tags.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn create_find_update_delete_reopen() {
        let d = tempfile::tempdir().unwrap();
        let s = Annotations::open(d.path());
        let a = s
            .create(change("deploy", 1000, &["deploy", "v2"]), 5)
            .unwrap();
        let mut c = change("outage", 2000, &["incident"]);
        c.time_end = Some(3000);
        c.dashboard_uid = Some("dash".into());
        c.panel_id = Some(4);
        let b = s.create(c, 6).unwrap();
        assert_eq!(
            s.create(change(" ", 1, &[]), 7),
            Err(AnnotationError::BadRequest(
                "Text field should not be empty".into()
            ))
        );
        // Newest first; range overlaps; tags all/any; dashboard filter.
        let all = s.find(&Query::default());
        assert_eq!(all.iter().map(|x| x.id).collect::<Vec<_>>(), [b, a]);
        let q = Query {
            from: Some(2500),
            to: Some(4000),
            ..Default::default()
        };
        assert_eq!(s.find(&q).len(), 1);
        let q = Query {
            tags: vec!["deploy".into(), "nope".into()],
            ..Default::default()
        };
        assert!(s.find(&q).is_empty());
        let q = Query {
            tags: vec!["deploy".into(), "nope".into()],
            match_any: true,
            ..Default::default()
        };
        assert_eq!(s.find(&q)[0].id, a);
        let q = Query {
            dashboard_uid: Some("dash".into()),
            ..Default::default()
        };
        assert_eq!(s.find(&q)[0].id, b);
        s.update(
            a,
            Change {
                text: Some("deploy v3".into()),
                ..Default::default()
            },
            false,
            9,
        )
        .unwrap();
        assert_eq!(s.get(a).unwrap().tags, ["deploy", "v2"]);
        s.update(a, change("deploy v4", 1500, &["x"]), true, 10)
            .unwrap();
        assert_eq!(s.tags("", 10), [("incident".into(), 1), ("x".into(), 1)]);
        s.delete(b).unwrap();
        assert_eq!(s.delete(b), Err(AnnotationError::NotFound));
        let again = Annotations::open(d.path());
        let got = again.get(a).unwrap();
        assert_eq!(
            (got.text.as_str(), got.time, got.updated),
            ("deploy v4", 1500, 10)
        );
        assert!(again.get(b).is_none());
        // Ids are never reused, even the deleted newest one's.
        assert_eq!(again.create(change("n", 1, &[]), 1).unwrap(), b + 1);
    }
}
