// Starts the real dialer server for a browser test: its own temp SQLite database, a free
// port on 127.0.0.1, a known admin password. Stopped by its process id.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = resolve(import.meta.dirname, '..', '..');

export const ADMIN_PASSWORD = 'e2e-admin-pass';

/**
 * Starts a server; resolves once it prints where it listens (`firstLine`). A variable set to
 * null in `env` is left unset (e.g. DIALER_ADMIN_PASSWORD: null, to have one generated).
 */
export async function startServer(env = {}) {
  const bin = process.env.DIALER_SERVER_BIN ?? join(ROOT, 'target', 'debug', 'server');
  const dir = mkdtempSync(join(tmpdir(), 'dialer-e2e-'));
  const vars = {
    ...process.env,
    DATABASE_URL: `sqlite://${dir}/dialer.db`,
    DIALER_LISTEN: '127.0.0.1:0',
    DIALER_SIP_LISTEN: '127.0.0.1:0',
    DIALER_WEBRTC_LISTEN: '127.0.0.1:0',
    DIALER_DEMO_SIP_LISTEN: '127.0.0.1:0',
    DIALER_ADMIN_PASSWORD: ADMIN_PASSWORD,
    // Stopped at once unless a test is about the stop itself.
    DIALER_STOP_GRACE_SECONDS: '0',
    DIALER_SITE_ROOT: process.env.DIALER_SITE_ROOT ?? join(ROOT, 'target', 'site'),
    RUST_LOG: process.env.RUST_LOG ?? 'warn',
    ...env,
  };
  for (const [k, v] of Object.entries(vars)) if (v === null) delete vars[k];
  const child = spawn(bin, [], { cwd: ROOT, env: vars, stdio: ['ignore', 'pipe', 'inherit'] });
  let firstLine = '';
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('server did not start within 60 s')), 60_000);
    child.once('exit', (code) => fail(new Error(`server exited with ${code} before listening`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      firstLine = line;
      const m = line.match(/running at (http:\/\/[^\s]+)/);
      m ? ok(m[1]) : fail(new Error(`unexpected first line: ${line}`));
    });
  });
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return {
    url,
    dir,
    firstLine,
    /** Resolves with { code, signal } when the process has exited. */
    exited,
    /** Sends the process `signal` (e.g. 'SIGTERM'). */
    signal: (signal) => child.kill(signal),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
