// A small HTTP client on node:http for the light calls (router scrape, etcd gateway, global
// planner). It keeps the daemon's footprint small: undici is only loaded for the Kubernetes API,
// which needs its TLS agent.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpResponse {
  status: number;
  body: string;
}

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(readonly code: 'timeout' | 'connect' | 'aborted', message: string) {
    super(message);
  }
}

export function httpCall(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs: number; maxBytes?: number },
): Promise<HttpResponse> {
  const u = new URL(url);
  const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, { method: opts.method ?? 'GET', headers: opts.headers });
  const maxBytes = opts.maxBytes ?? 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: HttpError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    };
    // One deadline for connect + headers + body, so a server that trickles bytes still times out.
    const timer = setTimeout(() => {
      const err = new HttpError('timeout', `${opts.method ?? 'GET'} ${url} timed out after ${opts.timeoutMs} ms`);
      req.destroy(err);
      fail(err);
    }, opts.timeoutMs);
    req.on('error', (err) => {
      fail(err instanceof HttpError ? err : new HttpError('connect', `${opts.method ?? 'GET'} ${url} failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) {
          const err = new HttpError('aborted', `${url}: answer larger than ${maxBytes} bytes`);
          req.destroy(err);
          fail(err);
        } else chunks.push(c);
      });
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
      // A connection reset after the headers reaches only the response, never req 'error':
      // without these the promise would wait forever (a stuck sampler or actuator queue).
      res.on('error', (err) => fail(new HttpError('aborted', `${opts.method ?? 'GET'} ${url}: answer cut off (${(err as NodeJS.ErrnoException).code ?? err.message})`)));
      res.on('close', () => {
        if (!res.complete) fail(new HttpError('aborted', `${opts.method ?? 'GET'} ${url}: connection closed before the answer was complete`));
      });
    });
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}
