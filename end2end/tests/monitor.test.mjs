// A supervisor listens to, whispers to and barges in on an agent's call from the floor: real
// Chromium for both (the agent's microphone a 440 Hz tone, the supervisor's 1000 Hz), sipp as
// the carrier. The customer's side of the call is this test: sipp's answer points the call's
// audio at a UDP socket here, which hears what the customer would (μ-law decoded, the two
// tones told apart by their frequency) and sends the customer's own audio back — silence, so
// whatever the agent hears beyond it is the supervisor. What each browser hears comes from
// its peer connection's statistics (`getStats`).
//
// Listen: the supervisor hears the call; neither the agent nor the customer hears them.
// Whisper: the agent hears the supervisor; the customer does not. Barge: both do. A second
// supervisor listens to the same call meanwhile. When the call ends their panels say so.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { loudest, share, ulaw } from '../lib/audio.mjs';
import { hydrated } from '../lib/browser.mjs';
import {
  addAgent, addCampaign, addLeads, addTrunk, addUser, asAdmin, dispose, eventually,
  launchWithMicrophone, loggedIn, openPhone, ringingUas, waitStatus,
} from '../lib/dialer.mjs';

const AGENT_HZ = 440;
const SUPERVISOR_HZ = 1000;
/** Inbound audio levels (`getStats` audioLevel, 0–1): a tone heard through the gateway's mix
 * reads about 0.04; the customer's silence alone, 0. */
const HEARD = 0.01;
const SILENT = 0.003;

let server;
let carrier;
let agentBrowser;
let supervisorBrowser;
let dir;

/** The customer: what reaches them (the last second, as samples) and their silent voice. */
const customer = {
  socket: null,
  samples: [],
  peer: null,
  seq: 0,
  timer: null,
};

/** What the customer hears over the next `ms`: the share of each tone. */
async function customerHears(ms = 1_500) {
  customer.samples = [];
  await new Promise((r) => setTimeout(r, ms));
  const s = customer.samples;
  return { agent: share(s, AGENT_HZ), supervisor: share(s, SUPERVISOR_HZ), samples: s.length };
}

/** Waits for the supervisor's panel to read `text`; says what the page said instead. */
async function panelSays(sup, text) {
  try {
    await sup.locator('[data-testid="monitor-state"]', { hasText: text }).waitFor({ timeout: 20_000 });
  } catch (e) {
    const said = (await sup.locator('[data-testid="monitor-note"], [data-testid="monitor-panel"]').allTextContents()).join(' | ');
    throw new Error(`the panel did not say "${text}": ${said || '(nothing)'}`);
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-monitor-'));
  customer.socket = createSocket('udp4');
  customer.socket.on('message', (packet, from) => {
    customer.peer ??= from;
    if ((packet[1] & 0x7f) !== 0) return;
    for (const b of packet.subarray(12 + (packet[0] & 0x0f) * 4)) customer.samples.push(ulaw(b));
  });
  await new Promise((ok) => customer.socket.bind(0, '127.0.0.1', ok));
  // The customer's silence, 20 ms at a time, once the gateway's audio shows where to send it.
  const ssrc = 0x5eed;
  customer.timer = setInterval(() => {
    if (!customer.peer) return;
    const p = Buffer.alloc(12 + 160, 0xff);
    p[0] = 0x80;
    p[1] = 0;
    p.writeUInt16BE(customer.seq & 0xffff, 2);
    p.writeUInt32BE((customer.seq * 160) >>> 0, 4);
    p.writeUInt32BE(ssrc, 8);
    customer.seq += 1;
    customer.socket.send(p, customer.peer.port, customer.peer.address);
  }, 20);
  carrier = await ringingUas(1_000, dir, { audioTo: customer.socket.address().port });
  server = await startServer();
  agentBrowser = await launchWithMicrophone(join(dir, 'agent.wav'), AGENT_HZ);
  supervisorBrowser = await launchWithMicrophone(join(dir, 'supervisor.wav'), SUPERVISOR_HZ);
});

after(async () => {
  await agentBrowser?.close();
  await supervisorBrowser?.close();
  await server?.stop();
  await carrier?.stop();
  clearInterval(customer.timer);
  customer.socket?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a supervisor listens, whispers and barges in from the floor; each hears whom they should', async () => {
  const admin = await asAdmin(agentBrowser, server.url);
  await addTrunk(admin, server.url, 'Carrier', carrier.port);
  await addAgent(admin, server.url, 'ava', 'ava-pass-123');
  await addUser(admin, server.url, 'sue', 'sue-pass-123', 'supervisor');
  await addCampaign(admin, server.url, { name: 'Monitored', kind: 'auto', trunk: 'Carrier', agents: ['ava'] });
  await addLeads(admin, server.url, { leadset: 'Monitored leads', campaign: 'Monitored', rows: [['2025550131', 'NEW', 'Cleo']] });

  const agent = await loggedIn(agentBrowser, server.url, 'ava', 'ava-pass-123');
  await openPhone(agent, server.url, 'Monitored');
  await agent.click('[data-testid="ready"]');
  await agent.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  // The customer hears the agent, and the agent hears only the customer's silence.
  await eventually(async () => (await customerHears(1_000)).agent > 0.5, 15_000, 'the customer hears the agent');

  const sup = await loggedIn(supervisorBrowser, server.url, 'sue', 'sue-pass-123');
  await sup.goto(`${server.url}/admin/floor`);
  await hydrated(sup);
  const row = sup.locator('[data-testid="floor"] tr[data-agent="ava"][data-state="in_call"]');
  await row.waitFor({ timeout: 10_000 });

  // Listen: Sue hears the call; nobody hears her.
  await row.locator('[data-testid="floor-listen"]').click();
  await panelSays(sup, 'Listening to ava');
  await eventually(async () => (await loudest(sup, '__dialerMonitorPeer', 1_000)) > HEARD, 15_000, 'the supervisor hears the call');

  let heard = await customerHears();
  assert.ok(heard.agent > 0.5, `the customer still hears the agent (${JSON.stringify(heard)})`);
  assert.ok(heard.supervisor < 0.05, `the customer does not hear a listening supervisor (${JSON.stringify(heard)})`);
  const quiet = await loudest(agent, '__dialerPeer');
  assert.ok(quiet < SILENT, `the agent does not hear a listening supervisor (audioLevel ${quiet})`);

  // Whisper: the agent hears her; the customer still does not.
  await sup.click('[data-testid="monitor-switch-whisper"]');
  await panelSays(sup, 'Whispering to ava');
  await eventually(async () => (await loudest(agent, '__dialerPeer', 1_000)) > HEARD, 15_000, 'the agent hears the whisper');
  heard = await customerHears();
  assert.ok(heard.supervisor < 0.05, `the customer does not hear a whisper (${JSON.stringify(heard)})`);
  assert.ok(heard.agent > 0.3, `the customer still hears the agent (${JSON.stringify(heard)})`);

  // Barge: the customer hears her too, with the agent; Sue still hears the call.
  await sup.click('[data-testid="monitor-switch-barge"]');
  await panelSays(sup, 'On the call with ava');
  heard = await eventually(async () => {
    const h = await customerHears(1_000);
    return h.supervisor > 0.1 ? h : null;
  }, 15_000, 'the customer hears the supervisor');
  assert.ok(heard.agent > 0.1, `and the agent (${JSON.stringify(heard)})`);
  assert.ok((await loudest(agent, '__dialerPeer')) > HEARD, 'the agent still hears her');
  assert.ok((await loudest(sup, '__dialerMonitorPeer')) > HEARD, 'she still hears the call');

  // A second supervisor listens to the same call: both are on it.
  await addUser(admin, server.url, 'sid', 'sid-pass-123', 'supervisor');
  const sid = await loggedIn(supervisorBrowser, server.url, 'sid', 'sid-pass-123');
  await sid.goto(`${server.url}/admin/floor`);
  await hydrated(sid);
  await sid.locator('[data-testid="floor"] tr[data-agent="ava"] [data-testid="floor-listen"]').click();
  await panelSays(sid, 'Listening to ava');
  await eventually(async () => (await loudest(sid, '__dialerMonitorPeer', 1_000)) > HEARD, 15_000, 'the second supervisor hears the call');
  heard = await customerHears();
  assert.ok(heard.supervisor > 0.1, `Sue is still on the call (${JSON.stringify(heard)})`);

  // The call ends: her panel says so.
  await agent.click('[data-testid="hangup"]');
  for (const page of [sup, sid]) {
    await page.locator('[data-testid="monitor-ended"]', { hasText: "ava's call has ended." }).waitFor({ timeout: 15_000 });
  }
  await dispose(agent, 'NOT INTERESTED');
  await waitStatus(agent, 'Ready', 10_000);
  await sup.click('[data-testid="monitor-stop"]');
  await sup.locator('[data-testid="monitor-panel"]').waitFor({ state: 'detached' });
});
