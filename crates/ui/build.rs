//! Builds the web UI in `ui/` (TypeScript → one JS and one CSS file, by esbuild through Node.js)
//! into `OUT_DIR/ui` and writes `assets.rs`, the table of embedded files. `npm ci` runs first
//! when `ui/node_modules` is missing or older than `ui/package-lock.json`.
//!
//! Without Node.js the binary still builds, with a page that says how to get the UI; a UI that
//! fails to compile fails the build (set `PHAROS_UI_SKIP_BUILD=1` to embed that page instead).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let ui_dir = manifest.join("../../ui");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("ui");
    for p in [
        "src",
        "index.html",
        "build.mjs",
        "package.json",
        "package-lock.json",
        "tsconfig.json",
    ] {
        println!("cargo:rerun-if-changed={}", ui_dir.join(p).display());
    }
    println!("cargo:rerun-if-env-changed=PHAROS_UI_SKIP_BUILD");
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).expect("create OUT_DIR/ui");

    let result = if std::env::var_os("PHAROS_UI_SKIP_BUILD").is_some() {
        Err("PHAROS_UI_SKIP_BUILD is set".to_string())
    } else {
        build_ui(&ui_dir, &out)
    };
    if let Err(why) = result {
        if why.starts_with("BUILD FAILED") {
            panic!("{why}");
        }
        println!("cargo:warning=web UI not built: {why}; the binary serves a page explaining how to build it");
        fs::write(out.join("index.html"), fallback_page(&why)).expect("write fallback page");
    }
    write_table(&out);
}

fn build_ui(ui_dir: &Path, out: &Path) -> Result<(), String> {
    if Command::new("node").arg("--version").output().is_err() {
        return Err("Node.js (`node`) was not found on PATH".into());
    }
    // One build script at a time installs packages (cargo may build several profiles at once).
    let lock = fs::File::create(ui_dir.join(".npm-install.lock"))
        .map_err(|e| format!("lock file: {e}"))?;
    lock.lock().map_err(|e| format!("lock: {e}"))?;
    let marker = ui_dir.join("node_modules/.package-lock.json");
    let stale = match (
        fs::metadata(&marker),
        fs::metadata(ui_dir.join("package-lock.json")),
    ) {
        (Ok(m), Ok(l)) => m.modified().ok() < l.modified().ok(),
        _ => true,
    };
    if stale {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(ui_dir)
            .status()
            .map_err(|e| format!("cannot run npm: {e}"))?;
        if !status.success() {
            return Err(format!(
                "`npm ci` in {} failed ({status})",
                ui_dir.display()
            ));
        }
    }
    drop(lock);
    let output = Command::new("node")
        .arg("build.mjs")
        .arg("--outdir")
        .arg(out)
        .current_dir(ui_dir)
        .output()
        .map_err(|e| format!("cannot run node: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "BUILD FAILED: the web UI did not compile:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

fn fallback_page(why: &str) -> String {
    let why = why
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>pharos</title></head>\
         <body style=\"font-family:sans-serif;background:#111217;color:#d8d9da;padding:40px\">\
         <h1>pharos is running; its web UI was not built into this binary</h1>\
         <p>Reason: {why}.</p><p>Install Node.js 20 or newer with npm, then rebuild: \
         <code>cargo run --release -- serve</code>. Every API (Prometheus, Loki, Jaeger, \
         Alertmanager, Elasticsearch) works without the UI.</p></body></html>"
    )
}

fn write_table(out: &Path) {
    let mut entries: Vec<String> = fs::read_dir(out)
        .expect("read OUT_DIR/ui")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    let mut table = String::from(
        "/// Embedded UI files: (name, bytes).\npub static ASSETS: &[(&str, &[u8])] = &[\n",
    );
    for name in entries {
        table.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            out.join(&name).display().to_string()
        ));
    }
    table.push_str("];\n");
    let dir = out.parent().expect("OUT_DIR/ui has a parent");
    fs::write(dir.join("assets.rs"), table).expect("write assets.rs");
}
