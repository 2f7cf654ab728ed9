// Turns binaryen's wasm2js output into the View's JavaScript engine: a classic script that defines
// `globalThis.mcpChatJsEngine(imports)`, returning the same exports a WebAssembly instance has.
//
// Usage: node scripts/lib/js-engine.mjs IN.js OUT.js
//
// wasm2js writes an ES module that imports the wasm-bindgen glue by file name and instantiates
// itself at load. A View has no files to import and must hand the glue's own import object in, so
// the module head and tail are dropped and `asmFunc(imports)` is exposed instead.
//
// One semantic gap is closed here: growing a real WebAssembly memory detaches the old
// ArrayBuffer, and the wasm-bindgen glue relies on that to notice its cached views are stale.
// wasm2js copies into a fresh buffer and leaves the old one attached, so the glue would keep
// writing strings into the old copy. Growing by `ArrayBuffer.prototype.transfer` (or, where that
// is missing, a copy plus a transferring `structuredClone`) detaches it as WebAssembly would.

import { readFileSync, writeFileSync } from 'node:fs';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: js-engine.mjs IN.js OUT.js');
  process.exit(2);
}

let source = readFileSync(input, 'utf8');

function replaceOnce(pattern, replacement, what) {
  const matches = source.match(new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : pattern.flags + 'g'));
  if (!matches || matches.length !== 1) {
    console.error(`js-engine: expected exactly one ${what} in wasm2js output, found ${matches ? matches.length : 0}; ` +
      'binaryen\'s output format may have changed');
    process.exit(1);
  }
  source = source.replace(pattern, replacement);
}

// The module head: `import * as $name from './mcp-chat-view_bg.js';`
replaceOnce(/^import \* as [\w$]+ from '[^']+';\n/m, '', 'glue import');
// The tail: instantiate-at-load and one `export var` per wasm export.
replaceOnce(/\nvar retasmFunc = asmFunc\([\s\S]*$/, '\n', 'instantiation tail');
// Memory growth that detaches the old buffer (see above).
replaceOnce(
  /var newBuffer = new ArrayBuffer\(newPages << 16\);\s*var newHEAP8 = new Int8Array\(newBuffer\);\s*newHEAP8\.set\(HEAP8\);/,
  'var newBuffer = mcpChatGrow(buffer, newPages << 16);',
  'memory grow',
);

const engine = `globalThis.mcpChatJsEngine = (() => {
function mcpChatGrow(old, bytes) {
  if (old.transfer) return old.transfer(bytes);
  const grown = new ArrayBuffer(bytes);
  new Uint8Array(grown).set(new Uint8Array(old));
  structuredClone(old, { transfer: [old] });
  return grown;
}
${source}
return asmFunc;
})();
`;
writeFileSync(output, engine);
