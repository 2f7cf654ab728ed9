// The shipped View document, as a host gets it from `resources/read`, boots in a sandboxed
// srcdoc iframe with nothing else around it — under the MCP Apps default CSP (JavaScript engine)
// and under one that allows WebAssembly — the handshake completes and the host's theme applies.
// Prints the document's sizes and the median time from mount to `initialized` for each engine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectStdio } from './lib/mcp-stdio.mjs';
import { launch } from './lib/browser.mjs';
import { CSP, withCsp } from './lib/csp.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

let server;
let browser;
let html;

before(async () => {
  server = await connectStdio();
  const read = await server.request('resources/read', { uri: 'ui://mcp-chat/room.html' });
  html = read.contents[0].text;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.close();
});

// A host page: mounts the View from `html`, answers ui/initialize, records what the View posts.
const HOST = `<!doctype html><html><body>
<iframe id="view" sandbox="allow-scripts" style="width:480px;border:0"></iframe>
<script>
  window.received = [];
  const frame = document.getElementById('view');
  window.addEventListener('message', (event) => {
    if (event.source !== frame.contentWindow) return;
    const m = event.data;
    window.received.push(m);
    if (m.method === 'ui/initialize') {
      frame.contentWindow.postMessage({ jsonrpc: '2.0', id: m.id, result: {
        protocolVersion: '2026-01-26',
        hostInfo: { name: 'e2e-host', version: '1.2.3' },
        hostCapabilities: {},
        hostContext: { theme: 'dark', styles: { variables: { '--color-background-primary': 'rgb(10, 20, 30)' } } },
      } }, '*');
    }
    if (m.method === 'ui/notifications/initialized') window.initializedAt = performance.now();
  });
  window.mount = (doc) => { window.mountedAt = performance.now(); frame.srcdoc = doc; };
</script></body></html>`;

const POLICIES = { js: CSP.strict, wasm: CSP.wasm };
const withPolicy = (policy) => withCsp(html, policy);

async function mountOnce(doc) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith('data:') && r.url() !== 'about:blank') errors.push(`fetched ${r.url()}`);
  });
  await page.setContent(HOST);
  await page.evaluate((d) => window.mount(d), doc);
  await page.waitForFunction(() => window.initializedAt !== undefined, null, { timeout: 15000 });
  const ms = await page.evaluate(() => window.initializedAt - window.mountedAt);
  return { page, errors, ms };
}

test('the View document is one self-contained HTML file, within its size budgets', () => {
  assert.match(html, /^<!doctype html>/i);
  assert.equal((html.match(/<\/html>/g) ?? []).length, 1);
  assert.doesNotMatch(html, /\s(src|href)=/);
  // The loader's payloads, in order: CSS, glue, WebAssembly engine, JavaScript engine.
  const payloads = [...html.matchAll(/\["[^"]*",\d+\]/g)].map((m) => m[0].length);
  assert.equal(payloads.length, 4, 'four payloads');
  const raw = Buffer.byteLength(html);
  const wasmPath = raw - payloads[3];
  console.log(`View document: ${raw} bytes raw, ${gzipSync(html, { level: 9 }).length} bytes gzip; ` +
    `${wasmPath} bytes without the JavaScript engine (${payloads[3]} bytes)`);
  assert.ok(raw <= 400 * 1024, `the document with both engines is ${raw} bytes, over 400 KiB`);
  assert.ok(wasmPath <= 150 * 1024, `the WebAssembly path is ${wasmPath} bytes, over 150 KiB`);
});

test('the browser page (/chat) and the View it hosts fit their budgets', () => {
  // The page is served as one document and reads the View (the document above) through MCP:
  // together they are what a browser downloads to show a room.
  const page = readFileSync(path.join(root, 'server/assets/mcp-chat-page.html'));
  const payloads = [...page.toString('utf8').matchAll(/\["[^"]*",\d+\]/g)].map((m) => m[0].length);
  assert.equal(payloads.length, 4, 'four payloads (the last, a JavaScript engine, empty)');
  const total = page.length + Buffer.byteLength(html);
  const hostGzip = gzipSync(page, { level: 9 }).length;
  console.log(`Browser page: ${page.length} bytes raw, ${hostGzip} bytes gzip; with the View ${total} bytes`);
  assert.ok(total <= 450 * 1024, `page and View are ${total} bytes, over 450 KiB`);
  assert.ok(hostGzip <= 100 * 1024, `the page (the host) is ${hostGzip} bytes gzip, over 100 KiB`);
  assert.ok(payloads[3] < 40, 'the page carries no JavaScript engine');
});

for (const [engine, policy] of Object.entries(POLICIES)) {
  test(`it boots in a sandboxed srcdoc iframe on the ${engine} engine, completes the handshake and follows the theme`, async () => {
    const doc = withPolicy(policy);
    const { page, errors, ms } = await mountOnce(doc);
    const [init, initialized] = await page.evaluate(() => window.received.map((m) => m.method));
    assert.equal(init, 'ui/initialize');
    assert.equal(initialized, 'ui/notifications/initialized');
    const frame = page.frames().find((f) => f !== page.mainFrame());
    await frame.waitForFunction(() => document.querySelector('.connection')?.textContent === 'Connected');
    assert.equal(await frame.evaluate(() => document.documentElement.dataset.engine), engine);
    assert.equal(await frame.textContent('.host-name'), 'in e2e-host 1.2.3');
    assert.equal(await frame.evaluate(() => document.documentElement.dataset.theme), 'dark');
    assert.equal(
      await frame.evaluate(() => getComputedStyle(document.body).backgroundColor),
      'rgb(10, 20, 30)',
    );
    assert.deepEqual(errors, [], 'no script errors and no network fetches');
    await page.close();

    const times = [ms];
    while (times.length < 10) {
      const run = await mountOnce(doc);
      times.push(run.ms);
      await run.page.close();
    }
    times.sort((a, b) => a - b);
    const median = (times[4] + times[5]) / 2;
    console.log(`${engine} engine: mount → ui/notifications/initialized median of 10 ${median.toFixed(0)} ms ` +
      `(min ${times[0].toFixed(0)}, max ${times[9].toFixed(0)})`);
  });
}

test('opened outside any host, the document says what it is', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setContent(withPolicy(CSP.strict));
  await page.waitForSelector('.app-note', { timeout: 15000 });
  assert.equal(await page.textContent('.app-title'), 'MCP Chat');
  assert.match(await page.textContent('.app-note'), /runs inside an MCP Apps host/);
  assert.deepEqual(errors, []);
  await page.close();
});
