// The second App: examples/hello-app, a few dozen lines of Rust on the mcp-apps crate (plain
// web-sys, no Leptos), served by its own tiny server, in the same real host (AppBridge) under the
// CSP E2E_CSP names. Proof that the crate is not the chat View's alone: the handshake, the tool
// result, an app-provided tool the host calls, ui/message, and a request withdrawn on timeout.
// Needs `scripts/build-view.sh --app examples/hello-app` and `cargo build -p hello-app` first
// (scripts/test.sh does both).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHostServer, launch, openHost, clickInView } from './lib/harness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DOCUMENT = path.join(root, 'target/hello-app-dist/hello-app.html');
const SERVER = path.join(root, 'target/debug/hello-app-server');
const CSP = process.env.E2E_CSP ?? 'wasm';
const ENGINE = { strict: 'js', wasm: 'wasm' }[CSP];

let child;
let hostServer;
let browser;
let host;

before(async () => {
  for (const needed of [DOCUMENT, SERVER]) {
    assert.ok(existsSync(needed), `${needed} is missing: run scripts/build-view.sh --app examples/hello-app and cargo build -p hello-app`);
  }
  child = spawn(SERVER, [DOCUMENT], { stdio: ['ignore', 'ignore', 'pipe'] });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('hello-app-server did not start')), 20000);
    createInterface({ input: child.stderr }).on('line', (line) => {
      const m = line.match(/listening on http:\/\/[^:]+:(\d+)\/mcp/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => reject(new Error(`hello-app-server exited with ${code}`)));
  });
  hostServer = await startHostServer(() => port);
  browser = await launch();
  host = await openHost(browser, hostServer.url);
});

after(async () => {
  await browser?.close();
  await hostServer?.close();
  child?.kill('SIGTERM');
});

const hostLog = () => host.page.evaluate(() => structuredClone(window.host.log));

const clickInApp = (selector) => clickInView(host.view(), selector);

test('the Hello App shows the tool result it was opened with, on the engine its CSP allows', async () => {
  const result = await host.page.evaluate(() => window.host.callTool('greet', { name: 'Ada' }));
  assert.equal(result.content[0].text, 'Hello, Ada!');
  await host.page.evaluate(
    ([r, csp]) => window.host.openView('greet', { name: 'Ada' }, r, { csp, uri: 'ui://hello/view.html' }),
    [result, CSP],
  );
  const view = host.view();
  await view.waitForFunction(() => document.getElementById('greeting')?.textContent === 'Hello, Ada!', null, { polling: 100, timeout: 10000 });
  assert.equal(await view.evaluate(() => document.documentElement.dataset.engine), ENGINE);
});

test("the host lists and calls the App's own tool", async () => {
  const caps = await host.page.evaluate(() => window.host.viewCapabilities());
  assert.deepEqual(caps.tools, { listChanged: true });
  const listed = await host.page.evaluate(() => window.host.listViewTools());
  assert.deepEqual(listed.tools.map((t) => t.name), ['show_note']);
  const shown = await host.page.evaluate(() => window.host.callViewTool('show_note', { text: 'From the model' }));
  assert.equal(shown.content[0].text, 'The note is on screen.');
  assert.equal(await host.view().textContent('#note'), 'From the model');
  const refused = await host.page.evaluate(() => window.host.callViewTool('show_note', {}));
  assert.equal(refused.isError, true);
});

test('a button puts a message into the conversation', async () => {
  await clickInApp('#thank');
  await host.page.waitForFunction(() => window.host.log.messages.length > 0, null, { polling: 100, timeout: 5000 });
  assert.deepEqual((await hostLog()).messages.at(-1), { role: 'user', content: [{ type: 'text', text: 'Thank you!' }] });
  await host.view().waitForFunction(() => document.getElementById('status').textContent === 'Thanked.', null, { polling: 100 });
});

test('a server call the App stops waiting for is withdrawn from the host', async () => {
  await clickInApp('#slow');
  try {
    await host.page.waitForFunction(
      () => window.host.log.cancelled.some((c) => c.name === 'slow' && c.reason === 'timed out'),
      null, { polling: 100, timeout: 10000 },
    );
  } catch (e) {
    // Say what the host and the App saw, not only that the wait ran out.
    const seen = await hostLog();
    const status = await host.view().textContent('#status');
    throw new Error(`${e.message}\nhost: toolCalls ${JSON.stringify(seen.toolCalls)}, cancelled ${JSON.stringify(seen.cancelled)}, logs ${JSON.stringify(seen.logs)}\nApp status: ${status}`);
  }
  const status = await host.view().textContent('#status');
  assert.match(status, /^Gave up: tools\/call: no answer from the host within 2s/);
});

test('no page errors in the host or the App', () => {
  assert.deepEqual(host.errors, []);
});
