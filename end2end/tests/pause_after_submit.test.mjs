// Pause right after Submit, at 20 seeded moments from 0 to 3 s: the next call may already be
// on its way. Whatever the moment, no customer answers into nobody — the call is cancelled
// while it rings, or (answered before the cancel reached the carrier) it goes to the agent who
// paused, who is back on their pause after it. The carrier is sipp ringing about a second
// before it answers, so the moments fall before, during and after the ringing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { startSipp } from '../lib/gateway.mjs';
import {
  addAgent, addCampaign, addLeads, addScript, addTrunk, asAdmin, dispose, launchWithMicrophone,
  loggedIn, openPhone, query,
} from '../lib/dialer.mjs';

const MOMENTS = 20;
const SEED = 20261204;
/** How long nothing may change before the agent counts as settled on their pause. */
const SETTLED_MS = 2_000;

let server;
let browser;
let carrier;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-pause-'));
  server = await startServer();
  const scenario = resolve(import.meta.dirname, '..', 'sipp', 'ring_then_answer.xml');
  carrier = await startSipp(['-sf', scenario, '-rtp_echo']);
  browser = await launchWithMicrophone(join(dir, 'tone.wav'));
  const admin = await asAdmin(browser, server.url);
  await addTrunk(admin, server.url, 'Ringing', carrier.port);
  await addScript(admin, server.url, 'Short', 'Hello {first_name}.');
  await addAgent(admin, server.url, 'pauser', 'pauser-pass');
  await addCampaign(admin, server.url, {
    name: 'Pauses', kind: 'auto', trunk: 'Ringing', agents: ['pauser'], script: 'Short',
  });
  const rows = Array.from({ length: 80 }, (_, i) => [`20255502${String(i).padStart(2, '0')}`, 'NEW', `Lead${i}`]);
  await addLeads(admin, server.url, { leadset: 'Pause leads', campaign: 'Pauses', rows });
  await admin.close();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await carrier?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Mulberry32: the same moments on every run. */
function moments(seed, n, maxMs) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: n }, () => Math.round(next() * maxMs));
}

const visible = (page, id) => page.locator(`[data-testid="${id}"]`).isVisible();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Which of the phone's states the page shows now. */
async function phoneState(page) {
  if (await visible(page, 'wrapup')) return 'wrap-up';
  if (await visible(page, 'hangup')) return 'talking';
  if (await visible(page, 'pause')) return 'ready';
  if (await visible(page, 'ready')) return 'paused';
  return 'connecting';
}

/** Ends whatever call reached the agent and waits until they sit paused with nothing coming. */
async function settlePaused(page, log) {
  let quietSince = Date.now();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const state = await phoneState(page);
    if (state === 'paused') {
      if (Date.now() - quietSince >= SETTLED_MS) return;
    } else {
      quietSince = Date.now();
      if (state === 'talking') {
        log.push('delivered');
        await page.click('[data-testid="hangup"]', { timeout: 2_000 }).catch(() => {});
      } else if (state === 'wrap-up') {
        await dispose(page, 'NOT INTERESTED');
      } else if (state === 'ready') {
        // The pause lost the race with a call that arrived first: pause again after it.
        await page.click('[data-testid="pause"]', { timeout: 1_000 }).catch(() => {});
      }
    }
    await sleep(100);
  }
  throw new Error(`the agent did not settle on a pause (now ${await phoneState(page)})`);
}

test('Pause 0–3 s after Submit at 20 seeded moments: no customer answers into nobody', async () => {
  const page = await loggedIn(browser, server.url, 'pauser', 'pauser-pass');
  await openPhone(page, server.url, 'Pauses');
  const log = [];
  for (const [i, wait] of moments(SEED, MOMENTS, 3_000).entries()) {
    await page.click('[data-testid="ready"]');
    // A call rings about a second, is answered and bridged.
    await page.locator('[data-testid="hangup"]').waitFor({ timeout: 30_000 });
    await page.click('[data-testid="hangup"]');
    await dispose(page, 'NOT INTERESTED');
    // The agent is ready again and the next call may already be on its way: pause after `wait`.
    await sleep(wait);
    await page.click('[data-testid="pause"]', { timeout: 1_000 }).catch(() => log.push(`moment ${i}: call first`));
    await settlePaused(page, log);
  }

  const rows = query(server, `SELECT a.outcome, a.answered_at, a.bridged_at, a.ended_at FROM call_attempts a
    JOIN campaigns c ON c.id = a.campaign_id WHERE c.name = 'Pauses' ORDER BY a.id`);
  const summary = rows.reduce((m, r) => ({ ...m, [r.outcome]: (m[r.outcome] ?? 0) + 1 }), {});
  assert.ok(rows.length >= MOMENTS, `a call per moment at least (${JSON.stringify(summary)})`);
  assert.deepEqual(rows.filter((r) => r.outcome === 'dropped'), [], `no call dropped: ${JSON.stringify(summary)}`);
  assert.deepEqual(
    rows.filter((r) => r.answered_at && !r.bridged_at),
    [],
    'every answered call reached the agent',
  );
  assert.deepEqual(rows.filter((r) => !r.ended_at), [], 'every call ended');
  // Every moment's call was either cancelled unanswered or taken by the agent.
  assert.ok(rows.every((r) => r.outcome === 'answered' || r.outcome === 'no_answer'), JSON.stringify(summary));
  console.log(`pause moments: ${JSON.stringify(summary)}; ${log.length} calls reached the agent after Pause`);
  await page.close();
});
