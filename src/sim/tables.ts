// Compact storage for the engine: requests live in paged Float64Arrays (80 bytes each, ids
// recycled), queues are rings of int ids, the running batch is a typed min-heap. A million
// queued requests then cost ~85 MB instead of ~420 MB of objects, and nothing is copied on growth.

const PAGE_BITS = 14;
const PAGE_SIZE = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_SIZE - 1;

/** Fields of one request in the table (offsets within its row). */
export const enum Field {
  ArrivalS = 0,
  Isl = 1,
  Osl = 2,
  /** Time the first token is out (the end of its prefill, known when it is queued). */
  FirstTokenS = 3,
  /** Decode clock of its replica at which it would have started with no preemption (context = isl + 1 + g - startG). */
  StartG = 4,
  FinishG = 5,
  /** Decode tokens produced before a preemption (kept; they are recomputed on readmission). */
  Generated = 6,
  /** Order of admission on its replica: the newest is preempted first. */
  AdmitSeq = 7,
  /** Opaque number the caller attached at arrival. */
  Tag = 8,
  /** Replica id while the request is on one, -1 otherwise. */
  Replica = 9,
}
const STRIDE = 10;

export class RequestTable {
  private readonly pages: Float64Array[] = [];
  private free = new Int32Array(1024);
  private freeTop = 0;
  private nextId = 0;
  private live = 0;

  /** Requests currently held. */
  get size(): number {
    return this.live;
  }

  alloc(): number {
    this.live++;
    if (this.freeTop > 0) return this.free[--this.freeTop];
    const id = this.nextId++;
    if ((id & PAGE_MASK) === 0) this.pages.push(new Float64Array(PAGE_SIZE * STRIDE));
    return id;
  }

  release(id: number): void {
    this.live--;
    if (this.freeTop === this.free.length) {
      const grown = new Int32Array(this.free.length * 2);
      grown.set(this.free);
      this.free = grown;
    }
    this.free[this.freeTop++] = id;
  }

  get(id: number, field: Field): number {
    return this.pages[id >>> PAGE_BITS][(id & PAGE_MASK) * STRIDE + field];
  }

  set(id: number, field: Field, value: number): void {
    this.pages[id >>> PAGE_BITS][(id & PAGE_MASK) * STRIDE + field] = value;
  }
}

/** A double-ended queue of int ids (a growable ring). */
export class IdDeque {
  private buf = new Int32Array(16);
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  peek(): number {
    return this.buf[this.head];
  }

  at(i: number): number {
    return this.buf[(this.head + i) & (this.buf.length - 1)];
  }

  push(id: number): void {
    if (this.count === this.buf.length) this.grow();
    this.buf[(this.head + this.count) & (this.buf.length - 1)] = id;
    this.count++;
  }

  unshift(id: number): void {
    if (this.count === this.buf.length) this.grow();
    this.head = (this.head - 1) & (this.buf.length - 1);
    this.buf[this.head] = id;
    this.count++;
  }

  shift(): number {
    const id = this.buf[this.head];
    this.head = (this.head + 1) & (this.buf.length - 1);
    this.count--;
    return id;
  }

  /** Position of id from the front, or -1 (a linear scan: for rare events such as an abort). */
  indexOf(id: number): number {
    for (let i = 0; i < this.count; i++) if (this.at(i) === id) return i;
    return -1;
  }

  /** Remove the entry at position i from the front, keeping the order of the others. */
  removeAt(i: number): void {
    const mask = this.buf.length - 1;
    for (let j = i; j < this.count - 1; j++) this.buf[(this.head + j) & mask] = this.buf[(this.head + j + 1) & mask];
    this.count--;
  }

  private grow(): void {
    const next = new Int32Array(this.buf.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = this.buf[(this.head + i) & (this.buf.length - 1)];
    this.buf = next;
    this.head = 0;
  }
}

/** A min-heap of int ids keyed by a number; ties resolve by insertion order. Knows where each id sits, so any id is removed in O(log n). */
export class IdHeap {
  private keys = new Float64Array(16);
  private seqs = new Float64Array(16);
  private ids = new Int32Array(16);
  /** Heap position of each id (+1; 0 = absent). */
  private pos = new Int32Array(16);
  private n = 0;
  private nextSeq = 0;

  get size(): number {
    return this.n;
  }

  peekKey(): number {
    return this.n > 0 ? this.keys[0] : Infinity;
  }

  peek(): number {
    return this.ids[0];
  }

  /** The id at heap position i (0 <= i < size), for scans. */
  idAt(i: number): number {
    return this.ids[i];
  }

  has(id: number): boolean {
    return id < this.pos.length && this.pos[id] !== 0;
  }

  push(key: number, id: number): void {
    if (this.n === this.keys.length) this.grow();
    if (id >= this.pos.length) {
      const p = new Int32Array(Math.max(id + 1, this.pos.length * 2));
      p.set(this.pos);
      this.pos = p;
    }
    const i = this.n++;
    this.keys[i] = key;
    this.seqs[i] = this.nextSeq++;
    this.ids[i] = id;
    this.pos[id] = i + 1;
    this.up(i);
  }

  pop(): number {
    const top = this.ids[0];
    this.removeAt(0);
    return top;
  }

  /** Remove an id (it must be in the heap). */
  remove(id: number): void {
    this.removeAt(this.pos[id] - 1);
  }

  /** Remove the entry at heap position i. */
  removeAt(i: number): void {
    this.pos[this.ids[i]] = 0;
    const last = --this.n;
    if (i === last) return;
    this.keys[i] = this.keys[last];
    this.seqs[i] = this.seqs[last];
    this.ids[i] = this.ids[last];
    this.pos[this.ids[i]] = i + 1;
    if (i > 0 && this.less(i, (i - 1) >> 1)) this.up(i);
    else this.down(i);
  }

  private less(a: number, b: number): boolean {
    return this.keys[a] < this.keys[b] || (this.keys[a] === this.keys[b] && this.seqs[a] < this.seqs[b]);
  }

  private swap(a: number, b: number): void {
    const k = this.keys[a], s = this.seqs[a], id = this.ids[a];
    this.keys[a] = this.keys[b];
    this.seqs[a] = this.seqs[b];
    this.ids[a] = this.ids[b];
    this.keys[b] = k;
    this.seqs[b] = s;
    this.ids[b] = id;
    this.pos[this.ids[a]] = a + 1;
    this.pos[this.ids[b]] = b + 1;
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.n) break;
      const r = l + 1;
      const c = r < this.n && this.less(r, l) ? r : l;
      if (!this.less(c, i)) break;
      this.swap(i, c);
      i = c;
    }
  }

  private grow(): void {
    const size = this.keys.length * 2;
    const keys = new Float64Array(size), seqs = new Float64Array(size), ids = new Int32Array(size);
    keys.set(this.keys);
    seqs.set(this.seqs);
    ids.set(this.ids);
    this.keys = keys;
    this.seqs = seqs;
    this.ids = ids;
  }
}
