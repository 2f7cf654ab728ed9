// End to end, the way users meet the product: real hosts (AppBridge from
// @modelcontextprotocol/ext-apps, the official MCP client), the real server, Chromium, and two or
// three people chatting through the View — plus an agent using the tools directly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startServer, startHostServer, tempDb, launch, openHost, clickInView } from './lib/harness.mjs';
import { axeViolations } from './lib/axe.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = path.join(here, 'artifacts');
const MAX_MESSAGE_BYTES = 200;
// 'strict' is the MCP Apps default policy exactly as written (no 'wasm-unsafe-eval'): the View
// must then run its JavaScript engine; 'wasm' allows WebAssembly, which the View then prefers.
const CSP = process.env.E2E_CSP ?? 'wasm';
const ENGINE = { strict: 'js', wasm: 'wasm' }[CSP];

let db;
let server;
let port;
let hostServer;
let browser;
const hosts = {};

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  db = tempDb('chat');
  server = await startServer({ db, args: ['--max-message-bytes', String(MAX_MESSAGE_BYTES)] });
  port = server.port;
  hostServer = await startHostServer(() => port);
  browser = await launch();
  for (const name of ['alice', 'bob', 'carol', 'erin', 'frank']) hosts[name] = await openHost(browser, hostServer.url);
});

after(async () => {
  await browser?.close();
  await hostServer?.close();
  await server?.stop();
});

const call = (who, name, args) =>
  hosts[who].page.evaluate(([n, a]) => window.host.callTool(n, a), [name, args]);

async function openView(who, toolName, args, result) {
  await hosts[who].page.evaluate(([n, a, r, csp]) => window.host.openView(n, a, r, { csp }), [toolName, args, result, CSP]);
  const view = hosts[who].view();
  await view.waitForSelector('.connection');
  assert.equal(await view.evaluate(() => document.documentElement.dataset.engine), ENGINE, `engine under the ${CSP} CSP`);
  return view;
}

const view = (who) => hosts[who].view();
const hostLog = (who) => hosts[who].page.evaluate(() => structuredClone(window.host.log));

async function say(who, text) {
  const v = view(who);
  await v.fill('textarea', text);
  await v.press('textarea', 'Enter');
}

async function sees(who, text, selector = 'li .text') {
  await view(who).waitForFunction(
    ([t, sel]) => [...document.querySelectorAll(sel)].some((e) => e.textContent === t),
    [text, selector],
    { timeout: 20000, polling: 100 },
  );
}

async function shot(who, name) {
  await new Promise((r) => setTimeout(r, 300)); // let the frame settle at its reported size
  await hosts[who].page.locator('iframe').last().screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

/// An agent with no View: the official MCP client straight to the server.
async function agent() {
  const client = new Client({ name: 'e2e-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
  return client;
}

const agentCall = async (client, name, args) => (await client.callTool({ name, arguments: args })).structuredContent;

let pairRoom;
let aliceId;

test('two hosts pair through enter_queue and chat through their Views', async () => {
  const aliceWaiting = await call('alice', 'enter_queue', { display_name: 'Alice' });
  assert.equal(aliceWaiting.structuredContent.status, 'waiting');
  aliceId = aliceWaiting.structuredContent.client_id;
  await openView('alice', 'enter_queue', { display_name: 'Alice' }, aliceWaiting);
  await view('alice').waitForFunction(() => document.querySelector('.connection').textContent.startsWith('Waiting for a partner'), null, { polling: 100 });

  const bobMatched = await call('bob', 'enter_queue', { display_name: 'Bob' });
  assert.equal(bobMatched.structuredContent.status, 'matched');
  pairRoom = bobMatched.structuredContent.room_id;
  await openView('bob', 'enter_queue', { display_name: 'Bob' }, bobMatched);

  // Alice's View learns the match by itself and opens the room.
  await view('alice').waitForFunction((room) => document.querySelector('.room-title h1')?.textContent === room, pairRoom, { timeout: 20000, polling: 100 });
  await say('alice', 'Hi Bob, Alice here');
  await sees('bob', 'Hi Bob, Alice here');
  await say('bob', 'Hello Alice! Nice to meet you.');
  await sees('alice', 'Hello Alice! Nice to meet you.');
  await say('bob', 'Can your assistant summarise our plan?');
  await sees('alice', 'Can your assistant summarise our plan?');
  await shot('alice', 'alice-light-inline');
});

test('two hosts pair through join_room and chat through their Views', async () => {
  const room = 'pair-by-name';
  const erin = await call('erin', 'join_room', { room_id: room, display_name: 'Erin' });
  assert.equal(erin.structuredContent.status, 'room_created');
  await openView('erin', 'join_room', { room_id: room, display_name: 'Erin' }, erin);
  const frank = await call('frank', 'join_room', { room_id: room, display_name: 'Frank' });
  assert.equal(frank.structuredContent.partner.display_name, 'Erin');
  await openView('frank', 'join_room', { room_id: room, display_name: 'Frank' }, frank);
  await sees('erin', 'Frank joined the room.', 'li .event .text');
  await say('frank', 'Hi Erin, Frank here');
  await sees('erin', 'Hi Erin, Frank here');
  await say('erin', 'Welcome, Frank!');
  await sees('frank', 'Welcome, Frank!');
  await view('erin')
    .waitForFunction(() => document.querySelector('.room-members')?.textContent === '2/2 · Erin (you), Frank', null, { polling: 100, timeout: 10000 })
    .catch(async (e) => {
      throw new Error(`members shown: ${await view('erin').textContent('.room-members')}; ${e.message}`);
    });
});

test('selected messages reach the host as one ui/message, and the model context follows', async () => {
  const v = view('alice');
  await clickInView(v, 'li.theirs:has-text("Hello Alice! Nice to meet you.") input.select');
  await clickInView(v, 'li.theirs:has-text("Can your assistant summarise our plan?") input.select');
  await clickInView(v, '.handoff button.primary');
  await v.waitForSelector('.notice');
  const log = await hostLog('alice');
  assert.deepEqual(log.messages.at(-1), {
    role: 'user',
    content: [{
      type: 'text',
      text: `From the MCP Chat room "${pairRoom}" (room_id ${pairRoom}, my client_id ${aliceId}):\n`
        + '> Bob: Hello Alice! Nice to meet you.\n> Bob: Can your assistant summarise our plan?',
    }],
  });
  await hosts.alice.page.waitForFunction(() => window.host.log.modelContext.some((c) => c.content[0].text.includes('summarise our plan')), null, { timeout: 10000, polling: 100 });
  const context = (await hostLog('alice')).modelContext.at(-1);
  assert.match(context.content[0].text, new RegExp(`MCP Chat room "${pairRoom}" open \\(active; members: Alice \\(you\\), Bob\\)`));
  assert.match(context.content[0].text, /\] Bob: Can your assistant summarise our plan\?/);
  assert.equal(context.structuredContent.room_id, pairRoom);
});

test("the assistant reads the selection and proposes a reply through the View's own tools", async () => {
  const page = hosts.alice.page;
  assert.deepEqual(await page.evaluate(() => window.host.viewCapabilities().tools), { listChanged: true });
  const listed = await page.evaluate(() => window.host.listViewTools());
  assert.deepEqual(listed.tools.map((t) => t.name), ['get_selected_messages', 'propose_reply']);
  assert.equal(listed.tools[1].inputSchema.required[0], 'text');

  const v = view('alice');
  await clickInView(v, 'li.theirs:has-text("Can your assistant summarise our plan?") input.select');
  const selection = await page.evaluate(() => window.host.callViewTool('get_selected_messages', {}));
  assert.match(selection.content[0].text, /> Bob: Can your assistant summarise our plan\?/);
  assert.equal(selection.structuredContent.messages[0].author, 'Bob');
  await clickInView(v, '.handoff button:has-text("Clear")');

  const callsBefore = (await hostLog('alice')).toolCalls.filter((n) => n === 'send_message').length;
  const reply = 'The plan: meet at ten, Bob.';
  const proposed = await page.evaluate((text) => window.host.callViewTool('propose_reply', { text }), reply);
  assert.notEqual(proposed.isError, true, JSON.stringify(proposed));
  await v.waitForFunction((text) => document.querySelector('textarea').value === text, reply, { polling: 100, timeout: 5000 });
  await new Promise((r) => setTimeout(r, 500));
  const callsAfter = (await hostLog('alice')).toolCalls.filter((n) => n === 'send_message').length;
  assert.equal(callsAfter, callsBefore, 'a proposal is never sent by itself');
  // The person sends it (or not): here they do.
  await v.press('textarea', 'Enter');
  await sees('bob', reply);
});

test('links in messages open through the host; the View never navigates', async () => {
  const url = 'https://example.com/plan?day=friday';
  await say('bob', `The plan is at ${url}.`);
  await sees('alice', `The plan is at ${url}.`);
  const v = view('alice');
  const where = await v.evaluate(() => location.href);
  await clickInView(v, `li.theirs a.link[href="${url}"]`);
  await hosts.alice.page.waitForFunction((u) => window.host.log.links.includes(u), url, { polling: 100, timeout: 5000 });
  assert.equal(await view('alice').evaluate(() => location.href), where);
});

test('a send the host never answers is withdrawn on its timeout, and the draft stays', async () => {
  const page = hosts.alice.page;
  await page.evaluate(() => window.host.hold('send_message'));
  await say('alice', 'this one will time out');
  await page.waitForFunction(
    () => window.host.log.cancelled.some((c) => c.name === 'send_message' && c.reason === 'timed out'),
    null, { polling: 200, timeout: 40000 },
  );
  await view('alice').waitForSelector('.composer-error', { timeout: 5000 });
  assert.equal(await view('alice').inputValue('textarea'), 'this one will time out', 'the draft is kept');
  await page.evaluate(() => window.host.release('send_message'));
  await view('alice').fill('textarea', '');
});

test('the model is offered what it may use: helpers hidden, no View for clients without one (a browser link instead)', async () => {
  const forHost = await hosts.alice.page.evaluate(() => window.host.listTools());
  const byName = Object.fromEntries(forHost.tools.map((t) => [t.name, t]));
  assert.deepEqual(byName.load_room._meta.ui.visibility, ['app'], 'a helper only the View calls');
  assert.equal(byName.open_chat._meta.ui.resourceUri, 'ui://mcp-chat/room.html');
  assert.ok((await hostLog('alice')).toolCalls.includes('load_room'), 'the View loads rooms with it');
  const plain = await agent();
  const forAgent = (await plain.listTools()).tools;
  const names = forAgent.map((t) => t.name);
  assert.ok(!names.includes('load_room'), names.join());
  // Over HTTP, open_chat stays for a client without Views: it answers with a browser link.
  const openChat = forAgent.find((t) => t.name === 'open_chat');
  assert.match(openChat?.description ?? '', /link that opens a room's live chat in a browser/);
  assert.ok(forAgent.every((t) => t._meta?.ui === undefined), 'no View links');
  await plain.close();
});

test('the View follows the host theme and display mode', async () => {
  await hosts.alice.page.evaluate(() => window.host.setContext({ theme: 'dark' }));
  await view('alice').waitForFunction(() => document.documentElement.dataset.theme === 'dark', null, { polling: 100 });
  await shot('alice', 'alice-dark-inline');
  await clickInView(view('alice'), 'button.display-mode');
  await view('alice').waitForFunction(() => document.querySelector('button.display-mode')?.textContent === 'Exit full screen', null, { polling: 100 });
  await shot('alice', 'alice-dark-fullscreen');
  await hosts.alice.page.evaluate(() => window.host.setContext({ theme: 'light' }));
  await view('alice').waitForFunction(() => document.documentElement.dataset.theme === 'light', null, { polling: 100 });
  await shot('alice', 'alice-light-fullscreen');
  await clickInView(view('alice'), 'button.display-mode');
  await view('alice').waitForFunction(() => document.querySelector('button.display-mode')?.textContent === 'Full screen', null, { polling: 100 });
});

test('size reports settle and stay within the container', async () => {
  await new Promise((r) => setTimeout(r, 800));
  const before = (await hostLog('bob')).sizes.length;
  await new Promise((r) => setTimeout(r, 1500));
  const log = await hostLog('bob');
  assert.ok(log.sizes.length > 0, 'the View reports its size');
  assert.equal(log.sizes.length, before, 'no resize loop: quiet once settled');
  const last = log.sizes.at(-1);
  assert.ok(last.height > 100 && last.height <= 640, `height ${last.height} within the 640 px container`);
  assert.ok(last.width <= 560, `width ${last.width} within the container`);
});

test('a third person joins a larger room; one leaves and the others see it', async () => {
  const room = 'team-e2e';
  const joined = {};
  for (const [who, name, extra] of [['alice', 'Alice', { capacity: 3 }], ['bob', 'Bob', {}], ['carol', 'Carol', {}]]) {
    const args = { room_id: room, display_name: name, ...extra };
    joined[who] = await call(who, 'join_room', args);
    assert.notEqual(joined[who].isError, true, JSON.stringify(joined[who]));
  }
  // Bob and Alice already show the pair room; Carol opens this one.
  await openView('carol', 'join_room', { room_id: room, display_name: 'Carol' }, joined.carol);
  await view('carol').waitForFunction(() => document.querySelector('.room-members')?.textContent.includes('3/3'), null, { polling: 100 });
  await say('carol', 'Hi both, Carol joining');
  const aliceAgent = joined.alice.structuredContent.client_id;
  const bobId = joined.bob.structuredContent.client_id;
  // Bob (no View here) loops on wait_for_message, as a model does: the first answer may hold
  // only the join events that were already pending.
  let heard = false;
  for (let i = 0; i < 10 && !heard; i++) {
    const seen = await call('bob', 'wait_for_message', { room_id: room, client_id: bobId, timeout: 5 });
    heard = seen.structuredContent.messages.some((m) => m.text === 'Hi both, Carol joining');
  }
  assert.ok(heard, 'Bob received Carol\'s message');

  await call('alice', 'leave_chat', { room_id: room, client_id: aliceAgent });
  await sees('carol', 'Alice left the room.', 'li .event .text');
  await view('carol').waitForFunction(() => document.querySelector('.room-members')?.textContent.startsWith('2/3'), null, { polling: 100 });
  // The room goes on with the two who stayed.
  await call('bob', 'send_message', { room_id: room, client_id: bobId, message: 'Still here, Carol' });
  await sees('carol', 'Still here, Carol');
});

let agentClient;
let mixedRoom = 'mixed-e2e';
let agentId;

test('an agent using the tools directly chats with a person in the View', async () => {
  agentClient = await agent();
  agentId = (await agentCall(agentClient, 'join_room', { room_id: mixedRoom, display_name: 'Agent' })).client_id;
  await agentCall(agentClient, 'send_message', { room_id: mixedRoom, client_id: agentId, message: 'Hello human, I am an agent.' });
  const joined = await call('carol', 'join_room', { room_id: mixedRoom, display_name: 'Carol' });
  await hosts.carol.page.evaluate(() => document.getElementById('views').replaceChildren());
  await openView('carol', 'join_room', { room_id: mixedRoom, display_name: 'Carol' }, joined);
  await sees('carol', 'Hello human, I am an agent.');
  await say('carol', 'Hello agent!');
  let heard;
  for (let i = 0; i < 10 && !heard; i++) {
    const got = await agentCall(agentClient, 'wait_for_message', { room_id: mixedRoom, client_id: agentId, timeout: 10 });
    heard = got.messages.find((m) => m.text === 'Hello agent!');
  }
  assert.equal(heard?.sender.display_name, 'Carol');
});

test('a failing tool call shows its error and keeps the draft', async () => {
  const tooLong = 'x'.repeat(MAX_MESSAGE_BYTES + 1);
  await say('carol', tooLong);
  await view('carol').waitForSelector('.composer-error');
  assert.match(await view('carol').textContent('.composer-error'), /at most 200 bytes/);
  assert.equal(await view('carol').inputValue('textarea'), tooLong, 'the draft is kept');
  await view('carol').fill('textarea', '');
});

test('the server restarts mid-conversation: the View shows it, reconnects, and nothing is lost', async () => {
  const historyBefore = await agentCall(agentClient, 'get_history', { room_id: mixedRoom, client_id: agentId, limit: 500 });
  await server.stop('SIGKILL');
  await view('carol').waitForFunction(() => document.querySelector('.connection')?.textContent.startsWith('Reconnecting'), null, { timeout: 60000, polling: 100 });
  await shot('carol', 'carol-reconnecting');
  // Typed while the server is down: refused, kept.
  await say('carol', 'typed while the server was down');
  await view('carol').waitForSelector('.composer-error', { timeout: 40000 });
  assert.equal(await view('carol').inputValue('textarea'), 'typed while the server was down');

  server = await startServer({ port, db, args: ['--max-message-bytes', String(MAX_MESSAGE_BYTES)] });
  await view('carol').waitForFunction(() => document.querySelector('.connection')?.textContent === 'Live', null, { timeout: 60000, polling: 100 });
  agentClient = await agent(); // the agent's old session died with the server
  await agentCall(agentClient, 'send_message', { room_id: mixedRoom, client_id: agentId, message: 'Back after the restart.' });
  await sees('carol', 'Back after the restart.');

  // The draft kept from the outage goes out now.
  await view('carol').press('textarea', 'Enter');
  await view('carol').waitForFunction(() => document.querySelector('textarea').value === '', null, { timeout: 20000, polling: 100 });
  await sees('carol', 'typed while the server was down', 'li.mine .text');
  const historyAfter = await agentCall(agentClient, 'get_history', { room_id: mixedRoom, client_id: agentId, limit: 500 });
  const texts = historyAfter.messages.map((m) => m.text);
  for (const m of historyBefore.messages) assert.ok(texts.includes(m.text), `kept: ${m.text}`);
  assert.equal(texts.filter((t) => t === 'typed while the server was down').length, 1, 'sent once, not twice');
  assert.ok(texts.includes('Back after the restart.'));
});

test('after the host tears the View down, no further tools/call arrives', async () => {
  await hosts.bob.page.evaluate(() => window.host.teardown());
  await view('bob').waitForFunction(() => document.querySelector('.connection')?.textContent === 'Closed', null, { polling: 100 });
  const before = (await hostLog('bob')).toolCalls.length;
  // Traffic that would otherwise wake the View's wait.
  await say('alice', 'Bob, are you still there?');
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal((await hostLog('bob')).toolCalls.length, before);
});

test('the View names the engine it runs on in the host log', async () => {
  const expected = { js: 'running on JavaScript', wasm: 'running on WebAssembly' }[ENGINE];
  const logs = (await hostLog('alice')).logs.map((entry) => String(entry.data));
  assert.ok(logs.some((line) => line.startsWith(expected)), `expected "${expected}…" in ${JSON.stringify(logs)}`);
});

test('a person invites an agent into a private room from the View, removes it, and the agent is refused', async () => {
  hosts.gina = await openHost(browser, hostServer.url);
  const args = { room_id: 'den-e2e', display_name: 'Gina', private: true, capacity: 3 };
  const made = await call('gina', 'join_room', args);
  assert.equal(made.structuredContent.access.you_own, true);
  await openView('gina', 'join_room', args, made);
  const v = view('gina');
  await v.waitForFunction(() => document.querySelector('.room-members')?.textContent.endsWith(' · Private · you own it'), null, { timeout: 20000, polling: 100 });

  // The person makes an invitation: shown to copy, and handed to the assistant on request.
  await clickInView(v, '.owner-bar button.make-invite');
  await v.waitForSelector('.invite-code');
  const code = await v.inputValue('.invite-code');
  assert.match(code, /^inv~den-e2e~[0-9a-f]{32}$/);
  // Keyboard users land on the code; the View with the owner's controls and the invitation
  // open is axe-clean.
  assert.equal(await v.evaluate(() => document.activeElement?.className), 'invite-code');
  assert.deepEqual(await axeViolations(v), []);
  await clickInView(v, '.invitation button.primary');
  await hosts.gina.page.waitForFunction((c) => window.host.log.messages.some((m) => m.content[0].text.includes(c)), code, { timeout: 10000, polling: 100 });

  // The agent joins with it (by name it could not), and the person reads it.
  const bot = await agent();
  const byName = await bot.callTool({ name: 'join_room', arguments: { room_id: 'den-e2e', display_name: 'Bot' } });
  assert.equal(byName.isError, true);
  assert.equal(byName.structuredContent.code, 'invite_required');
  const joined = await agentCall(bot, 'join_room', { invite: code, display_name: 'Bot' });
  assert.equal(joined.room_id, 'den-e2e');
  await agentCall(bot, 'send_message', { room_id: 'den-e2e', client_id: joined.client_id, message: 'Hello from the agent' });
  await sees('gina', 'Hello from the agent');

  // Removed, with confirmation: the agent's later calls are refused.
  await v.waitForSelector('.owner-bar button.remove');
  assert.equal(await v.textContent('.owner-bar button.remove'), 'Remove Bot');
  await clickInView(v, '.owner-bar button.remove');
  await v.waitForSelector('.confirm');
  // The question takes the focus, on its safe answer; axe-clean with it open.
  await v.waitForFunction(() => document.activeElement?.classList.contains('cancel'), null, { timeout: 5000, polling: 100 });
  assert.deepEqual(await axeViolations(v), []);
  await clickInView(v, '.confirm button.confirm-yes');
  await sees('gina', 'Bot was removed from the room by Gina.', 'li .event .text');
  await v.waitForFunction(() => !document.querySelector('.owner-bar button.remove'), null, { timeout: 10000, polling: 100 });
  for (const [name, a] of [
    ['send_message', { room_id: 'den-e2e', client_id: joined.client_id, message: 'let me back in' }],
    ['wait_for_message', { room_id: 'den-e2e', client_id: joined.client_id, timeout: 1 }],
    ['join_room', { invite: code, display_name: 'Bot', client_id: joined.client_id }],
  ]) {
    const refused = await bot.callTool({ name, arguments: a });
    assert.equal(refused.isError, true, name);
    assert.equal(refused.structuredContent.code, 'removed', name);
  }
  await bot.close();

  // A person removed while their View is open sees it, and their composer closes.
  await clickInView(v, '.owner-bar button.make-invite');
  await v.waitForFunction((old) => document.querySelector('.invite-code')?.value !== old, code, { timeout: 10000, polling: 100 });
  const second = await v.inputValue('.invite-code');
  hosts.hank = await openHost(browser, hostServer.url);
  const hankArgs = { invite: second, display_name: 'Hank' };
  const hank = await call('hank', 'join_room', hankArgs);
  assert.equal(hank.structuredContent.room_id, 'den-e2e');
  await openView('hank', 'join_room', hankArgs, hank);
  await view('hank').waitForFunction(() => document.querySelector('.room-members')?.textContent.endsWith(' · Private · owned by Gina'), null, { timeout: 20000, polling: 100 });
  await sees('gina', 'Hank joined the room.', 'li .event .text');
  await v.waitForSelector('.owner-bar button.remove');
  await clickInView(v, '.owner-bar button.remove');
  await clickInView(v, '.confirm button.confirm-yes');
  await view('hank').waitForFunction(() => document.querySelector('.connection')?.textContent === 'You were removed from this room', null, { timeout: 20000, polling: 100 });
  assert.equal(await view('hank').isDisabled('textarea'), true);
  assert.deepEqual(await axeViolations(view('hank')), [], 'the removed member\'s View');
  assert.match(await view('hank').textContent('.composer-reason'), /removed you/);
});

test('no page errors in any host or View', () => {
  for (const [who, h] of Object.entries(hosts)) assert.deepEqual(h.errors, [], who);
});
