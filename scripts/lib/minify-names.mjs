// Renames the wasm-bindgen glue's side of the wasm module's imports and exports after
// `wasm-opt --minify-imports-and-exports-and-modules` renamed them in the module.
//
// Usage: node scripts/lib/minify-names.mjs MAP.json GLUE_IN.js GLUE_OUT.js
//
// Why: wasm-bindgen names each import `__wbg_<name>_<16 hex digits>`; 121 of them appear in the
// module, in the glue and again in the wasm2js translation, and hex hashes barely compress.
// Short names cut the View document by about 4 KB. MAP is what wasm-opt printed:
// {"imports": [[module, name, new name], …], "exports": [[name, new name], …]}; every module
// becomes "a".

import { readFileSync, writeFileSync } from 'node:fs';

const [mapFile, input, output] = process.argv.slice(2);
if (!output) {
  console.error('usage: minify-names.mjs MAP.json GLUE_IN.js GLUE_OUT.js');
  process.exit(2);
}
const map = JSON.parse(readFileSync(mapFile, 'utf8'));
let glue = readFileSync(input, 'utf8');
const fail = (why) => {
  console.error(`minify-names: ${why}; the wasm-bindgen glue's format may have changed`);
  process.exit(1);
};

const modules = new Set(map.imports.map(([module]) => module));
for (const module of modules) {
  const key = `${JSON.stringify(module)}: import0`;
  if (!glue.includes(key)) fail(`no import object for module ${module}`);
  glue = glue.replace(key, '"a": import0');
}

// Import functions are the keys of `import0`, one per line: `        __wbg_x_0123…: function(`.
for (const [, name, short] of map.imports) {
  const key = new RegExp(`^(\\s+)${name}:`, 'm');
  if (!key.test(glue)) fail(`import ${name} is not in the glue`);
  glue = glue.replace(key, `$1${JSON.stringify(short)}:`);
}

// Exports are read as `wasm.<name>`; names the module no longer exports stay as they are (only
// code the program never reaches refers to them).
const exports = new Map(map.exports);
glue = glue.replace(/\bwasm\.([A-Za-z_$][\w$]*)/g, (whole, name) =>
  exports.has(name) ? `wasm[${JSON.stringify(exports.get(name))}]` : whole,
);
for (const required of ['memory', '__wbindgen_start']) {
  if (!exports.has(required)) fail(`the module exports no ${required}`);
}

writeFileSync(output, glue);
