//! OTLP/gRPC receiver: `opentelemetry.proto.collector.trace.v1.TraceService/Export` served with
//! tonic on its own listener (4317 by default, switched on in pharos.yml). Refusals map to gRPC
//! codes as OTLP specifies (INVALID_ARGUMENT, RESOURCE_EXHAUSTED for rate limits).

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct OtlpTraceService {
    pub store: Arc<traces::TraceStore>,
}

#[tonic::async_trait]
impl TraceService for OtlpTraceService {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let req = request.into_inner();
        let store = self.store.clone();
        let res = tokio::task::spawn_blocking(move || {
            let spans = traces::otlp::from_request(req)?;
            store.append(spans)
        })
        .await
        .map_err(|e| Status::internal(format!("ingest task failed: {e}")))?;
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
    listener: tokio::net::TcpListener,
    max_message_bytes: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let svc = TraceServiceServer::new(OtlpTraceService { store })
        .max_decoding_message_size(max_message_bytes)
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(svc)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| format!("OTLP gRPC server failed: {e}"))
}
