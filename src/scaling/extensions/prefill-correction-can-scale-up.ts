// prefill_correction_can_scale_up (sla-planner extension). The original caps the prefill correction
// factor at 1, so observed TTFT above the profile (e.g. queueing) can remove prefill replicas but
// never add them; with this option the factor applies as measured.
import type { PlannerConfig } from '../../config/schema.js';

/** How the prefill correction factor enters the demand. */
export interface PrefillCorrectionRule {
  applied(factor: number): number;
}

/** The original's rule: a factor above 1 is capped. */
export const UPSTREAM_PREFILL_CORRECTION: PrefillCorrectionRule = { applied: (factor) => Math.min(1, factor) };

export class PrefillCorrectionCanScaleUp implements PrefillCorrectionRule {
  static fromConfig(config: PlannerConfig): PrefillCorrectionCanScaleUp | undefined {
    return config.prefill_correction_can_scale_up ? new PrefillCorrectionCanScaleUp() : undefined;
  }

  applied(factor: number): number {
    return factor;
  }
}
