// A shift from Ready to Submit with the keyboard only (no mouse click once the phone is
// open): the shortcuts listed on the page press Ready, mute, hold, send keypad digits, hang
// up, choose a disposition by its number and submit — and plain keys typed into the notes
// stay text. sipp is the customer's carrier (answering and echoing).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addAgent, addCampaign, addLeads, addScript, addTrunk, asAdmin, eventually,
  loggedIn, openPhone, query, waitStatus, stage,
} from '../lib/dialer.mjs';

let staged;
let server;
let browser;

before(async () => {
  staged = await stage('keys');
  ({ server, browser } = staged);
  const admin = await asAdmin(browser, server.url);
  await addTrunk(admin, server.url, 'Echo', staged.carrier.port);
  await addScript(admin, server.url, 'Hi', 'Hello {first_name}.');
  await addAgent(admin, server.url, 'kay', 'kay-pass-1');
  await addCampaign(admin, server.url, { name: 'Keys', kind: 'auto', trunk: 'Echo', agents: ['kay'], script: 'Hi' });
  await addLeads(admin, server.url, { leadset: 'Keys leads', campaign: 'Keys', rows: [['2025550171', 'NEW', 'Kim']] });
  await admin.close();
});

after(async () => {
  await staged?.stop();
});

const pressed = (page, id) => page.getAttribute(`[data-testid="${id}"]`, 'aria-pressed');

test('keyboard only: Ready, mute, hold, keypad, hang up, disposition 2, notes, Ctrl+Enter', async () => {
  const page = await loggedIn(browser, server.url, 'kay', 'kay-pass-1');
  await openPhone(page, server.url, 'Keys');
  await waitStatus(page, 'Paused');
  const list = await page.textContent('[data-testid="shortcuts"]');
  for (const key of ['Keyboard shortcuts', 'R', 'Ready', 'Hang up', 'Mute', 'Hold', 'Ctrl+Enter', 'Ctrl+Shift+Enter']) {
    assert.ok(list.includes(key), `the list names ${key}`);
  }
  // From here on: the keyboard only.
  await page.keyboard.press('r');
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  await waitStatus(page, 'In call');
  await page.keyboard.press('m');
  await eventually(async () => (await pressed(page, 'mute')) === 'true', 5_000, 'muted');
  await page.keyboard.press('m');
  await eventually(async () => (await pressed(page, 'mute')) === 'false', 5_000, 'unmuted');
  await page.keyboard.press('l');
  await eventually(async () => (await pressed(page, 'hold')) === 'true', 5_000, 'on hold');
  await page.keyboard.press('l');
  await eventually(async () => (await pressed(page, 'hold')) === 'false', 5_000, 'resumed');
  // Keypad digits go to the customer; they do not pick anything or leave the call.
  for (const d of ['4', '2', '#']) await page.keyboard.press(d);
  await page.keyboard.press('h');
  await page.locator('[data-testid="wrapup"]').waitFor({ timeout: 10_000 });
  // Disposition 2 of the list (the predefined ones first: SALE MADE, NOT INTERESTED, …).
  await page.keyboard.press('2');
  assert.equal(
    await page.locator('[data-testid="wrapup"] input[name="disposition"]:checked').getAttribute('value'),
    'NOT INTERESTED',
  );
  // Into the notes with Tab; letters and digits typed there are text, not shortcuts.
  for (let i = 0; i < 10 && !(await page.evaluate(() => document.activeElement?.dataset?.testid === 'notes')); i++) {
    await page.keyboard.press('Tab');
  }
  assert.equal(await page.evaluate(() => document.activeElement?.dataset?.testid), 'notes', 'Tab reaches the notes');
  await page.keyboard.type('rang back 1 time, hung up');
  assert.equal(await page.inputValue('[data-testid="notes"]'), 'rang back 1 time, hung up');
  assert.equal(
    await page.locator('[data-testid="wrapup"] input[name="disposition"]:checked').getAttribute('value'),
    'NOT INTERESTED',
    'the 1 typed in the notes chose nothing',
  );
  await page.keyboard.press('Control+Enter');
  await waitStatus(page, 'Ready');
  const rows = query(server, `SELECT disposition, notes FROM call_attempts WHERE disposition IS NOT NULL`);
  assert.deepEqual(rows, [{ disposition: 'NOT INTERESTED', notes: 'rang back 1 time, hung up' }]);
  // And a pause, still from the keyboard.
  await page.keyboard.press('p');
  await waitStatus(page, 'Paused');
  await page.close();
});
