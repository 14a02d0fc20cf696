// A media gateway that crashes mid-call and comes back: the server drives a standalone gateway
// (its own process, on fixed loopback ports); an agent talks to a customer (sipp echoing the
// tone of the fake microphone) while a second customer's phone rings in another campaign. The
// gateway is killed with SIGKILL and started again at the same addresses. Then: both calls end
// with the lost-call reason, each lead is recycled by its rule, the agents' audio legs come back
// by themselves, and the next call has audio again.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { TOKEN, freeTcpPort, freeUdpPort, startGateway, startSipp } from '../lib/gateway.mjs';
import {
  addAgent, addCampaign, addLeads, addTrunk, asAdmin, dispose, echoUas, eventually, inboundAudio,
  launchWithMicrophone, loggedIn, openPhone, query, status, waitStatus,
} from '../lib/dialer.mjs';
import { hydrated } from '../lib/browser.mjs';

const ROOT = resolve(import.meta.dirname, '..', '..');
/** What the server stores for a call the restarted gateway no longer has (`LOST_CALL`). */
const LOST_CALL = 'the media gateway lost the call (it restarted or its events were lost)';
const MINUTE = 60_000;
/** The Ringing campaign's rule for failed calls: again after 7 minutes, 3 attempts at most. */
const RETRY_FAILED_MINUTES = 7;
/** The agent's disposition for a call cut short: recyclable, again after 11 minutes. */
const DROPPED_MINUTES = 11;

let dir;
let ports;
let gateway;
let server;
let echo;
let ringing;
let browser;
let admin;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-restart-'));
  // Fixed ports, so the gateway started again answers where the first one did.
  ports = { http: await freeTcpPort(), sip: await freeUdpPort(), webrtc: await freeUdpPort() };
  gateway = await startGateway(null, ports);
  server = await startServer({ DIALER_GATEWAY_URL: `ws://${gateway.http}`, DIALER_GATEWAY_TOKEN: TOKEN });
  echo = await echoUas();
  ringing = await startSipp(['-sf', join(ROOT, 'gateway', 'tests', 'sipp', 'ring_forever.xml')]);
  browser = await launchWithMicrophone(join(dir, 'tone.wav'));
  admin = await asAdmin(browser, server.url);
  await addTrunk(admin, server.url, 'Echo', echo.port);
  await addTrunk(admin, server.url, 'Ringing', ringing.port);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await gateway?.stop();
  await echo?.stop();
  await ringing?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const attempts = (campaign) =>
  query(server, `SELECT a.*, l.status AS lead_status, l.dial_state, l.attempts AS lead_attempts,
    l.next_attempt_at, l.phone AS lead_phone FROM call_attempts a JOIN leads l ON l.id = a.lead_id
    JOIN campaigns c ON c.id = a.campaign_id WHERE c.name = '${campaign}' ORDER BY a.id`);

/** An agent assigned to a new auto campaign on `trunk` with `rows` of leads; their phone page. */
async function campaign(name, trunk, rows, fields) {
  const agent = `${name.toLowerCase()}-agent`;
  await addAgent(admin, server.url, agent, `${agent}-pass`);
  await addCampaign(admin, server.url, { name, kind: 'auto', trunk, agents: [agent], fields });
  await addLeads(admin, server.url, { leadset: `${name} leads`, campaign: name, rows });
  return loggedIn(browser, server.url, agent, `${agent}-pass`);
}

/** Adds a recyclable disposition of `campaign` (before its agent opens the phone). */
async function addRecyclable(campaign, code, minutes) {
  await admin.goto(`${server.url}/admin/dispositions`);
  await hydrated(admin);
  const form = admin.locator('[data-testid="add-disposition"]');
  await form.locator('select[name="campaign"]').selectOption({ label: campaign });
  await form.locator('input[name="code"]').fill(code);
  await form.locator('select[name="kind"]').selectOption('recyclable');
  await form.locator('input[name="retry_minutes"]').fill(String(minutes));
  await form.locator('button[type="submit"]').click();
  await admin.locator(`tr[data-code="${code}"][data-campaign="${campaign}"]`).waitFor();
}

/**
 * Asserts that the agent hears the customer: sipp echoes the fake microphone's tone, so the
 * audio arriving is as loud as the microphone's own, well above silence. (Chromium's audio
 * processing turns the tone down within seconds of the first call, to a level about 0.04: the
 * comparison is with what the microphone sends now, not with a fixed level.)
 */
async function hearsTheEcho(page, when) {
  const audio = await inboundAudio(page);
  const mic = await page.evaluate(async () => {
    const stats = [...(await window.__dialerPeer.getStats()).values()];
    return Math.max(0, ...stats.filter((r) => r.type === 'media-source' && r.kind === 'audio').map((r) => r.audioLevel ?? 0));
  });
  assert.ok(audio.packets > 50, `packets arrive ${when} (${audio.packets})`);
  assert.ok(mic > 0.01, `the microphone sends the tone ${when} (audioLevel ${mic})`);
  assert.ok(audio.level > mic / 2, `the echoed tone is heard ${when} (audioLevel ${audio.level}, microphone ${mic})`);
}

const audioConnected = (page, timeout) =>
  page.locator('[data-testid="audio-state"]', { hasText: 'Audio connected' }).waitFor({ timeout });

test('the gateway is killed mid-call and restarted: calls end with the lost-call reason, leads are recycled, audio comes back', async () => {
  // A customer on the line, and one whose phone is still ringing, in two campaigns.
  const talk = await campaign('Restart', 'Echo', [['2025550201', 'NEW', 'Ada'], ['2025550202', 'NEW', 'Grace']], {
    wrapup_seconds: 300,
  });
  const ring = await campaign('Ringing', 'Ringing', [['2025550211', 'NEW', 'Alan']], {
    ring_seconds: 300,
    retry_failed: RETRY_FAILED_MINUTES,
    attempts_failed: 3,
  });
  await addRecyclable('Restart', 'LINE DROPPED', DROPPED_MINUTES);

  await openPhone(ring, server.url, 'Ringing');
  await ring.click('[data-testid="ready"]');
  await eventually(() => attempts('Ringing')[0]?.ringing_at, 20_000, 'the second customer ringing');

  await openPhone(talk, server.url, 'Restart');
  await talk.click('[data-testid="ready"]');
  await talk.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  assert.match(await talk.textContent('[data-testid="lead-card"]'), /Ada/);
  await hearsTheEcho(talk, 'before the crash');

  // The crash, and the same gateway binary started again at the same addresses.
  const oldPid = gateway.pid;
  await gateway.kill();
  gateway = await startGateway(null, ports);
  assert.notEqual(gateway.pid, oldPid);

  // The talking agent's call ends into wrap-up; the lead stays on screen to be disposed.
  await talk.locator('[data-testid="wrapup"]').waitFor({ timeout: 30_000 });
  await waitStatus(talk, 'Wrap', 10_000);
  assert.match(await talk.textContent('[data-testid="lead-card"]'), /Ada/);
  // The ringing call ends with no agent involved: failed, with the reason.
  const [lost] = await eventually(() => {
    const r = attempts('Ringing');
    return r.length === 1 && r[0].ended_at ? r : null;
  }, 20_000, 'the ringing call ended');
  assert.equal(lost.outcome, 'failed');
  assert.equal(lost.sip_reason, LOST_CALL);
  assert.equal(lost.hangup_by, 'system');
  // Recycled by the campaign's rule for failed calls.
  assert.equal(lost.lead_status, 'FAILED');
  assert.equal(lost.dial_state, 'ready');
  assert.equal(lost.lead_attempts, 1);
  assert.equal(lost.next_attempt_at, lost.ended_at + RETRY_FAILED_MINUTES * MINUTE);
  assert.equal(await status(ring), 'Ready', 'the ringing campaign\'s agent is still ready');

  // Both phones get a working audio leg again by themselves.
  await audioConnected(talk, 30_000);
  await audioConnected(ring, 30_000);

  // The talking agent disposes the cut call: the lead comes back by the disposition's rule.
  await dispose(talk, 'LINE DROPPED', 'Cut off mid-call');
  const first = await eventually(() => {
    const r = attempts('Restart');
    return r[0]?.disposition ? r[0] : null;
  }, 10_000, 'the cut call disposed');
  assert.equal(first.lead_phone, '+12025550201');
  // It was answered and talked on; the gateway's loss is its end.
  assert.equal(first.outcome, 'answered');
  assert.equal(first.sip_reason, LOST_CALL);
  assert.equal(first.hangup_by, 'system', 'ended by the system, not by either party');
  assert.ok(first.ended_at >= first.bridged_at, 'ended after it was bridged');
  assert.equal(first.disposition, 'LINE DROPPED');
  assert.equal(first.notes, 'Cut off mid-call');
  assert.equal(first.lead_status, 'LINE DROPPED');
  assert.equal(first.dial_state, 'ready');
  assert.equal(first.next_attempt_at, first.disposed_at + DROPPED_MINUTES * MINUTE);

  // Ready again: the next lead is called through the restarted gateway, with audio both ways.
  await talk.locator('[data-testid="lead-card"]', { hasText: 'Grace' }).waitFor({ timeout: 30_000 });
  await talk.locator('[data-testid="live-call"]').waitFor();
  await hearsTheEcho(talk, 'after the restart');
  await talk.click('[data-testid="hangup"]');
  await dispose(talk, 'SALE MADE', '', { pause: true });
  await eventually(() => attempts('Restart')[1]?.disposition === 'SALE MADE', 10_000, 'the second call disposed');
  const second = attempts('Restart')[1];
  assert.equal(second.outcome, 'answered');
  assert.equal(second.hangup_by, 'agent');
  assert.notEqual(second.sip_reason, LOST_CALL, 'only the cut call has the lost-call reason');
  assert.equal(attempts('Ringing').length, 1, 'the failed lead waits for its retry time');
});
