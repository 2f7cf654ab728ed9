// The View's inline loader (server/build.rs appends it to the wasm-bindgen glue in one module
// script, and fills in the two payloads: gzip, then base64).
//
// A host's Content-Security-Policy decides the engine. The MCP Apps default policy has no
// 'wasm-unsafe-eval', so compiling WebAssembly is refused there; then the same program runs from
// its wasm2js translation, evaluated as an inline script ('unsafe-inline' is in that policy). No
// host configuration and no user action: the first engine that can start, starts.
const glue = globalThis.mcpChatGlue;
const WASM = "@WASM@";
const JS = "@JS@";

function unpack(packed) {
  const gzipped = Uint8Array.from(atob(packed), (c) => c.charCodeAt(0));
  return new Response(new Blob([gzipped]).stream().pipeThrough(new DecompressionStream("gzip")));
}

// Asking costs nothing: an 8-byte empty module compiles instantly where WebAssembly is allowed,
// and throws at once where the policy refuses it, before any payload is inflated.
function webAssemblyAllowed() {
  try {
    new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
    return true;
  } catch {
    return false;
  }
}

async function start() {
  if (typeof WebAssembly === "object" && webAssemblyAllowed()) {
    try {
      const bytes = await (await unpack(WASM)).arrayBuffer();
      const { instance, module } = await WebAssembly.instantiate(bytes, glue.imports());
      return ["wasm", () => glue.start(instance, module)];
    } catch (error) {
      console.warn("MCP Chat: WebAssembly could not start; using the JavaScript engine", error);
    }
  }
  const script = document.createElement("script");
  script.textContent = await (await unpack(JS)).text();
  document.head.append(script);
  script.remove();
  const exports = globalThis.mcpChatJsEngine(glue.imports());
  return ["js", () => glue.start({ exports })];
}

const [engine, run] = await start();
// Read by the View (it names its engine in the host's log) and by the end-to-end tests.
document.documentElement.dataset.engine = engine;
run();
