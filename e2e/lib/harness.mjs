// Starts the pieces of an end-to-end run: the real `mcp-chat serve` (SQLite store in a temp
// file), a small web server that serves the host page and proxies /mcp to mcp-chat (so the
// browser's MCP client talks to it same-origin), and Debian's Chromium.
import { spawn } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { BIN } from './mcp-stdio.mjs';
import { launch } from './browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/// `mcp-chat serve` on `port` (0 = any), resolved once it listens.
export async function startServer({ port = 0, db, args = [] } = {}) {
  const child = spawn(BIN, ['serve', '--bind', `127.0.0.1:${port}`, '--store', `sqlite:${db}`, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines = createInterface({ input: child.stderr });
  const address = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('mcp-chat did not start')), 20000);
    lines.on('line', (line) => {
      const m = line.match(/listening on http:\/\/([^/]+)\/mcp/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`mcp-chat exited with ${code}`)));
  });
  const stop = (signal = 'SIGTERM') =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', resolve);
      child.kill(signal);
    });
  return { address, port: Number(address.split(':').pop()), stop };
}

export function tempDb(name) {
  return path.join(tmpdir(), `mcp-chat-e2e-${name}-${process.pid}-${Date.now()}.db`);
}

async function bundleHost() {
  const out = await build({
    entryPoints: [path.join(here, '../host/host.js')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    logLevel: 'error',
  });
  return out.outputFiles[0].text;
}

/// The host page: `window.host` (host.js), then `after`, a module script's body that may use it.
export function hostPage(after = '') {
  return `<!doctype html><html><head><meta charset="utf-8"><title>e2e host</title></head>
<body style="margin:8px;font-family:sans-serif"><div id="views"></div>
<script type="module" src="/host.js"></script>${after && `\n<script type="module">${after}</script>`}</body></html>`;
}

/// Serves the host page and proxies /mcp to `target()` (a function, so a restarted server on
/// the same port keeps working). `routes` adds pages: path (without query) -> (req, res) handler.
export async function startHostServer(target, { routes = {}, port = 0 } = {}) {
  const script = await bundleHost();
  const page = hostPage();
  const server = createServer((req, res) => {
    const route = routes[req.url.split('?')[0]];
    if (route) {
      route(req, res);
    } else if (req.url === '/' || req.url === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    } else if (req.url === '/host.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    } else if (req.url.startsWith('/mcp')) {
      // The browser's Host goes through unchanged, as a reverse proxy forwards it: mcp-chat
      // accepts a browser's Origin only when it matches Host (and loopback Hosts on any port).
      const upstream = httpRequest(
        { host: '127.0.0.1', port: target(), path: req.url, method: req.method, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode, up.headers);
          up.pipe(res);
          // The server died mid-response: break the browser's response too, as a real network
          // does, instead of ending it cleanly.
          up.on('aborted', () => res.destroy());
          up.on('error', () => res.destroy());
        },
      );
      upstream.on('error', () => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('mcp-chat is not reachable');
      });
      req.pipe(upstream);
      res.on('close', () => upstream.destroy());
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

export { launch };

/// Opens a host page for one person.
export async function openHost(browser, url) {
  const page = await browser.newPage({ viewport: { width: 600, height: 720 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => window.host !== undefined);
  await page.evaluate(() => window.host.connect());
  return { page, errors, view: () => page.frames().find((f) => f !== page.mainFrame()) };
}

/// Clicks `selector` in a View's `frame` once the frame shows all of the View. A change of
/// content (a line appearing above a button, a bar appearing below the list) grows the View, and
/// the host resizes its frame only when the View's size-changed notification arrives: a click
/// in between can aim past the frame's edge and land on the host page, and the View never
/// sees it. (This made the example App's withdrawal test fail about one run in thirty.)
export async function clickInView(frame, selector) {
  await frame.waitForFunction(
    () => document.documentElement.scrollHeight <= window.innerHeight,
    null, { polling: 'raf', timeout: 5000 },
  );
  await frame.click(selector);
}
