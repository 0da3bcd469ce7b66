//! OTLP/gRPC receiver: `opentelemetry.proto.collector.trace.v1.TraceService/Export` served with
//! tonic on its own listener (4317 by default, switched on in pharos.yml). Refusals map to gRPC
//! codes as OTLP specifies (INVALID_ARGUMENT, RESOURCE_EXHAUSTED for rate limits, UNAVAILABLE
//! on a full disk).
//! The tenant comes from the `X-Scope-OrgID` metadata or the tenant bound to the call's token
//! (as Tempo's gRPC distributor), and the tenant's Tempo limits (`ingestion_rate_limit_bytes`,
//! `ingestion_burst_size_bytes`, `max_traces_per_user`) apply as on OTLP/HTTP, with Tempo's
//! messages under RESOURCE_EXHAUSTED. With auth on, `authorization` metadata (basic or bearer)
//! must carry the write scope, as on the HTTP listeners.
//!
//! The request message is not decoded by prost: a codec of our own ([`RawCodec`]) hands the
//! message bytes (after gRPC framing and gzip) to the trace store's direct decoder
//! (`traces::otlp::decode_protobuf`), as the OTLP/HTTP path does — no intermediate message tree.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::bytes::Buf;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{http, Body, BoxFuture, CompressionEncoding, EnabledCompressionEncodings};
use tonic::{Request, Response, Status};

/// The gRPC service name and the one method served.
const SERVICE_NAME: &str = "opentelemetry.proto.collector.trace.v1.TraceService";
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// A request message's raw protobuf bytes (an `ExportTraceServiceRequest`).
pub struct RawRequest(pub Vec<u8>);

/// Decodes nothing: the message bytes go to the caller as they are; encodes the response with
/// prost.
#[derive(Clone, Copy, Default)]
pub struct RawCodec;

pub struct RawDecoder;
pub struct ResponseEncoder;

impl Codec for RawCodec {
    type Encode = ExportTraceServiceResponse;
    type Decode = RawRequest;
    type Encoder = ResponseEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> ResponseEncoder {
        ResponseEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Decoder for RawDecoder {
    type Item = RawRequest;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<RawRequest>, Status> {
        let mut v = vec![0u8; src.remaining()];
        src.copy_to_slice(&mut v);
        Ok(Some(RawRequest(v)))
    }
}

impl Encoder for ResponseEncoder {
    type Item = ExportTraceServiceResponse;
    type Error = Status;
    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        prost::Message::encode(&item, dst)
            .map_err(|e| Status::internal(format!("encoding the response failed: {e}")))
    }
}

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

impl OtlpTraceService {
    async fn export(
        &self,
        request: Request<RawRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let md = request.metadata();
        let authz = metadata_str(md, "authorization").map(String::from);
        let mut tenant = metadata_str(md, "x-scope-orgid").map(String::from);
        let req = request.into_inner().0;
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
            let bytes = req.len();
            let mut spans = traces::otlp::decode_protobuf(&req).map_err(|e| Err(e.into()))?;
            drop(req);
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
            // UNAVAILABLE on a full disk, which exporters retry (INTERNAL they drop).
            Err(e) => Err(crate::trace_http::grpc_status(e)),
        }
    }
}

/// `Export` as a tonic unary service.
struct ExportSvc(Arc<OtlpTraceService>);

impl tonic::server::UnaryService<RawRequest> for ExportSvc {
    type Response = ExportTraceServiceResponse;
    type Future = BoxFuture<Response<ExportTraceServiceResponse>, Status>;
    fn call(&mut self, request: Request<RawRequest>) -> Self::Future {
        let inner = self.0.clone();
        Box::pin(async move { inner.export(request).await })
    }
}

/// The `TraceService` server (what tonic's generated `TraceServiceServer` does, with
/// [`RawCodec`] instead of prost's codec).
#[derive(Clone)]
pub struct TraceExportServer {
    inner: Arc<OtlpTraceService>,
    accept: EnabledCompressionEncodings,
    max_decoding_message_size: usize,
}

impl TraceExportServer {
    pub fn new(svc: OtlpTraceService, max_decoding_message_size: usize) -> Self {
        let mut accept = EnabledCompressionEncodings::default();
        accept.enable(CompressionEncoding::Gzip);
        TraceExportServer {
            inner: Arc::new(svc),
            accept,
            max_decoding_message_size,
        }
    }
}

impl tonic::server::NamedService for TraceExportServer {
    const NAME: &'static str = SERVICE_NAME;
}

impl<B> tower::Service<http::Request<B>> for TraceExportServer
where
    B: Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync + 'static>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != EXPORT_PATH {
            return Box::pin(async move {
                let mut response = http::Response::new(tonic::body::Body::default());
                let headers = response.headers_mut();
                headers.insert(
                    Status::GRPC_STATUS,
                    (tonic::Code::Unimplemented as i32).into(),
                );
                headers.insert(
                    http::header::CONTENT_TYPE,
                    tonic::metadata::GRPC_CONTENT_TYPE,
                );
                Ok(response)
            });
        }
        let method = ExportSvc(self.inner.clone());
        let accept = self.accept;
        let max = self.max_decoding_message_size;
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(RawCodec)
                .apply_compression_config(accept, EnabledCompressionEncodings::default())
                .apply_max_message_size_config(Some(max), None);
            Ok(grpc.unary(method, req).await)
        })
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
    let svc = TraceExportServer::new(OtlpTraceService { store, authorize }, max_message_bytes);
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(svc)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| format!("OTLP gRPC server failed: {e}"))
}
