// The CRM integration end to end: an admin sets a campaign's CRM address template and webhook
// on its CRM page (a bad template is refused with its reason first); an agent's call (sipp as
// the carrier) opens the lead's record in the phone's CRM panel — a page served by this test,
// which records what it was asked for — and the webhook receiver (this test too) gets the
// call's events signed with the campaign's secret, the first one only on its retry after a
// 500; the delivery log shows them. Both pages pass the accessibility check.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { hydrated } from '../lib/browser.mjs';
import { check } from '../lib/axe.mjs';
import {
  addAgent, addCampaign, addLeads, addTrunk, asAdmin, dispose, echoUas, eventually,
  launchWithMicrophone, loggedIn, openPhone, query,
} from '../lib/dialer.mjs';

const SECRET = 'e2e-webhook-secret-0123';

let server;
let browser;
let echo;
let dir;
let crm;
let hook;
/** What the CRM page was asked for: each request's URL. */
const crmRequests = [];
/** What the webhook receiver got: { headers, body } per request. */
const deliveries = [];
/** The receiver's answers, in order, then 200. */
const hookAnswers = [500];

/** An HTTP server on a free loopback port. */
async function listen(handler) {
  const s = createServer(handler);
  await new Promise((ok) => s.listen(0, '127.0.0.1', ok));
  return s;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-crm-'));
  // The CRM: shows the customer it is asked for (the name from the query).
  crm = await listen((req, res) => {
    crmRequests.push(req.url);
    const name = new URL(req.url, 'http://crm').searchParams.get('name') ?? '';
    const safe = name.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="en"><title>CRM</title><h1>Customer ${safe}</h1></html>`);
  });
  hook = await listen((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body });
      res.writeHead(hookAnswers.shift() ?? 200).end();
    });
  });
  // Webhooks may go to loopback (as lead URLs may, with the same setting).
  server = await startServer({ DIALER_IMPORT_ALLOW_NETWORKS: '127.0.0.0/8' });
  echo = await echoUas();
  browser = await launchWithMicrophone(join(dir, 'tone.wav'));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await echo?.stop();
  crm?.close();
  hook?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Whether a delivery's signature is HMAC-SHA256 of `timestamp.body` with `secret`. */
function signedWith(d, secret) {
  const mac = createHmac('sha256', secret).update(`${d.headers['x-dialer-timestamp']}.${d.body}`).digest('hex');
  return d.headers['x-dialer-signature'] === `sha256=${mac}`;
}

test('the CRM panel opens the lead in the CRM; the webhook gets signed call events, retried after a 500; the log shows them', async () => {
  const admin = await asAdmin(browser, server.url);
  await addTrunk(admin, server.url, 'Echo', echo.port);
  await addAgent(admin, server.url, 'crm-agent', 'crm-agent-pass');
  const overview = await addCampaign(admin, server.url, {
    name: 'Acme CRM', kind: 'auto', trunk: 'Echo', agents: ['crm-agent'],
  });
  await addLeads(admin, server.url, {
    leadset: 'Acme leads',
    campaign: 'Acme CRM',
    rows: [['phone', 'status', 'first_name', 'plan'], ['2025550101', 'NEW', 'Zoë & Co', 'Gold/Plus']],
    columns: ['phone', 'status', 'first_name', 'custom:plan'],
    startRow: 2,
  });
  const [lead] = query(server, "SELECT id FROM leads WHERE phone = '+12025550101'");

  // The campaign's CRM page, from its overview.
  await admin.goto(overview);
  await hydrated(admin);
  await admin.click('[data-testid="crm-link"]');
  await admin.waitForURL(/\/crm$/);
  await hydrated(admin);
  const placeholders = await admin.textContent('[data-testid="crm-placeholders"]');
  assert.match(placeholders, /\{lead_id\}.*\{phone\}.*\{first_name\}.*\{plan\}/, 'the custom field is offered');
  const form = admin.locator('[data-testid="crm-form"]');
  const crmUrl = `http://127.0.0.1:${crm.address().port}`;
  const hookUrl = `http://127.0.0.1:${hook.address().port}/hook`;
  // A typo: refused with its reason, nothing saved.
  await form.locator('input[name="url_template"]').fill(`${crmUrl}/customer?name={frist_name}`);
  await form.locator('input[name="webhook_url"]').fill(hookUrl);
  await form.locator('input[name="webhook_secret"]').fill(SECRET);
  await admin.click('[data-testid="crm-save"]');
  const error = admin.locator('.field-error[data-field="url_template"]');
  await error.waitFor();
  assert.match(await error.textContent(), /\{frist_name\} is not a lead field/);
  assert.deepEqual(query(server, 'SELECT * FROM campaign_crm'), [], 'nothing saved');
  // Fixed: saved, and the secret is stored but not shown.
  const template = `${crmUrl}/customer?phone={phone}&lead={lead_id}&name={first_name}&plan={plan}&mail={email}`;
  await form.locator('input[name="url_template"]').fill(template);
  await admin.click('[data-testid="crm-save"]');
  await admin.locator('.banner.ok', { hasText: 'CRM settings saved' }).waitFor();
  await admin.locator('[data-testid="crm-secret-hint"]', { hasText: 'A secret is stored' }).waitFor();
  assert.equal(await admin.locator('input[name="webhook_secret"]').inputValue(), '');
  const [stored] = query(server, 'SELECT * FROM campaign_crm');
  assert.equal(stored.url_template, template);
  assert.equal(stored.webhook_url, hookUrl);

  // The agent's call: the CRM panel opens the lead's record, its values URL-encoded.
  const page = await loggedIn(browser, server.url, 'crm-agent', 'crm-agent-pass');
  await openPhone(page, server.url, 'Acme CRM');
  await page.click('[data-testid="ready"]');
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  const frame = page.locator('[data-testid="crm-frame"]');
  const src = await frame.getAttribute('src');
  assert.equal(
    src,
    `${crmUrl}/customer?phone=%2B12025550101&lead=${lead.id}&name=Zo%C3%AB%20%26%20Co&plan=Gold%2FPlus&mail=`,
  );
  assert.equal(await frame.getAttribute('sandbox'), 'allow-scripts allow-forms allow-same-origin allow-popups');
  const open = page.locator('[data-testid="crm-open"]');
  assert.equal(await open.getAttribute('href'), src, 'the same page opens in a new tab');
  assert.equal(await open.getAttribute('target'), '_blank');
  // The CRM got exactly the lead's values, and the panel shows its page.
  await eventually(() => crmRequests.length > 0, 15_000, 'the CRM asked for the customer');
  const asked = new URL(crmRequests[0], crmUrl).searchParams;
  assert.deepEqual(Object.fromEntries(asked), {
    phone: '+12025550101', lead: String(lead.id), name: 'Zoë & Co', plan: 'Gold/Plus', mail: '',
  });
  await page.frameLocator('[data-testid="crm-frame"]').locator('h1', { hasText: 'Customer Zoë & Co' }).waitFor();
  await check(page, 'the phone on a call with its CRM panel');

  // Hang up and submit a sale: the webhook hears of the answer (refused once, then retried)
  // and of the end, each signed with the campaign's secret.
  await page.click('[data-testid="hangup"]');
  await dispose(page, 'SALE MADE', 'Wants the yearly plan');
  await eventually(() => deliveries.length >= 3, 30_000, 'three requests to the webhook');
  for (const d of deliveries) {
    assert.ok(signedWith(d, SECRET), `signed: ${JSON.stringify(d.headers)}`);
    assert.ok(!signedWith(d, 'some-other-secret-0123'));
    assert.equal(d.headers['content-type'], 'application/json');
    assert.equal(JSON.parse(d.body).event, d.headers['x-dialer-event']);
  }
  const [first, retry] = deliveries.filter((d) => d.headers['x-dialer-event'] === 'call.answered');
  const ended = deliveries.find((d) => d.headers['x-dialer-event'] === 'call.ended');
  assert.ok(first && retry && ended, 'the answer twice (refused, then taken) and the end');
  assert.equal(deliveries.length, 3);
  assert.equal(retry.headers['x-dialer-delivery'], first.headers['x-dialer-delivery'], 'the retry is the same delivery');
  assert.equal(retry.body, first.body, 'with the same body');
  const answered = JSON.parse(first.body);
  assert.equal(answered.campaign.name, 'Acme CRM');
  assert.equal(answered.lead.first_name, 'Zoë & Co');
  assert.equal(answered.lead.custom.plan, 'Gold/Plus');
  assert.equal(answered.call.agent, 'crm-agent');
  const end = JSON.parse(ended.body);
  assert.equal(end.call.disposition, 'SALE MADE');
  assert.equal(end.call.notes, 'Wants the yearly plan');
  assert.equal(end.call.attempt_id, answered.call.attempt_id);

  // The delivery log on the CRM page: both delivered, the answer on its second try.
  await admin.reload();
  await hydrated(admin);
  const log = admin.locator('[data-testid="deliveries"]');
  await log.waitFor();
  const answeredRow = log.locator('tr[data-event="call.answered"]');
  const endedRow = log.locator('tr[data-event="call.ended"]');
  assert.equal(await answeredRow.getAttribute('data-state'), 'delivered');
  assert.equal(await answeredRow.locator('[data-testid="delivery-tries"]').textContent(), '2');
  assert.equal(await answeredRow.locator('[data-testid="delivery-result"]').textContent(), '200');
  assert.equal(await endedRow.getAttribute('data-state'), 'delivered');
  assert.equal(await endedRow.locator('[data-testid="delivery-tries"]').textContent(), '1');
  assert.match(await log.textContent(), new RegExp(hookUrl.replaceAll('.', '\\.')));
  await check(admin, 'the CRM page with its delivery log');
  await page.context().close();
  await admin.context().close();
});
