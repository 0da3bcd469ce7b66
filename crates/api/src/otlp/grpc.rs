//! OTLP/gRPC receiver: `opentelemetry.proto.collector.trace.v1.TraceService/Export` served with
//! tonic on its own listener (4317 by default, switched on in pharos.yml). Refusals map to gRPC
//! codes as OTLP specifies (INVALID_ARGUMENT, RESOURCE_EXHAUSTED for rate limits).
//! The tenant comes from the `X-Scope-OrgID` metadata or the tenant bound to the call's token
//! (as Tempo's gRPC distributor), and the tenant's Tempo limits (`ingestion_rate_limit_bytes`,
//! `ingestion_burst_size_bytes`, `max_traces_per_user`) apply as on OTLP/HTTP, with Tempo's
//! messages under RESOURCE_EXHAUSTED. With auth on, `authorization` metadata (basic or bearer)
//! must carry the write scope, as on the HTTP listeners.

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Why a call's credentials were refused.
pub enum Denied {
    /// No credential or a wrong one: UNAUTHENTICATED.
    Unauthenticated(String),
    /// A credential without the write scope: PERMISSION_DENIED.
    PermissionDenied(String),
}

/// Checks a call's `authorization` metadata (None when absent): the tenant bound to the
/// credential (None: no tenant, or auth is off), or why it is refused.
pub type Authorize = Arc<dyn Fn(Option<&str>) -> Result<Option<String>, Denied> + Send + Sync>;

pub struct OtlpTraceService {
    pub store: Arc<traces::TraceStore>,
    pub authorize: Option<Authorize>,
}

fn metadata_str<'a>(md: &'a tonic::metadata::MetadataMap, key: &str) -> Option<&'a str> {
    md.get(key)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

#[tonic::async_trait]
impl TraceService for OtlpTraceService {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let md = request.metadata();
        let authz = metadata_str(md, "authorization").map(String::from);
        let mut tenant = metadata_str(md, "x-scope-orgid").map(String::from);
        let req = request.into_inner();
        let store = self.store.clone();
        let authorize = self.authorize.clone();
        let res = tokio::task::spawn_blocking(move || {
            if let Some(check) = authorize {
                // A tenant-bound credential replaces the metadata's tenant, as on HTTP.
                match check(authz.as_deref()) {
                    Ok(Some(t)) => tenant = Some(t),
                    Ok(None) => {}
                    Err(d) => return Err(Ok(d)),
                }
            }
            let bytes = prost::Message::encoded_len(&req);
            let mut spans = traces::otlp::from_request(req).map_err(|e| Err(e.into()))?;
            if let Some(t) = &tenant {
                crate::tenant_limits::admit_spans(t, bytes, &spans).map_err(Err)?;
                traces::tenant::tag(&mut spans, t);
            }
            store.append(spans).map_err(Err)
        })
        .await
        .map_err(|e| Status::internal(format!("ingest task failed: {e}")))?;
        let res = match res {
            Err(Ok(Denied::Unauthenticated(m))) => return Err(Status::unauthenticated(m)),
            Err(Ok(Denied::PermissionDenied(m))) => return Err(Status::permission_denied(m)),
            Err(Err(e)) => Err(e),
            Ok(s) => Ok(s),
        };
        match res {
            Ok(_) => Ok(Response::new(ExportTraceServiceResponse {
                partial_success: None,
            })),
            Err(e) => Err(match e.http_status() {
                429 => Status::resource_exhausted(e.to_string()),
                400 | 413 => Status::invalid_argument(e.to_string()),
                _ => Status::internal(e.to_string()),
            }),
        }
    }
}

/// Serves OTLP/gRPC on `listener` until `shutdown` resolves.
pub async fn serve(
    store: Arc<traces::TraceStore>,
    authorize: Option<Authorize>,
    listener: tokio::net::TcpListener,
    max_message_bytes: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let svc = TraceServiceServer::new(OtlpTraceService { store, authorize })
        .max_decoding_message_size(max_message_bytes)
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(svc)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| format!("OTLP gRPC server failed: {e}"))
}
