// What one throughput interval looked like: the input of `decide`, the simulator's view and what
// the daemon reads from Prometheus. Times in ms except requestDuration (s). `undefined` = not
// observed (no series / NaN from an idle 0/0 histogram ratio).

/** Router gauges of one prefill worker (seconds as the router exports them). */
export interface PrefillWorkerSample {
  active_prefill_tokens: number;
  last_ttft: number; // s
  last_isl: number;
}
/** Router gauges of one decode worker. */
export interface DecodeWorkerSample {
  active_decode_blocks: number;
  last_itl: number; // s
}
/** One scrape of the router's per-worker gauges, grouped by worker type and worker id. */
export interface RouterSnapshot {
  prefill?: Record<string, PrefillWorkerSample>;
  decode?: Record<string, DecodeWorkerSample>;
}

/** One line of `decide` input (snake_case, as in the reference vectors). */
export interface IntervalObservation {
  num_req?: number | null;
  isl?: number | null;
  osl?: number | null;
  ttft?: number | null; // ms
  itl?: number | null; // ms
  request_duration?: number | null; // s
  current_prefill?: number | null;
  current_decode?: number | null;
  router?: RouterSnapshot;
  router_samples?: RouterSnapshot[];
}
