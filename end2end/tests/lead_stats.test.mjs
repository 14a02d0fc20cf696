// Refresh Lead Stats, as the product documents name it: a campaign's Lead Stats and a
// leadset's dashboard are counted by the database when asked, so each has the button, which
// counts them again without reloading the page and says when they were computed. Leads added
// and finished elsewhere show once it is pressed; pressed twice while it counts, it counts
// once; it works from the keyboard and keeps the focus; and the pages stay accessible. The
// campaign's agents list and the agents page follow the live channel: no Refresh there.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { hydrated, launch } from '../lib/browser.mjs';
import { check } from '../lib/axe.mjs';
import { addCampaign, addLeads, asAdmin, eventually, execute } from '../lib/dialer.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/**
 * On `page`, the Refresh Lead Stats of `key` (its `data-testid`): the number in the tile
 * `stat` of `section`, when the figures were computed (Unix ms), and the requests its button
 * made (to `endpoint`, each held back a moment so that a second press lands while it counts).
 */
async function refresher(page, key, section, endpoint) {
  const asked = [];
  await page.route(`**/${endpoint}*`, async (route) => {
    asked.push(route.request().url());
    await new Promise((r) => setTimeout(r, 400));
    await route.continue();
  });
  const box = page.locator(`[data-testid="${key}"]`);
  return {
    asked,
    button: box.locator('button'),
    status: () => box.locator('[role="status"]').textContent(),
    at: async () => Number(await box.locator('time').getAttribute('data-at')),
    tile: async (stat) => page.locator(`[data-testid="${section}"] [data-stat="${stat}"] .stat-value`).first().textContent(),
    idle: () => box.locator('button[aria-busy="false"] ~ [role="status"] time').waitFor(),
  };
}

/** Presses the focused button twice from the keyboard, at once. */
async function pressTwice(page, button) {
  await button.focus();
  await page.keyboard.press('Enter');
  await page.keyboard.press('Enter');
}

test('Refresh Lead Stats counts again, once, from the keyboard, and says when', async () => {
  const admin = await asAdmin(browser, server.url);
  const overview = await addCampaign(admin, server.url, {
    name: 'Counted', kind: 'auto', trunk: 'Demo trunk (built-in)', agents: [],
  });
  // Switched off again: nothing dials, so nothing else counts the leads meanwhile.
  await admin.locator('[data-testid="toggle-state"] button').click();
  await admin.locator('[data-testid="campaign-state"]', { hasText: /^Inactive$/ }).waitFor();
  const leadset = await addLeads(admin, server.url, {
    leadset: 'Counted leads', campaign: 'Counted', rows: [['2025550141', 'NEW', 'Ada'], ['2025550142', 'NEW', 'Bo']],
  });

  // The leadset's dashboard: two leads, counted at a time it shows.
  await admin.goto(`${server.url}/admin/leadsets/${leadset}`);
  await hydrated(admin);
  const stats = await refresher(admin, 'leadset-stats-computed', 'leadset-stats', 'leadsets/stats');
  assert.equal(await stats.tile('total'), '2');
  assert.equal(await stats.tile('done'), '0');
  assert.match(await stats.status(), /^Computed at \d\d:\d\d:\d\d UTC$/);
  const first = await stats.at();

  // Elsewhere, another admin adds a lead, and one is finished (as another server's dialer
  // would, straight in the database).
  const other = await asAdmin(browser, server.url);
  await other.goto(`${server.url}/admin/leadsets/${leadset}`);
  await hydrated(other);
  const add = other.locator('[data-testid="add-lead"]');
  await add.locator('input[name="phone"]').fill('2025550143');
  await add.locator('button[type="submit"]').click();
  await other.locator('[data-testid="leads-table"] tr[data-phone="+12025550143"]').waitFor();
  execute(server, "UPDATE leads SET dial_state = 'done', status = 'SALE MADE' WHERE phone = '+12025550141'");

  // Pressed twice from the keyboard: busy while it counts, counted once, the new figures and
  // a later time; the focus stays on the button.
  await pressTwice(admin, stats.button);
  assert.equal(await stats.button.getAttribute('aria-busy'), 'true');
  assert.equal(await stats.status(), 'Computing…');
  await stats.idle();
  assert.equal(await stats.tile('total'), '3');
  assert.equal(await stats.tile('done'), '1');
  assert.ok((await stats.at()) > first, 'the time moved');
  assert.equal(stats.asked.length, 1, `pressed twice while counting: counted once (${stats.asked})`);
  assert.ok(await stats.button.evaluate((b) => b === document.activeElement), 'the focus stays');
  await check(admin, 'the leadset page after Refresh Lead Stats');

  // The campaign's overview: the same, for its Lead Stats (every leadset of it).
  await admin.goto(overview);
  await hydrated(admin);
  const lead = await refresher(admin, 'lead-stats-computed', 'lead-stats', 'admin/campaigns/lead_stats');
  assert.equal(await lead.tile('total'), '3');
  const shown = await lead.at();
  execute(server, "UPDATE leads SET dial_state = 'done', status = 'SALE MADE' WHERE phone = '+12025550142'");
  await add.locator('input[name="phone"]').fill('2025550144');
  await add.locator('button[type="submit"]').click();
  await other.locator('[data-testid="leads-table"] tr[data-phone="+12025550144"]').waitFor();
  await pressTwice(admin, lead.button);
  await lead.idle();
  await eventually(async () => (await lead.tile('total')) === '4', 5_000, 'the new total');
  assert.equal(await lead.tile('done'), '2');
  assert.ok((await lead.at()) > shown, 'the time moved');
  assert.equal(lead.asked.length, 1, `counted once (${lead.asked})`);
  // Its agents list is live: it has no Refresh button of its own.
  assert.equal(await admin.locator('[data-testid="assigned-agents"]').locator('..').getByRole('button', { name: /refresh/i }).count(), 0);
  await check(admin, 'the campaign overview after Refresh Lead Stats');

  // The agents page follows the live channel too.
  await admin.goto(`${server.url}/admin/agents`);
  await hydrated(admin);
  await admin.locator('[data-testid="live-state"]', { hasText: 'Live' }).waitFor();
  assert.equal(await admin.getByRole('button', { name: /refresh/i }).count(), 0);
  await other.close();
  await admin.close();
});
