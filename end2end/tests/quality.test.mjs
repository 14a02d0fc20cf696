// Call-quality warnings: the agent's browser judges its audio leg every second from getStats.
// When the media gateway stops sending (its process frozen with SIGSTOP: a stalled media
// server, as a network outage looks from the browser), the phone says "No audio received" and
// the supervisor's floor shows it on that agent's line; when the gateway runs again and audio
// flows, both clear by themselves.
import { after, before, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { TOKEN, freeTcpPort, freeUdpPort, startGateway } from '../lib/gateway.mjs';
import { hydrated } from '../lib/browser.mjs';
import {
  addAgent, addCampaign, addTrunk, asAdmin, launchWithMicrophone, loggedIn, openPhone,
} from '../lib/dialer.mjs';

let dir;
let gateway;
let server;
let browser;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dialer-quality-'));
  const ports = { http: await freeTcpPort(), sip: await freeUdpPort(), webrtc: await freeUdpPort() };
  gateway = await startGateway(null, ports);
  server = await startServer({ DIALER_GATEWAY_URL: `ws://${gateway.http}`, DIALER_GATEWAY_TOKEN: TOKEN });
  browser = await launchWithMicrophone(join(dir, 'tone.wav'));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await gateway?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a stalled audio leg is flagged on the phone and on the floor, and clears when audio is back', async () => {
  const admin = await asAdmin(browser, server.url);
  // No lead is ever dialled here: the trunk only completes the campaign.
  await addTrunk(admin, server.url, 'Unused', await freeUdpPort());
  await addAgent(admin, server.url, 'quinn', 'quinn-pass');
  await addCampaign(admin, server.url, { name: 'Quality', kind: 'auto', trunk: 'Unused', agents: ['quinn'] });
  const quinn = await loggedIn(browser, server.url, 'quinn', 'quinn-pass');
  await openPhone(quinn, server.url, 'Quality');

  await admin.goto(`${server.url}/admin/floor`);
  await hydrated(admin);
  const audio = admin.locator('[data-testid="floor"] tr[data-agent="quinn"] [data-testid="floor-quality"]');
  await audio.filter({ hasText: /^OK$/ }).waitFor({ timeout: 5_000 });
  // A few good seconds first: the gateway sends silence between calls, so bytes flow.
  await new Promise((r) => setTimeout(r, 3_000));
  await quinn.locator('[data-testid="phone-quality"]').waitFor({ state: 'detached', timeout: 1_000 });

  process.kill(gateway.pid, 'SIGSTOP');
  try {
    await quinn.locator('[data-testid="phone-quality"]', { hasText: 'No audio received' })
      .waitFor({ timeout: 10_000 });
    await audio.filter({ hasText: /No audio received/ }).waitFor({ timeout: 5_000 });
  } finally {
    process.kill(gateway.pid, 'SIGCONT');
  }
  // Five good seconds in a row clear it, on the phone and on the floor.
  await quinn.locator('[data-testid="phone-quality"]').waitFor({ state: 'detached', timeout: 20_000 });
  await audio.filter({ hasText: /^OK$/ }).waitFor({ timeout: 5_000 });
  await quinn.close();
  await admin.close();
});
