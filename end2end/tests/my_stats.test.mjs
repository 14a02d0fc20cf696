// My Stats and the status bar against a scripted shift: log in, Ready, one call of known
// length (sipp answers at once and hangs up four and a half seconds after the ACK), a sale submitted
// with a pause for Lunch, log out. The figures the script fixes are asserted exactly; the
// ones set by how fast the browser and the test move (time paused at login, waiting for the
// call, wrap-up, the Lunch pause) are bounded by the test's own clock and the identities the
// definitions promise (login = available + talk + wrap-up + pause, break = Lunch).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { startSipp } from '../lib/gateway.mjs';
import { hydrated } from '../lib/browser.mjs';
import {
  addAgent, addCampaign, addLeads, addScript, addTrunk, asAdmin, eventually,
  launchWithMicrophone, loggedIn, openPhone, waitStatus,
} from '../lib/dialer.mjs';

let server;
let browser;
let carrier;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-stats-'));
  server = await startServer();
  const scenario = resolve(import.meta.dirname, '..', 'sipp', 'answer_then_hang_up.xml');
  carrier = await startSipp(['-sf', scenario, '-rtp_echo']);
  browser = await launchWithMicrophone(join(dir, 'tone.wav'));
  const admin = await asAdmin(browser, server.url);
  await addTrunk(admin, server.url, 'Four seconds', carrier.port);
  await addScript(admin, server.url, 'Hi', 'Hello {first_name}.');
  await addAgent(admin, server.url, 'stella', 'stella-pass');
  await addCampaign(admin, server.url, {
    name: 'Stats', kind: 'auto', trunk: 'Four seconds', agents: ['stella'], script: 'Hi',
  });
  await addLeads(admin, server.url, { leadset: 'Stats leads', campaign: 'Stats', rows: [['2025550161', 'NEW', 'Sam']] });
  await admin.close();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await carrier?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The figures of an open My Stats panel: seconds where the figure is a time, else the text. */
async function figures(page) {
  return page.evaluate(() => {
    const out = {};
    for (const dd of document.querySelectorAll('[data-testid="my-stats"] dd[data-stat]')) {
      out[dd.dataset.stat] = dd.dataset.seconds !== undefined ? Number(dd.dataset.seconds) : dd.textContent;
    }
    out.pauses = Object.fromEntries(
      [...document.querySelectorAll('[data-testid="stat-pauses"] li')].map((li) => [li.dataset.reason, Number(li.dataset.seconds)]),
    );
    return out;
  });
}

test('My Stats add up a scripted shift to the second, and the status bar follows it', async () => {
  const page = await loggedIn(browser, server.url, 'stella', 'stella-pass');
  const started = Date.now();
  await openPhone(page, server.url, 'Stats');
  await waitStatus(page, 'Paused');
  // The status bar: the dial method, and the break indicator counting while paused.
  assert.equal(await page.textContent('[data-testid="dial-method"]'), 'Dial method: Auto dialer');
  await page.locator('[data-testid="state-timer"]', { hasText: /^On break 00:0[1-9]$/ }).waitFor({ timeout: 5_000 });

  await page.click('[data-testid="ready"]');
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  // The call's duration counts in the bar while the call lasts.
  await page.locator('[data-testid="call-duration"]', { hasText: /^Call 00:0[1-4]$/ }).waitFor({ timeout: 5_000 });
  // sipp hangs up after four and a half seconds: wrap-up, a sale, then a pause for Lunch.
  await page.locator('[data-testid="wrapup"]').waitFor({ timeout: 15_000 });
  assert.equal(await page.locator('[data-testid="call-duration"]').count(), 0, 'no call duration after the call');
  await page.locator('[data-testid="wrapup"] input[name="disposition"][value="SALE MADE"]').check();
  await page.selectOption('select[aria-label="Pause reason after submitting"]', 'Lunch');
  await page.click('[data-testid="submit-pause"]');
  await waitStatus(page, 'Paused: Lunch');
  const lunchFrom = Date.now();
  await page.locator('[data-testid="state-timer"]', { hasText: /^On break 00:0[2-9]$/ }).waitFor({ timeout: 10_000 });
  const lunchTo = Date.now();
  await page.click('[data-testid="phone-logout"]');
  await page.locator('[data-testid="phone-ended"]').waitFor();
  const ended = Date.now();

  // After the shift, before the next: My Stats on the campaign picker.
  await page.goto(`${server.url}/phone`);
  await hydrated(page);
  await page.click('[data-testid="my-stats-toggle"]');
  const f = await eventually(async () => {
    const f = await figures(page);
    return f.calls === '1' && f.last !== '—' ? f : null;
  }, 10_000, 'the shift in My Stats');

  // Fixed by the script.
  assert.equal(f.calls, '1', 'total calls');
  assert.equal(f.handled, '1', 'calls handled');
  assert.equal(f.conversion, '100 %', 'one sale of one handled call');
  // Connecting (sipp answers at once) and four and a half seconds of talk, rounded down (the
  // half second is the room the agent's connection may take after the answer).
  assert.equal(f.talk, 4, 'talk time');
  assert.deepEqual(Object.keys(f.pauses).sort(), ['Lunch', 'logged in']);
  assert.equal(f.break, f.pauses.Lunch, 'Lunch is a break, the login pause is not');
  assert.equal(f.login, f.available + f.talk + f.wrapup + f.pause, 'login time is the sum of the states');
  assert.ok(Math.abs(f.pause - (f.pauses.Lunch + f.pauses['logged in'])) <= 1, 'pause time is the sum of the reasons (each rounded down)');
  // Timing the browser and the test decide: bounded by the test's clock (whole seconds,
  // rounded down on the server, so up to one second under what the test measured).
  const seconds = (ms) => ms / 1000;
  assert.ok(f.pauses.Lunch >= Math.floor(seconds(lunchTo - lunchFrom)) - 1, `Lunch ${f.pauses.Lunch} s`);
  assert.ok(f.pauses.Lunch <= Math.ceil(seconds(ended - lunchFrom)) + 1, `Lunch ${f.pauses.Lunch} s`);
  assert.ok(f.login >= 4 + 2 && f.login <= Math.ceil(seconds(ended - started)) + 1, `login ${f.login} s`);
  assert.ok(f.wrapup <= Math.ceil(seconds(lunchFrom - started)), `wrap-up ${f.wrapup} s`);
  assert.match(f.first, /^\d\d:\d\d:\d\d$/);
  assert.match(f.last, /^\d\d:\d\d:\d\d$/);
  assert.ok(f.last >= f.first || f.first > '23:59:00', 'the last activity is the logout, after the login');
  await page.close();
});
