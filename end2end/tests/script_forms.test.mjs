// A script in steps with a form: the admin writes a two-branch script with two form fields in
// the editor, following it in the live preview on the sample lead (a placeholder that is no
// lead field is refused on save). On a call (sipp is the customer's carrier, answering and
// echoing) the agent follows one branch from the keyboard, goes Back and on again, sees a
// blank where the lead has no value, and is stopped at Submit while the required field is
// empty; with the form filled the disposition goes through. The values show in the agent's
// call history, on the lead's page and in the calls report's CSV.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { hydrated } from '../lib/browser.mjs';
import {
  addAgent, addCampaign, addLeads, addTrunk, asAdmin, dispose, loggedIn, openPhone, query, stage, waitStatus,
} from '../lib/dialer.mjs';

const BODY = [
  '# start: Greeting',
  'Hello {first_name} from {city}, are you interested in our offer?',
  '> Interested -> offer',
  '> Not now -> objection',
  '# offer: Offer',
  'Our plan is 20 a month. How much do you spend now?',
  '> Done',
  '# objection: Objection',
  'May I ask what holds you back?',
  '> Done',
].join('\n');
const FORM = 'budget | Monthly budget | number | required\nproduct | Product | choice: Basic, Gold';

let staged;
let server;
let browser;

before(async () => {
  staged = await stage('script-forms');
  ({ server, browser } = staged);
  const admin = await asAdmin(browser, server.url);
  await addTrunk(admin, server.url, 'Echo', staged.carrier.port);
  await addAgent(admin, server.url, 'ivy', 'ivy-pass-1');
  await admin.close();
});

after(async () => {
  await staged?.stop();
});

test('an admin builds a script with branches and a form; the agent follows it and the values are kept', async () => {
  const admin = await asAdmin(browser, server.url);
  await admin.goto(`${server.url}/admin/scripts`);
  await hydrated(admin);
  const editor = admin.locator('[data-testid="script-form"]');
  await editor.locator('input[name="name"]').fill('Offer');
  // A misspelt placeholder: refused on save, saying which.
  await editor.locator('textarea[name="body"]').fill('Hello {frist_name}');
  await editor.locator('button[type="submit"]').click();
  await admin.locator('[data-field-error="body"]', { hasText: '{frist_name} is not a lead field' }).waitFor();

  // The live preview follows the script as it is written, on the sample lead.
  await editor.locator('textarea[name="body"]').fill(BODY);
  await editor.locator('textarea[name="form"]').fill(FORM);
  const live = admin.locator('[data-testid="script-live"]');
  assert.equal(await live.locator('[data-testid="script-step"]').textContent(), 'Greeting');
  assert.equal(await live.locator('[data-testid="script-preview"]').textContent(),
    'Hello Ada from London, are you interested in our offer?');
  await live.locator('button[data-answer="Not now"]').click();
  assert.equal(await live.locator('[data-testid="script-step"]').textContent(), 'Objection');
  await live.locator('[data-testid="script-back"]').click();
  assert.equal(await live.locator('[data-testid="script-step"]').textContent(), 'Greeting');
  assert.equal(await live.locator('[data-form-field]').count(), 2, 'the form, previewed');
  await editor.locator('button[type="submit"]').click();
  await admin.locator('tr[data-script="Offer"]').waitFor();
  await addCampaign(admin, server.url, { name: 'Offers', kind: 'auto', trunk: 'Echo', agents: ['ivy'], script: 'Offer' });
  await addLeads(admin, server.url, { leadset: 'Offer leads', campaign: 'Offers', rows: [['2025550181', 'NEW', 'Hope']] });

  // On the call: the first step, with a blank where the lead has no city.
  const page = await loggedIn(browser, server.url, 'ivy', 'ivy-pass-1');
  await openPhone(page, server.url, 'Offers');
  await page.click('[data-testid="ready"]');
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  const panel = page.locator('[data-testid="script-panel"]');
  assert.equal(await panel.locator('[data-testid="script-step"]').textContent(), 'Greeting');
  assert.match(await panel.locator('[data-testid="script"]').textContent(), /^Hello Hope from \s+, are you/);
  assert.equal(await panel.locator('[data-testid="script"] [data-blank="city"]').count(), 1);
  assert.doesNotMatch(await panel.textContent(), /\{city\}/);

  // The keyboard follows a branch; Back returns; on again.
  await panel.locator('button[data-answer="Interested"]').focus();
  await page.keyboard.press('Enter');
  assert.equal(await panel.locator('[data-testid="script-step"]').textContent(), 'Offer');
  await panel.locator('[data-testid="script-back"]').focus();
  await page.keyboard.press('Enter');
  assert.equal(await panel.locator('[data-testid="script-step"]').textContent(), 'Greeting');
  await panel.locator('button[data-answer="Interested"]').click();
  assert.equal(await panel.locator('[data-testid="script-step"]').textContent(), 'Offer');
  await panel.locator('select[name="product"]').selectOption('Gold');

  // The required budget left empty: Submit is stopped with the reason next to the field.
  await page.click('[data-testid="hangup"]');
  await dispose(page, 'SALE MADE', 'Happy customer', { pause: true });
  await panel.locator('[data-field-error="budget"]', { hasText: 'Fill in “Monthly budget”.' }).waitFor();
  assert.equal(query(server, "SELECT COUNT(*) AS n FROM call_attempts WHERE disposition IS NOT NULL")[0].n, 0, 'nothing saved');
  await panel.locator('input[name="budget"]').fill('120');
  await page.click('[data-testid="submit-pause"]');
  await waitStatus(page, 'Paused');
  const [stored] = query(server, 'SELECT form FROM call_attempts WHERE disposition IS NOT NULL');
  assert.deepEqual(JSON.parse(stored.form), { budget: '120', product: 'Gold' });

  // The agent's call history shows the values with the notes.
  await page.click('[data-testid="call-history-toggle"]');
  const line = page.locator('[data-testid="call-history-table"] tbody tr').first();
  await line.waitFor({ timeout: 10_000 });
  assert.match(await line.locator('.notes').textContent(), /Happy customer.*budget: 120.*product: Gold/s);
  await page.close();

  // The lead's page lists the call with its values; the CSV export has them in its form column.
  const [{ id }] = query(server, "SELECT id FROM leads WHERE phone = '+12025550181'");
  await admin.goto(`${server.url}/admin/leads/${id}`);
  await hydrated(admin);
  assert.match(await admin.textContent('[data-testid="lead-calls"]'), /SALE MADE.*Happy customer.*budget: 120.*product: Gold/s);
  const csv = await admin.request.get(`${server.url}/admin/calls.csv`);
  assert.equal(csv.status(), 200);
  const lines = (await csv.text()).trim().split('\r\n');
  assert.equal(lines.length, 2);
  const header = cells(lines[0]);
  const row = Object.fromEntries(cells(lines[1]).map((value, i) => [header[i], value]));
  assert.equal(row.disposition, 'SALE MADE');
  assert.equal(row.notes, 'Happy customer');
  assert.equal(row.form, 'budget: 120; product: Gold');
  assert.equal(row.key_outcome, '', 'no key pressed: not a broadcast call');
  await admin.close();
});

/** A CSV line's cells (a quoted cell may hold commas and doubled quotes). */
function cells(line) {
  const out = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted && c === '"' && line[i + 1] === '"') {
      cell += '"';
      i++;
    } else if (c === '"') {
      quoted = !quoted;
    } else if (c === ',' && !quoted) {
      out.push(cell);
      cell = '';
    } else {
      cell += c;
    }
  }
  out.push(cell);
  return out;
}
