//! Tests of the Elasticsearch API over an in-memory log store: winston-elasticsearch's start-up
//! calls, `_bulk` per-item results, the CrewAI monitoring guide's two queries, `_count`, `_cat/indices`, errors.

use super::*;
use axum::body::Body;
use axum::http::Request;
use model::{
    LabelMatcher, Labels, LogEntry, LogPushStats, LogQueryable, LogSink, LogStream, StorageError,
};
use serde_json::json;
use std::collections::BTreeMap;
use tower::ServiceExt;

/// A minimal in-memory log store implementing both traits.
#[derive(Default)]
pub struct MemLogs {
    streams: Mutex<BTreeMap<(String, Labels), Vec<LogEntry>>>,
}

impl LogSink for MemLogs {
    fn push(&self, tenant: &str, streams: Vec<LogStream>) -> Result<LogPushStats, StorageError> {
        let mut m = self.streams.lock();
        let mut stats = LogPushStats::default();
        for s in streams {
            stats.accepted_lines += s.entries.len();
            m.entry((tenant.to_string(), s.labels))
                .or_default()
                .extend(s.entries);
        }
        Ok(stats)
    }
}

impl LogQueryable for MemLogs {
    fn streams(
        &self,
        tenant: &str,
        matchers: &[LabelMatcher],
        _s: i64,
        _e: i64,
    ) -> Result<Vec<Labels>, StorageError> {
        Ok(self
            .streams
            .lock()
            .keys()
            .filter(|(t, l)| t == tenant && model::matcher::matches_all(matchers, l))
            .map(|(_, l)| l.clone())
            .collect())
    }

    fn scan(
        &self,
        tenant: &str,
        matchers: &[LabelMatcher],
        start_ns: i64,
        end_ns: i64,
        direction: model::Direction,
        visit: &mut dyn FnMut(&Labels, &LogEntry) -> bool,
    ) -> Result<(), StorageError> {
        let m = self.streams.lock();
        let mut all: Vec<(&Labels, &LogEntry)> = m
            .iter()
            .filter(|((t, l), _)| t == tenant && model::matcher::matches_all(matchers, l))
            .flat_map(|((_, l), es)| es.iter().map(move |e| (l, e)))
            .filter(|(_, e)| e.ts_ns >= start_ns && e.ts_ns < end_ns)
            .collect();
        all.sort_by_key(|(_, e)| e.ts_ns);
        if direction == model::Direction::Backward {
            all.reverse();
        }
        for (l, e) in all {
            if !visit(l, e) {
                break;
            }
        }
        Ok(())
    }
}

fn app() -> (Router, Arc<MemLogs>) {
    let mem = Arc::new(MemLogs::default());
    let st = Arc::new(EsState::new(mem.clone(), mem.clone(), None));
    (routes(st).merge(root_routes()), mem)
}

async fn call(app: &Router, method: &str, uri: &str, body: &str) -> (u16, Value, HeaderMap) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(
            "content-type",
            "application/vnd.elasticsearch+json; compatible-with=8",
        )
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .unwrap();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, v, headers)
}

#[tokio::test]
async fn winston_elasticsearch_startup_calls() {
    let (app, _) = app();
    let (s, v, h) = call(
        &app,
        "GET",
        "/_cluster/health?timeout=30s&wait_for_nodes=%3E%3D1&wait_for_status=yellow",
        "",
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["status"], "green");
    assert_eq!(h.get("x-elastic-product").unwrap(), "Elasticsearch");
    let (s, _, _) = call(&app, "HEAD", "/_index_template/template_logs", "").await;
    assert_eq!(s, 404);
    let tpl = r#"{"index_patterns":["logs-*"],"template":{"mappings":{"properties":{"@timestamp":{"type":"date"}}}}}"#;
    let (s, v, _) = call(
        &app,
        "PUT",
        "/_index_template/template_logs?create=true",
        tpl,
    )
    .await;
    assert_eq!((s, v), (200, json!({"acknowledged": true})));
    let (s, _, _) = call(&app, "HEAD", "/_index_template/template_logs", "").await;
    assert_eq!(s, 200);
    let (s, v, _) = call(
        &app,
        "PUT",
        "/_index_template/template_logs?create=true",
        tpl,
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["type"], "illegal_argument_exception");
    let (s, v, _) = call(&app, "GET", "/_index_template/template_logs", "").await;
    assert_eq!(s, 200);
    assert_eq!(v["index_templates"][0]["name"], "template_logs");
    let (s, v, _) = call(&app, "GET", "/", "").await;
    assert_eq!(s, 200);
    assert!(v["version"]["number"].as_str().unwrap().starts_with('8'));
    let (s, _, _) = call(
        &app,
        "PUT",
        "/_template/legacy",
        "{\"index_patterns\":[\"x-*\"]}",
    )
    .await;
    assert_eq!(s, 200);
    let (s, v, _) = call(&app, "GET", "/_template/legacy", "").await;
    assert_eq!(
        (s, v["legacy"]["index_patterns"][0].as_str()),
        (200, Some("x-*"))
    );
}

fn guide_docs() -> String {
    let mut body = String::new();
    let docs = [
        ("2024-01-01T00:01:00Z", "crewai-api", "info", 120),
        ("2024-01-01T00:02:00Z", "crewai-api", "error", 1500),
        ("2024-01-01T00:03:00Z", "billing", "info", 3000),
        ("2024-01-01T00:04:00Z", "crewai-api", "info", 1000),
        ("2024-01-01T00:11:00Z", "crewai-api", "error", 999),
        ("2024-01-01T00:12:00Z", "crewai-api", "error", 20),
        ("2024-01-01T00:13:00Z", "crewai-api", "warn", 2000),
    ];
    for (i, (ts, svc, level, dur)) in docs.iter().enumerate() {
        body.push_str(&format!("{{\"index\":{{\"_id\":\"d{i}\"}}}}\n"));
        body.push_str(&json!({"@timestamp": ts, "service": svc, "level": level, "duration": dur, "message": "HTTP Request"}).to_string());
        body.push('\n');
    }
    body
}

#[tokio::test]
async fn guide_queries_return_the_right_hits_and_buckets() {
    let (app, mem) = app();
    let (s, v, _) = call(&app, "POST", "/crewai-logs/_bulk", &guide_docs()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["errors"], false);
    assert_eq!(v["items"][0]["index"]["status"], 201);
    assert_eq!(v["items"][0]["index"]["_id"], "d0");
    // Labels: index + level.
    let labels = mem.streams("fake", &[], i64::MIN, i64::MAX).unwrap();
    assert!(labels
        .iter()
        .any(|l| l.get("index") == Some("crewai-logs") && l.get("level") == Some("error")));

    let slow = r#"{"query":{"bool":{"must":[{"match":{"service":"crewai-api"}},{"range":{"duration":{"gte":1000}}}]}}}"#;
    let (s, v, _) = call(&app, "POST", "/crewai-logs/_search", slow).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["hits"]["total"], json!({"value": 3, "relation": "eq"}));
    let mut ids: Vec<&str> = v["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["d1", "d3", "d6"]);
    assert_eq!(v["hits"]["hits"][0]["_index"], "crewai-logs");
    assert_eq!(v["hits"]["hits"][0]["_source"]["service"], "crewai-api");

    let spike = r#"{"aggs":{"errors_over_time":{"date_histogram":{"field":"@timestamp","interval":"5m"},"aggs":{"error_count":{"filter":{"term":{"level":"error"}}}}}}}"#;
    let (s, v, _) = call(&app, "POST", "/crewai-logs/_search", spike).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["aggregations"]["errors_over_time"]["buckets"],
        json!([
            {"key_as_string": "2024-01-01T00:00:00.000Z", "key": 1704067200000i64, "doc_count": 4, "error_count": {"doc_count": 1}},
            {"key_as_string": "2024-01-01T00:05:00.000Z", "key": 1704067500000i64, "doc_count": 0, "error_count": {"doc_count": 0}},
            {"key_as_string": "2024-01-01T00:10:00.000Z", "key": 1704067800000i64, "doc_count": 3, "error_count": {"doc_count": 2}},
        ])
    );
    assert_eq!(v["hits"]["total"]["value"], 7);

    let (s, v, _) = call(&app, "GET", "/crewai-*/_count?q=level:error", "").await;
    assert_eq!((s, v["count"].as_u64()), (200, Some(3)));
    let (s, v, _) = call(&app, "GET", "/crewai-logs/_mapping", "").await;
    assert_eq!(s, 200, "{v}");
    let props = &v["crewai-logs"]["mappings"]["properties"];
    assert_eq!(props["@timestamp"]["type"], "date");
    assert_eq!(props["duration"]["type"], "long");
    assert_eq!(props["service"]["fields"]["keyword"]["type"], "keyword");
    let (s, v, _) = call(&app, "GET", "/_cat/indices?format=json", "").await;
    assert_eq!(s, 200);
    assert_eq!(v[0]["index"], "crewai-logs");
    assert_eq!(v[0]["docs.count"], "7");
    let (s, v, _) = call(&app, "GET", "/_cat/indices?v", "").await;
    assert_eq!(s, 200);
    assert!(v.as_str().unwrap().starts_with("health"), "{v}");
}

#[tokio::test]
async fn msearch_answers_each_search() {
    let (app, _) = app();
    call(&app, "POST", "/crewai-logs/_bulk", &guide_docs()).await;
    let body = "{\"index\":\"crewai-logs\"}\n{\"size\":0,\"query\":{\"term\":{\"level\":\"error\"}}}\n{\"index\":[\"missing\"]}\n{}\n{}\n{\"query\":{\"bogus\":{}}}\n";
    let (s, v, _) = call(&app, "POST", "/_msearch", body).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["responses"][0]["hits"]["total"]["value"], 3);
    assert_eq!(v["responses"][0]["status"], 200);
    assert_eq!(v["responses"][1]["status"], 404);
    assert_eq!(v["responses"][2]["error"]["type"], "parsing_exception");
    let (s, _, _) = call(&app, "POST", "/_msearch", "{}\n").await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn bulk_items_fail_individually() {
    let (app, mem) = app();
    let body = "{\"index\":{\"_index\":\"ok-index\"}}\n{\"a\":1}\n{\"index\":{\"_index\":\"Bad\"}}\n{\"a\":2}\n{\"create\":{\"_index\":\"ok-index\",\"_id\":\"x\"}}\n{not json\n{\"delete\":{\"_index\":\"ok-index\",\"_id\":\"x\"}}\n";
    let (s, v, _) = call(&app, "POST", "/_bulk", body).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["errors"], true);
    let st: Vec<u64> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i.as_object().unwrap().values().next().unwrap()["status"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(st, vec![201, 400, 400, 400]);
    assert_eq!(
        v["items"][1]["index"]["error"]["type"],
        "invalid_index_name_exception"
    );
    assert_eq!(
        v["items"][2]["create"]["error"]["type"],
        "mapper_parsing_exception"
    );
    assert_eq!(
        mem.streams("fake", &[], i64::MIN, i64::MAX).unwrap().len(),
        1
    );
    // Whole-request errors.
    let (s, v, _) = call(&app, "POST", "/_bulk", "{\"index\":{}}\n{\"a\":1}\n").await;
    assert_eq!(s, 200);
    assert_eq!(
        v["items"][0]["index"]["error"]["type"],
        "action_request_validation_exception"
    );
    let (s, v, _) = call(&app, "POST", "/_bulk", "garbage\n").await;
    assert_eq!(s, 400);
    assert_eq!(v["status"], 400);
    assert_eq!(
        v["error"]["root_cause"][0]["type"],
        "illegal_argument_exception"
    );
}

#[tokio::test]
async fn single_documents_and_search_options() {
    let (app, _) = app();
    let (s, v, _) = call(
        &app,
        "POST",
        "/logs-2024.01.01/_doc",
        r#"{"@timestamp":"2024-01-01T10:00:00Z","message":"first one","n":1}"#,
    )
    .await;
    assert_eq!((s, v["result"].as_str()), (201, Some("created")));
    let (s, v, _) = call(
        &app,
        "PUT",
        "/logs-2024.01.01/_doc/my-id",
        r#"{"@timestamp":"2024-01-01T11:00:00Z","message":"second","n":2}"#,
    )
    .await;
    assert_eq!((s, v["_id"].as_str()), (201, Some("my-id")));
    let (s, _, _) = call(
        &app,
        "PUT",
        "/logs-2024.01.01/_create/other",
        r#"{"timestamp":1704110400000,"message":"third","n":3}"#,
    )
    .await;
    assert_eq!(s, 201);
    let (s, v, _) = call(&app, "GET", "/logs-*/_search?sort=n:desc&size=2", "").await;
    assert_eq!(s, 200, "{v}");
    let ns: Vec<i64> = v["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_source"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(ns, vec![3, 2]);
    let (s, v, _) = call(
        &app,
        "POST",
        "/logs-2024.01.01/_search",
        r#"{"query":{"ids":{"values":["my-id"]}},"_source":["message"]}"#,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        v["hits"]["hits"][0]["_source"],
        json!({"message": "second"})
    );
    let (s, v, _) = call(&app, "POST", "/logs-2024.01.01/_search", r#"{"query":{"range":{"@timestamp":{"gte":"2024-01-01T10:30:00Z","lt":"2024-01-01T11:30:00Z"}}}}"#).await;
    assert_eq!((s, v["hits"]["total"]["value"].as_u64()), (200, Some(1)));
    let (s, v, _) = call(&app, "GET", "/nope/_search", "").await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (404, Some("index_not_found_exception"))
    );
    let (s, v, _) = call(&app, "GET", "/nope*/_search", "").await;
    assert_eq!((s, v["hits"]["total"]["value"].as_u64()), (200, Some(0)));
}

#[tokio::test]
async fn bad_requests_answer_es_errors() {
    let (app, _) = app();
    call(&app, "POST", "/a/_doc", "{\"x\":1}").await;
    for (method, uri, body, kind) in [
        (
            "POST",
            "/a/_search",
            "{\"query\":{\"bogus\":{}}}",
            "parsing_exception",
        ),
        (
            "POST",
            "/a/_search",
            "{not json",
            "x_content_parse_exception",
        ),
        (
            "POST",
            "/a/_search",
            "{\"aggs\":{\"x\":{\"date_histogram\":{\"field\":\"t\"}}}}",
            "illegal_argument_exception",
        ),
        (
            "POST",
            "/a/_search",
            "{\"query\":{\"query_string\":{\"query\":\"a:(b\"}}}",
            "query_shard_exception",
        ),
        ("POST", "/a/_doc", "[1,2]", "mapper_parsing_exception"),
        ("POST", "/Upper/_doc", "{}", "invalid_index_name_exception"),
        ("POST", "/a/_count", "{\"size\":1}", "parsing_exception"),
        (
            "PUT",
            "/_index_template/t",
            "nope",
            "x_content_parse_exception",
        ),
    ] {
        let (s, v, _) = call(&app, method, uri, body).await;
        assert!((400..500).contains(&s), "{uri} {body}: {s}");
        assert_eq!(v["error"]["type"], kind, "{uri} {body}: {v}");
        assert_eq!(v["status"], s);
    }
}

/// `GET /{index}/_doc/{id}` answers as Elasticsearch does (it was 405): `found`, `_version`
/// (how often the id was indexed), `_seq_no`, `_primary_term`, `_source`; 404 `found:false`
/// for a missing id, `index_not_found_exception` for a missing index; HEAD and `_source`.
#[tokio::test]
async fn get_document_by_id() {
    let (app, _) = app();
    for body in [r#"{"message":"v1","n":1}"#, r#"{"message":"v2","n":2}"#] {
        let (s, _, _) = call(&app, "PUT", "/app-logs/_doc/doc-1", body).await;
        assert_eq!(s, 201);
    }
    let (s, v, h) = call(&app, "GET", "/app-logs/_doc/doc-1", "").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v,
        json!({"_index": "app-logs", "_id": "doc-1", "_version": 2, "_seq_no": 1,
               "_primary_term": 1, "found": true, "_source": {"message": "v2", "n": 2}})
    );
    assert_eq!(h.get("x-elastic-product").unwrap(), "Elasticsearch");
    let (s, v, _) = call(&app, "GET", "/app-logs/_doc/doc-1?_source=false", "").await;
    assert_eq!((s, v.get("_source")), (200, None));
    let (s, v, _) = call(&app, "GET", "/app-logs/_doc/missing", "").await;
    assert_eq!(
        (s, v),
        (
            404,
            json!({"_index": "app-logs", "_id": "missing", "found": false})
        )
    );
    let (s, v, _) = call(&app, "GET", "/nope/_doc/doc-1", "").await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (404, Some("index_not_found_exception"))
    );
    let (s, _, _) = call(&app, "HEAD", "/app-logs/_doc/doc-1", "").await;
    assert_eq!(s, 200);
    let (s, _, _) = call(&app, "HEAD", "/app-logs/_doc/missing", "").await;
    assert_eq!(s, 404);
    let (s, v, _) = call(&app, "GET", "/app-logs/_source/doc-1", "").await;
    assert_eq!((s, v), (200, json!({"message": "v2", "n": 2})));
    let (s, v, _) = call(&app, "GET", "/app-logs/_source/missing", "").await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (404, Some("resource_not_found_exception"))
    );
}
