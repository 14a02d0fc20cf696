// Logging in, throttling, user administration and role checks, as people do it in a browser.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, startServer } from '../lib/server.mjs';
import { hydrated, launch, logIn } from '../lib/browser.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('admin logs in, is throttled on a wrong user, creates an agent who cannot open admin pages', async () => {
  const adminCtx = await browser.newContext();
  const page = await adminCtx.newPage();

  // Visitors land on the login page.
  await page.goto(`${server.url}/admin/users`);
  assert.match(page.url(), /\/login\?next=\/admin\/users$/);

  // A wrong password says so.
  await logIn(page, 'admin', 'not-the-password');
  assert.equal(await page.textContent('[data-testid="login-error"]'), 'Wrong username or password.');
  assert.equal(await page.inputValue('input[name="username"]'), 'admin', 'username kept');

  // Five failures for one user from one address block that user for a minute.
  for (let i = 0; i < 5; i++) await logIn(page, 'mallory', 'guess-' + i);
  assert.match(await page.textContent('[data-testid="login-error"]'), /Too many failed attempts.*60 seconds/);

  // The admin logs in and gets to the page asked for first.
  await page.goto(`${server.url}/admin/users`);
  await logIn(page, 'admin', ADMIN_PASSWORD);
  assert.equal(new URL(page.url()).pathname, '/admin/users');
  assert.match(await page.textContent('[data-testid="whoami"]'), /admin/);

  // Create an agent through the form.
  await hydrated(page);
  const form = page.locator('[data-testid="create-user"]');
  await form.locator('input[name="username"]').fill('agent1');
  await form.locator('select[name="role"]').selectOption('agent');
  await form.locator('input[name="password"]').fill('agent1-pass');
  await form.locator('button[type="submit"]').click();
  await page.getByText('User agent1 created as agent.').waitFor();
  await page.locator('tr[data-username="agent1"]').waitFor();
  assert.equal(await form.locator('input[name="username"]').inputValue(), '', 'form cleared for the next user');

  // A duplicate is refused with a message, and nothing new appears.
  await form.locator('input[name="username"]').fill('Agent1');
  await form.locator('input[name="password"]').fill('agent1-pass');
  await form.locator('button[type="submit"]').click();
  await page.getByText('The username agent1 is taken. Choose another.').waitFor();
  assert.equal(await page.locator('tr[data-username]').count(), 2);

  // The agent logs in elsewhere.
  const agentCtx = await browser.newContext();
  const agent = await agentCtx.newPage();
  await agent.goto(`${server.url}/`);
  await logIn(agent, 'agent1', 'agent1-pass');
  assert.equal(new URL(agent.url()).pathname, '/');
  assert.match(await agent.textContent('h1'), /Welcome, agent1/);
  assert.equal(await agent.locator('nav a[href="/admin/users"]').count(), 0, 'no Users link for agents');
  assert.equal(await agent.locator('[data-testid="home-cards"] a[href="/phone"]').count(), 1, 'the agent\'s home leads to the phone');
  assert.equal(await agent.locator('a[href^="/admin"]').count(), 0, 'and nowhere an agent may not go');

  // Admin pages answer 403 with the "no access" page, and no data.
  const res = await agent.goto(`${server.url}/admin/users`);
  assert.equal(res.status(), 403);
  await agent.locator('[data-testid="forbidden"]').waitFor();
  assert.equal(await agent.locator('[data-testid="users-table"]').count(), 0);

  // Logging out ends the session: the home page asks for a login again.
  await agent.goto(`${server.url}/`);
  await hydrated(agent);
  await Promise.all([agent.waitForURL(/\/login\?done=logout/), agent.getByRole('button', { name: 'Log out' }).click()]);
  assert.equal(await agent.textContent('[role="status"]'), 'You are logged out.');
  await agent.goto(`${server.url}/`);
  assert.match(agent.url(), /\/login$/);

  await agentCtx.close();
  await adminCtx.close();
});

test('pages and navigation work without JavaScript', async () => {
  const ctx = await browser.newContext({ javaScriptEnabled: false });
  const page = await ctx.newPage();
  await page.goto(`${server.url}/`);
  await logIn(page, 'admin', ADMIN_PASSWORD);
  assert.match(await page.textContent('h1'), /Welcome, admin/);
  for (const href of ['/admin', '/admin/campaigns', '/admin/leadsets', '/admin/trunks', '/admin/users']) {
    assert.equal(await page.locator(`[data-testid="home-cards"] a[href="${href}"]`).count(), 1, `the admin's home leads to ${href}`);
  }
  await Promise.all([page.waitForURL(/\/admin$/), page.click('nav a[href="/admin"]')]);
  await page.locator('[data-stat="agents_logged_in"]').waitFor();
  await Promise.all([page.waitForURL(/\/admin\/users$/), page.click('nav a[href="/admin/users"]')]);
  await page.locator('tr[data-username="admin"]').waitFor();
  await Promise.all([page.waitForURL(/\/account$/), page.click('nav a[href="/account"]')]);
  assert.equal(await page.textContent('h1'), 'My profile');
  const res = await page.goto(`${server.url}/nowhere`);
  assert.equal(res.status(), 404);
  assert.match(await page.textContent('h1'), /Page not found/);
  await ctx.close();
});
