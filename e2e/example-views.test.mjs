// The official example Views, published on npm with their servers
// (@modelcontextprotocol/server-basic-vanillajs, -preact, -react), hosted by the Rust host of
// mcp-apps (its `basic_host` example, on `mcp_apps::host`) in Chromium: each View completes the
// handshake, shows its tool's result, and its own server calls go through the host to its
// server; its message, link and log reach the host. Their resources declare no policy, so they
// run under the specification's default one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from './lib/harness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(root, 'target/basic-host');
const EXAMPLES = ['vanillajs', 'preact', 'react'];
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

let browser;
let pageServer;
const servers = [];

/// The example's server over HTTP on a port of its own; resolves once it listens.
async function startExample(name) {
  const entry = path.join(root, 'node_modules/@modelcontextprotocol', `server-basic-${name}`, 'dist/index.js');
  const probe = createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const port = probe.address().port;
  await new Promise((r) => probe.close(r));
  const child = spawn(process.execPath, [entry], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(child);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start`)), 20000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
  return `http://127.0.0.1:${port}/mcp`;
}

before(async () => {
  // The Rust host: the example, compiled to wasm32 and given its JavaScript glue.
  execFileSync('cargo', ['build', '--locked', '--quiet', '--target', 'wasm32-unknown-unknown', '-p', 'mcp-apps', '--features', 'host', '--example', 'basic_host'], { cwd: root, stdio: 'inherit' });
  execFileSync('wasm-bindgen', ['--target', 'web', '--out-dir', OUT, path.join(root, 'target/wasm32-unknown-unknown/debug/examples/basic_host.wasm')], { cwd: root, stdio: 'inherit' });
  const files = {
    '/basic_host.js': ['text/javascript', readFileSync(path.join(OUT, 'basic_host.js'))],
    '/basic_host_bg.wasm': ['application/wasm', readFileSync(path.join(OUT, 'basic_host_bg.wasm'))],
  };
  const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>basic host</title></head>
<body><div id="app"></div><ol id="events"></ol>
<script type="module">import init from "./basic_host.js"; init();</script></body></html>`;
  pageServer = createServer((req, res) => {
    const file = files[req.url];
    if (file) return res.writeHead(200, { 'content-type': file[0] }).end(file[1]);
    res.writeHead(200, { 'content-type': 'text/html' }).end(page);
  });
  await new Promise((r) => pageServer.listen(0, '127.0.0.1', r));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  for (const child of servers) child.kill();
  await new Promise((r) => (pageServer ? pageServer.close(r) : r()));
});

const events = (page, kind) =>
  page.$$eval(`#events li[data-kind="${kind}"]`, (items) => items.map((li) => JSON.parse(li.textContent)));

for (const name of EXAMPLES) {
  test(`the official ${name} example View runs in the Rust host`, async () => {
    const mcp = await startExample(name);
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const started = Date.now();
    await page.goto(`http://127.0.0.1:${pageServer.address().port}/?server=${encodeURIComponent(mcp)}`);
    await page.waitForSelector('#events li[data-kind="initialized"]', { timeout: 20000 });
    assert.deepEqual(await events(page, 'error'), []);
    const view = page.frameLocator('#app iframe');
    const time = view.locator('main code');
    // The tool's result, shown by the View.
    await time.filter({ hasText: ISO_TIME }).waitFor({ timeout: 20000 });
    const first = await time.textContent();
    console.log(`# ${name}: handshake and result shown in ${Date.now() - started} ms`);

    // Its own server call, through the host.
    await new Promise((r) => setTimeout(r, 5)); // the next call's time differs
    await view.getByRole('button', { name: 'Get Server Time' }).click();
    await time.filter({ hasNotText: first }).filter({ hasText: ISO_TIME }).waitFor({ timeout: 10000 });

    // What it says to the host (an assistant's, in a real one).
    await view.getByRole('button', { name: 'Send Message' }).click();
    await page.waitForSelector('#events li[data-kind="message"]', { timeout: 10000 });
    const [message] = await events(page, 'message');
    assert.deepEqual(message, { role: 'user', content: [{ type: 'text', text: 'This is message text.' }] });
    await view.getByRole('button', { name: 'Open Link' }).click();
    await page.waitForSelector('#events li[data-kind="open-link"]', { timeout: 10000 });
    assert.equal((await events(page, 'open-link'))[0].url, 'https://modelcontextprotocol.io/');
    await view.getByRole('button', { name: 'Send Log' }).click();
    await page.waitForFunction(() => [...document.querySelectorAll('#events li[data-kind="log"]')].some((li) => li.textContent.includes('This is log text.')), null, { timeout: 10000 });
    assert.ok((await events(page, 'size')).length > 0, 'the View reported its size');
    assert.deepEqual(errors, []);
    await page.close();
  });
}
