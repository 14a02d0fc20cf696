// The agent phone's dial pad, phonebook and callbacks end to end: real Chromium with a fake
// microphone (a tone), sipp as the customer's carrier (answering and echoing audio). A manual
// call is typed, placed with two-way audio and disposed; do-not-call and unparseable numbers
// are refused with a message and nothing dialled; a shared phonebook entry calls with one
// click; a callback scheduled from a disposition is listed and delivered to its own agent
// when due.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { hydrated } from '../lib/browser.mjs';
import {
  addAgent, addCampaign, addLeads, addScript, addTrunk, asAdmin, dispose, echoUas, eventually,
  inboundAudio, launchWithMicrophone, loggedIn, openPhone, query, waitStatus,
} from '../lib/dialer.mjs';

let server;
let browser;
let admin;
let echo;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-dialpad-'));
  server = await startServer({});
  echo = await echoUas();
  browser = await launchWithMicrophone(join(dir, 'tone.wav'));
  admin = await asAdmin(browser, server.url);
  await addTrunk(admin, server.url, 'Echo', echo.port);
  await addScript(admin, server.url, 'Greeting', 'Hello {first_name}, this is Acme calling.');
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await echo?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const attempts = (campaignName) =>
  query(server, `SELECT a.*, l.status AS lead_status, l.phone AS lead_phone, l.first_name,
    u.username FROM call_attempts a JOIN leads l ON l.id = a.lead_id
    JOIN campaigns c ON c.id = a.campaign_id LEFT JOIN users u ON u.id = a.agent_id
    WHERE c.name = '${campaignName}' ORDER BY a.id`);

async function dial(page, number) {
  await page.fill('[data-testid="dial-number"]', number);
  await page.click('[data-testid="dial-call"]');
}

/** Waits for the call screen; says what the phone showed instead when it does not come. */
async function connected(page) {
  try {
    await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  } catch (e) {
    const seen = async (id) => (await page.locator(`[data-testid="${id}"]`).allTextContents()).join(' | ');
    throw new Error(`no call: status "${await seen('agent-status')}", notice "${await seen('phone-notice')}", `
      + `dial pad "${await seen('dialpad')}", attempts ${JSON.stringify(query(server, 'SELECT phone, outcome, sip_code, sip_reason FROM call_attempts'))}`);
  }
}

async function notice(page, pattern) {
  const n = page.locator('[data-testid="phone-notice"]', { hasText: pattern });
  await n.waitFor({ timeout: 10_000 });
  return n.textContent();
}

test('manual call from the dial pad: refusals first, then a call with two-way audio, disposed; a phonebook entry calls with one click', async () => {
  await addAgent(admin, server.url, 'dee', 'dee-pass-12');
  // Calls only from the dial pad: the campaign's own lead is not dialled while the agent is paused.
  await addCampaign(admin, server.url, { name: 'Dialpad', kind: 'auto', trunk: 'Echo', agents: ['dee'], script: 'Greeting' });
  await addLeads(admin, server.url, { leadset: 'Dialpad leads', campaign: 'Dialpad', rows: [['2025550161', 'NEW', 'Mary']] });
  // A number on the do-not-call list, through the admin page.
  await admin.goto(`${server.url}/admin/dnc`);
  await hydrated(admin);
  await admin.fill('[data-testid="add-dnc"] textarea[name="numbers"]', '2025550166');
  await admin.click('[data-testid="add-dnc"] button[type="submit"]');
  await admin.locator('[data-testid="dnc-report"]').waitFor();
  // A shared phonebook entry, through the admin page.
  await admin.goto(`${server.url}/admin/phonebook`);
  await hydrated(admin);
  const form = admin.locator('[data-testid="add-shared-entry"]');
  await form.locator('input[name="name"]').fill('Loans desk');
  await form.locator('input[name="phone"]').fill('202-555-0162');
  await form.locator('button[type="submit"]').click();
  await admin.locator('[data-testid="shared-phonebook"]', { hasText: '+12025550162' }).waitFor();

  const page = await loggedIn(browser, server.url, 'dee', 'dee-pass-12');
  await openPhone(page, server.url, 'Dialpad');
  await waitStatus(page, 'Paused');

  // Refused with a message, nothing dialled.
  await dial(page, 'call me maybe');
  assert.match(await notice(page, 'Cannot call'), /Not a phone number/);
  await dial(page, '(202) 555-0166');
  assert.match(await notice(page, 'do-not-call'), /\+12025550166/);
  await dial(page, '');
  await notice(page, 'empty');
  assert.equal(attempts('Dialpad').length, 0, 'nothing dialled');

  // A number typed as people write it: the campaign's own lead, with two-way audio.
  await dial(page, '(202) 555-0161');
  await connected(page);
  assert.match(await page.textContent('[data-testid="lead-card"]'), /Mary/);
  const audio = await inboundAudio(page);
  assert.ok(audio.packets > 50, `packets arrive (${audio.packets})`);
  // Silence reads 0; the echo, evened out by the browser, was seen as low as 0.048 under load.
  assert.ok(audio.level > 0.02, `the echoed tone is heard (audioLevel ${audio.level})`);
  await page.click('[data-testid="hangup"]');
  await dispose(page, 'SALE MADE', 'Dialled by hand');
  await waitStatus(page, 'Paused', 10_000);
  const [a] = await eventually(() => {
    const r = attempts('Dialpad');
    return r.length === 1 && r[0].disposition ? r : null;
  }, 10_000, 'the manual call stored');
  assert.equal(a.lead_phone, '+12025550161');
  assert.equal(a.first_name, 'Mary', 'linked to the campaign\'s lead');
  assert.equal(a.username, 'dee');
  assert.equal(a.outcome, 'answered');
  assert.equal(a.disposition, 'SALE MADE');
  assert.equal(a.notes, 'Dialled by hand');
  assert.equal(a.lead_status, 'SALE MADE');

  // The shared phonebook entry: one click calls it; a number the campaign did not have.
  await page.locator('[data-testid="phonebook"] button', { hasText: 'Loans desk' }).click();
  await connected(page);
  await page.click('[data-testid="hangup"]');
  await dispose(page, 'NOT INTERESTED');
  const rows = await eventually(() => {
    const r = attempts('Dialpad');
    return r.length === 2 && r[1].disposition ? r : null;
  }, 10_000, 'the phonebook call stored');
  assert.equal(rows[1].lead_phone, '+12025550162');
  assert.equal(rows[1].username, 'dee');
  assert.equal(rows[1].lead_status, 'NOT INTERESTED');
  assert.match(await page.textContent('[data-testid="agent-status"]'), /^Paused/, 'still paused after manual calls');
});

/** `ms` from now as a `datetime-local` value in the browser's zone, to the second. */
const localInput = (page, ms) => page.evaluate((ms) => {
  const d = new Date(Date.now() + ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}, ms);

test('a callback scheduled from a disposition is listed and delivered to its own agent when due', async () => {
  await addAgent(admin, server.url, 'cara', 'cara-pass-12');
  await addAgent(admin, server.url, 'otto', 'otto-pass-12');
  await addCampaign(admin, server.url, { name: 'Callbacks', kind: 'auto', trunk: 'Echo', agents: ['cara', 'otto'], script: 'Greeting' });
  await addLeads(admin, server.url, { leadset: 'Callback leads', campaign: 'Callbacks', rows: [['2025550171', 'NEW', 'Rosa']] });
  // Cara works from India (UTC+5:30): her callbacks read in her time, as she types them.
  const cara = await loggedIn(browser, server.url, 'cara', 'cara-pass-12', { timezoneId: 'Asia/Kolkata' });
  await openPhone(cara, server.url, 'Callbacks');
  await cara.click('[data-testid="ready"]');
  await cara.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  await cara.click('[data-testid="hangup"]');
  const wrapup = cara.locator('[data-testid="wrapup"]');
  await wrapup.locator('input[name="disposition"][value="CALL BACK"]').check();
  // A few seconds ahead; "only I take this callback" is ticked by default.
  const typed = await localInput(cara, 8_000);
  await cara.fill('[data-testid="callback-at"]', typed);
  await cara.fill('[data-testid="notes"]', 'Call after lunch');
  await cara.click('[data-testid="submit-pause"]');
  await waitStatus(cara, 'Paused', 10_000);

  // Listed on her phone: lead, number, note, hers.
  // (Refresh, as the agent would, should the list have been read just before it was stored.)
  const row = cara.locator('[data-testid="callback-row"]', { hasText: 'Rosa' });
  await eventually(async () => {
    if (await row.count()) return true;
    await cara.click('[data-testid="callbacks-refresh"]');
    return false;
  }, 10_000, 'the callback listed');
  const text = await row.textContent();
  assert.match(text, /\+12025550171/);
  assert.match(text, /Call after lunch/);
  assert.match(text, /me/);
  assert.equal(await row.locator('[data-testid="callback-due"]').textContent(), typed.slice(0, 16).replace('T', ' '), 'in her own time');

  // Another agent of the campaign is ready and has waited longer: the callback is still Cara's.
  const otto = await loggedIn(browser, server.url, 'otto', 'otto-pass-12');
  await openPhone(otto, server.url, 'Callbacks');
  await otto.click('[data-testid="ready"]');
  await waitStatus(otto, 'Ready');
  await cara.click('[data-testid="ready"]');
  await cara.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  assert.match(await cara.textContent('[data-testid="lead-card"]'), /Rosa/);
  assert.equal(await otto.locator('[data-testid="live-call"]').count(), 0, 'not to the other agent');
  const rows = await eventually(() => {
    const r = attempts('Callbacks');
    return r.length === 2 ? r : null;
  }, 10_000, 'the callback call stored');
  assert.equal(rows[1].username, 'cara');
  const [cb] = query(server, 'SELECT due_at, done_at, agent_id FROM callbacks');
  assert.ok(rows[1].dialed_at >= cb.due_at, 'dialled when due, not before');
  assert.ok(cb.done_at > 0, 'the callback is done');
  await cara.click('[data-testid="hangup"]');
  await dispose(cara, 'SALE MADE', '', { pause: true });
});
