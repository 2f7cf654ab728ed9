// Accessibility checks with axe-core, run inside a View's frame. The source is evaluated through
// the browser's debugging protocol, so the View's own Content-Security-Policy (which forbids
// inline and foreign scripts) does not keep it out, and nothing is added to the shipped View.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/// Every axe violation in `frame` now, as `{id, impact, help, nodes}` (nodes: CSS selectors).
export async function axeViolations(frame) {
  if (!(await frame.evaluate(() => typeof window.axe === 'object'))) await frame.evaluate(AXE);
  return frame.evaluate(async () => {
    const results = await window.axe.run(document, { resultTypes: ['violations'] });
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(' ')),
    }));
  });
}
