// Every page passes an automated WCAG 2.1 A and AA check (axe-core, run in the page), as each
// role that can open it: the visitor's pages, the admin portal with data in it, the
// supervisor's pages, and the agent's phone before a shift, paused, on a call (with Edit lead
// open) and in wrap-up (the built-in demo trunk answers the call); and in each theme of My
// Profile, the profile page and the phone (paused and on a call).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { hydrated } from '../lib/browser.mjs';
import { check } from '../lib/axe.mjs';
import {
  addAgent, addCampaign, addLeads, asAdmin, launchWithMicrophone, loggedIn, openPhone, pickCampaign,
} from '../lib/dialer.mjs';

const DEMO_TRUNK = 'Demo trunk (built-in)';

let server;
let browser;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-a11y-'));
  server = await startServer();
  browser = await launchWithMicrophone(join(dir, 'tone.wav'));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Opens `path` and checks it. */
async function visit(page, path) {
  await page.goto(`${server.url}${path}`);
  await hydrated(page);
  await check(page, path);
}

test('the visitor\'s pages', async () => {
  const page = await (await browser.newContext()).newPage();
  await visit(page, '/login');
  await visit(page, '/nowhere');
  await page.context().close();
});

test('every admin page, with data in it, and the supervisor\'s pages', async () => {
  const admin = await asAdmin(browser, server.url);
  await addAgent(admin, server.url, 'axe-agent', 'axe-agent-pass');
  const overview = await addCampaign(admin, server.url, {
    name: 'Checked', kind: 'auto', trunk: DEMO_TRUNK, agents: ['axe-agent'],
  });
  const campaign = new URL(overview).pathname;
  const leadset = await addLeads(admin, server.url, {
    leadset: 'Checked leads', campaign: 'Checked', rows: [['2025550111', 'NEW', 'Ada']],
  });
  // A lead's page, reached from the leadset's data.
  await admin.goto(`${server.url}/admin/leadsets/${leadset}`);
  await hydrated(admin);
  const lead = await admin.locator('[data-testid="leads-table"] a', { hasText: 'History' }).first().getAttribute('href');
  for (const path of [
    '/', '/account', '/admin', '/admin/campaigns', '/admin/campaigns/new', campaign, `${campaign}/edit`,
    '/admin/leadsets', `/admin/leadsets/${leadset}`, '/admin/users', '/admin/agents', '/admin/trunks',
    '/admin/scripts', '/admin/dispositions', '/admin/dnc', '/admin/floor', '/admin/calls', '/admin/queues',
    '/admin/agent-time', '/admin/compliance', `${campaign}/simulate`, `${campaign}/crm`, lead,
    `/admin/leadsets/${leadset}?invalid=1`,
  ]) {
    await visit(admin, path);
  }
  // Messages to agents, with one sent.
  await visit(admin, '/admin/broadcasts');
  await admin.fill('[data-testid="send-broadcast"] textarea[name="text"]', 'Team meeting at 3');
  await admin.click('[data-testid="send-broadcast"] button[type="submit"]');
  await admin.locator('[data-testid="broadcasts"]').waitFor();
  await check(admin, 'the messages page with a message sent');
  // The upload page at each step: choosing, then the column mapping.
  await visit(admin, `/admin/leadsets/${leadset}/upload`);
  await admin.click('[data-source="paste"]');
  await admin.fill('[data-testid="lead-text"]', 'phone,status\n2025550112,NEW\n');
  await admin.click('[data-testid="preview"]');
  await admin.locator('[data-testid="preview-grid"]').waitFor();
  await check(admin, 'the upload page with its column mapping');
  await admin.click('[data-testid="upload"]');
  await admin.locator('[data-testid="import-summary"][data-done="true"]').waitFor({ timeout: 30_000 });
  await check(admin, 'the upload page with its report');

  // A supervisor watches.
  await admin.goto(`${server.url}/admin/users`);
  await hydrated(admin);
  const form = admin.locator('[data-testid="create-user"]');
  await form.locator('input[name="username"]').fill('axe-supervisor');
  await form.locator('select[name="role"]').selectOption('supervisor');
  await form.locator('input[name="password"]').fill('axe-supervisor-pass');
  await form.locator('button[type="submit"]').click();
  await admin.locator('tr[data-username="axe-supervisor"]').waitFor();
  const supervisor = await loggedIn(browser, server.url, 'axe-supervisor', 'axe-supervisor-pass');
  for (const path of ['/', '/admin', '/admin/floor', '/admin/broadcasts', '/admin/wallboard', '/admin/calls', '/admin/agent-time', '/admin/hourly', '/admin/compliance', '/admin/campaigns', '/admin/queues', '/admin/agents', '/admin/scripts', '/admin/dispositions', '/admin/dnc', '/admin/leadsets', campaign, `${campaign}/simulate`, `${campaign}/crm`, `/admin/leadsets/${leadset}`, lead]) {
    await visit(supervisor, path);
  }
  // The simulator with its results: a short run as the supervisor.
  await supervisor.goto(`${server.url}${campaign}/simulate`);
  await hydrated(supervisor);
  const sim = supervisor.locator('[data-testid="simulation-form"]');
  await sim.locator('input[name="agents"]').fill('2');
  await sim.locator('input[name="hours"]').fill('0.25');
  await sim.locator('input[name="seeds"]').fill('1');
  await supervisor.click('[data-testid="simulate"]');
  await supervisor.locator('[data-testid="simulation-result"]').waitFor({ timeout: 60_000 });
  await check(supervisor, 'the pacing simulator with its results');
  await supervisor.context().close();
  await admin.context().close();
});

test('the agent\'s phone: before the shift, paused, on a call and in wrap-up', async () => {
  const admin = await asAdmin(browser, server.url);
  await addAgent(admin, server.url, 'axe-caller', 'axe-caller-pass');
  await addCampaign(admin, server.url, { name: 'Called', kind: 'auto', trunk: DEMO_TRUNK, agents: ['axe-caller'] });
  await addLeads(admin, server.url, { leadset: 'Called leads', campaign: 'Called', rows: [['2025550121', 'NEW', 'Grace']] });
  await admin.context().close();
  const page = await loggedIn(browser, server.url, 'axe-caller', 'axe-caller-pass');
  await visit(page, '/');
  await page.goto(`${server.url}/phone`);
  await hydrated(page);
  await pickCampaign(page, 'Called');
  await check(page, 'the phone\'s campaign picker');
  await openPhone(page, server.url, 'Called');
  await check(page, 'the phone, paused');
  await page.click('[data-testid="ready"]');
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  await check(page, 'the phone on a call');
  await page.click('[data-testid="edit-lead"]');
  await page.locator('[data-testid="lead-edit-form"]').waitFor();
  await check(page, 'the phone on a call with Edit lead open');
  await page.click('[data-testid="hangup"]');
  await page.locator('[data-testid="wrapup"]').waitFor();
  await check(page, 'the phone in wrap-up');
  await page.context().close();
});

test('each theme: My Profile and the phone, paused and on a call', async () => {
  const admin = await asAdmin(browser, server.url);
  await addAgent(admin, server.url, 'axe-themed', 'axe-themed-pass');
  await addCampaign(admin, server.url, { name: 'Themed', kind: 'auto', trunk: DEMO_TRUNK, agents: ['axe-themed'] });
  await addLeads(admin, server.url, { leadset: 'Themed leads', campaign: 'Themed', rows: [['2025550131', 'NEW', 'Ida']] });
  await admin.context().close();
  const page = await loggedIn(browser, server.url, 'axe-themed', 'axe-themed-pass');
  /** Picks `theme` on My Profile, lists the devices, and checks the page. */
  const profileIn = async (theme) => {
    await page.goto(`${server.url}/account`);
    await hydrated(page);
    const form = page.locator('[data-testid="profile"]');
    await form.locator(`input[name="theme"][value="${theme}"]`).check();
    await form.locator('button[type="submit"]').click();
    await form.locator('.banner.ok').waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), theme);
    await page.click('[data-testid="find-devices"]');
    await page.waitForFunction(() => document.querySelectorAll('select[name="input"] option').length > 1);
    await check(page, `My Profile, ${theme}`);
  };
  await profileIn('dark');
  await openPhone(page, server.url, 'Themed');
  await check(page, 'the phone, paused, dark');
  await profileIn('high-contrast');
  // Back to the phone, still logged in to the campaign.
  await page.goto(`${server.url}/phone`);
  await hydrated(page);
  await page.locator('[data-testid="audio-state"]', { hasText: 'Audio connected' }).waitFor({ timeout: 30_000 });
  await check(page, 'the phone, paused, high-contrast');
  await page.click('[data-testid="ready"]');
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  await check(page, 'the phone on a call, high-contrast');
  await page.click('[data-testid="hangup"]');
  await page.locator('[data-testid="wrapup"]').waitFor();
  await check(page, 'the phone in wrap-up, high-contrast');
  await page.context().close();
});
