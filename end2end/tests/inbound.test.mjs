// Inbound calls: an admin sets up a queue on its page; sipp is the customer's carrier calling
// the queue's number (its media goes to a UDP socket of this test: what the caller hears, and
// their voice, a 1800 Hz tone). With both agents paused the caller waits, hearing the hold
// tone; Ann gets ready and takes the call — the caller hears her, she hears the caller
// (getStats on her page). Then Bob gets ready before Ann is free again: the next caller goes
// to Bob, who has waited longest, and Ann stays ready. A waiting caller shows in the agents'
// Call Queue and on the floor. Then nobody is logged in: the queue
// sends callers to its voicemail — the caller hears the greeting (a 600 Hz tone here) and
// speaks; Ann finds the message under Voicemails, plays it and marks it done. Last, blending:
// Ann on a campaign that dials leads, with a caller waiting in its queue, gets the caller
// before the dialer places any outbound call for her, then the outbound calls. And on a
// call: Cy, talking to a customer she dialled, takes a waiting caller on a second line from
// her Call Queue — her customer is held, the caller hears her — hangs up on the caller and
// goes back to her customer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { freeUdpPort, toneWav } from '../lib/gateway.mjs';
import { loudest, share, toUlaw, ulaw } from '../lib/audio.mjs';
import { hydrated } from '../lib/browser.mjs';
import {
  addAgent, addCampaign, addLeads, addTrunk, asAdmin, dispose, echoUas, eventually, holdingUas,
  launchWithMicrophone, loggedIn, openPhone, query, waitStatus,
} from '../lib/dialer.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const ANN_HZ = 440;
const BOB_HZ = 1000;
const CALLER_HZ = 1800;
/** The hold tone the gateway plays when a queue has no music file. */
const HOLD_HZ = 425;
const HEARD = 0.01;
/** The voicemail greeting's tone. */
const GREETING_HZ = 600;

let server;
let sipPort;
let carrierPort;
let annBrowser;
let outbound;
/** The carrier of the customers an agent calls and then puts on hold. */
let holding;
let bobBrowser;
let dir;
const callers = [];
/** The agents' phone pages of the first test. */
const phones = {};

/** The caller's side: what reaches them (as samples) and their voice. */
const caller = { socket: null, samples: [], packets: 0, peer: null, seq: 0, timer: null };

async function callerHears(ms = 1_500) {
  caller.samples = [];
  await new Promise((r) => setTimeout(r, ms));
  const s = caller.samples;
  // The hold tone sounds 0.4 s in every 3 s: judged from its first sound to its last (a window
  // shorter than 3 s holds one burst at most, so its phase runs on).
  const sound = s.slice(s.findIndex((x) => x !== 0), s.findLastIndex((x) => x !== 0) + 1);
  return {
    hold: share(sound, HOLD_HZ), ann: share(s, ANN_HZ), bob: share(s, BOB_HZ), greeting: share(s, GREETING_HZ),
    samples: s.length,
  };
}

/** sipp calling `number` from the carrier's address, staying on the line `ms`. */
function callIn(ms = 60_000, number = '2025550150') {
  const scenario = readFileSync(join(ROOT, 'end2end', 'sipp', 'inbound_call.xml'), 'utf8')
    .replaceAll('m=audio [media_port]', `m=audio ${caller.socket.address().port}`);
  const file = join(dir, `inbound_call_${callers.length}.xml`);
  writeFileSync(file, scenario);
  const child = spawn('sipp', [
    '-sf', file, `127.0.0.1:${sipPort}`, '-s', number, '-key', 'caller', '+12025550111',
    '-d', String(ms), '-i', '127.0.0.1', '-p', String(carrierPort), '-m', '1', '-timeout', '120s', '-nostdin',
  ], { stdio: 'ignore' });
  callers.push(child);
  return child;
}

/** A queue made on its page: its name, one number, and the campaign whose agents take it. */
async function addQueue(admin, name, number, campaign) {
  await admin.goto(`${server.url}/admin/queues`);
  await hydrated(admin);
  const form = admin.locator('[data-testid="queue-form"]');
  await form.locator('input[name="name"]').fill(name);
  await form.locator('textarea[name="numbers"]').fill(number);
  await form.locator(`[data-testid="queue-campaign"][data-name="${campaign}"]`).check();
  await form.locator('button[type="submit"]').click();
  await admin.locator(`tr[data-queue="${name}"]`).waitFor();
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-inbound-'));
  caller.socket = createSocket('udp4');
  caller.socket.on('message', (packet, from) => {
    caller.peer = from;
    if ((packet[1] & 0x7f) !== 0) return;
    caller.packets += 1;
    for (const b of packet.subarray(12 + (packet[0] & 0x0f) * 4)) caller.samples.push(ulaw(b));
  });
  await new Promise((ok) => caller.socket.bind(0, '127.0.0.1', ok));
  caller.timer = setInterval(() => {
    if (!caller.peer) return;
    const p = Buffer.alloc(12 + 160);
    p[0] = 0x80;
    p.writeUInt16BE(caller.seq & 0xffff, 2);
    p.writeUInt32BE((caller.seq * 160) >>> 0, 4);
    p.writeUInt32BE(0xca11, 8);
    for (let i = 0; i < 160; i += 1) {
      const t = (caller.seq * 160 + i) / 8000;
      p[12 + i] = toUlaw(Math.round(8000 * Math.sin(2 * Math.PI * CALLER_HZ * t)));
    }
    caller.seq += 1;
    caller.socket.send(p, caller.peer.port, caller.peer.address);
  }, 20);
  sipPort = await freeUdpPort();
  carrierPort = await freeUdpPort();
  server = await startServer({ DIALER_SIP_LISTEN: `127.0.0.1:${sipPort}` });
  annBrowser = await launchWithMicrophone(join(dir, 'ann.wav'), ANN_HZ);
  bobBrowser = await launchWithMicrophone(join(dir, 'bob.wav'), BOB_HZ);
});

after(async () => {
  for (const c of callers) if (c.exitCode === null) c.kill('SIGKILL');
  await outbound?.stop();
  await holding?.stop();
  await annBrowser?.close();
  await bobBrowser?.close();
  await server?.stop();
  clearInterval(caller.timer);
  caller.socket?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a caller waits with the hold tone, then reaches the agent ready longest, with audio both ways', async () => {
  const admin = await asAdmin(annBrowser, server.url);
  await addTrunk(admin, server.url, 'Carrier', carrierPort);
  await addAgent(admin, server.url, 'ann', 'ann-pass-123');
  await addAgent(admin, server.url, 'bob', 'bob-pass-123');
  // No leads: its agents take only the calls that come in.
  await addCampaign(admin, server.url, { name: 'Help desk', kind: 'auto', trunk: 'Carrier', agents: ['ann', 'bob'] });

  // The queue, set up on its page (a bad number first: refused, nothing saved).
  await admin.goto(`${server.url}/admin/queues`);
  await hydrated(admin);
  const form = admin.locator('[data-testid="queue-form"]');
  await form.locator('input[name="name"]').fill('Help');
  await form.locator('textarea[name="numbers"]').fill('call us');
  await form.locator('[data-testid="queue-campaign"][data-name="Help desk"]').check();
  await form.locator('input[name="max_wait_seconds"]').fill('120');
  await form.locator('button[type="submit"]').click();
  await admin.locator('[data-testid="queue-error"]', { hasText: 'Line 1' }).waitFor();
  await form.locator('textarea[name="numbers"]').fill('+1 (202) 555-0150');
  await form.locator('button[type="submit"]').click();
  await admin.locator('tr[data-queue="Help"]').waitFor();
  assert.match(await admin.locator('tr[data-queue="Help"]').textContent(), /\+12025550150.*Help desk/);

  const ann = await loggedIn(annBrowser, server.url, 'ann', 'ann-pass-123');
  await openPhone(ann, server.url, 'Help desk');
  const bob = await loggedIn(bobBrowser, server.url, 'bob', 'bob-pass-123');
  await openPhone(bob, server.url, 'Help desk');
  Object.assign(phones, { ann, bob });

  // Both paused (as after login): the caller waits, hearing the hold tone.
  callIn();
  await eventually(async () => (await callerHears(1_200)).hold > 0.5, 20_000, 'the caller hears the hold tone');
  assert.equal(await ann.locator('[data-testid="live-call"]').count(), 0);
  // Ann's Call Queue and the supervisors' floor show who waits.
  await ann.locator('[data-testid="call-queue-row"]', { hasText: '+12025550111' }).waitFor({ timeout: 10_000 });
  await admin.goto(`${server.url}/admin/floor`);
  await admin.locator('[data-testid="floor-waiting-row"]', { hasText: '+12025550111' }).waitFor({ timeout: 10_000 });

  // Ann gets ready: the call is hers; each hears the other.
  await ann.click('[data-testid="ready"]');
  await ann.locator('[data-testid="live-call"]').waitFor({ timeout: 15_000 });
  assert.match(await ann.locator('[data-testid="lead-card"]').textContent(), /\+12025550111|202.*555.*0111/);
  await eventually(async () => (await callerHears(1_000)).ann > 0.5, 15_000, 'the caller hears Ann');
  await eventually(async () => (await loudest(ann, '__dialerPeer', 1_000)) > HEARD, 15_000, 'Ann hears the caller');
  await admin.locator('[data-testid="floor-waiting-none"]').waitFor({ timeout: 10_000 });

  // Bob gets ready while Ann talks; Ann hangs up, disposes and is ready again after him.
  await bob.click('[data-testid="ready"]');
  await waitStatus(bob, 'Ready');
  await ann.click('[data-testid="hangup"]');
  await dispose(ann, 'SALE MADE', 'called in');
  await waitStatus(ann, 'Ready');
  await eventually(() => callers[0].exitCode !== null, 15_000, 'the first caller hung up');

  // The next caller goes to Bob, ready the longest.
  callIn();
  await bob.locator('[data-testid="live-call"]').waitFor({ timeout: 20_000 });
  await eventually(async () => (await callerHears(1_000)).bob > 0.5, 15_000, 'the caller hears Bob');
  assert.equal(await ann.locator('[data-testid="live-call"]').count(), 0, 'Ann is still waiting');
  await waitStatus(ann, 'Ready');

  const rows = query(server, "SELECT a.inbound, u.username, a.disposition FROM call_attempts a JOIN users u ON u.id = a.agent_id ORDER BY a.id");
  assert.deepEqual(rows.map((r) => [r.inbound, r.username, r.disposition]), [[1, 'ann', 'SALE MADE'], [1, 'bob', null]]);
});

test('nobody logged in: the caller leaves a voicemail, which an agent of the queue plays and marks done', async () => {
  // The gateway plays 8 kHz mono 16-bit PCM.
  const greeting = join(dir, 'greeting.wav');
  toneWav(greeting, 1.5, GREETING_HZ, 8_000);
  const admin = await asAdmin(annBrowser, server.url);
  await admin.goto(`${server.url}/admin/queues`);
  await hydrated(admin);
  await admin.locator('tr[data-queue="Help"] [data-testid="queue-edit"]').click();
  const form = admin.locator('[data-testid="queue-form"]');
  await form.locator('[data-testid="queue-overflow-choice"]').selectOption('voicemail');
  // Voicemail without its greeting: refused, nothing saved.
  await form.locator('button[type="submit"]').click();
  await admin.locator('[data-testid="queue-error"]', { hasText: 'greeting' }).waitFor();
  await form.locator('[data-testid="queue-greeting"]').fill(greeting);
  await form.locator('button[type="submit"]').click();
  await admin.locator('[data-testid="queue-saved"]').waitFor();
  await eventually(async () => /voicemail/.test(await admin.locator('tr[data-queue="Help"] [data-testid="queue-overflow"]').textContent()), 5_000, 'the list says voicemail');

  // Everyone logs out of the campaign (Bob hangs up his caller first).
  await phones.bob.click('[data-testid="hangup"]');
  await dispose(phones.bob, 'SALE MADE', 'called in');
  for (const page of [phones.ann, phones.bob]) {
    page.once('dialog', (d) => d.accept());
    await page.click('[data-testid="phone-logout"]');
  }
  await eventually(() => callers.every((c) => c.exitCode !== null), 15_000, 'the callers hung up');

  // The caller hears the greeting, then speaks (the 1800 Hz voice) for a few seconds.
  const started = Date.now();
  const voicemail = callIn(6_000);
  await eventually(async () => (await callerHears(600)).greeting > 0.5, 10_000, 'the caller hears the greeting');
  await eventually(() => voicemail.exitCode !== null, 20_000, 'the caller hung up after the message');
  const called = (Date.now() - started) / 1000;
  assert.equal(voicemail.exitCode, 0, 'the call was answered and ended cleanly');

  const stored = () => query(server, "SELECT v.attempt_id, v.queue_id, v.handled_by, a.inbound, a.recording_state, a.agent_id FROM voicemails v JOIN call_attempts a ON a.id = v.attempt_id");
  await eventually(() => stored()[0]?.recording_state === 'done', 10_000, 'the message is stored whole');
  const [row] = stored();
  assert.deepEqual([row.inbound, row.recording_state, row.agent_id, row.handled_by], [1, 'done', null, null]);

  // Ann logs in to the campaign again and finds it under Voicemails, plays it, marks it done.
  const ann = await loggedIn(annBrowser, server.url, 'ann', 'ann-pass-123');
  await openPhone(ann, server.url, 'Help desk');
  const item = ann.locator(`[data-testid="voicemail-row"][data-attempt="${row.attempt_id}"]`);
  await item.waitFor({ timeout: 10_000 });
  assert.match(await item.locator('[data-testid="voicemail-from"]').textContent(), /\+12025550111/);
  const duration = await item.locator('[data-testid="voicemail-player"]').evaluate((audio) => new Promise((resolve, reject) => {
    if (audio.readyState >= 1) resolve(audio.duration);
    audio.addEventListener('loadedmetadata', () => resolve(audio.duration));
    audio.addEventListener('error', () => reject(new Error(`audio error ${audio.error?.code}`)));
  }));
  // The message: after the 1.5 s greeting, until the caller hung up 6 s after the answer.
  assert.ok(duration > 3 && duration < called, `message ${duration} s in a call of ${called} s`);
  await item.locator('[data-testid="voicemail-done"]').click();
  await eventually(async () => /ann/.test(await item.locator('[data-testid="voicemail-handled"]').textContent().catch(() => '')), 10_000, 'marked done by Ann');
  assert.equal(query(server, 'SELECT handled_by FROM voicemails')[0].handled_by !== null, true);
  ann.once('dialog', (d) => d.accept());
  await ann.click('[data-testid="phone-logout"]');
});

test('blending: a caller waiting in the queue reaches the agent before any outbound call', async () => {
  outbound = await echoUas();
  const admin = await asAdmin(annBrowser, server.url);
  await addTrunk(admin, server.url, 'Outbound', outbound.port);
  await addCampaign(admin, server.url, { name: 'Blend', kind: 'auto', trunk: 'Outbound', agents: ['ann'] });
  await addLeads(admin, server.url, {
    leadset: 'Blend leads', campaign: 'Blend', rows: [['+12025550181', 'NEW', 'Lee'], ['+12025550182', 'NEW', 'Max']],
  });
  await addQueue(admin, 'Blend in', '+1 202 555 0151', 'Blend');

  // Ann logs in to Blend, paused: nothing is dialled; a customer calls and waits.
  const ann = await loggedIn(annBrowser, server.url, 'ann', 'ann-pass-123');
  await openPhone(ann, server.url, 'Blend');
  callIn(60_000, '2025550151');
  await eventually(async () => (await callerHears(1_200)).hold > 0.5, 20_000, 'the caller waits with the hold tone');
  await ann.locator('[data-testid="call-queue-row"]', { hasText: '+12025550111' }).waitFor({ timeout: 10_000 });

  // Ready: the caller first, and no outbound call placed for her meanwhile.
  await ann.click('[data-testid="ready"]');
  await ann.locator('[data-testid="live-call"]').waitFor({ timeout: 15_000 });
  assert.match(await ann.locator('[data-testid="lead-card"]').textContent(), /\+12025550111|202.*555.*0111/);
  const placed = () => query(server, "SELECT a.phone FROM call_attempts a JOIN campaigns c ON c.id = a.campaign_id WHERE NOT a.inbound AND c.name = 'Blend'");
  assert.deepEqual(placed(), [], 'no outbound call before the waiting caller');
  await eventually(async () => (await callerHears(1_000)).ann > 0.5, 15_000, 'the caller hears Ann');

  // Then the dialer calls the campaign's leads for her.
  await ann.click('[data-testid="hangup"]');
  await dispose(ann, 'SALE MADE', 'called in');
  await ann.locator('[data-testid="live-call"]').waitFor({ timeout: 20_000 });
  assert.match(await ann.locator('[data-testid="lead-card"]').textContent(), /Lee|Max/);
  assert.equal(placed().length >= 1, true);
  await ann.click('[data-testid="hangup"]');
  await dispose(ann, 'SALE MADE', 'outbound', { pause: true });
});

test('on a call, an agent takes a waiting caller on a second line from her Call Queue', async () => {
  holding = await holdingUas(dir);
  const admin = await asAdmin(annBrowser, server.url);
  await addTrunk(admin, server.url, 'Second lines', holding.port);
  await addAgent(admin, server.url, 'cy', 'cy-pass-1234');
  await addCampaign(admin, server.url, { name: 'Desk', kind: 'auto', trunk: 'Second lines', agents: ['cy'] });
  await addQueue(admin, 'Desk in', '+1 202 555 0152', 'Desk');

  // Cy calls a customer from the dial pad and talks.
  const cy = await loggedIn(annBrowser, server.url, 'cy', 'cy-pass-1234');
  await openPhone(cy, server.url, 'Desk');
  await waitStatus(cy, 'Paused');
  await cy.fill('[data-testid="dial-number"]', '2025550177');
  await cy.click('[data-testid="dial-call"]');
  await cy.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });

  // A caller waits (hearing the hold tone): Take, in her Call Queue, puts them on a new line.
  callIn(60_000, '2025550152');
  await eventually(async () => (await callerHears(1_200)).hold > 0.5, 20_000, 'the caller waits with the hold tone');
  const row = cy.locator('[data-testid="call-queue-row"]', { hasText: '+12025550111' });
  await row.waitFor({ timeout: 10_000 });
  await row.locator('[data-testid="call-queue-take"]').click();
  await cy.locator('[data-testid="lead-card"]', { hasText: '0111' }).waitFor({ timeout: 15_000 });
  const states = () => cy.locator('[data-testid="line"]').evaluateAll((rows) => rows.map((r) => r.dataset.state));
  await eventually(async () => JSON.stringify(await states()) === '["held","talking"]', 15_000, 'the customer held, the caller talking');
  await eventually(async () => (await callerHears(1_000)).ann > 0.5, 15_000, 'the caller hears Cy');
  await eventually(async () => (await loudest(cy, '__dialerPeer', 1_000)) > HEARD, 15_000, 'Cy hears the caller');
  await cy.locator('[data-testid="call-queue-row"]').waitFor({ state: 'detached', timeout: 10_000 });

  // She hangs up on the caller and goes back to her customer, who was on hold.
  await cy.click('[data-testid="hangup"]');
  await eventually(async () => JSON.stringify(await states()) === '["held","ended"]', 15_000, 'the caller gone');
  await cy.click('[data-testid="line-switch"]');
  await eventually(async () => JSON.stringify(await states()) === '["talking","ended"]', 15_000, 'back to the customer');
  await eventually(async () => (await loudest(cy, '__dialerPeer', 1_000)) > HEARD, 15_000, 'Cy hears her customer again');

  // Both calls are disposed of, the last to end first; the taken call is Cy's inbound call.
  await cy.click('[data-testid="hangup"]');
  await dispose(cy, 'SALE MADE', 'the customer I called');
  await cy.locator('[data-testid="wrapup"]').waitFor();
  await dispose(cy, 'NOT INTERESTED', 'the caller I took', { pause: true });
  const rows = await eventually(() => {
    const r = query(server, "SELECT a.inbound, a.disposition FROM call_attempts a JOIN users u ON u.id = a.agent_id WHERE u.username = 'cy' ORDER BY a.id");
    return r.length === 2 && r.every((a) => a.disposition) ? r : null;
  }, 10_000, "both of Cy's calls stored with their dispositions");
  assert.deepEqual(rows.map((r) => [r.inbound, r.disposition]), [[0, 'SALE MADE'], [1, 'NOT INTERESTED']]);
});
