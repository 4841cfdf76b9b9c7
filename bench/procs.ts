// Launchers for the real Prometheus and etcd binaries (Debian packages prometheus, etcd-server),
// on free localhost ports with temporary data dirs, stopped by PID. A missing binary fails loudly.
// Shared by the benchmarks and the integration tests (test/helpers/procs.ts re-exports them).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
export const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';

export function requireBinary(path: string, pkg: string): void {
  if (!existsSync(path)) {
    throw new Error(`${path} not found: install it with 'apt-get install -y ${pkg}' (the CI script .ci/run does), or set ${pkg === 'prometheus' ? 'PROMETHEUS_BIN' : 'ETCD_BIN'}.`);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch { /* not up yet */ }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function httpOk(url: string, init?: RequestInit): Promise<boolean> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(1000) });
  return res.ok;
}

export interface Managed {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Stop and start again on the same port and data dir (fault tests). */
  restart?(): Promise<void>;
  kill?(): Promise<void>;
  start?(): Promise<void>;
  /** SIGSTOP / SIGCONT the process: a server that accepts connections and never answers. */
  pause?(): void;
  resume?(): void;
}

function killChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    child.kill('SIGTERM');
  });
}

export interface PromTarget {
  address: string; // host:port
  labels?: Record<string, string>;
}

/** Prometheus with a 1 s scrape of the given targets. */
export async function startPrometheus(targets: PromTarget[], opts: { scrapeIntervalS?: number } = {}): Promise<Managed> {
  requireBinary(PROMETHEUS_BIN, 'prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'sla-prom-'));
  const port = await freePort();
  const iv = opts.scrapeIntervalS ?? 1;
  const staticConfigs = targets.map((t) => ({ targets: [t.address], labels: t.labels ?? {} }));
  // JSON is valid YAML.
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify({
    global: { scrape_interval: `${iv}s`, evaluation_interval: `${iv}s` },
    scrape_configs: [{ job_name: 'frontend', honor_labels: true, static_configs: staticConfigs }],
  }));
  let child: ChildProcess | undefined;
  const url = `http://127.0.0.1:${port}`;
  const start = async () => {
    child = spawn(PROMETHEUS_BIN, [
      `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
    ], { stdio: ['ignore', 'ignore', 'ignore'] });
    await waitFor(() => httpOk(`${url}/-/ready`), 20_000, 'Prometheus ready');
  };
  await start();
  return {
    url, port, start,
    kill: () => killChild(child),
    restart: async () => { await killChild(child); await start(); },
    stop: async () => { await killChild(child); rmSync(dir, { recursive: true, force: true }); },
  };
}

/** A single-member etcd; its JSON gateway is on the client URL. `port`: a port chosen beforehand. */
export async function startEtcd(opts: { port?: number } = {}): Promise<Managed> {
  requireBinary(ETCD_BIN, 'etcd-server');
  const dir = mkdtempSync(join(tmpdir(), 'sla-etcd-'));
  const port = opts.port ?? await freePort();
  const peer = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(ETCD_BIN, [
    '--data-dir', join(dir, 'data'), '--name', 'test',
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-cluster', `test=http://127.0.0.1:${peer}`, '--log-level', 'error',
  ], { stdio: ['ignore', 'ignore', 'ignore'] });
  await waitFor(() => httpOk(`${url}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: 'AA==' }) }), 20_000, 'etcd ready');
  return {
    url, port,
    pause: () => { child.kill('SIGSTOP'); },
    resume: () => { child.kill('SIGCONT'); },
    stop: async () => { child.kill('SIGCONT'); await killChild(child); rmSync(dir, { recursive: true, force: true }); },
  };
}
