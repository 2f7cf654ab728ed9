//! Embeds the View as one self-contained HTML document.
//!
//! trunk builds the View into `target/view-dist/` (an `index.html`, the wasm-bindgen JS glue and
//! the `.wasm`). A View runs in a sandboxed iframe with no server of its own and `connect-src
//! 'none'`, so it can fetch nothing: this script folds the three files into one document — the
//! glue as an inline module script, the wasm gzip-compressed and base64-encoded inside it,
//! inflated with `DecompressionStream` and handed to the glue as bytes — and the server
//! `include_str!`s the result. `mcp-chat` is then one binary with no files beside it.
//!
//! The View is not built from here: a nested trunk/cargo run inside a build script would hide its
//! progress for minutes and contend for the target directory's lock. When the View is missing the
//! build stops and says which command builds it.

use std::env;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::exit;

use base64::Engine as _;

/// File stem trunk gives the View's outputs (`filehash = false` in Trunk.toml keeps it stable).
const VIEW_STEM: &str = "mcp-chat-view";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    println!("cargo::rerun-if-env-changed=MCP_CHAT_VIEW_DIST");
    let dist = env::var_os("MCP_CHAT_VIEW_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("../target/view-dist"));

    let index = dist.join("index.html");
    let glue = dist.join(format!("{VIEW_STEM}.js"));
    let wasm = dist.join(format!("{VIEW_STEM}_bg.wasm"));
    for file in [&index, &glue, &wasm] {
        println!("cargo::rerun-if-changed={}", file.display());
    }
    if let Some(missing) = [&index, &glue, &wasm].into_iter().find(|f| !f.exists()) {
        fail(&format!(
            "the View has not been built: {} is missing.\n\
             Build it first with `scripts/build-view.sh` (or run `./run.sh`, which builds \
             everything), then build the server again.",
            missing.display()
        ));
    }

    let html = read(&index);
    let glue = read(&glue);
    let wasm = fs::read(&wasm).unwrap_or_else(|e| fail(&format!("{}: {e}", wasm.display())));

    let document = bundle(&html, &glue, &wasm).unwrap_or_else(|e| fail(&e));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it")).join("view.html");
    fs::write(&out, document).unwrap_or_else(|e| fail(&format!("{}: {e}", out.display())));
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())))
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    exit(1)
}

/// Replaces trunk's loader (which fetches the glue and the wasm by URL) with an inline one.
fn bundle(html: &str, glue: &str, wasm: &[u8]) -> Result<String, String> {
    if glue.contains("</script") {
        return Err("the JS glue contains `</script`, which would end the inline script".into());
    }
    let mut html = html.to_owned();
    // trunk injects `<link rel="modulepreload"|"preload" href="/mcp-chat-view…">` and a
    // `<script type="module">` that imports the glue; all of them point at our files by URL.
    while let Some(range) = find_tag(&html, "<link", ">", VIEW_STEM) {
        html.replace_range(range, "");
    }
    while let Some(range) = find_tag(&html, "<script", "</script>", VIEW_STEM) {
        html.replace_range(range, "");
    }
    if html.contains(VIEW_STEM) {
        return Err(format!(
            "trunk's index.html still refers to {VIEW_STEM} after removing its loader; \
             its output format may have changed"
        ));
    }

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(wasm).map_err(|e| e.to_string())?;
    let packed =
        base64::engine::general_purpose::STANDARD.encode(gz.finish().map_err(|e| e.to_string())?);

    // The glue keeps its `export`s (legal in a module script). Its `__wbg_init` is called with
    // the bytes, never a URL: `import.meta.url` is `about:srcdoc` inside a host's iframe.
    let loader = format!(
        "<script type=\"module\">\n{glue}\n\
         const packedWasm = \"{packed}\";\n\
         const gzipped = Uint8Array.from(atob(packedWasm), (c) => c.charCodeAt(0));\n\
         const inflated = new Blob([gzipped]).stream().pipeThrough(new DecompressionStream(\"gzip\"));\n\
         const wasmBytes = await new Response(inflated).arrayBuffer();\n\
         await __wbg_init({{ module_or_path: wasmBytes }});\n\
         </script>\n"
    );
    let at = html
        .rfind("</body>")
        .ok_or("trunk's index.html has no </body>")?;
    html.insert_str(at, &loader);
    Ok(html)
}

/// The byte range of the first `open … close` tag whose text mentions `needle`.
fn find_tag(html: &str, open: &str, close: &str, needle: &str) -> Option<std::ops::Range<usize>> {
    let mut from = 0;
    while let Some(start) = html[from..].find(open).map(|i| i + from) {
        let end = html[start..].find(close).map(|i| start + i + close.len())?;
        if html[start..end].contains(needle) {
            return Some(start..end);
        }
        from = end;
    }
    None
}
