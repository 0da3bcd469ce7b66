//! `format: otlp_grpc` over TLS: a tonic TraceService receiver behind rustls that requires a
//! client certificate from a test CA (made with openssl at run time) gets the spans of an
//! export through `forward::grpc::channel`; a client without a certificate, a wrong CA or a
//! wrong server name fail with the TLS cause in the forwarder's error text, never a panic.

use forward::signals::{grpc_error, Signal, Target};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use std::path::Path;
use std::pin::Pin;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::rustls;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// ca.pem (signs server.pem for 127.0.0.1/localhost and client.pem) and other.pem (an
/// unrelated CA).
fn make_pki(d: &Path) {
    for ca in ["ca", "other"] {
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
                "-days",
                "2",
                "-subj",
                &format!("/CN=pharos test {ca}"),
            ],
        );
    }
    std::fs::write(
        d.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
    )
    .unwrap();
    for who in ["server", "client"] {
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{who}.key"),
                "-out",
                &format!("{who}.csr"),
                "-subj",
                &format!("/CN={who}"),
            ],
        );
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{who}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{who}.pem"),
                "-days",
                "2",
                "-extfile",
                "san.ext",
            ],
        );
    }
}

#[derive(Default, Clone)]
struct Receiver {
    spans: Arc<Mutex<Vec<String>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        r: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut got = self.spans.lock().unwrap();
        for rs in &r.get_ref().resource_spans {
            for ss in &rs.scope_spans {
                got.extend(ss.spans.iter().map(|s| s.name.clone()));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// A server-side TLS stream as tonic's `serve_with_incoming` takes it.
struct Tls(tokio_rustls::server::TlsStream<tokio::net::TcpStream>);

impl tonic::transport::server::Connected for Tls {
    type ConnectInfo = ();
    fn connect_info(&self) {}
}

impl AsyncRead for Tls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Starts the receiver (client certificate from ca.pem required); returns its port.
async fn serve(d: &Path, recv: Receiver) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(d.join("ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let chain = CertificateDer::pem_file_iter(d.join("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(d.join("server.key")).unwrap();
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Tls>>(16);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                // A refused handshake is the client's failure to see; the server goes on.
                if let Ok(s) = acceptor.accept(tcp).await {
                    let _ = tx.send(Ok(Tls(s))).await;
                }
            });
        }
    });
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(recv))
            .serve_with_incoming(tokio_stream::wrappers::ReceiverStream::new(rx)),
    );
    port
}

fn target(port: u16, tls: &str) -> Target {
    let yaml = format!(
        "url: https://127.0.0.1:{port}\nformat: otlp_grpc\nremote_timeout: 5s\ntls_config: {{{tls}}}\n"
    );
    let ep = serde_yaml_ng::from_str(&yaml).unwrap();
    Target::from_entry(Signal::Traces, &ep).unwrap()
}

fn request(name: &str) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    name: name.into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// One export through the forwarder's channel: Ok, or the forwarder's error text.
async fn export(t: &Target, name: &str) -> Result<(), String> {
    let ch = forward::grpc::channel(&t.settings)?;
    TraceServiceClient::new(ch)
        .export(request(name))
        .await
        .map(|_| ())
        .map_err(|st| grpc_error(&st))
}

#[tokio::test]
async fn spans_arrive_over_tls_with_a_client_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    make_pki(d);
    let recv = Receiver::default();
    let port = serve(d, recv.clone()).await;
    let p = |f: &str| d.join(f).display().to_string();
    let mtls = format!(
        "cert_file: '{}', key_file: '{}'",
        p("client.pem"),
        p("client.key")
    );

    // The test CA, a client certificate, the address as the name checked.
    let t = target(port, &format!("ca_file: '{}', {mtls}", p("ca.pem")));
    export(&t, "a").await.unwrap();
    // server_name overrides the name checked (the certificate also names localhost).
    let t = target(
        port,
        &format!("ca_file: '{}', {mtls}, server_name: localhost", p("ca.pem")),
    );
    export(&t, "b").await.unwrap();
    // insecure_skip_verify: no CA needed.
    let t = target(port, &format!("insecure_skip_verify: true, {mtls}"));
    export(&t, "c").await.unwrap();
    assert_eq!(*recv.spans.lock().unwrap(), ["a", "b", "c"]);

    // A wrong CA: the handshake's cause is in the error, nothing arrives.
    let t = target(port, &format!("ca_file: '{}', {mtls}", p("other.pem")));
    let e = export(&t, "x").await.unwrap_err();
    assert!(
        e.contains("Unavailable") && e.contains("UnknownIssuer"),
        "{e}"
    );
    assert_eq!(e.matches("UnknownIssuer").count(), 1, "{e}");
    // A name the certificate does not hold.
    let t = target(
        port,
        &format!(
            "ca_file: '{}', {mtls}, server_name: example.org",
            p("ca.pem")
        ),
    );
    let e = export(&t, "y").await.unwrap_err();
    assert!(e.contains("not valid for name \"example.org\""), "{e}");
    // No client certificate: the receiver refuses the handshake.
    let t = target(port, &format!("ca_file: '{}'", p("ca.pem")));
    let e = export(&t, "z").await.unwrap_err();
    assert!(e.contains("CertificateRequired"), "{e}");
    assert_eq!(recv.spans.lock().unwrap().len(), 3);
}

#[test]
fn bad_tls_config_is_a_config_error() {
    let ep = |y: &str| serde_yaml_ng::from_str(y).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _g = rt.enter();
    let t = Target::from_entry(
        Signal::Traces,
        &ep("url: https://h:4317\nformat: otlp_grpc\ntls_config: {ca_file: /nonexistent/ca.pem}\n"),
    )
    .unwrap();
    let e = forward::grpc::channel(&t.settings).unwrap_err();
    assert!(e.contains("reading ca_file /nonexistent/ca.pem"), "{e}");
    let t = Target::from_entry(
        Signal::Traces,
        &ep("url: https://h:4317\nformat: otlp_grpc\ntls_config: {cert: x}\n"),
    )
    .unwrap();
    let e = forward::grpc::channel(&t.settings).unwrap_err();
    assert!(e.contains("both a certificate and a key"), "{e}");
    let t = Target::from_entry(
        Signal::Traces,
        &ep("url: http://h:4317\nformat: otlp_grpc\ntls_config: {insecure_skip_verify: true}\n"),
    )
    .unwrap();
    let e = forward::grpc::channel(&t.settings).unwrap_err();
    assert!(e.contains("needs an https:// url"), "{e}");
    // Plain and TLS channels without extra settings are fine (webpki roots).
    for url in ["http://h:4317", "https://h:4317"] {
        let t = Target::from_entry(
            Signal::Traces,
            &ep(&format!("url: {url}\nformat: otlp_grpc\n")),
        )
        .unwrap();
        forward::grpc::channel(&t.settings).unwrap();
    }
}
