// The one HTTP client of the daemon (Prometheus through prometheus-query's adapter hook, router
// scrapes, the etcd gateway, the global planner, the Kubernetes API), on node:http. Every call has one
// deadline for connect + headers + body and a cap on the answer's size, and every failure is an
// HttpError with a typed kind, so callers name the fault instead of guessing from a message.

export type HttpFaultKind =
  | 'timeout' // no complete answer before the deadline (hung or trickling server)
  | 'unreachable' // no connection: refused, unknown host, reset before the answer
  | 'tls' // the server's certificate was refused (or the TLS handshake failed)
  | 'too_large' // the answer is bigger than the caller's cap
  | 'cut_off' // the connection closed in the middle of the answer
  | 'cancelled'; // the caller's own signal aborted the call (shutdown)

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(readonly kind: HttpFaultKind, message: string) {
    super(message);
  }
}

export interface HttpResponse {
  status: number;
  /** Lower-case header names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
}

export interface TlsOptions {
  /** Verify the server's certificate (default true). */
  verify?: boolean;
  /** PEM text of CA certificates to trust (implies verify). */
  ca?: string;
  /** PEM client certificate and key (mutual TLS, e.g. a kubeconfig user). */
  cert?: string;
  key?: string;
  /** Server name for SNI and certificate checks when it differs from the URL's host (kubeconfig tls-server-name). */
  servername?: string;
}

export interface HttpOptions {
  method?: 'GET' | 'POST' | 'PATCH';
  headers?: Record<string, string>;
  body?: string;
  /** One deadline for the whole call: connect, headers and the last byte of the body. */
  timeoutMs: number;
  /** Largest answer body accepted, bytes. */
  maxBytes: number;
  /** https only. */
  tls?: TlsOptions;
  /** Aborts the call (daemon shutdown); reported as `cancelled`, never as a timeout. */
  signal?: AbortSignal;
  /**
   * Streamed answers (server-sent events): each body chunk is handed over as it arrives and not
   * kept, so the resolved body is empty; `maxBytes` still caps the total.
   */
  onChunk?: (chunk: Buffer) => void;
  /** Connections kept to one origin (default 8); a load generator holding many streams asks for more. */
  connections?: number;
}

// node:http's keep-alive agents, one per TLS setting and connection limit, shared by every caller
// with that setting. (undici's Agent did this before: its HTTP parser is WebAssembly, compiled in
// every process that makes a request, and with the rest of the client it held ~5 MB of an idle
// daemon's resident memory; node:http parses with the native llhttp already in the binary.)
interface Client { agent: import('node:http').Agent; request: typeof import('node:http').request }
const clients = new Map<string, Promise<Client>>();

/**
 * A kept-alive socket idle this long is closed (the agent destroys a free socket on its timeout):
 * shorter than the usual server and load-balancer idle limits, so a request rarely goes out on a
 * socket the other side is closing.
 */
const IDLE_SOCKET_MS = 4000;

/** Errors of a request sent on a reused socket the server had closed meanwhile (safe to resend a GET). */
const STALE_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE']);

function clientFor(https: boolean, tls: TlsOptions | undefined, connections = 8): Promise<Client> {
  const verify = tls?.ca !== undefined || tls?.verify !== false;
  const key = [https, verify, tls?.ca ?? '', tls?.cert ?? '', tls?.key ?? '', tls?.servername ?? '', connections].join('\0');
  let client = clients.get(key);
  if (!client) {
    const pem = Object.fromEntries((['ca', 'cert', 'key', 'servername'] as const).filter((k) => tls?.[k] !== undefined).map((k) => [k, tls![k]]));
    // node:https (and with it the TLS stack) is loaded only for an https URL.
    client = https
      ? import('node:https').then(({ Agent, request }) => ({ agent: new Agent({ keepAlive: true, maxSockets: connections, timeout: IDLE_SOCKET_MS, rejectUnauthorized: verify, ...pem }), request }))
      : import('node:http').then(({ Agent, request }) => ({ agent: new Agent({ keepAlive: true, maxSockets: connections, timeout: IDLE_SOCKET_MS }), request }));
    clients.set(key, client);
  }
  return client;
}

const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HOSTNAME|ALTNAME|EPROTO/;

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === 'string' ? code : undefined;
}

function describeError(err: unknown): string {
  const code = errorCode(err);
  const cause = (err as { cause?: { message?: string } })?.cause?.message;
  const message = (err as Error)?.message ?? String(err);
  const text = cause && cause !== message ? `${message}: ${cause}` : message;
  return code && !text.includes(code) ? `${code} ${text}` : text;
}

/** A failure before or during the answer, named by what the caller can do about it. */
function classify(err: unknown, where: string, caller: AbortSignal | undefined, gotHeaders: boolean): HttpError {
  if (err instanceof HttpError) return err;
  if (caller?.aborted) return new HttpError('cancelled', `${where}: cancelled`);
  const code = errorCode(err);
  if (code && TLS_CODE.test(code)) return new HttpError('tls', `${where}: TLS failed (${describeError(err)}); check the server certificate and the CA bundle`);
  if (gotHeaders) return new HttpError('cut_off', `${where}: connection closed before the answer was complete (${describeError(err)})`);
  return new HttpError('unreachable', `${where}: ${describeError(err)}`);
}

/** One HTTP call. Resolves with any status; rejects only with HttpError. */
export async function httpRequest(url: string, opts: HttpOptions): Promise<HttpResponse> {
  const method = opts.method ?? 'GET';
  const where = `${method} ${url}`;
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new HttpError('unreachable', `${where}: not a URL`);
  }
  const https = target.protocol === 'https:';
  if (!https && target.protocol !== 'http:') throw new HttpError('unreachable', `${where}: not an http(s) URL`);
  // Loading the client is our own start-up cost, not the server's: the deadline starts after it.
  const { agent, request } = await clientFor(https, https ? opts.tls : undefined, opts.connections);
  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    let gotHeaders = false;
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err: HttpError | null, res?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onCancel);
      if (err) reject(err);
      else resolve(res!);
    };
    const fail = (err: HttpError) => {
      finish(err);
      req?.destroy();
    };
    // One deadline for connect, headers and the last byte: a trickling server times out too.
    const timer = setTimeout(() => fail(new HttpError('timeout', `${where}: no complete answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    const onCancel = () => fail(new HttpError('cancelled', `${where}: cancelled`));
    let req: import('node:http').ClientRequest | undefined;
    if (opts.signal?.aborted) return onCancel();
    opts.signal?.addEventListener('abort', onCancel, { once: true });
    const send = (resent: boolean): void => {
      try {
        req = request(target, { method, headers: opts.headers, agent }, onResponse);
      } catch (err) {
        // node:http refuses some requests before sending (a header with a line break): a fault like any other.
        return fail(new HttpError('unreachable', `${where}: ${describeError(err)}`));
      }
      const sent = req;
      sent.on('error', (err) => {
        // A GET sent on a kept-alive socket the server had just closed is sent once more, on a new one.
        if (!resent && !settled && !gotHeaders && method === 'GET' && sent.reusedSocket && STALE_SOCKET_CODES.has(errorCode(err) ?? '')) return send(true);
        finish(classify(err, where, opts.signal, gotHeaders));
      });
      sent.end(opts.body);
    };
    const onResponse = (res: import('node:http').IncomingMessage): void => {
      gotHeaders = true;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      const declared = Number(headers['content-length']);
      if (Number.isFinite(declared) && declared > opts.maxBytes) return fail(new HttpError('too_large', `${where}: answer of ${declared} bytes is over the ${opts.maxBytes}-byte limit`));
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > opts.maxBytes) fail(new HttpError('too_large', `${where}: answer larger than the ${opts.maxBytes}-byte limit`));
        else if (opts.onChunk) {
          if (settled) return;
          // The caller's reader failing ends this call, never the process.
          try {
            opts.onChunk(chunk);
          } catch (err) {
            fail(new HttpError('cut_off', `${where}: reading the answer failed (${(err as Error)?.message ?? String(err)})`));
          }
        } else chunks.push(chunk);
      });
      res.on('end', () => finish(null, { status: res.statusCode ?? 0, headers, body: opts.onChunk ? '' : Buffer.concat(chunks, size).toString('utf8') }));
      res.on('error', (err) => finish(classify(err, where, opts.signal, true)));
      res.on('close', () => {
        if (!res.complete) finish(classify(new Error('the server closed the connection'), where, opts.signal, true));
      });
    };
    send(false);
  });
}

/** The answer's body as JSON, or why it is not JSON (naming its media type and first bytes). */
export function parseJsonBody(res: HttpResponse): { ok: true; value: unknown } | { ok: false; why: string } {
  try {
    return { ok: true, value: JSON.parse(res.body) };
  } catch {
    const type = (res.headers['content-type'] ?? 'no content type').split(';')[0];
    return { ok: false, why: `answer is not JSON (${type}, starts ${JSON.stringify(excerpt(res.body, 40))})` };
  }
}

/** A short, single-line excerpt of an answer for log lines. */
export function excerpt(body: string, max = 200): string {
  const one = body.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 3)}...` : one;
}
