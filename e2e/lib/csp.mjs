// The Content-Security-Policies Views are tested under, shared by the host page (bundled into
// host/host.js) and the Node tests.

const STRICT = "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; media-src 'self' data:; connect-src 'none'; object-src 'none'";

export const CSP = {
  // The MCP Apps specification's default policy exactly as written: no WebAssembly compile.
  strict: STRICT,
  // The same plus what the resource declares (wasmUnsafeEval).
  wasm: STRICT.replace("'unsafe-inline';", "'unsafe-inline' 'wasm-unsafe-eval';"),
};

/// `html` with `policy` as a CSP <meta>. The document may omit its optional <head> tag
/// (minified HTML); a <meta> right after <html> still lands in the implied head, where it works.
export function withCsp(html, policy) {
  const meta = `<meta http-equiv="Content-Security-Policy" content="${policy}">`;
  const doc = html.replace(/<head>|<html[^>]*>/i, (tag) => tag + meta);
  if (!doc.includes(meta)) throw new Error('could not place the CSP in the View document');
  return doc;
}
