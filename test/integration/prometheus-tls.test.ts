// The Prometheus connection's TLS and bearer-token settings against a real https server with a
// certificate made by openssl for this test.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrafficObserver, type TrafficObserverOptions } from '../../src/observe/prometheus.js';

describe('TrafficObserver over https with a bearer token', () => {
  let server: Server;
  let url = '';
  let dir = '';
  let caPem = '';
  const seenAuth: (string | undefined)[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'prom-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    caPem = readFileSync(join(dir, 'cert.pem'), 'utf8');
    server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: caPem }, (req, res) => {
      seenAuth.push(req.headers.authorization);
      // Every query answers one matching series with value 2.
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        status: 'success',
        data: { resultType: 'vector', result: [{ metric: { model: 'm', dynamo_namespace: 'ns' }, value: [1700000000, '2'] }] },
      }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  const observe = (extra: Partial<TrafficObserverOptions>) =>
    new TrafficObserver({ endpoint: url, intervalS: 60, source: 'frontend', modelName: 'm', dynamoNamespace: 'ns', timeoutMs: 3000, ...extra }).observe();

  it('without verification (the original\'s behaviour) a self-signed server answers', async () => {
    const r = await observe({});
    expect(r.ok && r.observation.num_req).toBe(2);
    expect(r.ok && r.observation.ttft).toBe(2000);
  });

  it('with verification and no CA: a hold naming the certificate problem, never a value', async () => {
    const r = await observe({ tls: { verify: true } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message.toLowerCase()).toMatch(/certificate|self.signed/);
  });

  it('with the CA bundle: verified and answered', async () => {
    const r = await observe({ tls: { verify: true, ca: caPem } });
    expect(r.ok && r.observation.isl).toBe(2);
  });

  it('sends the bearer token from the file and picks up a rotated token at the next query', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'first-token\n');
    seenAuth.length = 0;
    expect((await observe({ tokenFile })).ok).toBe(true);
    expect(new Set(seenAuth)).toEqual(new Set(['Bearer first-token']));
    writeFileSync(tokenFile, 'second-token');
    seenAuth.length = 0;
    expect((await observe({ tokenFile })).ok).toBe(true);
    expect(new Set(seenAuth)).toEqual(new Set(['Bearer second-token']));
  });

  it('an unreadable token file is a prometheus_auth hold', async () => {
    const r = await observe({ tokenFile: join(dir, 'missing-token') });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.kind).toBe('prometheus_auth');
      expect(r.message).toContain('metric_pulling_prometheus_token_file');
    }
  });
});
