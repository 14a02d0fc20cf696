// The agent's phone end to end: an admin sets up trunks, campaigns and leads in the admin
// pages; agents work calls in Chromium with a fake microphone (a tone); sipp is the
// customer's carrier (answering and echoing the audio, or refusing with 486). What was stored
// is read back from the server's database.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { hydrated, launch, logIn } from '../lib/browser.mjs';
import {
  addAgent, addCampaign, addLeads, addScript, addTrunk, asAdmin, dispose, echoUas, eventually,
  inboundAudio, launchWithMicrophone, loggedIn, openPhone, pickCampaign, query, refusingUas, status,
  waitStatus,
} from '../lib/dialer.mjs';

const GRACE_SECONDS = 4;

let server;
let browser;
let admin;
let echo;
let busy;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-phone-'));
  server = await startServer({ DIALER_PHONE_GRACE_SECONDS: String(GRACE_SECONDS) });
  echo = await echoUas();
  busy = await refusingUas(486, dir);
  browser = await launchWithMicrophone(join(dir, 'tone.wav'));
  admin = await asAdmin(browser, server.url);
  await addTrunk(admin, server.url, 'Echo', echo.port);
  await addTrunk(admin, server.url, 'Busy', busy.port);
  await addScript(admin, server.url, 'Greeting', 'Hello {first_name}, this is Acme calling.');
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await echo?.stop();
  await busy?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** An agent user, and a campaign of `kind` on `trunk` with leads, all made by the admin. */
async function campaign(name, { kind = 'auto', trunk = 'Echo', rows, fields } = {}) {
  const agent = `${name.toLowerCase().replaceAll(' ', '-')}-agent`;
  await addAgent(admin, server.url, agent, `${agent}-pass`);
  await addCampaign(admin, server.url, { name, kind, trunk, agents: [agent], script: 'Greeting', fields });
  await addLeads(admin, server.url, { leadset: `${name} leads`, campaign: name, rows });
  const page = await loggedIn(browser, server.url, agent, `${agent}-pass`);
  return { agent, page };
}

const attempts = (campaignName) =>
  query(server, `SELECT a.*, l.status AS lead_status, l.phone AS lead_phone FROM call_attempts a
    JOIN leads l ON l.id = a.lead_id JOIN campaigns c ON c.id = a.campaign_id
    WHERE c.name = '${campaignName}' ORDER BY a.id`);

test('auto campaign: calls are bridged with two-way audio, dispositions are stored, Submit & Pause stops calls', async () => {
  const { page } = await campaign('Spring', {
    rows: [['2025550101', 'NEW', 'Ada'], ['2025550102', 'NEW', 'Grace'], ['2025550103', 'NEW', 'Linus']],
  });
  await openPhone(page, server.url, 'Spring');
  assert.match(await status(page), /^Paused/, 'a shift starts paused');
  await page.click('[data-testid="ready"]');

  // The first lead is dialed, answered by sipp and bridged: the lead and the filled-in script.
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  assert.match(await page.textContent('[data-testid="lead-card"]'), /Ada/);
  assert.equal(await page.textContent('[data-testid="script"]'), 'Hello Ada, this is Acme calling.');
  // sipp echoes the tone the fake microphone sends: audio arrives, well above silence.
  const audio = await inboundAudio(page);
  assert.ok(audio.packets > 50, `packets arrive (${audio.packets})`);
  assert.ok(audio.level > 0.05, `the echoed tone is heard (audioLevel ${audio.level})`);

  // Hang up, submit a sale with a note.
  await page.click('[data-testid="hangup"]');
  await page.locator('[data-testid="wrapup-countdown"]').waitFor();
  await dispose(page, 'SALE MADE', 'Wants the yearly plan');

  // The second lead comes next.
  await eventually(async () => /Grace/.test((await page.textContent('[data-testid="lead-card"]').catch(() => '')) ?? ''), 30_000, 'second call');
  await page.click('[data-testid="hangup"]');
  await dispose(page, 'NOT INTERESTED', '', { pause: true });
  await waitStatus(page, 'Paused: Break');

  // What was stored: both attempts with their times, outcome, disposition and note.
  const rows = await eventually(() => {
    const r = attempts('Spring');
    return r.length === 2 && r.every((a) => a.disposition) ? r : null;
  }, 10_000, 'two disposed attempts');
  const [first, second] = rows;
  assert.equal(first.lead_phone, '+12025550101');
  assert.equal(first.outcome, 'answered');
  assert.equal(first.disposition, 'SALE MADE');
  assert.equal(first.notes, 'Wants the yearly plan');
  assert.equal(first.lead_status, 'SALE MADE');
  for (const t of ['dialed_at', 'answered_at', 'bridged_at', 'ended_at', 'disposed_at']) {
    assert.ok(first[t] > 0, `${t} is stored`);
  }
  assert.ok(first.dialed_at <= first.answered_at && first.answered_at <= first.ended_at, 'times in order');
  assert.equal(first.hangup_by, 'agent');
  assert.equal(second.lead_phone, '+12025550102');
  assert.equal(second.disposition, 'NOT INTERESTED');
  assert.equal(second.lead_status, 'NOT INTERESTED');

  // Submit & Pause: the third lead is not dialed.
  await new Promise((r) => setTimeout(r, 3_000));
  assert.equal(attempts('Spring').length, 2, 'no call after Submit & Pause');
  assert.match(await status(page), /^Paused: Break/);
});

test('preview campaign: the agent sees the lead first, calls it, hangs up and disposes', async () => {
  const { page } = await campaign('Preview', { kind: 'preview', rows: [['2025550111', 'NEW', 'Edsger']] });
  await openPhone(page, server.url, 'Preview');
  await page.click('[data-testid="ready"]');
  await page.click('[data-testid="next-lead"]');
  await page.locator('[data-testid="lead-card"]', { hasText: 'Edsger' }).waitFor();
  assert.equal(attempts('Preview').length, 0, 'nothing dialed before Call');
  await page.click('[data-testid="preview-call"]');
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  await page.click('[data-testid="hangup"]');
  await dispose(page, 'CALL TRANSFERRED', 'Preview note');
  const [a] = await eventually(() => {
    const r = attempts('Preview');
    return r.length === 1 && r[0].disposition ? r : null;
  }, 10_000, 'the preview call stored');
  assert.equal(a.outcome, 'answered');
  assert.equal(a.disposition, 'CALL TRANSFERRED');
  assert.equal(a.notes, 'Preview note');
});

test('a busy customer: the lead is recycled by the retry rule and the agent stays ready without a call', async () => {
  const { page } = await campaign('Busy line', { trunk: 'Busy', rows: [['2025550121', 'NEW', 'Barbara']] });
  await openPhone(page, server.url, 'Busy line');
  await page.click('[data-testid="ready"]');
  const [a] = await eventually(() => {
    const r = attempts('Busy line');
    return r.length === 1 && r[0].ended_at ? r : null;
  }, 20_000, 'the refused attempt');
  assert.equal(a.outcome, 'busy');
  assert.equal(a.sip_code, 486);
  const [lead] = query(server, "SELECT * FROM leads WHERE phone = '+12025550121'");
  assert.equal(lead.dial_state, 'ready', 'back in the pool');
  assert.equal(lead.attempts, 1);
  assert.ok(lead.next_attempt_at > a.ended_at + 60_000, 'for a later retry, by the busy rule');
  assert.equal(await status(page), 'Ready');
  assert.equal(await page.locator('[data-testid="live-call"]').count(), 0, 'the agent saw no call');
  assert.equal(await page.locator('[data-testid="wrapup"]').count(), 0, 'and has nothing to dispose');
});

test('wrap-up runs out: the agent is paused with "wrap-up timeout" and gets no more calls', async () => {
  const { page } = await campaign('Slow', {
    rows: [['2025550131', 'NEW', 'Alan'], ['2025550132', 'NEW', 'Joan']],
    fields: { wrapup_seconds: 5 },
  });
  await openPhone(page, server.url, 'Slow');
  await page.click('[data-testid="ready"]');
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  await page.click('[data-testid="hangup"]');
  await page.locator('[data-testid="wrapup-countdown"]').waitFor();
  await waitStatus(page, 'Paused: wrap-up timeout', 20_000);
  await new Promise((r) => setTimeout(r, 3_000));
  assert.equal(attempts('Slow').length, 1, 'the second lead is not dialed');
  // The disposition is still due and can be given; then the wrap-up closes.
  await dispose(page, 'SALE MADE');
  await eventually(() => attempts('Slow')[0].disposition === 'SALE MADE', 10_000, 'late disposition');
  await page.locator('[data-testid="wrapup"]').waitFor({ state: 'detached', timeout: 10_000 });
});

test('a disposition sent twice is stored once', async () => {
  const { page } = await campaign('Twice', { rows: [['2025550141', 'NEW', 'Ken']] });
  await openPhone(page, server.url, 'Twice');
  await page.click('[data-testid="ready"]');
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  await page.click('[data-testid="hangup"]');
  const wrapup = page.locator('[data-testid="wrapup"]');
  await wrapup.locator('input[name="disposition"][value="SALE MADE"]').check();
  // Two quick clicks, as an impatient agent does.
  await page.locator('[data-testid="submit"]').dblclick();
  await eventually(() => attempts('Twice')[0]?.disposition === 'SALE MADE', 10_000, 'disposition');
  await new Promise((r) => setTimeout(r, 1_000));
  const rows = attempts('Twice');
  assert.equal(rows.length, 1);
  assert.equal(rows[0].disposition, 'SALE MADE');
  assert.equal(rows[0].lead_status, 'SALE MADE');
  assert.equal(await page.locator('[data-testid="wrapup"]').count(), 0, 'the wrap-up closed once');
});

test('a dropped WebSocket mid-call keeps the call; the phone reconnects and carries on', async () => {
  const { page } = await campaign('Blip', { rows: [['2025550151', 'NEW', 'Barbara']] });
  // Keep a hand on the page's sockets, to drop them as a network blip would.
  await page.addInitScript(() => {
    const Native = window.WebSocket;
    window.__sockets = [];
    window.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        window.__sockets.push(this);
      }
    };
  });
  await openPhone(page, server.url, 'Blip');
  await page.click('[data-testid="ready"]');
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  const before = await page.evaluate(() => window.__sockets.length);
  await page.evaluate(() => window.__sockets.forEach((s) => s.close()));
  // A new socket is opened and the agent's state comes back: still on the call.
  await eventually(() => page.evaluate((n) => window.__sockets.length > n, before), 15_000, 'a new socket');
  await page.locator('[data-testid="link-state"]', { hasText: 'Online' }).waitFor({ timeout: 15_000 });
  await page.locator('[data-testid="live-call"]').waitFor();
  assert.equal(await status(page), 'In call');
  // (Sampled over a few seconds: a busy machine can delay a frame or two after the blip.)
  const audio = await inboundAudio(page, 3_000);
  assert.ok(audio.level > 0.05, 'the audio never stopped');
  await page.click('[data-testid="hangup"]');
  await dispose(page, 'SALE MADE');
  await eventually(() => attempts('Blip')[0]?.disposition === 'SALE MADE', 10_000, 'disposition after the blip');
});

test('a reload mid-call keeps the call: the audio leg comes back to the same call and audio flows again', async () => {
  const { page } = await campaign('Reload', { rows: [['2025550171', 'NEW', 'Edsger']] });
  await openPhone(page, server.url, 'Reload');
  await page.click('[data-testid="ready"]');
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  await page.reload();
  await hydrated(page);
  // The page is back on the call, with its lead, and a new audio leg joins it.
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 15_000 });
  assert.match(await page.textContent('[data-testid="lead-card"]'), /Edsger/);
  assert.equal(await status(page), 'In call');
  await page.locator('[data-testid="audio-state"]', { hasText: 'Audio connected' }).waitFor({ timeout: 30_000 });
  const first = await inboundAudio(page, 1_000);
  const later = await inboundAudio(page, 2_000);
  assert.ok(later.packets > first.packets + 20, `packets keep arriving (${first.packets} then ${later.packets})`);
  assert.ok(later.level > 0.05, `the echoed tone is heard again (audioLevel ${later.level})`);
  const [a] = attempts('Reload');
  assert.equal(a.ended_at, null, 'the call never ended');
  await page.click('[data-testid="hangup"]');
  await dispose(page, 'SALE MADE');
  await eventually(() => attempts('Reload')[0]?.disposition === 'SALE MADE', 10_000, 'disposition after the reload');
  assert.equal(attempts('Reload').length, 1, 'one call, never redialed');
});

test('a reload in wrap-up brings the form back with the notes typed so far; Submit records the disposition', async () => {
  const { page } = await campaign('Wrap reload', { rows: [['2025550181', 'NEW', 'Frances']] });
  await openPhone(page, server.url, 'Wrap reload');
  await page.click('[data-testid="ready"]');
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  await page.click('[data-testid="hangup"]');
  await page.locator('[data-testid="wrapup"]').waitFor();
  await page.fill('[data-testid="notes"]', 'Call her after lunch');
  // (As a person would: not within milliseconds of typing.)
  await new Promise((r) => setTimeout(r, 500));
  await page.reload();
  await hydrated(page);
  await page.locator('[data-testid="wrapup"]').waitFor({ timeout: 15_000 });
  assert.equal(await page.inputValue('[data-testid="notes"]'), 'Call her after lunch');
  assert.match(await page.textContent('[data-testid="lead-card"]'), /Frances/);
  assert.match(await page.textContent('[data-testid="wrapup-countdown"]'), /^\d\d:\d\d$/, 'the time left counts on');
  await dispose(page, 'SALE MADE');
  const [a] = await eventually(() => {
    const r = attempts('Wrap reload');
    return r[0]?.disposition ? r : null;
  }, 10_000, 'the disposition');
  assert.equal(a.disposition, 'SALE MADE');
  assert.equal(a.notes, 'Call her after lunch');
  await page.locator('[data-testid="wrapup"]').waitFor({ state: 'detached' });
});

/** The `data-testid` of the focused element (or its tag and name when it has none). */
const focused = (page) => page.evaluate(() => {
  const e = document.activeElement;
  return e?.dataset?.testid ?? `${e?.tagName?.toLowerCase()}[${e?.getAttribute('name') ?? ''}]`;
});

test('keyboard only: focus moves to what matters next and each change is announced', async () => {
  const { page } = await campaign('Keys', { rows: [['2025550191', 'NEW', 'Margaret']] });
  await openPhone(page, server.url, 'Keys');
  const announce = page.locator('[data-testid="phone-announce"]');
  // Paused at the start: Ready has the focus; Enter presses it.
  await eventually(async () => (await focused(page)) === 'ready', 10_000, 'focus on Ready');
  assert.match(await announce.textContent(), /^Paused/);
  await page.keyboard.press('Enter');
  // The call arrives: announced, and Hang up has the focus.
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  await eventually(async () => (await focused(page)) === 'hangup', 10_000, 'focus on Hang up');
  assert.equal(await announce.textContent(), 'Call connected: Margaret.');
  await page.keyboard.press('Enter');
  // Wrap-up: the first disposition has the focus (the first Tab does not skip them).
  await page.locator('[data-testid="wrapup"]').waitFor();
  await eventually(async () => (await focused(page)) === 'input[disposition]', 10_000, 'focus on the dispositions');
  assert.match(await announce.textContent(), /^Call with Margaret ended/);
  await page.keyboard.press('Space');
  const chosen = await page.locator('input[name="disposition"]:checked').getAttribute('value');
  assert.ok(chosen, 'Space chose a disposition');
  await page.keyboard.type('x');
  for (let i = 0; i < 12 && (await focused(page)) !== 'submit'; i++) await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'submit', 'Tab reaches Submit');
  await page.keyboard.press('Enter');
  // Ready again: Pause has the focus.
  await page.locator('[data-testid="wrapup"]').waitFor({ state: 'detached' });
  await eventually(async () => (await focused(page)) === 'pause', 10_000, 'focus on Pause');
  await eventually(() => attempts('Keys')[0]?.disposition === chosen, 10_000, 'the disposition chosen by keyboard');
});

test('a phone taken over by another tab says so, and its "Open the phone again" takes it back', async () => {
  const { page } = await campaign('Tabs', { rows: [['2025550195', 'NEW', 'Ida']] });
  await openPhone(page, server.url, 'Tabs');
  const other = await page.context().newPage();
  await other.goto(`${server.url}/phone`);
  await hydrated(other);
  // The second tab carries on in the same campaign; the first is told.
  await other.locator('[data-testid="audio-state"]', { hasText: 'Audio connected' }).waitFor({ timeout: 30_000 });
  await page.locator('[data-testid="phone-ended"]').waitFor({ timeout: 15_000 });
  assert.match(await page.textContent('[data-testid="phone-ended"]'), /another tab/);
  assert.notEqual(await page.textContent('[data-testid="audio-state"]'), 'Audio connected', 'no badge says connected');
  // Reopened here: this tab works again, the other one is told.
  await page.click('[data-testid="reopen-phone"]');
  await hydrated(page);
  await page.locator('[data-testid="audio-state"]', { hasText: 'Audio connected' }).waitFor({ timeout: 30_000 });
  await page.locator('[data-testid="link-state"]', { hasText: 'Online' }).waitFor();
  await other.locator('[data-testid="phone-ended"]').waitFor({ timeout: 15_000 });
  assert.match(await status(page), /^Paused/, 'still the same shift, still paused');
  await other.close();
});

test('closing the tab mid-call hangs up cleanly; the wrap-up waits for the next login', async () => {
  const { agent, page } = await campaign('Closed', { rows: [['2025550161', 'NEW', 'Niklaus']] });
  await openPhone(page, server.url, 'Closed');
  await page.click('[data-testid="ready"]');
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  await page.close();
  // Nobody is on the call any more: it ends cleanly (the audio leg does not come back).
  const [a] = await eventually(() => {
    const r = attempts('Closed');
    return r.length === 1 && r[0].ended_at ? r : null;
  }, (GRACE_SECONDS + 20) * 1000, 'the call ended');
  assert.equal(a.outcome, 'answered');
  // Past the grace period the agent is still logged in, paused, with the wrap-up due.
  await new Promise((r) => setTimeout(r, (GRACE_SECONDS + 2) * 1000));
  const session = () => query(server, `SELECT s.* FROM agent_sessions s JOIN users u ON u.id = s.agent_id WHERE u.username = '${agent}'`);
  assert.equal(session()[0].ended_at, null, 'kept logged in for the disposition');
  const back = await loggedIn(browser, server.url, agent, `${agent}-pass`);
  await back.goto(`${server.url}/phone`);
  await hydrated(back);
  await back.locator('[data-testid="wrapup"]').waitFor({ timeout: 15_000 });
  assert.match(await back.textContent('[data-testid="lead-card"]'), /Niklaus/);
  await dispose(back, 'SALE MADE');
  await eventually(() => attempts('Closed')[0]?.disposition === 'SALE MADE', 10_000, 'the disposition at the next login');
  await back.close();
});

test('the header\'s Log out on a call asks first; confirmed, the call ends and the wrap-up is there at the next login', async () => {
  const { agent, page } = await campaign('Leaving', { rows: [['2025550165', 'NEW', 'Tony']] });
  await openPhone(page, server.url, 'Leaving');
  await page.click('[data-testid="ready"]');
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  const logout = page.locator('.whoami button', { hasText: 'Log out' });
  // Declined: nothing happens, the call goes on.
  let asked = '';
  page.once('dialog', (d) => { asked = d.message(); d.dismiss(); });
  await logout.click();
  await eventually(() => asked, 5_000, 'a confirmation');
  assert.match(asked, /You are on a call/);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(new URL(page.url()).pathname, '/phone');
  assert.equal(await status(page), 'In call');
  // Confirmed: logged out of the site, the call ended at once.
  page.once('dialog', (d) => d.accept());
  await Promise.all([page.waitForURL(/\/login\?done=logout/), logout.click()]);
  const [a] = await eventually(() => {
    const r = attempts('Leaving');
    return r[0]?.ended_at ? r : null;
  }, 5_000, 'the call ended with the logout');
  assert.equal(a.outcome, 'answered');
  // The next login: the wrap-up is there.
  await logIn(page, agent, `${agent}-pass`);
  await page.goto(`${server.url}/phone`);
  await hydrated(page);
  await page.locator('[data-testid="wrapup"]').waitFor({ timeout: 15_000 });
  await dispose(page, 'SALE MADE', 'called back on her mobile');
  await eventually(() => attempts('Leaving')[0]?.disposition === 'SALE MADE', 10_000, 'the disposition');
});

test('a refused microphone is explained, and the agent is not put in the queue', async () => {
  // A microphone exists, but nobody allows it: headless Chromium refuses the prompt.
  const plain = await launch(['--use-fake-device-for-media-stream']);
  try {
    await addAgent(admin, server.url, 'nomic-agent', 'nomic-agent-pass');
    await addCampaign(admin, server.url, { name: 'No mic', kind: 'auto', trunk: 'Echo', agents: ['nomic-agent'] });
    const page = await (await plain.newContext()).newPage();
    await page.goto(`${server.url}/login`);
    await logIn(page, 'nomic-agent', 'nomic-agent-pass');
    await page.goto(`${server.url}/phone`);
    await hydrated(page);
    await pickCampaign(page, 'No mic');
    await page.click('[data-testid="confirm-campaign"]');
    await page.locator('[data-testid="mic-denied"]').waitFor({ timeout: 20_000 });
    assert.match(await page.textContent('[data-testid="mic-denied"]'), /microphone/i);
    assert.match(await status(page), /^Paused/);
  } finally {
    await plain.close();
  }
});
