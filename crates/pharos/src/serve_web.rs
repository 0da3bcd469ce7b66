//! The web front door of every listener: TLS (Prometheus' `tls_server_config`, its files
//! re-read when they change), basic auth (bcrypt `basic_auth_users`) and bearer tokens with
//! read/write/admin scopes and a tenant, the UI login page and its cookie sessions, failed-login
//! counting and per-IP rate limiting, response headers, the lifecycle/admin API switches
//! (`/-/reload`, `/-/quit`, `/api/v1/admin/*` and Loki's delete API answer 403 unless enabled),
//! `/-/quit`, and the admin snapshot API.

use api::AppState;
use axum::body::Body;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use config::web::{ClientAuthType, Scope, TokenSecret, WebSettings};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio_rustls::rustls;

/// Failed logins per client IP and minute before requests answer 429.
pub const MAX_FAILURES_PER_MINUTE: usize = 10;
const SESSION_COOKIE: &str = "pharos_session";
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// `--web.*` flags of `pharos serve` (Prometheus' names); they add to pharos.yml's `web:`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct WebFlags {
    /// Enable `/-/reload` and `/-/quit` over HTTP (SIGHUP reload always works).
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,
    /// Enable `/api/v1/admin/*` (snapshot).
    #[arg(long = "web.enable-admin-api")]
    pub enable_admin_api: bool,
    /// A Prometheus web config file (TLS, basic auth, headers).
    #[arg(long = "web.config.file")]
    pub config_file: Option<PathBuf>,
}

impl WebFlags {
    /// Adds the flags to a loaded configuration.
    pub fn apply(&self, cfg: &mut config::LoadedConfig) -> Result<(), String> {
        cfg.web.enable_lifecycle |= self.enable_lifecycle;
        cfg.web.enable_admin_api |= self.enable_admin_api;
        if let Some(p) = &self.config_file {
            cfg.web
                .apply_web_config_file(p)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- TLS and listeners

static TLS: OnceLock<Option<Arc<ReloadingTls>>> = OnceLock::new();
static QUIT: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Builds the TLS configuration every listener uses (once, at startup; the files it names are
/// re-read when they change, see [`ReloadingTls`]).
pub fn init_tls(web: &WebSettings) -> Result<(), String> {
    let tls = match &web.tls {
        None => None,
        Some(t) => Some(Arc::new(ReloadingTls::new(t.clone())?)),
    };
    let _ = TLS.set(tls);
    Ok(())
}

/// Size, modification and change time and inode of a file (None: unreadable).
type FileStamp = Option<(u64, i64, i64, i64, i64, u64)>;

fn file_stamp(p: &Path) -> FileStamp {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).ok()?;
    Some((
        m.len(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
        m.ino(),
    ))
}

/// The server side of TLS with certificate reload, as Prometheus' exporter-toolkit re-reads its
/// files per handshake: each handshake stats the cert, key and client CA files and rebuilds the
/// configuration when one changed (replaced, rewritten or touched). A change that does not load
/// (a half-written file, a key that does not match the certificate) keeps the configuration in
/// use and is logged once; the next change is tried again.
pub struct ReloadingTls {
    settings: config::web::TlsServerSettings,
    current: Mutex<(Vec<FileStamp>, tokio_rustls::TlsAcceptor)>,
}

impl ReloadingTls {
    fn new(settings: config::web::TlsServerSettings) -> Result<ReloadingTls, String> {
        let stamps = Self::stamps(&settings);
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config(&settings)?));
        Ok(ReloadingTls {
            settings,
            current: Mutex::new((stamps, acceptor)),
        })
    }

    fn stamps(t: &config::web::TlsServerSettings) -> Vec<FileStamp> {
        let mut v = vec![file_stamp(&t.cert_file), file_stamp(&t.key_file)];
        if let Some(ca) = &t.client_ca_file {
            v.push(file_stamp(ca));
        }
        v
    }

    /// The acceptor for the next handshake, rebuilt first when a file changed.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let stamps = Self::stamps(&self.settings);
        let mut cur = self.current.lock();
        if stamps != cur.0 {
            cur.0 = stamps;
            match server_config(&self.settings) {
                Ok(c) => {
                    cur.1 = tokio_rustls::TlsAcceptor::from(Arc::new(c));
                    tracing::info!("TLS certificate files changed: reloaded");
                }
                Err(e) => tracing::warn!(
                    "TLS certificate files changed but do not load ({e}); still serving the previous certificate"
                ),
            }
        }
        cur.1.clone()
    }
}

/// `https` when TLS is on, else `http`.
pub fn scheme() -> &'static str {
    match TLS.get() {
        Some(Some(_)) => "https",
        _ => "http",
    }
}

fn server_config(t: &config::web::TlsServerSettings) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        match (t.min_version.as_deref(), t.max_version.as_deref()) {
            (Some("TLS13"), _) => vec![&rustls::version::TLS13],
            (_, Some("TLS12" | "TLS11" | "TLS10")) => vec![&rustls::version::TLS12],
            _ => vec![&rustls::version::TLS12, &rustls::version::TLS13],
        };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&t.cert_file)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("tls_server_config.cert_file {}: {e}", t.cert_file.display()))?;
    let key = PrivateKeyDer::from_pem_file(&t.key_file)
        .map_err(|e| format!("tls_server_config.key_file {}: {e}", t.key_file.display()))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls_server_config: {e}"))?;
    let builder = match (t.client_auth_type, &t.client_ca_file) {
        (ClientAuthType::NoClientCert, _) => builder.with_no_client_auth(),
        (kind, Some(ca)) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca)
                .map_err(|e| format!("tls_server_config.client_ca_file {}: {e}", ca.display()))?
            {
                let c = c.map_err(|e| format!("client_ca_file {}: {e}", ca.display()))?;
                roots
                    .add(c)
                    .map_err(|e| format!("client_ca_file {}: {e}", ca.display()))?;
            }
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            let v = match kind {
                ClientAuthType::RequireAndVerifyClientCert
                | ClientAuthType::RequireAnyClientCert => v,
                _ => v.allow_unauthenticated(),
            };
            builder.with_client_cert_verifier(v.build().map_err(|e| format!("client CA: {e}"))?)
        }
        (kind, None) => {
            return Err(format!(
                "tls_server_config: client_auth_type {kind:?} needs client_ca_file in pharos"
            ))
        }
    };
    let mut cfg = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls_server_config: {e}"))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// A plain or TLS connection.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// A TCP listener that hands out plain or TLS connections (handshakes run concurrently).
pub struct WebListener {
    rx: tokio::sync::mpsc::Receiver<(Box<dyn Io>, SocketAddr)>,
    local: SocketAddr,
}

impl WebListener {
    fn new(tcp: tokio::net::TcpListener) -> std::io::Result<WebListener> {
        let local = tcp.local_addr()?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let tls = TLS.get().cloned().flatten();
        tokio::spawn(async move {
            loop {
                let (s, peer) = match tcp.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::debug!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = s.set_nodelay(true);
                match &tls {
                    None => {
                        if tx.send((Box::new(s) as Box<dyn Io>, peer)).await.is_err() {
                            return;
                        }
                    }
                    Some(reloading) => {
                        let (acc, tx) = (reloading.acceptor(), tx.clone());
                        tokio::spawn(async move {
                            match tokio::time::timeout(Duration::from_secs(10), acc.accept(s)).await
                            {
                                Ok(Ok(t)) => {
                                    let _ = tx.send((Box::new(t) as Box<dyn Io>, peer)).await;
                                }
                                Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake: {e}"),
                                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                            }
                        });
                    }
                }
                if tx.is_closed() {
                    return;
                }
            }
        });
        Ok(WebListener { rx, local })
    }
}

impl axum::serve::Listener for WebListener {
    type Io = Box<dyn Io>;
    type Addr = SocketAddr;
    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            // The accept task only ends with the listener: never resolve again.
            None => std::future::pending().await,
        }
    }
    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// The client's address, for rate limiting failed logins.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub SocketAddr);

impl Connected<axum::serve::IncomingStream<'_, WebListener>> for ClientAddr {
    fn connect_info(s: axum::serve::IncomingStream<'_, WebListener>) -> Self {
        ClientAddr(*s.remote_addr())
    }
}

/// Serves `app` on `tcp` (TLS when configured) until `shutdown` resolves.
pub async fn serve(
    tcp: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let l = WebListener::new(tcp)?;
    axum::serve(l, app.into_make_service_with_connect_info::<ClientAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves when `POST /-/quit` was accepted.
pub async fn quit_requested() {
    QUIT.notified().await
}

// ---------------------------------------------------------------- authentication

/// What a request needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Health, readiness, the login page: always open.
    Open,
    Read,
    Write,
    Admin,
    /// `/-/reload`, `/-/quit`: admin, and only when lifecycle is enabled.
    Lifecycle,
    /// `/api/v1/admin/*`, the logs', traces' and errors' delete APIs: admin, and only when the admin API is enabled.
    AdminApi,
    /// Sentry ingest: the DSN key authenticates it when no pharos credential is sent.
    SentryIngest,
}

/// Classifies a request by method and path.
pub fn classify(method: &Method, path: &str) -> Class {
    if matches!(
        path,
        "/-/healthy" | "/-/ready" | "/api/health" | "/ready" | "/login" | "/logout"
    ) {
        return Class::Open;
    }
    if matches!(path, "/-/reload" | "/-/quit") {
        return Class::Lifecycle;
    }
    if path.starts_with("/api/v1/admin/")
        || matches!(
            path,
            "/loki/api/v1/delete"
                | "/loki/api/v1/cache/generation_numbers"
                | "/api/traces/v1/delete"
                | "/api/errors/v1/delete"
        )
    {
        return Class::AdminApi;
    }
    let seg: Vec<&str> = path.trim_matches('/').split('/').collect();
    if seg.len() == 3 && seg[0] == "api" && matches!(seg[2], "envelope" | "store") {
        return Class::SentryIngest;
    }
    if method == Method::GET || method == Method::HEAD || method == Method::OPTIONS {
        return Class::Read;
    }
    let push = path == "/api/v1/write"
        || path == "/api/v1/push"
        || path.ends_with("/v1/metrics")
        || path.ends_with("/v1/traces")
        || path.ends_with("/v1/logs")
        || path == "/loki/api/v1/push"
        || path == "/api/prom/push"
        || path.ends_with("/_bulk")
        || path.contains("/_doc")
        || path.contains("/_create")
        || matches!(path, "/api/v2/spans" | "/api/v1/spans" | "/api/traces")
        || path.starts_with("/opentelemetry.proto.collector.")
        || path.starts_with("/jaeger.api_v2.");
    if push {
        return Class::Write;
    }
    const QUERY_POSTS: [&str; 12] = [
        "/query",
        "/series",
        "/labels",
        "/label/",
        "/api/v1/read",
        "/format_query",
        "/parse_query",
        "_search",
        "_count",
        "_msearch",
        "/_refresh",
        "/_field_caps",
    ];
    if QUERY_POSTS.iter().any(|q| path.contains(q)) {
        return Class::Read;
    }
    Class::Admin
}

/// Who a request is.
#[derive(Clone, Debug)]
struct Principal {
    name: String,
    scopes: Vec<Scope>,
    tenant: Option<String>,
}

/// Sessions, caches, failure counters: process-wide state of the front door.
#[derive(Default)]
pub struct Auth {
    sessions: Mutex<HashMap<String, (Principal, Instant)>>,
    /// sha256(user, password, hash) of verified basic-auth pairs (bcrypt is slow on purpose).
    bcrypt_ok: Mutex<std::collections::HashSet<[u8; 32]>>,
    failures_by_ip: Mutex<HashMap<IpAddr, Vec<Instant>>>,
    failures: Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().into()
}

fn hex_sha256(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Equal without an early exit on the first differing byte.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The bearer token pharos' built-in collectors send when they scrape pharos' own listener
/// with auth on: random per process, never written anywhere, read scope only.
pub fn internal_scrape_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(random_hex)
}

fn random_hex() -> String {
    use std::io::Read;
    let mut b = [0u8; 32];
    let ok = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    if ok.is_err() {
        // No /dev/urandom: fall back to the hash of time and address entropy.
        let t = format!("{:?}{:p}", std::time::SystemTime::now(), &b);
        b = sha256(&[t.as_bytes()]);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Auth {
    fn fail(&self, reason: &'static str, ip: Option<IpAddr>) {
        *self.failures.lock().entry(reason).or_default() += 1;
        if let Some(ip) = ip {
            self.failures_by_ip
                .lock()
                .entry(ip)
                .or_default()
                .push(Instant::now());
        }
    }

    fn rate_limited(&self, ip: Option<IpAddr>) -> bool {
        let Some(ip) = ip else { return false };
        let mut m = self.failures_by_ip.lock();
        let cutoff = Instant::now() - Duration::from_secs(60);
        m.retain(|_, v| {
            v.retain(|t| *t > cutoff);
            !v.is_empty()
        });
        m.get(&ip)
            .is_some_and(|v| v.len() >= MAX_FAILURES_PER_MINUTE)
    }

    /// Checks a user/password pair against `basic_auth_users`.
    fn basic(&self, web: &WebSettings, user: &str, pass: &str) -> Result<Principal, &'static str> {
        let Some(hash) = web.basic_auth_users.get(user) else {
            // Same work as a real check, so timing does not reveal which users exist.
            let _ = bcrypt::verify(
                pass,
                "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DSmV4aHCJ.AxbA5yqwnL.",
            );
            return Err("unknown_user");
        };
        let key = sha256(&[user.as_bytes(), pass.as_bytes(), hash.as_bytes()]);
        let cached = self.bcrypt_ok.lock().contains(&key);
        if !cached {
            if !bcrypt::verify(pass, hash).unwrap_or(false) {
                return Err("bad_password");
            }
            let mut c = self.bcrypt_ok.lock();
            if c.len() > 10_000 {
                c.clear();
            }
            c.insert(key);
        }
        Ok(Principal {
            name: user.to_string(),
            scopes: vec![Scope::Read, Scope::Write, Scope::Admin],
            tenant: None,
        })
    }

    fn token(&self, web: &WebSettings, tok: &str) -> Result<Principal, &'static str> {
        if ct_eq(internal_scrape_token().as_bytes(), tok.as_bytes()) {
            return Ok(Principal {
                name: "built-in collectors".into(),
                scopes: vec![Scope::Read],
                tenant: None,
            });
        }
        let hashed = hex_sha256(tok);
        for t in &web.tokens {
            let ok = match &t.secret {
                TokenSecret::Plain(s) => ct_eq(s.as_bytes(), tok.as_bytes()),
                TokenSecret::Sha256(h) => ct_eq(h.as_bytes(), hashed.as_bytes()),
            };
            if ok {
                return Ok(Principal {
                    name: t.name.clone(),
                    scopes: t.scopes.clone(),
                    tenant: t.tenant.clone(),
                });
            }
        }
        Err("bad_token")
    }

    /// `pharos_auth_failures_total{reason}` and `pharos_auth_sessions`.
    pub fn write_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        out.push_str("# HELP pharos_auth_failures_total Requests refused by authentication, by reason.\n# TYPE pharos_auth_failures_total counter\n");
        let f = self.failures.lock();
        for reason in [
            "missing",
            "unknown_user",
            "bad_password",
            "bad_token",
            "bad_session",
            "forbidden",
            "rate_limited",
        ] {
            let _ = writeln!(
                out,
                "pharos_auth_failures_total{{reason=\"{reason}\"}} {}",
                f.get(reason).copied().unwrap_or(0)
            );
        }
        let _ = writeln!(
            out,
            "# HELP pharos_auth_sessions Live UI login sessions.\n# TYPE pharos_auth_sessions gauge\npharos_auth_sessions {}",
            self.sessions.lock().len()
        );
    }
}

fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
}

fn plain(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, msg.into() + "\n").into_response()
}

fn wants_html(req: &Request) -> bool {
    req.method() == Method::GET
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"))
}

fn unauthorized(req: &Request, msg: &str) -> Response {
    if wants_html(req) {
        let next = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let mut r = (StatusCode::UNAUTHORIZED, login_page(next, Some(msg))).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return r;
    }
    let mut r = plain(StatusCode::UNAUTHORIZED, msg);
    // Not to a browser's own fetches (Sec-Fetch-Mode): it would open the browser's basic-auth
    // dialog over the UI instead of letting the page send the user to /login.
    if req.headers().contains_key("sec-fetch-mode") {
        return r;
    }
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"pharos\", charset=\"UTF-8\""),
    );
    r
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The UI's login page: user/password or a token; posts to `/login`.
fn login_page(next: &str, error: Option<&str>) -> String {
    let err = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", html_escape(e)))
        .unwrap_or_default();
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>pharos · sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:system-ui,sans-serif;background:#0f1720;color:#e6edf3;display:flex;align-items:center;justify-content:center;min-height:100vh;margin:0}}
form{{background:#16202b;padding:2rem 2.5rem;border-radius:10px;min-width:320px;box-shadow:0 8px 30px #0008}}
h1{{font-size:1.3rem;margin:0 0 1.2rem}} label{{display:block;margin:.8rem 0 .3rem;font-size:.85rem;color:#9fb0c0}}
input{{width:100%;box-sizing:border-box;padding:.55rem;border-radius:6px;border:1px solid #2c3b4a;background:#0f1720;color:#e6edf3}}
button{{margin-top:1.3rem;width:100%;padding:.6rem;border:0;border-radius:6px;background:#3b82f6;color:#fff;font-weight:600;cursor:pointer}}
.or{{text-align:center;color:#6b7c8c;margin:1rem 0 0;font-size:.8rem}} .error{{color:#f87171;margin:0 0 .5rem}}
</style></head><body>
<form method="post" action="/login" id="login">
<h1>Sign in to pharos</h1>{err}
<input type="hidden" name="next" value="{next}">
<label for="username">User</label><input id="username" name="username" autocomplete="username">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password">
<p class="or">or an API token</p>
<label for="token">Token</label><input id="token" name="token" type="password" autocomplete="off">
<button type="submit">Sign in</button>
</form></body></html>"#,
        next = html_escape(next)
    )
}

/// The middleware in front of every route (every listener).
pub async fn front_door(
    State((state, auth)): State<(Arc<AppState>, Arc<Auth>)>,
    mut req: Request,
    next: Next,
) -> Response {
    let cfg = state.config.read().clone();
    let web = &cfg.web;
    let mut resp = check(&state, &auth, web, &mut req).await;
    if resp.is_none() {
        resp = Some(next.run(req).await);
    }
    let mut resp = resp.unwrap_or_else(|| plain(StatusCode::INTERNAL_SERVER_ERROR, "no response"));
    for (k, v) in &web.headers {
        if let (Ok(k), Ok(v)) = (
            header::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

/// The OTLP/gRPC listener's check of a call's `authorization` metadata against the current
/// web config (basic auth or a bearer token with the write scope; failures counted and
/// rate-limited like the HTTP ones): the tenant bound to the credential.
/// None before [`layer`] set up the front door (nothing to check against).
pub fn grpc_authorizer() -> Option<api::otlp::grpc::Authorize> {
    use api::otlp::grpc::Denied;
    let (state, auth) = FRONT_DOOR.get()?.clone();
    Some(Arc::new(move |authz: Option<&str>| {
        let cfg = state.config.read().clone();
        let web = &cfg.web;
        if !web.auth_enabled() {
            return Ok(None);
        }
        if auth.rate_limited(None) {
            return Err(Denied::Unauthenticated("too many failed logins".into()));
        }
        let got = match authz {
            Some(a) if a.starts_with("Bearer ") => auth.token(web, a[7..].trim()),
            Some(a) if a.starts_with("Basic ") => {
                use base64::Engine;
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(a[6..].trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok());
                match decoded.as_deref().and_then(|d| d.split_once(':')) {
                    Some((u, p)) => auth.basic(web, u, p),
                    None => Err("bad_password"),
                }
            }
            Some(_) => Err("bad_token"),
            None => Err("missing"),
        };
        let p = got.map_err(|reason| {
            auth.fail(reason, None);
            Denied::Unauthenticated(match reason {
                "missing" => "authentication required: send authorization metadata (basic auth or a bearer token)".into(),
                _ => "invalid credentials".into(),
            })
        })?;
        if !p.scopes.contains(&Scope::Write) {
            auth.fail("forbidden", None);
            return Err(Denied::PermissionDenied(
                format!(
                    "token {:?} lacks the write scope this endpoint needs (it has {:?})",
                    p.name, p.scopes
                )
                .to_lowercase(),
            ));
        }
        Ok(p.tenant)
    }))
}

/// The state and auth of the front door [`layer`] installed, for listeners outside axum.
static FRONT_DOOR: OnceLock<(Arc<AppState>, Arc<Auth>)> = OnceLock::new();

/// `Some(response)` when the request is refused (or is the login itself).
async fn check(
    _state: &Arc<AppState>,
    auth: &Arc<Auth>,
    web: &WebSettings,
    req: &mut Request,
) -> Option<Response> {
    let class = classify(req.method(), req.uri().path());
    let ip = req
        .extensions()
        .get::<ConnectInfo<ClientAddr>>()
        .map(|c| c.0 .0.ip());
    if class == Class::Open && req.uri().path() != "/login" && req.uri().path() != "/logout" {
        return None;
    }
    if req.uri().path() == "/login" || req.uri().path() == "/logout" {
        return Some(login(auth, web, req, ip).await);
    }
    let principal = if web.auth_enabled() {
        let authz = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let session = cookie(req, SESSION_COOKIE);
        let has_credential = authz
            .as_deref()
            .is_some_and(|a| a.starts_with("Basic ") || a.starts_with("Bearer "))
            || session.is_some();
        if class == Class::SentryIngest && !has_credential {
            // The DSN key in X-Sentry-Auth / sentry_key is checked by the ingest handler.
            return None;
        }
        if auth.rate_limited(ip) {
            auth.fail("rate_limited", None);
            return Some(plain(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many failed logins from this address (more than {MAX_FAILURES_PER_MINUTE} a minute); try again later"),
            ));
        }
        let got: Result<Principal, &'static str> = match (authz.as_deref(), session) {
            (Some(a), _) if a.starts_with("Basic ") => {
                use base64::Engine;
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(a[6..].trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok());
                match decoded.as_deref().and_then(|d| d.split_once(':')) {
                    Some((u, p)) => {
                        let (a, w, u, p) =
                            (auth.clone(), web.clone(), u.to_string(), p.to_string());
                        tokio::task::spawn_blocking(move || a.basic(&w, &u, &p))
                            .await
                            .unwrap_or(Err("bad_password"))
                    }
                    None => Err("bad_password"),
                }
            }
            (Some(a), _) if a.starts_with("Bearer ") => auth.token(web, a[7..].trim()),
            (_, Some(s)) => {
                let mut m = auth.sessions.lock();
                match m.get(&s) {
                    Some((p, exp)) if *exp > Instant::now() => Ok(p.clone()),
                    Some(_) => {
                        m.remove(&s);
                        Err("bad_session")
                    }
                    None => Err("bad_session"),
                }
            }
            _ => Err("missing"),
        };
        match got {
            Ok(p) => Some(p),
            Err(reason) => {
                // A missing credential is not a failed login attempt: no rate limit.
                auth.fail(reason, (reason != "missing").then_some(ip).flatten());
                let msg = match reason {
                    "missing" => "authentication required: send basic auth, a bearer token, or sign in at /login",
                    "bad_session" => "session expired: sign in again at /login",
                    _ => "invalid credentials",
                };
                return Some(unauthorized(req, msg));
            }
        }
    } else {
        None
    };
    let needed = match class {
        Class::Open => return None,
        Class::Read => Scope::Read,
        Class::Write | Class::SentryIngest => Scope::Write,
        Class::Admin | Class::Lifecycle | Class::AdminApi => Scope::Admin,
    };
    if let Some(p) = &principal {
        if !p.scopes.contains(&needed) {
            auth.fail("forbidden", None);
            return Some(plain(
                StatusCode::FORBIDDEN,
                format!(
                    "token {:?} lacks the {needed:?} scope this endpoint needs (it has {:?})",
                    p.name, p.scopes
                )
                .to_lowercase(),
            ));
        }
        if let Some(t) = &p.tenant {
            if let Ok(v) = HeaderValue::from_str(t) {
                req.headers_mut().insert("x-scope-orgid", v);
            }
        }
    }
    if class == Class::Lifecycle && !web.enable_lifecycle {
        return Some(plain(
            StatusCode::FORBIDDEN,
            "Lifecycle API is not enabled: set web.enable_lifecycle: true in pharos.yml or start with --web.enable-lifecycle (SIGHUP reloads the configuration in any case)",
        ));
    }
    if class == Class::AdminApi && !web.enable_admin_api {
        return Some(plain(
            StatusCode::FORBIDDEN,
            "admin APIs disabled: set web.enable_admin_api: true in pharos.yml or start with --web.enable-admin-api",
        ));
    }
    None
}

/// `GET /login` (the page), `POST /login` (form: username+password or token, next),
/// `POST /logout`.
async fn login(
    auth: &Arc<Auth>,
    web: &WebSettings,
    req: &mut Request,
    ip: Option<IpAddr>,
) -> Response {
    let html = |status: StatusCode, body: String| {
        let mut r = (status, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r
    };
    let is_logout = req.uri().path() == "/logout";
    if is_logout {
        if let Some(s) = cookie(req, SESSION_COOKIE) {
            auth.sessions.lock().remove(&s);
        }
        let mut r = (StatusCode::SEE_OTHER, "").into_response();
        r.headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static("/login"));
        r.headers_mut().insert(
            header::SET_COOKIE,
            HeaderValue::from_static(
                "pharos_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict",
            ),
        );
        return r;
    }
    if req.method() != Method::POST {
        if !web.auth_enabled() {
            let mut r = (StatusCode::SEE_OTHER, "").into_response();
            r.headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static("/"));
            return r;
        }
        return html(StatusCode::OK, login_page("/", None));
    }
    if auth.rate_limited(ip) {
        auth.fail("rate_limited", None);
        return html(
            StatusCode::TOO_MANY_REQUESTS,
            login_page(
                "/",
                Some("Too many failed sign-ins from this address; wait a minute."),
            ),
        );
    }
    let body = std::mem::replace(req.body_mut(), Body::empty());
    let bytes = axum::body::to_bytes(body, 64 << 10)
        .await
        .unwrap_or_default();
    let form: HashMap<String, String> = form_urlencoded::parse(&bytes).into_owned().collect();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let next = match get("next") {
        n if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    };
    let got = if !get("token").is_empty() {
        auth.token(web, get("token"))
    } else {
        let (a, w, u, p) = (
            auth.clone(),
            web.clone(),
            get("username").to_string(),
            get("password").to_string(),
        );
        tokio::task::spawn_blocking(move || a.basic(&w, &u, &p))
            .await
            .unwrap_or(Err("bad_password"))
    };
    match got {
        Ok(p) => {
            let id = random_hex();
            auth.sessions
                .lock()
                .insert(id.clone(), (p, Instant::now() + SESSION_TTL));
            let secure = if scheme() == "https" { "; Secure" } else { "" };
            let mut r = (StatusCode::SEE_OTHER, "").into_response();
            if let Ok(v) = HeaderValue::from_str(&next) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{SESSION_COOKIE}={id}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
                SESSION_TTL.as_secs()
            )) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(reason) => {
            auth.fail(reason, ip);
            // 200 with the form again: Chromium shows its own error page for a 401 answer to
            // a form post instead of the body.
            html(
                StatusCode::OK,
                login_page(&next, Some("Wrong user, password or token.")),
            )
        }
    }
}

/// Wraps `app` in the front door.
pub fn layer(app: Router, state: Arc<AppState>, auth: Arc<Auth>) -> Router {
    let _ = FRONT_DOOR.set((state.clone(), auth.clone()));
    app.layer(axum::middleware::from_fn_with_state(
        (state, auth),
        front_door,
    ))
    .layer(axum::middleware::map_response(close_after_refused_body))
}

/// A 413 is answered before the request body was read to its end, so the connection cannot
/// carry another request: the answer says `Connection: close`. Clients that pool connections
/// (Node's fetch, Go's http.Client) would otherwise send their next request on it and fail.
async fn close_after_refused_body(mut resp: Response) -> Response {
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

// ---------------------------------------------------------------- lifecycle and admin API

/// `/-/quit` and the admin API (`/api/v1/admin/tsdb/{snapshot,delete_series,clean_tombstones}`);
/// the front door has already checked that they are enabled.
pub fn routes(data_dir: PathBuf, state: Arc<AppState>) -> Router {
    use api::prometheus::admin_api;
    let data = Arc::new(data_dir);
    Router::new()
        .route("/-/quit", post(quit).put(quit))
        .route(
            "/api/v1/admin/tsdb/snapshot",
            post(snapshot_handler).put(snapshot_handler),
        )
        .with_state((data, state.clone()))
        .merge(
            Router::new()
                .route(
                    "/api/v1/admin/tsdb/delete_series",
                    post(admin_api::delete_series).put(admin_api::delete_series),
                )
                .route(
                    "/api/v1/admin/tsdb/clean_tombstones",
                    post(admin_api::clean_tombstones).put(admin_api::clean_tombstones),
                )
                .with_state(state),
        )
}

async fn quit() -> Response {
    QUIT.notify_one();
    plain(StatusCode::OK, "Requesting termination... Goodbye!")
}

fn api_error(status: StatusCode, kind: &str, msg: String) -> Response {
    (
        status,
        axum::Json(serde_json::json!({"status": "error", "errorType": kind, "error": msg})),
    )
        .into_response()
}

/// Directories of the data dir a snapshot leaves out.
const NOT_SNAPSHOTTED: [&str; 1] = ["snapshots"];

/// Takes a snapshot of every signal's data under `<data>/snapshots/<name>`: the TSDB with its
/// blocks hard-linked and its WAL copied while cuts are held off; every other store (logs,
/// traces, errors, dashboards, alerting state, ...) copied file by file. Returns the name.
pub fn take_snapshot(data: &Path, tsdb: &tsdb::Tsdb) -> Result<String, String> {
    let name = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        &random_hex()[..16]
    );
    let dest = data.join("snapshots").join(&name);
    std::fs::create_dir_all(&dest).map_err(|e| format!("creating {}: {e}", dest.display()))?;
    let metrics = tsdb.dir().to_path_buf();
    let entries =
        std::fs::read_dir(data).map_err(|e| format!("reading {}: {e}", data.display()))?;
    for e in entries.flatten() {
        let path = e.path();
        let fname = e.file_name();
        let Some(n) = fname.to_str() else { continue };
        if NOT_SNAPSHOTTED.contains(&n) {
            continue;
        }
        let to = dest.join(n);
        if path == metrics {
            tsdb.snapshot_to(&to)
                .map_err(|e| format!("snapshot of the TSDB: {e}"))?;
        } else if path.is_dir() {
            tsdb::snapshot::copy_tree(&path, &to, &|_| false)
                .map_err(|e| format!("snapshot of {}: {e}", path.display()))?;
        } else if path.is_file() {
            std::fs::copy(&path, &to)
                .map_err(|e| format!("snapshot of {}: {e}", path.display()))?;
        }
    }
    Ok(name)
}

async fn snapshot_handler(State((data, state)): State<(Arc<PathBuf>, Arc<AppState>)>) -> Response {
    let tsdb = state.tsdb.clone();
    let r = tokio::task::spawn_blocking(move || take_snapshot(&data, &tsdb)).await;
    match r {
        Ok(Ok(name)) => {
            axum::Json(serde_json::json!({"status": "success", "data": {"name": name}}))
                .into_response()
        }
        Ok(Err(e)) => api_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e),
        Err(e) => api_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}

// ---------------------------------------------------------------- `pharos snapshot`

/// `pharos snapshot`: asks a running pharos for a snapshot through the admin API.
#[derive(clap::Args, Debug)]
pub struct SnapshotArgs {
    /// The pharos to snapshot.
    #[arg(long, default_value = "http://localhost:9090")]
    url: String,
    /// A bearer token with the admin scope.
    #[arg(long)]
    token: Option<String>,
    /// Basic auth as user:password.
    #[arg(long)]
    basic_auth: Option<String>,
    /// A CA certificate (PEM) to trust for https.
    #[arg(long)]
    ca_file: Option<PathBuf>,
}

pub fn snapshot_cli(a: SnapshotArgs) -> std::process::ExitCode {
    use std::process::ExitCode;
    let run = || -> Result<String, String> {
        let mut b = reqwest::blocking::Client::builder().timeout(Duration::from_secs(600));
        if let Some(ca) = &a.ca_file {
            let pem = std::fs::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
            b = b.add_root_certificate(
                reqwest::Certificate::from_pem(&pem)
                    .map_err(|e| format!("{}: {e}", ca.display()))?,
            );
        }
        let c = b.build().map_err(|e| e.to_string())?;
        let mut r = c.post(format!(
            "{}/api/v1/admin/tsdb/snapshot",
            a.url.trim_end_matches('/')
        ));
        if let Some(t) = &a.token {
            r = r.bearer_auth(t);
        } else if let Some((u, p)) = a.basic_auth.as_deref().and_then(|s| s.split_once(':')) {
            r = r.basic_auth(u, Some(p));
        }
        let resp = r.send().map_err(|e| format!("{}: {e}", a.url))?;
        let status = resp.status();
        let body = resp.text().unwrap_or_default();
        if !status.is_success() {
            return Err(format!("{status}: {}", body.trim()));
        }
        let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        v["data"]["name"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| format!("unexpected answer: {body}"))
    };
    match run() {
        Ok(name) => {
            println!("snapshot {name}: <data>/snapshots/{name}");
            println!("restore: pharos serve --data <data>/snapshots/{name} (or copy it to a new data directory)");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pharos snapshot: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        let g = Method::GET;
        let p = Method::POST;
        assert_eq!(classify(&g, "/-/healthy"), Class::Open);
        assert_eq!(classify(&g, "/api/health"), Class::Open);
        assert_eq!(classify(&p, "/-/reload"), Class::Lifecycle);
        assert_eq!(classify(&p, "/api/v1/admin/tsdb/snapshot"), Class::AdminApi);
        assert_eq!(classify(&g, "/loki/api/v1/delete"), Class::AdminApi);
        assert_eq!(classify(&p, "/api/v1/write"), Class::Write);
        assert_eq!(classify(&p, "/loki/api/v1/push"), Class::Write);
        assert_eq!(classify(&p, "/v1/traces"), Class::Write);
        assert_eq!(classify(&p, "/logs-x/_bulk"), Class::Write);
        assert_eq!(classify(&p, "/api/v2/spans"), Class::Write);
        assert_eq!(classify(&p, "/api/7/envelope/"), Class::SentryIngest);
        assert_eq!(classify(&p, "/api/v1/query"), Class::Read);
        assert_eq!(classify(&p, "/logs-*/_search"), Class::Read);
        assert_eq!(classify(&g, "/graph"), Class::Read);
        assert_eq!(classify(&p, "/api/dashboards/db"), Class::Admin);
    }

    #[test]
    fn tokens_plain_and_hashed() {
        let a = Auth::default();
        let w = WebSettings {
            tokens: vec![
                config::web::AuthToken {
                    name: "p".into(),
                    secret: TokenSecret::Plain("abc".into()),
                    scopes: vec![Scope::Write],
                    tenant: Some("t".into()),
                },
                config::web::AuthToken {
                    name: "h".into(),
                    secret: TokenSecret::Sha256(hex_sha256("xyz")),
                    scopes: vec![Scope::Read],
                    tenant: None,
                },
            ],
            ..Default::default()
        };
        assert_eq!(a.token(&w, "abc").unwrap().tenant.as_deref(), Some("t"));
        assert_eq!(a.token(&w, "xyz").unwrap().name, "h");
        assert!(a.token(&w, "ab").is_err());
    }
}
