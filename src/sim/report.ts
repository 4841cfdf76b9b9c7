// Writers for `simulate --out`: timeline.csv (one row per throughput interval) and events.csv (one
// row per change of a target, with its reason). report.html is comparison.ts.
import type { ScaleEvent, TimelineRow } from './types.js';

const COLUMNS: Array<keyof TimelineRow> = [
  't_s', 'arrivals', 'completed', 'rps', 'forecast_rps', 'isl', 'osl', 'prefill_ready', 'decode_ready',
  'prefill_target', 'decode_target', 'gpus', 'ttft_ms', 'itl_ms', 'ttft_p99_ms', 'itl_p99_ms', 'sla_attainment',
];

const cell = (v: number): string => (Number.isFinite(v) ? String(Math.round(v * 1000) / 1000) : '');

export function timelineCsv(rows: TimelineRow[]): string {
  const lines = [COLUMNS.join(',')];
  for (const r of rows) lines.push(COLUMNS.map((c) => cell(r[c])).join(','));
  return lines.join('\n') + '\n';
}

/** A CSV field: quoted when it holds a comma, a quote or a line break. */
const field = (s: string): string => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

export function eventsCsv(events: ScaleEvent[]): string {
  const lines = ['t_s,pool,from,to,reason'];
  for (const e of events) lines.push([cell(e.t_s), e.pool, String(e.from), String(e.to), field(e.reason)].join(','));
  return lines.join('\n') + '\n';
}
