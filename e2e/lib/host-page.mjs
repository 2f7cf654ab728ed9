// A minimal MCP Apps host page for tests: it mounts a View document in a sandboxed srcdoc iframe,
// answers the handshake with the given host context, relays the View's `tools/call` to the test
// (which forwards them to the real server), and records every message the View posts.
export const HOST_PAGE = `<!doctype html><html><body style="margin:0">
<iframe id="view" sandbox="allow-scripts" style="width:560px;height:600px;border:0;display:block"></iframe>
<script>
  window.received = [];
  window.toolCalls = [];
  const frame = document.getElementById('view');
  const post = (m) => frame.contentWindow.postMessage(m, '*');
  window.hostSend = post;
  window.addEventListener('message', async (event) => {
    if (event.source !== frame.contentWindow) return;
    const m = event.data;
    window.received.push(m);
    if (m.method === 'ui/initialize') {
      post({ jsonrpc: '2.0', id: m.id, result: window.initializeResult });
    } else if (m.method === 'ui/notifications/initialized') {
      window.initializedAt = performance.now();
      for (const note of window.afterInitialized ?? []) post(note);
    } else if (m.method === 'tools/call') {
      window.toolCalls.push(m.params);
      try {
        post({ jsonrpc: '2.0', id: m.id, result: await window.callTool(m.params) });
      } catch (e) {
        post({ jsonrpc: '2.0', id: m.id, error: { code: -32603, message: String(e.message ?? e) } });
      }
    } else if (m.method === 'ui/message' || m.method === 'ui/update-model-context') {
      post({ jsonrpc: '2.0', id: m.id, result: {} });
    } else if (m.id !== undefined && m.method) {
      post({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'not supported here' } });
    }
  });
  window.mount = (doc) => { window.mountedAt = performance.now(); frame.srcdoc = doc; };
</script></body></html>`;

export function initializeResult(theme = 'light', extra = {}) {
  return {
    protocolVersion: '2026-01-26',
    hostInfo: { name: 'test-host', version: '1.0.0' },
    hostCapabilities: { serverTools: {}, message: { text: {} }, updateModelContext: { text: {} }, logging: {} },
    hostContext: {
      theme,
      displayMode: 'inline',
      availableDisplayModes: ['inline', 'fullscreen'],
      containerDimensions: { maxHeight: 600, width: 560 },
      locale: 'en-GB',
      timeZone: 'UTC',
      ...extra,
    },
  };
}
