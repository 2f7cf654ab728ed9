//! Embeds the View as one self-contained HTML document.
//!
//! `scripts/build-view.sh` builds the View into `target/view-dist/`: trunk's `index.html`, the
//! wasm-bindgen JS glue, the `.wasm`, and `mcp-chat-view.engine.js` (the same module translated to
//! JavaScript by wasm2js, for hosts whose CSP refuses WebAssembly). A View runs in a sandboxed
//! iframe with no server of its own and `connect-src 'none'`, so it can fetch nothing: this script
//! folds the files into one document whose only script is the loader (`view-loader.js`, minified
//! into `loader.js`) carrying the page's CSS, the glue and both engines as payloads — gzip-compressed (zopfli, a few percent smaller than
//! `gzip -9`), then text-encoded (`encode_text`, 13 bits per 2 ASCII characters) and inflated
//! with `DecompressionStream` — and the server `include_str!`s the result. `mcp-chat` is then one
//! binary with no files beside it.
//!
//! The View is not built from here: a nested cargo run inside a build script would hide its
//! progress for minutes and contend for the target directory's lock. When the View is missing the
//! build stops and says which command builds it.

use std::env;
use std::fs;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::process::exit;

/// File stem of the View's outputs (`scripts/build-view.sh` and trunk's `filehash = false`).
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
    let engine_js = dist.join(format!("{VIEW_STEM}.engine.js"));
    let loader = dist.join("loader.js");
    let inputs = [&index, &glue, &wasm, &engine_js, &loader];
    for file in inputs {
        println!("cargo::rerun-if-changed={}", file.display());
    }
    if let Some(missing) = inputs.into_iter().find(|f| !f.exists()) {
        fail(&format!(
            "the View has not been built: {} is missing.\n\
             Build it first with `scripts/build-view.sh` (or run `./run.sh`, which builds \
             everything), then build the server again.",
            missing.display()
        ));
    }

    let view = View {
        html: read(&index),
        glue: read(&glue),
        loader: read(&loader),
        wasm: fs::read(&wasm).unwrap_or_else(|e| fail(&format!("{}: {e}", wasm.display()))),
        engine_js: read(&engine_js),
    };
    let document = bundle(&view).unwrap_or_else(|e| fail(&e));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it")).join("view.html");
    fs::write(&out, document).unwrap_or_else(|e| fail(&format!("{}: {e}", out.display())));
}

struct View {
    html: String,
    glue: String,
    loader: String,
    wasm: Vec<u8>,
    engine_js: String,
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())))
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    exit(1)
}

/// gzip, then text: what the loader's `unpack(decode(…))` reverses. A JS array literal
/// `["text", byte length]`.
fn pack(bytes: &[u8]) -> Result<String, String> {
    let options = zopfli::Options {
        // Past 5 iterations the output barely shrinks (measured: 0.03%) while the time doubles.
        iteration_count: NonZeroU64::new(5).expect("non-zero"),
        ..zopfli::Options::default()
    };
    let mut gzipped = Vec::new();
    zopfli::compress(options, zopfli::Format::Gzip, bytes, &mut gzipped)
        .map_err(|e| e.to_string())?;
    Ok(format!("[\"{}\",{}]", encode_text(&gzipped), gzipped.len()))
}

/// The 92 letters: printable ASCII without `"` and `\` (they would end or escape the JS string)
/// and `<` (it could form `</script`). All of them pass through JSON unescaped, so the document
/// costs the same on the wire as on disk.
fn letter(value: u32) -> char {
    let mut code = value + 32;
    for skipped in [34, 60, 92] {
        if code >= skipped {
            code += 1;
        }
    }
    char::from_u32(code).expect("ASCII")
}

/// 13 bits in 2 letters (92² = 8464 ≥ 2¹³): 1.23 characters per byte where base64 takes 1.33.
/// Bits are read most significant first; the last group is padded with zeros, and the decoder
/// stops at the byte length it is given.
fn encode_text(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 5 / 4 + 2);
    let (mut pending, mut bits) = (0u32, 0u32);
    let emit = |group: u32, text: &mut String| {
        text.push(letter(group % 92));
        text.push(letter(group / 92));
    };
    for &byte in bytes {
        pending = (pending << 8) | u32::from(byte);
        bits += 8;
        if bits >= 13 {
            bits -= 13;
            emit(pending >> bits, &mut text);
            pending &= (1 << bits) - 1;
        }
    }
    if bits > 0 {
        emit(pending << (13 - bits), &mut text);
    }
    text
}

/// Replaces trunk's page furniture with the loader and its payloads.
fn bundle(view: &View) -> Result<String, String> {
    let mut html = view.html.clone();
    // trunk leaves the `<link data-trunk rel="rust" … data-trunk-skip>` it did not build, and
    // would inject preload links and a loader script if it had; all of them name our files.
    while let Some(range) = find_tag(&html, "<link", ">", VIEW_STEM) {
        html.replace_range(range, "");
    }
    while let Some(range) = find_tag(&html, "<script", "</script>", VIEW_STEM) {
        html.replace_range(range, "");
    }
    while let Some(range) = find_tag(&html, "<!--", "-->", "") {
        html.replace_range(range, "");
    }
    if html.contains(VIEW_STEM) {
        return Err(format!(
            "trunk's index.html still refers to {VIEW_STEM} after removing its tags; \
             its output format may have changed"
        ));
    }

    // The CSS travels compressed like the rest; the loader puts it back before the View renders.
    let style =
        find_tag(&html, "<style>", "</style>", "").ok_or("trunk's index.html has no <style>")?;
    let css = html[style.start + "<style>".len()..style.end - "</style>".len()].to_owned();
    html.replace_range(style, "");
    let mut loader = view.loader.trim().to_owned();
    if loader.contains("</script") {
        return Err("view-loader.js contains `</script`, which would end the inline script".into());
    }
    for (placeholder, payload) in [
        ("\"@CSS@\"", css.as_bytes()),
        ("\"@GLUE@\"", view.glue.as_bytes()),
        ("\"@WASM@\"", &view.wasm),
        ("\"@JS@\"", view.engine_js.as_bytes()),
    ] {
        if loader.matches(placeholder).count() != 1 {
            return Err(format!(
                "view-loader.js must hold {placeholder} exactly once"
            ));
        }
        loader = loader.replace(placeholder, &pack(payload)?);
    }
    let at = html
        .rfind("</body>")
        .ok_or("trunk's index.html has no </body>")?;
    html.insert_str(at, &format!("<script>\n{loader}\n</script>\n"));
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
