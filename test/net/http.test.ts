// The daemon's one HTTP client against servers that misbehave on purpose: every call ends by its
// deadline, within its size cap, and with a typed fault.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpError, excerpt, httpRequest, parseJsonBody } from '../../src/net/http.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

describe('httpRequest', () => {
  const routes = new Map<string, Handler>();
  const timers: NodeJS.Timeout[] = [];
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      const h = routes.get(req.url ?? '');
      if (h) h(req, res);
      else res.writeHead(404).end('no such route');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    routes.set('/ok', (req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'x-seen': `${req.method} ${body}` }).end('{"a":1}'));
    });
    routes.set('/hang', () => { /* never answers */ });
    routes.set('/trickle', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      timers.push(setInterval(() => res.write('x'), 20));
    });
    routes.set('/declared-big', (_req, res) => res.writeHead(200, { 'content-length': String(64 * 1024 * 1024) }).write('partial'));
    routes.set('/streamed-big', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      // 4 MiB in chunks, no content-length: the cap must cut it while streaming.
      for (let i = 0; i < 64; i++) res.write(chunk);
      res.end();
    });
    routes.set('/cut', (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
      res.write('only part of it');
      setTimeout(() => req.socket.destroy(), 20);
    });
    routes.set('/chunks', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('a');
      timers.push(setTimeout(() => res.end('b'), 100));
    });
    routes.set('/html', (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Login</body></html>'));
  });
  afterAll(async () => {
    for (const t of timers) clearInterval(t);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const fault = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      expect(err).toBeInstanceOf(HttpError);
      return err as HttpError;
    }
    throw new Error('expected a fault');
  };

  it('answers with status, lower-case headers and the body; sends method and body', async () => {
    const res = await httpRequest(`${base}/ok`, { method: 'POST', body: 'hello', timeoutMs: 2000, maxBytes: 1024 });
    expect(res.status).toBe(200);
    expect(res.headers['x-seen']).toBe('POST hello');
    expect(parseJsonBody(res)).toEqual({ ok: true, value: { a: 1 } });
    expect((await httpRequest(`${base}/missing`, { timeoutMs: 2000, maxBytes: 1024 })).status).toBe(404);
  });

  it('a server that never answers, or trickles bytes, is a timeout at the deadline', async () => {
    for (const path of ['/hang', '/trickle']) {
      const t0 = Date.now();
      const err = await fault(httpRequest(`${base}${path}`, { timeoutMs: 300, maxBytes: 1 << 20 }));
      expect(err.kind).toBe('timeout');
      expect(err.message).toContain('within 300 ms');
      // Generous upper bound for a loaded machine; without the deadline the trickle never ends.
      expect(Date.now() - t0).toBeLessThan(3000);
    }
  });

  it('an answer over the cap is too_large, whether declared up front or streamed', async () => {
    const declared = await fault(httpRequest(`${base}/declared-big`, { timeoutMs: 2000, maxBytes: 1 << 20 }));
    expect(declared.kind).toBe('too_large');
    expect(declared.message).toContain('67108864 bytes');
    const streamed = await fault(httpRequest(`${base}/streamed-big`, { timeoutMs: 5000, maxBytes: 1 << 20 }));
    expect(streamed.kind).toBe('too_large');
  });

  it('no connection is unreachable; a connection closed mid-answer is cut_off; a caller abort is cancelled', async () => {
    expect((await fault(httpRequest('http://127.0.0.1:1/x', { timeoutMs: 2000, maxBytes: 1024 }))).kind).toBe('unreachable');
    expect((await fault(httpRequest(`${base}/cut`, { timeoutMs: 2000, maxBytes: 1 << 20 }))).kind).toBe('cut_off');
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 50);
    expect((await fault(httpRequest(`${base}/hang`, { timeoutMs: 5000, maxBytes: 1024, signal: ctl.signal }))).kind).toBe('cancelled');
  });

  it('a streamed answer hands each chunk over as it arrives, keeps none, and still honours the cap', async () => {
    const seen: Array<[string, number]> = [];
    const t0 = Date.now();
    const res = await httpRequest(`${base}/chunks`, { timeoutMs: 5000, maxBytes: 1024, connections: 64, onChunk: (c) => seen.push([String(c), Date.now() - t0]) });
    expect(res).toMatchObject({ status: 200, body: '' });
    expect(seen.map(([text]) => text).join('')).toBe('ab');
    // The second chunk is written 100 ms after the first: it arrives separately, not at the end.
    expect(seen).toHaveLength(2);
    expect(seen[1][1] - seen[0][1]).toBeGreaterThanOrEqual(80);
    const big = await fault(httpRequest(`${base}/streamed-big`, { timeoutMs: 5000, maxBytes: 1 << 20, onChunk: () => undefined }));
    expect(big.kind).toBe('too_large');
  });

  it('a header node:http refuses, a reader that throws: typed faults at once, never a crash or a wait for the deadline', async () => {
    const t0 = Date.now();
    const bad = await fault(httpRequest(`${base}/ok`, { timeoutMs: 5000, maxBytes: 1024, headers: { authorization: 'Bearer token\n' } }));
    expect(bad.kind).toBe('unreachable');
    expect(bad.message).toMatch(/GET .*\/ok: .*header/i);
    const thrown = await fault(httpRequest(`${base}/chunks`, { timeoutMs: 5000, maxBytes: 1024, onChunk: () => { throw new Error('reader broke'); } }));
    expect(thrown).toMatchObject({ kind: 'cut_off' });
    expect(thrown.message).toContain('reader broke');
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('a GET on a kept-alive socket the server closed meanwhile is sent once more on a new socket; a POST is not', async () => {
    // A raw server that answers one request per connection with keep-alive, then resets the
    // connection when the next request arrives on it (as a server does whose idle timer just fired).
    const { createServer: createRaw } = await import('node:net');
    let connections = 0;
    const raw = createRaw((sock) => {
      connections++;
      let answered = false;
      sock.on('data', () => {
        if (answered) return sock.resetAndDestroy();
        answered = true;
        sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(raw.address() as { port: number }).port}/`;
    try {
      const opts = { timeoutMs: 3000, maxBytes: 1024, connections: 1 };
      expect((await httpRequest(url, opts)).body).toBe('ok');
      expect((await httpRequest(url, opts)).body).toBe('ok');
      expect(connections).toBe(2);
      // The POST after it goes out on the kept-alive socket, is reset, and is a fault (not resent).
      const post = await fault(httpRequest(url, { ...opts, method: 'POST', body: '{}' }));
      expect(post.kind).toBe('unreachable');
      expect(connections).toBe(2);
    } finally {
      await new Promise((r) => raw.close(r));
    }
  });

  it('a 200 that is not JSON says what it was instead', async () => {
    const res = await httpRequest(`${base}/html`, { timeoutMs: 2000, maxBytes: 1024 });
    const json = parseJsonBody(res);
    expect(json.ok).toBe(false);
    if (!json.ok) expect(json.why).toBe('answer is not JSON (text/html, starts "<html><body>Login</body></html>")');
    expect(excerpt('a\n  b\tc'.repeat(100), 12)).toBe('a b ca b ...');
  });
});

describe('httpRequest over https', () => {
  let server: Server;
  let url = '';
  let ca = '';
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sla-http-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    ca = readFileSync(join(dir, 'cert.pem'), 'utf8');
    server = createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert: ca }, (_req, res) => res.writeHead(200).end('secure'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `https://127.0.0.1:${(server.address() as { port: number }).port}/`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('verifies by default (a self-signed server is a tls fault), trusts a given CA, and skips checks only when told', async () => {
    const err = await httpRequest(url, { timeoutMs: 3000, maxBytes: 1024 }).catch((e) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err.kind).toBe('tls');
    expect((await httpRequest(url, { timeoutMs: 3000, maxBytes: 1024, tls: { ca } })).body).toBe('secure');
    expect((await httpRequest(url, { timeoutMs: 3000, maxBytes: 1024, tls: { verify: false } })).body).toBe('secure');
  });

  it('an https URL on a plain-http port is a tls fault, not an unreachable server', async () => {
    const plain = createServer((_req, res) => res.end('plain'));
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', () => r()));
    try {
      const err = await httpRequest(`https://127.0.0.1:${(plain.address() as { port: number }).port}/`, { timeoutMs: 3000, maxBytes: 1024, tls: { verify: false } }).catch((e) => e);
      expect(err).toMatchObject({ kind: 'tls' });
    } finally {
      plain.closeAllConnections();
      await new Promise((r) => plain.close(r));
    }
  });
});
