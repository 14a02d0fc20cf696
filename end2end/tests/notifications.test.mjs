// Notices on the agent phone. An agent works in a campaign; an admin, in another browser
// context, turns the campaign off: the agent's phone says so at once (the status bar shows the
// campaign is off) and the agent dismisses the notice with the keyboard. Then the admin writes
// to every agent from the Messages page: the message reaches the phone live, comes back after
// a reload, and once dismissed stays dismissed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { hydrated } from '../lib/browser.mjs';
import {
  addAgent, addCampaign, asAdmin, eventually, launchWithMicrophone, loggedIn, openPhone, waitStatus,
} from '../lib/dialer.mjs';

const DEMO_TRUNK = 'Demo trunk (built-in)';

let server;
let browser;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-notices-'));
  server = await startServer();
  browser = await launchWithMicrophone(join(dir, 'tone.wav'));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const notices = (page) => page.locator('[data-testid="phone-notice"]');

test('a campaign turned off and a message from an admin reach the agent\'s phone', async () => {
  const admin = await asAdmin(browser, server.url);
  await addAgent(admin, server.url, 'nia', 'nia-pass-12');
  const overview = await addCampaign(admin, server.url, { name: 'Notices', kind: 'auto', trunk: DEMO_TRUNK, agents: ['nia'] });

  const page = await loggedIn(browser, server.url, 'nia', 'nia-pass-12');
  await openPhone(page, server.url, 'Notices');
  await waitStatus(page, 'Paused');
  assert.equal(await notices(page).count(), 0, 'nothing to say yet');

  // The admin turns the campaign off.
  await admin.goto(overview);
  await hydrated(admin);
  await admin.locator('[data-testid="toggle-state"] button').click();
  await admin.locator('[data-testid="campaign-state"]', { hasText: /^Inactive$/ }).waitFor();

  const off = notices(page).filter({ hasText: 'turned off' });
  await off.waitFor({ timeout: 10_000 });
  assert.equal(await off.getAttribute('data-kind'), 'campaign');
  await page.locator('[data-testid="campaign-off"]').waitFor();
  assert.equal(
    await page.locator('[data-testid="phone-notices"]').getAttribute('aria-live'), 'polite',
    'read out without interrupting',
  );
  // The call controls stay where they were, usable: the notice sits above them, not over them.
  assert.ok(await page.locator('[data-testid="ready"]').isEnabled());
  // Dismissed with the keyboard (the shortcut list names Esc).
  await page.keyboard.press('Escape');
  await eventually(async () => (await notices(page).count()) === 0, 5_000, 'the notice is dismissed');
  await page.locator('[data-testid="campaign-off"]').waitFor();

  // A message to every agent, from the admin portal.
  await admin.goto(`${server.url}/admin/broadcasts`);
  await hydrated(admin);
  const form = admin.locator('[data-testid="send-broadcast"]');
  await form.locator('textarea[name="text"]').fill('Team meeting at 3 in room B');
  await form.locator('button[type="submit"]').click();
  await admin.locator('[data-testid="broadcast-sent"]').waitFor();
  await admin.locator('[data-testid="broadcasts"]', { hasText: 'Team meeting at 3 in room B' }).waitFor();
  // An empty message is refused, with words.
  await form.locator('textarea[name="text"]').fill('   ');
  await form.locator('button[type="submit"]').click();
  assert.match(await admin.locator('[data-testid="broadcast-error"]').textContent(), /Enter a message/);

  const message = notices(page).filter({ hasText: 'Team meeting at 3 in room B' });
  await message.waitFor({ timeout: 10_000 });
  assert.equal(await message.getAttribute('data-kind'), 'system');
  assert.match(await message.textContent(), /From admin/);

  // A reload brings this hour's message back (and the campaign's state)…
  await page.reload();
  await hydrated(page);
  await message.waitFor({ timeout: 30_000 });
  await page.locator('[data-testid="campaign-off"]').waitFor();
  // …until it is dismissed (here with its own button, from the keyboard).
  await message.getByRole('button', { name: /Dismiss/ }).focus();
  await page.keyboard.press('Enter');
  await eventually(async () => (await message.count()) === 0, 5_000, 'the message is dismissed');
  await page.reload();
  await hydrated(page);
  await page.locator('[data-testid="campaign-off"]').waitFor({ timeout: 30_000 });
  await waitStatus(page, 'Paused');
  // (The page is back and has had its state; give a stray message time to show.)
  await page.waitForTimeout(1_000);
  assert.equal(await message.count(), 0, 'a dismissed message stays dismissed');

  await page.context().close();
  await admin.context().close();
});
