// The agent's call history and a lead's earlier notes: a call is disposed as CALL BACK due in
// five seconds with a note; the callback brings the same lead back, with that note shown
// beside it; after a sale, the history lists both calls, newest first, with their notes. sipp
// is the customer's carrier (answering and echoing).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addAgent, addCampaign, addLeads, addScript, addTrunk, asAdmin, dispose, loggedIn, openPhone, waitStatus, stage,
} from '../lib/dialer.mjs';

let staged;
let server;
let browser;

before(async () => {
  staged = await stage('history');
  ({ server, browser } = staged);
  const admin = await asAdmin(browser, server.url);
  await addTrunk(admin, server.url, 'Echo', staged.carrier.port);
  await addScript(admin, server.url, 'Hi', 'Hello {first_name}.');
  await addAgent(admin, server.url, 'hal', 'hal-pass-1');
  await addCampaign(admin, server.url, { name: 'History', kind: 'auto', trunk: 'Echo', agents: ['hal'], script: 'Hi' });
  await addLeads(admin, server.url, { leadset: 'History leads', campaign: 'History', rows: [['2025550181', 'NEW', 'Hope']] });
  await admin.close();
});

after(async () => {
  await staged?.stop();
});

test('call history with notes, and the notes of a lead\'s earlier calls on its next call', async () => {
  const page = await loggedIn(browser, server.url, 'hal', 'hal-pass-1');
  await openPhone(page, server.url, 'History');
  await page.click('[data-testid="ready"]');
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  assert.equal(await page.locator('[data-testid="lead-notes"]').count(), 0, 'a first call has no earlier notes');
  await page.click('[data-testid="hangup"]');
  const wrapup = page.locator('[data-testid="wrapup"]');
  await wrapup.waitFor();
  await wrapup.locator('input[name="disposition"][value="CALL BACK"]').check();
  // Due in five seconds, in the browser's time zone (with seconds: the field keeps them).
  const now = await page.evaluate(() => {
    const d = new Date(Date.now() + 5_000);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  });
  await page.fill('[data-testid="callback-at"]', now);
  await page.fill('[data-testid="notes"]', 'Call after six, ask for Hope');
  await page.click('[data-testid="submit"]');

  // The callback brings Hope back, with the note of the first call beside her.
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  const notes = page.locator('[data-testid="lead-notes"]');
  await notes.waitFor({ timeout: 10_000 });
  assert.match(await notes.textContent(), /Call after six, ask for Hope/);
  assert.match(await notes.textContent(), /CALL BACK/);
  await page.click('[data-testid="hangup"]');
  await dispose(page, 'SALE MADE', 'Two units', { pause: true });
  await waitStatus(page, 'Paused');

  await page.click('[data-testid="call-history-toggle"]');
  const rows = page.locator('[data-testid="call-history-table"] tbody tr');
  await rows.nth(1).waitFor({ timeout: 10_000 });
  const lines = await rows.evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  assert.equal(lines.length, 2);
  // Newest first: time, number, lead, duration, outcome, disposition, notes.
  for (const [i, [disposition, note]] of [['SALE MADE', 'Two units'], ['CALL BACK', 'Call after six, ask for Hope']].entries()) {
    const [time, number, lead, duration, outcome, disp, text] = lines[i];
    assert.match(time, /^\d\d:\d\d:\d\d$/);
    assert.equal(number, '+12025550181');
    assert.equal(lead, 'Hope');
    assert.match(duration, /^\d\d:\d\d$/);
    assert.equal(outcome, 'Answered');
    assert.equal(disp, disposition);
    assert.equal(text, note);
  }
  assert.ok(lines[0][0] >= lines[1][0], 'newest first');
  assert.match(await page.textContent('[data-testid="call-history"]'), /Page 1 of 1 \(2 calls\)/);
  await page.close();
});
