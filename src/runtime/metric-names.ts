// The newer upstream name of each pinned planner:* gauge (Dynamo renamed them to dynamo_planner_*
// with units in the names), so both generations of dashboards find their series.
import type { OriginalGauge } from './metrics.js';

export const DYNAMO_PLANNER_NAMES: Record<OriginalGauge, string> = {
  numP: 'dynamo_planner_num_prefill_replicas',
  numD: 'dynamo_planner_num_decode_replicas',
  observedTtft: 'dynamo_planner_observed_ttft_ms',
  observedItl: 'dynamo_planner_observed_itl_ms',
  observedRate: 'dynamo_planner_observed_requests_per_second',
  observedDuration: 'dynamo_planner_observed_request_duration_seconds',
  observedIsl: 'dynamo_planner_observed_input_sequence_tokens',
  observedOsl: 'dynamo_planner_observed_output_sequence_tokens',
  pCorrection: 'dynamo_planner_p_correction_factor',
  dCorrection: 'dynamo_planner_d_correction_factor',
  predictedRate: 'dynamo_planner_predicted_requests_per_second',
  predictedIsl: 'dynamo_planner_predicted_input_sequence_tokens',
  predictedOsl: 'dynamo_planner_predicted_output_sequence_tokens',
  predictedNumP: 'dynamo_planner_predicted_num_prefill_replicas',
  predictedNumD: 'dynamo_planner_predicted_num_decode_replicas',
  gpuHours: 'dynamo_planner_gpu_hours',
};
