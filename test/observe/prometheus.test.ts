// What the traffic observer makes of answers that are not Prometheus answers: each is a hold with
// the fault kind that names it, never a value and never the wrong label.
import { createServer, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROMETHEUS_MAX_SERIES, TrafficObserver } from '../../src/observe/prometheus.js';

type Answer = (res: ServerResponse) => void;

const json = (status: number, body: unknown): Answer => (res) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
const vector = (result: unknown[]) => json(200, { status: 'success', data: { resultType: 'vector', result } });

describe('TrafficObserver classifies every bad answer', () => {
  let server: Server;
  let url = '';
  let answer: Answer = vector([]);
  beforeAll(async () => {
    server = createServer((_req, res) => answer(res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const observe = (maxBytes?: number) =>
    new TrafficObserver({ endpoint: url, intervalS: 60, source: 'frontend', modelName: 'm', dynamoNamespace: 'ns', timeoutMs: 2000, maxBytes }).observe();

  const cases: [string, Answer, string, RegExp][] = [
    ['a 200 HTML login page', (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>Sign in</html>'), 'prometheus_bad_response', /not JSON \(text\/html, starts "<html>Sign in<\/html>"\)/],
    ['JSON null', json(200, null), 'prometheus_bad_response', /not a Prometheus API answer .*got null/],
    ['status "error" with a 200', json(200, { status: 'error', error: 'bad' }), 'prometheus_bad_response', /not a Prometheus API answer/],
    ['a matrix instead of a vector', json(200, { status: 'success', data: { resultType: 'matrix', result: [] } }), 'prometheus_bad_response', /expected an instant vector, got resultType "matrix"/],
    ['a series without a value pair', vector([{ metric: {}, value: 3 }]), 'prometheus_bad_response', /a series is not/],
    ['503 from Prometheus', json(503, { status: 'error', errorType: 'unavailable', error: 'overloaded' }), 'prometheus_unavailable', /HTTP 503: overloaded/],
    ['503 HTML from a proxy', (res) => res.writeHead(503, { 'content-type': 'text/html' }).end('<h1>Service Unavailable</h1>'), 'prometheus_unavailable', /HTTP 503: <h1>Service Unavailable<\/h1>/],
    ['429 throttling', json(429, { status: 'error', error: 'too many' }), 'prometheus_unavailable', /HTTP 429/],
    ['401 from an auth proxy', (res) => res.writeHead(401).end('Unauthorized'), 'prometheus_auth', /HTTP 401/],
    ['400 bad query', json(400, { status: 'error', errorType: 'bad_data', error: 'parse error' }), 'prometheus_http', /HTTP 400: parse error/],
    ['more series than any deployment', vector(Array.from({ length: PROMETHEUS_MAX_SERIES + 1 }, (_, i) => ({ metric: { i: String(i) }, value: [1, '1'] }))), 'prometheus_too_large', /10001 series/],
  ];

  for (const [what, a, kind, message] of cases) {
    it(`${what} -> ${kind}`, async () => {
      answer = a;
      const r = await observe();
      expect(r).toMatchObject({ ok: false, kind });
      if (!r.ok) expect(r.message).toMatch(message);
    });
  }

  it('an answer over the size cap -> prometheus_too_large, without reading it all', async () => {
    answer = vector(Array.from({ length: 2000 }, (_, i) => ({ metric: { model: 'm', dynamo_namespace: 'ns', pod: `p${i}` }, value: [1, '1'] })));
    const r = await observe(64 * 1024);
    expect(r).toMatchObject({ ok: false, kind: 'prometheus_too_large' });
  });

  it('a latency that is finite in seconds but overflows in ms is unobserved, never Infinity (found by the fuzz suite)', async () => {
    answer = vector([{ metric: { model: 'm', dynamo_namespace: 'ns' }, value: [1, '1e308'] }]);
    const r = await observe();
    expect(r.ok && r.observation).toEqual({ num_req: 1e308, isl: 1e308, osl: 1e308, ttft: null, itl: null, request_duration: 1e308 });
  });

  it('a good answer still reads as before', async () => {
    answer = vector([{ metric: { model: 'M', dynamo_namespace: 'ns' }, value: [1, '0.25'] }]);
    const r = await observe();
    expect(r.ok && r.observation).toEqual({ num_req: 0.25, isl: 0.25, osl: 0.25, ttft: 250, itl: 250, request_duration: 0.25 });
  });
});
