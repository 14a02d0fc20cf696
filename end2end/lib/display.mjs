// A browser in a real window, for the tests about what a background tab does. Headless
// Chromium reports every page visible and never slows its timers, so a hidden tab exists only
// in a window on a display: Xvfb (a virtual X server) and Debian's Chromium without
// --headless, both started here and stopped by their process ids.
//
// Playwright's own launch (and a plain connectOverCDP) turns on focus emulation for every
// page, which keeps a tab visible behind another; connecting with `noDefaults` leaves the
// browser's default context as a user's: a tab behind another one is hidden and throttled.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from './browser.mjs';

/** Stops a child process: SIGTERM, then SIGKILL after 5 s. */
async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Starts Xvfb on the first free display; resolves with `{ display, stop }` (display ":N"). */
export async function startXvfb() {
  if (spawnSync('Xvfb', ['-help']).error) {
    throw new Error('Xvfb is not installed: install Debian xvfb (apt-get install -y xvfb)');
  }
  // -displayfd: Xvfb picks a free display and writes its number to fd 3 once it serves.
  const child = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x900x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const display = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`Xvfb did not start within 10 s: ${stderr}`)), 10_000);
    child.once('exit', (code) => fail(new Error(`Xvfb exited with ${code}: ${stderr}`)));
    let out = '';
    child.stdio[3].on('data', (d) => {
      out += d;
      if (out.includes('\n')) {
        clearTimeout(timer);
        ok(`:${out.trim()}`);
      }
    });
  });
  return { display, stop: () => stop(child) };
}

/**
 * Debian's Chromium in a window on `display` (with `args` added), driven through the DevTools
 * protocol. Resolves with `{ browser, context, page, stop }`: `page` is the window's first
 * tab; new pages of `context` open as tabs of the same window.
 */
export async function launchWindowed(display, args = []) {
  const profile = mkdtempSync(join(tmpdir(), 'dialer-chromium-'));
  const child = spawn(
    process.env.CHROMIUM ?? '/usr/bin/chromium',
    [
      ...CHROMIUM_ARGS.filter((a) => a !== '--headless'),
      '--no-default-browser-check',
      '--password-store=basic',
      `--user-data-dir=${profile}`,
      '--remote-debugging-address=127.0.0.1',
      '--remote-debugging-port=0',
      ...args,
      'about:blank',
    ],
    { env: { ...process.env, DISPLAY: display }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const stopAll = async () => {
    await stop(child);
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    // Chromium writes the port it chose into the profile once DevTools listens.
    const portFile = join(profile, 'DevToolsActivePort');
    const deadline = Date.now() + 30_000;
    while (!existsSync(portFile) || !readFileSync(portFile, 'utf8').includes('\n')) {
      if (child.exitCode !== null) throw new Error(`Chromium exited early: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`Chromium did not open DevTools within 30 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const port = readFileSync(portFile, 'utf8').split('\n')[0];
    const browser = await chromium.connectOverCDP(`http://127.0.0.1:${port}`, { noDefaults: true });
    const context = browser.contexts()[0];
    const page = context.pages()[0] ?? (await context.waitForEvent('page', { timeout: 10_000 }));
    return { browser, context, page, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
