// The View's developer loop (scripts/lib/view-dev.mjs, started by scripts/view-dev.sh): its page
// shows two people in room `dev` through the real host page and server; when the served document
// changes, both reload the new one and rejoin as themselves, history intact. Rebuilding on a
// source change is scripts/build-view.sh's job (tested by scripts/check-view-reproducible.sh),
// so the loop runs here without watching and the test changes the document itself.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { launch } from './lib/browser.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PEOPLE = ['Ada', 'Bo'];

let dir;
let documentPath;
let loop;
let url;
let browser;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mcp-chat-view-dev-'));
  documentPath = path.join(dir, 'view.html');
  copyFileSync(path.join(root, 'server/assets/mcp-chat-view.html'), documentPath);
  loop = spawn('node', ['scripts/lib/view-dev.mjs', '--port', '0', '--no-watch', '--document', documentPath], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the dev loop did not start')), 30000);
    createInterface({ input: loop.stdout }).on('line', (line) => {
      const m = line.match(/open (http:\/\/\S+\/dev)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    loop.on('exit', (code) => reject(new Error(`the dev loop exited with ${code}`)));
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  if (loop && loop.exitCode === null) {
    const exited = new Promise((resolve) => loop.once('exit', resolve));
    loop.kill('SIGTERM');
    assert.equal(await exited, 0, 'the dev loop stops cleanly');
  }
  rmSync(dir, { recursive: true, force: true });
});

const person = (page, name) => page.frames().find((f) => f.url().includes(`/dev/person?name=${name}`));

/// The person's View, once the host page has mounted it and it shows its connection state.
async function viewOf(page, name) {
  const deadline = Date.now() + 60000;
  for (;;) {
    const frame = person(page, name);
    if (frame && (await frame.evaluate(() => window.devReady === true).catch(() => false))) {
      const view = frame.childFrames()[0];
      // A reload of the served document can detach this frame while we wait: look again.
      const shown = await view?.waitForSelector('.connection', { timeout: 10000 }).then(
        () => true,
        (e) => {
          if (/detached|Target closed|timeout/i.test(e.message)) return false;
          throw e;
        },
      );
      if (shown) return { frame, view };
    }
    assert.ok(Date.now() < deadline, `${name} never joined`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const clientId = (frame, name) => frame.evaluate((n) => sessionStorage.getItem(`mcp-chat-dev-client-${n}`), name);

test('two people chat in the dev page, and a new View reloads them as themselves', async () => {
  const page = await browser.newPage({ viewport: { width: 1300, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);

  const before = {};
  for (const name of PEOPLE) {
    const { frame } = await viewOf(page, name);
    before[name] = await clientId(frame, name);
    assert.ok(before[name], `${name} has an identity`);
  }
  const ada = (await viewOf(page, 'Ada')).view;
  await ada.fill('textarea', 'hello from the dev page');
  await ada.press('textarea', 'Enter');
  await (await viewOf(page, 'Bo')).view.waitForFunction(() => document.body.innerText.includes('hello from the dev page'));

  // A rebuilt View: the same document with a marker.
  const html = readFileSync(documentPath, 'utf8');
  assert.ok(html.includes('<meta charset=utf-8>'));
  writeFileSync(documentPath, html.replace('<meta charset=utf-8>', '<meta charset=utf-8><meta name=dev-marker content=2>'));

  for (const name of PEOPLE) {
    const deadline = Date.now() + 60000;
    for (;;) {
      const { frame, view } = await viewOf(page, name);
      if (await view.evaluate(() => document.querySelector('meta[name=dev-marker]') !== null).catch(() => false)) {
        assert.equal(await clientId(frame, name), before[name], `${name} rejoined as the same member`);
        await view.waitForFunction(() => document.body.innerText.includes('hello from the dev page'));
        assert.ok(!(await view.evaluate(() => document.body.innerText)).includes(`${name} (2)`), 'no second member');
        break;
      }
      assert.ok(Date.now() < deadline, `${name} never reloaded the new View`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  assert.deepEqual(errors, []);
  await page.close();
});
