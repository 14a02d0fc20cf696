// The supervisor's wallboard (/supervise → /admin/wallboard): a supervisor watches one
// campaign while an auto campaign dials two leads for one agent at dial level 2 through a
// carrier that rings 3 s (its 33 answered calls yesterday leave room under the abandon cap
// for one call ahead). The board follows the calls by push — ringing, answered (one to the
// agent; the other waits the safe-harbor 2 s for nobody and is dropped), hung up — and then
// shows the disposition in its pie, the drop rate against the cap, and the hour's charts; the
// hourly summary adds the day up the same way.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { hydrated } from '../lib/browser.mjs';
import {
  addAgent, addCampaign, addLeads, addTrunk, addUser, asAdmin, dispose, execute, launchWithMicrophone,
  loggedIn, openPhone, query, ringingUas, waitStatus,
} from '../lib/dialer.mjs';

let server;
let browser;
let carrier;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-wallboard-'));
  server = await startServer();
  carrier = await ringingUas(3_000, dir);
  browser = await launchWithMicrophone(join(dir, 'tone.wav'));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await carrier?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the wallboard follows calls by push and adds up dispositions and drops', async () => {
  const admin = await asAdmin(browser, server.url);
  await addTrunk(admin, server.url, 'Slow ring', carrier.port);
  await addAgent(admin, server.url, 'wendy', 'wendy-pass');
  // Yesterday's calls, all answered by an agent: (0 + 1) / (33 + 1) ≤ 3 % allows one call ahead.
  const yesterday = Date.now() - 86_400_000;
  const seed = (campaign) => {
    const rows = Array.from({ length: 33 }, (_, i) => `('seed-${i}', ${campaign}, '+12025550100', ${yesterday}, ${yesterday + 5000}, ${yesterday + 60000}, 'answered')`);
    execute(server, `INSERT INTO call_attempts (call_ref, campaign_id, phone, dialed_at, answered_at, ended_at, outcome) VALUES ${rows.join(', ')}`);
  };
  await addCampaign(admin, server.url, {
    name: 'Board', kind: 'auto', trunk: 'Slow ring', agents: ['wendy'], fields: { outbound_multiplier: 2 }, beforeActive: seed,
  });
  await addUser(admin, server.url, 'sam', 'sam-pass-123', 'supervisor');
  await addLeads(admin, server.url, {
    leadset: 'Board leads', campaign: 'Board', rows: [['2025550181', 'NEW', 'Ann'], ['2025550182', 'NEW', 'Bob']],
  });

  // The supervisor's short address leads to the wallboard; they pick the campaign.
  const sup = await loggedIn(browser, server.url, 'sam', 'sam-pass-123');
  await sup.goto(`${server.url}/supervise`);
  assert.match(sup.url(), /\/admin\/wallboard$/);
  await hydrated(sup);
  const filter = sup.locator('[data-testid="wallboard-filter"]');
  const option = filter.locator('select[name="campaign"] option', { hasText: 'Board' });
  await filter.locator('select[name="campaign"]').selectOption(await option.getAttribute('value'));
  await Promise.all([sup.waitForURL(/campaign=\d+/), filter.locator('button[type="submit"]').click()]);
  await hydrated(sup);
  await sup.locator('[data-testid="live-state"]', { hasText: 'Live' }).waitFor({ timeout: 10_000 });
  const tile = (key) => sup.locator(`[data-testid="wallboard"] [data-stat="${key}"]`);
  const shows = (key, text) => tile(key).locator('.stat-value', { hasText: new RegExp(`^${text}$`) })
    .waitFor({ timeout: 5_000 });
  assert.equal(await tile('data_remaining').locator('.stat-value').textContent(), '2');
  assert.equal(await tile('drop_today').locator('.stat-value').textContent(), '—');
  assert.match(await tile('dial_level').textContent(), /^2\.0Dial level/);
  await sup.locator('[data-testid="dispositions-empty"]').waitFor();

  // The agent comes in and is ready: both leads are dialled and ring.
  const wendy = await loggedIn(browser, server.url, 'wendy', 'wendy-pass');
  await openPhone(wendy, server.url, 'Board');
  await shows('agents_logged_in', '1');
  await wendy.click('[data-testid="ready"]');
  await shows('calls_ringing', '2');

  // Answered: one call reaches wendy, the other finds nobody free and is dropped.
  await waitStatus(wendy, 'In call');
  await shows('calls_active', '1');
  await shows('calls_ringing', '0');
  await shows('drop_today', '50\\.0 %');
  assert.match(await tile('drop_today').textContent(), /Dropped today: 1 of 2 answered/);
  assert.match(await tile('drop_today').getAttribute('class'), /\bover\b/);
  await sup.locator('[data-testid="wallboard-over-cap"]', { hasText: 'over the 3 % cap' }).waitFor();
  assert.equal(await tile('answer_rate').locator('.stat-value').textContent(), '100.0 %');

  // Hung up: the call is gone and the agent wraps up; her disposition fills the pie.
  await wendy.click('[data-testid="hangup"]');
  await shows('calls_active', '0');
  await shows('agents_wrapup', '1');
  await dispose(wendy, 'SALE MADE');
  await waitStatus(wendy, 'Ready');
  const slices = sup.locator('[data-chart="dispositions"] li[data-slice]');
  await slices.first().waitFor({ timeout: 5_000 });
  const pie = await slices.evaluateAll((li) => li.map((l) => [l.dataset.slice, Number(l.dataset.count)]));
  const stored = query(server,
    'SELECT disposition, COUNT(*) AS n FROM call_attempts WHERE disposition IS NOT NULL GROUP BY disposition ORDER BY n DESC, disposition');
  assert.deepEqual(pie, stored.map((r) => [r.disposition, r.n]));
  assert.deepEqual(pie, [['SALE MADE', 1]]);
  assert.equal(await sup.locator('[data-chart="dispositions"] path, [data-chart="dispositions"] circle').count(), 1);
  await shows('agents_waiting', '1');
  // Ann is done; the dropped lead waits for its redial (the campaign's retry rule for drops).
  assert.equal(await tile('data_remaining').locator('.stat-value').textContent(), '1');

  // The hour's charts: both calls rang in one minute; the running minute has wendy waiting.
  const column = (chart, label) => sup.locator(`[data-chart="${chart}"] table`).evaluate((t, label) => {
    const i = [...t.querySelectorAll('thead th')].findIndex((th) => th.textContent === label);
    return [...t.querySelectorAll('tbody tr')].map((r) => Number(r.cells[i].textContent));
  }, label);
  assert.equal(Math.max(...await column('callers', 'Ringing')), 2);
  assert.equal(Math.max(...await column('callers', 'In progress')), 1);
  const waiting = await column('agents', 'Waiting');
  assert.equal(waiting.length, 60);
  assert.equal(waiting[0], 1, 'the table is newest first: the running minute has wendy waiting');
  assert.equal(await sup.locator('[data-chart="callers"] svg g[data-column]').count(), 60);

  // The calls themselves, as stored: two answered, one dropped.
  const outcomes = query(server, "SELECT outcome FROM call_attempts WHERE call_ref NOT LIKE 'seed-%' ORDER BY outcome")
    .map((r) => r.outcome);
  assert.deepEqual(outcomes, ['answered', 'dropped']);

  // The hourly summary of today has the same two calls, from the admin section's tabs.
  await sup.click('[data-testid="admin-nav"] a[href="/admin/hourly"]');
  const day = sup.locator('[data-testid="hourly"] tfoot tr');
  await day.waitFor();
  const stat = async (key) => day.locator(`[data-stat="${key}"]`).textContent();
  assert.deepEqual(
    [await stat('dialed'), await stat('answered'), await stat('dropped'), await stat('drop_rate'),
      await stat('handled'), await stat('sales'), await stat('conversion')],
    ['2', '2', '1', '50.0 %', '1', '1', '100.0 %'],
  );
  assert.equal(await sup.locator('[data-testid="hourly"] tbody tr').count(), 1, 'one hour had calls');
  await wendy.close();
  await sup.close();
  await admin.close();
});
