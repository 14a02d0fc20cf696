// My Profile in a real Chromium whose fake media devices give it three microphones: a bad name
// is refused and nothing is saved; a display name, the dark theme and a non-default microphone
// are saved, survive a reload, and the theme is in the server-rendered HTML itself (no flash of
// the light theme); the phone then opens the chosen microphone (the sent track's device); a
// saved microphone this browser does not have falls back to the default one, with a note.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { hydrated } from '../lib/browser.mjs';
import { addAgent, addCampaign, asAdmin, launchWithMicrophone, loggedIn, openPhone } from '../lib/dialer.mjs';

const DEMO_TRUNK = 'Demo trunk (built-in)';

let server;
let browser;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-profile-'));
  server = await startServer();
  browser = await launchWithMicrophone(join(dir, 'tone.wav'));
  const admin = await asAdmin(browser, server.url);
  await addAgent(admin, server.url, 'pat', 'pat-pass-123');
  await addAgent(admin, server.url, 'quinn', 'quinn-pass-123');
  await addCampaign(admin, server.url, { name: 'Profiled', kind: 'auto', trunk: DEMO_TRUNK, agents: ['pat', 'quinn'] });
  await admin.context().close();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The `<html …>` tag of `path` as the server sends it (before any script runs). */
async function servedHtmlTag(page, path) {
  const body = await page.evaluate(async (p) => (await fetch(p)).text(), path);
  return body.match(/<html[^>]*>/)[0];
}

const theme = (page) => page.evaluate(() => document.documentElement.dataset.theme);

async function openProfile(page) {
  await page.goto(`${server.url}/account`);
  await hydrated(page);
}

test('a theme, a name and a microphone chosen in My Profile survive a reload and reach the phone', async () => {
  const page = await loggedIn(browser, server.url, 'pat', 'pat-pass-123');
  await openProfile(page);
  assert.equal(await theme(page), 'light');
  const form = page.locator('[data-testid="profile"]');
  const name = form.locator('input[name="display_name"]');
  assert.equal(await name.inputValue(), 'pat', 'the username until a name is chosen');

  // A blank name is refused, and nothing (not even the theme chosen with it) is saved.
  await name.fill('   ');
  await form.locator('input[value="dark"]').check();
  await form.locator('button[type="submit"]').click();
  await form.locator('.banner.error', { hasText: 'Enter the name your colleagues see' }).waitFor();
  await openProfile(page);
  assert.equal(await theme(page), 'light');
  assert.equal(await name.inputValue(), 'pat');

  // A name and the dark theme: applied at once, without a reload.
  await name.fill('  Pat Doe ');
  await form.locator('input[value="dark"]').check();
  await form.locator('button[type="submit"]').click();
  await form.locator('.banner.ok', { hasText: 'Profile saved.' }).waitFor();
  assert.equal(await theme(page), 'dark');

  // The browser's microphones, named once it may use the microphone.
  const audio = page.locator('[data-testid="audio-devices"]');
  await audio.locator('[data-testid="find-devices"]').click();
  const inputs = audio.locator('select[name="input"] option');
  await page.waitForFunction(() => document.querySelectorAll('select[name="input"] option').length > 2);
  const offered = await inputs.evaluateAll((os) => os.map((o) => ({ id: o.value, label: o.textContent })));
  // A device that is not the default one, so the phone's choice is visible in its track.
  const chosen = offered.find((o) => o.id && o.id !== 'default' && o.id !== 'communications' && /2/.test(o.label))
    ?? offered.filter((o) => o.id && o.id !== 'default' && o.id !== 'communications').at(-1);
  assert.ok(chosen, `a non-default microphone among ${JSON.stringify(offered)}`);
  await audio.locator('select[name="input"]').selectOption(chosen.id);
  await audio.locator('button[type="submit"]').click();
  await audio.locator('.banner.ok', { hasText: 'Audio devices saved.' }).waitFor();

  // After a reload everything is still there, and the theme is in the HTML the server sends.
  await page.reload();
  await hydrated(page);
  assert.equal(await theme(page), 'dark');
  assert.equal(await name.inputValue(), 'Pat Doe');
  assert.match(await page.textContent('[data-testid="whoami"]'), /Pat Doe/);
  assert.equal(await page.locator('input[name="theme"][value="dark"]').isChecked(), true);
  assert.equal(await audio.locator('select[name="input"]').inputValue(), chosen.id);
  for (const path of ['/account', '/phone', '/']) {
    assert.match(await servedHtmlTag(page, path), /data-theme="dark"/, path);
  }
  assert.equal(await audio.locator('[data-testid="input-missing"]').count(), 0);

  // The phone records from the chosen microphone.
  await openPhone(page, server.url, 'Profiled');
  const used = await page.evaluate(() => window.__dialerPeer.getSenders()
    .map((s) => s.track?.getSettings().deviceId).find(Boolean));
  assert.equal(used, chosen.id);
  assert.equal(await page.locator('.phone-notices', { hasText: 'not connected to this browser' }).count(), 0);
  await page.context().close();
});

test('a saved microphone this browser does not have: the default one, with a note', async () => {
  const page = await loggedIn(browser, server.url, 'quinn', 'quinn-pass-123');
  // As if chosen in another browser: an id this one does not know.
  const saved = await page.evaluate(async () => {
    const body = new URLSearchParams({ input: 'from-another-browser', output: '' });
    const res = await fetch('/api/account/audio_devices', { method: 'POST', body, headers: { accept: 'application/json' } });
    return res.status;
  });
  assert.equal(saved, 200);
  await openProfile(page);
  await page.locator('[data-testid="find-devices"]').click();
  await page.locator('[data-testid="input-missing"]').waitFor();

  await openPhone(page, server.url, 'Profiled');
  await page.locator('.phone-notices', { hasText: 'microphone chosen in My Profile is not connected' }).waitFor();
  const used = await page.evaluate(() => window.__dialerPeer.getSenders()
    .map((s) => s.track?.getSettings().deviceId).find(Boolean));
  assert.ok(used && used !== 'from-another-browser', `a real microphone (${used})`);
  await page.context().close();
});
