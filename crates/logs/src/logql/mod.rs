//! LogQL: tokenizer ([`lexer`]), syntax tree ([`ast`]), hand-written parser ([`parser`]), the
//! per-entry log pipeline ([`pipeline`]), `line_format` templates ([`template`]) and the
//! evaluator ([`eval`]). [`instant_query`] is the entry point for LogQL rules.

pub mod ast;
pub mod eval;
pub mod lexer;
pub mod parser;
pub mod pipeline;
pub mod template;

pub use eval::{
    exec, instant_query, query, OutEntry, Params, QueryError, QueryResult, QueryStats, StreamResult,
};
pub use lexer::ParseError;
pub use parser::{parse, parse_selector};

/// [`model::LogRuleQuerier`] over a log store: what a rules engine calls to evaluate LogQL
/// alerting/recording rule expressions.
pub struct RuleQuerier {
    pub store: std::sync::Arc<dyn model::LogQueryable>,
}

impl model::LogRuleQuerier for RuleQuerier {
    fn instant(
        &self,
        tenant: &str,
        query: &str,
        ts_ms: i64,
    ) -> Result<Vec<(model::Labels, f64)>, String> {
        instant_query(
            self.store.as_ref(),
            tenant,
            query,
            ts_ms.saturating_mul(1_000_000),
        )
        .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod rule_tests {
    use super::*;
    use model::{LogEntry, LogRuleQuerier, LogSink, LogStream};

    #[test]
    fn rule_querier_evaluates_error_spike() {
        let d = tempfile::tempdir().unwrap();
        let mut o = crate::LogStoreOptions {
            background: false,
            ..Default::default()
        };
        o.limits.reject_old_samples = false;
        let store = crate::LogStore::open(d.path(), o).unwrap();
        let labels = model::Labels::from_pairs([("app", "api")]);
        let entries = (0..10)
            .map(|i| LogEntry {
                ts_ns: i * 1_000_000_000,
                line: if i % 2 == 0 {
                    "level=error".into()
                } else {
                    "level=info".into()
                },
                metadata: vec![],
            })
            .collect();
        store
            .push("fake", vec![LogStream { labels, entries }])
            .unwrap();
        let q = RuleQuerier { store };
        let v = q
            .instant(
                "fake",
                r#"sum by (app) (count_over_time({app="api"} | logfmt | level="error" [1m])) > 3"#,
                10_000,
            )
            .unwrap();
        assert_eq!(v, vec![(model::Labels::from_pairs([("app", "api")]), 5.0)]);
        assert!(q.instant("fake", "{app=", 0).is_err());
    }
}
