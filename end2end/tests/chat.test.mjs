// Chat while on a call: real Chromium for an agent and her supervisor, sipp as the carrier
// (it answers and holds the call). The supervisor writes from the Chat page; the agent, on the
// call, sees the unread count in the phone's status bar, opens the chat with Alt+C, reads the
// message (its markup shown as text, never run) and the count clears; the call controls stay
// in view and usable beside the drawer. Her answer reaches the supervisor's navigation live
// as an unread count, which clears when read. A message over the limit is refused with words.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { check } from '../lib/axe.mjs';
import { hydrated } from '../lib/browser.mjs';
import {
  addAgent, addCampaign, addLeads, addTrunk, addUser, asAdmin, dispose, holdingUas, loggedIn,
  openPhone, stage, waitStatus,
} from '../lib/dialer.mjs';

const MARKUP = '<b>x</b> <img src=x onerror="window.__chatRan=1">';

let on;
/** Where the carrier's scenario is written. */
let sippDir;

before(async () => {
  sippDir = mkdtempSync(join(tmpdir(), 'dialer-chat-sipp-'));
  on = await stage('chat', () => holdingUas(sippDir));
});

after(async () => {
  await on?.stop();
  if (sippDir) rmSync(sippDir, { recursive: true, force: true });
});

/** Whether two elements' boxes overlap on screen. */
async function overlap(a, b) {
  const [x, y] = [await a.boundingBox(), await b.boundingBox()];
  return x.x < y.x + y.width && y.x < x.x + x.width && x.y < y.y + y.height && y.y < x.y + x.height;
}

/** Opens the conversation whose button reads `name`. */
async function openConversation(page, name) {
  await page.locator('[data-testid="chat-contact"]', { hasText: name }).click();
  await page.locator('[data-testid="chat-title"]', { hasText: name }).waitFor();
}

test('an agent on a call and her supervisor chat live; counts show and clear', async () => {
  const { server, browser, carrier } = on;
  const admin = await asAdmin(browser, server.url);
  await addTrunk(admin, server.url, 'Carrier', carrier.port);
  await addAgent(admin, server.url, 'ann', 'ann-pass-123');
  await addUser(admin, server.url, 'sue', 'sue-pass-123', 'supervisor');
  await addCampaign(admin, server.url, { name: 'Floor', kind: 'auto', trunk: 'Carrier', agents: ['ann', 'sue'] });
  await addLeads(admin, server.url, { leadset: 'Today', campaign: 'Floor', rows: [['2025550141', 'NEW', 'Cleo']] });

  const ann = await loggedIn(browser, server.url, 'ann', 'ann-pass-123');
  await openPhone(ann, server.url, 'Floor');
  await ann.click('[data-testid="ready"]');
  await ann.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });

  // The supervisor writes to her from the Chat page.
  const sue = await loggedIn(browser, server.url, 'sue', 'sue-pass-123');
  await sue.goto(`${server.url}/chat`);
  await hydrated(sue);
  await openConversation(sue, 'ann (Agent)');
  await sue.fill('[data-testid="chat-box"]', MARKUP);
  await sue.click('[data-testid="chat-send"]');
  await sue.locator('[data-testid="chat-text"]', { hasText: '<b>x</b>' }).waitFor();
  await check(sue, 'the Chat page');

  // On the call, the status bar counts it; Alt+C opens the chat beside the call.
  const unread = ann.locator('[data-testid="chat-unread"]');
  await unread.waitFor({ timeout: 5_000 });
  assert.equal((await unread.textContent()).trim(), '1');
  await ann.keyboard.press('Alt+c');
  const drawer = ann.locator('[data-testid="chat-drawer"]');
  await drawer.waitFor();
  assert.match(await ann.locator('[data-testid="chat-contact"]', { hasText: 'sue' }).textContent(), /1/);
  await openConversation(ann, 'sue (Supervisor)');
  const text = drawer.locator('[data-testid="chat-text"]').last();
  assert.equal(await text.textContent(), MARKUP, 'markup is shown as typed');
  assert.equal(await drawer.locator('[data-testid="chat-messages"] b, [data-testid="chat-messages"] img').count(), 0);
  assert.equal(await ann.evaluate(() => window.__chatRan), undefined, 'nothing in it ran');
  await unread.waitFor({ state: 'detached', timeout: 5_000 });
  await check(ann, 'the phone with the chat open on a call');

  // The call controls are in view, not under the drawer, and work.
  for (const id of ['hangup', 'mute', 'hold', 'agent-status']) {
    const el = ann.locator(`[data-testid="${id}"]`);
    assert.ok(await el.isVisible(), `${id} visible`);
    assert.ok(!(await overlap(el, drawer)), `${id} not under the chat`);
  }
  await ann.click('[data-testid="mute"]');
  await ann.locator('[data-testid="mute"]', { hasText: 'Unmute' }).waitFor();
  await ann.click('[data-testid="mute"]');

  // Too long: refused with words, the text kept to shorten.
  await ann.fill('[data-testid="chat-box"]', 'x'.repeat(2001));
  await ann.press('[data-testid="chat-box"]', 'Enter');
  await ann.locator('[data-testid="chat-error"]', { hasText: 'at most 2000 characters' }).waitFor();

  // Her answer: the supervisor, on another page, sees the count in the navigation at once.
  await sue.goto(`${server.url}/admin/floor`);
  await hydrated(sue);
  await ann.fill('[data-testid="chat-box"]', 'On it');
  await ann.press('[data-testid="chat-box"]', 'Enter');
  await drawer.locator('[data-testid="chat-text"]', { hasText: 'On it' }).waitFor();
  const navCount = sue.locator('[data-testid="nav-chat-unread"]');
  await navCount.waitFor({ timeout: 5_000 });
  assert.equal((await navCount.textContent()).trim(), '1');
  await sue.click('.mainnav a[href="/chat"]');
  await openConversation(sue, 'ann (Agent)');
  await sue.locator('[data-testid="chat-text"]', { hasText: 'On it' }).waitFor();
  await navCount.waitFor({ state: 'detached', timeout: 5_000 });

  // A message arriving with the conversation open shows at once, and counts as read.
  await sue.fill('[data-testid="chat-box"]', 'Thanks');
  await sue.press('[data-testid="chat-box"]', 'Enter');
  await drawer.locator('[data-testid="chat-text"]', { hasText: 'Thanks' }).waitFor({ timeout: 5_000 });
  assert.equal(await unread.count(), 0);

  // The call ends with the chat still open: the wrap-up is usable beside it.
  await ann.click('[data-testid="hangup"]');
  await ann.locator('[data-testid="wrapup"]').waitFor({ timeout: 15_000 });
  assert.ok(!(await overlap(ann.locator('[data-testid="submit"]'), drawer)), 'submit not under the chat');
  await dispose(ann, 'SALE MADE', 'Chatted meanwhile');
  await waitStatus(ann, /Ready|Paused/, 10_000);
});
