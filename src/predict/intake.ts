// The intake every predictor shares with the original (BasePredictor.add_data_point): non-finite
// values read as 0, and zeros are dropped until the first non-zero value so that the idle period
// right after a deployment does not drag the forecast to 0. `reset()` re-arms the skip after a
// warm-up trace has pre-filled the history.

export class IdleSkipIntake {
  private seenNonZero = false;

  /** The value to store, or undefined when the point is a leading idle zero to be dropped. */
  accept(value: number): number | undefined {
    const v = Number.isFinite(value) ? value : 0;
    if (v === 0 && !this.seenNonZero) return undefined;
    if (v !== 0) this.seenNonZero = true;
    return v;
  }

  reset(): void {
    this.seenNonZero = false;
  }
}

/** Finite and not negative: what a load forecast must be when the clamp is on. */
export function clampLoad(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}
