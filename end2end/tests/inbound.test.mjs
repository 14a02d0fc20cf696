// Inbound calls: an admin sets up a queue on its page; sipp is the customer's carrier calling
// the queue's number (its media goes to a UDP socket of this test: what the caller hears, and
// their voice, a 1800 Hz tone). With both agents paused the caller waits, hearing the hold
// tone; Ann gets ready and takes the call — the caller hears her, she hears the caller
// (getStats on her page). Then Bob gets ready before Ann is free again: the next caller goes
// to Bob, who has waited longest, and Ann stays ready.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { freeUdpPort } from '../lib/gateway.mjs';
import { loudest, share, toUlaw, ulaw } from '../lib/audio.mjs';
import { hydrated } from '../lib/browser.mjs';
import {
  addAgent, addCampaign, addTrunk, asAdmin, dispose, eventually, launchWithMicrophone, loggedIn,
  openPhone, query, waitStatus,
} from '../lib/dialer.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const ANN_HZ = 440;
const BOB_HZ = 1000;
const CALLER_HZ = 1800;
/** The hold tone the gateway plays when a queue has no music file. */
const HOLD_HZ = 425;
const HEARD = 0.01;

let server;
let sipPort;
let carrierPort;
let annBrowser;
let bobBrowser;
let dir;
const callers = [];

/** The caller's side: what reaches them (as samples) and their voice. */
const caller = { socket: null, samples: [], packets: 0, peer: null, seq: 0, timer: null };

async function callerHears(ms = 1_500) {
  caller.samples = [];
  await new Promise((r) => setTimeout(r, ms));
  const s = caller.samples;
  // The hold tone sounds 0.4 s in every 3 s: judged from its first sound to its last (a window
  // shorter than 3 s holds one burst at most, so its phase runs on).
  const sound = s.slice(s.findIndex((x) => x !== 0), s.findLastIndex((x) => x !== 0) + 1);
  return { hold: share(sound, HOLD_HZ), ann: share(s, ANN_HZ), bob: share(s, BOB_HZ), samples: s.length };
}

/** sipp calling the queue's number from the carrier's address, staying on the line 60 s. */
function callIn() {
  const scenario = readFileSync(join(ROOT, 'end2end', 'sipp', 'inbound_call.xml'), 'utf8')
    .replaceAll('m=audio [media_port]', `m=audio ${caller.socket.address().port}`);
  const file = join(dir, `inbound_call_${callers.length}.xml`);
  writeFileSync(file, scenario);
  const child = spawn('sipp', [
    '-sf', file, `127.0.0.1:${sipPort}`, '-s', '2025550150', '-key', 'caller', '+12025550111',
    '-d', '60000', '-i', '127.0.0.1', '-p', String(carrierPort), '-m', '1', '-timeout', '120s', '-nostdin',
  ], { stdio: 'ignore' });
  callers.push(child);
  return child;
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

  // Both paused (as after login): the caller waits, hearing the hold tone.
  callIn();
  await eventually(async () => (await callerHears(1_200)).hold > 0.5, 20_000, 'the caller hears the hold tone');
  assert.equal(await ann.locator('[data-testid="live-call"]').count(), 0);

  // Ann gets ready: the call is hers; each hears the other.
  await ann.click('[data-testid="ready"]');
  await ann.locator('[data-testid="live-call"]').waitFor({ timeout: 15_000 });
  assert.match(await ann.locator('[data-testid="lead-card"]').textContent(), /\+12025550111|202.*555.*0111/);
  await eventually(async () => (await callerHears(1_000)).ann > 0.5, 15_000, 'the caller hears Ann');
  await eventually(async () => (await loudest(ann, '__dialerPeer', 1_000)) > HEARD, 15_000, 'Ann hears the caller');

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
