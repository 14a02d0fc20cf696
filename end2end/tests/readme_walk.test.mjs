// The README's "Your first call in five minutes", walked in the browser as written and with
// the keyboard only: a fresh database, the built-in demo trunk, the admin password read off
// the server's first line. Every control is reached with Tab and used with Enter, Space,
// arrows or typing — no mouse — and after each step focus is checked: still on the page (not
// dropped to the body) after in-page actions. The labels the test presses are read from the
// README first, so the walk fails if the README names a step differently from the product or
// if a step needs more than the README says.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { hydrated } from '../lib/browser.mjs';
import { eventually, inboundAudio, launchWithMicrophone, query } from '../lib/dialer.mjs';

const README = readFileSync(resolve(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
const WALK = README.split('## Your first call in five minutes')[1]?.split('\n## ')[0] ?? '';

let server;
let browser;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-walk-'));
  // As `scripts/run.sh` starts it: a fresh database, no preset admin password.
  server = await startServer({ DIALER_ADMIN_PASSWORD: null });
  browser = await launchWithMicrophone(join(dir, 'tone.wav'));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The README's walk names `words` (a label, a menu path, an example value). */
function says(words) {
  const flat = (t) => t.replace(/\s+/g, ' ');
  assert.ok(flat(WALK).includes(flat(words)), `the README's walk says ${JSON.stringify(words)}`);
  return flat(words);
}

/** What has focus: tag, name or test id, and text. */
const focused = (page) => page.evaluate(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return 'body';
  const id = el.getAttribute('data-testid') ?? el.getAttribute('name') ?? el.getAttribute('href') ?? '';
  return `${el.tagName.toLowerCase()}[${id}] ${(el.textContent ?? '').trim().slice(0, 40)}`;
});

/**
 * After an action on the page (no page load): focus is on something, not the body — at once,
 * or as soon as the page has the server's answer (a phone state change comes back over its
 * socket first).
 */
async function focusKept(page, step) {
  let now = await focused(page);
  for (let i = 0; now === 'body' && i < 20; i++) {
    await new Promise((r) => setTimeout(r, 100));
    now = await focused(page);
  }
  assert.notEqual(now, 'body', `${step}: focus was dropped to the page body`);
}

/**
 * Presses Tab until the focused element matches `selector` (and, when given, shows `text` in
 * its own text, value or label). Fails when it is not reachable by Tab.
 */
async function tabTo(page, selector, text) {
  const seen = [];
  for (let i = 0; i < 150; i++) {
    await page.keyboard.press('Tab');
    const hit = await page.evaluate(([sel, want]) => {
      const el = document.activeElement;
      if (!el || !el.matches(sel)) return false;
      if (!want) return true;
      const label = [...(el.labels ?? [])].map((l) => l.textContent).join(' ');
      return [el.textContent, el.value, label, el.getAttribute('aria-label')].some((t) => (t ?? '').includes(want));
    }, [selector, text ?? null]);
    if (hit) return;
    seen.push(await focused(page));
  }
  throw new Error(`Tab never reached ${selector} ${text ?? ''}; went through: ${seen.slice(0, 60).join(' | ')}`);
}

/** Follows a link reached by Tab (Enter), waiting for the page it opens. */
async function follow(page, selector, text) {
  await tabTo(page, selector, text);
  await page.keyboard.press('Enter');
  await page.waitForLoadState('load');
  await hydrated(page);
}

/** Types into the field reached by Tab, replacing what it held. */
async function typeInto(page, selector, value, text) {
  await tabTo(page, selector, text);
  await page.keyboard.press('Control+A');
  await page.keyboard.type(value);
}

/** Chooses the option showing `label` in the select reached by Tab, with the arrow keys. */
async function choose(page, selector, label) {
  await tabTo(page, selector);
  await page.keyboard.press('Home');
  for (let i = 0; i < 60; i++) {
    const shown = await page.evaluate(() => document.activeElement.selectedOptions[0]?.textContent ?? '');
    if (shown.includes(label)) return;
    await page.keyboard.press('ArrowDown');
  }
  throw new Error(`no option ${label} in ${selector}`);
}

/** Types a time into a time field reached by Tab (`hh` 0–23), whatever the locale's clock. */
async function typeTime(page, selector, hh, mm) {
  await tabTo(page, selector);
  const value = `${String(hh).padStart(2, '0')}:${String(mm).padStart(2, '0')}`;
  await page.keyboard.type(`${String(hh).padStart(2, '0')}${String(mm).padStart(2, '0')}`);
  if ((await page.evaluate(() => document.activeElement.value)) !== value) {
    // A 12-hour clock: hour, minutes, then AM or PM.
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Shift+Tab');
    const h12 = hh % 12 === 0 ? 12 : hh % 12;
    await page.keyboard.type(`${String(h12).padStart(2, '0')}${String(mm).padStart(2, '0')}${hh < 12 ? 'A' : 'P'}`);
  }
  assert.equal(await page.evaluate(() => document.activeElement.value), value, `${selector} holds ${value}`);
}

test("the README's first call in five minutes, keyboard only, as written", async () => {
  // Step 1: open the address and log in as admin with the password on the first line.
  const line = server.firstLine;
  assert.ok(line.startsWith(says('Dialer is running at')), line);
  const password = line.match(/log in as admin with password (\S+)/)?.[1];
  assert.ok(password, `the first line gives the admin password: ${line}`);
  says('scripts/run.sh reset-password admin');
  assert.ok(line.includes('scripts/run.sh reset-password admin'), 'the line says how to get a new one');

  const ctx = await browser.newContext({ locale: 'en-GB' });
  const page = await ctx.newPage();
  await page.goto(server.url);
  await hydrated(page);
  await typeInto(page, 'input[name="username"]', 'admin');
  await typeInto(page, 'input[name="password"]', password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.keyboard.press('Enter')]);
  await hydrated(page);

  // Step 2: Admin → Agents: an agent `ann` with a password of 8 characters or more.
  says('**Admin → Agents**');
  const agent = says('ann');
  await follow(page, 'a[href="/admin"]', 'Admin');
  await follow(page, 'a[href="/admin/agents"]', 'Agents');
  await typeInto(page, '[data-testid="create-agent"] input[name="username"]', agent);
  await typeInto(page, '[data-testid="create-agent"] input[name="password"]', 'ann-password');
  await page.keyboard.press('Enter');
  await page.locator(`[data-testid="agents-table"] tr[data-agent="${agent}"]`).waitFor();
  await focusKept(page, 'agent created');

  // Step 3: Admin → Campaigns → Add campaign: Demo, Auto, the demo trunk, a caller ID, the
  // calling window 00:00–23:59, Save campaign; then Add agent ann and Activate.
  says('**Admin → Campaigns → Add campaign**');
  const name = says('Demo');
  await follow(page, 'a[href="/admin/campaigns"]', 'Campaigns');
  await follow(page, 'a[href="/admin/campaigns/new"]', 'Add campaign');
  await typeInto(page, 'input[name="name"]', name);
  await choose(page, 'select[name="kind"]', says('*Auto*').replace(/\*/g, ''));
  await typeInto(page, 'input[name="caller_id"]', says('+1 202 555 0100'));
  await choose(page, 'select[name="trunk_id"]', says('Demo trunk (built-in)'));
  says('(00:00–23:59)');
  await typeTime(page, 'input[name="window_start"]', 0, 0);
  await typeTime(page, 'input[name="window_end"]', 23, 59);
  await tabTo(page, 'button[type="submit"]', says('Save campaign'));
  await Promise.all([page.waitForURL(/\/admin\/campaigns\/\d+$/), page.keyboard.press('Enter')]);
  await hydrated(page);
  says('**Add agent** `ann`');
  await choose(page, '[data-testid="add-agent"] select[name="agent"]', agent);
  await tabTo(page, '[data-testid="add-agent"] button', 'Add agent');
  await page.keyboard.press('Enter');
  await page.locator(`[data-testid="assigned-agents"] tr[data-agent="${agent}"]`).waitFor();
  await focusKept(page, 'agent added');
  await tabTo(page, '[data-testid="toggle-state"] button', says('**Activate**').replace(/\*/g, ''));
  await page.keyboard.press('Enter');
  await page.locator('[data-testid="campaign-state"]', { hasText: /^Active$/ }).waitFor();
  await focusKept(page, 'campaign activated');

  // Step 4: Admin → Leadsets: a leadset for the campaign (default country US), Upload leads →
  // Paste a few numbers with a status, Preview (the columns are guessed), Upload.
  says('**Admin → Leadsets**');
  await follow(page, 'a[href="/admin/leadsets"]', 'Leadsets');
  await typeInto(page, '[data-testid="create-leadset"] input[name="name"]', 'Demo leads');
  await choose(page, '[data-testid="create-leadset"] select[name="campaign_id"]', name);
  await typeInto(page, '[data-testid="create-leadset"] input[name="default_country"]', says('US'));
  await page.keyboard.press('Enter');
  await page.locator('tr[data-leadset="Demo leads"]').waitFor();
  await focusKept(page, 'leadset created');
  says('**Upload leads → Paste**');
  await follow(page, 'a[href$="/upload"]', 'Upload');
  await tabTo(page, '[role="tab"]', 'Paste');
  await page.keyboard.press('Enter');
  const example = says('2025550101,NEW');
  await typeInto(page, '[data-testid="lead-text"]', [example, '2025550102,NEW', '2025550103,NEW'].join('\n'));
  await tabTo(page, '[data-testid="preview"]', says('**Preview**').replace(/\*/g, ''));
  await page.keyboard.press('Enter');
  await page.locator('[data-testid="preview-grid"]').waitFor();
  await focusKept(page, 'preview shown');
  says('*Phone* and *Status*');
  await tabTo(page, '[data-testid="upload"]', says('**Upload**').replace(/\*/g, ''));
  await page.keyboard.press('Enter');
  await page.locator('[data-testid="import-summary"][data-done="true"]').waitFor({ timeout: 30_000 });
  assert.match(await page.textContent('[data-testid="import-summary"]'), /3 imported/);
  await focusKept(page, 'leads uploaded');
  await ctx.close();

  // Step 5: in another browser, log in as ann, open Phone, pick the campaign, Confirm, press
  // Ready: the first lead is dialled and the chime heard; Hang up, a disposition, Submit; the
  // next lead follows; Submit & pause stops the calls.
  const agentCtx = await browser.newContext({ locale: 'en-GB' });
  const phone = await agentCtx.newPage();
  await phone.goto(server.url);
  await hydrated(phone);
  await typeInto(phone, 'input[name="username"]', agent);
  await typeInto(phone, 'input[name="password"]', 'ann-password');
  await Promise.all([phone.waitForURL((u) => !u.pathname.startsWith('/login')), phone.keyboard.press('Enter')]);
  await hydrated(phone);
  says('open **Phone**');
  await follow(phone, 'a[href="/phone"]', 'Phone');
  await choose(phone, 'select[name="campaign"]', name);
  await tabTo(phone, '[data-testid="confirm-campaign"]', says('**Confirm**').replace(/\*/g, ''));
  await phone.keyboard.press('Enter');
  await phone.locator('[data-testid="audio-state"]', { hasText: 'Audio connected' }).waitFor({ timeout: 30_000 });
  await tabTo(phone, '[data-testid="ready"]', says('**Ready**').replace(/\*/g, ''));
  await phone.keyboard.press('Enter');
  await focusKept(phone, 'ready');

  for (const [i, who] of ['+12025550101', '+12025550102'].entries()) {
    await phone.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
    assert.match(await phone.textContent('[data-testid="lead-card"]'), new RegExp(who.slice(-4)));
    if (i === 0) {
      says('you hear the chime');
      const audio = await inboundAudio(phone);
      assert.ok(audio.packets > 50, `the chime arrives (${audio.packets} packets)`);
    }
    // The phone puts focus on Hang up when the call connects.
    await eventually(async () => (await focused(phone)).includes('hangup'), 5_000, 'focus on Hang up');
    says('**Hang up**');
    await phone.keyboard.press('Enter');
    // …then on the first disposition: arrows choose, Tab reaches Submit.
    await phone.locator('[data-testid="wrapup"]').waitFor();
    await eventually(async () => (await focused(phone)).startsWith('input[disposition]'), 5_000, 'focus on the dispositions');
    await phone.keyboard.press('Space');
    const submit = i === 0 ? says('**Submit**').replace(/\*/g, '') : says('**Submit & pause**').replace(/\*/g, '');
    await tabTo(phone, i === 0 ? '[data-testid="submit"]' : '[data-testid="submit-pause"]', i === 0 ? submit : 'pause');
    await phone.keyboard.press('Enter');
    await focusKept(phone, `disposition ${i + 1} submitted`);
  }
  // Submit & pause: paused, and no third call.
  await phone.locator('[data-testid="ready"]').waitFor();
  await new Promise((r) => setTimeout(r, 4_000));
  const calls = query(server, 'SELECT phone, outcome, disposition FROM call_attempts ORDER BY id');
  assert.deepEqual(calls.map((c) => c.phone), ['+12025550101', '+12025550102'], JSON.stringify(calls));
  assert.ok(calls.every((c) => c.outcome === 'answered' && c.disposition), JSON.stringify(calls));
  await agentCtx.close();
});
