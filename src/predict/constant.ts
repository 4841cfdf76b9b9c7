// constant: next = last accepted value (0 before any).
import type { LoadPredictor } from './types.js';
import { IdleSkipIntake } from './intake.js';

export class ConstantPredictor implements LoadPredictor {
  readonly name = 'constant';
  private readonly intake = new IdleSkipIntake();
  private last = 0;

  observe(value: number): void {
    const v = this.intake.accept(value);
    if (v !== undefined) this.last = v;
  }

  predict(): number {
    return this.last;
  }

  resetIdleSkip(): void {
    this.intake.reset();
  }
}
