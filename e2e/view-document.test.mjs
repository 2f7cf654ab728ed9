// The shipped View document, as a host gets it from `resources/read`, boots in a sandboxed
// srcdoc iframe with nothing else around it: the inline glue inflates the embedded wasm, the
// MCP Apps handshake completes, and the host's theme applies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { connectStdio } from './lib/mcp-stdio.mjs';
import { launch } from './lib/browser.mjs';

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

async function mountOnce() {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith('data:') && r.url() !== 'about:blank') errors.push(`fetched ${r.url()}`);
  });
  await page.setContent(HOST);
  await page.evaluate((doc) => window.mount(doc), html);
  await page.waitForFunction(() => window.initializedAt !== undefined, null, { timeout: 15000 });
  const ms = await page.evaluate(() => window.initializedAt - window.mountedAt);
  return { page, errors, ms };
}

test('the View document is one self-contained HTML file', () => {
  assert.match(html, /^<!doctype html>/i);
  assert.equal((html.match(/<\/html>/g) ?? []).length, 1);
  assert.doesNotMatch(html, /\s(src|href)=/);
  console.log(`View document: ${html.length} bytes raw, ${gzipSync(html, { level: 9 }).length} bytes gzip`);
});

test('it boots in a sandboxed srcdoc iframe, completes the handshake and follows the theme', async () => {
  const { page, errors, ms } = await mountOnce();
  const [init, initialized] = await page.evaluate(() => window.received.map((m) => m.method));
  assert.equal(init, 'ui/initialize');
  assert.equal(initialized, 'ui/notifications/initialized');
  const frame = page.frames().find((f) => f !== page.mainFrame());
  await frame.waitForFunction(() => document.querySelector('.connection')?.textContent === 'Connected');
  assert.equal(await frame.textContent('.host-name'), 'in e2e-host 1.2.3');
  assert.equal(await frame.evaluate(() => document.documentElement.dataset.theme), 'dark');
  assert.equal(
    await frame.evaluate(() => getComputedStyle(document.body).backgroundColor),
    'rgb(10, 20, 30)',
  );
  assert.deepEqual(errors, [], 'no script errors and no network fetches');
  console.log(`mount → ui/notifications/initialized: ${ms.toFixed(0)} ms`);
  await page.close();
});
