// Headless Chromium (Debian package chromium) driven over the DevTools protocol: load a page,
// collect console errors and exceptions, run script in it, take a screenshot. The browser is
// started on its own temporary profile and stopped by its PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'undici';

export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

export interface Browser {
  /** Console errors, uncaught exceptions and failed loads seen so far. */
  errors: string[];
  /** Network requests the page made other than to file:// and data: URLs. */
  remoteRequests: string[];
  evaluate<T>(expression: string): Promise<T>;
  /** A PNG of the whole page at the window's width. */
  screenshot(): Promise<Buffer>;
  /** Move the mouse to page coordinates (CSS pixels). */
  mouseMove(x: number, y: number): Promise<void>;
  close(): Promise<void>;
}

/** Open `url` in a fresh headless Chromium; resolves once the page has loaded. */
export async function openPage(url: string, width = 1400, height = 1000): Promise<Browser> {
  if (!existsSync(CHROMIUM_BIN)) throw new Error(`${CHROMIUM_BIN} not found: install it with 'apt-get install -y chromium', or set CHROMIUM_BIN.`);
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  const child: ChildProcess = spawn(CHROMIUM_BIN, [
    '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run', '--no-default-browser-check',
    `--user-data-dir=${profile}`, '--remote-debugging-port=0', '--remote-debugging-address=127.0.0.1', `--window-size=${width},${height}`, 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    // Chromium's helper processes may still be writing to the profile for a moment after it exits.
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    } catch {
      // A leftover temporary directory is not worth failing a test for.
    }
  };
  try {
    const browserWs = await new Promise<string>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`chromium did not start within 30 s: ${err.slice(-500)}`)), 30_000);
      child.stderr!.on('data', (d) => {
        err += d;
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.once('exit', (code) => reject(new Error(`chromium exited (${code}) before it listened: ${err.slice(-500)}`)));
    });
    const port = new URL(browserWs).port;
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ type: string; webSocketDebuggerUrl: string }>;
    const page = targets.find((t) => t.type === 'page');
    if (!page) throw new Error('chromium opened no page target');
    const ws = new WebSocket(page.webSocketDebuggerUrl);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve());
      ws.addEventListener('error', () => reject(new Error('cannot connect to the page over the DevTools protocol')));
    });
    let nextId = 1;
    const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
    const listeners: Array<(method: string, params: Record<string, unknown>) => void> = [];
    ws.addEventListener('message', (ev) => {
      const msg = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: { message: string }; method?: string; params?: Record<string, unknown> };
      if (msg.id !== undefined) {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(msg.error.message));
        else p?.resolve(msg.result);
      } else if (msg.method) for (const l of listeners) l(msg.method, msg.params ?? {});
    });
    const send = <T>(method: string, params: Record<string, unknown> = {}): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        ws.send(JSON.stringify({ id, method, params }));
      });
    const errors: string[] = [];
    const remoteRequests: string[] = [];
    let loaded: () => void = () => undefined;
    const load = new Promise<void>((r) => (loaded = r));
    listeners.push((method, params) => {
      if (method === 'Runtime.consoleAPICalled' && (params.type === 'error' || params.type === 'assert')) {
        errors.push(`console.${String(params.type)}: ${JSON.stringify((params.args as Array<{ value?: unknown; description?: string }>).map((a) => a.value ?? a.description))}`);
      }
      if (method === 'Runtime.exceptionThrown') errors.push(`exception: ${JSON.stringify((params.exceptionDetails as { exception?: { description?: string }; text?: string }).exception?.description ?? params.exceptionDetails)}`);
      if (method === 'Log.entryAdded' && (params.entry as { level: string }).level === 'error') errors.push(`log: ${(params.entry as { text: string }).text}`);
      if (method === 'Network.requestWillBeSent') {
        const u = (params.request as { url: string }).url;
        if (!/^(file|data|about):/.test(u)) remoteRequests.push(u);
      }
      if (method === 'Page.loadEventFired') loaded();
    });
    await send('Runtime.enable');
    await send('Log.enable');
    await send('Network.enable');
    await send('Page.enable');
    await send('Page.navigate', { url });
    await Promise.race([load, new Promise((_, reject) => setTimeout(() => reject(new Error(`${url} did not load within 30 s`)), 30_000))]);
    return {
      errors,
      remoteRequests,
      async evaluate<T>(expression: string): Promise<T> {
        const r = await send<{ result: { value?: T }; exceptionDetails?: { text: string } }>('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
        if (r.exceptionDetails) throw new Error(`page script failed: ${r.exceptionDetails.text}`);
        return r.result.value as T;
      },
      async screenshot(): Promise<Buffer> {
        const metrics = await send<{ cssContentSize: { width: number; height: number } }>('Page.getLayoutMetrics');
        const { width: w, height: h } = metrics.cssContentSize;
        const clip = { x: 0, y: 0, width: Math.ceil(w), height: Math.min(Math.ceil(h), 16_000), scale: 1 };
        const r = await send<{ data: string }>('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true, clip });
        return Buffer.from(r.data, 'base64');
      },
      async mouseMove(x: number, y: number): Promise<void> {
        await send('Input.dispatchMouseEvent', { type: 'mouseMoved', x, y });
      },
      async close(): Promise<void> {
        ws.close();
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
