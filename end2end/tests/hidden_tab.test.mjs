// The phone in a background tab: an agent readies, then opens another tab in front of the
// phone and works from there. For the whole run (DIALER_HIDDEN_MINUTES, 2 here; 30 from
// scripts/hidden-tab.sh) calls keep reaching the hidden phone and are worked through it:
// each call connects with the echoed audio flowing, is hung up and disposed. The WebSocket and
// the audio leg opened at the start carry the whole run (none is opened again), and every
// call is stored with its disposition. Back in front, the phone shows what the server has.
//
// A hidden tab needs a window (see lib/display.mjs): the browser runs on its own Xvfb. The
// browser's timers in the hidden tab are measured and printed (how much Chromium slowed
// them), never asserted: nothing in the phone may depend on them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { launch, logIn } from '../lib/browser.mjs';
import { launchWindowed, startXvfb } from '../lib/display.mjs';
import { startSipp, toneWav } from '../lib/gateway.mjs';
import {
  addAgent, addCampaign, addLeads, addTrunk, asAdmin, eventually, openPhone, query, status,
} from '../lib/dialer.mjs';

const MINUTES = Number(process.env.DIALER_HIDDEN_MINUTES ?? 2);
/** How long each call is kept up: about two calls a minute, with hang-up and wrap-up. */
const TALK_MS = 20_000;
/** Leads for the run: more than it can call. */
const LEADS = Math.ceil(MINUTES * 4) + 10;

let server;
let carrier;
let xvfb;
let windowed;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-hidden-'));
  server = await startServer();
  // An answering carrier echoing the audio, for as long as the run (and then some).
  carrier = await startSipp(['-sn', 'uas', '-rtp_echo'], { timeoutSeconds: MINUTES * 60 + 600 });
  // The admin's set-up in a headless browser of its own; the agent's phone in a window.
  const setup = await launch();
  const admin = await asAdmin(setup, server.url);
  await addTrunk(admin, server.url, 'Echo', carrier.port);
  await addAgent(admin, server.url, 'hidden', 'hidden-pass');
  await addCampaign(admin, server.url, { name: 'Background', kind: 'auto', trunk: 'Echo', agents: ['hidden'] });
  const rows = Array.from({ length: LEADS }, (_, i) => [`2025553${String(i).padStart(3, '0')}`, 'NEW', `Lead${i}`]);
  await addLeads(admin, server.url, { leadset: 'Background leads', campaign: 'Background', rows });
  await setup.close();

  xvfb = await startXvfb();
  // The microphone is silence, so the echoed call is too: Chromium spares a hidden tab that
  // plays sound from slowing its timers, and this test is about a tab whose timers are slowed.
  const wav = join(dir, 'silence.wav');
  toneWav(wav, 30, 0);
  windowed = await launchWindowed(xvfb.display, [
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${wav}`,
    '--autoplay-policy=no-user-gesture-required',
  ]);
});

after(async () => {
  await windowed?.stop();
  await xvfb?.stop();
  await server?.stop();
  await carrier?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Clicks in the hidden tab skip Playwright's wait for the element to hold still: that wait
// counts animation frames, and a hidden tab draws none. The click itself is a real one.
const click = (page, testid) => page.click(`[data-testid="${testid}"]`, { force: true });

/** Hangs up and disposes the call on the hidden phone (Submit, or Submit & Pause). */
async function hangUpAndDispose(page, { pause = false } = {}) {
  await click(page, 'hangup');
  const wrapup = page.locator('[data-testid="wrapup"]');
  await wrapup.waitFor();
  await wrapup.locator('input[name="disposition"][value="NOT INTERESTED"]').check({ force: true });
  await click(page, pause ? 'submit-pause' : 'submit');
  await wrapup.waitFor({ state: 'detached', timeout: 30_000 });
}

/** Audio packets received so far on the page's current leg. */
const packets = (page) =>
  page.evaluate(async () => {
    const stats = [...(await window.__dialerPeer.getStats()).values()];
    return stats
      .filter((r) => r.type === 'inbound-rtp' && r.kind === 'audio')
      .reduce((n, r) => n + (r.packetsReceived ?? 0), 0);
  });

/** What the page has opened since it loaded, and whether the leg is still the first one. */
const connections = (page) =>
  page.evaluate(() => ({
    sockets: window.__phoneSockets,
    peers: window.__peers,
    firstLeg: window.__dialerPeer?.__first === true,
    linkSeen: [...window.__linkSeen],
    visibility: document.visibilityState,
  }));

test(`the phone works ${MINUTES} minutes in a background tab`, { timeout: (MINUTES + 10) * 60_000 }, async () => {
  const { context, page } = windowed;
  // Counts what the page opens: phone sockets and peer connections (a reconnect or a new
  // audio leg would show here, whatever the page displays).
  await context.addInitScript(() => {
    window.__phoneSockets = 0;
    window.__peers = 0;
    const Socket = window.WebSocket;
    window.WebSocket = class extends Socket {
      constructor(url, ...rest) {
        super(url, ...rest);
        if (String(url).includes('/ws/phone')) window.__phoneSockets += 1;
      }
    };
    const Peer = window.RTCPeerConnection;
    window.RTCPeerConnection = class extends Peer {
      constructor(...args) {
        super(...args);
        window.__peers += 1;
      }
    };
  });
  await page.goto(`${server.url}/login`);
  await logIn(page, 'hidden', 'hidden-pass');
  await openPhone(page, server.url, 'Background');
  // Every text the link badge shows from now on (a mutation observer: no timer involved).
  await page.evaluate(() => {
    const badge = document.querySelector('[data-testid="link-state"]');
    window.__linkSeen = new Set([badge.textContent]);
    new MutationObserver(() => window.__linkSeen.add(badge.textContent)).observe(badge, {
      subtree: true, childList: true, characterData: true,
    });
    window.__dialerPeer.__first = true;
  });
  assert.deepEqual(await connections(page), {
    sockets: 1, peers: 1, firstLeg: true, linkSeen: ['Online'], visibility: 'visible',
  });
  await page.click('[data-testid="ready"]');

  // Another tab in front of the phone, in the same window: the phone's tab is hidden.
  const front = await context.newPage();
  await front.bringToFront();
  await front.goto(`${server.url}/login`);
  await eventually(async () => (await page.evaluate(() => document.visibilityState)) === 'hidden', 10_000, 'phone tab hidden');
  // A 100 ms interval in the hidden tab: how often it really runs is printed at the end.
  await page.evaluate(() => {
    window.__ticks = 0;
    setInterval(() => (window.__ticks += 1), 100);
  });
  const ticksAt = async () => ({ ticks: await page.evaluate(() => window.__ticks), at: Date.now() });
  const rates = [];

  const started = Date.now();
  let calls = 0;
  while (Date.now() - started < MINUTES * 60_000) {
    const before = await ticksAt();
    // A call reaches the hidden phone and is shown there, with the echoed audio flowing.
    await page.locator('[data-testid="live-call"]').waitFor({ timeout: 60_000 });
    assert.equal(await page.evaluate(() => document.visibilityState), 'hidden', `call ${calls + 1} in a hidden tab`);
    const first = await packets(page);
    await sleep(TALK_MS);
    const last = await packets(page);
    assert.ok(last > first + 100, `call ${calls + 1}: audio flows while hidden (${first} → ${last} packets)`);
    // The agent hangs up and disposes on the hidden phone.
    await hangUpAndDispose(page);
    calls += 1;
    const now = await ticksAt();
    rates.push(((now.ticks - before.ticks) * 1000) / (now.at - before.at));
    // Still the first socket and the first audio leg; the link never left Online.
    assert.deepEqual(await connections(page), {
      sockets: 1, peers: 1, firstLeg: true, linkSeen: ['Online'], visibility: 'hidden',
    }, `after call ${calls}`);
  }
  // The last one: Submit & Pause on a call, so nothing changes while the tab comes back.
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 60_000 });
  await hangUpAndDispose(page, { pause: true });
  calls += 1;

  // Back in front: the phone shows the agent paused, as the server has them (a reload is
  // given the server's state afresh), on the same socket and leg as ever.
  await page.bringToFront();
  await eventually(async () => (await page.evaluate(() => document.visibilityState)) === 'visible', 10_000, 'phone tab visible');
  assert.deepEqual(await connections(page), {
    sockets: 1, peers: 1, firstLeg: true, linkSeen: ['Online'], visibility: 'visible',
  });
  const shown = await status(page);
  assert.match(shown, /^Paused/);
  await page.reload();
  await page.locator('[data-testid="audio-state"]', { hasText: 'Audio connected' }).waitFor({ timeout: 30_000 });
  assert.equal(await status(page), shown, 'what the page showed is what the server has');

  // Every call the hidden phone took is stored, ended and disposed; none was dropped.
  const attempts = query(server, `SELECT a.outcome, a.disposition, a.ended_at, a.bridged_at FROM call_attempts a
    JOIN campaigns c ON c.id = a.campaign_id WHERE c.name = 'Background' ORDER BY a.id`);
  const bridged = attempts.filter((a) => a.bridged_at);
  assert.equal(bridged.length, calls, `every call reached the agent (${JSON.stringify(attempts)})`);
  assert.deepEqual(attempts.filter((a) => !a.ended_at), [], 'every call ended');
  assert.deepEqual(bridged.filter((a) => a.disposition !== 'NOT INTERESTED'), [], 'every call disposed');
  const fmt = (r) => r.toFixed(1);
  console.log(
    `hidden tab: ${calls} calls in ${MINUTES} min, one socket and one audio leg throughout; ` +
      `100 ms interval in the hidden tab ran ${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))}/s ` +
      `(per call; ${rates.map(fmt).join(' ')})`,
  );
  await front.close();
});
