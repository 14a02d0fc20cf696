// Transfers between agents, warm and blind: real Chromium for both agents (Ann's microphone a
// 440 Hz tone, Bob's 1000 Hz), sipp as the carrier. The customer's side of the call is this
// test: sipp's answer points the call's audio at a UDP socket here, which hears what the
// customer would (μ-law decoded, the two tones told apart by their frequency) and speaks for
// the customer (a 1800 Hz tone). What each browser hears comes from `getStats`.
//
// Warm: Ann talks to Bob first while the customer hears hold (neither agent); her page reloaded
// meanwhile comes back to the consultation; she cancels and is back with the customer; then talks to Bob again and completes: the customer hears Bob, Bob
// hears the customer and sees the lead, Ann is free with nothing to dispose. Blind: the next
// call goes straight to Bob. A department (an outside number): the carrier is asked to take
// the third customer there (sipp accepts the REFER and ends the call), and Ann disposes of
// it. All are recorded with the calls.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { loudest, share, toUlaw, ulaw } from '../lib/audio.mjs';
import { hydrated } from '../lib/browser.mjs';
import {
  addAgent, addCampaign, addLeads, addTrunk, asAdmin, dispose, eventually, holdingUas,
  launchWithMicrophone, loggedIn, openPhone, query, waitStatus,
} from '../lib/dialer.mjs';

const ANN_HZ = 440;
const BOB_HZ = 1000;
const CUSTOMER_HZ = 1800;
/** Inbound audio levels (`getStats` audioLevel, 0–1) above which a voice is heard. */
const HEARD = 0.01;

let server;
let carrier;
let annBrowser;
let bobBrowser;
let dir;

/** The customer: what reaches them (as samples) and their voice, a tone. */
const customer = { socket: null, samples: [], peer: null, seq: 0, timer: null };

/** What the customer hears over the next `ms`: the share of each agent's tone. */
async function customerHears(ms = 1_500) {
  customer.samples = [];
  await new Promise((r) => setTimeout(r, ms));
  const s = customer.samples;
  return { ann: share(s, ANN_HZ), bob: share(s, BOB_HZ), samples: s.length };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-transfer-'));
  customer.socket = createSocket('udp4');
  customer.socket.on('message', (packet, from) => {
    // Each call has its own media port: the customer answers the one that speaks now.
    customer.peer = from;
    if ((packet[1] & 0x7f) !== 0) return;
    for (const b of packet.subarray(12 + (packet[0] & 0x0f) * 4)) customer.samples.push(ulaw(b));
  });
  await new Promise((ok) => customer.socket.bind(0, '127.0.0.1', ok));
  // The customer's voice, 20 ms at a time, once the gateway's audio shows where to send it.
  customer.timer = setInterval(() => {
    if (!customer.peer) return;
    const p = Buffer.alloc(12 + 160);
    p[0] = 0x80;
    p.writeUInt16BE(customer.seq & 0xffff, 2);
    p.writeUInt32BE((customer.seq * 160) >>> 0, 4);
    p.writeUInt32BE(0x5eed, 8);
    for (let i = 0; i < 160; i += 1) {
      const t = (customer.seq * 160 + i) / 8000;
      p[12 + i] = toUlaw(Math.round(8000 * Math.sin(2 * Math.PI * CUSTOMER_HZ * t)));
    }
    customer.seq += 1;
    customer.socket.send(p, customer.peer.port, customer.peer.address);
  }, 20);
  carrier = await holdingUas(dir, { audioTo: customer.socket.address().port });
  server = await startServer();
  annBrowser = await launchWithMicrophone(join(dir, 'ann.wav'), ANN_HZ);
  bobBrowser = await launchWithMicrophone(join(dir, 'bob.wav'), BOB_HZ);
});

after(async () => {
  await annBrowser?.close();
  await bobBrowser?.close();
  await server?.stop();
  await carrier?.stop();
  clearInterval(customer.timer);
  customer.socket?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Opens the Transfer panel on `page` and presses `button` on `colleague`'s row. */
async function transferTo(page, colleague, button) {
  await page.click('[data-testid="transfer-open"]');
  const row = page.locator(`[data-testid="colleague"][data-name="${colleague}"]`);
  await row.waitFor({ timeout: 10_000 });
  await row.locator(`[data-testid="${button}"]`).click();
}

test('warm transfer (cancelled, then completed) and blind transfer between two agents', async () => {
  const admin = await asAdmin(annBrowser, server.url);
  await addTrunk(admin, server.url, 'Carrier', carrier.port);
  await addAgent(admin, server.url, 'ann', 'ann-pass-123');
  await addAgent(admin, server.url, 'bob', 'bob-pass-123');
  await addCampaign(admin, server.url, {
    name: 'Handover', kind: 'auto', trunk: 'Carrier', agents: ['ann', 'bob'],
    fields: { departments: 'Loans: +1 202 555 0199' },
  });
  await addLeads(admin, server.url, { leadset: 'First', campaign: 'Handover', rows: [['2025550141', 'NEW', 'Cleo']] });

  const ann = await loggedIn(annBrowser, server.url, 'ann', 'ann-pass-123');
  await openPhone(ann, server.url, 'Handover');
  await ann.click('[data-testid="ready"]');
  await ann.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  await eventually(async () => (await customerHears(1_000)).ann > 0.5, 15_000, 'the customer hears Ann');

  const bob = await loggedIn(bobBrowser, server.url, 'bob', 'bob-pass-123');
  await openPhone(bob, server.url, 'Handover');
  await bob.click('[data-testid="ready"]');
  await waitStatus(bob, 'Ready');

  // Warm: Ann talks to Bob first; the customer is held and hears neither of them.
  await transferTo(ann, 'bob', 'transfer-warm');
  await ann.locator('[data-testid="consulting"]', { hasText: 'bob' }).waitFor({ timeout: 10_000 });
  const offered = bob.locator('[data-testid="transfer-offered"]');
  await offered.waitFor({ timeout: 10_000 });
  assert.match(await offered.textContent(), /ann/);
  assert.match(await offered.textContent(), /Cleo/, 'Bob sees the lead');
  await eventually(async () => (await loudest(bob, '__dialerPeer', 1_000)) > HEARD, 15_000, 'Bob hears Ann');
  const held = await eventually(async () => {
    const h = await customerHears(1_000);
    return h.ann < 0.05 && h.bob < 0.05 ? h : null;
  }, 15_000, 'the customer hears neither agent while held');
  assert.ok(held.samples > 0, 'the customer hears the hold sound meanwhile');

  // Ann reloads her page mid-consultation: it comes back talking to Bob, the customer held.
  await ann.reload();
  await hydrated(ann);
  await ann.locator('[data-testid="consulting"]', { hasText: 'bob' }).waitFor({ timeout: 20_000 });
  await ann.locator('[data-testid="audio-state"]', { hasText: 'Audio connected' }).waitFor({ timeout: 30_000 });

  // Cancel: Ann is back with the customer; Bob is free.
  await ann.click('[data-testid="transfer-cancel"]');
  await offered.waitFor({ state: 'detached', timeout: 10_000 });
  await waitStatus(bob, 'Ready', 10_000);
  await eventually(async () => (await customerHears(1_000)).ann > 0.3, 15_000, 'the customer hears Ann again');

  // Talk first again, then complete: the call is Bob's.
  await transferTo(ann, 'bob', 'transfer-warm');
  await ann.locator('[data-testid="consulting"]').waitFor({ timeout: 10_000 });
  await offered.waitFor({ timeout: 10_000 });
  await ann.click('[data-testid="transfer-complete"]');
  await bob.locator('[data-testid="live-call"]').waitFor({ timeout: 15_000 });
  assert.match(await bob.textContent('[data-testid="lead-card"]'), /Cleo/);
  await ann.locator('[data-testid="live-call"]').waitFor({ state: 'detached', timeout: 10_000 });
  assert.match(await ann.textContent('[data-testid="phone-notice"]'), /with bob now/);
  await waitStatus(ann, 'Ready', 10_000);
  const heard = await eventually(async () => {
    const h = await customerHears(1_000);
    return h.bob > 0.5 ? h : null;
  }, 15_000, 'the customer hears Bob');
  assert.ok(heard.ann < 0.05, `and no longer Ann (${JSON.stringify(heard)})`);
  assert.ok((await loudest(bob)) > HEARD, 'Bob hears the customer');

  await bob.click('[data-testid="hangup"]');
  await dispose(bob, 'SALE MADE', 'Took over from Ann');
  await waitStatus(bob, 'Ready', 10_000);

  // Blind: the next call (Ann has waited longest) goes straight to Bob.
  await addLeads(admin, server.url, { leadset: 'Second', campaign: 'Handover', rows: [['2025550142', 'NEW', 'Dora']] });
  await ann.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  assert.match(await ann.textContent('[data-testid="lead-card"]'), /Dora/);
  // Ann had muted herself: mute belongs to her, not to the call Bob takes.
  await ann.click('[data-testid="mute"]');
  await eventually(async () => (await customerHears(1_000)).ann < 0.05, 10_000, 'Ann muted');
  await transferTo(ann, 'bob', 'transfer-blind');
  await bob.locator('[data-testid="live-call"]').waitFor({ timeout: 15_000 });
  assert.match(await bob.textContent('[data-testid="lead-card"]'), /Dora/);
  await eventually(async () => (await customerHears(1_000)).bob > 0.5, 15_000, 'the second customer hears Bob');
  await waitStatus(ann, 'Ready', 10_000);
  await bob.click('[data-testid="hangup"]');
  await dispose(bob, 'NOT INTERESTED');

  await waitStatus(bob, 'Ready', 10_000);

  // A department: the carrier takes the third customer to the Loans number and ends the call.
  await addLeads(admin, server.url, { leadset: 'Third', campaign: 'Handover', rows: [['2025550143', 'NEW', 'Eve']] });
  await ann.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  assert.match(await ann.textContent('[data-testid="lead-card"]'), /Eve/);
  await ann.click('[data-testid="transfer-open"]');
  await ann.click('[data-testid="transfer-department"][data-name="Loans"]');
  await ann.locator('[data-testid="wrapup"]').waitFor({ timeout: 15_000 });
  assert.match(await ann.textContent('[data-testid="phone-notice"]'), /transferred to Loans \(\+12025550199\)/);
  await dispose(ann, 'NOT INTERESTED', 'Sent to Loans');

  // What was stored: each call with the agent who had it last and their disposition; the
  // transfers on record.
  const rows = await eventually(() => {
    const r = query(server, `SELECT l.first_name, u.username, a.disposition, a.notes FROM call_attempts a
      JOIN leads l ON l.id = a.lead_id JOIN users u ON u.id = a.agent_id ORDER BY a.id`);
    return r.length === 3 && r.every((a) => a.disposition) ? r : null;
  }, 10_000, 'three disposed calls');
  assert.deepEqual(rows.map((r) => [r.first_name, r.username, r.disposition]), [
    ['Cleo', 'bob', 'SALE MADE'],
    ['Dora', 'bob', 'NOT INTERESTED'],
    ['Eve', 'ann', 'NOT INTERESTED'],
  ]);
  const transfers = query(server, `SELECT f.username AS from_agent, t.username AS to_agent, x.to_number, x.warm, x.completed
    FROM call_transfers x JOIN users f ON f.id = x.from_agent LEFT JOIN users t ON t.id = x.to_agent ORDER BY x.id`);
  assert.deepEqual(transfers.map((t) => [t.from_agent, t.to_agent ?? t.to_number, t.warm, t.completed]), [
    ['ann', 'bob', 1, 0],
    ['ann', 'bob', 1, 1],
    ['ann', 'bob', 0, 1],
    ['ann', '+12025550199', 0, 1],
  ]);
});
