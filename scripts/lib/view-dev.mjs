// The View's developer loop (scripts/view-dev.sh): the real server and the end-to-end suite's MCP
// Apps host page (the official AppBridge), with two people in one room, side by side. The server
// serves the View from target/view-dist/ (`serve --view-file`, read at every request); a change
// under view/, apps/ or shared/ rebuilds it (scripts/build-view.sh, which also refreshes the shipped
// document) and the page reloads both people, who rejoin the room with their identities. No real
// MCP host is needed to see a View change.
//
//   node scripts/lib/view-dev.mjs [--port 8100] [--no-watch] [--document PATH]
//
// The server reads a private copy (target/view-dev/view.html), replaced whole (copy, then rename)
// only after a build succeeds: the build empties target/view-dist/ first and writes the document
// last, and a failed build must leave the people on the last good View. (`--document` serves a
// given file as it is and `--no-watch` rebuilds nothing: for the loop's own test,
// e2e/view-dev.test.mjs.)
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, watch } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostPage, startServer, startHostServer, tempDb } from '../../e2e/lib/harness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/// What the View is built from (scripts/build-view.sh), and the files there that matter.
const WATCHED = ['view', 'apps/src', 'shared/src', 'index.html', 'Trunk.toml'];
const SOURCE = /\.(rs|css|html|toml|js)$/;

const BUILT = path.join(root, 'target/view-dist/mcp-chat-view.html');
const options = { port: 8100, watch: true, document: null };
for (let i = 2; i < process.argv.length; i++) {
  const arg = process.argv[i];
  if (arg === '--port') options.port = Number(process.argv[++i]);
  else if (arg === '--no-watch') options.watch = false;
  else if (arg === '--document') options.document = process.argv[++i];
  else {
    console.error('usage: view-dev.mjs [--port N] [--no-watch] [--document PATH]');
    process.exit(2);
  }
}
const DOCUMENT = options.document
  ? path.resolve(root, options.document)
  : path.join(root, 'target/view-dev/view.html');
/// Puts the build's document where the server reads it, in one step (rename is atomic).
function publish() {
  mkdirSync(path.dirname(DOCUMENT), { recursive: true });
  copyFileSync(BUILT, `${DOCUMENT}.new`);
  renameSync(`${DOCUMENT}.new`, DOCUMENT);
}
if (!options.document) {
  if (!existsSync(BUILT)) {
    console.error(`error: ${BUILT} is missing: build the View first (scripts/build-view.sh)`);
    process.exit(1);
  }
  publish();
}

/// What the page polls: the document's hash (a change reloads the people) and the build state.
/// The hash follows the file itself, whoever rewrites it: the build, or a test.
const status = { version: '', building: false, failed: false };
let seen = '';
const refreshVersion = () => {
  try {
    const { mtimeMs, size } = statSync(DOCUMENT);
    if (`${mtimeMs}/${size}` === seen) return;
    seen = `${mtimeMs}/${size}`;
    status.version = createHash('sha256').update(readFileSync(DOCUMENT)).digest('hex').slice(0, 16);
  } catch {
    // Being replaced (a test rewriting its --document): the next poll reads it.
  }
};
refreshVersion();

const db = tempDb('view-dev');
const server = await startServer({ db, args: ['--view-file', DOCUMENT] });

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>MCP Chat View (dev)</title>
<style>
  body { margin: 0; font-family: sans-serif; background: #f4f4f5; }
  header { padding: 6px 12px; font-size: 13px; color: #444; }
  header.failed { background: #fee2e2; color: #991b1b; }
  main { display: flex; gap: 12px; padding: 0 12px; }
  iframe { border: 0; width: 600px; height: calc(100vh - 40px); background: white; }
</style></head><body>
<header id="status">View dev loop: edit view/, apps/ or shared/, the people reload after the rebuild.</header>
<main id="people"></main>
<script>
  const query = new URLSearchParams(location.search);
  const csp = query.get('csp') ?? 'strict';
  for (const name of (query.get('people') ?? 'Ada,Bo').split(',')) {
    const frame = document.createElement('iframe');
    frame.src = '/dev/person?name=' + encodeURIComponent(name) + '&csp=' + csp;
    document.getElementById('people').append(frame);
  }
  let version;
  setInterval(async () => {
    let state;
    try { state = await (await fetch('/dev/status')).json(); } catch { return; }
    const header = document.getElementById('status');
    header.className = state.failed ? 'failed' : '';
    header.textContent = state.building ? 'Rebuilding the View…'
      : state.failed ? 'The View build failed: see the terminal. The people keep the last good build.'
      : 'View ' + state.version + ' (CSP: ' + csp + '). Edit view/, apps/ or shared/: the people reload after the rebuild.';
    if (version && state.version !== version) {
      for (const frame of document.querySelectorAll('iframe')) frame.contentWindow.location.reload();
    }
    version = state.version;
  }, 1000);
</script></body></html>`;

// One person: the e2e host page, joined to room `dev` under `name`; the identity is kept in
// sessionStorage so a reload rejoins as the same member.
const PERSON = hostPage(`
  const query = new URLSearchParams(location.search);
  const name = query.get('name');
  const key = 'mcp-chat-dev-client-' + name;
  await window.host.connect();
  const join = (clientId) => {
    const args = { room_id: 'dev', display_name: name, capacity: 8 };
    if (clientId) args.client_id = clientId;
    return window.host.callTool('join_room', args).then((result) => ({ args, result }));
  };
  let { args, result } = await join(sessionStorage.getItem(key));
  if (result.isError) ({ args, result } = await join(null)); // a server restarted since
  sessionStorage.setItem(key, result.structuredContent.client_id);
  await window.host.openView('join_room', args, result, { csp: query.get('csp') ?? 'strict' });
  window.devReady = true;
`);

let host;
try {
  host = await startHostServer(() => server.port, {
    port: options.port,
    routes: {
      '/dev': (req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE),
      '/dev/person': (req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(PERSON),
      '/dev/status': (req, res) => {
        refreshVersion();
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(status));
      },
    },
  });
} catch (e) {
  console.error(`error: cannot serve the dev page on port ${options.port}: ${e.message}`);
  await server.stop();
  rmSync(db, { force: true });
  process.exit(1);
}

let building = null;
let again = false;
function rebuild() {
  if (building) {
    again = true;
    return;
  }
  status.building = true;
  console.error('\n==> A View source changed: rebuilding');
  // Its own process group, so that stopping the loop stops cargo and trunk too.
  building = spawn(path.join(root, 'scripts/build-view.sh'), { cwd: root, stdio: 'inherit', detached: true });
  building.on('exit', (code) => {
    building = null;
    status.building = false;
    status.failed = code !== 0;
    if (code === 0 && !options.document) publish();
    refreshVersion();
    console.error(code === 0 ? `==> View ${status.version} is served` : '==> The build failed; the last good View stays');
    if (again) {
      again = false;
      rebuild();
    }
  });
}

let timer;
if (options.watch) {
  for (const dir of WATCHED) {
    watch(path.join(root, dir), { recursive: true }, (_event, file) => {
      if (file && !SOURCE.test(file) && dir !== 'index.html' && dir !== 'Trunk.toml') return;
      clearTimeout(timer);
      timer = setTimeout(rebuild, 300); // editors write a file in several steps
    });
  }
}

console.log(`MCP Chat View dev loop: open ${host.url}dev   (?csp=wasm for the WebAssembly engine, ?people=A,B,C)`);
console.log(`  server: http://${server.address}/mcp, View from ${path.relative(root, DOCUMENT)}`);

const stop = async () => {
  try {
    if (building) process.kill(-building.pid, 'SIGTERM');
  } catch {
    // already gone
  }
  await host.close();
  await server.stop();
  rmSync(db, { force: true });
  for (const suffix of ['-wal', '-shm']) rmSync(db + suffix, { force: true });
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
