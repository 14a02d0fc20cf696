// Leadsets, lead upload (file with a header row and bad rows, pasted text, URL from a local
// HTTP server), adding and editing a lead, the leadset's stats, its state, and the DNC list —
// as an admin does it in the browser.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { ADMIN_PASSWORD, startServer } from '../lib/server.mjs';
import { hydrated, launch, logIn } from '../lib/browser.mjs';

let server;
let browser;
let files;
let filesUrl;

before(async () => {
  // The lead file the URL upload fetches, from a server on loopback (allowed by the setting).
  files = createServer((req, res) => {
    if (req.url === '/leads.csv') {
      res.writeHead(200, { 'content-type': 'text/csv' });
      res.end('phone,status,last_name\n2025550160,NEW,Url\n2025550161,NEW,Url\n');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((ok) => files.listen(0, '127.0.0.1', ok));
  filesUrl = `http://127.0.0.1:${files.address().port}`;
  server = await startServer({ DIALER_IMPORT_ALLOW_NETWORKS: '127.0.0.1/32' });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  files?.close();
});

/** The number in a stats tile. */
async function stat(page, key) {
  return Number(await page.locator(`[data-stat="${key}"] .stat-value`).textContent());
}

/**
 * Previews, checks the page's guess (`guessed`: the start row and each column's target),
 * changes the mapping where asked and uploads; returns the finished summary text.
 */
async function previewAndUpload(page, { startRow, columns, guessed }) {
  await page.click('[data-testid="preview"]');
  await page.locator('[data-testid="preview-grid"]').waitFor();
  if (guessed) {
    assert.equal(await page.inputValue('[data-testid="start-row"]'), String(guessed.startRow), 'guessed start row');
    for (const [i, target] of Object.entries(guessed.columns)) {
      assert.equal(await page.inputValue(`select[data-column="${i}"]`), target, `guessed column ${i}`);
    }
  }
  if (startRow !== undefined) await page.fill('[data-testid="start-row"]', String(startRow));
  for (const [i, target] of Object.entries(columns)) {
    await page.selectOption(`select[data-column="${i}"]`, target);
  }
  await page.click('[data-testid="upload"]');
  const summary = page.locator('[data-testid="import-summary"][data-done="true"]');
  await summary.waitFor({ timeout: 30_000 });
  return summary.textContent();
}

test('an admin builds a leadset: create, upload three ways, add and edit leads, stats, state, DNC', async () => {
  // The campaign the leadset belongs to (its pages are another part of the admin portal).
  execFileSync('sqlite3', [
    `${server.dir}/dialer.db`,
    "INSERT INTO campaigns (name, kind, created_at, updated_at) VALUES ('E2E campaign', 'auto', 0, 0); " +
      "INSERT INTO campaign_statuses (campaign_id, status) SELECT id, 'NEW' FROM campaigns WHERE name = 'E2E campaign'",
  ]);
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${server.url}/admin/leadsets`);
  await logIn(page, 'admin', ADMIN_PASSWORD);
  assert.equal(new URL(page.url()).pathname, '/admin/leadsets');
  await hydrated(page);

  // Create a leadset; a duplicate name is refused with a message.
  const form = page.locator('[data-testid="create-leadset"]');
  await form.locator('input[name="name"]').fill('E2E list');
  await form.locator('select[name="campaign_id"]').selectOption({ label: 'E2E campaign' });
  await form.locator('input[name="default_country"]').fill('US');
  await form.locator('button[type="submit"]').click();
  await page.getByText('Leadset created.').waitFor();
  const row = page.locator('tr[data-leadset="E2E list"]');
  await row.waitFor();
  assert.match(await row.textContent(), /E2E campaign/);
  await form.locator('input[name="name"]').fill('e2e LIST');
  await form.locator('button[type="submit"]').click();
  await page.getByText('Another leadset has this name. Choose another.').waitFor();

  const href = await row.locator('a').first().getAttribute('href');
  const id = href.split('/').pop();

  // Upload a CSV file: a header row (start row 2), mapped columns, bad rows reported.
  await page.goto(`${server.url}/admin/leadsets/${id}/upload`);
  await hydrated(page);
  assert.match(await page.textContent('[data-testid="upload-target"]'), /Into the leadset E2E list \(campaign E2E campaign\), which has 0 leads now/);
  const csv = [
    'Phone,Status,First name,City,Plan',
    '(202) 555-0100,NEW,Ada,London,Gold',
    '202-555-0101,new,Bob,Paris,',
    '12,NEW,Short,Nowhere,',
    '2025550102,,NoStatus,Rome,',
    '+1 202 555 0100,NEW,Dup,London,',
    '2025550103,READY,<b>Carl</b>,Oslo,Silver',
  ].join('\r\n');
  await page.setInputFiles('[data-testid="lead-file"]', {
    name: 'leads.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from(csv),
  });
  const fileSummary = await previewAndUpload(page, {
    guessed: { startRow: 2, columns: { 0: 'phone', 1: 'status', 2: 'first_name', 3: 'city', 4: 'ignore' } },
    columns: { 4: 'custom:plan' },
  });
  assert.match(fileSummary, /7 rows read, 3 imported, 1 duplicates, 2 rejected/);
  const errors = await page.locator('[data-testid="import-errors"] tbody tr').allTextContents();
  assert.equal(errors.length, 3, errors.join(' | '));
  assert.ok(errors.some((e) => e.startsWith('4') && e.includes('12')), errors.join(' | '));
  assert.ok(errors.some((e) => e.startsWith('5')), errors.join(' | '));
  assert.ok(errors.some((e) => e.startsWith('6') && /Duplicate/.test(e)), errors.join(' | '));
  const report = await page.request.get(
    new URL(await page.locator('[data-testid="error-csv"]').getAttribute('href'), server.url).href,
  );
  assert.equal(report.status(), 200);
  assert.match(await report.text(), /^row,value,reason\r\n4,12,/);

  // Upload pasted text: no header, so it starts at row 1.
  await page.click('[data-source="paste"]');
  await page.fill('[data-testid="lead-text"]', '2025550150;NEW\n2025550151;NEW\n');
  const pasteSummary = await previewAndUpload(page, { guessed: { startRow: 1, columns: { 0: 'phone', 1: 'status' } }, columns: {} });
  assert.match(pasteSummary, /2 imported, 0 duplicates, 0 rejected/);

  // Upload by URL: the server fetches the file.
  await page.click('[data-source="url"]');
  await page.fill('[data-testid="lead-url"]', `${filesUrl}/leads.csv`);
  const urlSummary = await previewAndUpload(page, { columns: { 0: 'phone', 1: 'status', 2: 'last_name' } });
  assert.match(urlSummary, /2 imported/);
  // A URL outside the allowed network is refused with a message.
  await page.fill('[data-testid="lead-url"]', `http://127.0.0.2:${files.address().port}/leads.csv`);
  await page.click('[data-testid="preview"]');
  await page.locator('[data-testid="upload-error"]').getByText(/private, loopback or link-local/).waitFor();

  // The leadset page shows the leads and the stats.
  await page.goto(`${server.url}/admin/leadsets/${id}`);
  await hydrated(page);
  // The campaign takes NEW leads: the READY one is held back.
  assert.equal(await stat(page, 'total'), 7);
  assert.equal(await stat(page, 'dialable'), 6);
  assert.equal(await stat(page, 'held_back'), 1);
  assert.equal(await stat(page, 'remaining'), 6);
  assert.match(await page.locator('[data-testid="lead-count"]').textContent(), /^7 leads/);
  assert.match(await page.locator('tr[data-phone="+12025550103"]').textContent(), /<b>Carl<\/b>/, 'markup shown as text');

  // Add a lead by form; a bad number is refused with a message.
  const add = page.locator('[data-testid="add-lead"]');
  await add.locator('input[name="phone"]').fill('12');
  await add.locator('button[type="submit"]').click();
  await page.getByRole('alert').getByText(/phone number/i).waitFor();
  await add.locator('input[name="phone"]').fill('(202) 555-0199');
  await add.locator('input[name="first_name"]').fill('Formy');
  await add.locator('button[type="submit"]').click();
  await page.locator('tr[data-phone="+12025550199"]').waitFor();
  await page.waitForFunction(() => document.querySelector('[data-stat="total"] .stat-value')?.textContent === '8');

  // Edit it.
  const lead = page.locator('tr[data-phone="+12025550199"]');
  await lead.locator('summary').click();
  await lead.locator('input[name="first_name"]').fill('Edited');
  await lead.locator('input[name="city"]').fill('Boston');
  await lead.locator('button[type="submit"]').click();
  await page.waitForFunction(() => /Edited/.test(document.querySelector('tr[data-phone="+12025550199"]')?.textContent ?? ''));
  assert.match(await page.locator('tr[data-phone="+12025550199"]').textContent(), /Boston/);

  // Search.
  await page.fill('input[name="q"]', 'edited');
  await Promise.all([page.waitForURL(/q=edited/), page.press('input[name="q"]', 'Enter')]);
  await page.waitForFunction(() => /^1 leads/.test(document.querySelector('[data-testid="lead-count"]')?.textContent ?? ''));

  // Toggle the state.
  await hydrated(page);
  assert.equal(await page.locator('[data-testid="leadset-state"]').textContent(), 'Active');
  await page.click('[data-testid="toggle-state"]');
  await page.waitForFunction(() => document.querySelector('[data-testid="leadset-state"]')?.textContent === 'Inactive');

  // DNC: add (with a bad line reported), search, remove.
  await page.goto(`${server.url}/admin/dnc`);
  await hydrated(page);
  const dnc = page.locator('[data-testid="add-dnc"]');
  await dnc.locator('textarea[name="numbers"]').fill('202-555-0177\n+44 20 7946 0958\nnot a number\n');
  await dnc.locator('button[type="submit"]').click();
  assert.equal(
    await page.locator('[data-testid="dnc-report"]').textContent({ timeout: 10_000 }),
    '2 added, 0 already listed, 1 not numbers.',
  );
  await page.locator('tr[data-phone="+12025550177"]').waitFor();
  await page.fill('input[name="q"]', '4420');
  await Promise.all([page.waitForURL(/q=4420/), page.press('input[name="q"]', 'Enter')]);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="dnc-table"] tbody tr').length === 1);
  await hydrated(page);
  await page.locator('tr[data-phone="+442079460958"] button').click();
  await page.getByText('No numbers.').waitFor();
  await page.goto(`${server.url}/admin/dnc`);
  assert.equal(await page.locator('[data-testid="dnc-table"] tbody tr').count(), 1);
  await ctx.close();
});
