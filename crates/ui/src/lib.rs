//! pharos' web UI as embedded files: `asset("app.js")` returns the bytes built from `ui/` at
//! compile time. With `PHAROS_UI_DIR` set (e.g. `ui/dist` while `node ui/build.mjs --watch`
//! runs), files are read from that folder on every request instead, so UI work needs no
//! Rust rebuild.

use std::borrow::Cow;

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// One file of the UI.
pub struct Asset {
    pub body: Cow<'static, [u8]>,
    pub content_type: &'static str,
}

/// The file `name` (`index.html`, `app.js`, `app.css`), or None.
pub fn asset(name: &str) -> Option<Asset> {
    if name.contains('/') || name.contains("..") || name.is_empty() {
        return None;
    }
    let body: Cow<'static, [u8]> = match std::env::var_os("PHAROS_UI_DIR") {
        Some(dir) => Cow::Owned(std::fs::read(std::path::Path::new(&dir).join(name)).ok()?),
        None => Cow::Borrowed(ASSETS.iter().find(|(n, _)| *n == name)?.1),
    };
    Some(Asset {
        body,
        content_type: content_type(name),
    })
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_embedded_and_paths_cannot_escape() {
        let index = asset("index.html").expect("index.html is always embedded");
        assert!(index.content_type.starts_with("text/html"));
        assert!(String::from_utf8_lossy(&index.body).contains("pharos"));
        assert!(asset("../Cargo.toml").is_none());
        assert!(asset("a/b.js").is_none());
        assert!(asset("").is_none());
    }
}
