// Fixed-rate loops: tick k fires at start + k·period, so a slow tick never shifts later ones; a
// tick still running when its successor is due makes that successor skip (no self-overlap).

/** The first slot strictly after `afterMs` on the grid start + k·period (k ≥ 1). */
export function nextSlot(startMs: number, periodMs: number, afterMs: number): number {
  if (afterMs < startMs + periodMs) return startMs + periodMs;
  const k = Math.floor((afterMs - startMs) / periodMs) + 1;
  return startMs + k * periodMs;
}

export interface LoopStats {
  ticks: number;
  skipped: number;
  running: boolean;
}

export class FixedRateLoop {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private startMs = 0;
  private lastSlot = 0;
  private stopped = true;
  readonly stats: LoopStats = { ticks: 0, skipped: 0, running: false };

  constructor(
    readonly name: string,
    private readonly periodMs: number,
    private readonly tick: (slotMs: number) => Promise<void>,
    private readonly onError: (err: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** First tick one period after start, as the original's loops. */
  start(startMs = this.now()): void {
    this.stopped = false;
    this.startMs = startMs;
    this.lastSlot = startMs;
    this.arm();
  }

  private arm(): void {
    if (this.stopped) return;
    const slot = nextSlot(this.startMs, this.periodMs, this.lastSlot);
    this.armFor(slot);
  }

  /** Node timers may fire a millisecond early (clock granularity): wait out the remainder. */
  private armFor(slot: number, minDelayMs = 0): void {
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      if (this.now() < slot) this.armFor(slot, 1);
      else this.fire(slot);
    }, Math.max(minDelayMs, slot - this.now()));
  }

  private fire(slot: number): void {
    this.lastSlot = slot;
    if (this.current) {
      this.stats.skipped++;
    } else {
      this.stats.ticks++;
      this.stats.running = true;
      this.current = this.tick(slot)
        .catch(this.onError)
        .finally(() => {
          this.current = undefined;
          this.stats.running = false;
        });
    }
    // Skip slots already in the past (e.g. the event loop was blocked) rather than bursting.
    const now = this.now();
    if (now > this.lastSlot) this.lastSlot = Math.max(this.lastSlot, now - 1);
    this.arm();
  }

  /** Stop scheduling; resolves when the running tick (if any) ends or after graceMs. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.current) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([this.current, new Promise<void>((r) => { t = setTimeout(r, graceMs); })]);
      clearTimeout(t);
    }
  }
}
