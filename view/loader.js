// The View's inline loader. scripts/build-view.sh minifies it; the bundler (tools/view-bundle)
// puts it in the document's only script and fills in the payloads — the page's CSS, the wasm-bindgen
// glue, the WebAssembly engine and its JavaScript translation — each gzip-compressed and
// text-encoded as [text, byte length].
//
// A host's Content-Security-Policy decides the engine. The MCP Apps default policy has no
// 'wasm-unsafe-eval', so compiling WebAssembly is refused there; the same program then runs from
// its wasm2js translation, evaluated as an inline script ('unsafe-inline' is in that policy). No
// host configuration and no user action: the first engine that can start, starts.
(async () => {
  const CSS = "@CSS@";
  const GLUE = "@GLUE@";
  const WASM = "@WASM@";
  const JS = "@JS@";

  // The text encoding: 13 bits in two characters of a 92-letter alphabet (printable ASCII
  // without `"`, `\` and `<`, so it is safe in a script string and in JSON). See tools/view-bundle.
  function decode([text, length]) {
    const letter = (c) => c - 32 - (c > 34) - (c > 60) - (c > 92);
    const bytes = new Uint8Array(length);
    let bits = 0;
    let pending = 0;
    for (let i = 0, o = 0; o < length; i += 2) {
      pending = (pending << 13) | (letter(text.charCodeAt(i)) + 92 * letter(text.charCodeAt(i + 1)));
      bits += 13;
      while (bits >= 8 && o < length) {
        bits -= 8;
        bytes[o++] = (pending >>> bits) & 255;
      }
      pending &= (1 << bits) - 1;
    }
    return bytes;
  }

  const unpack = (payload) =>
    new Response(new Blob([decode(payload)]).stream().pipeThrough(new DecompressionStream("gzip")));

  // An inline classic script runs as soon as it is inserted; 'unsafe-inline' allows it.
  async function evaluate(payload) {
    const script = document.createElement("script");
    script.textContent = await unpack(payload).text();
    document.head.append(script);
    script.remove();
  }

  // Asking costs nothing: an 8-byte empty module compiles at once where WebAssembly is allowed,
  // and throws at once where the policy refuses it, before the payload is inflated.
  function webAssemblyAllowed() {
    try {
      new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
      return true;
    } catch {
      return false;
    }
  }

  // Styles first, so the first frame the View renders is already styled.
  const style = document.createElement("style");
  style.textContent = await unpack(CSS).text();
  document.head.append(style);

  await evaluate(GLUE);
  const glue = globalThis.mcpChatGlue;
  let start;
  if (typeof WebAssembly === "object" && webAssemblyAllowed()) {
    try {
      const bytes = await unpack(WASM).arrayBuffer();
      const { instance, module } = await WebAssembly.instantiate(bytes, glue.imports());
      start = ["wasm", () => glue.start(instance, module)];
    } catch (error) {
      console.warn("The View: WebAssembly could not start; using the JavaScript engine", error);
    }
  }
  if (!start) {
    await evaluate(JS);
    const exports = globalThis.mcpChatJsEngine(glue.imports());
    start = ["js", () => glue.start({ exports })];
  }
  // Read by the View (it names its engine in the host's log) and by the end-to-end tests.
  document.documentElement.dataset.engine = start[0];
  start[1]();
})().catch((error) => console.error("The View could not start", error));
