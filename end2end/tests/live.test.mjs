// The admin portal's live pages update by themselves from the server's push channel: an
// agent's state on the campaign page and the dashboard's counters change without a reload,
// nothing polls while nothing happens, the page says when it is not live, and it catches up
// on what happened meanwhile when the channel comes back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { hydrated } from '../lib/browser.mjs';
import {
  addAgent, addCampaign, addTrunk, asAdmin, echoUas, launchWithMicrophone, loggedIn, openPhone,
} from '../lib/dialer.mjs';

let server;
let browser;
let echo;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-live-'));
  server = await startServer();
  echo = await echoUas();
  browser = await launchWithMicrophone(join(dir, 'tone.wav'));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await echo?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * An HTTP proxy in front of the server whose network can be cut: `cut()` drops every open
 * connection (the push channel's too) and every new one until `restore()`.
 */
function cuttableProxy(target) {
  const to = new URL(target);
  const sockets = new Set();
  let down = false;
  const proxy = http.createServer((req, res) => {
    if (down) return req.socket.destroy();
    const up = http.request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  proxy.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return new Promise((ok) => proxy.listen(0, '127.0.0.1', () => ok({
    url: `http://127.0.0.1:${proxy.address().port}`,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    close() {
      proxy.close();
      for (const s of sockets) s.destroy();
    },
  })));
}

const state = (page, agent) =>
  page.locator(`[data-testid="assigned-agents"] tr[data-agent="${agent}"] [data-testid="agent-state"]`);

test('campaign page and dashboard follow the floor by push, and catch up after a disconnection', async () => {
  // The admin's browser reaches the server through a network the test can cut.
  const net = await cuttableProxy(server.url);
  const admin = await asAdmin(browser, net.url);
  await addTrunk(admin, net.url, 'Echo', echo.port);
  await addAgent(admin, net.url, 'livia', 'livia-pass');
  const overview = await addCampaign(admin, net.url, { name: 'Floor', kind: 'auto', trunk: 'Echo', agents: ['livia'] });
  await admin.goto(overview);
  await hydrated(admin);
  await admin.locator('[data-testid="live-state"]', { hasText: 'Live' }).waitFor({ timeout: 10_000 });
  assert.equal(await state(admin, 'livia').textContent(), 'logged out');

  // Nothing happens: nothing is fetched.
  let fetched = 0;
  admin.on('request', (r) => {
    if (r.url().includes('/api/')) fetched += 1;
  });
  await new Promise((r) => setTimeout(r, 3_000));
  assert.equal(fetched, 0, 'no polling while nothing changes');

  // The agent logs in and presses Ready: the campaign page shows it by itself.
  const phone = await loggedIn(browser, server.url, 'livia', 'livia-pass');
  await openPhone(phone, server.url, 'Floor');
  await state(admin, 'livia').filter({ hasText: /^paused$/ }).waitFor({ timeout: 5_000 });
  await phone.click('[data-testid="ready"]');
  await state(admin, 'livia').filter({ hasText: /^ready$/ }).waitFor({ timeout: 5_000 });
  assert.match(await admin.textContent('[data-testid="agent-queue"]'), /livia/);

  // The dashboard too.
  const dash = await (await admin.context()).newPage();
  await dash.goto(`${net.url}/admin`);
  await hydrated(dash);
  await dash.locator('[data-testid="live-state"]', { hasText: 'Live' }).waitFor({ timeout: 10_000 });
  const waiting = () => dash.textContent('[data-stat="agents_waiting"] .stat-value');
  assert.equal(await waiting(), '1');

  // Cut off: the page says so. Meanwhile the agent pauses; back online, the page catches up.
  net.cut();
  await admin.locator('[data-testid="live-state"]', { hasText: 'Reconnecting' }).waitFor({ timeout: 15_000 });
  await phone.click('[data-testid="pause"]');
  await new Promise((r) => setTimeout(r, 1_000));
  assert.equal(await state(admin, 'livia').textContent(), 'ready', 'offline: not updated yet');
  net.restore();
  await admin.locator('[data-testid="live-state"]', { hasText: 'Live' }).waitFor({ timeout: 15_000 });
  await state(admin, 'livia').filter({ hasText: /^paused$/ }).waitFor({ timeout: 5_000 });
  await dash.waitForFunction(() => document.querySelector('[data-stat="agents_paused"] .stat-value')?.textContent === '1', null, { timeout: 5_000 });
  await phone.close();
  await dash.close();
  await admin.close();
  net.close();
});
