//! The channel of an OTLP/gRPC forwarder: plain HTTP/2 for an `http://` URL, TLS (rustls with
//! the ring provider) for an `https://` one, from the entry's `tls_config`: `ca`/`ca_file`
//! (the webpki roots when none is given), `cert`/`key` (a client certificate for mTLS),
//! `server_name` (SNI and the name checked) and `insecure_skip_verify`, as the HTTP
//! forwarders take it.

use crate::settings::Settings;
use config::prometheus::TlsConfig;
use std::sync::Arc;
use tokio_rustls::rustls;
use tonic::transport::{Channel, Endpoint, Uri};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The lazily connecting channel of `s` (nothing is dialled until the first export), or why
/// its URL or `tls_config` cannot be used.
pub fn channel(s: &Settings) -> Result<Channel, String> {
    let what = |e: String| format!("forward {}: {e}", s.url);
    let ep = Endpoint::from_shared(s.url.clone())
        .map_err(|e| what(format!("bad gRPC url: {e}")))?
        .timeout(s.remote_timeout)
        .connect_timeout(s.remote_timeout);
    if !s.url.starts_with("https://") {
        if s.tls != TlsConfig::default() {
            return Err(what(
                "tls_config needs an https:// url (http:// is plain HTTP/2)".into(),
            ));
        }
        return Ok(ep.connect_lazy());
    }
    let cfg = client_config(&s.tls).map_err(what)?;
    let host = ep
        .uri()
        .host()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_string();
    let name = match &s.tls.server_name {
        Some(n) if !n.is_empty() => n.clone(),
        _ => host,
    };
    let sn = rustls::pki_types::ServerName::try_from(name.clone())
        .map_err(|e| what(format!("invalid TLS server name {name:?}: {e}")))?
        .to_owned();
    let tls = tokio_rustls::TlsConnector::from(cfg);
    let connect = move |uri: Uri| {
        let (tls, sn) = (tls.clone(), sn.clone());
        async move {
            let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
            let port = uri.port_u16().unwrap_or(443);
            let tcp = tokio::net::TcpStream::connect((host, port)).await?;
            tcp.set_nodelay(true)?;
            let io = tls
                .connect(sn, tcp)
                .await
                .map_err(|e| format!("TLS handshake with {host}:{port}: {e}"))?;
            Ok::<_, BoxError>(hyper_util::rt::TokioIo::new(io))
        }
    };
    Ok(ep.connect_with_connector_lazy(tower::service_fn(connect)))
}

/// The PEM text of an inline value or a file.
fn pem(
    inline: &Option<String>,
    file: &Option<std::path::PathBuf>,
    what: &str,
) -> Result<Option<Vec<u8>>, String> {
    match (inline, file) {
        (Some(s), _) => Ok(Some(s.clone().into_bytes())),
        (None, Some(f)) => std::fs::read(f)
            .map(Some)
            .map_err(|e| format!("reading {what} {}: {e}", f.display())),
        _ => Ok(None),
    }
}

/// The rustls client config of `tls`, with `h2` as its ALPN protocol.
pub fn client_config(tls: &TlsConfig) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let builder = if tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(probes::tls::NoVerify(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match pem(&tls.ca, &tls.ca_file, "ca_file")? {
            Some(ca) => {
                let certs = CertificateDer::pem_slice_iter(&ca)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("tls_config CA: {e}"))?;
                if certs.is_empty() {
                    return Err("tls_config CA holds no PEM certificate".into());
                }
                for c in certs {
                    roots
                        .add(c)
                        .map_err(|e| format!("tls_config CA certificate: {e}"))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots)
    };
    let mut cfg = match (
        pem(&tls.cert, &tls.cert_file, "cert_file")?,
        pem(&tls.key, &tls.key_file, "key_file")?,
    ) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_slice_iter(&cert)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("tls_config client certificate: {e}"))?;
            if chain.is_empty() {
                return Err("tls_config client certificate holds no PEM certificate".into());
            }
            let key = PrivateKeyDer::from_pem_slice(&key)
                .map_err(|e| format!("tls_config client key: {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("tls_config client certificate: {e}"))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("tls_config needs both a certificate and a key".into()),
    };
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(cfg))
}
