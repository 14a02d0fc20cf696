// Starts the real dialer server for a browser test: its own temp SQLite database, a free
// port on 127.0.0.1, a known admin password. Stopped by its process id.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = resolve(import.meta.dirname, '..', '..');

export const ADMIN_PASSWORD = 'e2e-admin-pass';

/** Starts a server; resolves once it prints where it listens. */
export async function startServer(env = {}) {
  const bin = process.env.DIALER_SERVER_BIN ?? join(ROOT, 'target', 'debug', 'server');
  const dir = mkdtempSync(join(tmpdir(), 'dialer-e2e-'));
  const child = spawn(bin, [], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: `sqlite://${dir}/dialer.db`,
      DIALER_LISTEN: '127.0.0.1:0',
      DIALER_SIP_LISTEN: '127.0.0.1:0',
      DIALER_WEBRTC_LISTEN: '127.0.0.1:0',
      DIALER_DEMO_SIP_LISTEN: '127.0.0.1:0',
      DIALER_ADMIN_PASSWORD: ADMIN_PASSWORD,
      DIALER_SITE_ROOT: process.env.DIALER_SITE_ROOT ?? join(ROOT, 'target', 'site'),
      RUST_LOG: process.env.RUST_LOG ?? 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('server did not start within 60 s')), 60_000);
    child.once('exit', (code) => fail(new Error(`server exited with ${code} before listening`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      const m = line.match(/running at (http:\/\/[^\s]+)/);
      m ? ok(m[1]) : fail(new Error(`unexpected first line: ${line}`));
    });
  });
  return {
    url,
    dir,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
