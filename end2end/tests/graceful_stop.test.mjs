// SIGTERM with an agent on a call: dialling stops at once and the agent is told, but the call
// goes on (audio still flows) and the web app keeps serving until the agent has hung up and
// submitted the disposition; then the server exits by itself, with the queued leads given
// back. If the agent takes longer than the grace time, the call is hung up and closed and the
// server exits anyway.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import {
  addAgent, addCampaign, addLeads, addTrunk, asAdmin, dispose, echoUas, eventually, inboundAudio,
  launchWithMicrophone, loggedIn, openPhone, query,
} from '../lib/dialer.mjs';

let browser;
let echo;
let dir;
const servers = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-stop-'));
  echo = await echoUas();
  browser = await launchWithMicrophone(join(dir, 'tone.wav'));
});

after(async () => {
  await browser?.close();
  for (const s of servers) await s.stop();
  await echo?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A server with `grace` seconds to stop, an agent of an auto campaign on a call. */
async function agentOnACall(grace) {
  const server = await startServer({ DIALER_STOP_GRACE_SECONDS: String(grace) });
  servers.push(server);
  const admin = await asAdmin(browser, server.url);
  await addTrunk(admin, server.url, 'Echo', echo.port);
  await addAgent(admin, server.url, 'stayer', 'stayer-pass');
  await addCampaign(admin, server.url, { name: 'Evening', kind: 'auto', trunk: 'Echo', agents: ['stayer'] });
  await addLeads(admin, server.url, {
    leadset: 'Evening leads', campaign: 'Evening',
    rows: [['2025550131', 'NEW', 'Ada'], ['2025550132', 'NEW', 'Bo'], ['2025550133', 'NEW', 'Cy']],
  });
  await admin.close();
  const page = await loggedIn(browser, server.url, 'stayer', 'stayer-pass');
  await openPhone(page, server.url, 'Evening');
  await page.click('[data-testid="ready"]');
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  return { server, page };
}

const running = async (server, ms) => Promise.race([
  server.exited.then(() => false),
  new Promise((r) => setTimeout(() => r(true), ms)),
]);

test('SIGTERM mid-call: no new calls, the call and its disposition finish, then the server exits', async () => {
  const { server, page } = await agentOnACall(60);
  server.signal('SIGTERM');
  await page.locator('[data-testid="phone-notice"]', { hasText: /stopping/ }).waitFor({ timeout: 10_000 });
  assert.ok(await running(server, 2_000), 'the server waits for the call');
  const audio = await inboundAudio(page);
  assert.ok(audio.packets > 50, `audio still flows (${audio.packets} packets)`);

  await page.click('[data-testid="hangup"]');
  await dispose(page, 'SALE MADE', 'Finished during the stop');
  const { code } = await Promise.race([
    server.exited,
    new Promise((_, fail) => setTimeout(() => fail(new Error('the server did not exit after the call')), 20_000)),
  ]);
  assert.equal(code, 0, 'a clean exit');

  const attempts = query(server, 'SELECT outcome, disposition, notes, ended_at FROM call_attempts');
  assert.deepEqual(
    attempts.map((a) => [a.outcome, a.disposition, a.notes]),
    [['answered', 'SALE MADE', 'Finished during the stop']],
    'one call, finished and disposed; none placed after the stop',
  );
  const leads = query(server, "SELECT dial_state, COUNT(*) AS n FROM leads GROUP BY dial_state ORDER BY dial_state");
  assert.deepEqual(leads, [{ dial_state: 'done', n: 1 }, { dial_state: 'ready', n: 2 }], 'the others given back');
  await page.close();
});

test('SIGTERM with the agent slower than the grace time: the call is hung up and closed, the server exits', async () => {
  const { server, page } = await agentOnACall(3);
  server.signal('SIGTERM');
  assert.ok(await running(server, 1_000), 'the server gives the call its grace time');
  const { code } = await Promise.race([
    server.exited,
    new Promise((_, fail) => setTimeout(() => fail(new Error('the server did not exit after its grace time')), 30_000)),
  ]);
  assert.equal(code, 0, 'a clean exit');
  const attempts = await eventually(() => {
    const rows = query(server, 'SELECT outcome, ended_at FROM call_attempts');
    return rows.length === 1 && rows[0].ended_at ? rows : null;
  }, 5_000, 'the call closed');
  assert.equal(attempts[0].outcome, 'answered');
  const leased = query(server, "SELECT COUNT(*) AS n FROM leads WHERE dial_state = 'leased'");
  assert.equal(leased[0].n, 0, 'no lead left leased');
  await page.close();
});
