// A minimal etcd v3 client over its JSON gRPC gateway (/v3/kv/range, /v3/kv/txn; keys and values
// base64), so no etcd client library is needed. Every operation has one deadline across all
// endpoints, and after a failure the client stops calling for a back-off period, so a frozen etcd
// costs the daemon one timeout per period instead of one per call.
import { InputError } from '../util/errors.js';
import { HttpError, excerpt, httpRequest, parseJsonBody } from '../net/http.js';
import { isPlainObject } from '../util/objects.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

/** range_end (base64) covering every key that starts with prefix: the prefix with its last byte + 1. */
function prefixEnd(prefix: string): string {
  const end = Buffer.from(prefix, 'utf8');
  end[end.length - 1] += 1;
  return end.toString('base64');
}

export type EtcdErrorKind =
  | 'etcd_unreachable' // no connection (or skipped during the back-off after one)
  | 'etcd_timeout' // no complete answer by the deadline
  | 'etcd_http' // a non-200 answer
  | 'etcd_bad_response'; // a 200 that is not the gateway's JSON

export class EtcdError extends Error {
  override readonly name = 'EtcdError';
  constructor(readonly kind: EtcdErrorKind, message: string) {
    super(message);
  }
}

/** The planner's keys are a handful of short values; anything near this is not ours. */
export const ETCD_MAX_BYTES = 1024 * 1024;

const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^\[[0-9A-Fa-f:.]+\]$/;

/**
 * etcd endpoints from a comma-separated list ("host:port" or "http(s)://host:port"), checked
 * before any connection, so a typo is an input error and never a DNS lookup. `source` names the
 * flag or variable in the message.
 */
export function parseEtcdEndpoints(raw: string | string[], source: string): string[] {
  const list = (Array.isArray(raw) ? raw : raw.split(',')).map((e) => e.trim()).filter(Boolean);
  if (list.length === 0) throw new InputError(`${source} is empty; give etcd client URLs such as http://etcd:2379, comma-separated.`);
  return list.map((e) => {
    let url: URL | undefined;
    try {
      url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(e) ? e : `http://${e}`);
    } catch {
      url = undefined;
    }
    const ok = url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:') && HOST_RE.test(url.hostname)
      && !url.username && !url.password && (url.pathname === '/' || url.pathname === '') && !url.search && !url.hash;
    if (!ok) throw new InputError(`${source}: '${e}' is not an etcd client URL; write host:port or http(s)://host:port (for example http://etcd:2379), comma-separated.`);
    return `${url!.protocol}//${url!.host}`;
  });
}

export interface EtcdKv {
  key: string;
  value: string;
  /** Revision of the key's last change; "0" for a key that does not exist. */
  modRevision: string;
}

export interface EtcdClientOptions {
  /** Deadline of one operation across every endpoint (default 2000 ms). */
  timeoutMs?: number;
  /** First back-off after a failure; doubles per failure up to maxBackoffMs (defaults 1 s, 30 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  maxBytes?: number;
  now?: () => number;
}

/** Minimal etcd v3 client over the JSON gateway. */
export class EtcdJson {
  readonly endpoints: string[];
  private readonly timeoutMs: number;
  private failures = 0;
  private skipUntil = 0;
  private lastFailure = '';
  private readonly now: () => number;

  constructor(endpoints: string | string[], private readonly o: EtcdClientOptions = {}) {
    this.endpoints = parseEtcdEndpoints(endpoints, 'etcd endpoints');
    this.timeoutMs = o.timeoutMs ?? 2000;
    this.now = o.now ?? Date.now;
  }

  private failed(err: EtcdError): EtcdError {
    this.failures++;
    const backoff = Math.min(this.o.maxBackoffMs ?? 30_000, (this.o.backoffMs ?? 1000) * 2 ** Math.min(this.failures - 1, 16));
    this.skipUntil = this.now() + backoff;
    this.lastFailure = err.message;
    return err;
  }

  private async post(path: string, body: unknown, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const now = this.now();
    if (now < this.skipUntil) {
      throw new EtcdError('etcd_unreachable', `etcd not called for ${((this.skipUntil - now) / 1000).toFixed(1)} s more after a failure (${this.lastFailure})`);
    }
    // One deadline for the operation, shared by the endpoints in turn (any member answers).
    const end = now + this.timeoutMs;
    let last: EtcdError | undefined;
    for (const ep of this.endpoints) {
      const left = end - this.now();
      if (left <= 0) break;
      try {
        const res = await httpRequest(ep + path, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), timeoutMs: left,
          maxBytes: this.o.maxBytes ?? ETCD_MAX_BYTES, signal,
        });
        if (res.status !== 200) {
          last = new EtcdError('etcd_http', `etcd ${ep}${path} answered HTTP ${res.status}: ${excerpt(res.body)}`);
          continue;
        }
        const json = parseJsonBody(res);
        if (!json.ok || !isPlainObject(json.value)) {
          last = new EtcdError('etcd_bad_response', `etcd ${ep}${path}: ${json.ok ? 'answer is not a JSON object' : json.why}`);
          continue;
        }
        this.failures = 0;
        this.skipUntil = 0;
        return json.value;
      } catch (err) {
        const kind = err instanceof HttpError && err.kind === 'timeout' ? 'etcd_timeout' : 'etcd_unreachable';
        last = new EtcdError(kind, `etcd ${kind === 'etcd_timeout' ? 'timed out' : 'unreachable'}: ${(err as Error).message}`);
      }
    }
    throw this.failed(last ?? new EtcdError('etcd_timeout', `etcd at ${this.endpoints.join(',')}: no answer within ${this.timeoutMs} ms`));
  }

  private static kvs(res: Record<string, unknown>, where: string): EtcdKv[] {
    if (res.kvs === undefined) return [];
    if (!Array.isArray(res.kvs)) throw new EtcdError('etcd_bad_response', `etcd ${where}: kvs is not a list`);
    return res.kvs.map((kv) => {
      if (!isPlainObject(kv) || typeof kv.key !== 'string') throw new EtcdError('etcd_bad_response', `etcd ${where}: a key-value pair has no key`);
      return {
        key: unb64(kv.key),
        value: typeof kv.value === 'string' ? unb64(kv.value) : '',
        modRevision: typeof kv.mod_revision === 'string' || typeof kv.mod_revision === 'number' ? String(kv.mod_revision) : '0',
      };
    });
  }

  async get(key: string, signal?: AbortSignal): Promise<string | null> {
    const kv = EtcdJson.kvs(await this.post('/v3/kv/range', { key: b64(key) }, signal), 'range')[0];
    return kv === undefined ? null : kv.value;
  }

  /** Keys under a prefix (at most `limit`), with their revisions. */
  async range(prefix: string, limit = 64, signal?: AbortSignal): Promise<EtcdKv[]> {
    return EtcdJson.kvs(await this.post('/v3/kv/range', { key: b64(prefix), range_end: prefixEnd(prefix), limit }, signal), 'range');
  }

  /** How many keys start with `prefix` (etcd counts them; no values travel); more than maxCount is a bad answer. */
  async count(prefix: string, signal?: AbortSignal, maxCount = Number.MAX_SAFE_INTEGER): Promise<number> {
    const res = await this.post('/v3/kv/range', { key: b64(prefix), range_end: prefixEnd(prefix), count_only: true }, signal);
    // The gateway omits zero-valued fields, so an absent count is 0.
    const n = res.count === undefined ? 0 : Number(res.count);
    if (!Number.isSafeInteger(n) || n < 0) throw new EtcdError('etcd_bad_response', `etcd range: count is ${JSON.stringify(res.count)}, not a whole number`);
    if (n > maxCount) throw new EtcdError('etcd_bad_response', `etcd range: ${n} keys under ${prefix}, more than the ${maxCount} expected at most`);
    return n;
  }

  /** A lease that expires `ttlS` seconds after its last keep-alive; its id as the gateway writes it. */
  async leaseGrant(ttlS: number, signal?: AbortSignal): Promise<string> {
    const res = await this.post('/v3/lease/grant', { TTL: ttlS }, signal);
    // A lease id is a positive int64, written as a decimal string by the gateway.
    const id = typeof res.ID === 'string' ? res.ID : '';
    if (!/^[1-9]\d{0,18}$/.test(id)) throw new EtcdError('etcd_bad_response', `etcd lease grant: ID ${JSON.stringify(res.ID)} is not a lease id`);
    return id;
  }

  /** Renew a lease; false when it has already expired (its keys are gone). */
  async leaseKeepAlive(id: string, signal?: AbortSignal): Promise<boolean> {
    const res = await this.post('/v3/lease/keepalive', { ID: id }, signal);
    // A streaming RPC through the gateway: an error arrives as a 200 with an error object.
    if (res.error !== undefined) throw new EtcdError('etcd_bad_response', `etcd lease keepalive: ${excerpt(JSON.stringify(res.error))}`);
    const result = isPlainObject(res.result) ? res.result : res;
    return Number(result.TTL ?? 0) > 0;
  }

  /** End a lease now, deleting every key attached to it. */
  async leaseRevoke(id: string, signal?: AbortSignal): Promise<void> {
    await this.post('/v3/lease/revoke', { ID: id }, signal);
  }

  async getPrefix(prefix: string): Promise<Record<string, string>> {
    return Object.fromEntries((await this.range(prefix)).map((kv) => [kv.key, kv.value]));
  }

  /** Put a key, attached to a lease when given (it then disappears with the lease). */
  async put(key: string, value: string, lease?: string): Promise<void> {
    await this.post('/v3/kv/put', { key: b64(key), value: b64(value), ...(typeof lease === 'string' && { lease }) });
  }

  async delete(key: string): Promise<void> {
    await this.post('/v3/kv/deleterange', { key: b64(key) });
  }

  /**
   * Several puts in one transaction, so a watcher never sees half a decision, applied only while
   * `guardKey` is still at `guardRevision` ("0" = absent). Returns the new revision, or null when
   * the guard failed (someone, or an earlier write of ours whose answer was lost, changed it).
   */
  async putAllIf(kvs: Record<string, string>, guardKey: string, guardRevision: string, signal?: AbortSignal): Promise<string | null> {
    const success = Object.entries(kvs).map(([k, v]) => ({ request_put: { key: b64(k), value: b64(v) } }));
    const compare = [{ key: b64(guardKey), target: 'MOD', result: 'EQUAL', mod_revision: guardRevision }];
    const res = await this.post('/v3/kv/txn', { compare, success }, signal);
    if (res.succeeded !== true) return null;
    const rev = isPlainObject(res.header) ? res.header.revision : undefined;
    if (typeof rev !== 'string' && typeof rev !== 'number') throw new EtcdError('etcd_bad_response', 'etcd txn: answer has no header.revision');
    return String(rev);
  }
}
