// Two-way audio through the gateway: headless Chromium with a fake microphone (a 440 Hz tone)
// opens an agent leg to the standalone gateway; the gateway calls sipp's echo UAS and bridges
// the call to the leg, so the tone goes browser → gateway → sipp → gateway → browser. A second
// call bridged to the same leg plays on the same continuous RTP stream.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launch } from '../lib/browser.mjs';
import { servePage, startEchoUas, startGateway, tempDir, toneWav } from '../lib/gateway.mjs';

let sipp;
let gateway;
let page;
let browser;
let files;

before(async () => {
  files = tempDir();
  const tone = join(files.dir, 'tone.wav');
  toneWav(tone);
  sipp = await startEchoUas(2);
  gateway = await startGateway(sipp.port);
  page = await servePage();
  browser = await launch([
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${tone}`,
    '--autoplay-policy=no-user-gesture-required',
    // Everything here talks over loopback, which Chromium leaves out of ICE by default.
    '--allow-loopback-in-peer-connection',
  ]);
});

after(async () => {
  await browser?.close();
  await page?.stop();
  await gateway?.stop();
  await sipp?.stop();
  files?.remove();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Originates to sipp, waits for the answer, bridges to `leg`; returns the call id. */
async function callAndBridge(tab, leg, number) {
  return tab.evaluate(
    async ({ leg, number }) => {
      // The caller chooses the call's id.
      const call = Number(number);
      await window.command({
        command: 'originate',
        call,
        trunk: 1,
        to: number,
        caller_id: '15550001000',
        caller_name: 'E2E',
        ring_timeout_secs: 20,
      });
      await window.waitEvent((e) => e.event === 'call_answered' && e.call === call, 15000);
      await window.command({ command: 'bridge', call, leg });
      return call;
    },
    { leg, number },
  );
}

/** Inbound audio over `ms`: packets received in that time and the level at the end. */
async function measure(tab, ms) {
  const [before] = await tab.evaluate(() => window.inboundAudio());
  await sleep(ms);
  const reports = await tab.evaluate(() => window.inboundAudio());
  assert.equal(reports.length, 1, 'one inbound audio stream');
  const [after] = reports;
  return { ssrc: after.ssrc, packets: after.packetsReceived - (before?.packetsReceived ?? 0), level: after.audioLevel };
}

test('agent hears the echoed tone through the gateway, across two calls on one leg', async (t) => {
  const tab = await (await browser.newContext()).newPage();
  await tab.goto(page.url);
  await tab.evaluate((url) => window.connectGateway(url), gateway.control);
  const leg = await tab.evaluate(() => window.openLeg());

  // Unbridged: the leg carries silence, not nothing.
  const idle = await measure(tab, 1500);
  assert.ok(idle.packets > 40, `silence flows while unbridged (${idle.packets} packets in 1.5 s)`);
  assert.ok(idle.level < 0.01, `and it is silent (audioLevel ${idle.level})`);

  const first = await callAndBridge(tab, leg, '+15551001');
  await sleep(1000); // the echo and the jitter buffer settle
  const talk1 = await measure(tab, 2000);
  assert.ok(talk1.packets > 80, `audio packets keep arriving (${talk1.packets} in 2 s)`);
  assert.ok(talk1.level > 0.02, `the echoed tone is loud (audioLevel ${talk1.level}, silence is ~0.0002)`);

  await tab.evaluate(async (call) => {
    await window.command({ command: 'hangup', call });
    await window.waitEvent((e) => e.event === 'call_ended' && e.call === call, 10000);
  }, first);
  await sleep(1500);
  const between = await measure(tab, 1500);
  assert.ok(between.packets > 40, 'silence again between calls');
  assert.ok(between.level < 0.01, `the leg is silent between calls (audioLevel ${between.level})`);

  await callAndBridge(tab, leg, '+15551002');
  await sleep(1000);
  const talk2 = await measure(tab, 2000);
  assert.ok(talk2.packets > 80, `second call's audio arrives (${talk2.packets} in 2 s)`);
  assert.ok(talk2.level > 0.02, `second call plays (audioLevel ${talk2.level})`);
  t.diagnostic(`idle ${JSON.stringify(idle)} call1 ${JSON.stringify(talk1)} between ${JSON.stringify(between)} call2 ${JSON.stringify(talk2)}`);
  assert.equal(talk2.ssrc, talk1.ssrc, 'the browser sees one continuous stream (same SSRC)');
  assert.equal(talk2.ssrc, idle.ssrc);

  // Keypad digits from the browser (RTCDTMFSender) reach the gateway as RFC 4733 events.
  // (sipp's answer has no telephone-event, so they are not forwarded to it.)
  const digits = await tab.evaluate(async () => {
    const sender = window.pc.getSenders().find((s) => s.dtmf);
    sender.dtmf.insertDTMF('5#', 100, 70);
    await window.waitEvent((e) => e.event === 'dtmf_received' && e.leg && e.digit === '#', 10000);
    return window.events.filter((e) => e.event === 'dtmf_received' && e.leg).map((e) => e.digit);
  });
  assert.deepEqual(digits, ['5', '#'], 'each digit reported once');

  // The agent's browser disappears mid-call (no goodbye): the gateway notices, closes the
  // leg, and the call stays under control (hang-up still works): nothing stuck or leaked.
  const observer = await (await browser.newContext()).newPage();
  await observer.goto(page.url);
  await observer.evaluate((url) => window.connectGateway(url), gateway.control);
  await tab.context().close();
  const closed = await observer.evaluate(
    (leg) => window.waitEvent((e) => e.event === 'agent_leg_closed' && e.leg === leg, 40000),
    leg,
  );
  t.diagnostic(`leg closed: ${closed.reason}`);
  const second = await observer.evaluate(async () => {
    const ended = window.events.find((e) => e.event === 'call_ended');
    return ended ?? null;
  });
  assert.equal(second, null, 'the call outlives the leg: the server decides what to do with it');
  // /metrics is refreshed every second: poll it (bounded).
  let metrics = '';
  for (let i = 0; i < 50 && !/^gateway_agent_legs 0$/m.test(metrics); i++) {
    await sleep(100);
    metrics = await (await fetch(`http://${gateway.http}/metrics`)).text();
  }
  assert.match(metrics, /^gateway_agent_legs 0$/m, 'no leaked leg');
  assert.match(metrics, /^gateway_calls\{state="answered"\} 1$/m, 'the customer is still connected');
});
