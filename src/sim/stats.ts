// Fixed-memory latency statistics: a log-bucketed histogram keeps percentiles within 0.5%
// whatever the trace length, so memory stays flat on a million-request day.
import type { Percentiles } from './types.js';

const MIN_VALUE = 1e-3; // ms; anything smaller lands in bucket 0
const GROWTH = 1.005; // relative bucket width: percentile error <= 0.5%
const BUCKETS = Math.ceil(Math.log(1e9 / MIN_VALUE) / Math.log(GROWTH)) + 1;
const LOG_GROWTH = Math.log(GROWTH);

export class LogHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;
  private sum = 0;

  add(value: number, weight = 1): void {
    if (!(value >= 0) || !(weight > 0)) return;
    const idx = value <= MIN_VALUE ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(value / MIN_VALUE) / LOG_GROWTH) + 1);
    this.counts[idx] += weight;
    this.total += weight;
    this.sum += value * weight;
  }

  get count(): number {
    return this.total;
  }

  mean(): number | null {
    return this.total > 0 ? this.sum / this.total : null;
  }

  /** Value at quantile q (0..1): the geometric middle of the bucket that holds it. */
  quantile(q: number): number | null {
    if (this.total <= 0) return null;
    const rank = q * this.total;
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank && this.counts[i] > 0) {
        if (i === 0) return MIN_VALUE;
        return MIN_VALUE * Math.pow(GROWTH, i - 0.5);
      }
    }
    return MIN_VALUE * Math.pow(GROWTH, BUCKETS - 1);
  }

  percentiles(): Percentiles {
    return { mean: this.mean(), p50: this.quantile(0.5), p90: this.quantile(0.9), p99: this.quantile(0.99) };
  }
}

/** Binary min-heap ordered by (key, insertion sequence), so ties resolve deterministically. */
export class MinHeap<T> {
  private keys: number[] = [];
  private seqs: number[] = [];
  private items: T[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.items.length;
  }

  peekKey(): number {
    return this.items.length > 0 ? this.keys[0] : Infinity;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(key: number, item: T): void {
    const keys = this.keys;
    const seqs = this.seqs;
    const items = this.items;
    const seq = this.nextSeq++;
    let i = items.length;
    keys.push(key);
    seqs.push(seq);
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent] < key || (keys[parent] === key && seqs[parent] < seq)) break;
      keys[i] = keys[parent];
      seqs[i] = seqs[parent];
      items[i] = items[parent];
      i = parent;
    }
    keys[i] = key;
    seqs[i] = seq;
    items[i] = item;
  }

  /** All items, in heap order (not sorted). */
  values(): readonly T[] {
    return this.items;
  }

  /** Remove one item (linear; for rare events such as a preemption). */
  remove(item: T): boolean {
    const i = this.items.indexOf(item);
    if (i < 0) return false;
    const keys = this.keys.slice();
    const items = this.items.slice();
    keys.splice(i, 1);
    items.splice(i, 1);
    this.keys = [];
    this.seqs = [];
    this.items = [];
    for (let k = 0; k < items.length; k++) this.push(keys[k], items[k]);
    return true;
  }

  pop(): T | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const keys = this.keys;
    const seqs = this.seqs;
    const lastKey = keys.pop()!;
    const lastSeq = seqs.pop()!;
    const lastItem = items.pop()!;
    const n = items.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        if (r < n && (keys[r] < keys[l] || (keys[r] === keys[l] && seqs[r] < seqs[l]))) c = r;
        if (keys[c] > lastKey || (keys[c] === lastKey && seqs[c] > lastSeq)) break;
        keys[i] = keys[c];
        seqs[i] = seqs[c];
        items[i] = items[c];
        i = c;
      }
      keys[i] = lastKey;
      seqs[i] = lastSeq;
      items[i] = lastItem;
    }
    return top;
  }
}

