// Debian's Chromium driven by playwright-core (never a downloaded browser), headless, with
// the background networking this closed network would refuse turned off.
import { chromium } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
}

/** Waits until the page has hydrated (before that, clicks on app buttons do nothing). A page
 *  loaded on demand hydrates once its chunks of the bundle have arrived: wait for the network
 *  to go quiet as well. */
export async function hydrated(page) {
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });
  await page.waitForLoadState('networkidle', { timeout: 30_000 });
}

/** Fills and submits the login form on the current page. */
export async function logIn(page, username, password) {
  await page.fill('input[name="username"]', username);
  await page.fill('input[name="password"]', password);
  await Promise.all([page.waitForLoadState('load'), page.click('form[action="/auth/login"] button[type="submit"]')]);
}
