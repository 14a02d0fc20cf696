// The floor (/admin/floor): every logged-in agent with their state, time in state, campaign
// and call, updated by push as agents work, counting time on by itself, sortable by any
// column from the keyboard; a supervisor pauses an agent and logs one out (asked first when
// that would end a call); the calls report then finds the call, on the page and in its CSV,
// and the agent time report has both agents' day.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { hydrated } from '../lib/browser.mjs';
import {
  addAgent, addCampaign, addLeads, addTrunk, asAdmin, echoUas, launchWithMicrophone, loggedIn,
  openPhone, status, waitStatus,
} from '../lib/dialer.mjs';

let server;
let browser;
let echo;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-floor-'));
  server = await startServer();
  echo = await echoUas();
  browser = await launchWithMicrophone(join(dir, 'tone.wav'));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await echo?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const row = (page, agent) => page.locator(`[data-testid="floor"] tr[data-agent="${agent}"]`);
const cell = (page, agent, what) => row(page, agent).locator(`[data-testid="floor-${what}"]`);
const order = (page) => page.locator('[data-testid="floor"] tbody tr')
  .evaluateAll((rows) => rows.map((r) => r.dataset.agent));
const seconds = (clock) => clock.split(':').map(Number).reduce((a, b) => a * 60 + b, 0);

test('the floor shows each agent as they work, by push, and sorts from the keyboard', async () => {
  const admin = await asAdmin(browser, server.url);
  await addTrunk(admin, server.url, 'Echo', echo.port);
  await addAgent(admin, server.url, 'fiona', 'fiona-pass');
  await addAgent(admin, server.url, 'gus', 'gus-pass');
  await addCampaign(admin, server.url, { name: 'Floor', kind: 'auto', trunk: 'Echo', agents: ['fiona', 'gus'] });

  // Nobody yet; the page is reached from the admin section's tabs.
  await admin.goto(`${server.url}/admin`);
  await hydrated(admin);
  await admin.click('[data-testid="admin-nav"] a[href="/admin/floor"]');
  await admin.locator('[data-testid="floor-empty"]').waitFor();
  await admin.locator('[data-testid="live-state"]', { hasText: 'Live' }).waitFor({ timeout: 10_000 });

  // Two agents log in: they appear by themselves, paused, their time in state counting on.
  const fiona = await loggedIn(browser, server.url, 'fiona', 'fiona-pass');
  await openPhone(fiona, server.url, 'Floor');
  await cell(admin, 'fiona', 'state').filter({ hasText: /^Paused: logged in$/ }).waitFor({ timeout: 5_000 });
  assert.equal(await row(admin, 'fiona').locator('td').nth(1).textContent(), 'Floor');
  const first = seconds(await cell(admin, 'fiona', 'time').textContent());
  await admin.waitForFunction((f) => {
    const t = document.querySelector('tr[data-agent="fiona"] [data-testid="floor-time"]')?.textContent ?? '';
    return t.split(':').map(Number).reduce((a, b) => a * 60 + b, 0) >= f + 2;
  }, first, { timeout: 5_000 });
  const gus = await loggedIn(browser, server.url, 'gus', 'gus-pass');
  await openPhone(gus, server.url, 'Floor');
  await gus.click('[data-testid="ready"]');
  await cell(admin, 'gus', 'state').filter({ hasText: /^Ready$/ }).waitFor({ timeout: 5_000 });
  assert.match(await admin.textContent('[data-testid="floor-summary"]'), /2 logged in: 1 waiting, 0 on calls, 0 in wrap-up, 1 paused/);

  // Sorted by state (waiting first) to begin with; a header's button sorts by its column,
  // again to reverse, and says so to assistive technology.
  assert.deepEqual(await order(admin), ['gus', 'fiona']);
  const agentHeader = admin.locator('th', { has: admin.locator('button[data-sort="Agent"]') });
  await admin.locator('button[data-sort="Agent"]').focus();
  await admin.keyboard.press('Enter');
  assert.equal(await agentHeader.getAttribute('aria-sort'), 'ascending');
  assert.deepEqual(await order(admin), ['fiona', 'gus']);
  await admin.keyboard.press('Enter');
  assert.equal(await agentHeader.getAttribute('aria-sort'), 'descending');
  assert.deepEqual(await order(admin), ['gus', 'fiona']);
  await admin.locator('button[data-sort="Time in state"]').click();
  assert.deepEqual(await order(admin), ['gus', 'fiona'], 'shortest in state first');

  // The supervisor pauses gus: his phone and the floor say so; he presses Ready again.
  await row(admin, 'gus').locator('[data-testid="floor-pause"]').click();
  await waitStatus(gus, 'Paused: Paused by a supervisor', 5_000);
  await cell(admin, 'gus', 'state').filter({ hasText: /^Paused: Paused by a supervisor$/ }).waitFor({ timeout: 5_000 });
  assert.match(await admin.textContent('[role="status"].banner'), /gus is paused/);
  assert.ok(await row(admin, 'gus').locator('[data-testid="floor-pause"]').isDisabled(), 'already paused');
  await gus.click('[data-testid="ready"]');
  await cell(admin, 'gus', 'state').filter({ hasText: /^Ready$/ }).waitFor({ timeout: 5_000 });

  // A lead arrives: gus (the one ready) is on the call, with its number.
  const leads = await (await admin.context()).newPage();
  await addLeads(leads, server.url, { leadset: 'Floor leads', campaign: 'Floor', rows: [['2025550177', 'NEW', 'Ada']] });
  await waitStatus(gus, 'In call');
  await cell(admin, 'gus', 'state').filter({ hasText: /^In call$/ }).waitFor({ timeout: 5_000 });
  assert.match(await cell(admin, 'gus', 'call').textContent(), /2025550177/);
  assert.equal(await cell(admin, 'fiona', 'call').textContent(), '—');
  // On a call he cannot be paused; logging him out asks first, and "no" changes nothing.
  assert.ok(await row(admin, 'gus').locator('[data-testid="floor-pause"]').isDisabled());
  let asked = '';
  admin.once('dialog', (d) => { asked = d.message(); d.dismiss(); });
  await row(admin, 'gus').locator('[data-testid="floor-logout"]').click();
  assert.match(asked, /gus is on a call\. Log them out anyway\?/);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await status(gus), 'In call');

  // Hung up: wrap-up; the agent leaves: gone from the floor.
  await gus.click('[data-testid="hangup"]');
  await cell(admin, 'gus', 'state').filter({ hasText: /^Wrap-up$/ }).waitFor({ timeout: 5_000 });
  await fiona.click('[data-testid="phone-logout"]');
  await row(admin, 'fiona').waitFor({ state: 'detached', timeout: 5_000 });
  assert.match(await admin.textContent('[data-testid="floor-summary"]'), /^1 logged in: 0 waiting, 0 on calls, 1 in wrap-up, 0 paused\.$/);
  await fiona.close();
  // The supervisor logs gus out (in wrap-up, so nothing to ask): his phone says so.
  await row(admin, 'gus').locator('[data-testid="floor-logout"]').click();
  await gus.locator('[data-testid="phone-ended"]', { hasText: 'You are logged out of the campaign.' }).waitFor({ timeout: 5_000 });
  await admin.locator('[data-testid="floor-empty"]').waitFor({ timeout: 5_000 });
  await gus.close();

  // The calls report has gus's call; filtered by agent and outcome it is the only one, and
  // its CSV says the same.
  await admin.goto(`${server.url}/admin/calls`);
  await hydrated(admin);
  const filter = admin.locator('[data-testid="calls-filter"]');
  await filter.locator('input[name="agent"]').fill('gus');
  await filter.locator('select[name="outcome"]').selectOption('answered');
  await Promise.all([admin.waitForURL(/agent=gus/), filter.locator('button[type="submit"]').click()]);
  await hydrated(admin);
  assert.equal(await admin.textContent('[data-testid="calls-summary"]'), '1 call.');
  const call = admin.locator('[data-testid="calls"] tbody tr');
  assert.equal(await call.count(), 1);
  assert.match(await call.textContent(), /Floor.*gus.*2025550177.*Ada.*Answered/s);
  assert.equal(await filter.locator('input[name="agent"]').inputValue(), 'gus', 'the filter stays as asked');
  const href = await admin.getAttribute('[data-testid="calls-csv"]', 'href');
  assert.equal(href, '/admin/calls.csv?agent=gus&outcome=answered');
  const csv = await admin.request.get(`${server.url}${href}`);
  assert.equal(csv.status(), 200);
  const lines = (await csv.text()).trim().split('\r\n');
  assert.equal(lines.length, 2);
  assert.match(lines[1], /,Floor,gus,\+12025550177,Ada,answered,/);

  // The agent time report of today: both agents, gus with his call handled.
  await admin.click('[data-testid="admin-nav"] a[href="/admin/agent-time"]');
  const gusDay = admin.locator('[data-testid="agent-time"] tr[data-agent="gus"]');
  await gusDay.waitFor();
  assert.equal(await gusDay.locator('[data-stat="calls"]').textContent(), '1');
  assert.equal(await gusDay.locator('[data-stat="handled"]').textContent(), '1');
  assert.equal(await gusDay.locator('[data-stat="conversion"]').textContent(), '0 %');
  assert.match(await admin.textContent('[data-testid="agent-time"] tr[data-agent="fiona"]'), /logged in/);
  await leads.close();
  await admin.close();
});
