//! Folds the View's build outputs into the one self-contained HTML document the server ships.
//!
//! `scripts/build-view.sh` builds the View into `target/view-dist/`: trunk's `index.html`, the
//! wasm-bindgen JS glue, the `.wasm`, and `mcp-chat-view.engine.js` (the same module translated to
//! JavaScript by wasm2js, for hosts whose CSP refuses WebAssembly). A View runs in a sandboxed
//! iframe with no server of its own and `connect-src 'none'`, so it can fetch nothing: this tool
//! folds the files into one document whose only script is the loader (`view/loader.js`, minified
//! into `loader.js`) carrying the page's CSS, the glue and both engines as payloads —
//! gzip-compressed (zopfli, a few percent smaller than `gzip -9`), then text-encoded
//! (`encode_text`, 13 bits per 2 ASCII characters) and inflated with `DecompressionStream`.
//!
//! The result is committed (`server/assets/mcp-chat-view.html`) and the server `include_str!`s
//! it, so building or installing the server needs no wasm tool. Everything here is therefore
//! deterministic: the same inputs give the same bytes on every machine (zopfli has no
//! randomness, nothing reads the clock or the paths), which the test suite checks by building
//! the View twice and comparing with the shipped document.
//!
//! Usage: `mcp-chat-view-bundle <dist-dir> <output.html> [stem]`. The stem names the build
//! outputs (`<stem>.js`, `<stem>_bg.wasm`, `<stem>.engine.js`): `mcp-chat-view` for the chat
//! View, the crate's name for another App built the same way (`scripts/build-view.sh --app`).

use std::env;
use std::fs;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::process::exit;

/// File stem of the chat View's outputs (`scripts/build-view.sh` and trunk's `filehash = false`).
const VIEW_STEM: &str = "mcp-chat-view";

fn main() {
    let args: Vec<PathBuf> = env::args_os().skip(1).map(PathBuf::from).collect();
    let (dist, out, stem) = match args.as_slice() {
        [dist, out] => (dist, out, VIEW_STEM.to_owned()),
        [dist, out, stem] => (dist, out, stem.to_string_lossy().into_owned()),
        _ => fail("usage: mcp-chat-view-bundle <dist-dir> <output.html> [stem]"),
    };
    let index = dist.join("index.html");
    let glue = dist.join(format!("{stem}.js"));
    let wasm = dist.join(format!("{stem}_bg.wasm"));
    let engine_js = dist.join(format!("{stem}.engine.js"));
    let loader = dist.join("loader.js");
    if let Some(missing) = [&index, &glue, &wasm, &engine_js, &loader]
        .into_iter()
        .find(|f| !f.exists())
    {
        fail(&format!(
            "{} is missing: build the View with `scripts/build-view.sh`, which runs this tool",
            missing.display()
        ));
    }
    let view = View {
        html: read(&index),
        glue: read(&glue),
        loader: read(&loader),
        wasm: fs::read(&wasm).unwrap_or_else(|e| fail(&format!("{}: {e}", wasm.display()))),
        engine_js: read(&engine_js),
        stem,
    };
    let document = bundle(&view).unwrap_or_else(|e| fail(&e));
    fs::write(out, document).unwrap_or_else(|e| fail(&format!("{}: {e}", out.display())));
}

struct View {
    html: String,
    glue: String,
    loader: String,
    wasm: Vec<u8>,
    engine_js: String,
    /// The outputs' file stem, which trunk's page refers to.
    stem: String,
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
    let stem = view.stem.as_str();
    while let Some(range) = find_tag(&html, "<link", ">", stem) {
        html.replace_range(range, "");
    }
    while let Some(range) = find_tag(&html, "<script", "</script>", stem) {
        html.replace_range(range, "");
    }
    while let Some(range) = find_tag(&html, "<!--", "-->", "") {
        html.replace_range(range, "");
    }
    if html.contains(stem) {
        return Err(format!(
            "trunk's index.html still refers to {stem} after removing its tags; \
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
        return Err("view/loader.js contains `</script`, which would end the inline script".into());
    }
    for (placeholder, payload) in [
        ("\"@CSS@\"", css.as_bytes()),
        ("\"@GLUE@\"", view.glue.as_bytes()),
        ("\"@WASM@\"", &view.wasm),
        ("\"@JS@\"", view.engine_js.as_bytes()),
    ] {
        if loader.matches(placeholder).count() != 1 {
            return Err(format!(
                "view/loader.js must hold {placeholder} exactly once"
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The loader's `decode`, in Rust: what `encode_text` must round-trip through.
    fn decode(text: &str, length: usize) -> Vec<u8> {
        let value = |c: u8| {
            let c = u32::from(c);
            c - 32 - u32::from(c > 34) - u32::from(c > 60) - u32::from(c > 92)
        };
        let text = text.as_bytes();
        let (mut bytes, mut pending, mut bits) = (Vec::new(), 0u32, 0u32);
        for pair in text.chunks(2) {
            pending = (pending << 13) | (value(pair[0]) + 92 * value(pair[1]));
            bits += 13;
            while bits >= 8 && bytes.len() < length {
                bits -= 8;
                bytes.push((pending >> bits) as u8);
            }
            pending &= (1 << bits) - 1;
        }
        bytes
    }

    #[test]
    fn the_text_encoding_round_trips_and_avoids_unsafe_letters() {
        for len in [0usize, 1, 2, 12, 13, 255, 1000] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 151 + len) as u8).collect();
            let text = encode_text(&bytes);
            assert!(!text.contains(['"', '\\', '<']), "{text}");
            assert!(text.bytes().all(|b| (32..127).contains(&b)));
            assert_eq!(decode(&text, len), bytes, "length {len}");
        }
    }

    fn view() -> View {
        View {
            html: concat!(
                "<!doctype html><html><head><!-- a comment -->",
                "<link data-trunk rel=\"rust\" href=\"mcp-chat-view.wasm\" data-trunk-skip>",
                "<style>body{color:red}</style></head><body></body></html>"
            )
            .into(),
            glue: "glue()".into(),
            loader: "go(\"@CSS@\",\"@GLUE@\",\"@WASM@\",\"@JS@\")".into(),
            wasm: vec![0, 97, 115, 109],
            engine_js: "engine()".into(),
            stem: VIEW_STEM.into(),
        }
    }

    #[test]
    fn the_document_has_one_script_and_no_reference_to_the_build_outputs() {
        let document = bundle(&view()).unwrap();
        assert_eq!(document.matches("<script>").count(), 1);
        assert!(!document.contains(VIEW_STEM));
        assert!(!document.contains("<style>") && !document.contains("<!--"));
        assert!(!document.contains("@CSS@") && !document.contains("@JS@"));
        assert!(document.ends_with("</script>\n</body></html>"));
    }

    #[test]
    fn the_same_inputs_give_the_same_bytes() {
        assert_eq!(bundle(&view()).unwrap(), bundle(&view()).unwrap());
    }

    #[test]
    fn a_loader_that_lost_a_placeholder_is_refused() {
        let mut broken = view();
        broken.loader = broken.loader.replace("\"@JS@\"", "null");
        let error = bundle(&broken).unwrap_err();
        assert!(error.contains("@JS@"), "{error}");

        let mut closing = view();
        closing.loader.push_str("//</script>");
        assert!(bundle(&closing).unwrap_err().contains("</script"));
    }
}
