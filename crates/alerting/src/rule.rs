//! Rule groups and their evaluation, following Prometheus' `rules` package: recording rules
//! write their result back; alerting rules move alerts pending → firing → inactive (resolved,
//! kept 15m for re-sending), honour `for`, `keep_firing_for`, `limit` and `query_offset`, write
//! `ALERTS`/`ALERTS_FOR_STATE`, and restore `for` state after a restart. Stale markers end
//! series a rule stops producing. The evaluation loop and sending live in `manager.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use model::{
    LabelMatcher, Labels, LabelsBuilder, LogRuleQuerier, MetricSink, Queryable, Sample, METRIC_NAME,
};
use promql::Engine;

use crate::rulefmt::{GroupDef, RuleDef};
use crate::template::{self, QueryFn, TemplateData};

/// How long a resolved alert is still sent to Alertmanager (Prometheus' `resolvedRetention`).
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60_000;

/// State of one alert instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    /// Prometheus' name of the state.
    pub fn as_str(&self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert instance of an alerting rule.
#[derive(Clone, Debug)]
pub struct ActiveAlert {
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    pub state: AlertState,
    pub value: f64,
    pub active_at: i64,
    pub fired_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub last_sent_at: Option<i64>,
    pub valid_until: i64,
    pub keep_firing_since: Option<i64>,
}

impl ActiveAlert {
    fn needs_sending(&self, ts: i64, resend_delay_ms: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        match (self.resolved_at, self.last_sent_at) {
            (Some(r), Some(l)) if r > l => return true,
            (Some(_), None) => return true,
            _ => {}
        }
        match self.last_sent_at {
            None => true,
            Some(l) => l + resend_delay_ms < ts,
        }
    }
}

/// Health of a rule after its last evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Unknown,
    Ok,
    Err,
}

impl Health {
    pub fn as_str(&self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Ok => "ok",
            Health::Err => "err",
        }
    }
}

/// What both rule kinds share.
#[derive(Clone, Debug)]
pub struct RuleCommon {
    pub name: String,
    pub expr: String,
    pub labels: BTreeMap<String, String>,
    pub health: Health,
    pub last_error: Option<String>,
    pub last_eval_ms: Option<i64>,
    pub eval_seconds: f64,
    /// Series written at the previous evaluation (for stale markers).
    prev_series: BTreeSet<Labels>,
}

/// An alerting rule with its alerts.
#[derive(Clone, Debug)]
pub struct AlertingRule {
    pub common: RuleCommon,
    pub for_ms: i64,
    pub keep_firing_for_ms: i64,
    pub annotations: BTreeMap<String, String>,
    pub active: BTreeMap<Labels, ActiveAlert>,
    /// ALERTS series are only written once `for` state has been restored (as Prometheus).
    pub restored: bool,
}

/// A recording rule.
#[derive(Clone, Debug)]
pub struct RecordingRule {
    pub common: RuleCommon,
}

/// Either kind.
#[derive(Clone, Debug)]
pub enum Rule {
    Alerting(AlertingRule),
    Recording(RecordingRule),
}

impl Rule {
    pub fn common(&self) -> &RuleCommon {
        match self {
            Rule::Alerting(a) => &a.common,
            Rule::Recording(r) => &r.common,
        }
    }

    fn common_mut(&mut self) -> &mut RuleCommon {
        match self {
            Rule::Alerting(a) => &mut a.common,
            Rule::Recording(r) => &mut r.common,
        }
    }

    /// Identity used to carry state over a reload (same kind, name, expr, labels, for...).
    fn same_definition(&self, o: &Rule) -> bool {
        match (self, o) {
            (Rule::Alerting(a), Rule::Alerting(b)) => {
                a.common.name == b.common.name
                    && a.common.expr == b.common.expr
                    && a.common.labels == b.common.labels
                    && a.for_ms == b.for_ms
                    && a.keep_firing_for_ms == b.keep_firing_for_ms
                    && a.annotations == b.annotations
            }
            (Rule::Recording(a), Rule::Recording(b)) => {
                a.common.name == b.common.name
                    && a.common.expr == b.common.expr
                    && a.common.labels == b.common.labels
            }
            _ => false,
        }
    }
}

/// Everything a group evaluation reads from and writes to.
pub struct EvalContext<'a> {
    pub engine: &'a Engine,
    pub storage: SharedStorage,
    pub sink: &'a dyn MetricSink,
    pub external_labels: &'a BTreeMap<String, String>,
    pub external_url: &'a str,
    /// Set for a LogQL group: rule expressions are LogQL, evaluated by this querier for this
    /// tenant (Loki's ruler) instead of PromQL over `storage`.
    pub logql: Option<(&'a dyn LogRuleQuerier, &'a str)>,
}

impl EvalContext<'_> {
    /// The rule expression's instant vector at `ts` (PromQL, or LogQL for a LogQL group).
    fn rule_query(&self, expr: &str, ts: i64) -> Result<Vec<(Labels, f64)>, String> {
        match self.logql {
            Some((q, tenant)) => q.instant(tenant, expr, ts),
            None => query_vector(self.engine, self.storage.as_ref(), expr, ts),
        }
    }
}

/// A rule group.
#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    pub file: PathBuf,
    pub interval_ms: i64,
    pub limit: usize,
    pub query_offset_ms: i64,
    pub rules: Vec<Rule>,
    pub last_eval_ms: Option<i64>,
    pub eval_seconds: f64,
    /// `Some(tenant)` for a group of a LogQL rule file (expressions are LogQL over the logs of
    /// that tenant, as Loki's ruler evaluates them).
    pub logql_tenant: Option<String>,
    /// `Some(tenant)` for a group of a tenant's PromQL rule file (Mimir's ruler): it reads and
    /// writes that tenant's series only (see `manager::TenantScope`).
    pub tenant: Option<String>,
}

impl Group {
    /// Build a group from its definition; `default_interval_ms` is `global.evaluation_interval`.
    pub fn from_def(
        file: PathBuf,
        def: &GroupDef,
        default_interval_ms: i64,
        restored: bool,
    ) -> Group {
        let rules = def
            .rules
            .iter()
            .map(|r| rule_from_def(r, &def.labels, restored))
            .collect();
        Group {
            name: def.name.clone(),
            file,
            interval_ms: def
                .interval
                .map(|d| d.0)
                .filter(|d| *d > 0)
                .unwrap_or(default_interval_ms),
            limit: def.limit,
            query_offset_ms: def.query_offset.map(|d| d.0).unwrap_or(0),
            rules,
            last_eval_ms: None,
            eval_seconds: 0.0,
            logql_tenant: None,
            tenant: None,
        }
    }

    /// Take over the state of rules of `old` with identical definitions (reload).
    pub fn copy_state_from(&mut self, old: &Group) {
        self.last_eval_ms = old.last_eval_ms;
        self.eval_seconds = old.eval_seconds;
        let mut used = vec![false; old.rules.len()];
        for r in self.rules.iter_mut() {
            if let Some(i) = old
                .rules
                .iter()
                .enumerate()
                .position(|(i, o)| !used[i] && o.same_definition(r))
            {
                used[i] = true;
                *r = old.rules[i].clone();
            }
        }
    }

    /// Evaluate every rule at `ts_ms`; returns the alerts to send to Alertmanager.
    pub fn eval(
        &mut self,
        ctx: &EvalContext<'_>,
        ts_ms: i64,
        resend_delay_ms: i64,
    ) -> Vec<model::Alert> {
        let start = std::time::Instant::now();
        let mut to_send = Vec::new();
        let offset = self.query_offset_ms;
        let limit = self.limit;
        let interval = self.interval_ms;
        for rule in self.rules.iter_mut() {
            let rstart = std::time::Instant::now();
            let result = match rule {
                Rule::Recording(r) => eval_recording(r, ctx, ts_ms, offset, limit),
                Rule::Alerting(a) => eval_alerting(a, ctx, ts_ms, offset, limit),
            };
            let c = rule.common_mut();
            c.last_eval_ms = Some(ts_ms);
            c.eval_seconds = rstart.elapsed().as_secs_f64();
            let series = match result {
                Ok(s) => {
                    c.health = Health::Ok;
                    c.last_error = None;
                    s
                }
                Err(e) => {
                    c.health = Health::Err;
                    c.last_error = Some(e);
                    Vec::new()
                }
            };
            write_with_staleness(ctx.sink, c, series, ts_ms - offset);
            if let Rule::Alerting(a) = rule {
                to_send.extend(collect_to_send(
                    a,
                    ts_ms,
                    resend_delay_ms,
                    interval,
                    ctx.external_url,
                ));
            }
        }
        self.last_eval_ms = Some(ts_ms);
        self.eval_seconds = start.elapsed().as_secs_f64();
        to_send
    }

    /// Restore `for` state from `ALERTS_FOR_STATE` (Prometheus' `RestoreForState`): only rules with
    /// `for >= grace`, looking back `outage_tolerance_ms`.
    pub fn restore_for_state(
        &mut self,
        storage: &dyn Queryable,
        ts_ms: i64,
        outage_tolerance_ms: i64,
        grace_ms: i64,
    ) {
        for rule in self.rules.iter_mut() {
            let Rule::Alerting(a) = rule else { continue };
            if a.for_ms < grace_ms {
                a.restored = true;
                continue;
            }
            for alert in a.active.values_mut() {
                let mut matchers = vec![LabelMatcher::equal(METRIC_NAME, "ALERTS_FOR_STATE")];
                for l in alert.labels.iter() {
                    matchers.push(LabelMatcher::equal(&l.name, &l.value));
                }
                let Ok(series) = storage.select(&matchers, ts_ms - outage_tolerance_ms, ts_ms)
                else {
                    continue;
                };
                let Some(last) = series
                    .iter()
                    .filter(|s| s.labels.len() == alert.labels.len() + 1)
                    .filter_map(|s| s.samples.iter().rev().find(|x| !model::is_stale_nan(x.v)))
                    .max_by_key(|s| s.t)
                else {
                    continue;
                };
                let down_at = last.t;
                let mut restored_active_at = (last.v * 1000.0) as i64;
                let spent = down_at - restored_active_at;
                let remaining = a.for_ms - spent;
                if remaining <= 0 {
                    // was firing; next evaluation sets it firing again
                } else if remaining < grace_ms {
                    restored_active_at = ts_ms + grace_ms - a.for_ms;
                } else {
                    restored_active_at += ts_ms - down_at;
                }
                alert.active_at = restored_active_at;
            }
            a.restored = true;
        }
    }

    /// Series the group's rules wrote at their last evaluation (stale-marked when the group goes away).
    pub fn written_series(&self) -> Vec<Labels> {
        self.rules
            .iter()
            .flat_map(|r| r.common().prev_series.iter().cloned())
            .collect()
    }

    /// Mark every alerting rule restored (no restore pass wanted, e.g. rule unit tests).
    pub fn set_restored(&mut self) {
        for r in self.rules.iter_mut() {
            if let Rule::Alerting(a) = r {
                a.restored = true;
            }
        }
    }
}

fn rule_from_def(r: &RuleDef, group_labels: &BTreeMap<String, String>, restored: bool) -> Rule {
    let mut labels = group_labels.clone();
    labels.extend(r.labels.clone());
    let common = RuleCommon {
        name: r.name().to_string(),
        expr: r.expr_text(),
        labels,
        health: Health::Unknown,
        last_error: None,
        last_eval_ms: None,
        eval_seconds: 0.0,
        prev_series: BTreeSet::new(),
    };
    if r.alert.is_some() {
        Rule::Alerting(AlertingRule {
            common,
            for_ms: r.for_.map(|d| d.0).unwrap_or(0),
            keep_firing_for_ms: r.keep_firing_for.map(|d| d.0).unwrap_or(0),
            annotations: r.annotations.clone(),
            active: BTreeMap::new(),
            restored,
        })
    } else {
        Rule::Recording(RecordingRule { common })
    }
}

/// Instant query returning a vector (scalars become one sample without labels), as
/// Prometheus' `EngineQueryFunc`.
pub fn query_vector(
    engine: &Engine,
    storage: &dyn Queryable,
    expr: &str,
    ts: i64,
) -> Result<Vec<(Labels, f64)>, String> {
    let res = engine
        .instant_query(storage, expr, ts)
        .map_err(|e| e.to_string())?;
    match res.value {
        promql::Value::Vector(v) => Ok(v.into_iter().map(|s| (s.labels, s.v)).collect()),
        promql::Value::Scalar { v, .. } => Ok(vec![(Labels::empty(), v)]),
        _ => Err("rule result is not a vector or scalar".into()),
    }
}

fn eval_recording(
    r: &RecordingRule,
    ctx: &EvalContext<'_>,
    ts: i64,
    offset: i64,
    limit: usize,
) -> Result<Vec<(Labels, f64)>, String> {
    let v = ctx.rule_query(&r.common.expr, ts - offset)?;
    let mut out = Vec::with_capacity(v.len());
    let mut seen = BTreeSet::new();
    for (labels, val) in v {
        let mut b: LabelsBuilder = labels.builder();
        b.set(METRIC_NAME, r.common.name.clone());
        for (k, lv) in &r.common.labels {
            if lv.is_empty() {
                b.del(k);
            } else {
                b.set(k.clone(), lv.clone());
            }
        }
        let l = b.build();
        if !seen.insert(l.clone()) {
            return Err(
                "vector contains metrics with the same labelset after applying rule labels".into(),
            );
        }
        out.push((l, val));
    }
    if limit > 0 && out.len() > limit {
        return Err(format!(
            "exceeded limit of {limit} with {} series",
            out.len()
        ));
    }
    Ok(out)
}

fn labels_map(l: &Labels) -> BTreeMap<String, String> {
    l.iter()
        .map(|x| (x.name.clone(), x.value.clone()))
        .collect()
}

fn eval_alerting(
    a: &mut AlertingRule,
    ctx: &EvalContext<'_>,
    ts: i64,
    offset: i64,
    limit: usize,
) -> Result<Vec<(Labels, f64)>, String> {
    let res = ctx.rule_query(&a.common.expr, ts - offset)?;
    let engine = ctx.engine.clone();
    let mut current: BTreeMap<Labels, ActiveAlert> = BTreeMap::new();
    for (labels, value) in res {
        let base = labels.without_metric_name();
        let data = TemplateData {
            labels: labels_map(&base),
            external_labels: ctx.external_labels.clone(),
            external_url: ctx.external_url.to_string(),
            value,
        };
        let qf = make_query_fn(&engine, &ctx.storage, ts);
        let mut b = base.builder();
        for (k, t) in &a.common.labels {
            let v = template::expand(&a.common.name, t, &data, qf.clone(), ts as f64 / 1000.0);
            if v.is_empty() {
                b.del(k);
            } else {
                b.set(k.clone(), v);
            }
        }
        b.set("alertname", a.common.name.clone());
        let final_labels = b.build();
        let annotations = a
            .annotations
            .iter()
            .map(|(k, t)| {
                (
                    k.clone(),
                    template::expand(&a.common.name, t, &data, qf.clone(), ts as f64 / 1000.0),
                )
            })
            .collect();
        if current.contains_key(&final_labels) {
            return Err(
                "vector contains metrics with the same labelset after applying alert labels".into(),
            );
        }
        current.insert(
            final_labels.clone(),
            ActiveAlert {
                labels: final_labels,
                annotations,
                state: AlertState::Pending,
                value,
                active_at: ts,
                fired_at: None,
                resolved_at: None,
                last_sent_at: None,
                valid_until: 0,
                keep_firing_since: None,
            },
        );
    }
    let seen: BTreeSet<Labels> = current.keys().cloned().collect();
    for (l, new) in current {
        match a.active.get_mut(&l) {
            Some(old) if old.state != AlertState::Inactive => {
                old.value = new.value;
                old.annotations = new.annotations;
            }
            _ => {
                a.active.insert(l, new);
            }
        }
    }
    let mut num_active = 0usize;
    let mut out = Vec::new();
    let mut remove = Vec::new();
    let for_ms = a.for_ms;
    let keep_for = a.keep_firing_for_ms;
    for (l, al) in a.active.iter_mut() {
        if !seen.contains(l) {
            let mut keep_firing = false;
            if al.state == AlertState::Firing && keep_for > 0 {
                let since = *al.keep_firing_since.get_or_insert(ts);
                if ts - since < keep_for {
                    keep_firing = true;
                }
            }
            if al.state == AlertState::Pending
                || al
                    .resolved_at
                    .is_some_and(|r| ts - r > RESOLVED_RETENTION_MS)
            {
                remove.push(l.clone());
            }
            if al.state != AlertState::Inactive && !keep_firing {
                al.state = AlertState::Inactive;
                al.resolved_at = Some(ts);
            }
            if !keep_firing {
                continue;
            }
        } else {
            al.keep_firing_since = None;
        }
        num_active += 1;
        if al.state == AlertState::Pending && ts - al.active_at >= for_ms {
            al.state = AlertState::Firing;
            al.fired_at = Some(ts);
        }
        if a.restored {
            let mut b = al.labels.builder();
            b.set(METRIC_NAME, "ALERTS");
            b.set("alertstate", al.state.as_str());
            out.push((b.build(), 1.0));
            let mut b = al.labels.builder();
            b.set(METRIC_NAME, "ALERTS_FOR_STATE");
            out.push((b.build(), (al.active_at / 1000) as f64));
        }
    }
    for l in remove {
        a.active.remove(&l);
    }
    if limit > 0 && num_active > limit {
        a.active.clear();
        return Err(format!(
            "exceeded limit of {limit} with {num_active} alerts"
        ));
    }
    Ok(out)
}

fn make_query_fn(engine: &Engine, storage: &SharedStorage, ts: i64) -> Option<QueryFn> {
    let engine = engine.clone();
    let storage = storage.clone();
    Some(Arc::new(move |q: &str| {
        let v = query_vector(&engine, storage.as_ref(), q, ts)?;
        Ok(v.into_iter().map(|(l, x)| (labels_map(&l), x)).collect())
    }))
}

fn write_with_staleness(
    sink: &dyn MetricSink,
    c: &mut RuleCommon,
    series: Vec<(Labels, f64)>,
    t: i64,
) {
    let mut batch: Vec<(Labels, Sample)> = Vec::with_capacity(series.len());
    let mut now = BTreeSet::new();
    for (l, v) in series {
        now.insert(l.clone());
        batch.push((l, Sample { t, v }));
    }
    for old in c.prev_series.iter() {
        if !now.contains(old) {
            batch.push((
                old.clone(),
                Sample {
                    t,
                    v: model::stale_nan(),
                },
            ));
        }
    }
    c.prev_series = now;
    if !batch.is_empty() {
        if let Err(e) = sink.append(&batch) {
            tracing::warn!(rule = %c.name, error = %e, "writing rule results failed");
        }
    }
}

fn collect_to_send(
    a: &mut AlertingRule,
    ts: i64,
    resend_delay_ms: i64,
    interval_ms: i64,
    external_url: &str,
) -> Vec<model::Alert> {
    let mut out = Vec::new();
    let generator = format!(
        "{}/graph?g0.expr={}&g0.tab=1",
        external_url.trim_end_matches('/'),
        gotemplate::funcs::query_escape(&a.common.expr)
    );
    for al in a.active.values_mut() {
        if !al.needs_sending(ts, resend_delay_ms) {
            continue;
        }
        al.last_sent_at = Some(ts);
        let delta = resend_delay_ms.max(interval_ms);
        al.valid_until = ts + 4 * delta;
        out.push(model::Alert {
            labels: labels_map(&al.labels),
            annotations: al.annotations.clone(),
            starts_at: al.fired_at,
            ends_at: Some(al.resolved_at.unwrap_or(al.valid_until)),
            generator_url: generator.clone(),
        });
    }
    out
}

/// Shared handle used by template `query` calls (storage kept alive by the caller).
pub type SharedStorage = Arc<dyn Queryable>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rulefmt::parse_rule_file;
    use model::MemStorage;
    use std::path::Path;

    fn group(yaml: &str) -> Group {
        let rf = parse_rule_file(Path::new("t.yml"), yaml, &crate::template::check).unwrap();
        let mut g = Group::from_def("t.yml".into(), &rf.groups[0], 60_000, true);
        g.set_restored();
        g
    }

    struct Env {
        store: Arc<MemStorage>,
        engine: Engine,
        ext: BTreeMap<String, String>,
    }

    impl Env {
        fn new() -> Env {
            Env {
                store: Arc::new(MemStorage::new()),
                engine: Engine::default(),
                ext: BTreeMap::new(),
            }
        }
        fn put(&self, name: &str, t: i64, v: f64) {
            let l = Labels::from_pairs([(METRIC_NAME, name), ("job", "j")]);
            self.store.append(&[(l, Sample { t, v })]).unwrap();
        }
        fn eval(&self, g: &mut Group, t: i64) -> Vec<model::Alert> {
            let ctx = EvalContext {
                engine: &self.engine,
                storage: self.store.clone(),
                sink: self.store.as_ref(),
                external_labels: &self.ext,
                external_url: "http://p",
                logql: None,
            };
            g.eval(&ctx, t, 60_000)
        }
        fn query(&self, q: &str, t: i64) -> Vec<(Labels, f64)> {
            query_vector(&self.engine, self.store.as_ref(), q, t).unwrap()
        }
    }

    fn alert_rule(g: &Group) -> &AlertingRule {
        match &g.rules[0] {
            Rule::Alerting(a) => a,
            _ => panic!("not alerting"),
        }
    }

    const M: i64 = 60_000;

    #[test]
    fn pending_firing_resolved_and_resend() {
        let env = Env::new();
        let mut g = group("groups:\n- name: g\n  rules:\n  - alert: High\n    expr: x > 1\n    for: 2m\n    annotations: {d: 'v={{ $value }}'}\n");
        for i in 0..=3 {
            env.put("x", i * M, 5.0);
        }
        assert!(
            env.eval(&mut g, 0).is_empty(),
            "pending alerts are not sent"
        );
        assert_eq!(
            alert_rule(&g).active.values().next().unwrap().state,
            AlertState::Pending
        );
        assert!(env.eval(&mut g, M).is_empty());
        let sent = env.eval(&mut g, 2 * M);
        assert_eq!(sent.len(), 1, "fires after `for`");
        assert_eq!(sent[0].starts_at, Some(2 * M));
        assert_eq!(
            sent[0].ends_at,
            Some(2 * M + 4 * M),
            "valid for 4 resend delays"
        );
        assert_eq!(sent[0].annotations["d"], "v=5");
        assert_eq!(sent[0].labels["alertname"], "High");
        // ALERTS series
        let a = env.query("ALERTS", 2 * M);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].0.get("alertstate"), Some("firing"));
        let fs = env.query("ALERTS_FOR_STATE", 2 * M);
        assert_eq!(fs[0].1, 0.0, "active since t=0");
        // within the resend delay: not re-sent
        assert!(env.eval(&mut g, 2 * M + 30_000).is_empty());
        assert_eq!(
            env.eval(&mut g, 3 * M + 1).len(),
            1,
            "re-sent after the resend delay"
        );
        // condition gone (samples stop at 3m, lookback 5m: use a stale marker)
        env.put("x", 4 * M, model::stale_nan());
        let sent = env.eval(&mut g, 4 * M);
        assert_eq!(sent.len(), 1, "resolved alert sent at once");
        assert_eq!(sent[0].ends_at, Some(4 * M));
        assert!(env.query("ALERTS", 4 * M).is_empty(), "ALERTS goes stale");
        // resolved alerts are re-sent for 15m, then forgotten
        assert_eq!(env.eval(&mut g, 5 * M + 1).len(), 1);
        assert_eq!(alert_rule(&g).active.len(), 1);
        env.eval(&mut g, 4 * M + RESOLVED_RETENTION_MS + 1);
        assert!(alert_rule(&g).active.is_empty());
    }

    #[test]
    fn pending_alert_that_clears_is_dropped() {
        let env = Env::new();
        let mut g =
            group("groups:\n- name: g\n  rules:\n  - alert: High\n    expr: x > 1\n    for: 5m\n");
        env.put("x", 0, 5.0);
        env.put("x", M, 0.0);
        env.eval(&mut g, 0);
        assert_eq!(alert_rule(&g).active.len(), 1);
        assert!(env.eval(&mut g, M).is_empty());
        assert!(alert_rule(&g).active.is_empty());
    }

    #[test]
    fn keep_firing_for() {
        let env = Env::new();
        let mut g = group("groups:\n- name: g\n  rules:\n  - alert: High\n    expr: x > 1\n    keep_firing_for: 2m\n");
        env.put("x", 0, 5.0);
        env.put("x", M, 0.0);
        assert_eq!(env.eval(&mut g, 0).len(), 1);
        env.eval(&mut g, M);
        assert_eq!(
            alert_rule(&g).active.values().next().unwrap().state,
            AlertState::Firing
        );
        env.put("x", 2 * M, 0.0);
        env.eval(&mut g, 2 * M);
        assert_eq!(
            alert_rule(&g).active.values().next().unwrap().state,
            AlertState::Firing
        );
        env.put("x", 3 * M, 0.0);
        let sent = env.eval(&mut g, 3 * M);
        assert_eq!(
            alert_rule(&g).active.values().next().unwrap().state,
            AlertState::Inactive
        );
        assert_eq!(sent[0].ends_at, Some(3 * M));
    }

    #[test]
    fn recording_rules_limit_and_offset() {
        let env = Env::new();
        let mut g = group("groups:\n- name: g\n  query_offset: 1m\n  rules:\n  - record: job:x:sum\n    expr: sum by (job) (x)\n    labels: {team: a}\n");
        env.put("x", 0, 1.0);
        env.put("x", M, 2.0);
        env.eval(&mut g, 2 * M);
        let r = env.query("job:x:sum", M);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].1, 2.0, "evaluated at t - query_offset");
        assert_eq!(r[0].0.get("team"), Some("a"));

        let mut g = group(
            "groups:\n- name: g\n  limit: 1\n  rules:\n  - record: y\n    expr: x or vector(1)\n",
        );
        env.eval(&mut g, M);
        assert_eq!(g.rules[0].common().health, Health::Err);
        assert_eq!(
            g.rules[0].common().last_error.as_deref(),
            Some("exceeded limit of 1 with 2 series")
        );
    }

    #[test]
    fn duplicate_labelsets_and_template_errors() {
        let env = Env::new();
        env.put("x", 0, 1.0);
        let mut g = group("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n    annotations: {d: '{{ humanize \"nope\" }}'}\n");
        let sent = env.eval(&mut g, 0);
        assert!(
            sent[0].annotations["d"].starts_with("<error expanding template: "),
            "{:?}",
            sent[0].annotations
        );
        let mut g = group("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x or label_replace(x, \"job\", \"k\", \"\", \"\")\n    labels: {job: same}\n");
        env.eval(&mut g, 0);
        assert_eq!(
            g.rules[0].common().last_error.as_deref(),
            Some("vector contains metrics with the same labelset after applying alert labels")
        );
    }

    #[test]
    fn for_state_is_restored() {
        let env = Env::new();
        let yaml = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x > 0\n    for: 30m\n";
        for i in 0..=60 {
            env.put("x", i * M, 1.0);
        }
        // before the "restart": active since 0, written ALERTS_FOR_STATE up to 10m
        let mut g = group(yaml);
        for i in 0..=10 {
            env.eval(&mut g, i * M);
        }
        // restart at 12m: fresh group, not restored
        let rf = parse_rule_file(Path::new("t.yml"), yaml, &crate::template::check).unwrap();
        let mut g2 = Group::from_def("t.yml".into(), &rf.groups[0], 60_000, false);
        env.eval(&mut g2, 12 * M);
        assert!(
            !alert_rule(&g2).restored,
            "no ALERTS written before the restore"
        );
        assert!(g2.rules[0].common().prev_series.is_empty());
        g2.restore_for_state(env.store.as_ref(), 12 * M, 3_600_000, 600_000);
        let a = alert_rule(&g2).active.values().next().unwrap();
        // pending for 10m before going down at 10m, down for 2m: activeAt shifted by 2m
        assert_eq!(a.active_at, 2 * M);
        env.eval(&mut g2, 31 * M);
        assert_eq!(
            alert_rule(&g2).active.values().next().unwrap().state,
            AlertState::Pending
        );
        env.eval(&mut g2, 32 * M);
        assert_eq!(
            alert_rule(&g2).active.values().next().unwrap().state,
            AlertState::Firing
        );
    }

    #[test]
    fn reload_keeps_state_of_unchanged_rules() {
        let env = Env::new();
        env.put("x", 0, 5.0);
        let yaml = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x > 1\n    for: 5m\n  - alert: B\n    expr: x > 1\n";
        let mut g = group(yaml);
        env.eval(&mut g, 0);
        let mut g2 = group(&yaml.replace("alert: B\n    expr: x > 1", "alert: B\n    expr: x > 2"));
        g2.copy_state_from(&g);
        assert_eq!(alert_rule(&g2).active.len(), 1, "A kept its pending alert");
        match &g2.rules[1] {
            Rule::Alerting(b) => assert!(b.active.is_empty(), "B changed: fresh state"),
            _ => unreachable!(),
        }
    }
}
