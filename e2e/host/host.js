// A real MCP Apps host page for the end-to-end tests: the official MCP client (v2) talks to
// mcp-chat over streamable HTTP (same origin, proxied by the test server), and the official
// AppBridge + PostMessageTransport from @modelcontextprotocol/ext-apps run the View in a
// sandboxed srcdoc iframe under a Content-Security-Policy like the ones hosts apply.
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { AppBridge, PostMessageTransport } from '@modelcontextprotocol/ext-apps/app-bridge';
import { CSP, withCsp } from '../lib/csp.mjs';

const HOST_INFO = { name: 'e2e-host', version: '1.0.0' };
// What a host that renders MCP Apps declares to servers in `initialize`: without it, servers
// offer no View (mcp-chat then hides open_chat and its View-only tools).
const CLIENT_CAPABILITIES = {
  extensions: { 'io.modelcontextprotocol/ui': { mimeTypes: ['text/html;profile=mcp-app'] } },
};
const CAPABILITIES = {
  serverTools: {},
  serverResources: {},
  openLinks: {},
  logging: {},
  message: { text: {} },
  updateModelContext: { text: {} },
};

const log = {
  messages: [], // ui/message params the View sent
  modelContext: [], // ui/update-model-context params
  sizes: [], // size-changed params
  toolCalls: [], // tools/call names the View made through us
  logs: [],
  links: [], // ui/open-link URLs the View asked us to open
  cancelled: [], // {name, reason} of the View's tools/call it withdrew (notifications/cancelled)
};
// Tool calls from the View that this host holds unanswered (by tool name): a server that hangs.
const held = new Set();
let client;
let bridge;
let frame;
let context = {
  theme: 'light',
  displayMode: 'inline',
  availableDisplayModes: ['inline', 'fullscreen'],
  containerDimensions: { maxHeight: 640, width: 560 },
  locale: 'en-GB',
  timeZone: 'UTC',
  platform: 'web',
};

async function connectClient() {
  const c = new Client({ name: 'e2e-host', version: '1.0.0' }, { capabilities: CLIENT_CAPABILITIES });
  await c.connect(new StreamableHTTPClientTransport(new URL('/mcp', location.href)));
  return c;
}

/// Forwards to the server; if the server restarted (its sessions are gone), the host reconnects
/// its MCP client and tries again, as a host's connection manager does.
async function forward(method, params, signal) {
  try {
    return await client.request({ method, params }, { signal });
  } catch (e) {
    if (signal?.aborted) throw e;
    try {
      client = await connectClient();
    } catch {
      throw e; // still down: the View sees the error and retries with backoff
    }
    return await client.request({ method, params }, { signal });
  }
}

window.host = {
  log,
  async connect() {
    client = await connectClient();
  },
  async callTool(name, args) {
    return forward('tools/call', { name, arguments: args });
  },
  async listTools() {
    return forward('tools/list', {});
  },
  /// The View's own tools (appCapabilities.tools), as the host lists them for the model.
  async listViewTools() {
    return bridge.listTools({});
  },
  async callViewTool(name, args) {
    return bridge.callTool({ name, arguments: args });
  },
  viewCapabilities() {
    return bridge.getAppCapabilities();
  },
  /// From now on, the View's calls of tool `name` get no answer (until the View withdraws them).
  hold(name) {
    held.add(name);
  },
  release(name) {
    held.delete(name);
  },
  /// Mounts the View for a tool call that returned `result` for `args`.
  async openView(toolName, args, result, { csp = 'wasm', height = 640, uri = 'ui://mcp-chat/room.html' } = {}) {
    const read = await forward('resources/read', { uri });
    const html = read.contents[0].text;
    const doc = withCsp(html, CSP[csp]);
    frame = document.createElement('iframe');
    frame.setAttribute('sandbox', 'allow-scripts');
    frame.style.cssText = `width:${context.containerDimensions.width}px;height:200px;border:1px solid #ccc;display:block`;
    frame.dataset.maxHeight = String(height);
    document.getElementById('views').appendChild(frame);
    bridge = new AppBridge(client, HOST_INFO, CAPABILITIES, { hostContext: context });
    const initialized = new Promise((resolve) => { bridge.oninitialized = resolve; });
    bridge.onmessage = async (params) => { log.messages.push(params); return {}; };
    bridge.onupdatemodelcontext = async (params) => { log.modelContext.push(params); return {}; };
    bridge.onsizechange = (params) => {
      log.sizes.push(params);
      if (params.height !== undefined) {
        frame.style.height = `${Math.min(params.height, Number(frame.dataset.maxHeight))}px`;
      }
    };
    bridge.onrequestdisplaymode = async ({ mode }) => {
      // Full screen: the host gives the View a fixed, larger container; inline: back to a
      // flexible one the View sizes itself in.
      const fullscreen = mode === 'fullscreen';
      const size = fullscreen ? { height: 700, width: 580 } : { maxHeight: height, width: 560 };
      frame.dataset.maxHeight = String(fullscreen ? 700 : height);
      frame.style.width = `${size.width}px`;
      if (fullscreen) frame.style.height = '700px';
      context = { ...context, displayMode: mode, containerDimensions: size };
      bridge.setHostContext(context);
      return { mode };
    };
    bridge.onloggingmessage = (params) => log.logs.push(params);
    bridge.onopenlink = async ({ url }) => { log.links.push(url); return {}; };
    frame.srcdoc = doc;
    await bridge.connect(new PostMessageTransport(frame.contentWindow, frame.contentWindow));
    // Route the View's calls through the host's (reconnecting) client, and record them.
    bridge.oncalltool = async (params, extra) => {
      log.toolCalls.push(params.name);
      const signal = extra?.mcpReq?.signal;
      signal?.addEventListener('abort', () => log.cancelled.push({ name: params.name, reason: String(signal.reason) }));
      if (held.has(params.name)) {
        return new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason)));
      }
      return forward('tools/call', params, signal);
    };
    await initialized;
    await bridge.sendToolInput({ arguments: args });
    await bridge.sendToolResult(result);
    return toolName;
  },
  setContext(partial) {
    context = { ...context, ...partial };
    bridge.setHostContext(context);
  },
  async teardown() {
    await bridge.teardownResource({});
  },
  frameHeight() {
    return frame.getBoundingClientRect().height;
  },
};
