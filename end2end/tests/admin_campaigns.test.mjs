// The admin portal as an admin uses it: a script, a campaign with it, three agents made in
// bulk and assigned, the campaign switched on, a custom disposition marked as a success, a trunk tested against a
// real sipp, and the dashboard's numbers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { ADMIN_PASSWORD, startServer } from '../lib/server.mjs';
import { hydrated, launch, logIn } from '../lib/browser.mjs';

let server;
let browser;
let sipp;
let sippPort;

/** A free UDP port on 127.0.0.1. */
async function freeUdpPort() {
  const s = createSocket('udp4');
  await new Promise((ok) => s.bind(0, '127.0.0.1', ok));
  const { port } = s.address();
  await new Promise((ok) => s.close(ok));
  return port;
}

/** `sipp -sn uas -aa`: answers OPTIONS with 200 OK. Resolves once its port is taken. */
async function startSipp() {
  const port = await freeUdpPort();
  const child = spawn('sipp', ['-sn', 'uas', '-aa', '-i', '127.0.0.1', '-p', String(port), '-timeout', '300s', '-nostdin'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error('sipp exited early (is Debian sip-tester installed?)');
    const probe = createSocket('udp4');
    const taken = await new Promise((ok) => {
      probe.once('error', () => ok(true));
      probe.bind(port, '127.0.0.1', () => ok(false));
    });
    await new Promise((ok) => { try { probe.close(ok); } catch { ok(); } });
    if (taken) break;
    if (Date.now() > deadline) throw new Error('sipp did not bind within 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, port };
}

before(async () => {
  server = await startServer();
  browser = await launch();
  const s = await startSipp();
  sipp = s.child;
  sippPort = s.port;
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (sipp && sipp.exitCode === null) sipp.kill('SIGTERM');
});

test('an admin sets up a campaign end to end', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${server.url}/login`);
  await logIn(page, 'admin', ADMIN_PASSWORD);

  // A script, previewed with a sample lead as it is typed.
  await page.goto(`${server.url}/admin/scripts`);
  await hydrated(page);
  assert.equal(await page.locator('[data-testid="admin-nav"] a').count(), 18, 'all admin tabs');
  const scriptForm = page.locator('[data-testid="script-form"]');
  await scriptForm.locator('input[name="name"]').fill('Welcome');
  await scriptForm.locator('textarea[name="body"]').fill('Hello {first_name} from {city}, {comments}.');
  assert.equal(await page.textContent('[data-testid="script-preview"]'), 'Hello Ada from London, Prefers afternoons.');
  await scriptForm.locator('button[type="submit"]').click();
  await page.locator('tr[data-script="Welcome"]').waitFor();

  // A campaign using it; saving goes to its overview.
  await page.goto(`${server.url}/admin/campaigns/new`);
  await hydrated(page);
  const campaignForm = page.locator('[data-testid="campaign-form"]');
  await campaignForm.locator('input[name="name"]').fill('Spring');
  await campaignForm.locator('select[name="script_id"]').selectOption({ label: 'Welcome' });
  await campaignForm.locator('input[name="source_statuses"]').fill('NEW, READY, VIP');
  // A bad value first: a message, nothing saved.
  await campaignForm.locator('input[name="max_channels"]').fill('-4');
  await campaignForm.locator('button[type="submit"]').click();
  await page.locator('small[data-field="max_channels"]', { hasText: 'negative' }).waitFor();
  await campaignForm.locator('input[name="max_channels"]').fill('20');
  await campaignForm.locator('button[type="submit"]').click();
  await page.waitForURL(/\/admin\/campaigns\/\d+$/);
  await page.locator('[data-testid="campaign-name"]', { hasText: 'Spring' }).waitFor();
  const overviewUrl = page.url();

  // Three agents in bulk, passwords shown once with a CSV to download.
  await page.goto(`${server.url}/admin/agents`);
  await hydrated(page);
  const bulk = page.locator('[data-testid="bulk-agents"]');
  await bulk.locator('input[name="prefix"]').fill('crew');
  await bulk.locator('input[name="count"]').fill('3');
  await bulk.locator('button[type="submit"]').click();
  await page.locator('[data-testid="created-agents"] tr[data-created]').nth(2).waitFor();
  const csv = decodeURIComponent((await page.getAttribute('[data-testid="agents-csv"]', 'href')).split(',').slice(1).join(','));
  assert.match(csv, /^username,password\ncrew01,\S{16}\ncrew02,\S{16}\ncrew03,\S{16}\n$/);
  await page.locator('[data-testid="agents-table"] tr[data-agent="crew03"]').waitFor();

  // Assign them on the campaign's overview.
  await page.goto(overviewUrl);
  await hydrated(page);
  for (const name of ['crew01', 'crew02', 'crew03']) {
    const add = page.locator('[data-testid="add-agent"]');
    await add.locator('select[name="agent"]').selectOption({ label: name });
    await add.locator('button[type="submit"]').click();
    await page.locator(`[data-testid="assigned-agents"] tr[data-agent="${name}"]`).waitFor();
  }

  // Switch it on: refused while it has no caller ID, the message says why.
  assert.equal(await page.textContent('[data-testid="campaign-state"]'), 'Inactive');
  await page.locator('[data-testid="toggle-state"] button').click();
  await page.getByText('An active campaign needs a caller ID').waitFor();
  assert.equal(await page.textContent('[data-testid="campaign-state"]'), 'Inactive');
  await page.goto(`${overviewUrl}/edit`);
  await hydrated(page);
  await campaignForm.locator('input[name="caller_id"]').fill('+1 202 555 0100');
  await campaignForm.locator('button[type="submit"]').click();
  await page.waitForURL(/\/admin\/campaigns\/\d+$/);
  await hydrated(page);
  // Still refused: no trunk to call through yet.
  await page.locator('[data-testid="toggle-state"] button').click();
  await page.getByText('An active campaign needs a trunk').waitFor();
  assert.equal(await page.textContent('[data-testid="campaign-state"]'), 'Inactive');

  // A trunk, tested against sipp.
  await page.goto(`${server.url}/admin/trunks`);
  await hydrated(page);
  const trunkForm = page.locator('[data-testid="trunk-form"]');
  await trunkForm.locator('input[name="name"]').fill('Sipp');
  await trunkForm.locator('input[name="host"]').fill('127.0.0.1');
  await trunkForm.locator('input[name="port"]').fill(String(sippPort));
  await trunkForm.locator('button[type="submit"]').click();
  const row = page.locator('tr[data-trunk="Sipp"]');
  await row.waitFor();
  await row.locator('button', { hasText: 'Test' }).click();
  await row.locator('[data-testid="trunk-test-result"]', { hasText: 'The trunk answered 200' }).waitFor({ timeout: 15_000 });

  await page.goto(`${overviewUrl}/edit`);
  await hydrated(page);
  await campaignForm.locator('select[name="trunk_id"]').selectOption({ label: 'Sipp' });
  await campaignForm.locator('button[type="submit"]').click();
  await page.waitForURL(/\/admin\/campaigns\/\d+$/);
  await hydrated(page);
  await page.locator('[data-testid="toggle-state"] button').click();
  await page.locator('[data-testid="campaign-state"]', { hasText: /^Active$/ }).waitFor();
  assert.equal(await page.textContent('[data-testid="campaign-state"]'), 'Active');

  // A custom disposition for it.
  await page.goto(`${server.url}/admin/dispositions`);
  await hydrated(page);
  const disp = page.locator('[data-testid="add-disposition"]');
  await disp.locator('select[name="campaign"]').selectOption({ label: 'Spring' });
  await disp.locator('input[name="code"]').fill('Interested');
  await disp.locator('select[name="kind"]').selectOption('callback');
  await disp.locator('button[type="submit"]').click();
  await page.locator('tr[data-code="INTERESTED"][data-campaign="Spring"]').waitFor();
  // It counts as a success in the agents' conversion rate, as SALE MADE does.
  const interested = page.locator('tr[data-code="INTERESTED"][data-campaign="Spring"]');
  assert.match(await interested.locator('[data-testid="disposition-success"]').textContent(), /^—/);
  assert.match(await page.locator('tr[data-code="SALE MADE"] [data-testid="disposition-success"]').textContent(), /✓ Success/);
  await interested.locator('[data-testid="toggle-success"]').click();
  await interested.locator('[data-testid="disposition-success"]', { hasText: '✓ Success' }).waitFor();

  // The dashboard shows numbers, and is live (its updates come by push: tests/live.test.mjs).
  await page.goto(`${server.url}/admin`);
  await hydrated(page);
  for (const key of ['agents_logged_in', 'agents_paused', 'agents_waiting', 'agents_in_call', 'agents_wrapup', 'calls_active', 'calls_ringing', 'calls_waiting', 'data_remaining']) {
    const text = await page.textContent(`[data-stat="${key}"] .stat-value`);
    assert.match(text, /^\d+$/, key);
  }
  await page.locator('[data-testid="dashboard-campaigns"] tr[data-campaign="Spring"]').waitFor();
  await page.locator('[data-testid="live-state"]', { hasText: 'Live' }).waitFor({ timeout: 10_000 });
  await ctx.close();
});
