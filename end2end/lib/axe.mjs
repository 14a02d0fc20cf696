// The automated accessibility check every page passes: axe-core run in the page against WCAG
// 2.1 A and AA.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** Runs axe on the page as it is now; fails with every violation found, element by element. */
export async function check(page, what) {
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: tags } });
    return result.violations.map((v) => ({
      rule: v.id,
      help: v.help,
      where: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary}`),
    }));
  });
  const text = violations.map((v) => `${v.rule}: ${v.help}\n    ${v.where.join('\n    ')}`).join('\n');
  assert.equal(violations.length, 0, `${what} has accessibility violations:\n${text}`);
}
