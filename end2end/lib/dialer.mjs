// What the phone tests share: sipp as the customer's carrier, the admin set-up done through
// the admin pages as an admin does it, an agent's browser with a fake microphone, and a look
// into the server's SQLite database (through Python's sqlite3) to check what was stored.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hydrated, launch, logIn } from './browser.mjs';
import { ADMIN_PASSWORD, startServer } from './server.mjs';
import { startSipp, toneWav } from './gateway.mjs';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** sipp answering every call and echoing its audio. */
export const echoUas = () => startSipp(['-sn', 'uas', '-rtp_echo']);

/** sipp refusing every call with `code` (the gateway tests' scenario, code filled in). */
export function refusingUas(code, dir) {
  const template = readFileSync(join(ROOT, 'gateway', 'tests', 'sipp', 'reject.xml'), 'utf8');
  const file = join(dir, `reject${code}.xml`);
  writeFileSync(file, template.replaceAll('[code]', String(code)));
  return startSipp(['-sf', file]);
}

/**
 * sipp as a customer who lets the phone ring `ms` milliseconds, then answers and echoes the
 * audio (`end2end/sipp/ring_then_answer.xml` with its ring time changed; written into `dir`).
 * With `audioTo` (a UDP port on 127.0.0.1), the answer sends the call's audio there instead:
 * the test hears what the customer would, and speaks for them.
 */
export function ringingUas(ms, dir, { audioTo } = {}) {
  let scenario = readFileSync(join(ROOT, 'end2end', 'sipp', 'ring_then_answer.xml'), 'utf8')
    .replace('timeout="1000"', `timeout="${ms}"`);
  if (audioTo) scenario = scenario.replace('m=audio [media_port]', `m=audio ${audioTo}`);
  const file = join(dir, `ring${ms}.xml`);
  writeFileSync(file, scenario);
  return startSipp(['-sf', file, '-rtp_echo']);
}

/**
 * sipp as a customer who answers at once and accepts the dialer's re-INVITEs (hold and resume,
 * as in a warm transfer): `end2end/sipp/answer_and_hold.xml`, written into `dir`. With
 * `audioTo`, as in `ringingUas`, the call's audio goes to that UDP port of the test.
 */
export function holdingUas(dir, { audioTo } = {}) {
  let scenario = readFileSync(join(ROOT, 'end2end', 'sipp', 'answer_and_hold.xml'), 'utf8');
  if (audioTo) scenario = scenario.replaceAll('m=audio [media_port]', `m=audio ${audioTo}`);
  const file = join(dir, 'answer_and_hold.xml');
  writeFileSync(file, scenario);
  return startSipp(['-sf', file, '-rtp_echo']);
}

/** A user with `role` (agent, supervisor or admin), created on the Users page. */
export async function addUser(page, url, username, password, role) {
  await page.goto(`${url}/admin/users`);
  await hydrated(page);
  const form = page.locator('[data-testid="create-user"]');
  await form.locator('input[name="username"]').fill(username);
  await form.locator('select[name="role"]').selectOption(role);
  await form.locator('input[name="password"]').fill(password);
  await form.locator('button[type="submit"]').click();
  await page.locator(`tr[data-username="${username}"]`).waitFor();
}

/**
 * What a phone test runs on: a server, sipp as the customers' carrier (`carrier()`: answering
 * and echoing unless said otherwise) and a browser whose microphone is a tone, in a temp
 * directory named after `name`; `stop()` ends them all and removes the directory.
 */
export async function stage(name, carrier = echoUas) {
  const dir = mkdtempSync(join(tmpdir(), `dialer-${name}-`));
  const server = await startServer();
  const sipp = await carrier();
  const browser = await launchWithMicrophone(join(dir, 'tone.wav'));
  return {
    server,
    browser,
    carrier: sipp,
    dir,
    async stop() {
      await browser.close();
      await server.stop();
      await sipp.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A browser whose microphone is a tone (`wav`, 440 Hz unless `hz` says), allowed without asking. */
export function launchWithMicrophone(wav, hz = 440) {
  toneWav(wav, 30, hz);
  return launch([
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${wav}`,
    '--autoplay-policy=no-user-gesture-required',
  ]);
}

/** A page logged in as `username` (`options`: the browser context's, e.g. its `timezoneId`). */
export async function loggedIn(browser, url, username, password, options = {}) {
  const page = await (await browser.newContext(options)).newPage();
  await page.goto(`${url}/login`);
  await logIn(page, username, password);
  return page;
}

/** An admin's page. */
export const asAdmin = (browser, url) => loggedIn(browser, url, 'admin', ADMIN_PASSWORD);

/** Adds a trunk on the Trunks page. */
export async function addTrunk(page, url, name, port) {
  await page.goto(`${url}/admin/trunks`);
  await hydrated(page);
  const form = page.locator('[data-testid="trunk-form"]');
  await form.locator('input[name="name"]').fill(name);
  await form.locator('input[name="host"]').fill('127.0.0.1');
  await form.locator('input[name="port"]').fill(String(port));
  await form.locator('button[type="submit"]').click();
  await page.locator(`tr[data-trunk="${name}"]`).waitFor();
}

/** Creates a script on the Scripts page. */
export async function addScript(page, url, name, body) {
  await page.goto(`${url}/admin/scripts`);
  await hydrated(page);
  const form = page.locator('[data-testid="script-form"]');
  await form.locator('input[name="name"]').fill(name);
  await form.locator('textarea[name="body"]').fill(body);
  await form.locator('button[type="submit"]').click();
  await page.locator(`tr[data-script="${name}"]`).waitFor();
}

/** Creates an agent on the Agents page. */
export async function addAgent(page, url, username, password) {
  await page.goto(`${url}/admin/agents`);
  await hydrated(page);
  const form = page.locator('[data-testid="create-agent"]');
  await form.locator('input[name="username"]').fill(username);
  await form.locator('input[name="password"]').fill(password);
  await form.locator('button[type="submit"]').click();
  await page.locator(`[data-testid="agents-table"] tr[data-agent="${username}"]`).waitFor();
}

/**
 * Creates a campaign (`kind`: auto or preview) on `trunk` with `agents` assigned, switched on,
 * with the calling window open all day; `fields` sets other inputs by name (e.g.
 * wrapup_seconds; a select gets the option with that value). Returns the overview page's URL.
 */
export async function addCampaign(page, url, { name, kind, trunk, agents, script, fields = {}, beforeActive }) {
  await page.goto(`${url}/admin/campaigns/new`);
  await hydrated(page);
  const form = page.locator('[data-testid="campaign-form"]');
  await form.locator('input[name="name"]').fill(name);
  await form.locator('select[name="kind"]').selectOption(kind);
  await form.locator('select[name="trunk_id"]').selectOption({ label: trunk });
  if (script) await form.locator('select[name="script_id"]').selectOption({ label: script });
  await form.locator('input[name="window_start"]').fill('00:00');
  await form.locator('input[name="window_end"]').fill('00:00');
  await form.locator('input[name="max_cps"]').fill('10');
  await form.locator('input[name="caller_id"]').fill('+1 202 555 0100');
  for (const [field, value] of Object.entries(fields)) {
    const input = form.locator(`[name="${field}"]`);
    if (await input.evaluate((e) => e.tagName === 'SELECT')) await input.selectOption(String(value));
    else await input.fill(String(value));
  }
  await form.locator('button[type="submit"]').click();
  await page.waitForURL(/\/admin\/campaigns\/\d+$/);
  const overview = page.url();
  await hydrated(page);
  for (const agent of agents) {
    const add = page.locator('[data-testid="add-agent"]');
    await add.locator('select[name="agent"]').selectOption({ label: agent });
    await add.locator('button[type="submit"]').click();
    await page.locator(`[data-testid="assigned-agents"] tr[data-agent="${agent}"]`).waitFor();
  }
  // (Switching it on loads it into the dialer afresh: what the test set up before is seen.)
  if (beforeActive) await beforeActive(Number(overview.match(/(\d+)$/)[1]));
  await page.locator('[data-testid="toggle-state"] button').click();
  await page.locator('[data-testid="campaign-state"]', { hasText: /^Active$/ }).waitFor();
  return overview;
}

/**
 * Creates a leadset for `campaign` and pastes `rows` into it, mapping the columns in order to
 * `columns` (lead fields: phone, status, first_name, …, or `custom:NAME` with NAME made from
 * the column's first row), from row `startRow` on (2 skips a header row).
 */
export async function addLeads(page, url, { leadset, campaign, rows, columns = ['phone', 'status', 'first_name'], startRow = 1 }) {
  await page.goto(`${url}/admin/leadsets`);
  await hydrated(page);
  const form = page.locator('[data-testid="create-leadset"]');
  await form.locator('input[name="name"]').fill(leadset);
  await form.locator('select[name="campaign_id"]').selectOption({ label: campaign });
  await form.locator('input[name="default_country"]').fill('US');
  await form.locator('button[type="submit"]').click();
  const row = page.locator(`tr[data-leadset="${leadset}"]`);
  await row.waitFor();
  const id = (await row.locator('a').first().getAttribute('href')).split('/').pop();
  await page.goto(`${url}/admin/leadsets/${id}/upload`);
  await hydrated(page);
  await page.click('[data-source="paste"]');
  await page.fill('[data-testid="lead-text"]', rows.map((r) => r.join(',')).join('\n') + '\n');
  await page.click('[data-testid="preview"]');
  await page.locator('[data-testid="preview-grid"]').waitFor();
  await page.fill('[data-testid="start-row"]', String(startRow));
  for (const [i, field] of columns.entries()) {
    await page.selectOption(`select[data-column="${i}"]`, field);
  }
  await page.click('[data-testid="upload"]');
  const done = page.locator('[data-testid="import-summary"][data-done="true"]');
  const failed = page.locator('[data-testid="import-error"]');
  await done.or(failed).first().waitFor({ timeout: 30_000 });
  if (await failed.count()) throw new Error(`upload refused: ${await failed.textContent()}`);
  return id;
}

/** Chooses `campaign` in the phone's picker (its options read "Name (Type)"). */
export async function pickCampaign(page, campaign) {
  const option = page.locator('select[name="campaign"] option', { hasText: `${campaign} (` });
  await page.locator('select[name="campaign"]').selectOption(await option.getAttribute('value'));
}

/** Opens the phone, picks `campaign`, waits for the audio leg. */
export async function openPhone(page, url, campaign) {
  await page.goto(`${url}/phone`);
  await hydrated(page);
  await pickCampaign(page, campaign);
  await page.click('[data-testid="confirm-campaign"]');
  await page.locator('[data-testid="audio-state"]', { hasText: 'Audio connected' }).waitFor({ timeout: 30_000 });
}

/** The agent's status badge text. */
export const status = (page) => page.locator('[data-testid="agent-status"]').textContent();

/** Waits until the status badge reads `text`. */
export async function waitStatus(page, text, timeout = 30_000) {
  await page.locator('[data-testid="agent-status"]', { hasText: text }).waitFor({ timeout });
}

/** Inbound audio on the phone's peer connection: packets and the highest level seen. */
export async function inboundAudio(page, forMs = 2_000) {
  let best = { packets: 0, level: 0 };
  const until = Date.now() + forMs;
  while (Date.now() < until) {
    const now = await page.evaluate(async () => {
      const stats = [...(await window.__dialerPeer.getStats()).values()];
      const inbound = stats.filter((r) => r.type === 'inbound-rtp' && r.kind === 'audio');
      return {
        packets: inbound.reduce((n, r) => n + (r.packetsReceived ?? 0), 0),
        level: Math.max(0, ...inbound.map((r) => r.audioLevel ?? 0)),
      };
    });
    best = { packets: Math.max(best.packets, now.packets), level: Math.max(best.level, now.level) };
    await new Promise((r) => setTimeout(r, 200));
  }
  return best;
}

/** Picks a disposition in the wrap-up panel, writes `notes`, presses Submit (or Submit & Pause). */
export async function dispose(page, disposition, notes = '', { pause = false } = {}) {
  const wrapup = page.locator('[data-testid="wrapup"]');
  await wrapup.waitFor();
  await wrapup.locator(`input[name="disposition"][value="${disposition}"]`).check();
  if (notes) await page.fill('[data-testid="notes"]', notes);
  await page.click(pause ? '[data-testid="submit-pause"]' : '[data-testid="submit"]');
}

/** Rows from the server's SQLite database (`server.dir/dialer.db`), as objects. */
export function query(server, sql) {
  const script = `
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.row_factory = sqlite3.Row
print(json.dumps([dict(r) for r in db.execute(sys.argv[2]).fetchall()]))`;
  const out = spawnSync('python3', ['-c', script, join(server.dir, 'dialer.db'), sql], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`query failed: ${out.stderr}`);
  return JSON.parse(out.stdout);
}

/** Runs one SQL statement that changes the test server's SQLite database. */
export function execute(server, sql) {
  const script = `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
db.execute(sys.argv[2])
db.commit()`;
  const out = spawnSync('python3', ['-c', script, join(server.dir, 'dialer.db'), sql], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`statement failed: ${out.stderr}`);
}

/** Polls `check` (which returns a truthy value when satisfied) for up to `ms`. */
export async function eventually(check, ms = 15_000, what = 'condition') {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    last = await check();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not met within ${ms} ms (last: ${JSON.stringify(last)})`);
}
