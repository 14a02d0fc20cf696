// Real parts for the gateway browser test: the standalone `gateway` binary, sipp as the SIP
// peer, a tone WAV for Chromium's fake microphone, and a tiny page the browser loads from a
// loopback HTTP server (getUserMedia needs a secure context; http://127.0.0.1 is one).
// Every process is stopped by its pid; every wait is bounded.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = resolve(import.meta.dirname, '..', '..');

export const TOKEN = 'e2e-gateway-token-0123456789';

/** A free UDP port on 127.0.0.1. */
export async function freeUdpPort() {
  const socket = createSocket('udp4');
  await new Promise((ok) => socket.bind(0, '127.0.0.1', ok));
  const { port } = socket.address();
  await new Promise((ok) => socket.close(ok));
  return port;
}

/** A free TCP port on 127.0.0.1. */
export async function freeTcpPort() {
  const server = createTcpServer();
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}

/** Stops a child process: SIGTERM, then SIGKILL after 5 s. */
async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/**
 * Starts sipp on free loopback ports with `args`; resolves once its SIP port is bound. sipp
 * quits after `timeoutSeconds` whatever it is doing (a test that hangs cannot leave it behind).
 * A port another process took between our look and sipp's bind (a gateway's media port, say)
 * is given up for others, twice at most.
 */
export async function startSipp(args, options = {}) {
  if (spawnSync('sipp', ['-v']).error) {
    throw new Error('sipp is not installed: install Debian sip-tester (apt-get install -y sip-tester)');
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await startSippOnce(args, options);
    } catch (e) {
      if (attempt < 3 && /Address already in use/.test(e.message)) continue;
      throw e;
    }
  }
}

async function startSippOnce(args, { timeoutSeconds = 300 } = {}) {
  const port = await freeUdpPort();
  const media = await freeUdpPort();
  const child = spawn(
    'sipp',
    [...args, '-i', '127.0.0.1', '-p', String(port), '-mp', String(media), '-timeout', `${timeoutSeconds}s`, '-nostdin'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  // Wait until sipp holds its port (our own bind then fails), at most 10 s.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sipp exited early: ${stderr}`);
    const probe = createSocket('udp4');
    const taken = await new Promise((ok) => {
      probe.once('error', () => ok(true));
      probe.bind(port, '127.0.0.1', () => ok(false));
    });
    await new Promise((ok) => {
      try { probe.close(ok); } catch { ok(); }
    });
    if (taken) break;
    if (Date.now() > deadline) throw new Error('sipp did not bind within 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, stop: () => stop(child) };
}

/** `sipp -sn uas -rtp_echo` for `calls` calls on free loopback ports. */
export const startEchoUas = (calls) => startSipp(['-sn', 'uas', '-rtp_echo', '-m', String(calls)]);

/**
 * Starts the gateway binary, with one trunk ("sipp") at 127.0.0.1:`trunkPort` unless that is
 * null (a server then pushes its own trunks). It listens on free loopback ports, or on the ones
 * `ports` names ({ http, sip, webrtc }), so that a gateway started again gets the same addresses.
 */
export async function startGateway(trunkPort, ports = {}) {
  const bin = process.env.DIALER_GATEWAY_BIN ?? join(ROOT, 'target', 'debug', 'gateway');
  const dir = mkdtempSync(join(tmpdir(), 'gateway-e2e-'));
  const config = join(dir, 'gateway.toml');
  const trunk = trunkPort == null ? '' : `[[trunks]]\nid = 1\nhost = "127.0.0.1"\nport = ${trunkPort}\n`;
  writeFileSync(config, trunk);
  const listen = (port) => `127.0.0.1:${port ?? 0}`;
  const child = spawn(bin, [], {
    env: {
      ...process.env,
      DIALER_GATEWAY_CONFIG: config,
      DIALER_GATEWAY_HTTP: listen(ports.http),
      DIALER_GATEWAY_SIP: listen(ports.sip),
      DIALER_GATEWAY_WEBRTC: listen(ports.webrtc),
      DIALER_GATEWAY_TOKEN: TOKEN,
      RUST_LOG: process.env.RUST_LOG ?? 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const http = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('gateway did not start within 30 s')), 30_000);
    child.once('error', (e) => fail(new Error(`cannot run ${bin}: ${e.message} (build it: cargo build -p gateway)`)));
    child.once('exit', (code) => fail(new Error(`gateway exited with ${code} before listening`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      const m = line.match(/http=(\S+)/);
      m ? ok(m[1]) : fail(new Error(`unexpected first line: ${line}`));
    });
  }).catch(async (e) => {
    await stop(child);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    http,
    pid: child.pid,
    control: `ws://${http}/control?token=${TOKEN}`,
    async stop() {
      await stop(child);
      rmSync(dir, { recursive: true, force: true });
    },
    /** Kills it at once (SIGKILL by its pid, as a crash would) and waits until it is gone. */
    async kill() {
      if (!gone()) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(child.pid, 'SIGKILL');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
        if (!gone()) throw new Error(`gateway ${child.pid} still runs after SIGKILL`);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes a tone (440 Hz unless `hz` says), mono 16-bit at `rate` (48 kHz for --use-file-for-fake-audio-capture; 8 kHz for what the gateway plays). */
export function toneWav(path, seconds = 5, hz = 440, rate = 48_000) {
  const n = Math.round(rate * seconds);
  const data = Buffer.alloc(44 + n * 2);
  data.write('RIFF', 0);
  data.writeUInt32LE(36 + n * 2, 4);
  data.write('WAVEfmt ', 8);
  data.writeUInt32LE(16, 16);
  data.writeUInt16LE(1, 20); // PCM
  data.writeUInt16LE(1, 22); // mono
  data.writeUInt32LE(rate, 24);
  data.writeUInt32LE(rate * 2, 28);
  data.writeUInt16LE(2, 32);
  data.writeUInt16LE(16, 34);
  data.write('data', 36);
  data.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) {
    data.writeInt16LE(Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * 12_000), 44 + i * 2);
  }
  writeFileSync(path, data);
}

/** The agent's page: a peer connection with the fake microphone, and the control API. */
const PAGE = `<!doctype html>
<meta charset="utf-8"><title>agent leg</title>
<audio id="remote" autoplay></audio>
<script>
let ws, nextId = 1;
window.pc = null;
const pending = new Map();
window.events = [];
window.connectGateway = (url) => new Promise((ok, fail) => {
  ws = new WebSocket(url);
  // Events flow once the connection attaches (the first command). A page cannot send
  // WebSocket pings, and the gateway closes a control connection it hears nothing on for
  // 12 s (then ends its calls): a cheap command every 2 s keeps it open, as the server's
  // pings do.
  ws.onopen = () => window.command({ command: 'attach' }).then(() => {
    setInterval(() => window.command({ command: 'address' }).catch(() => {}), 2000);
    ok();
  }, fail);
  ws.onerror = () => fail(new Error('control WebSocket failed'));
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.reply) {
      const p = pending.get(msg.reply.id);
      pending.delete(msg.reply.id);
      if (p) 'Ok' in msg.reply.result ? p.ok(msg.reply.result.Ok) : p.fail(new Error(JSON.stringify(msg.reply.result.Err)));
    } else if (msg.event) {
      window.events.push(msg.event);
    }
  };
});
window.command = (cmd) => new Promise((ok, fail) => {
  const id = nextId++;
  pending.set(id, { ok, fail });
  ws.send(JSON.stringify({ id, ...cmd }));
});
window.waitEvent = async (pred, ms) => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const e = window.events.find(pred);
    if (e) return e;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no such event; saw ' + JSON.stringify(window.events));
};
window.openLeg = async () => {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const pc = new RTCPeerConnection();
  window.pc = pc;
  for (const track of stream.getAudioTracks()) pc.addTrack(track, stream);
  pc.ontrack = (e) => { document.getElementById('remote').srcObject = e.streams[0] ?? new MediaStream([e.track]); };
  await pc.setLocalDescription(await pc.createOffer());
  const reply = await window.command({ command: 'create_agent_leg', offer: pc.localDescription.sdp });
  await pc.setRemoteDescription({ type: 'answer', sdp: reply.answer });
  await window.waitEvent((e) => e.event === 'agent_leg_connected' && e.leg === reply.leg, 20000);
  return reply.leg;
};
window.inboundAudio = async () => {
  const reports = [...(await window.pc.getStats()).values()].filter((r) => r.type === 'inbound-rtp' && r.kind === 'audio');
  return reports.map((r) => ({ ssrc: r.ssrc, packetsReceived: r.packetsReceived, audioLevel: r.audioLevel ?? 0 }));
};
</script>`;

/** Serves the page on a free loopback port. */
export async function servePage() {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    stop: () => new Promise((ok) => server.close(() => ok())),
  };
}

/** A temp dir for test files. */
export function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-tone-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
