// Correcting a lead from the phone: on a call (sipp is the customer's carrier, answering and
// echoing) the agent opens Edit lead, corrects the name and the email and sees them at once;
// a number that is not one is refused with a message and changes nothing; a reload keeps
// the corrections; in wrap-up the city is corrected too. An admin then finds the audit rows
// on the lead's page, reached from the leadset's data, and the lead the agent flagged as
// having invalid details through the leadset's filter.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { hydrated } from '../lib/browser.mjs';
import {
  addAgent, addCampaign, addLeads, addScript, addTrunk, asAdmin, dispose, eventually, loggedIn, openPhone, query,
  stage, waitStatus,
} from '../lib/dialer.mjs';

let staged;
let server;
let browser;
let leadset;

before(async () => {
  staged = await stage('lead-edit');
  ({ server, browser } = staged);
  const admin = await asAdmin(browser, server.url);
  await addTrunk(admin, server.url, 'Echo', staged.carrier.port);
  await addAgent(admin, server.url, 'eve', 'eve-pass-1');
  await addScript(admin, server.url, 'Greeting', 'Good morning {first_name}, this is Eve.');
  await addCampaign(admin, server.url, { name: 'Corrections', kind: 'auto', trunk: 'Echo', agents: ['eve'], script: 'Greeting' });
  leadset = await addLeads(admin, server.url, { leadset: 'Corrections leads', campaign: 'Corrections', rows: [['2025550181', 'NEW', 'Hope']] });
  await admin.close();
});

after(async () => {
  await staged?.stop();
});

/** Opens Edit lead, fills `fields` (input name → value), presses Save. */
async function editLead(page, fields) {
  await page.click('[data-testid="edit-lead"]');
  const form = page.locator('[data-testid="lead-edit-form"]');
  await form.waitFor();
  for (const [name, value] of Object.entries(fields)) {
    await form.locator(`input[name="${name}"]`).fill(value);
  }
  await form.locator('[data-testid="lead-save"]').click();
}

test('the agent corrects the lead on the call and in wrap-up; an admin reads every change', async () => {
  const page = await loggedIn(browser, server.url, 'eve', 'eve-pass-1');
  await openPhone(page, server.url, 'Corrections');
  await page.click('[data-testid="ready"]');
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  const card = page.locator('[data-testid="lead-card"]');
  assert.match(await card.textContent(), /Hope/);

  // The keyboard opens the form on its first field; Esc closes it with nothing sent.
  await page.click('[data-testid="edit-lead"]');
  await eventually(() => page.evaluate(() => document.activeElement?.getAttribute('name') === 'phone'), 5_000, 'focus on the first field');
  await page.keyboard.press('Escape');
  await page.locator('[data-testid="lead-edit-form"]').waitFor({ state: 'detached' });

  // A number that is not one: refused, with the reason, and nothing changes.
  await editLead(page, { phone: '12', first_name: 'Nobody' });
  await page.locator('[data-testid="lead-edit-form"] [role="alert"]', { hasText: /phone number/i }).waitFor();
  await page.click('[data-testid="lead-cancel"]');
  assert.match(await card.textContent(), /Hope/);
  assert.equal(query(server, 'SELECT COUNT(*) AS n FROM lead_edits')[0].n, 0);

  // Name and email corrected: shown at once, and still after a reload.
  await editLead(page, { first_name: 'Hopeful', last_name: 'Lovelace', email: 'hope@example.com' });
  await page.locator('[data-testid="lead-saved"]').waitFor();
  await page.locator('[data-testid="lead-card"] h2', { hasText: 'Hopeful Lovelace' }).waitFor();
  assert.match(await card.textContent(), /hope@example\.com/);
  // The script reads the corrected name at once, as it does after a reload.
  await page.locator('[data-testid="script"]', { hasText: 'Good morning Hopeful, this is Eve.' }).waitFor();
  await page.reload();
  await hydrated(page);
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 15_000 });
  await page.locator('[data-testid="lead-card"] h2', { hasText: 'Hopeful Lovelace' }).waitFor();
  assert.match(await card.textContent(), /hope@example\.com/);
  await page.locator('[data-testid="script"]', { hasText: 'Good morning Hopeful, this is Eve.' }).waitFor();

  // In wrap-up too; then the disposition, flagging the details as invalid.
  await page.locator('[data-testid="audio-state"]', { hasText: 'Audio connected' }).waitFor({ timeout: 30_000 });
  await page.click('[data-testid="hangup"]');
  await page.locator('[data-testid="wrapup"]').waitFor();
  await editLead(page, { city: 'Arlington' });
  await page.locator('[data-testid="lead-saved"]').waitFor();
  assert.match(await card.textContent(), /Arlington/);
  await page.locator('[data-testid="wrapup"] label', { hasText: 'Invalid details' }).locator('input').check();
  await dispose(page, 'SALE MADE', '', { pause: true });
  await waitStatus(page, 'Paused');
  const rows = query(server, 'SELECT field, old_value, new_value FROM lead_edits ORDER BY id');
  assert.deepEqual(rows.map((r) => [r.field, r.old_value, r.new_value]), [
    ['first_name', 'Hope', 'Hopeful'],
    ['last_name', '', 'Lovelace'],
    ['email', '', 'hope@example.com'],
    ['city', '', 'Arlington'],
  ]);
  await page.close();

  // The admin: the leadset counts the lead with invalid details and lists it on its own; its
  // page shows each change, newest first.
  const admin = await asAdmin(browser, server.url);
  await admin.goto(`${server.url}/admin/leadsets/${leadset}`);
  await hydrated(admin);
  await eventually(async () => /1 lead with invalid details/.test(await admin.textContent('[data-testid="invalid-count"]')), 10_000, 'the invalid-details count');
  await admin.click('[data-testid="invalid-filter"]');
  await admin.waitForURL(/invalid=1/);
  await hydrated(admin);
  const lines = admin.locator('[data-testid="leads-table"] tbody tr');
  await eventually(async () => (await lines.count()) === 1, 10_000, 'one flagged lead listed');
  assert.match(await lines.first().textContent(), /Invalid details/);
  await lines.first().locator('a', { hasText: 'History' }).click();
  await admin.waitForURL(/\/admin\/leads\/\d+$/);
  await hydrated(admin);
  const edits = admin.locator('[data-testid="lead-edits"] tbody tr');
  await edits.first().waitFor();
  const table = await edits.evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  assert.deepEqual(table.map(([, who, field, before, after]) => [who, field, before, after]), [
    ['eve', 'City', '', 'Arlington'],
    ['eve', 'Email', '', 'hope@example.com'],
    ['eve', 'Last name', '', 'Lovelace'],
    ['eve', 'First name', 'Hope', 'Hopeful'],
  ]);
  assert.match(table[0][0], /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
  await admin.locator('[data-testid="lead-invalid"]').waitFor();
  await admin.close();
});
