// Call lines end to end: real Chromium (the agent's microphone a 440 Hz tone), sipp as the
// carrier answering both customers and accepting the dialer's re-INVITEs (hold and resume).
// sipp's answers point each call's audio at a UDP socket of this test, so what each customer
// hears is measured here, told apart by the gateway port it comes from; each customer says
// back what they hear, so the agent's browser hears the line it is on.
//
// Lina dials Ann, then — from the keyboard — holds her and calls Ben on a second line: Ann
// hears the hold sound, not Lina; Ben hears Lina. A third line is refused (the campaign's two
// lines are in use) with nothing dialled. She switches back to Ann (Ann hears her again, Ben
// is held), hangs up Ben's held line, finishes with Ann, and disposes of both calls one after
// the other; both are stored with their dispositions and Lina is back on her pause.
//
// Jo joins her two lines: the customers stop echoing and speak tones of their own, so each
// one's voice is told apart where the other hears it. Held, Cyd hears neither Jo nor Dee;
// joined (J), Cyd hears Jo and Dee, Dee hears Jo and Cyd, and Jo hears them. Cyd hangs up:
// Jo talks on with Dee, and disposes of both.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { share, toUlaw, ulaw } from '../lib/audio.mjs';
import { check } from '../lib/axe.mjs';
import {
  addAgent, addCampaign, addLeads, addTrunk, asAdmin, dispose, eventually, holdingUas,
  inboundAudio, launchWithMicrophone, loggedIn, openPhone, query, waitStatus,
} from '../lib/dialer.mjs';

const LINA_HZ = 440;

let server;
let carrier;
let browser;
let dir;

/**
 * What reaches the customers: samples by the gateway port each call's audio comes from. Each
 * customer echoes what they hear, or (`voices`: gateway port → Hz) speaks a tone of their own.
 */
const customers = { socket: null, byPort: new Map(), order: [], echo: true, voices: new Map(), seq: 0, timer: null };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-lines-'));
  customers.socket = createSocket('udp4');
  customers.socket.on('message', (packet, from) => {
    // Each customer says back what they hear (an echo), so the agent hears the line they are on.
    if (customers.echo) customers.socket.send(packet, from.port, from.address);
    if ((packet[1] & 0x7f) !== 0) return;
    if (!customers.byPort.has(from.port)) {
      customers.byPort.set(from.port, []);
      customers.order.push(from.port);
    }
    const samples = customers.byPort.get(from.port);
    for (const b of packet.subarray(12 + (packet[0] & 0x0f) * 4)) samples.push(ulaw(b));
  });
  await new Promise((ok) => customers.socket.bind(0, '127.0.0.1', ok));
  // The customers' own voices, 20 ms at a time.
  customers.timer = setInterval(() => {
    const seq = customers.seq;
    customers.seq += 1;
    for (const [port, hz] of customers.voices) {
      const p = Buffer.alloc(12 + 160);
      p[0] = 0x80;
      p.writeUInt16BE(seq & 0xffff, 2);
      p.writeUInt32BE((seq * 160) >>> 0, 4);
      p.writeUInt32BE(port, 8);
      for (let i = 0; i < 160; i += 1) {
        // As loud as the agent's voice reaches them (the browser evens out her microphone).
        p[12 + i] = toUlaw(Math.round(1500 * Math.sin((2 * Math.PI * hz * (seq * 160 + i)) / 8000)));
      }
      customers.socket.send(p, port, '127.0.0.1');
    }
  }, 20);
  carrier = await holdingUas(dir, { audioTo: customers.socket.address().port });
  server = await startServer();
  browser = await launchWithMicrophone(join(dir, 'lina.wav'), LINA_HZ);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await carrier?.stop();
  clearInterval(customers.timer);
  customers.socket?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The gateway port the `n`-th call's audio (0: the first call's) comes from. */
const portOf = (n) => eventually(() => customers.order[n], 10_000, `audio of call ${n + 1}`);

/** How much of each tone in `hzs` the `n`-th customer hears over `ms`. */
async function hears(n, hzs, ms = 1_500) {
  const port = await portOf(n);
  customers.byPort.set(port, []);
  await new Promise((r) => setTimeout(r, ms));
  const samples = customers.byPort.get(port);
  return { ...Object.fromEntries(hzs.map((hz) => [hz, share(samples, hz)])), samples: samples.length };
}

/** How much of Lina's tone the `n`-th customer hears over `ms`. */
async function hearsLina(n, ms = 1_500) {
  const heard = await hears(n, [LINA_HZ], ms);
  return { share: heard[LINA_HZ], samples: heard.samples };
}

const attempts = () => query(server, `SELECT a.id, a.outcome, a.disposition, a.agent_id,
  l.first_name, l.status AS lead_status FROM call_attempts a JOIN leads l ON l.id = a.lead_id
  ORDER BY a.id`);

/** The phone's lines as shown: "Ann:held", "Ben:talking". */
const lines = (page) => page.locator('[data-testid="line"]').evaluateAll((rows) =>
  rows.map((r) => `${r.querySelector('[data-testid="line-who"]').textContent}:${r.dataset.state}`));

async function linesAre(page, expected) {
  await eventually(async () => JSON.stringify(await lines(page)) === JSON.stringify(expected),
    15_000, `lines ${JSON.stringify(expected)} (shown: ${JSON.stringify(await lines(page))})`);
}

async function talkingTo(page, name) {
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  await page.locator('[data-testid="lead-card"]', { hasText: name }).waitFor({ timeout: 15_000 });
}

test('an agent holds a customer, calls a second one, switches back, hangs up either and disposes of both', async () => {
  const admin = await asAdmin(browser, server.url);
  await addTrunk(admin, server.url, 'Carrier', carrier.port);
  await addAgent(admin, server.url, 'lina', 'lina-pass-123');
  await addCampaign(admin, server.url, { name: 'Lines', kind: 'auto', trunk: 'Carrier', agents: ['lina'] });
  await addLeads(admin, server.url, {
    leadset: 'Lines leads', campaign: 'Lines',
    rows: [['2025550181', 'NEW', 'Ann'], ['2025550182', 'NEW', 'Ben'], ['2025550183', 'NEW', 'Cyd']],
  });

  const page = await loggedIn(browser, server.url, 'lina', 'lina-pass-123');
  await openPhone(page, server.url, 'Lines');
  await waitStatus(page, 'Paused');

  // Line 1: Ann, from the dial pad.
  await page.fill('[data-testid="dial-number"]', '(202) 555-0181');
  await page.click('[data-testid="dial-call"]');
  await talkingTo(page, 'Ann');
  assert.equal(await page.locator('[data-testid="lines"]').count(), 0, 'one call: no lines panel');
  const first = await hearsLina(0);
  assert.ok(first.share > 0.5, `Ann hears Lina (${JSON.stringify(first)})`);

  // Line 2, from the keyboard: A opens it; Ann goes on hold while Ben is called.
  await page.locator('body').click({ position: { x: 1, y: 1 } });
  await page.keyboard.press('a');
  await page.fill('[data-testid="new-line-number"]', '202 555 0182');
  await page.click('[data-testid="new-line-call"]');
  await talkingTo(page, 'Ben');
  await linesAre(page, ['Ann:held', 'Ben:talking']);
  const held = await hearsLina(0);
  assert.ok(held.samples > 4000, `Ann's line carries audio (the hold sound): ${JSON.stringify(held)}`);
  assert.ok(held.share < 0.2, `Ann on hold does not hear Lina (${JSON.stringify(held)})`);
  const second = await hearsLina(1);
  assert.ok(second.share > 0.5, `Ben hears Lina (${JSON.stringify(second)})`);
  const onTwo = await inboundAudio(page);
  assert.ok(onTwo.level > 0.01, `Lina hears Ben (${JSON.stringify(onTwo)})`);

  // A third line is past the campaign's limit of two: refused, nothing dialled.
  await page.click('[data-testid="new-line-open"]');
  await page.fill('[data-testid="new-line-number"]', '2025550183');
  await page.click('[data-testid="new-line-call"]');
  await page.locator('[data-testid="phone-notice"]', { hasText: 'All your lines are in use (2)' })
    .waitFor({ timeout: 10_000 });
  assert.equal(attempts().length, 2, 'no third call');
  await check(page, 'the phone with two lines');

  // Back to Ann with W: she hears Lina again, Ben is held.
  await page.locator('body').click({ position: { x: 1, y: 1 } });
  await page.keyboard.press('w');
  await talkingTo(page, 'Ann');
  await linesAre(page, ['Ann:talking', 'Ben:held']);
  const back = await hearsLina(0);
  assert.ok(back.share > 0.5, `Ann hears Lina again (${JSON.stringify(back)})`);
  const annAgain = await inboundAudio(page);
  assert.ok(annAgain.level > 0.01, `Lina hears Ann again (${JSON.stringify(annAgain)})`);
  const benHeld = await hearsLina(1);
  assert.ok(benHeld.share < 0.2, `Ben on hold does not hear Lina (${JSON.stringify(benHeld)})`);
  const timers = await page.locator('[data-testid="line-timer"]').allTextContents();
  assert.equal(timers.length, 2, 'each line has its own timer');

  // Ben's held line hung up: its disposition waits while Lina talks to Ann.
  await page.click('[data-testid="line-hangup"]');
  await linesAre(page, ['Ann:talking', 'Ben:ended']);
  await waitStatus(page, 'In call');

  // Ann's call ends: her disposition, then Ben's.
  await page.click('[data-testid="hangup"]');
  await page.locator('[data-testid="lead-card"]', { hasText: 'Ann' }).waitFor();
  await dispose(page, 'SALE MADE', 'Ann bought');
  await page.locator('[data-testid="lead-card"]', { hasText: 'Ben' }).waitFor({ timeout: 10_000 });
  await page.locator('[data-testid="wrapup"]').waitFor();
  await dispose(page, 'NOT INTERESTED', 'Ben, on the second line');
  await waitStatus(page, 'Paused', 10_000);
  assert.equal(await page.locator('[data-testid="lines"]').count(), 0, 'back to one line');

  const rows = await eventually(() => {
    const r = attempts();
    return r.length === 2 && r.every((a) => a.disposition) ? r : null;
  }, 10_000, 'both calls stored with their dispositions');
  assert.deepEqual(rows.map((a) => [a.first_name, a.outcome, a.disposition, a.lead_status]), [
    ['Ann', 'answered', 'SALE MADE', 'SALE MADE'],
    ['Ben', 'answered', 'NOT INTERESTED', 'NOT INTERESTED'],
  ]);
});

test('an agent joins her two lines: both customers and she hear each other, and either can go', async () => {
  const CYD_HZ = 700;
  const DEE_HZ = 1100;
  const admin = await asAdmin(browser, server.url);
  await addTrunk(admin, server.url, 'Carrier two', carrier.port);
  await addAgent(admin, server.url, 'jo', 'jo-pass-1234');
  await addCampaign(admin, server.url, { name: 'Joins', kind: 'auto', trunk: 'Carrier two', agents: ['jo'] });
  await addLeads(admin, server.url, {
    leadset: 'Join leads', campaign: 'Joins',
    rows: [['2025550191', 'NEW', 'Cyd'], ['2025550192', 'NEW', 'Dee']],
  });
  const before = customers.order.length;
  customers.echo = false;

  const page = await loggedIn(browser, server.url, 'jo', 'jo-pass-1234');
  await openPhone(page, server.url, 'Joins');
  await waitStatus(page, 'Paused');
  await page.fill('[data-testid="dial-number"]', '2025550191');
  await page.click('[data-testid="dial-call"]');
  await talkingTo(page, 'Cyd');
  customers.voices.set(await portOf(before), CYD_HZ);
  await page.click('[data-testid="new-line-open"]');
  await page.fill('[data-testid="new-line-number"]', '2025550192');
  await page.click('[data-testid="new-line-call"]');
  await talkingTo(page, 'Dee');
  await linesAre(page, ['Cyd:held', 'Dee:talking']);
  customers.voices.set(await portOf(before + 1), DEE_HZ);

  const held = await hears(before, [LINA_HZ, DEE_HZ]);
  assert.ok(held.samples > 4000 && held[LINA_HZ] < 0.2 && held[DEE_HZ] < 0.1,
    `Cyd on hold hears neither Jo nor Dee: ${JSON.stringify(held)}`);

  // J joins Cyd to the call with Dee.
  await page.locator('body').click({ position: { x: 1, y: 1 } });
  await page.keyboard.press('j');
  await linesAre(page, ['Cyd:joined', 'Dee:talking']);
  const cyd = await hears(before, [LINA_HZ, DEE_HZ]);
  assert.ok(cyd[LINA_HZ] > 0.1 && cyd[DEE_HZ] > 0.1, `Cyd hears Jo and Dee: ${JSON.stringify(cyd)}`);
  const dee = await hears(before + 1, [LINA_HZ, CYD_HZ]);
  assert.ok(dee[LINA_HZ] > 0.1 && dee[CYD_HZ] > 0.1, `Dee hears Jo and Cyd: ${JSON.stringify(dee)}`);
  const jo = await inboundAudio(page);
  assert.ok(jo.level > 0.01, `Jo hears them (${JSON.stringify(jo)})`);
  assert.equal(await page.locator('[data-testid="line-switch"]').count(), 0, 'no switching while joined');
  await check(page, 'the phone with joined lines');

  // Dee (the call talked on) hangs up from here: Jo talks on with Cyd, who hears her alone.
  customers.voices.delete(await portOf(before + 1));
  await page.click('[data-testid="hangup"]');
  await talkingTo(page, 'Cyd');
  await linesAre(page, ['Cyd:talking', 'Dee:ended']);
  const alone = await hears(before, [LINA_HZ, DEE_HZ]);
  assert.ok(alone[LINA_HZ] > 0.5 && alone[DEE_HZ] < 0.05, `Cyd hears Jo only: ${JSON.stringify(alone)}`);
  const cydOnly = await inboundAudio(page);
  assert.ok(cydOnly.level > 0.01, `Jo hears Cyd (${JSON.stringify(cydOnly)})`);

  await page.click('[data-testid="hangup"]');
  await page.locator('[data-testid="lead-card"]', { hasText: 'Cyd' }).waitFor();
  await dispose(page, 'SALE MADE', 'Cyd, joined with Dee');
  await page.locator('[data-testid="lead-card"]', { hasText: 'Dee' }).waitFor({ timeout: 10_000 });
  await dispose(page, 'NOT INTERESTED', 'Dee, joined with Cyd');
  await waitStatus(page, 'Paused', 10_000);
  const rows = await eventually(() => {
    const r = attempts().filter((a) => ['Cyd', 'Dee'].includes(a.first_name));
    return r.length === 2 && r.every((a) => a.disposition) ? r : null;
  }, 10_000, 'both joined calls stored with their dispositions');
  assert.deepEqual(rows.map((a) => [a.first_name, a.outcome, a.disposition]), [
    ['Cyd', 'answered', 'SALE MADE'],
    ['Dee', 'answered', 'NOT INTERESTED'],
  ]);
});
