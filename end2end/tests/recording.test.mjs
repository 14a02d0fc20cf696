// Call recording played back from the agent's call history: a campaign recording every call,
// sipp as the customer (answering and echoing the agent's tone); the phone shows the
// recording indicator while the call is up; after the call, the history row has a player
// whose audio loads from /recordings/{attempt} and lasts as long as the call (within a
// second), and a download link. Another agent cannot fetch it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  addAgent, addCampaign, addLeads, addTrunk, asAdmin, dispose, loggedIn, openPhone, query, stage, waitStatus,
} from '../lib/dialer.mjs';

let staged;
let server;
let browser;

before(async () => {
  staged = await stage('recording');
  ({ server, browser } = staged);
  const admin = await asAdmin(browser, server.url);
  await addTrunk(admin, server.url, 'Echo', staged.carrier.port);
  await addAgent(admin, server.url, 'rae', 'rae-pass-1');
  await addAgent(admin, server.url, 'ned', 'ned-pass-1');
  await addCampaign(admin, server.url, {
    name: 'Recorded', kind: 'auto', trunk: 'Echo', agents: ['rae'],
    fields: { recording: 'all', recording_retention_days: '30' },
  });
  await addLeads(admin, server.url, { leadset: 'Recorded leads', campaign: 'Recorded', rows: [['2025550181', 'NEW', 'Hope']] });
  await addAgent(admin, server.url, 'ode', 'ode-pass-1');
  await addCampaign(admin, server.url, {
    name: 'On demand', kind: 'auto', trunk: 'Echo', agents: ['ode'], fields: { recording: 'on_demand' },
  });
  await addLeads(admin, server.url, { leadset: 'On demand leads', campaign: 'On demand', rows: [['2025550182', 'NEW', 'Faith']] });
  await admin.close();
});

after(async () => {
  await staged?.stop();
});

test('a recorded call is played back from the call history', async (t) => {
  const page = await loggedIn(browser, server.url, 'rae', 'rae-pass-1');
  await openPhone(page, server.url, 'Recorded');
  await page.click('[data-testid="ready"]');
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  const connected = Date.now();
  await page.locator('[data-testid="recording-indicator"]').waitFor({ timeout: 10_000 });
  assert.equal(await page.locator('[data-testid="record"]').count(), 0, 'every call is recorded: no button');
  await page.waitForTimeout(5_000);
  await page.click('[data-testid="hangup"]');
  const talked = (Date.now() - connected) / 1000;
  await dispose(page, 'SALE MADE', '', { pause: true });
  await waitStatus(page, 'Paused');

  const [attempt] = query(server, "SELECT id, recording_path, recording_state FROM call_attempts");
  assert.equal(attempt.recording_path, `${attempt.id}.wav`);
  assert.ok(existsSync(join(server.dir, 'recordings', `${attempt.id}.wav`)), 'in the data directory');

  await page.click('[data-testid="call-history-toggle"]');
  const player = page.locator('[data-testid="call-history-table"] [data-testid="recording-player"]');
  await player.waitFor({ timeout: 10_000 });
  assert.equal(await player.getAttribute('src'), `/recordings/${attempt.id}`);
  assert.equal(await player.getAttribute('preload'), 'metadata');
  const duration = await player.evaluate((audio) => new Promise((resolve, reject) => {
    if (audio.readyState >= 1) resolve(audio.duration);
    audio.addEventListener('loadedmetadata', () => resolve(audio.duration));
    audio.addEventListener('error', () => reject(new Error(`audio error ${audio.error?.code}`)));
  }));
  t.diagnostic(`recording ${duration.toFixed(2)} s, call ${talked.toFixed(2)} s`);
  assert.ok(Math.abs(duration - talked) < 1, `recording ${duration} s, call ${talked} s`);
  const download = page.locator('[data-testid="call-history-table"] [data-testid="recording-download"]');
  assert.equal(await download.getAttribute('href'), `/recordings/${attempt.id}`);
  // The player is reachable from the keyboard.
  await player.focus();
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'recording-player');

  // Another agent gets nothing.
  const ned = await loggedIn(browser, server.url, 'ned', 'ned-pass-1');
  const res = await ned.request.get(`${server.url}/recordings/${attempt.id}`);
  assert.equal(res.status(), 404);
  await ned.close();
  await page.close();
});

/** Waits for the history's player and answers its audio's duration once loaded. */
async function playerDuration(page) {
  await page.click('[data-testid="call-history-toggle"]');
  const player = page.locator('[data-testid="call-history-table"] [data-testid="recording-player"]');
  await player.waitFor({ timeout: 10_000 });
  return player.evaluate((audio) => new Promise((resolve, reject) => {
    if (audio.readyState >= 1) resolve(audio.duration);
    audio.addEventListener('loadedmetadata', () => resolve(audio.duration));
    audio.addEventListener('error', () => reject(new Error(`audio error ${audio.error?.code}`)));
  }));
}

test('on demand, the agent records part of the call from the keyboard', async (t) => {
  const page = await loggedIn(browser, server.url, 'ode', 'ode-pass-1');
  await openPhone(page, server.url, 'On demand');
  await page.click('[data-testid="ready"]');
  await page.locator('[data-testid="live-call"]').waitFor({ timeout: 30_000 });
  const record = page.locator('[data-testid="record"]');
  const indicator = page.locator('[data-testid="recording-indicator"]');
  assert.equal(await record.textContent(), 'Record');
  assert.equal(await record.getAttribute('aria-pressed'), 'false');
  assert.equal(await indicator.count(), 0, 'not recorded until asked');
  await page.waitForTimeout(1_000);
  await record.focus();
  await page.keyboard.press('Enter');
  await indicator.waitFor({ timeout: 10_000 });
  const started = Date.now();
  assert.equal(await record.getAttribute('aria-pressed'), 'true');
  assert.equal(await record.textContent(), 'Stop recording');
  await page.waitForTimeout(3_000);
  await record.focus();
  await page.keyboard.press('Enter');
  await indicator.waitFor({ state: 'detached', timeout: 10_000 });
  const recorded = (Date.now() - started) / 1000;
  await page.waitForTimeout(1_000);
  await page.click('[data-testid="hangup"]');
  await dispose(page, 'SALE MADE', '', { pause: true });
  await waitStatus(page, 'Paused');
  const duration = await playerDuration(page);
  t.diagnostic(`recording ${duration.toFixed(2)} s, recorded for ${recorded.toFixed(2)} s of the call`);
  assert.ok(Math.abs(duration - recorded) < 1, `recording ${duration} s, asked for ${recorded} s`);
  await page.close();
});
