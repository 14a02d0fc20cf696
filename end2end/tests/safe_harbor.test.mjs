// A predictive campaign's safe harbor end to end: real Chromium with a fake microphone, sipp as
// the customers' carrier. The campaign dials for its one ready agent; before that customer
// answers, the agent starts a call by hand, so the answer finds nobody free. The call waits
// for an agent, then hears the campaign's safe-harbor message — proven at the carrier's side by
// the RTP packets it receives — and ends; the compliance report counts it as abandoned.
//
// The carrier's answer points its audio at a UDP socket of this test instead of sipp's own
// media port, so every packet the gateway sends the customer is seen here. The message is a
// square wave: its μ-law packets hold exactly two byte values, which neither silence nor the
// agent's tone (a sine) ever gives, so the message's packets are told apart from the agent's
// audio on the other call.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { hydrated } from '../lib/browser.mjs';
import {
  addAgent, addCampaign, addLeads, addTrunk, asAdmin, dispose, eventually, execute,
  launchWithMicrophone, loggedIn, openPhone, query, ringingUas, waitStatus,
} from '../lib/dialer.mjs';

/** How long the customers let the phone ring: time for the agent to dial by hand meanwhile. */
const RING_MS = 6_000;
/** The safe-harbor message's length, in 20 ms packets. */
const MESSAGE_PACKETS = 100;

let server;
let browser;
let carrier;
let dir;
let media;
/** RTP packets received, by kind: the message's, and all; when the message began (ms). */
const heard = { message: 0, all: 0, messageFrom: null };

/** 8 kHz mono 16-bit PCM: a 250 Hz square wave, `packets` × 20 ms long. */
function squareWav(path, packets) {
  const n = packets * 160;
  const data = Buffer.alloc(44 + n * 2);
  data.write('RIFF', 0);
  data.writeUInt32LE(36 + n * 2, 4);
  data.write('WAVEfmt ', 8);
  data.writeUInt32LE(16, 16);
  data.writeUInt16LE(1, 20);
  data.writeUInt16LE(1, 22);
  data.writeUInt32LE(8000, 24);
  data.writeUInt32LE(16_000, 28);
  data.writeUInt16LE(2, 32);
  data.writeUInt16LE(16, 34);
  data.write('data', 36);
  data.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) data.writeInt16LE(Math.floor(i / 16) % 2 ? -8000 : 8000, 44 + i * 2);
  writeFileSync(path, data);
}

/** Whether an RTP packet's payload is the message's: PCMU with exactly two sample values. */
function isMessage(packet) {
  if (packet.length < 12 + 160 || (packet[1] & 0x7f) !== 0) return false;
  const values = new Set(packet.subarray(12 + (packet[0] & 0x0f) * 4));
  return values.size === 2;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-safe-harbor-'));
  media = createSocket('udp4');
  media.on('message', (packet) => {
    heard.all += 1;
    if (isMessage(packet)) {
      heard.message += 1;
      heard.messageFrom ??= Date.now();
    }
  });
  await new Promise((ok) => media.bind(0, '127.0.0.1', ok));
  carrier = await ringingUas(RING_MS, dir, { audioTo: media.address().port });
  server = await startServer();
  browser = await launchWithMicrophone(join(dir, 'tone.wav'));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await carrier?.stop();
  media?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('an answer with no agent free hears the safe-harbor message and counts as abandoned', async () => {
  const message = join(dir, 'safe-harbor.wav');
  squareWav(message, MESSAGE_PACKETS);
  const admin = await asAdmin(browser, server.url);
  await addTrunk(admin, server.url, 'Carrier', carrier.port);
  await addAgent(admin, server.url, 'pia', 'pia-pass-123');
  // Forty live answers yesterday, none abandoned: 3 % of them allows one call at risk now.
  const yesterday = Date.now() - 86_400_000;
  const seed = (campaign) => {
    const rows = Array.from({ length: 40 }, (_, i) => `('seed-${i}', ${campaign}, '+12025550100', '+12025550100', ${yesterday}, ${yesterday + 5000}, ${yesterday + 60000}, 'answered')`);
    execute(server, `INSERT INTO call_attempts (call_ref, campaign_id, phone, caller_id, dialed_at, answered_at, ended_at, outcome) VALUES ${rows.join(', ')}`);
  };
  const overview = await addCampaign(admin, server.url, {
    name: 'Predict',
    kind: 'predictive',
    trunk: 'Carrier',
    agents: ['pia'],
    fields: { max_dial_level: 2, ring_seconds: 30, safe_harbor_file: message },
    beforeActive: seed,
  });
  const campaign = Number(overview.match(/(\d+)$/)[1]);
  await addLeads(admin, server.url, { leadset: 'Predict leads', campaign: 'Predict', rows: [['2025550191', 'NEW', 'Paula']] });

  const page = await loggedIn(browser, server.url, 'pia', 'pia-pass-123');
  await openPhone(page, server.url, 'Predict');
  await page.click('[data-testid="ready"]');
  const attempt = () => query(server, `SELECT * FROM call_attempts WHERE phone = '+12025550191'`)[0];
  await eventually(() => attempt(), 15_000, 'the campaign dials Paula for the ready agent');

  // While Paula's phone rings, the agent dials someone by hand: nobody is free when she answers.
  await page.fill('[data-testid="dial-number"]', '(202) 555-0192');
  await page.click('[data-testid="dial-call"]');
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });

  // Paula waited for an agent, heard the whole message, and the call ended.
  const dropped = await eventually(() => {
    const a = attempt();
    return a?.ended_at ? a : null;
  }, 30_000, 'the abandoned call ended');
  assert.equal(dropped.outcome, 'dropped', 'recorded as dropped');
  assert.ok(dropped.answered_at > 0, 'she answered');
  assert.equal(dropped.agent_id, null, 'no agent took her');
  assert.equal(dropped.caller_id, '+12025550100', "the campaign's caller ID");
  assert.ok(heard.message >= MESSAGE_PACKETS * 0.9, `the message reached the carrier (${heard.message} of ${MESSAGE_PACKETS} packets; ${heard.all} RTP packets in all)`);
  // (Same machine, same clock: the server stamped the answer, this test the first packet.)
  assert.ok(heard.messageFrom - dropped.answered_at >= 1_900, `held for an agent about 2 s first (${heard.messageFrom - dropped.answered_at} ms)`);
  const manual = query(server, `SELECT * FROM call_attempts WHERE phone = '+12025550192'`)[0];
  assert.ok(manual.answered_at > 0 && !manual.ended_at, "the agent's own call goes on");

  await page.click('[data-testid="hangup"]');
  await dispose(page, 'NOT INTERESTED');
  await waitStatus(page, 'Ready', 10_000);

  // The compliance report counts today's abandoned call.
  await admin.goto(`${server.url}/admin/compliance?campaign=${campaign}`);
  await hydrated(admin);
  const today = new Date().toISOString().slice(0, 10);
  const row = admin.locator(`[data-testid="compliance-days"] tr[data-day="${today}"]`);
  await row.waitFor();
  assert.equal(await row.locator('[data-stat="abandoned"]').textContent(), '1');
  assert.equal(await row.locator('[data-stat="answered"]').textContent(), '2', "Paula's and the agent's own call");
  assert.equal(await row.locator('[data-stat="outside_hours"]').textContent(), '0');
  assert.equal(await row.locator('[data-stat="without_caller_id"]').textContent(), '0');
  const total = admin.locator('[data-testid="compliance-days"] tr[data-row="total"]');
  assert.equal(await total.locator('[data-stat="abandoned"]').textContent(), '1');
  assert.equal(await total.locator('[data-stat="answered"]').textContent(), '42');
});
